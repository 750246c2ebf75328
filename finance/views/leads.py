"""Vente → Leads: the list (filters, CSV), a lead's page and its actions, the form, and "Créer le devis"."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from finance import selectors
from finance.forms import LeadClientForm, LeadForm, LeadLostForm, LeadOwnerForm, TablerFormMixin
from finance.models import Company, Lead
from finance.permissions import SALES_ROLES, can_bill, can_sell, require_sales
from finance.services import leads
from finance.views.lists import csv_amount, csv_date, csv_response, paginated, query_without, sorted_by
from integrations.models import Provider
from integrations.selectors import action_runs_for, usable_connection

LEAD_SORTS = {
    "received": ("received_at",),
    "name": ("last_name", "first_name", "organisation"),
    "status": ("status",),
    "score": ("rule_score",),
    "ai": ("ai_score",),
    "budget": ("budget",),
}


class LeadFilterForm(TablerFormMixin, forms.Form):
    q = forms.CharField(label=gettext_lazy("Search"), required=False)
    company = forms.ChoiceField(label=gettext_lazy("Company"), required=False)
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False)
    source = forms.ChoiceField(label=gettext_lazy("Source"), required=False)
    owner = forms.ChoiceField(label=gettext_lazy("Owner"), required=False)
    unanswered = forms.BooleanField(label=gettext_lazy("Not answered within 24 h"), required=False)

    def __init__(self, data, *, scope) -> None:
        super().__init__(data)
        self.fields["company"].choices = [("", _("All companies"))] + [(c.code, c.name) for c in scope.companies]
        self.fields["status"].choices = [("", _("All statuses")), *Lead.Status.choices]
        self.fields["source"].choices = [("", _("All sources")), *Lead.Source.choices]
        owners = {
            user.pk: user for company in scope.companies for user in selectors.lead_owner_choices(company=company)
        }
        self.fields["owner"].choices = [("", _("Anyone")), ("none", _("Nobody"))] + [
            (str(pk), user.get_full_name() or user.get_username()) for pk, user in owners.items()
        ]
        self.fields["q"].widget.attrs["placeholder"] = _("Name, organisation, e-mail, phone…")

    def filters(self) -> selectors.LeadFilters:
        if not self.is_valid():
            return selectors.LeadFilters()
        data = self.cleaned_data
        return selectors.LeadFilters(
            search=data["q"].strip(), company_code=data["company"], status=data["status"], source=data["source"],
            owner=data["owner"], unanswered=data["unanswered"],
        )  # fmt: skip


def _selling_companies(scope) -> list[Company]:
    return [company for company in scope.companies if scope.has_role(company, *SALES_ROLES)]


@require_GET
def lead_list(request: HttpRequest) -> HttpResponse:
    scope = request.company_scope
    filter_form = LeadFilterForm(request.GET, scope=scope)
    found = selectors.lead_list(scope=scope, filters=filter_form.filters(), now=timezone.now())
    found, sort = sorted_by(request, found, sorts=LEAD_SORTS, default="-received")
    if request.GET.get("export") == "csv":
        return csv_response(
            "leads",
            [_("Received"), _("Company"), _("First name"), _("Last name"), _("Organisation"), _("E-mail"), _("Phone"),
             _("Town"), _("Source"), _("Project type"), _("Currency"), _("Budget"), _("Date"), _("Status"),
             _("Rule score"), _("AI score"), _("Owner"), _("Submissions")],
            ([timezone.localtime(lead.received_at).strftime("%d.%m.%Y %H:%M"), lead.company.code, lead.first_name,
              lead.last_name, lead.organisation, lead.email, lead.phone, lead.town, lead.get_source_display(),
              lead.get_project_type_display(), lead.currency, csv_amount(lead.budget) if lead.budget is not None
              else "", csv_date(lead.event_date), lead.get_status_display(), lead.rule_score,
              "" if lead.ai_score is None else lead.ai_score,
              (lead.owner.get_full_name() or lead.owner.get_username()) if lead.owner else "", lead.received_count]
             for lead in found),
        )  # fmt: skip
    context = {
        "page": paginated(request, found),
        "filter_form": filter_form,
        "sort": sort,
        "sort_query": query_without(request, "sort", "page"),
        "page_query": query_without(request, "page"),
        "can_create": bool(_selling_companies(scope)),
    }
    return render(request, "finance/lead_list.html", context)


@require_GET
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = request.company_scope
    lead = selectors.lead_get(scope=scope, pk=pk)
    sells = can_sell(scope, lead.company)
    ai_configured = usable_connection(lead.company, Provider.OPENAI) is not None
    context = {
        "lead": lead,
        "can_sell": sells,
        "can_retry": can_bill(scope, lead.company),
        "ai_configured": ai_configured,
        "ai_unconfigured_text": leads.ai_unconfigured_text(lead.company),
        "run": action_runs_for(lead).filter(action=leads.QUALIFY_ACTION).order_by("-created_at").first(),
        "timeline": selectors.document_timeline(documents=[lead]),
        "owner_form": LeadOwnerForm(initial={"owner": lead.owner_id},
                                    users=selectors.lead_owner_choices(company=lead.company)),
        "lost_form": LeadLostForm(),
        "matched_client": lead.client or leads.lead_client_match(lead=lead),
    }  # fmt: skip
    return render(request, "finance/lead_detail.html", context)


@require_http_methods(["GET", "POST"])
def lead_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Enter a lead by hand, or correct one; the same person within 30 minutes is merged, as from a website."""
    scope = request.company_scope
    lead = selectors.lead_get(scope=scope, pk=pk) if pk else None
    if lead is not None:
        require_sales(scope, lead.company)
        companies = None
    else:
        selling = _selling_companies(scope)
        if not selling:
            raise PermissionDenied(_("Only the CEO, finance and sales can enter leads."))
        companies = Company.objects.filter(pk__in=[company.pk for company in selling]).order_by("code")
    initial = {"source": Lead.Source.PHONE} if lead is None else {}
    form = LeadForm(request.POST or None, instance=lead, companies=companies, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = {name: value for name, value in form.cleaned_data.items() if name != "company"}
        try:
            if lead is None:
                lead, created = leads.lead_receive(
                    company=form.cleaned_data["company"], data=leads.LeadInput(**data), actor=request.user
                )
            else:
                lead, created = leads.lead_update(lead=lead, updated_by=request.user, **data), False
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if pk is None and not created:
                messages.info(request, _("Same person as a lead of the last 30 minutes: merged into it."))
            else:
                messages.success(request, _("Lead %(name)s saved.") % {"name": lead.display_name})
            return redirect(lead.get_absolute_url())
    context = {
        "form": form,
        "heading": _("Edit the lead") if lead else _("New lead"),
        "crumbs": [(_("Leads"), reverse("finance:lead-list"))],
        "cancel_url": lead.get_absolute_url() if lead else reverse("finance:lead-list"),
    }
    return render(request, "finance/simple_form.html", context)


def _acting_on(request: HttpRequest, pk: int) -> Lead:
    scope = request.company_scope
    lead = selectors.lead_get(scope=scope, pk=pk)
    require_sales(scope, lead.company)
    return lead


def _done(request: HttpRequest, lead: Lead, call, success: str) -> HttpResponse:
    try:
        call()
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, success)
    return redirect(lead.get_absolute_url())


@require_POST
def lead_owner(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _acting_on(request, pk)
    form = LeadOwnerForm(request.POST, users=selectors.lead_owner_choices(company=lead.company))
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("owner", [])))
        return redirect(lead.get_absolute_url())
    owner = form.cleaned_data["owner"]
    return _done(request, lead, lambda: leads.lead_owner_set(lead=lead, owner=owner, actor=request.user),
                 _("Owner saved."))  # fmt: skip


@require_POST
def lead_answered(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _acting_on(request, pk)
    return _done(request, lead, lambda: leads.lead_mark_answered(lead=lead, actor=request.user),
                 _("Marked as answered."))  # fmt: skip


@require_POST
def lead_qualified(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _acting_on(request, pk)
    return _done(request, lead, lambda: leads.lead_mark_qualified(lead=lead, actor=request.user),
                 _("Marked as qualified."))  # fmt: skip


@require_POST
def lead_lost(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _acting_on(request, pk)
    form = LeadLostForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the lead is lost."))
        return redirect(lead.get_absolute_url())
    reason = form.cleaned_data["reason"]
    return _done(request, lead, lambda: leads.lead_mark_lost(lead=lead, actor=request.user, reason=reason),
                 _("Marked as lost."))  # fmt: skip


@require_POST
def lead_qualify_ai(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _acting_on(request, pk)
    return _done(request, lead, lambda: leads.lead_qualify_start(lead=lead, actor=request.user, retry_failed=True),
                 _("AI qualification requested."))  # fmt: skip


@require_http_methods(["GET", "POST"])
def lead_quote(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Créer le devis": the matching client (or a new one, its address asked here), a draft quote, the editor."""
    lead = _acting_on(request, pk)
    client = lead.client or leads.lead_client_match(lead=lead)
    initial = {"kind": "organisation" if lead.organisation else "person", "name": lead.organisation
               or lead.display_name, "town": lead.town, "email": lead.email, "language": lead.language,
               "country": "CH"}  # fmt: skip
    form = None if client else LeadClientForm(request.POST or None, initial=initial)
    if request.method == "POST" and (form is None or form.is_valid()):
        try:
            quote = leads.lead_quote_create(
                lead=lead, created_by=request.user, client_fields=form.cleaned_data if form else None
            )
        except ValidationError as error:
            if form is None:
                messages.error(request, " ".join(error.messages))
                return redirect(lead.get_absolute_url())
            form.add_error(None, error)
        else:
            messages.success(request, _("Draft quote created for %(client)s: complete it.") % {"client": quote.client})
            return redirect("finance:quote-edit", pk=quote.pk)
    return render(request, "finance/lead_quote.html", {"lead": lead, "client": client, "form": form})
