"""Revolut Business API: OAuth with a signed client assertion, accounts, counterparties, payouts,
transactions, exchange rates, webhooks (v2) and the check of the webhooks' signatures.

Contract: the official OpenAPI spec (revolut-engineering/revolut-openapi, json/business.json) and
https://developer.revolut.com/docs/guides/manage-accounts/get-started/make-your-first-api-request
for the token endpoint, which the spec does not describe.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import jwt
import requests

from integrations.clients.base import BaseClient, PermanentProviderError

# Revolut rejects deliveries older than five minutes on its own verification page; refusing a
# timestamp further than that from now (either way) keeps a captured delivery from being replayed.
SIGNATURE_TOLERANCE_MS = 300_000
# A Unix time in milliseconds has 13 digits until the year 2286; more is not a timestamp.
TIMESTAMP_DIGITS = 15
# What Revolut subscribes a webhook to when no events are named: every transaction and its changes.
DEFAULT_EVENTS = ("TransactionCreated", "TransactionStateChanged")

ASSERTION_AUDIENCE = "https://revolut.com"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Lifetime of a client assertion: one is signed for each token call and sent at once, so a few minutes
# absorb clock drift and retries while a leaked assertion soon becomes useless (Revolut: "short expiry").
ASSERTION_LIFETIME = timedelta(minutes=5)
# Revolut truncates longer payment references; cutting them here keeps what is stored equal to what is sent.
REFERENCE_MAX_LENGTH = 140
# Items per page of the list endpoints: the most Revolut allows, so a sync needs the fewest calls.
MAX_PAGE_SIZE = 1000
# Revolut's error code for a payment whose request_id it has already accepted.
DUPLICATE_REQUEST_CODE = 3020
# How far back a payment is looked up by request_id: Revolut searches at most 14 days (ending now);
# a day less keeps a clock ahead of Revolut's from overstepping that limit.
DUPLICATE_LOOKUP_WINDOW = timedelta(days=13)


# Results -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    expires_in: int  # seconds
    refresh_token: str | None  # only the authorization-code exchange returns one
    token_type: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> TokenGrant:
        return cls(
            access_token=data["access_token"], expires_in=int(data["expires_in"]),
            refresh_token=data.get("refresh_token"), token_type=data.get("token_type", "bearer"),
        )  # fmt: skip


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    balance: Decimal
    currency: str
    state: str  # active, inactive
    public: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Account:
        return cls(
            id=data["id"], name=data.get("name", ""), balance=_decimal(data["balance"]), currency=data["currency"],
            state=data["state"], public=data["public"],
            created_at=_datetime(data["created_at"]), updated_at=_datetime(data["updated_at"]),
        )  # fmt: skip


@dataclass(frozen=True)
class CounterpartyAccount:
    id: str
    iban: str
    bic: str
    currency: str
    bank_country: str
    type: str  # revolut, external
    name: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> CounterpartyAccount:
        return cls(
            id=data["id"], iban=data.get("iban", ""), bic=data.get("bic", ""), currency=data["currency"],
            bank_country=data.get("bank_country", ""), type=data["type"], name=data.get("name", ""),
        )  # fmt: skip


@dataclass(frozen=True)
class Counterparty:
    id: str
    name: str
    state: str  # created, draft, deleted
    profile_type: str  # personal, business, or "" when Revolut omits it
    accounts: tuple[CounterpartyAccount, ...]

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Counterparty:
        return cls(
            id=data["id"], name=data["name"], state=data["state"], profile_type=data.get("profile_type", ""),
            accounts=tuple(CounterpartyAccount.from_api(account) for account in data.get("accounts", ())),
        )  # fmt: skip


@dataclass(frozen=True)
class PaymentResult:
    id: str
    state: str  # created, pending, completed, declined, failed, reverted
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> PaymentResult:
        return cls(
            id=data["id"], state=data["state"], created_at=_datetime(data["created_at"]),
            completed_at=_optional_datetime(data.get("completed_at")),
        )  # fmt: skip


@dataclass(frozen=True)
class TransactionLeg:
    leg_id: str
    account_id: str
    amount: Decimal  # negative for money leaving the account
    currency: str
    description: str
    counterparty_id: str  # "" when Revolut names no counterparty (card payments, inbound transfers)
    balance: Decimal | None  # the account's balance after the leg, when Revolut gives it

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> TransactionLeg:
        balance = data.get("balance")
        return cls(
            leg_id=data["leg_id"], account_id=data["account_id"], amount=_decimal(data["amount"]),
            currency=data["currency"], description=data.get("description", ""),
            counterparty_id=(data.get("counterparty") or {}).get("id", ""),
            balance=None if balance is None else _decimal(balance),
        )  # fmt: skip


@dataclass(frozen=True)
class Transaction:
    id: str
    type: str
    state: str
    request_id: str
    reference: str
    reason_code: str  # why it was declined or failed, else ""
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    legs: tuple[TransactionLeg, ...]
    raw: dict = field(repr=False, compare=False)  # the provider's object as received, for audit and replay

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Transaction:
        """Read a transaction of the API or the `data` of a TransactionCreated webhook (same shape)."""
        return cls(
            id=data["id"], type=data["type"], state=data["state"], request_id=data.get("request_id", ""),
            reference=data.get("reference", ""), reason_code=data.get("reason_code", ""),
            created_at=_datetime(data["created_at"]), updated_at=_datetime(data["updated_at"]),
            completed_at=_optional_datetime(data.get("completed_at")),
            legs=tuple(TransactionLeg.from_api(leg) for leg in data.get("legs", ())), raw=dict(data),
        )  # fmt: skip


@dataclass(frozen=True)
class WebhookRegistration:
    id: str
    url: str
    events: tuple[str, ...]
    signing_secret: str  # "" in list results: Revolut shows the secret only on creation and in the details

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> WebhookRegistration:
        return cls(
            id=data["id"], url=data["url"], events=tuple(data.get("events", ())),
            signing_secret=data.get("signing_secret", ""),
        )  # fmt: skip


@dataclass(frozen=True)
class Rate:
    from_currency: str
    to_currency: str
    rate: Decimal
    rate_date: date  # the UTC day of the response's rate_date

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Rate:
        return cls(
            from_currency=data["from"]["currency"], to_currency=data["to"]["currency"], rate=_decimal(data["rate"]),
            rate_date=_datetime(data["rate_date"]).astimezone(UTC).date(),
        )  # fmt: skip


# OAuth ---------------------------------------------------------------------------------------------


def client_assertion(*, client_id: str, issuer: str, private_key_pem: str, now: datetime | None = None) -> str:
    """Sign the JWT that authenticates the Hub at the token endpoint (RS256, with the uploaded certificate's key).

    `issuer` is the domain of the OAuth redirect URI; a full redirect URI is accepted and reduced to its host.
    """
    issued = now or datetime.now(UTC)
    claims = {
        "iss": urlsplit(issuer).hostname if "://" in issuer else issuer,
        "sub": client_id,
        "aud": ASSERTION_AUDIENCE,
        "exp": int((issued + ASSERTION_LIFETIME).timestamp()),
    }
    return jwt.encode(claims, private_key_pem, algorithm="RS256", headers={"typ": "JWT"})


def consent_url(consent_base_url: str, *, client_id: str, redirect_uri: str, state: str = "") -> str:
    """The page where a Revolut Business admin grants the Hub access; Revolut then redirects with ?code=."""
    query = {"client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code"}
    if state:
        query["state"] = state
    return f"{consent_base_url.rstrip('/')}/app-confirm?{urlencode(query)}"


# Client --------------------------------------------------------------------------------------------


class RevolutClient(BaseClient):
    provider = "revolut"

    def __init__(
        self, base_url: str, *, scope: str, access_token: str = "", session: requests.Session | None = None,
        on_outcome: Callable[[bool, str], None] | None = None,
    ) -> None:  # fmt: skip
        """`base_url` is the API v1 base, e.g. https://b2b.revolut.com/api/1.0 (webhooks v2 are found beside it)."""
        super().__init__(base_url, scope=scope, session=session, on_outcome=on_outcome)
        if not self.base_url.endswith("/1.0"):
            raise ValueError(f"Revolut base_url must be the API v1 base ending in /1.0, not {base_url!r}")
        self.access_token = access_token
        self.webhooks_base_url = self.base_url.removesuffix("/1.0") + "/2.0"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"} if self.access_token else {}

    def error_message(self, response: requests.Response) -> str:
        # API errors are {"code", "message"}; the token endpoint answers OAuth's {"error", "error_description"}.
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])[:300]
        if isinstance(body, dict) and body.get("error"):
            description = body.get("error_description")
            return (f"{description} ({body['error']})" if description else str(body["error"]))[:300]
        return super().error_message(response)

    # OAuth tokens: form-encoded, authenticated by the client assertion instead of a bearer token.
    def exchange_code(self, code: str, *, assertion: str) -> TokenGrant:
        """Trade the consent's authorization code (valid two minutes, single use) for the first tokens."""
        return self._token({"grant_type": "authorization_code", "code": code}, assertion=assertion, idempotent=False)

    def refresh_access_token(self, refresh_token: str, *, assertion: str) -> TokenGrant:
        """Get a new access token; the previous one stops working."""
        # The refresh token survives a refresh, so repeating a refresh whose answer was lost is harmless.
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._token(form, assertion=assertion, idempotent=True)

    def _token(self, form: dict[str, str], *, assertion: str, idempotent: bool) -> TokenGrant:
        form = {**form, "client_assertion_type": CLIENT_ASSERTION_TYPE, "client_assertion": assertion}
        response = self.request("POST", "auth/token", data=form, authenticated=False, idempotent=idempotent)
        return TokenGrant.from_api(response.data)

    # Accounts and counterparties.
    def accounts(self) -> list[Account]:
        return [Account.from_api(item) for item in self.request("GET", "accounts").data]

    def counterparties(self, *, iban: str | None = None, name: str | None = None) -> list[Counterparty]:
        """Every counterparty, or those with this IBAN or whose name contains `name`."""
        filters = {key: value for key, value in (("iban", iban), ("name", name)) if value}
        items = self._paginate_backwards("counterparties", filters, cursor_param="created_before", size_param="limit")
        return [Counterparty.from_api(item) for item in items]

    def counterparty_create(
        self, *, company_name: str, bank_country: str, currency: str, iban: str, bic: str = "",
        address: dict | None = None,
    ) -> Counterparty:  # fmt: skip
        """Create a business counterparty paid by IBAN; `bic` is required outside SEPA.

        Not retried: a repeated create would add a second counterparty.
        """
        body: dict[str, Any] = {
            "company_name": company_name, "bank_country": bank_country, "currency": currency, "iban": iban,
        }  # fmt: skip
        if bic:
            body["bic"] = bic
        if address:
            body["address"] = address
        return Counterparty.from_api(self.request("POST", "counterparty", json=body).data)

    # Payments and transactions.
    def pay(
        self, *, request_id: str, account_id: str, counterparty_id: str, counterparty_account_id: str,
        amount: Decimal, currency: str, reference: str,
    ) -> PaymentResult:  # fmt: skip
        """Send money to a counterparty's account.

        `request_id` (at most 40 characters) is Revolut's idempotency key: a repeat within two weeks pays
        nothing more, so the call is retried like a GET. Revolut refuses the repeat as a duplicate; the
        first payment is then looked up and returned, so a repeat answers like the original call.
        """
        body = {
            "request_id": request_id,
            "account_id": account_id,
            "receiver": {"counterparty_id": counterparty_id, "account_id": counterparty_account_id},
            "amount": _json_number(amount),
            "currency": currency,
            "reference": reference[:REFERENCE_MAX_LENGTH],
        }
        try:
            response = self.request("POST", "pay", json=body, idempotent=True)
        except PermanentProviderError as error:
            duplicate = error.code == DUPLICATE_REQUEST_CODE
            first_payment = self._transaction_by_request_id(request_id) if duplicate else None
            if first_payment is None:
                raise
            return PaymentResult(
                id=first_payment.id, state=first_payment.state, created_at=first_payment.created_at,
                completed_at=first_payment.completed_at,
            )  # fmt: skip
        return PaymentResult.from_api(response.data)

    def _transaction_by_request_id(self, request_id: str) -> Transaction | None:
        since = datetime.now(UTC) - DUPLICATE_LOOKUP_WINDOW
        response = self.request("GET", "transactions", params={"request_id": request_id, "from": _iso(since)})
        matches = [item for item in response.data or () if item.get("request_id") == request_id]
        return Transaction.from_api(matches[0]) if matches else None

    def transactions(
        self, *, since: datetime, until: datetime | None = None, account_id: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[Transaction]:  # fmt: skip
        """Every transaction created from `since` until `until` (exclusive, default now), newest first."""
        filters = {"from": _iso(since)}
        if account_id:
            filters["account"] = account_id
        items = self._paginate_backwards(
            "transactions", filters, cursor_param="to", size_param="count", page_size=page_size,
            first_cursor=_iso(until) if until else None,
        )  # fmt: skip
        return [Transaction.from_api(item) for item in items]

    def transaction(self, transaction_id: str) -> Transaction:
        return Transaction.from_api(self.request("GET", f"transaction/{quote(transaction_id, safe='')}").data)

    def rate(self, from_currency: str, to_currency: str) -> Rate:
        response = self.request("GET", "rate", params={"from": from_currency, "to": to_currency})
        return Rate.from_api(response.data)

    # Webhooks (API v2).
    def webhook_register(self, url: str, events: Iterable[str] = DEFAULT_EVENTS) -> WebhookRegistration:
        """Subscribe `url` (https) to `events`; the result carries the signing secret. Not retried: it would add one."""
        response = self.request("POST", f"{self.webhooks_base_url}/webhooks", json={"url": url, "events": list(events)})
        return WebhookRegistration.from_api(response.data)

    def webhooks(self) -> list[WebhookRegistration]:
        response = self.request("GET", f"{self.webhooks_base_url}/webhooks")
        return [WebhookRegistration.from_api(item) for item in response.data]

    def webhook_delete(self, webhook_id: str) -> None:
        try:
            self.request("DELETE", f"{self.webhooks_base_url}/webhooks/{quote(webhook_id, safe='')}")
        except PermanentProviderError as error:
            # A retried delete whose first attempt went through finds nothing: the webhook is gone either way.
            if error.status != 404:
                raise

    def _paginate_backwards(
        self, path: str, filters: Mapping[str, str], *, cursor_param: str, size_param: str,
        page_size: int = MAX_PAGE_SIZE, first_cursor: str | None = None,
    ) -> list[dict]:  # fmt: skip
        """Collect a newest-first list page by page, each page ending (exclusive) at the previous page's oldest item.

        Stops at a short page, or at a full page that brings nothing new (a provider ignoring the cursor).
        """
        found: dict[str, dict] = {}
        cursor = first_cursor
        while True:
            params = {**filters, size_param: page_size, **({cursor_param: cursor} if cursor else {})}
            page: list[dict] = self.request("GET", path, params=params).data or []
            new_items = [item for item in page if item["id"] not in found]
            found.update((item["id"], item) for item in new_items)
            if len(page) < page_size or not new_items:
                return list(found.values())
            cursor = page[-1]["created_at"]


# Webhook signatures ---------------------------------------------------------------------------------


class SignatureError(Exception):
    """A webhook delivery whose signature cannot be trusted; `reason` says why, in short English."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def sign_webhook(*, raw_body: bytes, timestamp: str, secret: str) -> str:
    """The Revolut-Signature value for a body sent at `timestamp` (milliseconds): "v1=" + HMAC-SHA256 in hex."""
    payload = b"v1." + timestamp.encode() + b"." + raw_body
    return "v1=" + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def verify_webhook_signature(
    *, raw_body: bytes, timestamp: str, signature_header: str, secrets: Sequence[str], now_ms: int | None = None
) -> None:
    """Accept the delivery if any of its v1 signatures matches any of the secrets, within the time tolerance.

    `timestamp` and `signature_header` are the Revolut-Request-Timestamp and Revolut-Signature headers;
    while a secret is being rotated Revolut signs with each active one and sends them comma-separated.
    Raises SignatureError.
    """
    if not timestamp or not signature_header:
        raise SignatureError("missing signature headers")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= TIMESTAMP_DIGITS):
        raise SignatureError("malformed timestamp")
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now_ms - int(timestamp)) > SIGNATURE_TOLERANCE_MS:
        raise SignatureError("timestamp outside the 5-minute tolerance")
    sent = [candidate.strip().encode() for candidate in signature_header.split(",")]
    for secret in filter(None, secrets):
        expected = sign_webhook(raw_body=raw_body, timestamp=timestamp, secret=secret).encode()
        if any(hmac.compare_digest(expected, candidate) for candidate in sent):
            return
    raise SignatureError("signature does not match")


# Parsing -------------------------------------------------------------------------------------------


def _decimal(number: int | float | str | Decimal) -> Decimal:
    # JSON numbers arrive as floats; str() gives the shortest text that reads back as the same float,
    # which is the provider's own text for every amount of up to 15 significant digits.
    return Decimal(str(number))


def _json_number(amount: Decimal) -> float:
    """The amount as a JSON number whose text is exactly the Decimal's value (JSON has no decimal type)."""
    number = float(amount)
    if Decimal(repr(number)) != amount:
        raise ValueError(f"{amount} has more digits than a JSON number can carry exactly")
    return number


def _datetime(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _optional_datetime(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _iso(moment: datetime) -> str:
    if moment.utcoffset() is None:
        raise ValueError("Revolut needs an aware datetime, not a naive one")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
