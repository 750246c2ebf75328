"""Revolut Business sandbox: a stateful stand-in for the API subset the Hub uses (DESIGN.md §7).

One emulated business per OAuth client id, created on the first consent given to that client id and
funded with SEED_ACCOUNTS. Payments follow Revolut's state machine: /pay answers `pending` and
debits the account at once (or records a `declined` payment when the balance is short); a Celery
task settles the payment SETTLE_SECONDS later to the state the receiving IBAN asks for (see
`settlement_for_iban`). Every new transaction and every state change is sent as a v2 webhook
(TransactionCreated / TransactionStateChanged) to the business's webhooks, signed like Revolut's.

Shapes follow specs/revolut-business-openapi.json and research/api-contracts.md §2. Amounts are kept
as Decimal strings in the store and written as JSON numbers.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import jwt
from celery import shared_task
from django.utils import timezone
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from integrations.clients.base import ProviderError
from integrations.clients.revolut import sign_webhook
from integrations.health import redis_client
from sandbox.encoding import compact_json
from sandbox.store import DocumentMissing, JsonStore
from sandbox.webhooks import post_webhook

KEY_PREFIX = "hv:sandbox:revolut"
store = JsonStore(KEY_PREFIX)
# Set by an end-to-end test only: seconds /pay waits after recording a payment, before answering.
PAY_DELAY_KEY = f"{KEY_PREFIX}:pay_delay_seconds"
# Set by the reliability suite only: while it holds, every API call answers 500 (Revolut down).
OUTAGE_KEY = f"{KEY_PREFIX}:outage"
BUSINESSES_SET = "businesses"

# The accounts a business starts with: (name, currency, balance).
SEED_ACCOUNTS = (
    ("Main CHF", "CHF", Decimal("250000.00")),
    ("EUR", "EUR", Decimal("40000.00")),
)

AUTHORIZATION_CODE_SECONDS = 120
ACCESS_TOKEN_SECONDS = 2400
# What the token response announces, one second under the real lifetime, as Revolut answers.
ACCESS_TOKEN_EXPIRES_IN = 2399
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLIENT_ASSERTION_AUDIENCE = "https://revolut.com"

# Seconds between /pay (or an injected transfer) and its settlement by the Celery task.
SETTLE_SECONDS = 2
# Revolut tries a failed delivery 3 more times (10 minutes apart); the sandbox waits seconds, not minutes,
# so that a demo or an end-to-end test sees the retries happen.
REVOLUT_WEBHOOK_RETRIES = 3
REVOLUT_WEBHOOK_RETRY_SECONDS = 10
# A payment to a counterparty IBAN ending in these digits settles to `reverted` or `failed`, not `completed`.
REVERTED_IBAN_SUFFIX = "0000"
FAILED_IBAN_SUFFIX = "0001"
# reason_code of a transaction declined or failed by the sandbox (Revolut documents no list of codes).
INSUFFICIENT_BALANCE = "insufficient_balance"
SANDBOX_REASON_CODES = {"declined": "declined_by_sandbox", "failed": "failed_by_sandbox"}

# Fixed sell rates of GET /rate: (from, to) → rate.
EXCHANGE_RATES = {
    ("EUR", "CHF"): Decimal("0.9372"),
    ("CHF", "EUR"): Decimal("1.0670"),
}

MAX_WEBHOOKS = 10
WEBHOOK_EVENTS = ("TransactionCreated", "TransactionStateChanged", "PayoutLinkCreated", "PayoutLinkStateChanged")
DEFAULT_WEBHOOK_EVENTS = ["TransactionCreated", "TransactionStateChanged"]

MAX_REQUEST_ID_LENGTH = 40
MAX_REFERENCE_LENGTH = 140
# States of /sandbox/transactions/{id}/{action}: action → (new state, states it may start from).
SANDBOX_ACTIONS = {
    "complete": ("completed", {"created", "pending"}),
    "decline": ("declined", {"created", "pending"}),
    "fail": ("failed", {"created", "pending"}),
    "revert": ("reverted", {"created", "pending", "completed"}),
}
# States in which a transaction's amount counts in the balance: money leaving is set aside as soon
# as the payment is accepted; money arriving is there only once the transfer completes.
DEBIT_HELD_STATES = {"created", "pending", "completed"}
CREDIT_HELD_STATES = {"completed"}
INJECTABLE_STATES = ("completed", "pending", "declined", "failed", "reverted")

CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")
BIC_PATTERN = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")
ADDRESS_FIELDS = ("street_line1", "street_line2", "region", "city", "country", "postcode")


class ApiError(Exception):
    """A refusal of the emulated API, answered as Revolut's `{"message", "code"}` body."""

    def __init__(self, status: int, code: int, message: str, **extra: Any) -> None:
        self.status = status
        self.body = {"message": message, "code": code, **extra}
        super().__init__(message)


class OAuthError(Exception):
    """A refused token request, answered as `{"error": "invalid_request", "error_description"}`."""

    def __init__(self, description: str) -> None:
        self.description = description
        super().__init__(description)


def _bad_request(message: str) -> ApiError:
    return ApiError(400, 3000, message)


def _not_found(message: str) -> ApiError:
    return ApiError(404, 3006, message)


# Businesses


def _new_business(client_id: str) -> dict:
    created_at = _timestamp()
    accounts = [
        {
            "id": str(uuid.uuid4()),
            "name": name,
            "balance": str(balance),
            "currency": currency,
            "state": "active",
            "public": False,
            "created_at": created_at,
            "updated_at": created_at,
        }
        for name, currency, balance in SEED_ACCOUNTS
    ]
    return {
        "client_id": client_id, "created_at": created_at, "accounts": accounts,
        "counterparties": [], "transactions": [], "webhooks": [],
    }  # fmt: skip


def _locked_business(client_id: str) -> AbstractContextManager[dict]:
    return store.update(f"business:{client_id}")


def get_business(client_id: str) -> dict | None:
    """The stored document of a business (amounts as strings), or None."""
    return store.get(f"business:{client_id}")


def client_ids() -> list[str]:
    return store.set_members(BUSINESSES_SET)


def _ensure_business(client_id: str) -> None:
    store.put_new(f"business:{client_id}", _new_business(client_id))
    store.add_to_set(BUSINESSES_SET, client_id)


# OAuth


def authorize(client_id: str) -> str:
    """Record the consent given to `client_id` (its business is made on the first) and return a 2-minute code."""
    _ensure_business(client_id)
    code = f"oa_sand_{secrets.token_urlsafe(32)}"
    store.put(f"code:{code}", {"client_id": client_id}, ttl_seconds=AUTHORIZATION_CODE_SECONDS)
    return code


def grant_token(form: Mapping[str, str]) -> dict:
    """Answer POST /auth/token for grant_type authorization_code or refresh_token; raises OAuthError."""
    grant_type = form.get("grant_type", "")
    if grant_type == "authorization_code":
        return _exchange_code(form)
    if grant_type == "refresh_token":
        return _refresh(form)
    raise OAuthError(f"Unsupported grant_type '{grant_type}'")


def _exchange_code(form: Mapping[str, str]) -> dict:
    code_name = f"code:{form.get('code', '')}"
    grant = store.get(code_name)
    if grant is None:
        raise OAuthError("The authorization code is invalid or has expired")
    _check_client_assertion(form, client_id=grant["client_id"])
    # Taken only now, so a request with a faulty assertion does not burn the code; and taken atomically,
    # so two concurrent exchanges of one code cannot both succeed.
    if store.pop(code_name) is None:
        raise OAuthError("The authorization code is invalid or has expired")
    access_token = _issue_access_token(grant["client_id"])
    refresh_token = f"oa_sand_{secrets.token_urlsafe(32)}"
    store.put(f"refresh:{refresh_token}", {"client_id": grant["client_id"], "access_token": access_token})
    return {
        "access_token": access_token, "token_type": "bearer", "expires_in": ACCESS_TOKEN_EXPIRES_IN,
        "refresh_token": refresh_token,
    }  # fmt: skip


def _refresh(form: Mapping[str, str]) -> dict:
    try:
        with store.update(f"refresh:{form.get('refresh_token', '')}") as grant:
            _check_client_assertion(form, client_id=grant["client_id"])
            # Refreshing ends the access token issued before, as Revolut does.
            store.delete(f"access:{grant['access_token']}")
            grant["access_token"] = _issue_access_token(grant["client_id"])
    except DocumentMissing:
        raise OAuthError("The refresh token is invalid") from None
    return {"access_token": grant["access_token"], "token_type": "bearer", "expires_in": ACCESS_TOKEN_EXPIRES_IN}


def _issue_access_token(client_id: str) -> str:
    token = f"oa_sand_{secrets.token_urlsafe(32)}"
    store.put(f"access:{token}", {"client_id": client_id}, ttl_seconds=ACCESS_TOKEN_SECONDS)
    return token


def _check_client_assertion(form: Mapping[str, str], *, client_id: str) -> None:
    """Check the client-assertion JWT as Revolut does, except its signature: no certificate is uploaded here."""
    if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
        raise OAuthError(f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}")
    assertion = form.get("client_assertion", "")
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise OAuthError(f"Invalid client_assertion: {error}") from None
    if header.get("alg") != "RS256":
        raise OAuthError("The client_assertion must be signed with RS256")
    if claims.get("aud") != CLIENT_ASSERTION_AUDIENCE:
        raise OAuthError(f"The client_assertion audience must be {CLIENT_ASSERTION_AUDIENCE}")
    if claims.get("sub") != client_id:
        raise OAuthError("The client_assertion subject is not the client id of this grant")
    if not claims.get("iss"):
        raise OAuthError("The client_assertion has no issuer")
    expiry = claims.get("exp")
    if isinstance(expiry, bool) or not isinstance(expiry, int | float):
        raise OAuthError("The client_assertion has no expiry time")
    if expiry <= time.time():
        raise OAuthError(f"The Token has expired on {_timestamp(datetime.fromtimestamp(expiry, tz=UTC))}.")


def client_id_for_access_token(access_token: str) -> str | None:
    """The business an unexpired access token was issued to, or None."""
    grant = store.get(f"access:{access_token}") if access_token else None
    return grant["client_id"] if grant else None


# Accounts and exchange rates


def list_accounts(client_id: str) -> list[dict]:
    business = get_business(client_id) or {"accounts": []}
    return [{**account, "balance": Decimal(account["balance"])} for account in business["accounts"]]


def exchange_rate(source: str, target: str, amount: Decimal) -> dict:
    rate = Decimal(1) if source == target else EXCHANGE_RATES.get((source, target))
    if rate is None:
        raise ApiError(404, 3472, "Exchange rate unknown")
    return {
        "from": {"amount": amount, "currency": source},
        "to": {"amount": (amount * rate).quantize(Decimal("0.01")), "currency": target},
        "rate": rate,
        "fee": {"amount": Decimal(0), "currency": source},
        "rate_date": timezone.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


# Counterparties


def create_counterparty(client_id: str, payload: Any) -> dict:
    """POST /counterparty for a bank (IBAN) counterparty of a company or a person."""
    if not isinstance(payload, dict):
        raise _bad_request("The request body must be a JSON object")
    name, profile_type = _counterparty_name(payload)
    bank_country = _required_text(payload, "bank_country")
    currency = _required_text(payload, "currency")
    if not COUNTRY_PATTERN.match(bank_country):
        raise _bad_request(f"'{bank_country}' is not a valid bank_country")
    if not CURRENCY_PATTERN.match(currency):
        raise _bad_request(f"'{currency}' is not a valid currency")
    raw_iban = _required_text(payload, "iban")
    try:
        iban = IBAN(raw_iban).compact
    except SchwiftyException:
        raise _bad_request(f"{raw_iban} is not a valid IBAN") from None
    if iban[:2] != bank_country:
        raise _bad_request(f"The IBAN {iban} is not of bank_country {bank_country}")
    account = {"id": str(uuid.uuid4()), "name": name, "bank_country": bank_country, "currency": currency}
    account |= {"type": "external", "iban": iban}
    if bic := str(payload.get("bic") or "").replace(" ", "").upper():
        if not BIC_PATTERN.match(bic):
            raise _bad_request(f"{bic} is not a valid BIC")
        account["bic"] = bic
    if isinstance(payload.get("address"), dict):
        account["address"] = {key: str(payload["address"][key]) for key in ADDRESS_FIELDS if key in payload["address"]}
    created_at = _timestamp()
    counterparty = {
        "id": str(uuid.uuid4()), "name": name, "profile_type": profile_type, "state": "created",
        "created_at": created_at, "updated_at": created_at, "accounts": [account],
    }  # fmt: skip
    with _locked_business(client_id) as business:
        for existing in business["counterparties"]:
            if any(a.get("iban") == iban and a["currency"] == currency for a in existing["accounts"]):
                params = {"counterparty_id": existing["id"]}
                raise ApiError(422, 3012, "This counterparty already exists", params=params)
        business["counterparties"].append(counterparty)
    return counterparty


def _counterparty_name(payload: dict) -> tuple[str, str]:
    if payload.get("company_name"):
        company_name = str(payload["company_name"]).strip()
        if sum(character.isalpha() for character in company_name) < 2:
            raise _bad_request("company_name must contain at least 2 letters")
        return company_name, "business"
    person = payload.get("individual_name")
    if isinstance(person, dict) and person.get("first_name") and person.get("last_name"):
        return f"{person['first_name']} {person['last_name']}".strip(), "personal"
    raise _bad_request("Required 'company_name' or 'individual_name' is missing")


def find_counterparties(
    client_id: str, *, name: str = "", iban: str = "", created_before: datetime | None = None, limit: int = 100
) -> list[dict]:
    """GET /counterparties: newest first, optionally by partial name or exact IBAN."""
    business = get_business(client_id) or {"counterparties": []}
    wanted_iban = iban.replace(" ", "").upper()
    found = [
        counterparty
        for counterparty in reversed(business["counterparties"])
        if (not name or name.lower() in counterparty["name"].lower())
        and (not wanted_iban or any(account.get("iban") == wanted_iban for account in counterparty["accounts"]))
        and (created_before is None or datetime.fromisoformat(counterparty["created_at"]) < created_before)
    ]
    return found[:limit]


def get_counterparty(client_id: str, counterparty_id: str) -> dict:
    business = get_business(client_id) or {"counterparties": []}
    for counterparty in business["counterparties"]:
        if counterparty["id"] == counterparty_id:
            return counterparty
    raise _not_found("Counterparty not found")


# Payments and transactions


def create_payment(client_id: str, payload: Any) -> dict:
    """POST /pay: a new transfer (pending, or declined when the balance is short), or the one of its request_id."""
    if not isinstance(payload, dict):
        raise _bad_request("The request body must be a JSON object")
    request_id = _required_text(payload, "request_id")
    if len(request_id) > MAX_REQUEST_ID_LENGTH:
        raise _bad_request(f"request_id must be at most {MAX_REQUEST_ID_LENGTH} characters")
    account_id = _required_text(payload, "account_id")
    receiver = payload.get("receiver")
    if not isinstance(receiver, dict) or not receiver.get("counterparty_id"):
        raise _bad_request("Required 'receiver.counterparty_id' is missing")
    amount = _positive_amount(payload.get("amount"))
    currency = _required_text(payload, "currency")
    reference = str(payload.get("reference") or "")[:MAX_REFERENCE_LENGTH]
    with _locked_business(client_id) as business:
        for existing in business["transactions"]:
            if existing.get("request_id") == request_id:
                # Revolut's idempotency: the same request_id never pays twice.
                return _transfer_response(existing)
        account = _account(business, account_id)
        if account["currency"] != currency:
            raise _bad_request(f"The currency {currency} is not the currency of account {account_id}")
        counterparty = _counterparty(business, str(receiver["counterparty_id"]))
        counterparty_account = _counterparty_account(counterparty, receiver.get("account_id"), currency)
        receiving = {"id": counterparty["id"], "account_type": "external", "account_id": counterparty_account["id"]}
        transaction = _new_transaction(
            account=account, amount=-amount, reference=reference, request_id=request_id, counterparty=receiving,
            description=f"To {counterparty['name']}",
            settles_to=settlement_for_iban(counterparty_account.get("iban", "")),
        )  # fmt: skip
        if amount > Decimal(account["balance"]):
            _set_state(business, transaction, "declined", reason_code=INSUFFICIENT_BALANCE)
        else:
            _set_state(business, transaction, "pending")
        business["transactions"].append(transaction)
        deliveries = _deliveries(business, [_created_event(transaction)])
    _send(deliveries)
    if transaction["state"] == "pending":
        _schedule_settlement(client_id, transaction["id"])
    return _transfer_response(transaction)


def settlement_for_iban(iban: str) -> str:
    """The state a pending payment to this IBAN settles to: the sandbox's way to test bounced payments."""
    if iban.endswith(REVERTED_IBAN_SUFFIX):
        return "reverted"
    if iban.endswith(FAILED_IBAN_SUFFIX):
        return "failed"
    return "completed"


def is_down() -> bool:
    return bool(redis_client().exists(OUTAGE_KEY))


def pay_delay_seconds() -> float:
    raw = redis_client().get(PAY_DELAY_KEY)
    return float(raw) if raw else 0.0


def inject_incoming_transfer(
    *, client_id: str, currency: str, amount: Decimal, reference: str, payer_name: str, payer_iban: str = "",
    state: str = "completed",
) -> dict:  # fmt: skip
    """Make money arrive on the business's account in `currency`, as a payer's bank transfer would.

    The transfer is created `pending` (TransactionCreated is sent), then the settle task moves it to
    `state` after SETTLE_SECONDS (TransactionStateChanged), crediting the account if it completes.
    `state="pending"` leaves it pending, to be driven by /sandbox/transactions/{id}/{action}.
    Returns the transaction as the API shows it; raises ValueError for an impossible transfer.
    """
    if state not in INJECTABLE_STATES:
        raise ValueError(f"state must be one of {', '.join(INJECTABLE_STATES)}")
    amount = Decimal(amount)
    if amount <= 0 or amount.as_tuple().exponent < -2:
        raise ValueError("amount must be positive, with at most 2 decimals")
    try:
        with _locked_business(client_id) as business:
            account = next((a for a in business["accounts"] if a["currency"] == currency), None)
            if account is None:
                raise ValueError(f"The business of client id {client_id} has no {currency} account")
            transaction = _new_transaction(
                account=account, amount=amount, reference=reference[:MAX_REFERENCE_LENGTH], request_id=None,
                counterparty={"account_type": "external"}, description=f"Payment from {payer_name}",
                settles_to=state, payer={"name": payer_name, "iban": payer_iban},
            )  # fmt: skip
            _set_state(business, transaction, "pending")
            business["transactions"].append(transaction)
            deliveries = _deliveries(business, [_created_event(transaction)])
    except DocumentMissing:
        raise ValueError(f"No sandbox business has client id {client_id}: give consent to it first") from None
    _send(deliveries)
    if state != "pending":
        _schedule_settlement(client_id, transaction["id"])
    return transaction_out(transaction)


def settle_transaction(*, client_id: str, transaction_id: str) -> str | None:
    """Move a pending transaction to the state it settles to; returns that state, or None if it was not pending.

    A transaction already moved by hand (/sandbox/transactions/...) is left as it is.
    """
    with _locked_business(client_id) as business:
        transaction = _find_transaction(business, transaction_id)
        if transaction is None or transaction["state"] != "pending":
            return None
        new_state = transaction["sandbox"]["settles_to"]
        if new_state == "pending":
            return None
        event = _set_state(business, transaction, new_state, reason_code=SANDBOX_REASON_CODES.get(new_state))
        deliveries = _deliveries(business, [event])
    _send(deliveries)
    return new_state


def apply_sandbox_action(client_id: str, transaction_id: str, action: str) -> dict:
    """POST /sandbox/transactions/{id}/{action}: drive a transaction's state by hand, like Revolut's sandbox."""
    if action not in SANDBOX_ACTIONS:
        raise _bad_request(f"Unknown action '{action}': use one of {', '.join(SANDBOX_ACTIONS)}")
    new_state, from_states = SANDBOX_ACTIONS[action]
    with _locked_business(client_id) as business:
        transaction = _find_transaction(business, transaction_id)
        if transaction is None:
            raise _not_found("Transaction not found")
        if transaction["state"] not in from_states:
            raise _bad_request(f"A {transaction['state']} transaction cannot be changed with '{action}'")
        event = _set_state(business, transaction, new_state, reason_code=SANDBOX_REASON_CODES.get(new_state))
        deliveries = _deliveries(business, [event])
    _send(deliveries)
    return _transfer_response(transaction)


def list_transactions(
    client_id: str, *, since: datetime | None = None, until: datetime | None = None, count: int = 100,
    account_id: str = "", transaction_type: str = "", request_id: str = "",
) -> list[dict]:  # fmt: skip
    """GET /transactions: newest first, created in [since, until) (until defaults to now)."""
    until = until or timezone.now()
    business = get_business(client_id) or {"transactions": []}
    found = []
    for transaction in reversed(business["transactions"]):
        created_at = datetime.fromisoformat(transaction["created_at"])
        if (
            created_at < until
            and (since is None or created_at >= since)
            and (not account_id or any(leg["account_id"] == account_id for leg in transaction["legs"]))
            and (not transaction_type or transaction["type"] == transaction_type)
            and (not request_id or transaction.get("request_id") == request_id)
        ):
            found.append(transaction_out(transaction))
    return found[:count]


def get_transaction(client_id: str, transaction_id: str, *, by_request_id: bool = False) -> dict:
    business = get_business(client_id) or {"transactions": []}
    field = "request_id" if by_request_id else "id"
    for transaction in business["transactions"]:
        if transaction.get(field) == transaction_id:
            return transaction_out(transaction)
    raise _not_found("Transaction not found")


def _new_transaction(
    *, account: dict, amount: Decimal, reference: str, request_id: str | None, counterparty: dict,
    description: str, settles_to: str, payer: dict | None = None,
) -> dict:  # fmt: skip
    created_at = _timestamp()
    transaction_id = str(uuid.uuid4())
    transaction: dict[str, Any] = {"id": transaction_id, "type": "transfer", "state": None}
    if request_id is not None:
        transaction["request_id"] = request_id
    transaction |= {"created_at": created_at, "updated_at": created_at, "reference": reference}
    leg = {"leg_id": transaction_id, "account_id": account["id"], "counterparty": counterparty}
    leg |= {"amount": str(amount), "currency": account["currency"], "description": description}
    transaction["legs"] = [leg]
    # Sandbox bookkeeping, never shown by the API.
    transaction["sandbox"] = {"settles_to": settles_to, **({"payer": payer} if payer else {})}
    return transaction


def _set_state(business: dict, transaction: dict, new_state: str, *, reason_code: str | None = None) -> dict:
    """Change the state, move the balance accordingly, and return the TransactionStateChanged event."""
    old_state = transaction["state"]
    now = _timestamp()
    for leg in transaction["legs"]:
        account = _account(business, leg["account_id"])
        amount = Decimal(leg["amount"])
        delta = amount * (_counts_in_balance(amount, new_state) - _counts_in_balance(amount, old_state))
        if delta:
            account["balance"] = str(Decimal(account["balance"]) + delta)
            account["updated_at"] = now
        leg["balance"] = account["balance"]
    transaction["state"] = new_state
    transaction["updated_at"] = now
    if reason_code:
        transaction["reason_code"] = reason_code
    if new_state == "completed":
        transaction["completed_at"] = now
    data = {"id": transaction["id"], "new_state": new_state, "old_state": old_state}
    if "request_id" in transaction:
        data["request_id"] = transaction["request_id"]
    return {"data": data, "event": "TransactionStateChanged", "timestamp": now}


def _counts_in_balance(amount: Decimal, state: str | None) -> int:
    held_states = DEBIT_HELD_STATES if amount < 0 else CREDIT_HELD_STATES
    return 1 if state in held_states else 0


def _created_event(transaction: dict) -> dict:
    return {"event": "TransactionCreated", "timestamp": _timestamp(), "data": transaction_out(transaction)}


def transaction_out(transaction: dict) -> dict:
    """A stored transaction as the API shows it: amounts as Decimal, no sandbox bookkeeping."""
    shown = {key: value for key, value in transaction.items() if key != "sandbox"}
    shown["legs"] = [
        {**leg, "amount": Decimal(leg["amount"]), **({"balance": Decimal(leg["balance"])} if "balance" in leg else {})}
        for leg in transaction["legs"]
    ]
    return shown


def _transfer_response(transaction: dict) -> dict:
    response = {"id": transaction["id"], "state": transaction["state"], "created_at": transaction["created_at"]}
    if "completed_at" in transaction:
        response["completed_at"] = transaction["completed_at"]
    return response


def _find_transaction(business: dict, transaction_id: str) -> dict | None:
    return next((t for t in business["transactions"] if t["id"] == transaction_id), None)


def _account(business: dict, account_id: str) -> dict:
    for account in business["accounts"]:
        if account["id"] == account_id:
            return account
    raise _not_found(f"Account {account_id} not found")


def _counterparty(business: dict, counterparty_id: str) -> dict:
    for counterparty in business["counterparties"]:
        if counterparty["id"] == counterparty_id:
            return counterparty
    raise _not_found(f"Counterparty {counterparty_id} not found")


def _counterparty_account(counterparty: dict, account_id: Any, currency: str) -> dict:
    accounts = counterparty["accounts"]
    if account_id:
        found = next((a for a in accounts if a["id"] == account_id), None)
        if found is None:
            raise _not_found(f"Counterparty account {account_id} not found")
        return found
    found = next((a for a in accounts if a["currency"] == currency), None)
    if found is None:
        raise _bad_request("Required 'receiver.account_id' is missing")
    return found


def _positive_amount(value: Any) -> Decimal:
    # Request bodies are parsed with Decimal for floats, so an amount is never rounded on the way in.
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _bad_request("Required 'amount' is missing or not a number")
    amount = Decimal(value)
    if not amount.is_finite() or amount <= 0:
        raise _bad_request("amount must be positive")
    if amount.as_tuple().exponent < -2:
        raise _bad_request("amount must have at most 2 decimals")
    return amount


def _required_text(payload: dict, name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _bad_request(f"Required '{name}' is missing")
    return value.strip()


# Webhooks


def register_webhook(client_id: str, payload: Any) -> dict:
    """POST /api/2.0/webhooks. Plain http URLs are accepted too: the demo Hub is not always behind https."""
    if not isinstance(payload, dict) or not isinstance(payload.get("url"), str) or not payload["url"]:
        raise _bad_request("Required 'url' is missing")
    url = payload["url"]
    if not url.startswith(("https://", "http://")):
        raise _bad_request(f"{url} is not a valid webhook URL")
    events = payload.get("events", DEFAULT_WEBHOOK_EVENTS)
    if not isinstance(events, list) or not events or any(event not in WEBHOOK_EVENTS for event in events):
        raise _bad_request(f"events must be a list of {', '.join(WEBHOOK_EVENTS)}")
    with _locked_business(client_id) as business:
        if len(business["webhooks"]) >= MAX_WEBHOOKS:
            raise ApiError(
                422, 3352, f"Owner [ownerId={client_id},ownerType=BUSINESS] already has {MAX_WEBHOOKS} webhooks. "
                f"Only {MAX_WEBHOOKS} are allowed.",
            )  # fmt: skip
        webhook = {"id": str(uuid.uuid4()), "url": url, "events": list(events), "signing_secret": _signing_secret()}
        business["webhooks"].append(webhook)
    return webhook


def list_webhooks(client_id: str) -> list[dict]:
    business = get_business(client_id) or {"webhooks": []}
    return [{key: webhook[key] for key in ("id", "url", "events")} for webhook in business["webhooks"]]


def get_webhook(client_id: str, webhook_id: str) -> dict:
    business = get_business(client_id) or {"webhooks": []}
    for webhook in business["webhooks"]:
        if webhook["id"] == webhook_id:
            return webhook
    raise ApiError(404, 3040, "Webhook not found")


def delete_webhook(client_id: str, webhook_id: str) -> None:
    with _locked_business(client_id) as business:
        remaining = [webhook for webhook in business["webhooks"] if webhook["id"] != webhook_id]
        if len(remaining) == len(business["webhooks"]):
            raise ApiError(404, 3040, "Webhook not found")
        business["webhooks"] = remaining


def webhook_headers(raw_body: bytes, signing_secret: str) -> dict[str, str]:
    """The headers of one delivery attempt, signed at the time of sending as Revolut does."""
    timestamp = str(int(time.time() * 1000))
    return {
        "Revolut-Request-Timestamp": timestamp,
        "Revolut-Signature": sign_webhook(raw_body=raw_body, timestamp=timestamp, secret=signing_secret),
    }


def _signing_secret() -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "wsk_" + "".join(secrets.choice(alphabet) for _ in range(32))


def _deliveries(business: dict, events: list[dict]) -> list[tuple[str, str, str]]:
    """(client id, webhook id, body) of each webhook subscribed to each event, bodies encoded once.

    A delivery names its webhook rather than carrying its URL and signing secret: Celery messages and the
    worker's logs then hold no secret, and a webhook deleted meanwhile is not called.
    """
    deliveries = []
    for event in events:
        body = compact_json(event).decode()
        deliveries += [
            (business["client_id"], webhook["id"], body)
            for webhook in business["webhooks"]
            if event["event"] in webhook["events"]
        ]
    return deliveries


def _send(deliveries: list[tuple[str, str, str]]) -> None:
    for client_id, webhook_id, body in deliveries:
        deliver_revolut_webhook.delay(client_id, webhook_id, body)


def _schedule_settlement(client_id: str, transaction_id: str) -> None:
    settle_revolut_transaction.apply_async((client_id, transaction_id), countdown=SETTLE_SECONDS)


# Celery tasks: what the emulated Revolut does after answering a request (listed by `sandbox.tasks`).


@shared_task(name="sandbox.tasks.settle_revolut_transaction", ignore_result=True)
def settle_revolut_transaction(client_id: str, transaction_id: str) -> None:
    """Settle a pending Revolut sandbox transaction, SETTLE_SECONDS after it was created."""
    settle_transaction(client_id=client_id, transaction_id=transaction_id)


@shared_task(
    name="sandbox.tasks.deliver_revolut_webhook", bind=True, ignore_result=True, max_retries=REVOLUT_WEBHOOK_RETRIES
)
def deliver_revolut_webhook(self, client_id: str, webhook_id: str, body: str) -> None:
    """POST one webhook body to the Hub, signed afresh on each attempt with the webhook's current secret."""
    try:
        webhook = get_webhook(client_id, webhook_id)
    except ApiError:
        return  # deleted since the event: Revolut no longer calls it
    raw_body = body.encode()
    try:
        post_webhook(webhook["url"], raw_body, webhook_headers(raw_body, webhook["signing_secret"]), sandbox="revolut")
    except ProviderError as error:
        raise self.retry(exc=error, countdown=REVOLUT_WEBHOOK_RETRY_SECONDS) from error


def _timestamp(moment: datetime | None = None) -> str:
    """ISO 8601 in UTC with microseconds and `Z`, as Revolut writes its times."""
    return (moment or timezone.now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
