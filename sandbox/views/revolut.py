"""HTTP face of the Revolut Business sandbox: the API paths of the real service, under /sandbox/revolut/."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import wraps
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from sandbox import revolut
from sandbox.encoding import DecimalAsNumberEncoder
from sandbox.forms import IncomingTransferForm

# Transactions per business shown on the sandbox's page.
DASHBOARD_TRANSACTIONS = 50
MAX_TRANSACTIONS_COUNT = 1000
MAX_COUNTERPARTIES_LIMIT = 1000

ApiView = Callable[..., HttpResponse]


def _json(data: object, *, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False, encoder=DecimalAsNumberEncoder)


def revolut_api(*methods: str) -> Callable[[ApiView], ApiView]:
    """An endpoint of the emulated API: a valid Bearer token is required, and refusals are Revolut's JSON.

    The view receives the client id of the business the token belongs to after `request`.
    """

    def decorate(view: ApiView) -> ApiView:
        @wraps(view)
        def endpoint(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
            client_id = revolut.client_id_for_access_token(token.strip()) if scheme.lower() == "bearer" else None
            if client_id is None:
                return _json({"message": "The request should be authorized.", "code": 1000}, status=401)
            if revolut.is_down():
                return _json({"message": "Internal server error", "code": 9000}, status=500)
            try:
                return view(request, client_id, *args, **kwargs)
            except revolut.ApiError as error:
                return _json(error.body, status=error.status)

        return login_not_required(csrf_exempt(never_cache(require_http_methods(methods)(endpoint))))

    return decorate


def _body(request: HttpRequest) -> object:
    # Floats as Decimal: an amount is never rounded on its way in.
    try:
        return json.loads(request.body or b"null", parse_float=Decimal)
    except ValueError:
        raise revolut.ApiError(400, 3000, "The request body is not valid JSON") from None


def _moment(request: HttpRequest, name: str) -> datetime | None:
    """A date or date-time query parameter, as an aware UTC moment (a date means its midnight UTC)."""
    value = request.GET.get(name, "")
    if not value:
        return None
    moment = parse_datetime(value)
    if moment is None and (day := parse_date(value)) is not None:
        moment = datetime.combine(day, datetime.min.time())
    if moment is None:
        raise revolut.ApiError(400, 3000, f"Parameter {name} must be a date or a date-time")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _bounded_int(request: HttpRequest, name: str, *, default: int, maximum: int) -> int:
    value = request.GET.get(name, "")
    if not value:
        return default
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise revolut.ApiError(400, 2101, f"{name} must be between 1 and {maximum}")
    return int(value)


# OAuth


@login_not_required
@require_http_methods(["GET", "POST"])
def app_confirm(request: HttpRequest) -> HttpResponse:
    """The consent page: the person connecting the Hub authorises it, and is sent back with a code."""
    params = request.POST if request.method == "POST" else request.GET
    consent = {name: params.get(name, "") for name in ("client_id", "redirect_uri", "response_type", "state")}
    problem = _consent_problem(consent)
    if problem:
        return render(request, "sandbox/revolut_consent.html", {"problem": problem, "consent": consent}, status=400)
    if request.method == "GET":
        return render(request, "sandbox/revolut_consent.html", {"consent": consent})
    code = revolut.authorize(consent["client_id"])
    answer = {"code": code, **({"state": consent["state"]} if consent["state"] else {})}
    return redirect(_with_query(consent["redirect_uri"], answer))


def _consent_problem(consent: dict[str, str]) -> str:
    if not consent["client_id"]:
        return _("The client_id parameter is missing.")
    if consent["response_type"] != "code":
        return _("The response_type parameter must be “code”.")
    if not consent["redirect_uri"].startswith(("https://", "http://")):
        return _("The redirect_uri parameter must be an http or https address.")
    return ""


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode([*parse_qsl(parts.query), *extra.items()])))


@login_not_required
@csrf_exempt
@never_cache
@require_POST
def token(request: HttpRequest) -> JsonResponse:
    try:
        return _json(revolut.grant_token(request.POST))
    except revolut.OAuthError as error:
        return _json({"error": "invalid_request", "error_description": error.description}, status=400)


# Business API v1


@revolut_api("GET")
def accounts(request: HttpRequest, client_id: str) -> JsonResponse:
    return _json(revolut.list_accounts(client_id))


@revolut_api("GET")
def counterparties(request: HttpRequest, client_id: str) -> JsonResponse:
    found = revolut.find_counterparties(
        client_id, name=request.GET.get("name", ""), iban=request.GET.get("iban", ""),
        created_before=_moment(request, "created_before"),
        limit=_bounded_int(request, "limit", default=100, maximum=MAX_COUNTERPARTIES_LIMIT),
    )  # fmt: skip
    return _json(found)


@revolut_api("POST")
def counterparty_create(request: HttpRequest, client_id: str) -> JsonResponse:
    return _json(revolut.create_counterparty(client_id, _body(request)))


@revolut_api("GET")
def counterparty_detail(request: HttpRequest, client_id: str, counterparty_id: str) -> JsonResponse:
    return _json(revolut.get_counterparty(client_id, counterparty_id))


@revolut_api("POST")
def pay(request: HttpRequest, client_id: str) -> JsonResponse:
    payment = revolut.create_payment(client_id, _body(request))
    # Lets an end-to-end test stop the Hub's worker while a recorded payment has not been answered yet.
    if delay := revolut.pay_delay_seconds():
        time.sleep(delay)
    return _json(payment)


@revolut_api("GET")
def transactions(request: HttpRequest, client_id: str) -> JsonResponse:
    found = revolut.list_transactions(
        client_id, since=_moment(request, "from"), until=_moment(request, "to"),
        count=_bounded_int(request, "count", default=100, maximum=MAX_TRANSACTIONS_COUNT),
        account_id=request.GET.get("account", ""), transaction_type=request.GET.get("type", ""),
        request_id=request.GET.get("request_id", ""),
    )  # fmt: skip
    return _json(found)


@revolut_api("GET")
def transaction_detail(request: HttpRequest, client_id: str, transaction_id: str) -> JsonResponse:
    by_request_id = request.GET.get("id_type") == "request_id"
    return _json(revolut.get_transaction(client_id, transaction_id, by_request_id=by_request_id))


@revolut_api("POST")
def sandbox_transaction_action(request: HttpRequest, client_id: str, transaction_id: str, action: str) -> JsonResponse:
    return _json(revolut.apply_sandbox_action(client_id, transaction_id, action))


@revolut_api("GET")
def rate(request: HttpRequest, client_id: str) -> JsonResponse:
    source, target = request.GET.get("from", ""), request.GET.get("to", "")
    if not source or not target:
        raise revolut.ApiError(400, 3000, "Parameters from and to are required")
    try:
        amount = Decimal(request.GET.get("amount") or "1")
    except InvalidOperation:
        raise revolut.ApiError(400, 3000, "Parameter amount must be a number") from None
    return _json(revolut.exchange_rate(source.upper(), target.upper(), amount))


# Webhooks API v2


@revolut_api("GET", "POST")
def webhooks(request: HttpRequest, client_id: str) -> JsonResponse:
    if request.method == "POST":
        return _json(revolut.register_webhook(client_id, _body(request)), status=201)
    return _json(revolut.list_webhooks(client_id))


@revolut_api("GET", "DELETE")
def webhook_detail(request: HttpRequest, client_id: str, webhook_id: str) -> HttpResponse:
    if request.method == "DELETE":
        revolut.delete_webhook(client_id, webhook_id)
        return HttpResponse(status=204)
    return _json(revolut.get_webhook(client_id, webhook_id))


# The sandbox's own page


@require_http_methods(["GET", "POST"])
def dashboard(request: HttpRequest) -> HttpResponse:
    """Every emulated business with its balances, transactions and webhooks; money can be sent to one."""
    client_ids = revolut.client_ids()
    form = IncomingTransferForm(request.POST or None, client_ids=client_ids)
    if request.method == "POST" and form.is_valid():
        try:
            transfer = revolut.inject_incoming_transfer(**form.cleaned_data)
        except ValueError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request, _("Incoming transfer %(id)s created; it settles in a few seconds.") % {"id": transfer["id"]}
            )
            return redirect("sandbox:revolut-dashboard")
    businesses = [
        {
            "client_id": client_id,
            "accounts": revolut.list_accounts(client_id),
            "transactions": revolut.list_transactions(client_id, count=DASHBOARD_TRANSACTIONS),
            "webhooks": revolut.list_webhooks(client_id),
        }
        for client_id in client_ids
    ]
    return render(request, "sandbox/revolut_dashboard.html", {"businesses": businesses, "form": form})
