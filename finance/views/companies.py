from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from finance import accounting, selectors
from finance.forms import AccountMapForm, CompanyForm, DepositRuleForm
from finance.permissions import BILLING_ROLES
from finance.scope import SESSION_KEY
from finance.services.companies import ACCOUNT_MAP_FIELDS, account_map_save, company_update
from finance.services.parties import deposit_rule_delete, deposit_rule_save

# Roles allowed to change a company's identity (its IBAN is where clients pay) and its deposit rules.
IDENTITY_EDITORS = BILLING_ROLES


@require_POST
def scope_switch(request: HttpRequest) -> HttpResponse:
    """Narrow every page to one company, or widen back to the whole group."""
    code = request.POST.get("company", "")
    if code == "group":
        request.session.pop(SESSION_KEY, None)
    else:
        company = selectors.company_get(scope=request.company_scope, code=code)
        request.session[SESSION_KEY] = company.code
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "dashboard:home"
    return redirect(next_url)


@require_GET
def company_list(request: HttpRequest) -> HttpResponse:
    scope = request.company_scope
    return render(request, "finance/company_list.html", {"companies": selectors.company_list(scope=scope)})


@require_GET
def company_detail(request: HttpRequest, code: str) -> HttpResponse:
    scope = request.company_scope
    company = selectors.company_get(scope=scope, code=code)
    context = {
        "company": company,
        "memberships": selectors.membership_list(scope=scope, company=company),
        "audit_events": selectors.audit_event_list(scope=scope, company=company),
        "can_edit": scope.has_role(company, *IDENTITY_EDITORS),
        "deposit_rules": selectors.deposit_rule_list(company=company),
    }
    return render(request, "finance/company_detail.html", context)


@require_http_methods(["GET", "POST"])
def company_edit(request: HttpRequest, code: str) -> HttpResponse:
    scope = request.company_scope
    company = selectors.company_get(scope=scope, code=code)
    if not scope.has_role(company, *IDENTITY_EDITORS):
        raise PermissionDenied(_("Only the CEO and finance can change a company's identity."))
    form = CompanyForm(request.POST or None, instance=company)
    if request.method == "POST" and form.is_valid():
        company = company_update(company=company, updated_by=request.user, **form.cleaned_data)
        messages.success(request, _("%(company)s saved.") % {"company": company.name})
        return redirect(company)
    return render(request, "finance/company_form.html", {"company": company, "form": form})


def _company_for_identity_change(request: HttpRequest, code: str):
    company = selectors.company_get(scope=request.company_scope, code=code)
    if not request.company_scope.has_role(company, *IDENTITY_EDITORS):
        raise PermissionDenied(_("Only the CEO and finance can change a company's deposit rules."))
    return company


@require_http_methods(["GET", "POST"])
def deposit_rule_form(request: HttpRequest, code: str, pk: int | None = None) -> HttpResponse:
    """Add or change a deposit rule; quotes take it when their lines are next saved."""
    company = _company_for_identity_change(request, code)
    rule = selectors.deposit_rule_get(scope=request.company_scope, pk=pk) if pk else None
    if rule is not None and rule.company_id != company.pk:
        raise Http404
    form = DepositRuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        try:
            deposit_rule_save(company=company, saved_by=request.user, rule=rule, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Deposit rule saved."))
            return redirect(company)
    return render(request, "finance/deposit_rule_form.html", {"company": company, "form": form, "rule": rule})


@require_POST
def deposit_rule_delete_view(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    company = _company_for_identity_change(request, code)
    rule = selectors.deposit_rule_get(scope=request.company_scope, pk=pk)
    if rule.company_id != company.pk:
        raise Http404
    deposit_rule_delete(rule=rule, deleted_by=request.user)
    messages.success(request, _("Deposit rule deleted."))
    return redirect(company)


@require_http_methods(["GET", "POST"])
def account_map_edit(request: HttpRequest, code: str) -> HttpResponse:
    """The accounts of the accountant's journal (Swiss SME chart until changed)."""
    scope = request.company_scope
    company = selectors.company_get(scope=scope, code=code)
    if not scope.has_role(company, *IDENTITY_EDITORS):
        raise PermissionDenied(_("Only the CEO and finance can change a company's identity."))
    form = AccountMapForm(request.POST or None, instance=accounting.account_map_of(company))
    if request.method == "POST" and form.is_valid():
        account_map_save(company=company, saved_by=request.user, **{
            name: form.cleaned_data[name] for name in ACCOUNT_MAP_FIELDS})  # fmt: skip
        messages.success(request, _("Accounts of %(company)s saved.") % {"company": company.name})
        return redirect(company)
    return render(request, "finance/account_map_form.html", {"company": company, "form": form})
