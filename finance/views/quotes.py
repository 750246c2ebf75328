from datetime import timedelta
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from finance import selectors, vat
from finance.document_actions import quote_actions
from finance.forms import MAX_LINES, LineForm, LineFormSet, QuoteForm
from finance.models import Client, Quote
from finance.permissions import SALES_ROLES, can_bill, can_sell, require_billing, require_sales
from finance.services import automatic_deposit, documents, docuseal, invoice_ninja
from finance.views.lists import ListFilterForm, csv_amount, csv_date, csv_response, paginated, query_without, sorted_by

QUOTE_SORTS = {
    "number": ("number",),
    "date": ("quote_date",),
    "client": ("client__name",),
    "total": ("payable_total",),
    "status": ("status",),
}
LINES_PREFIX = "lines"
LINE_FIELDS = tuple(LineForm.base_fields)
QUOTE_VALIDITY_DAYS = 30


@require_GET
def quote_list(request: HttpRequest) -> HttpResponse:
    scope = request.company_scope
    filter_form = ListFilterForm(request.GET, scope=scope, statuses=Quote.Status.choices)
    quotes = selectors.quote_list(scope=scope, filters=filter_form.filters(), today=timezone.localdate())
    quotes, sort = sorted_by(request, quotes, sorts=QUOTE_SORTS, default="-date")
    if request.GET.get("export") == "csv":
        return csv_response(
            "quotes",
            [_("Number"), _("Date"), _("Valid until"), _("Company"), _("Client"), _("Title"), _("Status"),
             _("Currency"), _("Net"), _("VAT"), _("Total")],
            ([q.number, csv_date(q.quote_date), csv_date(q.valid_until), q.company.code, q.client.name, q.title,
              q.get_status_display(), q.currency, csv_amount(q.net_total), csv_amount(q.vat_total),
              csv_amount(q.payable_total)] for q in quotes),
        )  # fmt: skip
    context = {
        "page": paginated(request, quotes),
        "filter_form": filter_form,
        "sort": sort,
        "sort_query": query_without(request, "sort", "page"),
        "page_query": query_without(request, "page"),
        "can_create": any(scope.has_role(company, *SALES_ROLES) for company in scope.companies),
    }
    return render(request, "finance/quote_list.html", context)


@require_GET
def quote_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = request.company_scope
    quote = selectors.quote_get(scope=scope, pk=pk)
    context = {
        "quote": quote,
        "lines": quote.lines.all(),
        "totals": vat.document_lines_totals(quote),
        "invoices": selectors.invoice_for_quote_list(quote=quote),
        "timeline": selectors.document_timeline(documents=[quote]),
        "actions": quote_actions(quote, scope=scope),
        "invoice_ninja": selectors.invoice_ninja_panel(document=quote),
        "signature": selectors.quote_signature_panel(quote=quote),
        "can_sell": can_sell(scope, quote.company),
        "can_bill": can_bill(scope, quote.company),
        "automatic_deposit_run": automatic_deposit.automatic_deposit_run(quote),
    }
    return render(request, "finance/quote_detail.html", context)


def _client_choices(scope):
    companies = [company for company in scope.companies if scope.has_role(company, *SALES_ROLES)]
    return Client.objects.filter(company__in=companies).select_related("company").order_by("name")


def _line_inputs(formset) -> list[documents.LineInput]:
    return [documents.LineInput(**form.cleaned_data) for form in formset.forms if form.cleaned_data]


def _lines_of(quote: Quote) -> list[dict]:
    return [{name: getattr(line, name) for name in LINE_FIELDS} for line in quote.lines.all()]


@require_http_methods(["GET", "POST"])
def quote_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create a quote, or edit a draft: header and lines are saved together, or nothing is."""
    scope = request.company_scope
    quote = selectors.quote_get(scope=scope, pk=pk) if pk else None
    if quote is not None:
        require_sales(scope, quote.company)
        if quote.status != Quote.Status.DRAFT:
            messages.error(request, _("Only a draft quote can be edited."))
            return redirect("finance:quote-detail", pk=quote.pk)
    elif not any(scope.has_role(company, *SALES_ROLES) for company in scope.companies):
        raise PermissionDenied(_("Only the CEO, finance and sales can create quotes."))
    clients = _client_choices(scope)
    if request.method == "POST":
        form = QuoteForm(request.POST, instance=quote, clients=clients)
        formset = LineFormSet(request.POST, prefix=LINES_PREFIX)
        # A broken management form gives no forms: show as many rows as the formset has.
        rows = _posted_rows(request.POST)[: len(formset.forms)]
        if form.is_valid() and formset.is_valid():
            try:
                quote = _save_quote(request, quote, form.cleaned_data, _line_inputs(formset))
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("Quote %(title)s saved.") % {"title": quote.title})
                return redirect("finance:quote-detail", pk=quote.pk)
    else:
        today = timezone.localdate()
        initial = {"quote_date": today, "valid_until": today + timedelta(days=QUOTE_VALIDITY_DAYS)}
        if request.GET.get("client"):
            initial["client"] = request.GET["client"]
        form = QuoteForm(instance=quote, clients=clients, initial=initial)
        rows = _lines_of(quote) if quote else [NEW_LINE]
        formset = LineFormSet(initial=rows, prefix=LINES_PREFIX)
    context = {
        "quote": quote, "form": form,
        **_editor_context(formset, rows, header=request.POST, clients=clients, quote=quote),
    }  # fmt: skip
    return render(request, "finance/quote_form.html", context)


@require_POST
def quote_lines_preview(request: HttpRequest) -> HttpResponse:
    """The line editor's HTMX endpoint: add, remove or move a line, or recompute the totals. Saves nothing."""
    rows = _posted_rows(request.POST)
    clients = _client_choices(request.company_scope)
    operation, _sep, argument = request.POST.get("op", "totals").partition(":")
    index = int(argument) if argument.isdigit() and int(argument) < len(rows) else None
    if operation == "totals":
        return render(
            request, "finance/_quote_totals.html", {"oob": True, **_preview(rows, header=request.POST, clients=clients)}
        )
    if operation == "add" and len(rows) < MAX_LINES:
        rows.append(NEW_LINE)
    elif operation == "remove" and index is not None and len(rows) > 1:
        rows.pop(index)
    elif operation == "up" and index:
        rows[index - 1], rows[index] = rows[index], rows[index - 1]
    elif operation == "down" and index is not None and index + 1 < len(rows):
        rows[index], rows[index + 1] = rows[index + 1], rows[index]
    return render(
        request,
        "finance/_quote_lines.html",
        _editor_context(LineFormSet(initial=rows, prefix=LINES_PREFIX), rows, header=request.POST, clients=clients),
    )


NEW_LINE = {"quantity": Decimal("1"), "discount_percent": Decimal("0"), "vat_code": "standard"}


def _posted_rows(data) -> list[dict]:
    """The lines as typed, in their order on screen, as raw values."""
    try:
        count = min(int(data.get(f"{LINES_PREFIX}-TOTAL_FORMS", 0)), MAX_LINES)
    except ValueError:
        count = 0
    return [{name: data.get(f"{LINES_PREFIX}-{i}-{name}", "") for name in LINE_FIELDS} for i in range(count)]


@transaction.atomic
def _save_quote(request: HttpRequest, quote: Quote | None, header: dict, lines: list) -> Quote:
    require_sales(request.company_scope, header["client"].company)
    if quote is None:
        notes = header.pop("notes")
        quote = documents.quote_create(created_by=request.user, **header)
        if notes:
            quote = documents.quote_update(quote=quote, edited_by=request.user, notes=notes)
    else:
        quote = documents.quote_update(quote=quote, edited_by=request.user, **header)
    return documents.quote_lines_replace(quote=quote, lines=lines, edited_by=request.user)


def _editor_context(formset, rows: list[dict], *, header, clients, quote: Quote | None = None) -> dict:
    preview = _preview(rows, header=header, clients=clients, quote=quote)
    return {"formset": formset, "line_rows": list(zip(formset.forms, preview["line_nets"], strict=True)), **preview}


def _preview(rows: list[dict], *, header, clients, quote: Quote | None = None) -> dict:
    """Amounts of the lines being typed, by finance.vat: each valid line's net (None if not yet valid), totals.

    The VAT rates are those in force on the supply date, else the quote's date; 0.05 rounding follows the
    client's company and the currency.
    """
    on, company, currency = timezone.localdate(), None, "CHF"
    if quote is not None:
        on, company, currency = quote.vat_date, quote.company, quote.currency
    header_form = QuoteForm(header or None, clients=clients)
    if header:
        header_form.is_valid()
        cleaned = header_form.cleaned_data
        on = cleaned.get("supply_to") or cleaned.get("supply_from") or cleaned.get("quote_date") or on
        currency = header_form.cleaned_data.get("currency") or currency
        if client := header_form.cleaned_data.get("client"):
            company = client.company
    nets, lines = [], []
    for row in rows:
        line_form = LineForm(row)
        line = None
        if line_form.is_valid():
            try:
                rate = vat.vat_rate_on(code=line_form.cleaned_data["vat_code"], on=on).rate
            except vat.VatRateMissing:
                rate = None
            if rate is not None:
                line = vat.Line(
                    quantity=line_form.cleaned_data["quantity"], unit_price=line_form.cleaned_data["unit_price"],
                    vat_rate=rate, discount_percent=line_form.cleaned_data["discount_percent"],
                )  # fmt: skip
                lines.append(line)
        nets.append(line.net if line else None)
    rounds = company is not None and vat.rounds_to_five_centimes(company, currency)
    totals = vat.document_totals(lines, rounds_to_five_centimes=rounds)
    return {"line_nets": nets, "totals": totals, "currency": currency}


def _quote_action(request: HttpRequest, pk: int, act, success: str, require=require_sales) -> HttpResponse:
    """Run one state change on a quote; a refused one comes back as an error message, nothing changed."""
    scope = request.company_scope
    quote = selectors.quote_get(scope=scope, pk=pk)
    require(scope, quote.company)
    try:
        result = act(quote)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("finance:quote-detail", pk=quote.pk)
    messages.success(request, success)
    return redirect(result.get_absolute_url())


@require_POST
def quote_send(request: HttpRequest, pk: int) -> HttpResponse:
    return _quote_action(
        request, pk, lambda quote: documents.quote_send(quote=quote, sent_by=request.user), _("Quote marked as sent.")
    )


@require_POST
def quote_send_invoice_ninja(request: HttpRequest, pk: int) -> HttpResponse:
    """Number a draft if need be, then push and e-mail the quote through Invoice Ninja (an action run)."""
    return _quote_action(
        request, pk,
        lambda quote: invoice_ninja.document_send_start(document=quote, requested_by=request.user).target,
        _("The quote is being sent via Invoice Ninja."),
    )  # fmt: skip


@require_POST
def quote_send_docuseal(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Envoyer pour signature": number a draft if need be, then send it through DocuSeal (an action run)."""
    return _quote_action(
        request, pk,
        lambda quote: docuseal.signature_request_start(quote=quote, requested_by=request.user).target,
        _("The quote is being sent for signature via DocuSeal."),
    )  # fmt: skip


@require_POST
def quote_signature_remind(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Relancer": DocuSeal e-mails the signature request to the client again."""

    def remind(quote: Quote) -> Quote:
        signature = selectors.live_signature(quote)
        if signature is None:
            raise ValidationError(_("The quote has no signature in progress."))
        docuseal.signature_remind_start(signature=signature, requested_by=request.user)
        return quote

    return _quote_action(request, pk, remind, _("DocuSeal e-mails the signature request again."))


@require_GET
def quote_signature_file(request: HttpRequest, pk: int, signature_pk: int, kind: str) -> HttpResponse:
    """The signed PDF or the audit trail DocuSeal returned, for whoever sees the quote."""
    quote = selectors.quote_get(scope=request.company_scope, pk=pk)
    signature = selectors.quote_signature_get(scope=request.company_scope, pk=signature_pk, quote=quote)
    stored = {"signed": signature.signed_pdf, "audit": signature.audit_trail}.get(kind)
    if not stored:
        raise Http404
    name = f"{quote.number}-{_('signed') if kind == 'signed' else _('audit-trail')}.pdf"
    return FileResponse(stored.open("rb"), as_attachment=True, filename=name, content_type="application/pdf")


@require_POST
def quote_mark_viewed(request: HttpRequest, pk: int) -> HttpResponse:
    return _quote_action(
        request, pk, lambda quote: documents.quote_mark_viewed(quote=quote, actor=request.user),
        _("Quote marked as viewed by the client."),
    )  # fmt: skip


@require_POST
def quote_mark_signed(request: HttpRequest, pk: int) -> HttpResponse:
    return _quote_action(
        request, pk, lambda quote: documents.quote_mark_signed(quote=quote, actor=request.user),
        _("Quote marked as signed."),
    )  # fmt: skip


@require_POST
def quote_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _quote_action(
        request, pk, lambda quote: documents.quote_reject(quote=quote, actor=request.user),
        _("Quote marked as rejected."),
    )  # fmt: skip


def _invoice_from_quote(request: HttpRequest, pk: int, create) -> HttpResponse:
    return _quote_action(
        request, pk, lambda quote: create(quote=quote, created_by=request.user),
        _("Draft invoice created: check it, then issue it."), require=require_billing,
    )  # fmt: skip


@require_POST
def quote_invoice_deposit(request: HttpRequest, pk: int) -> HttpResponse:
    return _invoice_from_quote(request, pk, documents.invoice_create_deposit)


@require_POST
def quote_invoice_balance(request: HttpRequest, pk: int) -> HttpResponse:
    return _invoice_from_quote(request, pk, documents.invoice_create_balance)


@require_POST
def quote_invoice_full(request: HttpRequest, pk: int) -> HttpResponse:
    return _invoice_from_quote(request, pk, documents.invoice_create_full)


@require_GET
def quote_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    from finance import pdf

    quote = selectors.quote_get(scope=request.company_scope, pk=pk)
    response = HttpResponse(pdf.quote_pdf(quote), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{quote.number or _("draft-quote")}.pdf"'
    return response
