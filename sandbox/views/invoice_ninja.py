"""HTTP face of the Invoice Ninja v5 sandbox: the API paths of the real service, under /sandbox/invoice-ninja/.

Also the sandbox's own page (what a finance user does in Invoice Ninja: record a payment, and what a
client does in the portal: approve a quote) and the client portal pages the invitation links open.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sandbox import invoice_ninja
from sandbox.encoding import DecimalAsNumberEncoder
from sandbox.forms import ApproveQuoteForm, RecordPaymentForm

# Pagination of the list endpoints (BaseController::resolveQueryLimit).
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 5000
# Delivery attempts per company shown on the sandbox's page, newest first.
DASHBOARD_DELIVERIES = 30
# Query values that switch a trigger (?mark_sent=true) on, as Invoice Ninja compares them.
TRUE_VALUES = ("true", "1")

INVOICE_STATUS_LABELS = {
    invoice_ninja.INVOICE_DRAFT: gettext_lazy("Draft"),
    invoice_ninja.INVOICE_SENT: gettext_lazy("Sent"),
    invoice_ninja.INVOICE_PARTIAL: gettext_lazy("Partially paid"),
    invoice_ninja.INVOICE_PAID: gettext_lazy("Paid"),
    invoice_ninja.INVOICE_CANCELLED: gettext_lazy("Cancelled"),
}
QUOTE_STATUS_LABELS = {
    invoice_ninja.QUOTE_DRAFT: gettext_lazy("Draft"),
    invoice_ninja.QUOTE_SENT: gettext_lazy("Sent"),
    invoice_ninja.QUOTE_APPROVED: gettext_lazy("Approved"),
    invoice_ninja.QUOTE_CONVERTED: gettext_lazy("Converted"),
}
STATUS_LABELS = {"invoice": INVOICE_STATUS_LABELS, "quote": QUOTE_STATUS_LABELS}
DELIVERY_OUTCOME_LABELS = {
    invoice_ninja.DELIVERED: gettext_lazy("Delivered"),
    invoice_ninja.RETRY: gettext_lazy("Will be tried again"),
    invoice_ninja.FAILED: gettext_lazy("Failed"),
    invoice_ninja.SUBSCRIPTION_DELETED: gettext_lazy("Subscription deleted"),
}

ApiView = Callable[..., HttpResponse]


def _json(data: object, *, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False, encoder=DecimalAsNumberEncoder)


def invoice_ninja_api(*methods: str) -> Callable[[ApiView], ApiView]:
    """An endpoint of the emulated API: a known X-API-TOKEN and X-Requested-With are required.

    The view receives the token (its company) after `request`; refusals are Invoice Ninja's JSON.
    """

    def decorate(view: ApiView) -> ApiView:
        @wraps(view)
        def endpoint(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            token = request.headers.get("X-API-TOKEN", "")
            if invoice_ninja.company_for_token(token) is None:
                return _json({"message": "Invalid token", "errors": {}}, status=403)
            if request.headers.get("X-Requested-With") != "XMLHttpRequest":
                return _json({"message": "X-Requested-With header is required", "errors": {}}, status=403)
            try:
                return view(request, token, *args, **kwargs)
            except invoice_ninja.ApiError as error:
                return _json(error.body, status=error.status)

        return login_not_required(csrf_exempt(never_cache(require_http_methods(methods)(endpoint))))

    return decorate


def _body(request: HttpRequest) -> object:
    # Floats as Decimal: an amount is never rounded on its way in.
    try:
        return json.loads(request.body or b"{}", parse_float=Decimal)
    except ValueError:
        raise invoice_ninja.ApiError(400, "The request body is not valid JSON") from None


def _site_url(request: HttpRequest) -> str:
    """Scheme and host the caller reached the sandbox by: the invitation links point there."""
    return f"{request.scheme}://{request.get_host()}"


def _trigger(request: HttpRequest, name: str) -> bool:
    return request.GET.get(name, "").lower() in TRUE_VALUES


def _page_number(request: HttpRequest, name: str, *, default: int, maximum: int | None = None) -> int:
    """A positive integer query parameter; anything else reads as the default, as Invoice Ninja's casts do."""
    value = request.GET.get(name, "")
    if not value.isdigit() or int(value) < 1:
        return default
    return min(int(value), maximum) if maximum else int(value)


def _item(document: dict) -> JsonResponse:
    return _json({"data": document})


def _list(request: HttpRequest, items: list[dict]) -> JsonResponse:
    """A page of `items` with Fractal's pagination meta; links name only pages that exist."""
    per_page = _page_number(request, "per_page", default=DEFAULT_PER_PAGE, maximum=MAX_PER_PAGE)
    page = _page_number(request, "page", default=1)
    total_pages = max(1, math.ceil(len(items) / per_page))
    shown = items[(page - 1) * per_page : page * per_page]
    links = {}
    if page > 1:
        links["previous"] = _page_url(request, page - 1)
    if page < total_pages:
        links["next"] = _page_url(request, page + 1)
    pagination = {
        "total": len(items), "count": len(shown), "per_page": per_page, "current_page": page,
        "total_pages": total_pages, "links": links,
    }  # fmt: skip
    return _json({"data": shown, "meta": {"pagination": pagination}})


def _page_url(request: HttpRequest, page: int) -> str:
    query = {**request.GET.dict(), "page": str(page)}
    return f"{request.build_absolute_uri(request.path)}?{urlencode(query)}"


# Clients, products, payments, webhooks


def _collection(kind: str, create: Callable[[str, object], dict]) -> ApiView:
    """GET (list) and POST (create) of one entity type."""

    @invoice_ninja_api("GET", "POST")
    def view(request: HttpRequest, token: str) -> JsonResponse:
        if request.method == "POST":
            return _item(create(token, _body(request)))
        return _list(request, invoice_ninja.find(token, kind, request.GET.dict()))

    return view


def _entity(kind: str, *methods: str, update: Callable[[str, str, object], dict] | None = None) -> ApiView:
    """GET, and PUT when `update` is given, of one entity by id."""

    @invoice_ninja_api(*methods)
    def view(request: HttpRequest, token: str, entity_id: str) -> JsonResponse:
        if request.method == "PUT" and update is not None:
            return _item(update(token, entity_id, _body(request)))
        return _item(invoice_ninja.get(token, kind, entity_id, request.GET.dict()))

    return view


clients = _collection("client", invoice_ninja.create_client)
client_detail = _entity("client", "GET", "PUT", update=invoice_ninja.update_client)
products = _collection("product", invoice_ninja.create_product)
product_detail = _entity("product", "GET", "PUT", update=invoice_ninja.update_product)
payments = _collection("payment", invoice_ninja.create_payment)
payment_detail = _entity("payment", "GET")
webhooks = _collection("webhook", invoice_ninja.create_webhook)


@invoice_ninja_api("GET", "PUT", "DELETE")
def webhook_detail(request: HttpRequest, token: str, entity_id: str) -> JsonResponse:
    if request.method == "DELETE":
        return _item(invoice_ninja.delete_webhook(token, entity_id))
    if request.method == "PUT":
        return _item(invoice_ninja.update_webhook(token, entity_id, _body(request)))
    return _item(invoice_ninja.get(token, "webhook", entity_id))


# Invoices and quotes


def _documents(kind: str) -> ApiView:
    @invoice_ninja_api("GET", "POST")
    def view(request: HttpRequest, token: str) -> JsonResponse:
        if request.method == "GET":
            return _list(request, invoice_ninja.find(token, kind, request.GET.dict()))
        document = invoice_ninja.create_document(
            token, kind, _body(request), site_url=_site_url(request), mark_sent=_trigger(request, "mark_sent"),
            send_email=_trigger(request, "send_email"),
        )  # fmt: skip
        # Lets an end-to-end test stop the Hub's worker while a stored document has not been answered yet.
        if delay := invoice_ninja.create_delay_seconds():
            time.sleep(delay)
        return _item(document)

    return view


def _document_detail(kind: str) -> ApiView:
    @invoice_ninja_api("GET", "PUT")
    def view(request: HttpRequest, token: str, entity_id: str) -> JsonResponse:
        if request.method == "GET":
            return _item(invoice_ninja.get(token, kind, entity_id, request.GET.dict()))
        document = invoice_ninja.update_document(
            token, kind, entity_id, _body(request), site_url=_site_url(request),
            mark_sent=_trigger(request, "mark_sent"), send_email=_trigger(request, "send_email"),
        )  # fmt: skip
        return _item(document)

    return view


def _document_action(kind: str) -> ApiView:
    @invoice_ninja_api("GET")
    def view(request: HttpRequest, token: str, entity_id: str, action: str) -> HttpResponse:
        if action == "download":
            document = invoice_ninja.get(token, kind, entity_id)
            response = HttpResponse(invoice_ninja.document_pdf(document), content_type="application/pdf")
            response["Content-Disposition"] = f'attachment; filename="{kind}-{document["number"]}.pdf"'
            return response
        result = invoice_ninja.perform_action(token, kind, entity_id, action, site_url=_site_url(request))
        if action == "email":
            # Invoice Ninja queues the e-mail and answers only that it did.
            return _json({"message": "email sent"})
        return _item(result)

    return view


invoices = _documents("invoice")
invoice_detail = _document_detail("invoice")
invoice_action = _document_action("invoice")
quotes = _documents("quote")
quote_detail = _document_detail("quote")
quote_action = _document_action("quote")


@invoice_ninja_api("POST")
def invoices_bulk(request: HttpRequest, token: str) -> JsonResponse:
    return _list(request, invoice_ninja.bulk_invoices(token, _body(request)))


@invoice_ninja_api("POST")
def emails(request: HttpRequest, token: str) -> JsonResponse:
    return _item(invoice_ninja.send_email(token, _body(request)))


# The sandbox's own page


@require_http_methods(["GET", "POST"])
def dashboard(request: HttpRequest) -> HttpResponse:
    """Every emulated company with its documents, payments, e-mails and webhooks; a payment can be recorded."""
    companies = [_company_panel(token) for token in invoice_ninja.tokens()]
    open_invoices = [
        (company["id"], invoice["id"], f"{company['name']} · {invoice['number']} · {invoice['client_name']} "
         f"({invoice['balance']})")
        for company in companies for invoice in company["invoices"] if invoice["payable"]
    ]  # fmt: skip
    form = RecordPaymentForm(request.POST or None, invoices=open_invoices)
    if request.method == "POST" and form.is_valid():
        company_id, invoice_id = form.cleaned_data["invoice"]
        try:
            payment = invoice_ninja.record_payment(
                _token_of(company_id), invoice_id=invoice_id, amount=form.cleaned_data["amount"],
                transaction_reference=form.cleaned_data["transaction_reference"],
            )  # fmt: skip
        except invoice_ninja.ApiError as error:
            form.add_error(None, _api_error_text(error))
        else:
            messages.success(request, _("Payment %(number)s recorded.") % {"number": payment["number"]})
            return redirect("sandbox:invoice-ninja-dashboard")
    return render(request, "sandbox/invoice_ninja_dashboard.html", {"companies": companies, "form": form})


@require_POST
def dashboard_approve_quote(request: HttpRequest) -> HttpResponse:
    """The "Approve" button of a sent quote: what the client does in Invoice Ninja's portal."""
    form = ApproveQuoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The quote to approve is missing."))
        return redirect("sandbox:invoice-ninja-dashboard")
    try:
        quote = invoice_ninja.approve_quote(_token_of(form.cleaned_data["company_id"]), form.cleaned_data["quote_id"])
    except invoice_ninja.ApiError as error:
        messages.error(request, _api_error_text(error))
    else:
        messages.success(request, _("Quote %(number)s approved.") % {"number": quote["number"]})
    return redirect("sandbox:invoice-ninja-dashboard")


def _token_of(company_id: str) -> str:
    """The token of a company: the page names companies by id, so that no token is written into it."""
    for token in invoice_ninja.tokens():
        if invoice_ninja.company_for_token(token)["id"] == company_id:
            return token
    return ""


def _company_panel(token: str) -> dict:
    company = invoice_ninja.company_for_token(token)
    clients = invoice_ninja.list_clients(token)
    client_names = {client["id"]: client["display_name"] for client in clients}
    return {
        **company,
        "clients": clients,
        "invoices": [_row("invoice", invoice, client_names) for invoice in invoice_ninja.list_invoices(token)],
        "quotes": [_row("quote", quote, client_names) for quote in invoice_ninja.list_quotes(token)],
        "payments": [
            {**payment, "client_name": client_names.get(payment["client_id"], "")}
            for payment in invoice_ninja.list_payments(token)
        ],
        "emails": [{**email, "sent": _moment(email["sent_at"])} for email in invoice_ninja.email_log(token)],
        "webhooks": invoice_ninja.list_webhooks(token),
        "deliveries": [
            {
                **delivery,
                "sent": _moment(delivery["sent_at"]),
                "outcome_label": DELIVERY_OUTCOME_LABELS[delivery["outcome"]],
            }
            for delivery in invoice_ninja.webhook_deliveries(token)[::-1][:DASHBOARD_DELIVERIES]
        ],
    }


def _moment(unix_seconds: int) -> datetime:
    return datetime.fromtimestamp(unix_seconds, tz=UTC)


def _row(kind: str, document: dict, client_names: dict[str, str]) -> dict:
    """A document with what the page shows beside it: client name, status in words, what can be done."""
    return {
        **document,
        "client_name": client_names.get(document["client_id"], ""),
        "status_label": STATUS_LABELS[kind].get(document["status_id"], document["status_id"]),
        "payable": kind == "invoice" and invoice_ninja.is_payable(document),
        "approvable": kind == "quote" and document["status_id"] == invoice_ninja.QUOTE_SENT,
    }


def _api_error_text(error: invoice_ninja.ApiError) -> str:
    details = [message for messages_of_field in error.body.get("errors", {}).values() for message in messages_of_field]
    return " ".join(details) or error.body["message"]


# The client portal


@login_not_required
@require_GET
def portal_invoice(request: HttpRequest, key: str) -> HttpResponse:
    return _portal(request, "invoice", key)


@login_not_required
@require_http_methods(["GET", "POST"])
def portal_quote(request: HttpRequest, key: str) -> HttpResponse:
    """A quote as its client sees it; a sent quote can be approved here."""
    if request.method == "POST":
        opened = invoice_ninja.open_invitation("quote", key)
        if opened is None:
            raise Http404
        try:
            invoice_ninja.approve_quote(opened["token"], opened["document"]["id"])
        except invoice_ninja.ApiError as error:
            messages.error(request, _api_error_text(error))
        else:
            messages.success(request, _("Thank you: the quote is approved."))
        return redirect("sandbox:invoice-ninja-portal-quote", key=key)
    return _portal(request, "quote", key)


def _portal(request: HttpRequest, kind: str, key: str) -> HttpResponse:
    opened = invoice_ninja.open_invitation(kind, key)
    if opened is None:
        raise Http404
    document = opened["document"]
    context = {
        **opened,
        "kind": kind,
        "status_label": STATUS_LABELS[kind].get(document["status_id"], document["status_id"]),
        "approvable": kind == "quote" and document["status_id"] == invoice_ninja.QUOTE_SENT,
    }
    return render(request, "sandbox/invoice_ninja_portal.html", context)
