"""Achats: suppliers, their invoices (the payables, with ageing), and the approval queue."""

from datetime import date, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from finance import payment_files, selectors
from finance.forms import (
    ApprovalForm,
    CaptureUploadForm,
    PaidForm,
    ReasonForm,
    SupplierForm,
    SupplierInvoiceForm,
    SupplierLineFormSet,
)
from finance.models import Company, Currency, Project, Supplier, SupplierInvoice
from finance.permissions import (
    PURCHASE_ROLES,
    can_approve,
    can_purchase,
    require_approver,
    require_purchase,
)
from finance.services import purchases
from finance.services import revolut as revolut_service
from finance.views.lists import ListFilterForm, csv_amount, csv_date, csv_response, paginated, query_without, sorted_by
from integrations import selectors as integration_selectors
from integrations.selectors import action_runs_for

SUPPLIER_SORTS = {"name": ("name",), "town": ("town",), "company": ("company__code", "name")}
SUPPLIER_INVOICE_SORTS = {
    "due": ("due_date",),
    "date": ("invoice_date",),
    "supplier": ("supplier__name",),
    "total": ("gross_total",),
    "status": ("status",),
}
LINES_PREFIX = "lines"


def _purchasing_companies(scope) -> QuerySet[Company]:
    return Company.objects.filter(pk__in=[c.pk for c in scope.companies if scope.has_role(c, *PURCHASE_ROLES)])


def capture_upload_form(request: HttpRequest, data=None) -> CaptureUploadForm | None:
    """The drop zone's form for supplier documents; None when the person buys for no company (they only look)."""
    companies = _purchasing_companies(request.company_scope).order_by("code")
    return CaptureUploadForm(data, companies=companies, prefix="capture") if companies.exists() else None


# --- Suppliers ----------------------------------------------------------------------------------


@require_GET
def supplier_list(request: HttpRequest) -> HttpResponse:
    scope = request.company_scope
    filter_form = ListFilterForm(request.GET, scope=scope)
    filters = filter_form.filters()
    suppliers = selectors.supplier_list(scope=scope, search=filters.search, company_code=filters.company_code)
    suppliers, sort = sorted_by(request, suppliers, sorts=SUPPLIER_SORTS, default="name")
    if request.GET.get("export") == "csv":
        return csv_response(
            "suppliers",
            [_("Company"), _("Name"), _("Street"), _("Number"), _("Postal code"), _("Town"), _("Country"), _("UID"),
             _("IBAN"), _("Bank country"), _("Currency"), _("Contact"), _("E-mail"), _("Phone"), _("Categories"),
             _("Revolut counterparty id")],
            ([s.company.code, s.name, s.street, s.building_number, s.postal_code, s.town, s.country, s.che_uid,
              s.iban, s.bank_country, s.currency, s.contact_name, s.email, s.phone,
              ", ".join(s.get_categories_display()), s.revolut_counterparty_id] for s in suppliers),
        )  # fmt: skip
    context = {
        "page": paginated(request, suppliers),
        "filter_form": filter_form,
        "sort": sort,
        "sort_query": query_without(request, "sort", "page"),
        "page_query": query_without(request, "page"),
        "can_create": _purchasing_companies(scope).exists(),
    }
    return render(request, "finance/supplier_list.html", context)


@require_GET
def supplier_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = request.company_scope
    supplier = selectors.supplier_get(scope=scope, pk=pk)
    context = {
        "supplier": supplier,
        "invoices": selectors.supplier_invoice_list(scope=scope)
        .filter(supplier=supplier)
        .order_by("-invoice_date")[:20],
        "assignments": supplier.assignments.select_related("project").order_by("-created_at")[:20],
        "timeline": selectors.document_timeline(documents=[supplier]),
        "can_edit": can_purchase(scope, supplier.company),
    }
    return render(request, "finance/supplier_detail.html", context)


def _erpnext_initial(request: HttpRequest, companies) -> dict:
    """A new supplier filled in from an ERPNext supplier ("Create in the Hub" on the ERPNext page)."""
    pk = request.GET.get("erpnext", "")
    found = pk.isdigit() and integration_selectors.erpnext_supplier_get(
        company_ids=[c.pk for c in companies], pk=int(pk)
    )
    if not found:
        return {}
    return {
        "company": found.company, "name": found.supplier_name[:70], "che_uid": found.tax_id[:15], "iban": found.iban,
        "street": found.street[:70], "postal_code": found.postal_code, "town": found.town[:35],
        "country": found.country or "CH", **({"currency": found.currency} if found.currency in Currency.values else {}),
    }  # fmt: skip


@require_http_methods(["GET", "POST"])
def supplier_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create a supplier, or change one."""
    scope = request.company_scope
    supplier = selectors.supplier_get(scope=scope, pk=pk) if pk else None
    if supplier is not None:
        require_purchase(scope, supplier.company)
        form = SupplierForm(request.POST or None, instance=supplier)
    else:
        companies = _purchasing_companies(scope).order_by("code")
        if not companies.exists():
            raise PermissionDenied(_("Only the CEO, finance and operations can create suppliers."))
        form = SupplierForm(request.POST or None, companies=companies, initial=_erpnext_initial(request, companies))
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        try:
            if supplier is None:
                supplier = purchases.supplier_create(company=fields.pop("company"), created_by=request.user, **fields)
            else:
                supplier = purchases.supplier_update(supplier=supplier, updated_by=request.user, **fields)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Supplier %(name)s saved.") % {"name": supplier.name})
            return redirect(supplier.get_absolute_url())
    return render(request, "finance/supplier_form.html", {"form": form, "supplier": supplier})


# --- Supplier invoices (payables) ---------------------------------------------------------------


@require_GET
def supplier_invoice_list(request: HttpRequest) -> HttpResponse:
    scope = request.company_scope
    today = timezone.localdate()
    filter_form = ListFilterForm(request.GET, scope=scope, statuses=SupplierInvoice.Status.choices)
    filters = filter_form.filters()
    bucket = request.GET.get("bucket", "")
    invoices = selectors.supplier_invoice_list(scope=scope, filters=filters, bucket=bucket, today=today)
    invoices, sort = sorted_by(request, invoices, sorts=SUPPLIER_INVOICE_SORTS, default="due")
    if request.GET.get("export") == "csv":
        return csv_response(
            "supplier-invoices",
            [_("Company"), _("Supplier"), _("Their number"), _("Invoice date"), _("Due date"), _("Days overdue"),
             _("Status"), _("Currency"), _("Net"), _("VAT"), _("Total"), _("Creditor IBAN"), _("Reference"),
             _("Project"), _("Entered by"), _("Approved by")],
            ([i.company.code, i.supplier.name, i.supplier_number, csv_date(i.invoice_date), csv_date(i.due_date),
              max((today - i.due_date).days, 0) if i.status in selectors.PAYABLE_STATUSES else "",
              i.get_status_display(), i.currency, csv_amount(i.net_total), csv_amount(i.vat_total),
              csv_amount(i.gross_total), i.creditor_iban, i.payment_reference, i.project.name if i.project else "",
              i.created_by.username, i.approved_by.username if i.approved_by else ""] for i in invoices),
        )  # fmt: skip
    context = {
        "page": paginated(request, invoices),
        "filter_form": filter_form,
        "sort": sort,
        "sort_query": query_without(request, "sort", "page"),
        "page_query": query_without(request, "page"),
        "bucket_query": query_without(request, "bucket", "page"),
        "bucket": bucket,
        "ageing": selectors.payables_ageing(scope=scope, today=today, company_code=filters.company_code),
        "today": today,
        "can_create": _purchasing_companies(scope).exists(),
        "upload_form": capture_upload_form(request),
        "payers": [company for company in scope.companies if can_approve(scope, company)],
        "next_day": today + timedelta(days=1),
    }
    return render(request, "finance/supplier_invoice_list.html", context)


@require_GET
def supplier_payment_file(request: HttpRequest) -> HttpResponse:
    """The approved supplier invoices of one company as a pain.001 file for its bank's e-banking."""
    scope = request.company_scope
    company = next((c for c in scope.companies if c.code == request.GET.get("company") and can_approve(scope, c)),
                   None)  # fmt: skip
    try:
        execution_date = date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        execution_date = None
    if company is None or execution_date is None:
        messages.error(request, _("Choose the company and the execution date."))
        return redirect("finance:supplier-invoice-list")
    invoices = payment_files.payable_invoices(company=company)
    if not invoices:
        messages.error(request, _("%(company)s has no approved supplier invoice to pay.") % {"company": company.name})
        return redirect("finance:supplier-invoice-list")
    content = payment_files.pain001(company=company, invoices=invoices, execution_date=execution_date)
    response = HttpResponse(content, content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="pain001-{company.code}-{execution_date:%Y-%m-%d}.xml"'
    return response


def _invoice_form_choices(scope):
    companies = _purchasing_companies(scope)
    suppliers = Supplier.objects.filter(company__in=companies).select_related("company").order_by("name")
    projects = (
        Project.objects.filter(company__in=companies)
        .exclude(status__in=[Project.Status.CANCELLED])
        .select_related("company")
        .order_by("name")
    )
    return suppliers, projects


@require_http_methods(["GET", "POST"])
def supplier_invoice_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Enter a supplier invoice with its VAT lines, or correct one; a duplicate is refused with a link to it."""
    scope = request.company_scope
    invoice = selectors.supplier_invoice_get(scope=scope, pk=pk) if pk else None
    if invoice is not None:
        require_purchase(scope, invoice.company)
    suppliers, projects = _invoice_form_choices(scope)
    if invoice is None and not suppliers.exists() and not _purchasing_companies(scope).exists():
        raise PermissionDenied(_("Only the CEO, finance and operations can enter supplier invoices."))
    initial = {key: request.GET[key] for key in ("supplier", "project") if request.GET.get(key)}
    form = SupplierInvoiceForm(
        request.POST or None, request.FILES or None, instance=invoice, initial=initial, suppliers=suppliers,
        projects=projects,
    )  # fmt: skip
    if invoice is not None:
        form.fields["supplier"].disabled = True
    lines_initial = [
        {"description": line.description, "net_amount": line.net_amount, "vat_code": line.vat_code,
         "input_vat_recoverable": line.input_vat_recoverable, "is_investment": line.is_investment}
        for line in invoice.lines.all()
    ] if invoice else None  # fmt: skip
    formset = SupplierLineFormSet(request.POST or None, prefix=LINES_PREFIX, initial=lines_initial)
    duplicate = None
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        fields = {name: value for name, value in form.cleaned_data.items() if name != "supplier"}
        if not fields.get("creditor_iban"):
            fields["creditor_iban"] = (invoice.supplier if invoice else form.cleaned_data["supplier"]).iban
        if not fields.get("source_document"):
            fields.pop("source_document", None)
        try:
            if invoice is None:
                invoice = purchases.supplier_invoice_create(
                    supplier=form.cleaned_data["supplier"], created_by=request.user, lines=formset.lines(), **fields
                )
            else:
                invoice = purchases.supplier_invoice_update(
                    invoice=invoice, updated_by=request.user, lines=formset.lines(), **fields
                )
        except purchases.DuplicateSupplierInvoice as error:
            duplicate = error.existing
            form.add_error(None, error)
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            messages.success(request, _("Supplier invoice %(number)s saved.") % {"number": invoice.supplier_number})
            return redirect(invoice.get_absolute_url())
    context = {
        "form": form, "formset": formset, "invoice": invoice, "duplicate": duplicate,
        "upload_form": capture_upload_form(request) if invoice is None else None,
    }  # fmt: skip
    return render(request, "finance/supplier_invoice_form.html", context)


def _add_service_errors(form, error: ValidationError) -> None:
    """Show a service's errors on the form's fields where it has them, above the form otherwise."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@require_GET
def supplier_invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = request.company_scope
    invoice = selectors.supplier_invoice_get(scope=scope, pk=pk)
    context = {
        "invoice": invoice,
        "lines": invoice.lines.all(),
        "deviation": purchases.supplier_invoice_deviation(invoice),
        "approval_refusal": purchases.approval_refusal(invoice, user=request.user, scope=scope),
        "can_edit": can_purchase(scope, invoice.company) and invoice.status in purchases.EDITABLE_STATUSES,
        "can_approve": can_approve(scope, invoice.company),
        "can_submit": can_purchase(scope, invoice.company),
        "approval_form": ApprovalForm(),
        "reason_form": ReasonForm(),
        "paid_form": PaidForm(initial={"paid_on": timezone.localdate()}),
        "timeline": selectors.document_timeline(documents=[invoice]),
        "payout_refusal": revolut_service.payout_refusal(invoice, user=request.user, scope=scope),
        "payouts": [
            (payment, action_runs_for(payment).first())
            for payment in invoice.outgoing_payments.select_related("account", "created_by")
        ],
    }
    return render(request, "finance/supplier_invoice_detail.html", context)


def _invoice_action(request: HttpRequest, pk: int, act, success: str, *, require) -> HttpResponse:
    scope = request.company_scope
    invoice = selectors.supplier_invoice_get(scope=scope, pk=pk)
    require(scope, invoice.company)
    try:
        act(invoice)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, success)
    return redirect(invoice.get_absolute_url())


@require_POST
def supplier_invoice_submit(request: HttpRequest, pk: int) -> HttpResponse:
    return _invoice_action(
        request, pk, lambda i: purchases.supplier_invoice_submit(invoice=i, submitted_by=request.user),
        _("Submitted for approval."), require=require_purchase,
    )  # fmt: skip


@require_POST
def supplier_invoice_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    return _invoice_action(
        request, pk, lambda i: purchases.supplier_invoice_schedule(invoice=i, scheduled_by=request.user),
        _("Marked as scheduled for payment."), require=require_approver,
    )  # fmt: skip


@require_POST
def supplier_invoice_mark_paid(request: HttpRequest, pk: int) -> HttpResponse:
    form = PaidForm(request.POST)
    paid_on = form.cleaned_data["paid_on"] if form.is_valid() else timezone.localdate()
    return _invoice_action(
        request, pk, lambda i: purchases.supplier_invoice_mark_paid(invoice=i, paid_by=request.user, paid_on=paid_on),
        _("Marked as paid."), require=require_approver,
    )  # fmt: skip


@require_POST
def supplier_invoice_dispute(request: HttpRequest, pk: int) -> HttpResponse:
    reason = request.POST.get("reason", "")
    return _invoice_action(
        request, pk, lambda i: purchases.supplier_invoice_dispute(invoice=i, disputed_by=request.user, reason=reason),
        _("Marked as disputed."), require=require_approver,
    )  # fmt: skip


# --- Approval queue -----------------------------------------------------------------------------


@require_GET
def approval_queue(request: HttpRequest) -> HttpResponse:
    scope = request.company_scope
    today = timezone.localdate()
    invoices = list(selectors.approval_queue(scope=scope))
    rows = [_queue_row(request, invoice) for invoice in invoices]
    return render(request, "finance/approval_queue.html", {"rows": rows, "today": today})


def _queue_row(request: HttpRequest, invoice: SupplierInvoice, **extra) -> dict:
    return {
        "invoice": invoice,
        "refusal": purchases.approval_refusal(invoice, user=request.user, scope=request.company_scope),
        "today": timezone.localdate(),
        **extra,
    }


@require_POST
def approval_decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    """Approve or reject one invoice of the queue; with HTMX, answer the updated row only."""
    scope = request.company_scope
    invoice = selectors.supplier_invoice_get(scope=scope, pk=pk)
    require_approver(scope, invoice.company)
    reason = request.POST.get("reason", "").strip()
    try:
        if decision == "approve":
            invoice = purchases.supplier_invoice_approve(
                invoice=invoice, approved_by=request.user, override_reason=reason
            )
            outcome = _("Approved")
        else:
            invoice = purchases.supplier_invoice_reject(invoice=invoice, rejected_by=request.user, reason=reason)
            outcome = _("Rejected")
    except ValidationError as error:
        row = _queue_row(request, invoice, error=" ".join(error.messages), reason=reason, decision=decision)
    else:
        row = _queue_row(request, invoice, outcome=outcome)
    if request.htmx:
        return render(request, "finance/approval_queue.html#queue-row", {"row": row})
    if "error" in row:
        messages.error(request, row["error"])
    else:
        messages.success(request, f"{invoice.supplier.name} {invoice.supplier_number}: {row['outcome']}")
    return redirect("finance:approval-queue")


@require_POST
def supplier_invoice_pay_revolut(request: HttpRequest, pk: int) -> HttpResponse:
    return _invoice_action(
        request, pk, lambda i: revolut_service.supplier_invoice_pay_revolut(invoice=i, requested_by=request.user),
        _("Payment sent to Revolut; its status follows below."), require=require_approver,
    )  # fmt: skip
