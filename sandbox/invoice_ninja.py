"""Invoice Ninja v5 sandbox: a stateful stand-in for the API subset the Hub uses (DESIGN.md §7).

One emulated company per API token (`ensure_company` provisions one), kept as one JSON document:
its clients, products, invoices, quotes, payments and webhook subscriptions, the e-mails it "sent"
and the webhook deliveries it attempted. Amounts are computed as Invoice Ninja computes them with
exclusive taxes: per line, rounded half-up to the centime (`_compute_totals`, after the current
InvoiceItemSum.php, which rounds a percent discount once with its line). Statuses, numbering,
the contact rule of PUT /clients and the webhook events follow research/api-contracts.md §1 and
specs/invoiceninja-v5-openapi.yaml.

Webhooks go out as app/Jobs/Util/WebhookSingle.php sends them: the bare entity (no envelope, no event
id, no signature) to every subscription of the event, one Celery task per delivery
(`deliver_invoice_ninja_webhook`; `settle_delivery` holds the rules for the receiver's answer).
An operation renders its event bodies from the state it leaves, as Invoice Ninja's queued job reads
the entity afresh; the sandbox sends at once where Invoice Ninja delays create_payment by ~20 s.

Where the sandbox is narrower than Invoice Ninja it refuses instead of computing something else:
inclusive taxes and invoice-level discounts or taxes are answered 422. Numbers (amounts, quantities,
rates) are kept as Decimal strings in the store and written as JSON numbers.
"""

from __future__ import annotations

import copy
import re
import secrets
import string
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from celery import shared_task
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.urls import reverse
from django.utils import timezone

from integrations.clients.base import ProviderError
from integrations.health import redis_client
from sandbox.encoding import compact_json
from sandbox.store import DocumentMissing, JsonStore
from sandbox.webhooks import SandboxWebhookSender

KEY_PREFIX = "hv:sandbox:invoice_ninja"
store = JsonStore(KEY_PREFIX)
# Set by an end-to-end test only: seconds POST /invoices and /quotes wait after storing, before answering.
CREATE_DELAY_KEY = f"{KEY_PREFIX}:create_delay_seconds"
COMPANIES_SET = "companies"

# Invoice Ninja's hashed ids look like "VolejRejNm"; invitation keys are config('ninja.key_length') long.
ID_LENGTH = 10
INVITATION_KEY_LENGTH = 32
ID_ALPHABET = string.ascii_letters + string.digits
# Auto numbers are the company counter padded to 4 digits ("0001"), Invoice Ninja's default pattern.
NUMBER_PADDING = 4
# Ids of Invoice Ninja's seeders: a new company and its clients are Swiss (756) and count in CHF (17).
DEFAULT_COUNTRY_ID = "756"
DEFAULT_CURRENCY_ID = "17"
CENTIME = Decimal("0.01")
DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")

# status_id values (app/Models/Invoice.php, Quote.php); "reversed" (6) is never reached in the sandbox.
INVOICE_DRAFT, INVOICE_SENT, INVOICE_PARTIAL, INVOICE_PAID, INVOICE_CANCELLED = "1", "2", "3", "4", "5"
QUOTE_DRAFT, QUOTE_SENT, QUOTE_APPROVED, QUOTE_CONVERTED = "1", "2", "3", "4"
PAYMENT_COMPLETED = "4"
# Invoices whose balance the client owes: drafts are not issued yet, cancelled ones are void.
OWED_INVOICE_STATUSES = {INVOICE_SENT, INVOICE_PARTIAL, INVOICE_PAID}
PAYABLE_INVOICE_STATUSES = {INVOICE_DRAFT, INVOICE_SENT, INVOICE_PARTIAL}
# type_id of the payments the sandbox records itself (mark_paid, `record_payment`): a bank transfer.
PAYMENT_TYPE_BANK_TRANSFER = "1"
# transaction_reference Invoice Ninja gives the payment of "mark paid".
MARK_PAID_REFERENCE = "Manual entry"

# Webhook event ids (app/Models/Webhook.php), strings as the API writes them.
EVENT_CREATE_CLIENT = "1"
EVENT_CREATE_INVOICE = "2"
EVENT_CREATE_QUOTE = "3"
EVENT_CREATE_PAYMENT = "4"
EVENT_UPDATE_QUOTE = "6"
EVENT_UPDATE_INVOICE = "8"
EVENT_UPDATE_CLIENT = "10"
EVENT_APPROVE_QUOTE = "21"
EVENT_CREATE_PRODUCT = "50"
EVENT_UPDATE_PRODUCT = "51"
EVENT_SENT_INVOICE = "60"
EVENT_SENT_QUOTE = "61"
# The events of invoices and quotes: (created, updated, e-mailed).
DOCUMENT_EVENTS = {
    "invoice": (EVENT_CREATE_INVOICE, EVENT_UPDATE_INVOICE, EVENT_SENT_INVOICE),
    "quote": (EVENT_CREATE_QUOTE, EVENT_UPDATE_QUOTE, EVENT_SENT_QUOTE),
}
DEFAULT_EMAIL_TEMPLATES = {"invoice": "email_template_invoice", "quote": "email_template_quote"}
EMAIL_SUBJECT_NOUNS = {"invoice": "Invoice", "quote": "Quote"}
# What Invoice Ninja includes in a webhook body (WebhookHandler::dispatch's includes).
EVENT_INCLUDES = {"invoice": {"client"}, "quote": {"client"}, "payment": {"invoices", "client"}}

INVOICE_ACTIONS = ("mark_sent", "email", "mark_paid", "cancel", "download")
QUOTE_ACTIONS = ("mark_sent", "email", "approve", "convert_to_invoice", "convert")
BULK_INVOICE_ACTIONS = ("mark_sent", "email", "send_email", "mark_paid")

# The lists of a company document, by entity type.
COLLECTIONS = {
    "client": "clients", "product": "products", "invoice": "invoices", "quote": "quotes", "payment": "payments",
    "webhook": "webhooks",
}  # fmt: skip
# What `filter=<text>` searches, by entity type.
SEARCHED_FIELDS = {
    "client": ("name", "number"), "product": ("product_key", "notes"), "invoice": ("number", "po_number"),
    "quote": ("number", "po_number"), "payment": ("number", "transaction_reference"), "webhook": ("target_url",),
}  # fmt: skip
# Fields holding numbers, at any depth: Decimal strings in the store, JSON numbers in answers.
NUMBER_FIELDS = frozenset({
    "amount", "balance", "paid_to_date", "total_taxes", "discount", "cost", "price", "quantity", "product_cost",
    "tax_rate1", "tax_rate2", "tax_rate3", "line_total", "gross_line_total", "tax_amount", "applied", "refunded",
    "exchange_rate",
})  # fmt: skip

CLIENT_TEXT_FIELDS = ("name", "vat_number", "id_number", "address1", "address2", "city", "state", "postal_code")
CONTACT_TEXT_FIELDS = ("first_name", "last_name", "email", "phone")
PRODUCT_TEXT_FIELDS = ("product_key", "notes", "tax_name1", "tax_name2", "tax_name3")
PRODUCT_NUMBER_FIELDS = ("cost", "price", "quantity", "tax_rate1", "tax_rate2", "tax_rate3")
DOCUMENT_TEXT_FIELDS = ("po_number", "public_notes", "private_notes", "tax_name1")
# A line item as Invoice Ninja fills it (app/DataMapper/InvoiceItem.php); fields the client adds are kept too.
LINE_ITEM_DEFAULTS: dict[str, Any] = {
    "product_key": "", "notes": "", "cost": "0", "quantity": "0", "discount": "0", "is_amount_discount": False,
    "tax_name1": "", "tax_rate1": "0", "tax_name2": "", "tax_rate2": "0", "tax_name3": "", "tax_rate3": "0",
    "type_id": "1", "line_total": "0", "gross_line_total": "0", "tax_amount": "0", "sort_id": "0", "date": "",
    "custom_value1": "", "custom_value2": "", "custom_value3": "", "custom_value4": "",
}  # fmt: skip
LINE_TEXT_FIELDS = ("product_key", "notes", "tax_name1", "tax_name2", "tax_name3", "date")
LINE_NUMBER_FIELDS = ("cost", "quantity", "discount", "tax_rate1", "tax_rate2", "tax_rate3", "product_cost")
TAX_RATE_FIELDS = ("tax_rate1", "tax_rate2", "tax_rate3")
WEBHOOK_METHODS = ("post", "put")
WEBHOOK_FORMATS = ("JSON",)
# Delivery attempts kept per company for the sandbox page.
MAX_DELIVERY_RECORDS = 200

# What `settle_delivery` decides after an attempt, from the receiver's answer (WebhookSingle.php).
DELIVERED, RETRY, FAILED, SUBSCRIPTION_DELETED = "delivered", "retry", "failed", "subscription deleted"
# Answers after which Invoice Ninja deletes the subscription: the receiver says the URL is gone.
GONE_STATUSES = {404, 405, 410}
# Invoice Ninja makes 5 attempts ($tries), minutes apart; the sandbox waits seconds between them.
INVOICE_NINJA_WEBHOOK_ATTEMPTS = 5
INVOICE_NINJA_WEBHOOK_RETRY_SECONDS = 3

INVALID_DATA = "The given data was invalid."
CANNOT_MARK_PAID = "Invoice cannot be marked as paid"
NUMBER_TAKEN = "The number has already been taken."


class ApiError(Exception):
    """A refusal of the emulated API: `{"message"}`, with Laravel's `errors` object when `errors` is given."""

    def __init__(self, status: int, message: str, *, errors: dict[str, list[str]] | None = None) -> None:
        self.status = status
        self.body: dict[str, Any] = {"message": message}
        if errors is not None:
            self.body["errors"] = errors
        super().__init__(message)


def _invalid(field: str, message: str) -> ApiError:
    """A 422 validation error on one field, as Laravel words it."""
    return ApiError(422, INVALID_DATA, errors={field: [message]})


def _not_found() -> ApiError:
    return ApiError(404, "Record not found", errors={})


def _invalid_token() -> ApiError:
    return ApiError(403, "Invalid token", errors={})


# Companies


def ensure_company(token: str, name: str) -> dict:
    """Provision the company an API token opens (idempotent; called again with another name, it renames it)."""
    if not token:
        raise ValueError("An Invoice Ninja sandbox token must not be empty")
    store.put_new(_company_key(token), _new_company(token, name))
    store.add_to_set(COMPANIES_SET, token)
    with store.update(_company_key(token)) as company:
        company["company"]["name"] = name
    return company["company"]


def company_for_token(token: str) -> dict | None:
    """The company (id, name, token, user_id, settings) an API token opens, or None."""
    company = store.get(_company_key(token)) if token else None
    return company["company"] if company else None


def tokens() -> list[str]:
    return store.set_members(COMPANIES_SET)


def _new_company(token: str, name: str) -> dict:
    profile = {
        "id": _new_id(), "name": name, "token": token, "user_id": _new_id(),
        "settings": {"country_id": DEFAULT_COUNTRY_ID, "currency_id": DEFAULT_CURRENCY_ID}, "created_at": _now(),
    }  # fmt: skip
    counters = {"client": 0, "invoice": 0, "quote": 0, "payment": 0}
    lists = {collection: [] for collection in [*COLLECTIONS.values(), "emails", "deliveries"]}
    return {"company": profile, "counters": counters, **lists}


def _company_key(token: str) -> str:
    return f"company:{token}"


def _company(token: str) -> dict:
    company = store.get(_company_key(token)) if token else None
    if company is None:
        raise _invalid_token()
    return company


@contextmanager
def _operation(token: str) -> Iterator[tuple[dict, list[tuple[str, str, str]]]]:
    """Change a company under its lock, then send the webhooks of the events the change appended.

    Yields the company document and the list of (event id, entity type, entity id) to fire; bodies are
    rendered from the state the change leaves. A refusal raised in the block leaves the store untouched.
    """
    events: list[tuple[str, str, str]] = []
    try:
        with store.update(_company_key(token)) as company:
            yield company, events
            deliveries = _deliveries(company, events)
    except DocumentMissing:
        raise _invalid_token() from None
    _send(token, deliveries)


def set_create_delay(seconds: float) -> None:
    """End-to-end test hook: make POST /invoices and /quotes wait after storing, before answering (0 ends it)."""
    if seconds > 0:
        redis_client().set(CREATE_DELAY_KEY, str(seconds))
    else:
        redis_client().delete(CREATE_DELAY_KEY)


def create_delay_seconds() -> float:
    raw = redis_client().get(CREATE_DELAY_KEY)
    return float(raw) if raw else 0.0


# Reading


def find(token: str, kind: str, params: Mapping[str, str] | None = None) -> list[dict]:
    """A list endpoint's items before pagination: oldest first, filtered and with includes as the query asks."""
    params = params or {}
    company = _company(token)
    documents: Iterable[dict] = company[COLLECTIONS[kind]]
    if updated_at := params.get("updated_at", ""):
        if not updated_at.isdigit():
            raise _invalid("updated_at", "The updated_at filter must be a unix timestamp.")
        documents = [document for document in documents if document["updated_at"] >= int(updated_at)]
    if client_id := params.get("client_id", ""):
        documents = [document for document in documents if document.get("client_id") == client_id]
    if text := params.get("filter", "").strip().lower():
        documents = [
            document
            for document in documents
            if any(text in str(document.get(field, "")).lower() for field in SEARCHED_FIELDS[kind])
        ]
    if params.get("is_deleted", ""):
        deleted = params["is_deleted"].lower() in ("true", "1")
        documents = [document for document in documents if document["is_deleted"] == deleted]
    if kind in ("invoice", "quote") and (number := params.get("number", "")):
        documents = [document for document in documents if document["number"] == number]
    if kind == "client" and (email := params.get("email", "").strip().lower()):
        documents = [
            document for document in documents if any(c["email"].lower() == email for c in document["contacts"])
        ]
    includes = _includes(params)
    return [_with_includes(company, kind, document, includes) for document in documents]


def get(token: str, kind: str, entity_id: str, params: Mapping[str, str] | None = None) -> dict:
    """One entity as GET /{entities}/{id} answers it; unknown ids raise the 404 ApiError."""
    company = _company(token)
    return _with_includes(company, kind, _find(company, kind, entity_id), _includes(params or {}))


def list_clients(token: str) -> list[dict]:
    return find(token, "client")


def list_invoices(token: str) -> list[dict]:
    return find(token, "invoice")


def get_invoice(token: str, invoice_id: str) -> dict:
    return get(token, "invoice", invoice_id)


def list_quotes(token: str) -> list[dict]:
    return find(token, "quote")


def list_payments(token: str) -> list[dict]:
    return find(token, "payment", {"include": "invoices,client"})


def list_webhooks(token: str) -> list[dict]:
    return find(token, "webhook")


def email_log(token: str) -> list[dict]:
    """The e-mails the company sent, oldest first: {id, entity, entity_id, number, template, to, subject, sent_at}."""
    return _company(token)["emails"]


def webhook_deliveries(token: str) -> list[dict]:
    """The last MAX_DELIVERY_RECORDS delivery attempts, oldest first."""
    return _company(token)["deliveries"]


def _includes(params: Mapping[str, str]) -> set[str]:
    return {name.strip() for name in params.get("include", "").split(",") if name.strip()}


def _with_includes(company: dict, kind: str, document: dict, includes: set[str]) -> dict:
    shown = _out(document)
    if kind in ("invoice", "quote", "payment") and "client" in includes:
        shown["client"] = _out(_find(company, "client", document["client_id"]))
    if kind == "payment" and "invoices" in includes:
        shown["invoices"] = [
            _out(_find(company, "invoice", paymentable["invoice_id"])) for paymentable in document["paymentables"]
        ]
    return shown


def _find(company: dict, kind: str, entity_id: Any) -> dict:
    for document in company[COLLECTIONS[kind]]:
        if document["id"] == entity_id:
            return document
    raise _not_found()


def _out(value: Any, field: str = "") -> Any:
    """A stored value as the API writes it: the numbers (NUMBER_FIELDS) as Decimal."""
    if isinstance(value, dict):
        return {key: _out(item, key) for key, item in value.items()}
    if isinstance(value, list):
        return [_out(item) for item in value]
    if field in NUMBER_FIELDS and isinstance(value, str):
        return Decimal(value)
    return value


# Clients


def create_client(token: str, payload: Any) -> dict:
    payload = _object(payload)
    with _operation(token) as (company, events):
        now = _now()
        client = {
            "id": _new_id(), "user_id": company["company"]["user_id"], "name": "", "number": "", "display_name": "",
            "balance": "0", "paid_to_date": "0", "vat_number": "", "id_number": "", "address1": "", "address2": "",
            "city": "", "state": "", "postal_code": "", "country_id": company["company"]["settings"]["country_id"],
            "settings": {"currency_id": company["company"]["settings"]["currency_id"]}, "contacts": [],
            "created_at": now, "updated_at": now, "archived_at": 0, "is_deleted": False,
        }  # fmt: skip
        _write_client(company, client, {"contacts": [], **payload}, now=now)
        company["clients"].append(client)
        events.append((EVENT_CREATE_CLIENT, "client", client["id"]))
        return _out(client)


def update_client(token: str, client_id: str, payload: Any) -> dict:
    """PUT /clients/{id}: only the fields sent change; `contacts`, when sent, is the whole new list."""
    payload = _object(payload)
    with _operation(token) as (company, events):
        client = _find(company, "client", client_id)
        _write_client(company, client, payload, now=_now())
        events.append((EVENT_UPDATE_CLIENT, "client", client["id"]))
        return _out(client)


def _write_client(company: dict, client: dict, payload: dict, *, now: int) -> None:
    for field in CLIENT_TEXT_FIELDS:
        if field in payload:
            client[field] = _text(payload, field)
    if payload.get("number"):
        client["number"] = _unique_number(company, "client", _text(payload, "number"), own_id=client["id"])
    elif not client["number"]:
        client["number"] = _next_number(company, "client")
    if payload.get("country_id"):
        client["country_id"] = _id_text(payload["country_id"], "country_id")
    if payload.get("settings") is not None:
        settings = payload["settings"]
        if not isinstance(settings, dict):
            raise _invalid("settings", "The settings field must be an object.")
        if settings.get("currency_id"):
            client["settings"]["currency_id"] = _id_text(settings["currency_id"], "settings.currency_id")
    if "contacts" in payload:
        _write_contacts(client, payload["contacts"], now=now)
    primary = next(contact for contact in client["contacts"] if contact["is_primary"])
    contact_name = f"{primary['first_name']} {primary['last_name']}".strip()
    if not client["name"] and not contact_name and not primary["email"]:
        raise _invalid("name", "The name field is required when contacts.0.email is not present.")
    # Invoice Ninja shows a client without a name by its primary contact.
    client["display_name"] = client["name"] or contact_name or primary["email"]
    client["updated_at"] = now


def _write_contacts(client: dict, contacts: Any, *, now: int) -> None:
    """Invoice Ninja's rule (ClientContactRepository): a contact with a known id is updated, any other is
    created, and every existing contact left out of the list is deleted. A client keeps at least one contact."""
    if not isinstance(contacts, list):
        raise _invalid("contacts", "The contacts field must be an array.")
    existing = {contact["id"]: contact for contact in client["contacts"]}
    kept = []
    for index, sent in enumerate(contacts):
        if not isinstance(sent, dict):
            raise _invalid(f"contacts.{index}", f"The contacts.{index} field must be an object.")
        contact = existing.pop(str(sent.get("id") or ""), None) or _new_contact(now)
        before = dict(contact)
        for field in CONTACT_TEXT_FIELDS:
            if field in sent:
                contact[field] = _text(sent, field, name=f"contacts.{index}.{field}")
        if contact["email"]:
            try:
                validate_email(contact["email"])
            except ValidationError:
                raise _invalid(
                    f"contacts.{index}.email", f"The contacts.{index}.email field must be a valid email address."
                ) from None
        for flag in ("send_email", "is_primary"):
            if flag in sent:
                contact[flag] = _flag(sent[flag], f"contacts.{index}.{flag}")
        if contact != before:
            contact["updated_at"] = now
        kept.append(contact)
    if not kept:
        kept.append(_new_contact(now))
    # Exactly one primary contact: the first one marked so, else the first one.
    primary = next((contact for contact in kept if contact["is_primary"]), kept[0])
    for contact in kept:
        contact["is_primary"] = contact is primary
    client["contacts"] = kept


def _new_contact(now: int) -> dict:
    return {
        "id": _new_id(), "first_name": "", "last_name": "", "email": "", "phone": "", "send_email": True,
        "is_primary": False, "created_at": now, "updated_at": now,
    }  # fmt: skip


# Products


def create_product(token: str, payload: Any) -> dict:
    payload = _object(payload)
    with _operation(token) as (company, events):
        now = _now()
        product = {
            "id": _new_id(), "user_id": company["company"]["user_id"], "product_key": "", "notes": "",
            "cost": "0", "price": "0", "quantity": "1", "tax_name1": "", "tax_rate1": "0", "tax_name2": "",
            "tax_rate2": "0", "tax_name3": "", "tax_rate3": "0", "created_at": now, "updated_at": now,
            "archived_at": 0, "is_deleted": False,
        }  # fmt: skip
        _write_product(product, payload, now=now)
        company["products"].append(product)
        events.append((EVENT_CREATE_PRODUCT, "product", product["id"]))
        return _out(product)


def update_product(token: str, product_id: str, payload: Any) -> dict:
    payload = _object(payload)
    with _operation(token) as (company, events):
        product = _find(company, "product", product_id)
        _write_product(product, payload, now=_now())
        events.append((EVENT_UPDATE_PRODUCT, "product", product["id"]))
        return _out(product)


def _write_product(product: dict, payload: dict, *, now: int) -> None:
    for field in PRODUCT_TEXT_FIELDS:
        if field in payload:
            product[field] = _text(payload, field)
    for field in PRODUCT_NUMBER_FIELDS:
        if payload.get(field) is not None:
            product[field] = str(_number(payload[field], field))
    product["updated_at"] = now


# Invoices and quotes


def create_document(
    token: str, kind: str, payload: Any, *, site_url: str, mark_sent: bool = False, send_email: bool = False
) -> dict:
    """POST /invoices or /quotes (`kind` "invoice" or "quote"), with the ?mark_sent / ?send_email triggers.

    `site_url` (scheme and host of the request) makes the invitation links of the client portal.
    """
    payload = _object(payload)
    with _operation(token) as (company, events):
        now = _now()
        document = _new_document(company, kind, now)
        if not payload.get("client_id"):
            raise _invalid("client_id", "The client id field is required.")
        _write_document(company, document, payload, now=now, site_url=site_url)
        company[COLLECTIONS[kind]].append(document)
        events.append((DOCUMENT_EVENTS[kind][0], kind, document["id"]))
        _run_triggers(company, document, events, mark_sent=mark_sent, send_email=send_email, now=now)
        _refresh_client_totals(company, document["client_id"], now=now)
        return _out(document)


def update_document(
    token: str, kind: str, document_id: str, payload: Any, *, site_url: str, mark_sent: bool = False,
    send_email: bool = False,
) -> dict:  # fmt: skip
    """PUT /invoices/{id} or /quotes/{id}: the fields sent change and the amounts are computed again.

    The balance stays `amount - paid_to_date`, also on a paid invoice (its status is left as it is).
    """
    payload = _object(payload)
    with _operation(token) as (company, events):
        now = _now()
        document = _find(company, kind, document_id)
        former_client_id = document["client_id"]
        _write_document(company, document, payload, now=now, site_url=site_url)
        events.append((DOCUMENT_EVENTS[kind][1], kind, document["id"]))
        _run_triggers(company, document, events, mark_sent=mark_sent, send_email=send_email, now=now)
        for client_id in {former_client_id, document["client_id"]}:
            _refresh_client_totals(company, client_id, now=now)
        return _out(document)


def _new_document(company: dict, kind: str, now: int) -> dict:
    document: dict[str, Any] = {
        "id": _new_id(), "user_id": company["company"]["user_id"], "client_id": "", "status_id": INVOICE_DRAFT,
        "number": "", "po_number": "", "date": _today(), "due_date": "", "last_sent_date": "", "amount": "0",
        "balance": "0", "paid_to_date": "0", "total_taxes": "0", "discount": "0", "is_amount_discount": False,
        "uses_inclusive_taxes": False, "tax_name1": "", "tax_rate1": "0", "public_notes": "", "private_notes": "",
        "line_items": [], "entity_type": kind, "is_deleted": False, "created_at": now, "updated_at": now,
        "archived_at": 0, "invitations": [], "documents": [],
    }  # fmt: skip
    if kind == "quote":
        # The invoice a quote was converted to.
        document["invoice_id"] = ""
    return document


def _write_document(company: dict, document: dict, payload: dict, *, now: int, site_url: str) -> None:
    kind = document["entity_type"]
    if payload.get("client_id") and payload["client_id"] != document["client_id"]:
        client = next((c for c in company["clients"] if c["id"] == payload["client_id"]), None)
        if client is None:
            raise _invalid("client_id", "The selected client id is invalid.")
        document["client_id"] = client["id"]
        document["invitations"] = [
            _new_invitation(company, kind, document["id"], contact, site_url) for contact in client["contacts"]
        ]
    if payload.get("number"):
        document["number"] = _unique_number(company, kind, _text(payload, "number"), own_id=document["id"])
    elif not document["number"]:
        document["number"] = _next_number(company, kind)
    for field in DOCUMENT_TEXT_FIELDS:
        if field in payload:
            document[field] = _text(payload, field)
    for field in ("date", "due_date"):
        if field in payload:
            document[field] = _date(payload, field)
    if payload.get("is_amount_discount") is not None:
        document["is_amount_discount"] = _flag(payload["is_amount_discount"], "is_amount_discount")
    if payload.get("uses_inclusive_taxes"):
        raise _invalid("uses_inclusive_taxes", "The sandbox computes exclusive taxes only.")
    for field in ("discount", *TAX_RATE_FIELDS):
        if payload.get(field) is not None and _number(payload[field], field) != 0:
            raise _invalid(field, "The sandbox computes line discounts and line taxes only.")
    if "line_items" in payload:
        document["line_items"] = _line_items(payload["line_items"])
    _compute_totals(document)
    document["updated_at"] = now


def _line_items(lines: Any) -> list[dict]:
    if not isinstance(lines, list):
        raise _invalid("line_items", "The line items field must be an array.")
    items = []
    for index, sent in enumerate(lines):
        if not isinstance(sent, dict):
            raise _invalid(f"line_items.{index}", f"The line_items.{index} field must be an object.")
        # Fields the sandbox does not compute with are kept as sent (floats instead of Decimal, to be storable).
        item = {**LINE_ITEM_DEFAULTS, **{key: _storable(value) for key, value in sent.items()}}
        for field in LINE_TEXT_FIELDS:
            if field in sent:
                item[field] = _text(sent, field, name=f"line_items.{index}.{field}")
        for field in LINE_NUMBER_FIELDS:
            if field in sent:
                item[field] = str(_number(sent[field], f"line_items.{index}.{field}"))
        item["is_amount_discount"] = _flag(item["is_amount_discount"], f"line_items.{index}.is_amount_discount")
        item["type_id"] = _id_text(item["type_id"], f"line_items.{index}.type_id")
        item["sort_id"] = str(index)
        items.append(item)
    return items


def _compute_totals(document: dict) -> None:
    """Invoice Ninja's exclusive-tax sums (InvoiceItemSum::setDiscount/calcTaxes), rounded half-up to the centime.

    A percent discount is rounded once with the line: round2(cost × quantity − cost × quantity × discount / 100),
    as Invoice Ninja does since its 16-08-2021 change; the invoice's is_amount_discount, not the line's, says
    whether line discounts are amounts, and is written onto every line. Each tax is round2(line_total × rate / 100).
    """
    amount_discounts = document["is_amount_discount"]
    subtotal = total_taxes = Decimal(0)
    for item in document["line_items"]:
        gross = Decimal(item["cost"]) * Decimal(item["quantity"])
        discount = Decimal(item["discount"])
        # Invoice Ninja leaves a line with an amount discount unrounded: rounding it here differs from Invoice
        # Ninja only where cost × quantity has sub-centimes.
        discounted = gross - _round2(discount) if amount_discounts else gross - gross * discount / 100
        line_total = _round2(discounted)
        tax_amount = sum((_round2(line_total * Decimal(item[rate]) / 100) for rate in TAX_RATE_FIELDS), Decimal(0))
        item["is_amount_discount"] = amount_discounts
        item["line_total"] = str(line_total)
        item["tax_amount"] = str(tax_amount)
        item["gross_line_total"] = str(line_total + tax_amount)
        subtotal += line_total
        total_taxes += tax_amount
    amount = subtotal + total_taxes
    document["amount"] = str(amount)
    document["total_taxes"] = str(total_taxes)
    document["balance"] = str(amount - Decimal(document["paid_to_date"]))


def _new_invitation(company: dict, kind: str, document_id: str, contact: dict, site_url: str) -> dict:
    key = "".join(secrets.choice(ID_ALPHABET) for _ in range(INVITATION_KEY_LENGTH))
    # The portal finds the document of a link by its key alone.
    store.put(f"invitation:{key}", {"token": company["company"]["token"], "kind": kind, "id": document_id})
    link = site_url + reverse(f"sandbox:invoice-ninja-portal-{kind}", args=[key])
    return {
        "id": _new_id(), "client_contact_id": contact["id"], "key": key, "link": link, "sent_date": "",
        "viewed_date": "", "opened_date": "",
    }  # fmt: skip


def _run_triggers(company: dict, document: dict, events: list, *, mark_sent: bool, send_email: bool, now: int) -> None:
    if send_email:
        template = DEFAULT_EMAIL_TEMPLATES[document["entity_type"]]
        _email_document(company, document, events, template=template, subject="", now=now)
    if mark_sent:
        _mark_sent(document, events, now=now)


def _mark_sent(document: dict, events: list, *, now: int) -> None:
    """A draft becomes sent (same status code for invoices and quotes); anything else is left as it is."""
    if document["status_id"] != INVOICE_DRAFT:
        return
    document["status_id"] = INVOICE_SENT
    for invitation in document["invitations"]:
        invitation["sent_date"] = invitation["sent_date"] or _moment()
    document["updated_at"] = now
    events.append((DOCUMENT_EVENTS[document["entity_type"]][1], document["entity_type"], document["id"]))


def _email_document(company: dict, document: dict, events: list, *, template: str, subject: str, now: int) -> None:
    """Send the document to the client's contacts that receive e-mail: log it, mark it sent, fire sent_*."""
    kind = document["entity_type"]
    client = _find(company, "client", document["client_id"])
    recipients = [contact["email"] for contact in client["contacts"] if contact["send_email"] and contact["email"]]
    if not recipients:
        raise _invalid("entity_id", "The client has no contact with an e-mail address to send to.")
    _mark_sent(document, events, now=now)
    document["last_sent_date"] = _today()
    document["updated_at"] = now
    default_subject = f"{EMAIL_SUBJECT_NOUNS[kind]} {document['number']} from {company['company']['name']}"
    company["emails"].append({
        "id": _new_id(), "entity": kind, "entity_id": document["id"], "number": document["number"],
        "template": template, "to": recipients, "subject": subject or default_subject, "sent_at": now,
    })  # fmt: skip
    events.append((DOCUMENT_EVENTS[kind][2], kind, document["id"]))


def send_email(token: str, payload: Any) -> dict:
    """POST /emails: e-mail an invoice or a quote to its client's contacts; answers the entity."""
    payload = _object(payload)
    kind = payload.get("entity")
    if kind not in DOCUMENT_EVENTS:
        raise _invalid("entity", "The selected entity is invalid.")
    template = _text(payload, "template")
    if not template:
        raise _invalid("template", "The template field is required.")
    with _operation(token) as (company, events):
        document = next((d for d in company[COLLECTIONS[kind]] if d["id"] == payload.get("entity_id")), None)
        if document is None:
            raise _invalid("entity_id", "The selected entity id is invalid.")
        now = _now()
        _email_document(company, document, events, template=template, subject=_text(payload, "subject"), now=now)
        _refresh_client_totals(company, document["client_id"], now=now)
        return _out(document)


def perform_action(token: str, kind: str, document_id: str, action: str, *, site_url: str) -> dict:
    """GET /invoices/{id}/{action} or /quotes/{id}/{action}; answers the document (convert: the new invoice).

    `download` is no change: the view answers the PDF of the document.
    """
    actions = INVOICE_ACTIONS if kind == "invoice" else QUOTE_ACTIONS
    if action not in actions or action == "download":
        raise ApiError(400, f"Action {action} is not available.")
    with _operation(token) as (company, events):
        now = _now()
        document = _find(company, kind, document_id)
        result = document
        if action == "mark_sent":
            _mark_sent(document, events, now=now)
        elif action == "email":
            _email_document(company, document, events, template=DEFAULT_EMAIL_TEMPLATES[kind], subject="", now=now)
        elif action == "mark_paid":
            if not _mark_paid(company, document, events, now=now):
                raise ApiError(400, CANNOT_MARK_PAID)
        elif action == "cancel":
            _cancel(document, events, now=now)
        elif action == "approve":
            _approve(document, events, now=now)
        else:
            result = _convert(company, document, events, now=now, site_url=site_url)
        _refresh_client_totals(company, document["client_id"], now=now)
        return _out(result)


def bulk_invoices(token: str, payload: Any) -> list[dict]:
    """POST /invoices/bulk {action, ids}: mark_sent, email or mark_paid on each invoice; answers them."""
    payload = _object(payload)
    action, ids = payload.get("action"), payload.get("ids")
    if action not in BULK_INVOICE_ACTIONS:
        raise _invalid("action", "The selected action is invalid.")
    if not isinstance(ids, list) or not ids:
        raise _invalid("ids", "The ids field is required.")
    with _operation(token) as (company, events):
        now = _now()
        # Ids of other companies or unknown ones are left out, as Invoice Ninja scopes the query to the company.
        invoices = [invoice for invoice in company["invoices"] if invoice["id"] in ids]
        if action == "mark_paid" and any(not is_payable(invoice) for invoice in invoices):
            raise ApiError(422, CANNOT_MARK_PAID, errors={"ids": [CANNOT_MARK_PAID]})
        for invoice in invoices:
            if action == "mark_sent":
                _mark_sent(invoice, events, now=now)
            elif action == "mark_paid":
                _mark_paid(company, invoice, events, now=now)
            else:
                template = DEFAULT_EMAIL_TEMPLATES["invoice"]
                _email_document(company, invoice, events, template=template, subject="", now=now)
            _refresh_client_totals(company, invoice["client_id"], now=now)
        return [_out(invoice) for invoice in invoices]


def document_pdf(document: dict) -> bytes:
    """A small PDF-looking body for /download: enough for a client to store and show as a file."""
    title = f"{document['entity_type'].capitalize()} {document['number']} - {document['amount']}"
    return (
        b"%PDF-1.4\n% HYPERVISUAL Hub Invoice Ninja sandbox\n"
        + f"1 0 obj << /Title ({title}) >> endobj\n".encode()
        + b"trailer << /Info 1 0 R >>\n%%EOF\n"
    )


def is_payable(invoice: dict) -> bool:
    """Whether a payment can still be applied to the invoice: issued or draft, not void, something owed."""
    return invoice["status_id"] in PAYABLE_INVOICE_STATUSES and Decimal(invoice["balance"]) > 0


def _mark_paid(company: dict, invoice: dict, events: list, *, now: int) -> bool:
    """Pay the whole balance with a new payment, as Invoice Ninja's MarkPaid does; False if nothing is owed."""
    if not is_payable(invoice):
        return False
    balance = Decimal(invoice["balance"])
    payload = {
        "client_id": invoice["client_id"], "amount": balance, "type_id": PAYMENT_TYPE_BANK_TRANSFER,
        "transaction_reference": MARK_PAID_REFERENCE, "invoices": [{"invoice_id": invoice["id"], "amount": balance}],
    }  # fmt: skip
    _apply_payment(company, payload, events, now=now)
    return True


def _cancel(invoice: dict, events: list, *, now: int) -> None:
    if invoice["status_id"] not in (INVOICE_SENT, INVOICE_PARTIAL):
        raise ApiError(400, "Invoice cannot be cancelled")
    # Invoice Ninja zeroes the balance of a cancelled invoice: the client no longer owes it.
    invoice["status_id"] = INVOICE_CANCELLED
    invoice["balance"] = "0"
    invoice["updated_at"] = now
    events.append((EVENT_UPDATE_INVOICE, "invoice", invoice["id"]))


def approve_quote(token: str, quote_id: str) -> dict:
    """What the client does in the portal: a sent quote becomes approved (status "3") and approve_quote is fired."""
    with _operation(token) as (company, events):
        quote = _find(company, "quote", quote_id)
        _approve(quote, events, now=_now())
        return _out(quote)


def _approve(quote: dict, events: list, *, now: int) -> None:
    if quote["status_id"] != QUOTE_SENT:
        raise ApiError(400, "Only a sent quote can be approved")
    quote["status_id"] = QUOTE_APPROVED
    quote["updated_at"] = now
    events.append((EVENT_APPROVE_QUOTE, "quote", quote["id"]))


def _convert(company: dict, quote: dict, events: list, *, now: int, site_url: str) -> dict:
    """A quote becomes a draft invoice with its client, lines and notes; the quote is marked converted."""
    if quote["status_id"] == QUOTE_CONVERTED:
        raise ApiError(400, "The quote has already been converted")
    invoice = _new_document(company, "invoice", now)
    copied = {field: quote[field] for field in ("client_id", "line_items", "is_amount_discount", *DOCUMENT_TEXT_FIELDS)}
    _write_document(company, invoice, copy.deepcopy(copied), now=now, site_url=site_url)
    company["invoices"].append(invoice)
    quote["status_id"] = QUOTE_CONVERTED
    quote["invoice_id"] = invoice["id"]
    quote["updated_at"] = now
    events += [(EVENT_CREATE_INVOICE, "invoice", invoice["id"]), (EVENT_UPDATE_QUOTE, "quote", quote["id"])]
    return invoice


# Payments


def create_payment(token: str, payload: Any) -> dict:
    """POST /payments: record a payment of a client and apply it to its invoices."""
    payload = _object(payload)
    with _operation(token) as (company, events):
        payment = _apply_payment(company, payload, events, now=_now())
        return _out(payment)


def record_payment(
    token: str, *, invoice_id: str, amount: Decimal | str, transaction_reference: str, date: str | None = None
) -> dict:
    """What a finance user does in Invoice Ninja's UI: a bank transfer received for one invoice.

    Same effect and webhooks as POST /payments for that invoice's client; refusals raise ApiError.
    """
    with _operation(token) as (company, events):
        invoice = _find(company, "invoice", invoice_id)
        payload = {
            "client_id": invoice["client_id"], "amount": amount, "date": date or _today(),
            "type_id": PAYMENT_TYPE_BANK_TRANSFER, "transaction_reference": transaction_reference,
            "invoices": [{"invoice_id": invoice_id, "amount": amount}],
        }  # fmt: skip
        payment = _apply_payment(company, payload, events, now=_now())
        return _out(payment)


def _apply_payment(company: dict, payload: dict, events: list, *, now: int) -> dict:
    client_id = payload.get("client_id")
    if not client_id:
        raise _invalid("client_id", "The client id field is required.")
    client = next((c for c in company["clients"] if c["id"] == client_id), None)
    if client is None:
        raise _invalid("client_id", "The selected client id is invalid.")
    allocations = _allocations(company, client_id, payload.get("invoices") or [])
    applied = sum((amount for _invoice, amount in allocations), Decimal(0))
    if payload.get("amount") is None:
        if not allocations:
            raise _invalid("amount", "The amount field is required when invoices is not present.")
        amount = applied
    else:
        amount = _number(payload["amount"], "amount")
    if amount <= 0 or amount.as_tuple().exponent < -2:
        raise _invalid("amount", "The amount must be positive, with at most 2 decimals.")
    if amount < applied:
        raise _invalid("amount", "The amount is less than the sum of the amounts applied to the invoices.")
    payment_date = _date(payload, "date") if payload.get("date") else _today()
    payment = {
        "id": _new_id(), "user_id": company["company"]["user_id"], "client_id": client_id, "amount": str(amount),
        "applied": str(applied), "refunded": "0", "date": payment_date,
        "type_id": _id_text(payload["type_id"], "type_id") if payload.get("type_id") else "",
        "status_id": PAYMENT_COMPLETED, "number": _next_number(company, "payment"),
        "transaction_reference": _text(payload, "transaction_reference"), "private_notes": "", "is_manual": True,
        "is_deleted": False, "currency_id": client["settings"]["currency_id"], "exchange_rate": "1",
        "created_at": now, "updated_at": now, "archived_at": 0, "paymentables": [], "documents": [],
    }  # fmt: skip
    for invoice, paid in allocations:
        invoice["paid_to_date"] = str(Decimal(invoice["paid_to_date"]) + paid)
        invoice["balance"] = str(Decimal(invoice["balance"]) - paid)
        invoice["status_id"] = INVOICE_PAID if Decimal(invoice["balance"]) == 0 else INVOICE_PARTIAL
        invoice["updated_at"] = now
        payment["paymentables"].append({
            "id": _new_id(), "invoice_id": invoice["id"], "amount": str(paid), "refunded": "0",
            "created_at": now, "updated_at": now,
        })  # fmt: skip
    company["payments"].append(payment)
    events.append((EVENT_CREATE_PAYMENT, "payment", payment["id"]))
    events += [(EVENT_UPDATE_INVOICE, "invoice", invoice["id"]) for invoice, _paid in allocations]
    _refresh_client_totals(company, client_id, now=now)
    return payment


def _allocations(company: dict, client_id: str, sent: Any) -> list[tuple[dict, Decimal]]:
    """The (invoice, amount) pairs of a payment's `invoices`, checked as Invoice Ninja's ValidInvoicesRules does."""
    if not isinstance(sent, list):
        raise _invalid("invoices", "The invoices field must be an array.")
    allocations: list[tuple[dict, Decimal]] = []
    for index, entry in enumerate(sent):
        if not isinstance(entry, dict):
            raise _invalid(f"invoices.{index}", f"The invoices.{index} field must be an object.")
        invoice = next(
            (i for i in company["invoices"] if i["id"] == entry.get("invoice_id") and i["client_id"] == client_id), None
        )
        if invoice is None:
            raise _invalid("invoices", "Invoice not found")
        if any(chosen is invoice for chosen, _amount in allocations):
            raise _invalid("invoices", "Duplicate invoices submitted.")
        if entry.get("amount") is None:
            raise _invalid(f"invoices.{index}.amount", f"The invoices.{index}.amount field is required.")
        amount = _number(entry["amount"], f"invoices.{index}.amount")
        if amount <= 0 or amount.as_tuple().exponent < -2:
            raise _invalid(f"invoices.{index}.amount", "The amount must be positive, with at most 2 decimals.")
        if invoice["status_id"] not in PAYABLE_INVOICE_STATUSES:
            raise _invalid("invoices", "One or more of these invoices have been paid or cancelled.")
        if amount > Decimal(invoice["balance"]):
            raise _invalid("invoices", "The amount is greater than the invoice balance. You cannot overpay an invoice.")
        allocations.append((invoice, amount))
    return allocations


def _refresh_client_totals(company: dict, client_id: str, *, now: int) -> None:
    """The client's balance (what its issued invoices still owe) and paid_to_date (what it paid)."""
    client = _find(company, "client", client_id)
    balance = sum(
        (Decimal(i["balance"]) for i in company["invoices"]
         if i["client_id"] == client_id and i["status_id"] in OWED_INVOICE_STATUSES),
        Decimal(0),
    )  # fmt: skip
    paid = sum((Decimal(p["amount"]) for p in company["payments"] if p["client_id"] == client_id), Decimal(0))
    if (balance, paid) != (Decimal(client["balance"]), Decimal(client["paid_to_date"])):
        client["balance"], client["paid_to_date"], client["updated_at"] = str(balance), str(paid), now


# Webhook subscriptions and deliveries


def create_webhook(token: str, payload: Any) -> dict:
    payload = _object(payload)
    with _operation(token) as (company, _events):
        now = _now()
        webhook = {
            "id": _new_id(), "user_id": company["company"]["user_id"], "event_id": "", "target_url": "",
            "format": "JSON", "rest_method": "post", "headers": {}, "created_at": now, "updated_at": now,
            "archived_at": 0, "is_deleted": False,
        }  # fmt: skip
        for required in ("target_url", "event_id"):
            if payload.get(required) in (None, ""):
                raise _invalid(required, f"The {required.replace('_', ' ')} field is required.")
        _write_webhook(webhook, payload, now=now)
        company["webhooks"].append(webhook)
    return webhook


def update_webhook(token: str, webhook_id: str, payload: Any) -> dict:
    payload = _object(payload)
    with _operation(token) as (company, _events):
        webhook = _find(company, "webhook", webhook_id)
        _write_webhook(webhook, payload, now=_now())
    return webhook


def delete_webhook(token: str, webhook_id: str) -> dict:
    """DELETE /webhooks/{id}: the subscription ends; answers it marked deleted."""
    with _operation(token) as (company, _events):
        webhook = _find(company, "webhook", webhook_id)
        company["webhooks"].remove(webhook)
    return {**webhook, "is_deleted": True, "updated_at": _now()}


def _write_webhook(webhook: dict, payload: dict, *, now: int) -> None:
    if "target_url" in payload:
        target_url = _text(payload, "target_url")
        # Scheme and host only: a demo Hub is often reached by a bare host name (http://web:8000/), no domain.
        parts = urlsplit(target_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _invalid("target_url", "The target url field must be a valid URL.")
        webhook["target_url"] = target_url
    if "event_id" in payload:
        webhook["event_id"] = _id_text(payload["event_id"], "event_id")
    if "rest_method" in payload:
        if payload["rest_method"] not in WEBHOOK_METHODS:
            raise _invalid("rest_method", "The selected rest method is invalid.")
        webhook["rest_method"] = payload["rest_method"]
    if "format" in payload:
        if payload["format"] not in WEBHOOK_FORMATS:
            raise _invalid("format", "The selected format is invalid.")
        webhook["format"] = payload["format"]
    if "headers" in payload:
        headers = payload["headers"] or {}
        if not isinstance(headers, dict) or not all(isinstance(value, str) for value in headers.values()):
            raise _invalid("headers", "The headers field must be an object of texts.")
        webhook["headers"] = headers
    webhook["updated_at"] = now


def find_subscription(token: str, webhook_id: str) -> dict | None:
    """A webhook subscription as a delivery reads it when it runs, or None once it is deleted."""
    company = store.get(_company_key(token)) or {"webhooks": []}
    return next((webhook for webhook in company["webhooks"] if webhook["id"] == webhook_id), None)


def settle_delivery(
    token: str, webhook: dict, *, event_id: str, attempt: int, max_attempts: int, status: int | None, error: str = ""
) -> str:
    """Record one delivery attempt and decide what follows, by WebhookSingle.php's rules.

    2xx: delivered. 404, 405, 410: the subscription is deleted. 400 or >= 500: failed, not tried again.
    Other 4xx and no answer at all (status None): tried again, up to `max_attempts`.
    Returns DELIVERED, SUBSCRIPTION_DELETED, FAILED or RETRY.
    """
    if status is not None and 200 <= status < 300:
        outcome = DELIVERED
    elif status in GONE_STATUSES:
        outcome = SUBSCRIPTION_DELETED
    elif status is not None and (status == 400 or status >= 500):
        outcome = FAILED
    else:
        outcome = RETRY if attempt < max_attempts else FAILED
    record = {
        "event_id": event_id, "webhook_id": webhook["id"], "target_url": webhook["target_url"],
        "rest_method": webhook["rest_method"], "status_code": status, "error": error, "attempt": attempt,
        "outcome": outcome, "sent_at": _now(),
    }  # fmt: skip
    with store.update(_company_key(token)) as company:
        company["deliveries"] = [*company["deliveries"], record][-MAX_DELIVERY_RECORDS:]
        if outcome == SUBSCRIPTION_DELETED:
            company["webhooks"] = [w for w in company["webhooks"] if w["id"] != webhook["id"]]
    return outcome


def _deliveries(company: dict, events: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """(subscription id, event id, body) of each subscription to each event; an event fires once per entity."""
    deliveries = []
    for event_id, kind, entity_id in dict.fromkeys(events):
        subscribers = [webhook for webhook in company["webhooks"] if webhook["event_id"] == event_id]
        if subscribers:
            document = _find(company, kind, entity_id)
            body = compact_json(_with_includes(company, kind, document, EVENT_INCLUDES.get(kind, set()))).decode()
            deliveries += [(webhook["id"], event_id, body) for webhook in subscribers]
    return deliveries


def _send(token: str, deliveries: list[tuple[str, str, str]]) -> None:
    for webhook_id, event_id, body in deliveries:
        deliver_invoice_ninja_webhook.delay(store.reference(token), webhook_id, event_id, body)


@shared_task(
    name="sandbox.tasks.deliver_invoice_ninja_webhook",
    bind=True,
    ignore_result=True,
    max_retries=INVOICE_NINJA_WEBHOOK_ATTEMPTS - 1,
)
def deliver_invoice_ninja_webhook(self, company_reference: str, webhook_id: str, event_id: str, body: str) -> None:
    """Send one event's bare entity to one subscription, as Invoice Ninja's WebhookSingle job does.

    The subscription is read when the attempt runs: one deleted meanwhile gets nothing. The method is the
    subscription's rest_method (POST or PUT), which is why this does not go through `post_webhook`.
    """
    token = store.dereference(company_reference)
    webhook = find_subscription(token, webhook_id) if token else None
    if webhook is None:
        return
    headers = {"Content-Type": "application/json", "Accept": "application/json", **webhook["headers"]}
    attempt = {
        "event_id": event_id,
        "attempt": self.request.retries + 1,
        "max_attempts": INVOICE_NINJA_WEBHOOK_ATTEMPTS,
    }
    sender = SandboxWebhookSender("", scope="invoice_ninja")
    try:
        response = sender.request(
            webhook["rest_method"].upper(), webhook["target_url"], data=body.encode(), headers=headers,
            idempotent=False, authenticated=False,
        )  # fmt: skip
    except ProviderError as error:
        outcome = settle_delivery(token, webhook, **attempt, status=error.status, error=error.message)
        if outcome == RETRY:
            raise self.retry(exc=error, countdown=INVOICE_NINJA_WEBHOOK_RETRY_SECONDS) from error
        if outcome == FAILED:
            raise
        return
    settle_delivery(token, webhook, **attempt, status=response.status)


# The client portal


def open_invitation(kind: str, key: str) -> dict | None:
    """What the portal link of an invitation shows: {company, client, document}; the first view is recorded."""
    reference = store.get(f"invitation:{key}") if key else None
    if reference is None or reference["kind"] != kind:
        return None
    try:
        with store.update(_company_key(reference["token"])) as company:
            document = next((d for d in company[COLLECTIONS[kind]] if d["id"] == reference["id"]), None)
            invitation = next((i for i in (document or {}).get("invitations", []) if i["key"] == key), None)
            if invitation is None:
                return None
            invitation["viewed_date"] = invitation["viewed_date"] or _moment()
            client = _find(company, "client", document["client_id"])
            return {
                "token": reference["token"], "company": company["company"], "client": _out(client),
                "document": _out(document),
            }  # fmt: skip
    except DocumentMissing:
        return None


# Values


def _object(payload: Any) -> dict:
    if not isinstance(payload, dict):
        raise ApiError(400, "The request body must be a JSON object")
    return payload


def _text(payload: Mapping[str, Any], field: str, *, name: str = "") -> str:
    value = payload.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid(name or field, f"The {name or field} field must be a string.")
    return value


def _number(value: Any, name: str) -> Decimal:
    # Request bodies are parsed with Decimal for floats, so a number is never rounded on the way in.
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        number = Decimal(value)
    elif isinstance(value, str) and value.strip():
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise _invalid(name, f"The {name} field must be a number.") from None
    else:
        raise _invalid(name, f"The {name} field must be a number.")
    if not number.is_finite():
        raise _invalid(name, f"The {name} field must be a number.")
    return number


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(name, f"The {name} field must be true or false.")
    return value


def _id_text(value: Any, name: str) -> str:
    """An id of Invoice Ninja's static lists (status, type, country, currency, event): sent as int or string."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not text.isdigit():
        raise _invalid(name, f"The {name} field must be an id.")
    return text


def _date(payload: Mapping[str, Any], field: str) -> str:
    """A Y-m-d date, or "" for none."""
    value = _text(payload, field)
    if value and (not DATE_PATTERN.fullmatch(value) or not _parses_as_date(value)):
        raise _invalid(field, f"The {field} field must match the format Y-m-d.")
    return value


def _parses_as_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _storable(value: Any) -> Any:
    """A JSON value the store can write: Decimal (how request floats are parsed) back to float."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


def _unique_number(company: dict, kind: str, number: str, *, own_id: str) -> str:
    if any(d["number"] == number and d["id"] != own_id for d in company[COLLECTIONS[kind]]):
        raise _invalid("number", NUMBER_TAKEN)
    return number


def _next_number(company: dict, kind: str) -> str:
    """The company's next free number of that kind: the counter, skipping numbers given by hand."""
    taken = {document["number"] for document in company[COLLECTIONS[kind]]}
    while True:
        company["counters"][kind] += 1
        number = str(company["counters"][kind]).zfill(NUMBER_PADDING)
        if number not in taken:
            return number


def _round2(value: Decimal) -> Decimal:
    return value.quantize(CENTIME, rounding=ROUND_HALF_UP)


def _new_id() -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def _now() -> int:
    return int(time.time())


def _today() -> str:
    return timezone.localdate().isoformat()


def _moment() -> str:
    """An invitation's sent/viewed time, as Invoice Ninja writes it ("Y-m-d H:i:s", company time)."""
    return timezone.localtime().strftime("%Y-%m-%d %H:%M:%S")
