from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from finance import selectors
from finance.forms import ClientForm, ContactForm
from finance.models import Company
from finance.permissions import SALES_ROLES, can_bill, can_sell, require_sales
from finance.services.parties import client_create, client_update, contact_create, contact_update
from finance.services.payments import client_credit
from finance.views.lists import ListFilterForm, csv_response, paginated, query_without, sorted_by

CLIENT_SORTS = {"name": ("name",), "town": ("town",), "company": ("company__code", "name")}


@require_GET
def client_list(request: HttpRequest) -> HttpResponse:
    scope = request.company_scope
    filter_form = ListFilterForm(request.GET, scope=scope)
    filters = filter_form.filters()
    clients = selectors.client_list(scope=scope, search=filters.search, company_code=filters.company_code)
    clients, sort = sorted_by(request, clients, sorts=CLIENT_SORTS, default="name")
    if request.GET.get("export") == "csv":
        return csv_response(
            "clients",
            [_("Company"), _("Name"), _("Kind"), _("Street"), _("Number"), _("Postal code"), _("Town"), _("Country"),
             _("UID"), _("E-mail"), _("Language"), _("Payment terms (days)")],
            ([c.company.code, c.name, c.get_kind_display(), c.street, c.building_number, c.postal_code, c.town,
              c.country, c.che_uid, c.email, c.get_language_display(), c.payment_terms_days or ""] for c in clients),
        )  # fmt: skip
    context = {
        "page": paginated(request, clients),
        "filter_form": filter_form,
        "sort": sort,
        "sort_query": query_without(request, "sort", "page"),
        "page_query": query_without(request, "page"),
        "can_create": any(can_sell(scope, company) for company in scope.companies),
    }
    return render(request, "finance/client_list.html", context)


@require_GET
def client_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = request.company_scope
    client = selectors.client_get(scope=scope, pk=pk)
    today = timezone.localdate()
    context = {
        "client": client,
        "contacts": selectors.contact_list(client=client),
        "quotes": selectors.quote_list(scope=scope).filter(client=client)[:10],
        "invoices": selectors.invoice_list(scope=scope, today=today).filter(client=client)[:10],
        "payments": selectors.payment_list(scope=scope, client=client)[:10],
        "credit": client_credit(client=client),
        "timeline": selectors.document_timeline(documents=[client]),
        "today": today,
        "can_edit": can_sell(scope, client.company),
        "can_bill": can_bill(scope, client.company),
    }
    return render(request, "finance/client_detail.html", context)


def _companies_where_user_sells(scope) -> QuerySet[Company]:
    return Company.objects.filter(pk__in=[c.pk for c in scope.companies if scope.has_role(c, *SALES_ROLES)])


@require_http_methods(["GET", "POST"])
def client_new(request: HttpRequest) -> HttpResponse:
    scope = request.company_scope
    companies = _companies_where_user_sells(scope).order_by("code")
    if not companies.exists():
        raise PermissionDenied(_("Only the CEO, finance and sales can create clients."))
    form = ClientForm(request.POST or None, companies=companies)
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        client = client_create(company=fields.pop("company"), created_by=request.user, **fields)
        messages.success(request, _("Client %(name)s created.") % {"name": client.name})
        return redirect("finance:client-detail", pk=client.pk)
    return render(request, "finance/client_form.html", {"form": form, "client": None})


@require_http_methods(["GET", "POST"])
def client_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scope = request.company_scope
    client = selectors.client_get(scope=scope, pk=pk)
    require_sales(scope, client.company)
    form = ClientForm(request.POST or None, instance=client)
    if request.method == "POST" and form.is_valid():
        client = client_update(client=client, updated_by=request.user, **form.cleaned_data)
        messages.success(request, _("Client %(name)s saved.") % {"name": client.name})
        return redirect("finance:client-detail", pk=client.pk)
    return render(request, "finance/client_form.html", {"form": form, "client": client})


@require_http_methods(["GET", "POST"])
def contact_form(request: HttpRequest, client_pk: int, pk: int | None = None) -> HttpResponse:
    """Add a contact to a client, or change one."""
    scope = request.company_scope
    client = selectors.client_get(scope=scope, pk=client_pk)
    require_sales(scope, client.company)
    contact = selectors.contact_get(scope=scope, pk=pk) if pk else None
    if contact is not None and contact.client_id != client.pk:
        raise Http404
    form = ContactForm(request.POST or None, instance=contact)
    if request.method == "POST" and form.is_valid():
        if contact is None:
            contact = contact_create(client=client, created_by=request.user, **form.cleaned_data)
        else:
            contact = contact_update(contact=contact, updated_by=request.user, **form.cleaned_data)
        messages.success(request, _("Contact %(name)s saved.") % {"name": contact.name})
        return redirect("finance:client-detail", pk=client.pk)
    return render(request, "finance/contact_form.html", {"form": form, "client": client, "contact": contact})
