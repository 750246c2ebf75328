from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from finance import pdf, selectors, vat
from finance.document_actions import invoice_actions
from finance.forms import CreditNoteForm, InvoiceIssueForm, PaymentForm
from finance.models import Invoice, InvoiceDunning
from finance.permissions import can_bill, require_billing
from finance.services import documents, invoice_ninja
from finance.services import dunning as dunning_service
from finance.services.payments import client_credit, payment_record, payment_undo
from finance.views.lists import ListFilterForm, csv_amount, csv_date, csv_response, paginated, query_without, sorted_by

INVOICE_SORTS = {
    "number": ("number",),
    "date": ("issue_date",),
    "due": ("due_date",),
    "client": ("client__name",),
    "total": ("payable_total",),
    "status": ("status",),
}


@require_GET
def invoice_list(request: HttpRequest) -> HttpResponse:
    scope = request.company_scope
    today = timezone.localdate()
    filter_form = ListFilterForm(request.GET, scope=scope, statuses=Invoice.Status.choices)
    invoices = selectors.invoice_list(scope=scope, today=today, filters=filter_form.filters())
    invoices, sort = sorted_by(request, invoices, sorts=INVOICE_SORTS, default="-date")
    if request.GET.get("export") == "csv":
        return csv_response(
            "invoices",
            [_("Number"), _("Kind"), _("Issue date"), _("Due date"), _("Company"), _("Client"), _("Title"),
             _("Status"), _("Overdue"), _("Currency"), _("Net"), _("VAT"), _("Payable"), _("Paid"), _("Credited"),
             _("Balance due")],
            ([i.number, i.get_kind_display(), csv_date(i.issue_date), csv_date(i.due_date), i.company.code,
              i.client.name, i.title, i.get_status_display(), _("yes") if i.overdue else "", i.currency,
              csv_amount(i.net_total), csv_amount(i.vat_total), csv_amount(i.payable_total),
              csv_amount(i.amount_paid), csv_amount(i.amount_credited), csv_amount(i.balance_due)]
             for i in invoices),
        )  # fmt: skip
    context = {
        "page": paginated(request, invoices),
        "filter_form": filter_form,
        "sort": sort,
        "sort_query": query_without(request, "sort", "page"),
        "page_query": query_without(request, "page"),
        "today": today,
    }
    return render(request, "finance/invoice_list.html", context)


@require_GET
def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = request.company_scope
    invoice = selectors.invoice_get(scope=scope, pk=pk)
    today = timezone.localdate()
    payments = list(selectors.payment_list(scope=scope, invoice=invoice))
    credit_notes = list(selectors.credit_note_list(invoice=invoice))
    dunning = dunning_service.invoice_dunning_panel(invoice=invoice, today=today)
    context = {
        "invoice": invoice,
        "lines": invoice.lines.all(),
        "totals": vat.document_lines_totals(invoice),
        "paid": documents.invoice_amount_paid(invoice),
        "credited": documents.invoice_amount_credited(invoice),
        "balance_due": documents.invoice_balance_due(invoice),
        "overdue": documents.invoice_is_overdue(invoice, today=today),
        "payments": payments,
        "credit_notes": credit_notes,
        "timeline": selectors.document_timeline(documents=[invoice, *payments, *credit_notes]),
        "actions": invoice_actions(invoice, scope=scope, dunning=dunning),
        "issue_form": InvoiceIssueForm(
            initial={"issue_date": today, "supply_from": invoice.supply_from, "supply_to": invoice.supply_to}
        ),
        "can_bill": can_bill(scope, invoice.company),
        "invoice_ninja": selectors.invoice_ninja_panel(document=invoice),
        "dunning": dunning,
        "hold_choices": InvoiceDunning.Hold.choices,
    }
    return render(request, "finance/invoice_detail.html", context)


def _invoice_for_billing(request: HttpRequest, pk: int) -> Invoice:
    invoice = selectors.invoice_get(scope=request.company_scope, pk=pk)
    require_billing(request.company_scope, invoice.company)
    return invoice


@require_POST
def invoice_issue(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice_for_billing(request, pk)
    form = InvoiceIssueForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the issue date as DD.MM.YYYY."))
        return redirect(invoice)
    try:
        data = form.cleaned_data
        supply = {"supply_from": data["supply_from"], "supply_to": data["supply_to"]} if data["supply_from"] else {}
        invoice = documents.invoice_issue(
            invoice=invoice, issued_by=request.user, issue_date=data["issue_date"], **supply
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(invoice)
    messages.success(request, _("%(number)s issued.") % {"number": invoice.number})
    return redirect(invoice)


@require_POST
def invoice_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice_for_billing(request, pk)
    try:
        documents.invoice_cancel_draft(invoice=invoice, cancelled_by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Draft cancelled."))
    return redirect(invoice)


@require_POST
def invoice_send_invoice_ninja(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice_for_billing(request, pk)
    try:
        invoice_ninja.document_send_start(document=invoice, requested_by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("%(number)s is being sent via Invoice Ninja.") % {"number": invoice.number})
    return redirect(invoice)


@require_GET
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = selectors.invoice_get(scope=request.company_scope, pk=pk)
    try:
        content = pdf.invoice_pdf(invoice)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(invoice)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    return response


@require_http_methods(["GET", "POST"])
def credit_note_new(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice_for_billing(request, pk)
    form = CreditNoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            note = documents.credit_note_create(
                invoice=invoice, created_by=request.user, reason=form.cleaned_data["reason"],
                amount=form.cleaned_data["amount"],
            )  # fmt: skip
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Draft credit note created: check it, then issue it."))
            return redirect(note)
    context = {
        "invoice": invoice,
        "form": form,
        "open_to_credit": documents.invoice_open_to_credit(invoice),
    }
    return render(request, "finance/credit_note_form.html", context)


@require_http_methods(["GET", "POST"])
def payment_new(request: HttpRequest, client_pk: int) -> HttpResponse:
    """Record a payment of a client, allocated to its open invoices; the rest becomes the client's credit."""
    scope = request.company_scope
    client = selectors.client_get(scope=scope, pk=client_pk)
    require_billing(scope, client.company)
    open_invoices = list(selectors.invoice_open_for_client_list(client=client))
    chosen = next((i for i in open_invoices if str(i.pk) == request.GET.get("invoice")), None)
    initial = {"received_on": timezone.localdate(), "currency": chosen.currency if chosen else client.company.currency}
    if chosen is not None:
        initial["amount"] = chosen.balance_due
        initial[PaymentForm.allocation_field(chosen)] = chosen.balance_due
    form = PaymentForm(request.POST or None, open_invoices=open_invoices, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            payment_record(
                client=client, received_on=data["received_on"], amount=data["amount"], method=data["method"],
                reference=data["reference"], allocations=form.allocations(), recorded_by=request.user,
                currency=data["currency"],
            )  # fmt: skip
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Payment recorded."))
            return redirect(chosen or client)
    context = {"client": client, "form": form, "credit": client_credit(client=client)}
    return render(request, "finance/payment_form.html", context)


@require_POST
def payment_undo_view(request: HttpRequest, pk: int) -> HttpResponse:
    scope = request.company_scope
    payment = selectors.payment_get(scope=scope, pk=pk)
    require_billing(scope, payment.company)
    try:
        payment_undo(payment=payment, undone_by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Payment undone: its invoices owe again what it settled."))
    allocation = payment.allocations.filter(invoice_id=request.POST.get("invoice") or None).first()
    return redirect(allocation.invoice if allocation else payment.client)
