"""Invoice Ninja v5 API: clients, quotes, invoices, payments, products, e-mails and webhooks.

Contract: the official spec (specs/invoiceninja-v5-openapi.yaml) and research/api-contracts.md §1.
Every call carries the company's `X-API-TOKEN` and `X-Requested-With: XMLHttpRequest`; answers are
wrapped in `{"data": …}`, lists paged with `per_page`/`page` and described by `meta.pagination`. Ids are
Invoice Ninja's hashed strings, and so are `status_id`, `type_id` and `event_id` in its JSON.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any

import requests

from integrations.clients.base import BaseClient, PermanentProviderError

API_PREFIX = "/api/v1"
# Items per page of the list calls: large pages keep a catch-up sync to a few calls (Invoice Ninja caps at 5000).
PAGE_SIZE = 500
# Invoice Ninja's currency ids (database/seeders/CurrenciesSeeder.php) of the currencies the Hub invoices in.
CURRENCY_IDS = {"CHF": "17", "EUR": "3"}


class InvoiceStatus(StrEnum):
    """app/Models/Invoice.php; −1 (overdue) and −2 (unpaid) are list filters, never an invoice's state."""

    DRAFT = "1"
    SENT = "2"
    PARTIAL = "3"
    PAID = "4"
    CANCELLED = "5"
    REVERSED = "6"


class QuoteStatus(StrEnum):
    """app/Models/Quote.php; −1 (expired) is computed for lists, never stored."""

    DRAFT = "1"
    SENT = "2"
    APPROVED = "3"
    CONVERTED = "4"


class PaymentStatus(StrEnum):
    PENDING = "1"
    CANCELLED = "2"
    FAILED = "3"
    COMPLETED = "4"
    PARTIALLY_REFUNDED = "5"
    REFUNDED = "6"


class PaymentType(StrEnum):
    """app/Models/PaymentType.php: the types the Hub's payment methods map to."""

    BANK_TRANSFER = "1"
    CASH = "2"
    CREDIT_CARD_OTHER = "12"


class WebhookEvent(IntEnum):
    """app/Models/Webhook.php: the events the Hub subscribes to, one URL each (bodies do not name them)."""

    CREATE_INVOICE = 2
    CREATE_QUOTE = 3
    CREATE_PAYMENT = 4
    UPDATE_QUOTE = 6
    UPDATE_INVOICE = 8
    APPROVE_QUOTE = 21
    SENT_INVOICE = 60
    SENT_QUOTE = 61


class EmailTemplate(StrEnum):
    INVOICE = "email_template_invoice"
    QUOTE = "email_template_quote"


def invoice_status(value: Any) -> InvoiceStatus:
    """An invoice's `status_id` as stored by Invoice Ninja; a filter value (−1, −2) is not a state and is refused."""
    try:
        return InvoiceStatus(str(value))
    except ValueError:
        raise PermanentProviderError("invoice_ninja", f"unknown invoice status_id {value!r}") from None


def quote_status(value: Any) -> QuoteStatus:
    try:
        return QuoteStatus(str(value))
    except ValueError:
        raise PermanentProviderError("invoice_ninja", f"unknown quote status_id {value!r}") from None


# Results -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    id: str
    first_name: str
    last_name: str
    email: str
    is_primary: bool

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Contact:
        return cls(
            id=data["id"], first_name=data.get("first_name") or "", last_name=data.get("last_name") or "",
            email=data.get("email") or "", is_primary=bool(data.get("is_primary")),
        )  # fmt: skip


@dataclass(frozen=True)
class Client:
    id: str
    name: str
    number: str
    vat_number: str
    country_id: str
    currency_id: str
    contacts: tuple[Contact, ...]
    updated_at: datetime | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Client:
        return cls(
            id=data["id"], name=data.get("name") or "", number=data.get("number") or "",
            vat_number=data.get("vat_number") or "", country_id=str(data.get("country_id") or ""),
            currency_id=str((data.get("settings") or {}).get("currency_id") or ""),
            contacts=tuple(Contact.from_api(contact) for contact in data.get("contacts") or ()),
            updated_at=_timestamp(data.get("updated_at")),
        )  # fmt: skip


@dataclass(frozen=True)
class Document:
    """An invoice or a quote as Invoice Ninja holds it; `status_id` is the raw string of its own enumeration."""

    id: str
    entity_type: str  # invoice, quote
    number: str
    client_id: str
    status_id: str
    amount: Decimal
    balance: Decimal
    paid_to_date: Decimal
    date: date | None
    due_date: date | None
    last_sent_date: date | None
    link: str  # the client portal link of its first invitation
    is_deleted: bool
    updated_at: datetime | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any], *, entity_type: str) -> Document:
        invitations = data.get("invitations") or ()
        return cls(
            id=data["id"], entity_type=data.get("entity_type") or entity_type, number=data.get("number") or "",
            client_id=data.get("client_id") or "", status_id=str(data.get("status_id") or "1"),
            amount=_decimal(data.get("amount")), balance=_decimal(data.get("balance")),
            paid_to_date=_decimal(data.get("paid_to_date")), date=_date(data.get("date")),
            due_date=_date(data.get("due_date")), last_sent_date=_date(data.get("last_sent_date")),
            link=(invitations[0].get("link") or "") if invitations else "", is_deleted=bool(data.get("is_deleted")),
            updated_at=_timestamp(data.get("updated_at")),
        )  # fmt: skip


@dataclass(frozen=True)
class Payment:
    id: str
    client_id: str
    number: str
    amount: Decimal
    date: date | None
    type_id: str
    status_id: str
    transaction_reference: str
    is_deleted: bool
    # (invoice id, amount) for each invoice the payment settles, from `paymentables` or the `invoices` include.
    invoice_amounts: tuple[tuple[str, Decimal], ...]
    updated_at: datetime | None

    @property
    def is_completed(self) -> bool:
        return self.status_id == PaymentStatus.COMPLETED and not self.is_deleted

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Payment:
        paymentables = data.get("paymentables") or ()
        invoices = data.get("invoices") or ()
        if paymentables:
            shares = tuple((item["invoice_id"], _decimal(item.get("amount"))) for item in paymentables
                           if item.get("invoice_id"))  # fmt: skip
        elif len(invoices) == 1:
            # Without paymentables, a payment of one invoice settles what it applied.
            shares = ((invoices[0]["id"], _decimal(data.get("applied", data.get("amount")))),)
        else:
            shares = ()
        return cls(
            id=data["id"], client_id=data.get("client_id") or "", number=data.get("number") or "",
            amount=_decimal(data.get("amount")), date=_date(data.get("date")), type_id=str(data.get("type_id") or ""),
            status_id=str(data.get("status_id") or ""), transaction_reference=data.get("transaction_reference") or "",
            is_deleted=bool(data.get("is_deleted")), invoice_amounts=shares,
            updated_at=_timestamp(data.get("updated_at")),
        )  # fmt: skip


@dataclass(frozen=True)
class Product:
    id: str
    product_key: str
    notes: str
    cost: Decimal

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Product:
        return cls(id=data["id"], product_key=data.get("product_key") or "", notes=data.get("notes") or "",
                   cost=_decimal(data.get("cost")))  # fmt: skip


@dataclass(frozen=True)
class Webhook:
    id: str
    event_id: int
    target_url: str
    rest_method: str
    header_names: tuple[str, ...]  # the custom headers' names only: their values are secrets

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Webhook:
        return cls(
            id=data["id"], event_id=int(data.get("event_id") or 0), target_url=data.get("target_url") or "",
            rest_method=data.get("rest_method") or "post", header_names=tuple(sorted(data.get("headers") or {})),
        )  # fmt: skip


@dataclass(frozen=True)
class Page:
    data: list[dict]
    current_page: int
    total_pages: int
    total: int

    @property
    def is_last(self) -> bool:
        return self.current_page >= self.total_pages


# The client ------------------------------------------------------------------------------------------


class InvoiceNinjaClient(BaseClient):
    provider = "invoice_ninja"

    def __init__(
        self, base_url: str, *, token: str, scope: str, api_secret: str = "", session: requests.Session | None = None,
        on_outcome=None,
    ) -> None:  # fmt: skip
        """`base_url` is the instance's root (https://invoicing.co, or a self-hosted domain); paths add /api/v1.

        `api_secret` is for self-hosted instances that set API_SECRET: sent as `X-API-SECRET` when given.
        """
        super().__init__(base_url, scope=scope, session=session, on_outcome=on_outcome)
        self.token, self.api_secret = token, api_secret

    def auth_headers(self) -> dict[str, str]:
        headers = {"X-API-TOKEN": self.token, "X-Requested-With": "XMLHttpRequest"}
        return {**headers, "X-API-SECRET": self.api_secret} if self.api_secret else headers

    def error_message(self, response: requests.Response) -> str:
        """Laravel's `{"message": …, "errors": {field: [..]}}`: the message and each field's first error."""
        try:
            body = response.json()
        except ValueError:
            return response.text[:200] or response.reason
        if not isinstance(body, dict):
            return str(body)[:300]
        message = str(body.get("message") or response.reason)
        errors = body.get("errors") or {}
        details = [
            f"{field}: {problems[0]}" for field, problems in errors.items() if isinstance(problems, list) and problems
        ]
        return (message + (" — " + "; ".join(details) if details else ""))[:300]

    def _data(self, method: str, path: str, **kwargs) -> Any:
        response = self.request(method, API_PREFIX + path, **kwargs)
        if not isinstance(response.data, dict) or "data" not in response.data:
            raise PermanentProviderError(self.provider, f"{method} {path}: answer without a data envelope",
                                         status=response.status)  # fmt: skip
        return response.data["data"]

    def page(self, path: str, *, page: int = 1, per_page: int = PAGE_SIZE, **filters: Any) -> Page:
        params = {key: value for key, value in filters.items() if value not in (None, "")}
        response = self.request("GET", API_PREFIX + path, params={**params, "per_page": per_page, "page": page})
        body = response.data if isinstance(response.data, dict) else {}
        pagination = (body.get("meta") or {}).get("pagination") or {}
        items = body.get("data")
        if not isinstance(items, list):
            raise PermanentProviderError(
                self.provider, f"GET {path}: answer without a data list", status=response.status
            )
        return Page(
            data=items, current_page=int(pagination.get("current_page", page)),
            total_pages=int(pagination.get("total_pages", page)), total=int(pagination.get("total", len(items))),
        )  # fmt: skip

    def each(self, path: str, **filters: Any) -> Iterator[dict]:
        """Every item of a list, page after page, following `meta.pagination` to its last page."""
        number = 1
        while True:
            page = self.page(path, page=number, **filters)
            yield from page.data
            if page.is_last or not page.data:
                return
            number += 1

    # Clients

    def clients_by_email(self, email: str) -> list[Client]:
        return [Client.from_api(item) for item in self.page("/clients", email=email, per_page=20).data]

    def client_get(self, client_id: str) -> Client:
        return Client.from_api(self._data("GET", f"/clients/{client_id}"))

    def client_create(self, payload: Mapping[str, Any]) -> Client:
        return Client.from_api(self._data("POST", "/clients", json=payload))

    def client_update(self, client_id: str, payload: Mapping[str, Any]) -> Client:
        """Invoice Ninja deletes the contacts missing from `payload["contacts"]`: send them all, with their ids."""
        return Client.from_api(self._data("PUT", f"/clients/{client_id}", json=payload))

    # Invoices and quotes

    def invoices(
        self, *, updated_since: datetime | None = None, number: str = "", client_id: str = ""
    ) -> Iterator[Document]:
        for item in self.each("/invoices", updated_at=_unix(updated_since), number=number, client_id=client_id):
            yield Document.from_api(item, entity_type="invoice")

    def invoice_get(self, invoice_id: str) -> Document:
        return Document.from_api(self._data("GET", f"/invoices/{invoice_id}"), entity_type="invoice")

    def invoice_create(self, payload: Mapping[str, Any]) -> Document:
        return Document.from_api(self._data("POST", "/invoices", json=payload), entity_type="invoice")

    def invoice_update(self, invoice_id: str, payload: Mapping[str, Any]) -> Document:
        return Document.from_api(self._data("PUT", f"/invoices/{invoice_id}", json=payload), entity_type="invoice")

    def quotes(
        self, *, updated_since: datetime | None = None, number: str = "", client_id: str = ""
    ) -> Iterator[Document]:
        for item in self.each("/quotes", updated_at=_unix(updated_since), number=number, client_id=client_id):
            yield Document.from_api(item, entity_type="quote")

    def quote_get(self, quote_id: str) -> Document:
        return Document.from_api(self._data("GET", f"/quotes/{quote_id}"), entity_type="quote")

    def quote_create(self, payload: Mapping[str, Any]) -> Document:
        return Document.from_api(self._data("POST", "/quotes", json=payload), entity_type="quote")

    def quote_update(self, quote_id: str, payload: Mapping[str, Any]) -> Document:
        return Document.from_api(self._data("PUT", f"/quotes/{quote_id}", json=payload), entity_type="quote")

    def email_send(self, *, entity: str, entity_id: str, template: str) -> Document:
        """E-mail an invoice or quote to its client's contacts (queued by Invoice Ninja, which marks it sent)."""
        body = {"entity": entity, "entity_id": entity_id, "template": template}
        return Document.from_api(self._data("POST", "/emails", json=body), entity_type=entity)

    # Payments

    def payments(
        self, *, updated_since: datetime | None = None, client_id: str = "", text: str = ""
    ) -> Iterator[Payment]:
        filters = {"updated_at": _unix(updated_since), "client_id": client_id, "filter": text, "include": "invoices"}
        for item in self.each("/payments", **filters):
            yield Payment.from_api(item)

    def payment_get(self, payment_id: str) -> Payment:
        return Payment.from_api(self._data("GET", f"/payments/{payment_id}", params={"include": "invoices"}))

    def payment_create(self, payload: Mapping[str, Any]) -> Payment:
        return Payment.from_api(self._data("POST", "/payments", json=payload))

    # Products

    def products(self) -> Iterator[Product]:
        for item in self.each("/products"):
            yield Product.from_api(item)

    def product_create(self, payload: Mapping[str, Any]) -> Product:
        return Product.from_api(self._data("POST", "/products", json=payload))

    def product_update(self, product_id: str, payload: Mapping[str, Any]) -> Product:
        return Product.from_api(self._data("PUT", f"/products/{product_id}", json=payload))

    # Webhooks

    def webhooks(self) -> list[Webhook]:
        return [Webhook.from_api(item) for item in self.each("/webhooks")]

    def webhook_create(self, *, target_url: str, event_id: int, headers: Mapping[str, str]) -> Webhook:
        return Webhook.from_api(self._data("POST", "/webhooks", json=webhook_payload(target_url, event_id, headers)))

    def webhook_update(self, webhook_id: str, *, target_url: str, event_id: int, headers: Mapping[str, str]) -> Webhook:
        payload = webhook_payload(target_url, event_id, headers)
        return Webhook.from_api(self._data("PUT", f"/webhooks/{webhook_id}", json=payload))

    def webhook_delete(self, webhook_id: str) -> None:
        self.request("DELETE", f"{API_PREFIX}/webhooks/{webhook_id}")


def webhook_payload(target_url: str, event_id: int, headers: Mapping[str, str]) -> dict[str, Any]:
    return {"target_url": target_url, "event_id": str(int(event_id)), "rest_method": "post", "format": "JSON",
            "headers": dict(headers)}  # fmt: skip


# Parsing -------------------------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal:
    """Invoice Ninja writes money as JSON numbers (floats): read them through their text, to the centime."""
    if value in (None, ""):
        return Decimal("0.00")
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _date(value: Any) -> date | None:
    return date.fromisoformat(value[:10]) if isinstance(value, str) and value else None


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def _unix(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None
