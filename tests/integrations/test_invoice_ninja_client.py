"""Invoice Ninja v5 client: every endpoint the Hub uses, the status maps, error mapping and the payload builders.

The answers are the contract's examples (research/api-contracts.md §1.6); the requests are checked field by
field and against the official OpenAPI spec.
"""

import copy
import json
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit
from uuid import uuid4

import pytest
import requests
import responses
import yaml
from django.conf import settings
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest
from openapi_core.validation.request.exceptions import InvalidRequestBody, SecurityValidationError
from openapi_schema_validator import OAS30WriteValidator, oas30_format_checker
from responses import matchers

from finance.models import Contact, Invoice, InvoiceLine
from finance.services import documents
from finance.services.documents import LineInput
from finance.services.invoice_ninja import client_payload, document_lines_payload, document_payload, payment_payload
from integrations.clients import invoice_ninja as ninja
from integrations.clients.base import AuthorizationError, PermanentProviderError, TransientProviderError
from integrations.clients.invoice_ninja import (
    InvoiceNinjaClient,
    InvoiceStatus,
    QuoteStatus,
    WebhookEvent,
    invoice_status,
    quote_status,
    webhook_payload,
)
from tests.factories import ClientFactory, InvoiceFactory, PaymentFactory, QuoteFactory, UserFactory, valid_che_uid

D = Decimal
# The hosted instance, one of the spec's servers, so that every request resolves to a path of the spec.
BASE = "https://invoicing.co"
API = f"{BASE}/api/v1"
SPEC = Path(settings.BASE_DIR).parent / "shared" / "specs" / "invoiceninja-v5-openapi.yaml"
TOKEN = "in-company-token-7Hq2"
SECRET = "in-self-hosted-secret"
JSON = "application/json"

CLIENT_ID = "VolejRejNm"
INVOICE_ID = "Wpmbk5ezJn"
QUOTE_ID = "Q7yd3WpLmz"
PAYMENT_ID = "Opnel5aKBz"
PRODUCT_ID = "eP01N"
WEBHOOK_ID = "AS3df3A"
HOOK_URL = "https://hub.example.ch/integrations/webhooks/invoice-ninja/QA/2/"
MUSTER_UID = valid_che_uid(11_628_171)


# Answers -------------------------------------------------------------------------------------------


def client_data(**changes) -> dict:
    """A client as ClientTransformer writes it (contacts are a plain array, ids are hashed strings)."""
    data = {
        "id": CLIENT_ID, "user_id": "Wpmbk5ezJn", "name": "Muster AG", "number": "0007", "display_name": "Muster AG",
        "balance": 1297.2, "paid_to_date": 0, "vat_number": MUSTER_UID, "id_number": "",
        "address1": "Bahnhofstrasse 1", "address2": "", "city": "Zürich", "state": "", "postal_code": "8001",
        "country_id": "756", "settings": {"currency_id": "17"},
        "contacts": [
            {"id": "4w9aAOdvMR", "first_name": "Muster AG", "last_name": "", "email": "billing@muster.ch",
             "phone": "", "is_primary": True, "send_email": True},
            {"id": "Xa1b2C3d4E", "first_name": "Anna", "last_name": "Muster", "email": "anna@muster.ch",
             "phone": "+41 44 123 45 67", "is_primary": False, "send_email": True},
        ],
        "created_at": 1710489600, "updated_at": 1710493200, "archived_at": 0, "is_deleted": False,
    }  # fmt: skip
    return {**data, **changes}


def invoice_data(**changes) -> dict:
    """The contract's create-invoice answer (§1.6), field for field."""
    data = {
        "id": INVOICE_ID, "user_id": "Wpmbk5ezJn", "client_id": CLIENT_ID, "status_id": "2", "number": "2024-0042",
        "po_number": "PO-7781", "date": "2024-03-15", "due_date": "2024-04-14", "last_sent_date": "",
        "amount": 1297.2, "balance": 1297.2, "paid_to_date": 0, "total_taxes": 97.2, "discount": 0,
        "is_amount_discount": False, "uses_inclusive_taxes": False, "tax_name1": "", "tax_rate1": 0,
        "public_notes": "Zahlbar innert 30 Tagen", "private_notes": "",
        "line_items": [
            {"product_key": "Beratung", "notes": "Consulting March 2024", "cost": 150, "quantity": 8, "discount": 0,
             "is_amount_discount": False, "tax_name1": "MWST", "tax_rate1": 8.1, "tax_name2": "", "tax_rate2": 0,
             "tax_name3": "", "tax_rate3": 0, "type_id": "2", "line_total": 1200, "gross_line_total": 1297.2,
             "tax_amount": 97.2, "sort_id": "0", "date": "", "custom_value1": "", "custom_value2": "",
             "custom_value3": "", "custom_value4": ""},
        ],
        "entity_type": "invoice", "is_deleted": False, "created_at": 1710489600, "updated_at": 1710489600,
        "archived_at": 0,
        "invitations": [
            {"id": "xYRdG7dDzO", "client_contact_id": "4w9aAOdvMR", "key": "ab12cd34ef56gh78",
             "link": "https://invoicing.co/client/invoice/ab12cd34ef56gh78", "sent_date": "", "viewed_date": "",
             "opened_date": ""},
            {"id": "zZ9dG7dDzO", "client_contact_id": "Xa1b2C3d4E", "key": "zz98yy76xx54ww32",
             "link": "https://invoicing.co/client/invoice/zz98yy76xx54ww32", "sent_date": "", "viewed_date": "",
             "opened_date": ""},
        ],
        "documents": [],
    }  # fmt: skip
    return {**data, **changes}


def quote_data(**changes) -> dict:
    data = invoice_data(
        id=QUOTE_ID, number="0007", status_id="2", amount=972.9, balance=972.9, total_taxes=72.9,
        last_sent_date="2024-03-15", entity_type="quote", invoice_id="", updated_at=1711623600,
        invitations=[{"id": "qYRdG7dDzO", "client_contact_id": "4w9aAOdvMR", "key": "qk12cd34ef56gh78",
                      "link": "https://invoicing.co/client/quote/qk12cd34ef56gh78"}],
    )  # fmt: skip
    return {**data, **changes}


def payment_data(**changes) -> dict:
    """The contract's create_payment webhook body (§1.6), which is also what GET /payments/{id} holds."""
    data = {
        "id": PAYMENT_ID, "user_id": "Wpmbk5ezJn", "client_id": CLIENT_ID, "amount": 1297.2, "applied": 1297.2,
        "refunded": 0, "date": "2024-03-28", "type_id": "1", "status_id": "4", "number": "0017",
        "transaction_reference": "REVOLUT-630f9a62", "is_manual": True, "is_deleted": False, "currency_id": "17",
        "exchange_rate": 1, "created_at": 1711620000, "updated_at": 1711620000, "archived_at": 0,
        "paymentables": [{"id": "d2J3nkeE8j", "invoice_id": INVOICE_ID, "amount": 1297.2, "refunded": 0,
                          "created_at": 1711620000, "updated_at": 1711620000}],
        "invoices": [{"id": INVOICE_ID, "number": "2024-0042", "status_id": "4", "amount": 1297.2, "balance": 0}],
        "client": {"id": CLIENT_ID, "name": "Muster AG", "number": "0007"},
        "documents": [],
    }  # fmt: skip
    return {**data, **changes}


def product_data(**changes) -> dict:
    data = {
        "id": PRODUCT_ID, "user_id": "Wpmbk5ezJn", "product_key": "LED-P2.5", "notes": "Module LED P2.5 intérieur",
        "cost": 120.5, "price": 180, "quantity": 1, "tax_name1": "TVA", "tax_rate1": 8.1, "is_deleted": False,
        "created_at": 1710489600, "updated_at": 1710489600, "archived_at": 0,
    }  # fmt: skip
    return {**data, **changes}


def webhook_data(**changes) -> dict:
    """WebhookTransformer: event_id is a string, the custom headers come back with their values."""
    data = {
        "id": WEBHOOK_ID, "event_id": "2", "target_url": HOOK_URL, "format": "JSON", "rest_method": "post",
        "headers": {"X-Webhook-Secret": "wh-secret-value", "X-Hub-Company": "QA"}, "is_deleted": False,
        "created_at": 1710489600, "updated_at": 1710489600, "archived_at": 0,
    }  # fmt: skip
    return {**data, **changes}


def listing(items: list[dict], *, page: int = 1, total_pages: int = 1, per_page: int = 2) -> dict:
    """The list skeleton of §1.6: `data` and the Fractal `meta.pagination`."""
    total = (total_pages - 1) * per_page + len(items) if page == total_pages else total_pages * per_page
    links = {"next": f"{API}/invoices?page={page + 1}"} if page < total_pages else {}
    pagination = {"total": total, "count": len(items), "per_page": per_page, "current_page": page,
                  "total_pages": total_pages, "links": links}  # fmt: skip
    return {"data": items, "meta": {"pagination": pagination}}


# What the client reads from them.

MUSTER = ninja.Client(
    id=CLIENT_ID, name="Muster AG", number="0007", vat_number=MUSTER_UID, country_id="756", currency_id="17",
    contacts=(
        ninja.Contact(id="4w9aAOdvMR", first_name="Muster AG", last_name="", email="billing@muster.ch",
                      is_primary=True),
        ninja.Contact(id="Xa1b2C3d4E", first_name="Anna", last_name="Muster", email="anna@muster.ch",
                      is_primary=False),
    ),
    updated_at=datetime(2024, 3, 15, 9, 0, tzinfo=UTC),
)  # fmt: skip
INVOICE_0042 = ninja.Document(
    id=INVOICE_ID, entity_type="invoice", number="2024-0042", client_id=CLIENT_ID, status_id="2",
    amount=D("1297.20"), balance=D("1297.20"), paid_to_date=D("0.00"), date=date(2024, 3, 15),
    due_date=date(2024, 4, 14), last_sent_date=None, link="https://invoicing.co/client/invoice/ab12cd34ef56gh78",
    is_deleted=False, updated_at=datetime(2024, 3, 15, 8, 0, tzinfo=UTC),
)  # fmt: skip
QUOTE_0007 = ninja.Document(
    id=QUOTE_ID, entity_type="quote", number="0007", client_id=CLIENT_ID, status_id="2", amount=D("972.90"),
    balance=D("972.90"), paid_to_date=D("0.00"), date=date(2024, 3, 15), due_date=date(2024, 4, 14),
    last_sent_date=date(2024, 3, 15), link="https://invoicing.co/client/quote/qk12cd34ef56gh78", is_deleted=False,
    updated_at=datetime(2024, 3, 28, 11, 0, tzinfo=UTC),
)  # fmt: skip
PAYMENT_0017 = ninja.Payment(
    id=PAYMENT_ID, client_id=CLIENT_ID, number="0017", amount=D("1297.20"), date=date(2024, 3, 28), type_id="1",
    status_id="4", transaction_reference="REVOLUT-630f9a62", is_deleted=False,
    invoice_amounts=((INVOICE_ID, D("1297.20")),), updated_at=datetime(2024, 3, 28, 10, 0, tzinfo=UTC),
)  # fmt: skip
LED_MODULE = ninja.Product(id=PRODUCT_ID, product_key="LED-P2.5", notes="Module LED P2.5 intérieur", cost=D("120.50"))
CREATE_INVOICE_HOOK = ninja.Webhook(
    id=WEBHOOK_ID, event_id=2, target_url=HOOK_URL, rest_method="post",
    header_names=("X-Hub-Company", "X-Webhook-Secret"),
)  # fmt: skip


def cents(*amounts: Decimal) -> list[str]:
    """Amounts as text: equal Decimals may differ in exponent, the client's are always to the centime."""
    return [str(amount) for amount in amounts]


# Fixtures and helpers ----------------------------------------------------------------------------------


@pytest.fixture
def api():
    # A circuit of its own per test, so no test sees another's failures.
    return InvoiceNinjaClient(BASE, token=TOKEN, scope=f"test-{uuid4().hex}")


def sent(call) -> tuple[str, str, dict[str, str], object]:
    """(method, path, query, JSON body) of a request; a parameter sent twice fails."""
    url = urlsplit(call.request.url)
    pairs = parse_qsl(url.query, keep_blank_values=True)
    assert len(pairs) == len(dict(pairs)), pairs
    body = json.loads(call.request.body) if call.request.body else None
    return call.request.method, url.path, dict(pairs), body


def assert_headers(call, *, secret: str | None = None, body: bool = False) -> None:
    headers = call.request.headers
    assert (headers["X-API-TOKEN"], headers["X-Requested-With"], headers["Accept"]) == (
        TOKEN, "XMLHttpRequest", JSON,
    )  # fmt: skip
    if secret is None:
        assert "X-API-SECRET" not in headers
    else:
        assert headers["X-API-SECRET"] == secret
    if body:
        assert headers["Content-Type"] == JSON
    else:
        assert "Content-Type" not in headers


# Clients -------------------------------------------------------------------------------------------


def test_clients_by_email_asks_for_one_page_of_twenty(api, http):
    http.get(f"{API}/clients", json=listing([client_data()]))

    found = api.clients_by_email("billing@muster.ch")

    assert found == [MUSTER]
    assert sent(http.calls[0]) == (
        "GET", "/api/v1/clients", {"email": "billing@muster.ch", "per_page": "20", "page": "1"}, None,
    )  # fmt: skip
    assert_headers(http.calls[0])


def test_client_get(api, http):
    http.get(f"{API}/clients/{CLIENT_ID}", json={"data": client_data()})

    assert api.client_get(CLIENT_ID) == MUSTER
    assert sent(http.calls[0]) == ("GET", f"/api/v1/clients/{CLIENT_ID}", {}, None)
    assert_headers(http.calls[0])


def test_a_client_without_settings_contacts_or_timestamps_reads_as_empty(api, http):
    bare = {"id": CLIENT_ID, "name": "Muster AG", "country_id": None, "settings": None, "contacts": None}
    http.get(f"{API}/clients/{CLIENT_ID}", json={"data": bare})

    assert api.client_get(CLIENT_ID) == ninja.Client(
        id=CLIENT_ID, name="Muster AG", number="", vat_number="", country_id="", currency_id="", contacts=(),
        updated_at=None,
    )  # fmt: skip


def test_client_create_posts_the_payload_as_json(api, http):
    payload = {"name": "Muster AG", "country_id": "756", "settings": {"currency_id": "17"},
               "contacts": [{"first_name": "Muster AG", "email": "billing@muster.ch", "is_primary": True}]}  # fmt: skip
    http.post(f"{API}/clients", json={"data": client_data()})

    assert api.client_create(payload) == MUSTER
    assert sent(http.calls[0]) == ("POST", "/api/v1/clients", {}, payload)
    assert_headers(http.calls[0], body=True)


def test_client_update_puts_the_payload_to_the_client(api, http):
    payload = {"name": "Muster AG", "country_id": "756", "settings": {"currency_id": "17"},
               "contacts": [{"id": "4w9aAOdvMR", "email": "billing@muster.ch", "is_primary": True}]}  # fmt: skip
    http.put(f"{API}/clients/{CLIENT_ID}", json={"data": client_data()})

    assert api.client_update(CLIENT_ID, payload) == MUSTER
    assert sent(http.calls[0]) == ("PUT", f"/api/v1/clients/{CLIENT_ID}", {}, payload)
    assert_headers(http.calls[0], body=True)


def test_the_api_secret_is_sent_only_when_given(http):
    http.get(f"{API}/clients/{CLIENT_ID}", json={"data": client_data()})
    http.post(f"{API}/clients", json={"data": client_data()})
    self_hosted = InvoiceNinjaClient(f"{BASE}/", token=TOKEN, api_secret=SECRET, scope=f"test-{uuid4().hex}")

    self_hosted.client_get(CLIENT_ID)
    self_hosted.client_create({"name": "Muster AG"})

    assert [call.request.url for call in http.calls] == [f"{API}/clients/{CLIENT_ID}", f"{API}/clients"]
    assert_headers(http.calls[0], secret=SECRET)
    assert_headers(http.calls[1], secret=SECRET, body=True)


# Invoices and quotes --------------------------------------------------------------------------------


def test_invoices_follow_meta_pagination_with_the_filters_on_every_page(api, http):
    filters = {"updated_at": "1709251200", "number": "2024-0042", "client_id": CLIENT_ID, "per_page": "500"}
    first = [
        {"id": INVOICE_ID, "status_id": "2", "number": "2024-0042", "amount": 1297.2, "balance": 1297.2,
         "client_id": CLIENT_ID},
        {"id": "Xk9mZ2pQrT", "status_id": "4", "number": "2024-0042", "amount": 1081.0000000000002, "balance": 0,
         "paid_to_date": 1081, "client_id": CLIENT_ID, "is_deleted": True, "updated_at": 1711620000},
    ]  # fmt: skip
    second = [{"id": "Rb3nY7kLq0", "status_id": 3, "number": "2024-0042", "amount": 540.5, "balance": 40.5,
               "paid_to_date": 500, "client_id": CLIENT_ID}]  # fmt: skip
    http.get(f"{API}/invoices", json=listing(first, page=1, total_pages=2),
             match=[matchers.query_param_matcher({**filters, "page": "1"})])  # fmt: skip
    http.get(f"{API}/invoices", json=listing(second, page=2, total_pages=2),
             match=[matchers.query_param_matcher({**filters, "page": "2"})])  # fmt: skip

    found = list(api.invoices(updated_since=datetime(2024, 3, 1, tzinfo=UTC), number="2024-0042", client_id=CLIENT_ID))

    assert [sent(call)[:3] for call in http.calls] == [
        ("GET", "/api/v1/invoices", {**filters, "page": "1"}),
        ("GET", "/api/v1/invoices", {**filters, "page": "2"}),
    ]
    empty = {"date": None, "due_date": None, "last_sent_date": None, "link": "", "updated_at": None}
    assert found == [
        ninja.Document(id=INVOICE_ID, entity_type="invoice", number="2024-0042", client_id=CLIENT_ID, status_id="2",
                       amount=D("1297.20"), balance=D("1297.20"), paid_to_date=D("0.00"), is_deleted=False, **empty),
        ninja.Document(id="Xk9mZ2pQrT", entity_type="invoice", number="2024-0042", client_id=CLIENT_ID,
                       status_id="4", amount=D("1081.00"), balance=D("0.00"), paid_to_date=D("1081.00"),
                       is_deleted=True, **{**empty, "updated_at": datetime(2024, 3, 28, 10, 0, tzinfo=UTC)}),
        ninja.Document(id="Rb3nY7kLq0", entity_type="invoice", number="2024-0042", client_id=CLIENT_ID,
                       status_id="3", amount=D("540.50"), balance=D("40.50"), paid_to_date=D("500.00"),
                       is_deleted=False, **empty),
    ]  # fmt: skip
    # Float noise is read away through the number's text, to the centime.
    assert cents(found[1].amount, found[1].balance, found[2].paid_to_date) == ["1081.00", "0.00", "500.00"]
    for call in http.calls:
        assert_headers(call)


def test_invoices_without_filters_send_only_the_paging(api, http):
    http.get(f"{API}/invoices", json=listing([invoice_data()]))

    assert list(api.invoices()) == [INVOICE_0042]
    assert sent(http.calls[0]) == ("GET", "/api/v1/invoices", {"per_page": "500", "page": "1"}, None)


def test_a_listing_stops_at_an_empty_page_whatever_the_pagination_claims(api, http):
    http.get(f"{API}/invoices", json=listing([], page=1, total_pages=5))

    assert list(api.invoices()) == []
    assert len(http.calls) == 1


def test_invoice_get_reads_every_field_and_the_first_invitations_link(api, http):
    http.get(f"{API}/invoices/{INVOICE_ID}", json={"data": invoice_data()})

    found = api.invoice_get(INVOICE_ID)

    assert found == INVOICE_0042
    assert cents(found.amount, found.balance, found.paid_to_date) == ["1297.20", "1297.20", "0.00"]
    assert sent(http.calls[0]) == ("GET", f"/api/v1/invoices/{INVOICE_ID}", {}, None)
    assert_headers(http.calls[0])


def test_a_document_without_a_status_or_invitations_is_a_draft_without_link(api, http):
    http.get(f"{API}/invoices/{INVOICE_ID}", json={"data": invoice_data(status_id="", invitations=[])})

    found = api.invoice_get(INVOICE_ID)

    assert (found.status_id, found.link) == ("1", "")


def test_invoice_create(api, http):
    payload = {"client_id": CLIENT_ID, "number": "2024-0042", "date": "2024-03-15", "line_items": []}
    http.post(f"{API}/invoices", json={"data": invoice_data()})

    assert api.invoice_create(payload) == INVOICE_0042
    assert sent(http.calls[0]) == ("POST", "/api/v1/invoices", {}, payload)
    assert_headers(http.calls[0], body=True)


def test_invoice_update(api, http):
    payload = {"client_id": CLIENT_ID, "number": "2024-0042", "date": "2024-03-15", "line_items": []}
    http.put(f"{API}/invoices/{INVOICE_ID}", json={"data": invoice_data(status_id="1")})

    updated = api.invoice_update(INVOICE_ID, payload)

    assert updated.status_id == InvoiceStatus.DRAFT
    assert sent(http.calls[0]) == ("PUT", f"/api/v1/invoices/{INVOICE_ID}", {}, payload)
    assert_headers(http.calls[0], body=True)


def test_quotes_by_number(api, http):
    http.get(f"{API}/quotes", json=listing([quote_data()]),
             match=[matchers.query_param_matcher({"number": "0007", "per_page": "500", "page": "1"})])  # fmt: skip

    assert list(api.quotes(number="0007")) == [QUOTE_0007]
    assert sent(http.calls[0]) == ("GET", "/api/v1/quotes", {"number": "0007", "per_page": "500", "page": "1"}, None)
    assert_headers(http.calls[0])


def test_quotes_with_every_filter(api, http):
    query = {"updated_at": "1711620000", "client_id": CLIENT_ID, "per_page": "500", "page": "1"}
    http.get(f"{API}/quotes", json=listing([quote_data()]), match=[matchers.query_param_matcher(query)])

    found = list(api.quotes(updated_since=datetime(2024, 3, 28, 10, 0, tzinfo=UTC), client_id=CLIENT_ID))

    assert found == [QUOTE_0007]


def test_quote_get(api, http):
    http.get(f"{API}/quotes/{QUOTE_ID}", json={"data": quote_data()})

    found = api.quote_get(QUOTE_ID)

    assert found == QUOTE_0007
    assert cents(found.amount, found.balance) == ["972.90", "972.90"]
    assert sent(http.calls[0]) == ("GET", f"/api/v1/quotes/{QUOTE_ID}", {}, None)
    assert_headers(http.calls[0])


def test_quote_create(api, http):
    payload = {"client_id": CLIENT_ID, "number": "0007", "date": "2024-03-15", "due_date": "2024-04-14"}
    http.post(f"{API}/quotes", json={"data": quote_data()})

    assert api.quote_create(payload) == QUOTE_0007
    assert sent(http.calls[0]) == ("POST", "/api/v1/quotes", {}, payload)
    assert_headers(http.calls[0], body=True)


def test_quote_update(api, http):
    payload = {"client_id": CLIENT_ID, "number": "0007", "date": "2024-03-15", "due_date": "2024-04-14"}
    http.put(f"{API}/quotes/{QUOTE_ID}", json={"data": quote_data(status_id="3")})

    updated = api.quote_update(QUOTE_ID, payload)

    assert (updated.id, updated.entity_type, updated.status_id) == (QUOTE_ID, "quote", QuoteStatus.APPROVED)
    assert sent(http.calls[0]) == ("PUT", f"/api/v1/quotes/{QUOTE_ID}", {}, payload)
    assert_headers(http.calls[0], body=True)


def test_email_send_posts_entity_id_and_template_and_reads_the_sent_invoice(api, http):
    http.post(f"{API}/emails", json={"data": invoice_data(last_sent_date="2024-03-16")})

    emailed = api.email_send(entity="invoice", entity_id=INVOICE_ID, template=ninja.EmailTemplate.INVOICE)

    assert emailed == replace(INVOICE_0042, last_sent_date=date(2024, 3, 16))
    assert sent(http.calls[0]) == (
        "POST", "/api/v1/emails", {},
        {"entity": "invoice", "entity_id": INVOICE_ID, "template": "email_template_invoice"},
    )  # fmt: skip
    assert_headers(http.calls[0], body=True)


def test_email_send_of_a_quote_takes_the_entity_type_from_the_call(api, http):
    answer = quote_data()
    del answer["entity_type"]
    http.post(f"{API}/emails", json={"data": answer})

    emailed = api.email_send(entity="quote", entity_id=QUOTE_ID, template=ninja.EmailTemplate.QUOTE)

    assert emailed == QUOTE_0007
    assert sent(http.calls[0])[3] == {"entity": "quote", "entity_id": QUOTE_ID, "template": "email_template_quote"}


# Payments -----------------------------------------------------------------------------------------


def test_payments_include_their_invoices_and_filter_by_client_text_and_date(api, http):
    query = {"updated_at": "1711620000", "client_id": CLIENT_ID, "filter": "HUB-P42", "include": "invoices",
             "per_page": "500"}  # fmt: skip
    second = payment_data(id="Kd8sJ2mPq1", number="0018", status_id="1", transaction_reference="HUB-P42 Virement",
                          updated_at=1711623600)  # fmt: skip
    http.get(f"{API}/payments", json=listing([payment_data()], page=1, total_pages=2),
             match=[matchers.query_param_matcher({**query, "page": "1"})])  # fmt: skip
    http.get(f"{API}/payments", json=listing([second], page=2, total_pages=2),
             match=[matchers.query_param_matcher({**query, "page": "2"})])  # fmt: skip

    found = list(api.payments(updated_since=datetime(2024, 3, 28, 10, 0, tzinfo=UTC), client_id=CLIENT_ID,
                              text="HUB-P42"))  # fmt: skip

    assert found == [
        PAYMENT_0017,
        replace(PAYMENT_0017, id="Kd8sJ2mPq1", number="0018", status_id="1",
                transaction_reference="HUB-P42 Virement", updated_at=datetime(2024, 3, 28, 11, 0, tzinfo=UTC)),
    ]  # fmt: skip
    assert [payment.is_completed for payment in found] == [True, False]
    assert [sent(call)[2]["page"] for call in http.calls] == ["1", "2"]
    for call in http.calls:
        assert_headers(call)


def test_payment_get_includes_the_invoices(api, http):
    http.get(f"{API}/payments/{PAYMENT_ID}", json={"data": payment_data()})

    found = api.payment_get(PAYMENT_ID)

    assert found == PAYMENT_0017
    assert found.is_completed is True
    assert cents(found.amount, found.invoice_amounts[0][1]) == ["1297.20", "1297.20"]
    assert sent(http.calls[0]) == ("GET", f"/api/v1/payments/{PAYMENT_ID}", {"include": "invoices"}, None)
    assert_headers(http.calls[0])


def test_payment_create(api, http):
    payload = {"client_id": CLIENT_ID, "amount": 1297.2, "date": "2024-03-28", "type_id": "1",
               "transaction_reference": "HUB-P42",
               "invoices": [{"invoice_id": INVOICE_ID, "amount": 1297.2}]}  # fmt: skip
    http.post(f"{API}/payments", json={"data": payment_data(transaction_reference="HUB-P42")})

    created = api.payment_create(payload)

    assert created == replace(PAYMENT_0017, transaction_reference="HUB-P42")
    assert sent(http.calls[0]) == ("POST", "/api/v1/payments", {}, payload)
    assert_headers(http.calls[0], body=True)


def test_a_payment_settling_two_invoices_and_a_credit_shares_by_its_paymentables():
    data = payment_data(
        amount=1621.7, applied=1621.7,
        paymentables=[
            {"id": "p1", "invoice_id": INVOICE_ID, "amount": 1081.0000000000002, "refunded": 0},
            {"id": "p2", "invoice_id": "Xk9mZ2pQrT", "amount": 540.5, "refunded": 0},
            {"id": "p3", "credit_id": "Cr3d1tId00", "amount": 100, "refunded": 0},
        ],
        invoices=[{"id": INVOICE_ID}, {"id": "Xk9mZ2pQrT"}],
    )  # fmt: skip

    payment = ninja.Payment.from_api(data)

    assert payment.invoice_amounts == ((INVOICE_ID, D("1081.00")), ("Xk9mZ2pQrT", D("540.50")))
    assert cents(*(amount for _invoice, amount in payment.invoice_amounts)) == ["1081.00", "540.50"]


def test_without_paymentables_a_payment_of_one_invoice_settles_what_it_applied():
    one = ninja.Payment.from_api(payment_data(paymentables=[], amount=1300, applied=1297.2))
    two = ninja.Payment.from_api(payment_data(paymentables=[], invoices=[{"id": INVOICE_ID}, {"id": "Xk9mZ2pQrT"}]))

    assert (one.amount, one.invoice_amounts) == (D("1300.00"), ((INVOICE_ID, D("1297.20")),))
    assert two.invoice_amounts == ()


@pytest.mark.parametrize(
    ("status_id", "is_deleted", "completed"),
    [("4", False, True), (4, False, True), ("4", True, False), ("1", False, False), ("5", False, False),
     ("6", False, False)],
)  # fmt: skip
def test_only_a_completed_payment_that_is_not_deleted_is_completed(status_id, is_deleted, completed):
    payment = ninja.Payment.from_api(payment_data(status_id=status_id, is_deleted=is_deleted))

    assert (payment.status_id, payment.is_completed) == (str(status_id), completed)


# Products ----------------------------------------------------------------------------------------


def test_products_are_listed_page_by_page(api, http):
    second = product_data(id="eP02N", product_key="CTRL-NOVA", notes="Contrôleur NovaStar", cost=890)
    http.get(f"{API}/products", json=listing([product_data()], page=1, total_pages=2),
             match=[matchers.query_param_matcher({"per_page": "500", "page": "1"})])  # fmt: skip
    http.get(f"{API}/products", json=listing([second], page=2, total_pages=2),
             match=[matchers.query_param_matcher({"per_page": "500", "page": "2"})])  # fmt: skip

    assert list(api.products()) == [
        LED_MODULE, ninja.Product(id="eP02N", product_key="CTRL-NOVA", notes="Contrôleur NovaStar", cost=D("890.00")),
    ]  # fmt: skip
    for call in http.calls:
        assert_headers(call)


PRODUCT_PAYLOAD = {"product_key": "LED-P2.5", "notes": "Module LED P2.5 intérieur", "cost": 120.5, "price": 180.0,
                   "quantity": 1.0, "tax_name1": "TVA", "tax_rate1": 8.1}  # fmt: skip


def test_product_create(api, http):
    http.post(f"{API}/products", json={"data": product_data()})

    assert api.product_create(PRODUCT_PAYLOAD) == LED_MODULE
    assert sent(http.calls[0]) == ("POST", "/api/v1/products", {}, PRODUCT_PAYLOAD)
    assert_headers(http.calls[0], body=True)


def test_product_update(api, http):
    payload = {**PRODUCT_PAYLOAD, "cost": 125.0}
    http.put(f"{API}/products/{PRODUCT_ID}", json={"data": product_data(cost=125)})

    updated = api.product_update(PRODUCT_ID, payload)

    assert updated == replace(LED_MODULE, cost=D("125.00"))
    assert cents(updated.cost) == ["125.00"]
    assert sent(http.calls[0]) == ("PUT", f"/api/v1/products/{PRODUCT_ID}", {}, payload)
    assert_headers(http.calls[0], body=True)


# Webhooks ----------------------------------------------------------------------------------------


def test_webhooks_keep_only_the_names_of_their_custom_headers(api, http):
    other = webhook_data(id="BT4eg4B", event_id="60", target_url=HOOK_URL.replace("/2/", "/60/"), rest_method="put",
                         headers=[])  # fmt: skip
    http.get(f"{API}/webhooks", json=listing([webhook_data(), other]),
             match=[matchers.query_param_matcher({"per_page": "500", "page": "1"})])  # fmt: skip

    assert api.webhooks() == [
        CREATE_INVOICE_HOOK,
        ninja.Webhook(id="BT4eg4B", event_id=60, target_url=HOOK_URL.replace("/2/", "/60/"), rest_method="put",
                      header_names=()),
    ]  # fmt: skip
    assert_headers(http.calls[0])


def test_webhook_create_posts_the_documented_body(api, http):
    http.post(f"{API}/webhooks", json={"data": webhook_data()})

    created = api.webhook_create(
        target_url=HOOK_URL, event_id=WebhookEvent.CREATE_INVOICE,
        headers={"X-Webhook-Secret": "wh-secret-value", "X-Hub-Company": "QA"},
    )  # fmt: skip

    assert created == CREATE_INVOICE_HOOK
    assert sent(http.calls[0]) == ("POST", "/api/v1/webhooks", {}, {
        "target_url": HOOK_URL, "event_id": "2", "rest_method": "post", "format": "JSON",
        "headers": {"X-Webhook-Secret": "wh-secret-value", "X-Hub-Company": "QA"},
    })  # fmt: skip
    assert_headers(http.calls[0], body=True)


def test_webhook_update_puts_the_same_body_to_the_webhook(api, http):
    url = HOOK_URL.replace("/2/", "/61/")
    http.put(f"{API}/webhooks/{WEBHOOK_ID}", json={"data": webhook_data(event_id="61", target_url=url)})

    updated = api.webhook_update(WEBHOOK_ID, target_url=url, event_id=61, headers={"X-Webhook-Secret": "rotated"})

    assert updated == replace(CREATE_INVOICE_HOOK, event_id=61, target_url=url)
    assert sent(http.calls[0]) == ("PUT", f"/api/v1/webhooks/{WEBHOOK_ID}", {}, {
        "target_url": url, "event_id": "61", "rest_method": "post", "format": "JSON",
        "headers": {"X-Webhook-Secret": "rotated"},
    })  # fmt: skip
    assert_headers(http.calls[0], body=True)


def test_webhook_delete(api, http):
    http.delete(f"{API}/webhooks/{WEBHOOK_ID}", json={"data": webhook_data(is_deleted=True)})

    assert api.webhook_delete(WEBHOOK_ID) is None
    assert sent(http.calls[0]) == ("DELETE", f"/api/v1/webhooks/{WEBHOOK_ID}", {}, None)
    assert_headers(http.calls[0])


def test_webhook_payload_sends_the_event_id_as_a_string():
    assert webhook_payload(HOOK_URL, WebhookEvent.APPROVE_QUOTE, {"X-Webhook-Secret": "s"}) == {
        "target_url": HOOK_URL, "event_id": "21", "rest_method": "post", "format": "JSON",
        "headers": {"X-Webhook-Secret": "s"},
    }  # fmt: skip


# Errors ------------------------------------------------------------------------------------------


def test_an_invalid_token_is_an_authorization_error_with_invoice_ninjas_message(api, http, waits):
    http.get(f"{API}/clients/{CLIENT_ID}", status=403, json={"message": "Invalid token", "errors": {}})

    with pytest.raises(AuthorizationError) as raised:
        api.client_get(CLIENT_ID)

    assert (raised.value.status, raised.value.message, raised.value.provider) == (403, "Invalid token", "invoice_ninja")
    assert (len(http.calls), waits) == (1, [])


def test_a_422_is_permanent_and_names_each_fields_first_error(api, http, waits):
    http.post(f"{API}/invoices", status=422, json={
        "message": "The given data was invalid.",
        "errors": {"number": ["The number has already been taken.", "The number may not be greater than 191."],
                   "client_id": ["The selected client id is invalid."]},
    })  # fmt: skip

    with pytest.raises(PermanentProviderError) as raised:
        api.invoice_create({"client_id": "nope", "number": "2024-0042"})

    assert type(raised.value) is PermanentProviderError
    assert (raised.value.status, raised.value.message) == (
        422,
        "The given data was invalid. — number: The number has already been taken.; "
        "client_id: The selected client id is invalid.",
    )
    assert (len(http.calls), waits) == (1, [])


@pytest.mark.parametrize(
    ("method", "path", "call"),
    [
        ("GET", f"/invoices/{INVOICE_ID}", lambda api: api.invoice_get(INVOICE_ID)),
        ("GET", "/invoices", lambda api: list(api.invoices())),
        ("PUT", f"/clients/{CLIENT_ID}", lambda api: api.client_update(CLIENT_ID, {"name": "Muster AG"})),
        ("DELETE", f"/webhooks/{WEBHOOK_ID}", lambda api: api.webhook_delete(WEBHOOK_ID)),
    ],
    ids=["get", "list", "put", "delete"],
)
def test_an_idempotent_call_failing_with_500_is_tried_three_times_then_transient(api, http, waits, method, path, call):
    http.add(method, f"{API}{path}", status=500, json={"message": "Server Error"})

    with pytest.raises(TransientProviderError) as raised:
        call(api)

    assert (raised.value.status, raised.value.message) == (500, "Server Error")
    assert (len(http.calls), waits) == (3, [0.5, 1.0])


@pytest.mark.parametrize(
    ("path", "call"),
    [
        ("/invoices", lambda api: api.invoice_create({"client_id": CLIENT_ID})),
        ("/payments", lambda api: api.payment_create({"client_id": CLIENT_ID, "amount": 10.0})),
        ("/emails", lambda api: api.email_send(entity="quote", entity_id=QUOTE_ID, template="email_template_quote")),
    ],
    ids=["invoice", "payment", "email"],
)
def test_a_post_failing_with_500_is_not_retried(api, http, waits, path, call):
    http.post(f"{API}{path}", status=500, json={"message": "Server Error"})

    with pytest.raises(TransientProviderError):
        call(api)

    assert (len(http.calls), waits) == (1, [])


def test_an_answer_without_the_data_envelope_is_permanent(api, http):
    http.get(f"{API}/clients/{CLIENT_ID}", json=client_data())

    with pytest.raises(PermanentProviderError) as raised:
        api.client_get(CLIENT_ID)

    assert (raised.value.status, raised.value.message) == (
        200, f"GET /clients/{CLIENT_ID}: answer without a data envelope",
    )  # fmt: skip


def test_a_list_without_a_data_list_is_permanent(api, http):
    http.get(f"{API}/invoices", json={"data": invoice_data()})

    with pytest.raises(PermanentProviderError) as raised:
        list(api.invoices())

    assert (raised.value.status, raised.value.message) == (200, "GET /invoices: answer without a data list")


# Status maps ---------------------------------------------------------------------------------------


def test_invoice_and_quote_statuses_are_invoice_ninjas_strings():
    assert [(status.name, status.value) for status in InvoiceStatus] == [
        ("DRAFT", "1"), ("SENT", "2"), ("PARTIAL", "3"), ("PAID", "4"), ("CANCELLED", "5"), ("REVERSED", "6"),
    ]  # fmt: skip
    assert [(status.name, status.value) for status in QuoteStatus] == [
        ("DRAFT", "1"), ("SENT", "2"), ("APPROVED", "3"), ("CONVERTED", "4"),
    ]  # fmt: skip


def test_a_status_id_maps_from_its_string_or_its_number():
    assert [invoice_status(value) for value in ("1", "4", 4, 6)] == [
        InvoiceStatus.DRAFT, InvoiceStatus.PAID, InvoiceStatus.PAID, InvoiceStatus.REVERSED,
    ]  # fmt: skip
    assert [quote_status(value) for value in ("1", 3, "4")] == [
        QuoteStatus.DRAFT, QuoteStatus.APPROVED, QuoteStatus.CONVERTED,
    ]  # fmt: skip


@pytest.mark.parametrize("value", ["-1", "-2", -1, "7", "", None])
def test_list_filters_and_unknown_values_are_not_invoice_states(value):
    with pytest.raises(PermanentProviderError) as raised:
        invoice_status(value)

    assert raised.value.message == f"unknown invoice status_id {value!r}"


@pytest.mark.parametrize("value", ["-1", "5", 0])
def test_expired_and_unknown_values_are_not_quote_states(value):
    with pytest.raises(PermanentProviderError) as raised:
        quote_status(value)

    assert raised.value.message == f"unknown quote status_id {value!r}"


# Payload builders (the Hub's documents as Invoice Ninja stores them) -------------------------------------


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def muster(company_a):
    """A Swiss organisation with its billing e-mail, a second contact and two that add no address."""
    client = ClientFactory(
        company=company_a, name="Muster AG", street="Bahnhofstrasse", building_number="1", postal_code="8001",
        town="Zürich", che_uid=MUSTER_UID, email="billing@muster.ch",
    )  # fmt: skip
    Contact.objects.create(client=client, name="Anna Muster", email="anna@muster.ch", phone="+41 44 123 45 67")
    Contact.objects.create(client=client, name="Buchhaltung", email="BILLING@muster.ch")  # the billing address again
    Contact.objects.create(client=client, name="Empfang", phone="+41 44 123 45 00")  # no e-mail
    return client


@pytest.fixture
def schmidt(company_a):
    """A person in Germany, invoiced in euros."""
    client = ClientFactory(
        company=company_a, kind="person", name="Lena Schmidt", street="Invalidenstraße", building_number="117",
        postal_code="10115", town="Berlin", country="DE", email="lena@schmidt.de", language="de",
    )  # fmt: skip
    Contact.objects.create(client=client, name="Paul Schmidt", email="paul@schmidt.de")
    return client


def issued_invoice(client, user, lines, *, notes="") -> Invoice:
    """Issue an invoice of (quantity, unit price, discount %) lines at 8.1 % VAT on 10 November 2026."""
    invoice = InvoiceFactory(company=client.company, client=client, notes=notes)
    for position, (quantity, unit_price, discount) in enumerate(lines, start=1):
        InvoiceLine.objects.create(
            invoice=invoice, position=position, description=f"Prestation {position}", quantity=quantity,
            unit_price=unit_price, discount_percent=discount, vat_rate=D("8.10"),
        )  # fmt: skip
    return documents.invoice_issue(invoice=invoice, issued_by=user, issue_date=date(2026, 11, 10))


def line(position, cost, quantity, discount, tax_name="TVA", tax_rate=8.1, notes=None) -> dict:
    return {
        "product_key": str(position), "notes": notes or f"Prestation {position}", "cost": cost, "quantity": quantity,
        "discount": discount, "is_amount_discount": False, "tax_name1": tax_name, "tax_rate1": tax_rate,
        "type_id": "2",
    }  # fmt: skip


def rounding_line(label, cost) -> dict:
    return {"product_key": label, "notes": label, "cost": cost, "quantity": 1.0, "discount": 0.0,
            "is_amount_discount": False, "tax_name1": "", "tax_rate1": 0.0, "type_id": "2"}  # fmt: skip


def test_client_payload_of_a_new_swiss_client_makes_the_billing_address_primary(muster):
    assert client_payload(muster, currency="CHF") == {
        "name": "Muster AG", "vat_number": MUSTER_UID, "address1": "Bahnhofstrasse 1", "postal_code": "8001",
        "city": "Zürich", "country_id": "756", "settings": {"currency_id": "17"},
        "contacts": [
            {"first_name": "Muster AG", "last_name": "", "email": "billing@muster.ch", "phone": "", "send_email": True,
             "is_primary": True},
            {"first_name": "Anna", "last_name": "Muster", "email": "anna@muster.ch", "phone": "+41 44 123 45 67",
             "send_email": True, "is_primary": False},
        ],
    }  # fmt: skip


def test_client_payload_of_an_update_names_every_existing_contact_by_its_id(schmidt):
    existing = (
        # The Hub's billing address, as Invoice Ninja holds it (another case, other names, not primary).
        ninja.Contact(id="c1Lena0000", first_name="L.", last_name="Schmidt", email="Lena@Schmidt.de",
                      is_primary=False),
        # Added by hand at Invoice Ninja and primary there: kept (or Invoice Ninja would delete it), not primary.
        ninja.Contact(id="c2Buch0000", first_name="Buchhaltung", last_name="", email="buchhaltung@schmidt.de",
                      is_primary=True),
        # No e-mail at all: kept as it is.
        ninja.Contact(id="c3Tel00000", first_name="Zentrale", last_name="", email="", is_primary=False),
    )  # fmt: skip

    payload = client_payload(schmidt, currency="EUR", existing=existing)

    assert payload == {
        "name": "Lena Schmidt", "vat_number": "", "address1": "Invalidenstraße 117", "postal_code": "10115",
        "city": "Berlin", "country_id": "276", "settings": {"currency_id": "3"},
        "contacts": [
            {"id": "c1Lena0000", "first_name": "Lena", "last_name": "Schmidt", "email": "lena@schmidt.de",
             "phone": "", "send_email": True, "is_primary": True},
            {"id": "c2Buch0000", "first_name": "Buchhaltung", "last_name": "", "email": "buchhaltung@schmidt.de",
             "is_primary": False},
            {"id": "c3Tel00000", "first_name": "Zentrale", "last_name": "", "email": "", "is_primary": False},
            {"first_name": "Paul", "last_name": "Schmidt", "email": "paul@schmidt.de", "phone": "",
             "send_email": True, "is_primary": False},
        ],
    }  # fmt: skip
    assert [contact.get("id") for contact in payload["contacts"]] == ["c1Lena0000", "c2Buch0000", "c3Tel00000", None]
    assert [contact["is_primary"] for contact in payload["contacts"]] == [True, False, False, False]


def test_the_rounding_to_five_centimes_goes_on_a_last_line_without_vat(muster, user):
    # 3 × 33.33 = 99.99, less 10 % = 89.99 (89.991), VAT 8.1 % = 7.29 (7.289…): 97.28, payable 97.30.
    invoice = issued_invoice(muster, user, [(D("3"), D("33.33"), D("10"))])
    assert (invoice.net_total, invoice.vat_total, invoice.gross_total, invoice.rounding, invoice.payable_total) == (
        D("89.99"), D("7.29"), D("97.28"), D("0.02"), D("97.30"),
    )  # fmt: skip

    lines = document_lines_payload(invoice)

    assert lines == [line(1, 33.33, 3.0, 10.0), rounding_line("Arrondi", 0.02)]
    # Invoice Ninja, line by line: round2(3 × 33.33) = 99.99; discount round2(9.999) = 10.00 → 89.99;
    # tax round2(89.99 × 8.1 %) = round2(7.289…) = 7.29; the rounding line 0.02 × 1, no tax.
    # 89.99 + 7.29 + 0.02 = 97.30, the Hub's payable total to the centime.
    assert D("89.99") + D("7.29") + D(str(lines[1]["cost"])) == invoice.payable_total


def test_a_document_whose_totals_need_no_rounding_has_no_rounding_line(schmidt, user):
    invoice = issued_invoice(schmidt, user, [(D("8"), D("150.00"), D("0"))])  # 1200.00 + 97.20 = 1297.20

    assert (invoice.payable_total, invoice.rounding) == (D("1297.20"), D("0.00"))
    assert document_lines_payload(invoice) == [line(1, 150.0, 8.0, 0.0, tax_name="MWST")]


def test_the_rounding_line_makes_invoice_ninjas_total_the_hubs_when_a_discount_rounds_to_a_half_centime(muster, user):
    # BUG (finance/services/invoice_ninja.py, _ninja_line_total): Invoice Ninja does not round the discount on its
    # own. app/Helpers/Invoice/InvoiceItemSum.php::setDiscount computes a percent discount as
    #     line_total = round2(cost × quantity − cost × quantity × discount / 100)
    # (one rounding; the separate rounding was commented out on 16-08-2021), then its tax round2(line_total × rate).
    # That is the Hub's own vat.Line arithmetic, so Invoice Ninja's total is the Hub's gross and the rounding
    # line is exactly the Hub's rounding. 1.5 × 99.90 = 149.85 less 10 % = 134.865 → 134.87 on both sides,
    # while _ninja_line_total takes 149.85 − round2(14.985) = 134.86 and adds a centime too few to the last line:
    # Invoice Ninja would then total 243.06 instead of 243.05 and document_push refuses to send the invoice.
    invoice = issued_invoice(muster, user, [(D("3"), D("33.33"), D("10")), (D("1.5"), D("99.90"), D("10"))])
    # Hub: nets 89.99 + 134.87 = 224.86, VAT 7.29 + 10.92 = 18.21, gross 243.07, payable 243.05.
    assert (invoice.net_total, invoice.vat_total, invoice.gross_total, invoice.rounding, invoice.payable_total) == (
        D("224.86"), D("18.21"), D("243.07"), D("-0.02"), D("243.05"),
    )  # fmt: skip

    lines = document_lines_payload(invoice)

    # Invoice Ninja: 89.99 + 7.29 + 134.87 + 10.92 − 0.02 = 243.05.
    assert lines == [line(1, 33.33, 3.0, 10.0), line(2, 99.9, 1.5, 10.0), rounding_line("Arrondi", -0.02)]


def test_document_payload_of_an_issued_invoice(muster, user):
    invoice = issued_invoice(muster, user, [(D("3"), D("33.33"), D("10"))], notes="Payable dans les 30 jours.")

    assert document_payload(invoice, client_id=CLIENT_ID) == {
        "client_id": CLIENT_ID, "number": "QA-2026-0001", "date": "2026-11-10", "due_date": "2026-12-10",
        "po_number": "", "public_notes": "Payable dans les 30 jours.", "uses_inclusive_taxes": False, "discount": 0,
        "is_amount_discount": False, "line_items": [line(1, 33.33, 3.0, 10.0), rounding_line("Arrondi", 0.02)],
    }  # fmt: skip


def sent_quote(client, user):
    quote = QuoteFactory(company=client.company, client=client, notes="Gültig 30 Tage.")
    documents.quote_lines_replace(
        quote=quote, edited_by=user,
        lines=[LineInput(description="LED-Wand 2 × 1 m", quantity=D("2"), unit_price=D("450.00"), vat_code="standard")],
    )  # fmt: skip
    return documents.quote_send(quote=quote, sent_by=user)


def test_document_payload_of_a_quote_is_dated_and_due_by_its_validity(schmidt, user):
    quote = sent_quote(schmidt, user)

    assert quote.payable_total == D("972.90")
    assert document_payload(quote, client_id=CLIENT_ID) == {
        "client_id": CLIENT_ID, "number": "QA-DEV-2026-0001", "date": "2026-11-02", "due_date": "2026-12-02",
        "po_number": "", "public_notes": "Gültig 30 Tage.", "uses_inclusive_taxes": False, "discount": 0,
        "is_amount_discount": False,
        "line_items": [line(1, 450.0, 2.0, 0.0, tax_name="MWST", notes="LED-Wand 2 × 1 m")],
    }  # fmt: skip


@pytest.mark.parametrize(("method", "type_id"), [("bank_transfer", "1"), ("cash", "2"), ("card", "12"), ("other", "1")])
def test_payment_payload_shares_the_payment_and_carries_the_hub_reference(muster, method, type_id):
    payment = PaymentFactory(company=muster.company, client=muster, method=method, amount=D("1400.00"),
                             reference="Virement 2026-11-20")  # fmt: skip

    shares = [(INVOICE_ID, D("1000.00")), ("Xk9mZ2pQrT", D("297.20"))]

    payload = payment_payload(payment, client_id=CLIENT_ID, shares=shares)

    assert payload == {
        "client_id": CLIENT_ID, "amount": 1297.2, "date": "2026-11-20", "type_id": type_id,
        "transaction_reference": f"HUB-P{payment.pk} Virement 2026-11-20",
        "invoices": [{"invoice_id": INVOICE_ID, "amount": 1000.0}, {"invoice_id": "Xk9mZ2pQrT", "amount": 297.2}],
    }  # fmt: skip


# Requests against the official OpenAPI spec -----------------------------------------------------------


@pytest.fixture(scope="module")
def ninja_spec() -> dict:
    """The official spec, corrected where its own schemas refuse what Invoice Ninja accepts and needs."""
    # The C build of the safe loader reads the 750 kB in a fraction of the pure-Python loader's time.
    spec = yaml.load(SPEC.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    schemas = spec["components"]["schemas"]
    # X-Requested-With is declared required on every operation but with a `readOnly` schema, which a request
    # validator reads as "must not be sent": the flag is dropped.
    spec["components"]["parameters"]["X-Requested-With"]["schema"].pop("readOnly")
    # A contact's `id` is marked readOnly, yet an update must carry it: ClientContactRepository updates the
    # contacts named by id and deletes the others (research/api-contracts.md §1.3).
    schemas["ClientContactRequest"]["properties"]["id"].pop("readOnly")
    # `country_id` is typed as a number, while ClientTransformer writes ids as strings ("756") and
    # StoreClientRequest's Laravel `integer` rule accepts a numeric string: a string of digits is allowed.
    schemas["ClientRequest"]["properties"]["country_id"] = {"type": "string", "pattern": "^[0-9]+$"}
    # An invoice's share of a payment is typed as a string (example '2'), while it is an amount: a number,
    # like the payment's own `amount`.
    schemas["InvoicePaymentable"]["properties"]["amount"] = {"type": "number"}
    return spec


@pytest.fixture(scope="module")
def ninja_openapi(ninja_spec) -> OpenAPI:
    # The spec is not checked against the OpenAPI meta-schema (slow on 750 kB, and not what is tested here).
    return OpenAPI.from_dict(copy.deepcopy(ninja_spec), config=Config(spec_validator_cls=None))


def component_errors(spec: dict, name: str, body) -> list[str]:
    """What a component schema (its `$ref`s inlined) finds wrong with a body, as a writer sends it."""

    def resolved(node, seen: tuple[str, ...]):
        if isinstance(node, dict):
            if "$ref" in node:
                target = node["$ref"].rsplit("/", 1)[-1]
                assert target not in seen, f"circular $ref {seen + (target,)}"
                return resolved(spec["components"]["schemas"][target], (*seen, target))
            return {key: resolved(value, seen) for key, value in node.items()}
        if isinstance(node, list):
            return [resolved(value, seen) for value in node]
        return node

    validator = OAS30WriteValidator(
        resolved(spec["components"]["schemas"][name], (name,)), format_checker=oas30_format_checker
    )
    return [error.message for error in validator.iter_errors(body)]


# The operations whose request body the spec does not declare: their bodies are checked against the
# component schema of what they carry (the quote controller's requests are the invoice's, field for field).
UNDECLARED_BODIES = {
    ("PUT", "invoices/{id}"): ("InvoiceRequest",),
    ("POST", "quotes"): ("InvoiceRequest", "Quote"),
    ("PUT", "quotes/{id}"): ("InvoiceRequest", "Quote"),
    ("POST", "webhooks"): ("Webhook",),
    ("PUT", "webhooks/{id}"): ("Webhook",),
}


def operation(call) -> tuple[str, str]:
    collection, _slash, item = urlsplit(call.request.url).path.removeprefix("/api/v1/").partition("/")
    return call.request.method, f"{collection}/{{id}}" if item else collection


def call_every_endpoint(api: InvoiceNinjaClient, http: responses.RequestsMock, *, client, invoice, quote, payment):
    """Make each call the Hub makes, with the bodies the payload builders make, answered by the fixtures."""
    http.get(f"{API}/clients", json=listing([client_data()]))
    http.get(f"{API}/clients/{CLIENT_ID}", json={"data": client_data()})
    http.post(f"{API}/clients", json={"data": client_data()})
    http.put(f"{API}/clients/{CLIENT_ID}", json={"data": client_data()})
    http.get(f"{API}/invoices", json=listing([invoice_data()]))
    http.get(f"{API}/invoices/{INVOICE_ID}", json={"data": invoice_data()})
    http.post(f"{API}/invoices", json={"data": invoice_data()})
    http.put(f"{API}/invoices/{INVOICE_ID}", json={"data": invoice_data()})
    http.get(f"{API}/quotes", json=listing([quote_data()]))
    http.get(f"{API}/quotes/{QUOTE_ID}", json={"data": quote_data()})
    http.post(f"{API}/quotes", json={"data": quote_data()})
    http.put(f"{API}/quotes/{QUOTE_ID}", json={"data": quote_data()})
    http.post(f"{API}/emails", json={"data": invoice_data()})
    http.get(f"{API}/payments", json=listing([payment_data()]))
    http.get(f"{API}/payments/{PAYMENT_ID}", json={"data": payment_data()})
    http.post(f"{API}/payments", json={"data": payment_data()})
    http.get(f"{API}/products", json=listing([product_data()]))
    http.post(f"{API}/products", json={"data": product_data()})
    http.put(f"{API}/products/{PRODUCT_ID}", json={"data": product_data()})
    http.get(f"{API}/webhooks", json=listing([webhook_data()]))
    http.post(f"{API}/webhooks", json={"data": webhook_data()})
    http.put(f"{API}/webhooks/{WEBHOOK_ID}", json={"data": webhook_data()})
    http.delete(f"{API}/webhooks/{WEBHOOK_ID}", json={"data": webhook_data()})

    existing = (ninja.Contact(id="4w9aAOdvMR", first_name="Muster AG", last_name="", email="billing@muster.ch",
                              is_primary=True),)  # fmt: skip
    api.clients_by_email("billing@muster.ch")
    api.client_get(CLIENT_ID)
    api.client_create(client_payload(client, currency="CHF"))
    api.client_update(CLIENT_ID, client_payload(client, currency="CHF", existing=existing))
    list(api.invoices(updated_since=datetime(2024, 3, 1, tzinfo=UTC), number=invoice.number, client_id=CLIENT_ID))
    api.invoice_get(INVOICE_ID)
    api.invoice_create(document_payload(invoice, client_id=CLIENT_ID))
    api.invoice_update(INVOICE_ID, document_payload(invoice, client_id=CLIENT_ID))
    list(api.quotes(number=quote.number))
    api.quote_get(QUOTE_ID)
    api.quote_create(document_payload(quote, client_id=CLIENT_ID))
    api.quote_update(QUOTE_ID, document_payload(quote, client_id=CLIENT_ID))
    api.email_send(entity="invoice", entity_id=INVOICE_ID, template=ninja.EmailTemplate.INVOICE)
    list(api.payments(updated_since=datetime(2024, 3, 1, tzinfo=UTC), client_id=CLIENT_ID, text="HUB-P1"))
    api.payment_get(PAYMENT_ID)
    api.payment_create(payment_payload(payment, client_id=CLIENT_ID, shares=[(INVOICE_ID, invoice.payable_total)]))
    list(api.products())
    api.product_create(PRODUCT_PAYLOAD)
    api.product_update(PRODUCT_ID, {**PRODUCT_PAYLOAD, "cost": 125.0})
    api.webhooks()
    api.webhook_create(target_url=HOOK_URL, event_id=WebhookEvent.CREATE_INVOICE, headers={"X-Webhook-Secret": "s"})
    api.webhook_update(WEBHOOK_ID, target_url=HOOK_URL, event_id=WebhookEvent.CREATE_INVOICE, headers={})
    api.webhook_delete(WEBHOOK_ID)


def test_every_request_conforms_to_the_official_spec(api, http, ninja_spec, ninja_openapi, muster, user):
    invoice = issued_invoice(muster, user, [(D("3"), D("33.33"), D("10")), (D("2"), D("450.00"), D("0"))])
    payment = PaymentFactory(company=muster.company, client=muster, reference="Virement")
    call_every_endpoint(api, http, client=muster, invoice=invoice, quote=sent_quote(muster, user), payment=payment)

    validated = []
    for call in http.calls:
        # Path, query parameters, the X-API-TOKEN security and X-Requested-With, and a declared body.
        ninja_openapi.validate_request(RequestsOpenAPIRequest(call.request))
        for schema in UNDECLARED_BODIES.get(operation(call), ()):
            assert component_errors(ninja_spec, schema, json.loads(call.request.body)) == [], (operation(call), schema)
        validated.append(f"{call.request.method} {urlsplit(call.request.url).path}")
    # Answers are not checked: the spec's answer schemas leave out the `data` envelope Invoice Ninja wraps
    # every answer in (POST /emails is even said to answer a Template), so the contract's examples stand.
    assert validated == [
        "GET /api/v1/clients",
        f"GET /api/v1/clients/{CLIENT_ID}",
        "POST /api/v1/clients",
        f"PUT /api/v1/clients/{CLIENT_ID}",
        "GET /api/v1/invoices",
        f"GET /api/v1/invoices/{INVOICE_ID}",
        "POST /api/v1/invoices",
        f"PUT /api/v1/invoices/{INVOICE_ID}",
        "GET /api/v1/quotes",
        f"GET /api/v1/quotes/{QUOTE_ID}",
        "POST /api/v1/quotes",
        f"PUT /api/v1/quotes/{QUOTE_ID}",
        "POST /api/v1/emails",
        "GET /api/v1/payments",
        f"GET /api/v1/payments/{PAYMENT_ID}",
        "POST /api/v1/payments",
        "GET /api/v1/products",
        "POST /api/v1/products",
        f"PUT /api/v1/products/{PRODUCT_ID}",
        "GET /api/v1/webhooks",
        "POST /api/v1/webhooks",
        f"PUT /api/v1/webhooks/{WEBHOOK_ID}",
        f"DELETE /api/v1/webhooks/{WEBHOOK_ID}",
    ]


def test_the_spec_check_catches_a_malformed_body_a_missing_token_and_a_numeric_event_id(ninja_spec, ninja_openapi):
    # Guards the check above: requests the spec forbids must fail it.
    headers = {"X-API-TOKEN": TOKEN, "X-Requested-With": "XMLHttpRequest"}
    no_country = requests.Request("POST", f"{API}/clients", headers=headers, json={"name": "Muster AG", "contacts": []})
    no_token = requests.Request("GET", f"{API}/invoices", headers={"X-Requested-With": "XMLHttpRequest"})
    country_name = requests.Request("POST", f"{API}/clients", headers=headers,
                                    json={"name": "Muster AG", "country_id": "CH", "contacts": []})  # fmt: skip

    for request, error in ((no_country, InvalidRequestBody), (no_token, SecurityValidationError),
                           (country_name, InvalidRequestBody)):  # fmt: skip
        with pytest.raises(error):
            ninja_openapi.validate_request(RequestsOpenAPIRequest(request.prepare()))
    assert component_errors(ninja_spec, "Webhook", {"target_url": HOOK_URL, "event_id": 2}) == [
        "2 is not of type 'string'"
    ]
    assert component_errors(ninja_spec, "InvoiceRequest", {"client_id": CLIENT_ID, "amount": 10.0}) == [
        "Tried to write read-only property with 10.0"
    ]
