import json
import re
import uuid
from decimal import Decimal
from urllib.parse import urlencode

import pytest
import requests
import responses
from django.urls import reverse
from django.utils import timezone

from sandbox import invoice_ninja, tasks
from sandbox.views import invoice_ninja as views
from tests.factories import UserFactory
from tests.integrations.conftest import Enqueued, run_all, take_all

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued")]

HUB_HOOK = "https://hub.example/webhooks/invoiceninja/QA/"
SECRET_HEADER = {"X-Webhook-Secret": "s3cr3t-0123456789abcdef0123456789abcdef"}
ID = re.compile(r"^[A-Za-z0-9]{10}$")
DELIVERY_TASK = tasks.deliver_invoice_ninja_webhook.name
CONSULTING = {
    "product_key": "Beratung", "notes": "Consulting March 2024", "cost": 150.0, "quantity": 8,
    "tax_name1": "MWST", "tax_rate1": 8.1, "type_id": "2",
}  # fmt: skip


def fired(enqueued: list[Enqueued]) -> list[tuple[str, dict]]:
    """(event id, decoded body) of each enqueued delivery, taken off the queue."""
    deliveries = take_all(enqueued, DELIVERY_TASK)
    # A delivery names its company by a reference, never by the API token (worker logs show task arguments).
    assert all(invoice_ninja.store.dereference(sent.args[0]) not in (None, sent.args[0]) for sent in deliveries)
    return [(sent.args[2], decoded_bytes(sent.args[3].encode())) for sent in deliveries]


def decoded_bytes(raw: bytes) -> object:
    # Decimal for floats: amounts are compared to the centime, never through a float.
    return json.loads(raw, parse_float=Decimal)


def decoded(response) -> object:
    return decoded_bytes(response.content)


@pytest.fixture
def token() -> str:
    token = f"in-test-{uuid.uuid4().hex}"
    invoice_ninja.ensure_company(token, "Muster Treuhand AG")
    return token


class Api:
    """The sandbox API as the Hub's client, holding a company token, sees it."""

    def __init__(self, client, token: str):
        self.client = client
        self.headers = {"HTTP_X_API_TOKEN": token, "HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}

    def url(self, name: str, params=None, **url_kwargs) -> str:
        url = reverse(f"sandbox:invoice-ninja-{name}", kwargs=url_kwargs)
        return f"{url}?{urlencode(params)}" if params else url

    def get(self, name: str, params=None, **url_kwargs):
        return self.client.get(self.url(name, **url_kwargs), params or {}, **self.headers)

    def post(self, name: str, body=None, params=None, **url_kwargs):
        return self.client.post(
            self.url(name, params, **url_kwargs), json.dumps(body or {}), "application/json", **self.headers
        )

    def put(self, name: str, body=None, params=None, **url_kwargs):
        return self.client.put(
            self.url(name, params, **url_kwargs), json.dumps(body or {}), "application/json", **self.headers
        )

    def delete(self, name: str, **url_kwargs):
        return self.client.delete(self.url(name, **url_kwargs), **self.headers)


@pytest.fixture
def api(client, token) -> Api:
    return Api(client, token)


def add_client(api: Api, name="Muster AG", contacts=None, **fields) -> dict:
    if contacts is None:
        contacts = [{"first_name": "Anna", "last_name": "Muster", "email": "anna@muster.ch", "is_primary": True}]
    response = api.post("clients", {"name": name, "contacts": contacts, **fields})
    assert response.status_code == 200, response.content
    return decoded(response)["data"]


def add_invoice(api: Api, client: dict, *, lines=None, params=None, **fields) -> dict:
    body = {"client_id": client["id"], "date": "2024-03-15", "line_items": lines or [CONSULTING], **fields}
    response = api.post("invoices", body, params)
    assert response.status_code == 200, response.content
    return decoded(response)["data"]


def add_quote(api: Api, client: dict, **fields) -> dict:
    response = api.post("quotes", {"client_id": client["id"], "line_items": [CONSULTING], **fields})
    assert response.status_code == 200, response.content
    return decoded(response)["data"]


def subscribe(api: Api, event_id, **fields) -> dict:
    body = {"target_url": f"{HUB_HOOK}{event_id}/", "event_id": event_id, "headers": SECRET_HEADER, **fields}
    response = api.post("webhooks", body)
    assert response.status_code == 200, response.content
    return decoded(response)["data"]


def pay(api: Api, client: dict, invoice: dict, amount: str, reference="REVOLUT-630f9a62"):
    body = {
        "client_id": client["id"], "amount": float(amount), "date": "2024-03-28", "type_id": "1",
        "transaction_reference": reference, "invoices": [{"invoice_id": invoice["id"], "amount": float(amount)}],
    }  # fmt: skip
    return api.post("payments", body)


def invalid(field: str, message: str) -> dict:
    return {"message": "The given data was invalid.", "errors": {field: [message]}}


# Companies and authentication


def test_ensure_company_is_idempotent_and_renames(token):
    first = invoice_ninja.company_for_token(token)

    again = invoice_ninja.ensure_company(token, "Muster Treuhand GmbH")

    assert again["id"] == first["id"]
    assert again["name"] == "Muster Treuhand GmbH"
    assert again["settings"] == {"country_id": "756", "currency_id": "17"}
    assert ID.match(again["id"])
    assert ID.match(again["user_id"])
    assert token in invoice_ninja.tokens()
    assert invoice_ninja.company_for_token("unknown") is None
    assert invoice_ninja.company_for_token("") is None


@pytest.mark.parametrize("headers", [{}, {"HTTP_X_API_TOKEN": "not-a-token"}, {"HTTP_X_API_TOKEN": ""}])
def test_a_missing_or_unknown_token_is_refused(client, headers):
    response = client.get(reverse("sandbox:invoice-ninja-invoices"), HTTP_X_REQUESTED_WITH="XMLHttpRequest", **headers)

    assert response.status_code == 403
    assert response.json() == {"message": "Invalid token", "errors": {}}


def test_the_x_requested_with_header_is_required(client, token):
    response = client.get(reverse("sandbox:invoice-ninja-invoices"), HTTP_X_API_TOKEN=token)

    assert response.status_code == 403
    assert response.json() == {"message": "X-Requested-With header is required", "errors": {}}


def test_a_body_that_is_not_json_is_refused(api):
    response = api.client.post(api.url("clients"), "{not json", "application/json", **api.headers)

    assert response.status_code == 400
    assert response.json() == {"message": "The request body is not valid JSON"}


def test_companies_do_not_see_each_other(api, client):
    other = Api(client, f"in-test-{uuid.uuid4().hex}")
    invoice_ninja.ensure_company(other.headers["HTTP_X_API_TOKEN"], "Andere AG")
    muster = add_client(api)

    assert other.get("client", entity_id=muster["id"]).status_code == 404
    assert decoded(other.get("clients"))["data"] == []


# Clients


def test_a_client_is_created_in_the_documented_shape_and_numbered(api, token):
    response = api.post(
        "clients",
        {
            "name": "Muster AG", "vat_number": "CHE-123.456.789 MWST", "address1": "Bahnhofstrasse 1",
            "city": "Zürich", "postal_code": "8001", "country_id": 756, "settings": {"currency_id": 17},
            "contacts": [
                {"first_name": "Anna", "last_name": "Muster", "email": "anna@muster.ch", "phone": "+41 44 000 00 00",
                 "is_primary": True},
                {"first_name": "Beat", "last_name": "Buchhaltung", "email": "beat@muster.ch", "send_email": False},
            ],
        },
    )  # fmt: skip

    assert response.status_code == 200
    client = decoded(response)["data"]
    assert ID.match(client["id"])
    assert isinstance(client["created_at"], int)
    assert client["updated_at"] == client["created_at"]
    anna, beat = client["contacts"]
    assert ID.match(anna["id"])
    assert ID.match(beat["id"])
    assert client == {
        "id": client["id"], "user_id": invoice_ninja.company_for_token(token)["user_id"], "name": "Muster AG",
        "number": "0001", "display_name": "Muster AG", "balance": 0, "paid_to_date": 0,
        "vat_number": "CHE-123.456.789 MWST", "id_number": "", "address1": "Bahnhofstrasse 1", "address2": "",
        "city": "Zürich", "state": "", "postal_code": "8001", "country_id": "756", "settings": {"currency_id": "17"},
        "contacts": [
            {"id": anna["id"], "first_name": "Anna", "last_name": "Muster", "email": "anna@muster.ch",
             "phone": "+41 44 000 00 00", "send_email": True, "is_primary": True,
             "created_at": client["created_at"], "updated_at": client["created_at"]},
            {"id": beat["id"], "first_name": "Beat", "last_name": "Buchhaltung", "email": "beat@muster.ch",
             "phone": "", "send_email": False, "is_primary": False,
             "created_at": client["created_at"], "updated_at": client["created_at"]},
        ],
        "created_at": client["created_at"], "updated_at": client["created_at"], "archived_at": 0, "is_deleted": False,
    }  # fmt: skip
    assert add_client(api, "Beta SA")["number"] == "0002"
    assert decoded(api.get("client", entity_id=client["id"]))["data"] == client


def test_a_client_without_contacts_gets_one_blank_primary_contact_and_a_name_is_required(api):
    client = add_client(api, "Solo GmbH", contacts=[])

    [contact] = client["contacts"]
    assert (contact["email"], contact["is_primary"], contact["send_email"]) == ("", True, True)
    assert api.post("clients", {"contacts": []}).json() == invalid(
        "name", "The name field is required when contacts.0.email is not present."
    )


def test_put_with_contacts_updates_known_ones_creates_new_ones_and_deletes_the_others(api):
    client = add_client(
        api,
        contacts=[
            {"first_name": "Anna", "email": "anna@muster.ch", "is_primary": True},
            {"first_name": "Beat", "email": "beat@muster.ch"},
        ],
    )
    anna, beat = client["contacts"]

    response = api.put(
        "client",
        {
            "contacts": [
                {"id": anna["id"], "email": "anna.muster@muster.ch"},
                {"first_name": "Carla", "email": "c@m.ch"},
            ]
        },
        entity_id=client["id"],
    )

    assert response.status_code == 200
    updated, carla = decoded(response)["data"]["contacts"]
    assert (updated["id"], updated["first_name"], updated["email"]) == (anna["id"], "Anna", "anna.muster@muster.ch")
    assert updated["is_primary"] is True
    assert ID.match(carla["id"])
    assert carla["id"] not in (anna["id"], beat["id"])
    assert (carla["first_name"], carla["email"], carla["is_primary"]) == ("Carla", "c@m.ch", False)
    # Beat, left out of the list, is deleted.
    assert [c["id"] for c in decoded(api.get("client", entity_id=client["id"]))["data"]["contacts"]] == [
        anna["id"], carla["id"]
    ]  # fmt: skip


def test_put_without_contacts_leaves_the_contacts_alone(api):
    client = add_client(api)

    response = api.put("client", {"name": "Muster Holding AG", "city": "Bern"}, entity_id=client["id"])

    changed = decoded(response)["data"]
    assert (changed["name"], changed["display_name"], changed["city"]) == (
        "Muster Holding AG",
        "Muster Holding AG",
        "Bern",
    )
    assert changed["contacts"] == client["contacts"]
    assert changed["number"] == client["number"]


def test_client_filters_by_contact_email_text_and_updated_at(api, monkeypatch):
    monkeypatch.setattr(invoice_ninja, "_now", lambda: 1_710_000_000)
    muster = add_client(api, "Muster AG")
    monkeypatch.setattr(invoice_ninja, "_now", lambda: 1_710_000_100)
    beta = add_client(api, "Beta SA", contacts=[{"first_name": "Paul", "email": "Paul@Beta.ch"}])

    def ids(params):
        return [client["id"] for client in decoded(api.get("clients", params))["data"]]

    assert ids({"email": "paul@beta.CH"}) == [beta["id"]]
    assert ids({"email": "paul@beta"}) == []
    assert ids({"filter": "muster"}) == [muster["id"]]
    assert ids({"updated_at": "1710000050"}) == [beta["id"]]
    assert ids({"updated_at": "1710000000"}) == [muster["id"], beta["id"]]
    assert ids({"is_deleted": "false"}) == [muster["id"], beta["id"]]
    assert ids({"is_deleted": "true"}) == []
    assert api.get("clients", {"updated_at": "yesterday"}).json() == invalid(
        "updated_at", "The updated_at filter must be a unix timestamp."
    )


def test_unknown_ids_answer_404(api):
    not_found = {"message": "Record not found", "errors": {}}
    for name in ("client", "invoice", "quote", "payment", "product", "webhook"):
        response = api.get(name, entity_id="XXXXXXXXXX")
        assert (response.status_code, response.json()) == (404, not_found), name
    assert api.put("invoice", {"po_number": "1"}, entity_id="XXXXXXXXXX").status_code == 404
    assert api.put("client", {"name": "x"}, entity_id="XXXXXXXXXX").status_code == 404


# Invoices: shape, amounts, numbers


def test_an_invoice_is_created_in_the_documented_shape(api, token, enqueued):
    client = add_client(
        api, contacts=[{"first_name": "Anna", "email": "anna@muster.ch"}, {"first_name": "Beat", "email": "b@m.ch"}]
    )

    invoice = add_invoice(
        api, client, due_date="2024-04-14", po_number="PO-7781", public_notes="Zahlbar innert 30 Tagen"
    )

    first, second = invoice["invitations"]
    assert ID.match(invoice["id"])
    assert invoice == {
        "id": invoice["id"], "user_id": invoice_ninja.company_for_token(token)["user_id"], "client_id": client["id"],
        "status_id": "1", "number": "0001", "po_number": "PO-7781", "date": "2024-03-15", "due_date": "2024-04-14",
        "last_sent_date": "", "amount": Decimal("1297.2"), "balance": Decimal("1297.2"), "paid_to_date": 0,
        "total_taxes": Decimal("97.2"), "discount": 0, "is_amount_discount": False, "uses_inclusive_taxes": False,
        "tax_name1": "", "tax_rate1": 0, "public_notes": "Zahlbar innert 30 Tagen", "private_notes": "",
        "line_items": [
            {"product_key": "Beratung", "notes": "Consulting March 2024", "cost": 150, "quantity": 8, "discount": 0,
             "is_amount_discount": False, "tax_name1": "MWST", "tax_rate1": Decimal("8.1"), "tax_name2": "",
             "tax_rate2": 0, "tax_name3": "", "tax_rate3": 0, "type_id": "2", "line_total": 1200,
             "gross_line_total": Decimal("1297.2"), "tax_amount": Decimal("97.2"), "sort_id": "0", "date": "",
             "custom_value1": "", "custom_value2": "", "custom_value3": "", "custom_value4": ""},
        ],
        "entity_type": "invoice", "is_deleted": False, "created_at": invoice["created_at"],
        "updated_at": invoice["created_at"], "archived_at": 0, "invitations": [first, second], "documents": [],
    }  # fmt: skip
    for invitation, contact in zip(invoice["invitations"], client["contacts"], strict=True):
        assert ID.match(invitation["id"])
        assert re.fullmatch(r"[A-Za-z0-9]{32}", invitation["key"])
        assert invitation == {
            "id": invitation["id"], "client_contact_id": contact["id"], "key": invitation["key"],
            "link": f"http://testserver/sandbox/invoice-ninja/client/invoice/{invitation['key']}",
            "sent_date": "", "viewed_date": "", "opened_date": "",
        }  # fmt: skip
    assert decoded(api.get("invoice", entity_id=invoice["id"]))["data"] == invoice
    assert invoice_ninja.get_invoice(token, invoice["id"]) == invoice


def test_amounts_are_computed_per_line_to_the_centime_half_up(api):
    client = add_client(api)
    lines = [
        CONSULTING,
        # 286.50 less 10 % (28.65) = 257.85; VAT 8.1 % of it is 20.88585, so 20.89.
        {"product_key": "Workshop", "cost": 95.5, "quantity": 3, "discount": 10, "tax_rate1": 8.1, "tax_name1": "MWST"},
        # 149.85 less 10 % = 134.865, rounded once to 134.87 (rounding the discount first would give 134.86).
        {"product_key": "Reise", "cost": 99.9, "quantity": 1.5, "discount": 10, "tax_rate1": 8.1, "tax_name1": "MWST"},
        # VAT 0.405: half-up gives 0.41 where banker's rounding would give 0.40.
        {"product_key": "Porto", "cost": 5, "quantity": 1, "tax_rate1": 8.1, "tax_name1": "MWST", "custom_value1": "x"},
        # The invoice's is_amount_discount (false) rules its lines: 25.5 is a percentage here.
        {"product_key": "Rabatt", "cost": 100, "quantity": 2, "discount": 25.5, "is_amount_discount": True},
    ]

    response = api.post("invoices", {"client_id": client["id"], "line_items": lines})

    invoice = decoded(response)["data"]
    totals = [(line["line_total"], line["tax_amount"], line["gross_line_total"]) for line in invoice["line_items"]]
    assert totals == [
        (Decimal("1200"), Decimal("97.2"), Decimal("1297.2")),
        (Decimal("257.85"), Decimal("20.89"), Decimal("278.74")),
        (Decimal("134.87"), Decimal("10.92"), Decimal("145.79")),
        (Decimal("5"), Decimal("0.41"), Decimal("5.41")),
        (Decimal("149"), Decimal("0"), Decimal("149")),
    ]
    assert invoice["total_taxes"] == Decimal("129.42")
    assert invoice["amount"] == Decimal("1876.14")
    assert invoice["balance"] == Decimal("1876.14")
    assert b'"amount": 1876.14,' in response.content
    assert [line["sort_id"] for line in invoice["line_items"]] == ["0", "1", "2", "3", "4"]
    assert [line["is_amount_discount"] for line in invoice["line_items"]] == [False] * 5
    assert invoice["line_items"][3]["custom_value1"] == "x"
    assert invoice["line_items"][1]["type_id"] == "1"


def test_the_invoices_is_amount_discount_makes_line_discounts_amounts(api):
    client = add_client(api)
    line = {"product_key": "Rabatt", "cost": 100, "quantity": 2, "discount": 25.5, "tax_rate1": 8.1}

    invoice = decoded(
        api.post("invoices", {"client_id": client["id"], "is_amount_discount": True, "line_items": [line]})
    )

    [computed] = invoice["data"]["line_items"]
    # 200 less 25.50 = 174.50; VAT 14.1345, so 14.13.
    assert (computed["is_amount_discount"], computed["line_total"], computed["tax_amount"]) == (
        True, Decimal("174.5"), Decimal("14.13")
    )  # fmt: skip
    assert invoice["data"]["amount"] == Decimal("188.63")


def test_inclusive_taxes_and_invoice_level_discounts_are_refused_not_miscomputed(api):
    client = add_client(api)

    inclusive = api.post("invoices", {"client_id": client["id"], "uses_inclusive_taxes": True})
    discounted = api.post("invoices", {"client_id": client["id"], "discount": 5})
    zeros = api.post(
        "invoices", {"client_id": client["id"], "discount": 0, "tax_rate1": 0, "uses_inclusive_taxes": False}
    )

    assert (inclusive.status_code, inclusive.json()) == (
        422, invalid("uses_inclusive_taxes", "The sandbox computes exclusive taxes only.")
    )  # fmt: skip
    assert discounted.json() == invalid("discount", "The sandbox computes line discounts and line taxes only.")
    assert zeros.status_code == 200


def test_a_given_number_is_kept_unique_per_company_and_kind(api):
    client = add_client(api)
    add_invoice(api, client, number="2024-0042")

    duplicate = api.post("invoices", {"client_id": client["id"], "number": "2024-0042"})
    quote = add_quote(api, client, number="2024-0042")
    auto = add_invoice(api, client)
    other = add_invoice(api, client, number="0002")

    assert (duplicate.status_code, duplicate.json()) == (422, invalid("number", "The number has already been taken."))
    assert quote["number"] == "2024-0042"
    assert auto["number"] == "0001"
    assert other["number"] == "0002"
    # The counter skips a number given by hand.
    assert add_invoice(api, client)["number"] == "0003"
    renumbered = api.put("invoice", {"number": "0001"}, entity_id=other["id"])
    assert renumbered.json() == invalid("number", "The number has already been taken.")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "client_id", "The client id field is required."),
        ({"client_id": "XXXXXXXXXX"}, "client_id", "The selected client id is invalid."),
        ({"client_id": "{client}", "date": "15.03.2024"}, "date", "The date field must match the format Y-m-d."),
        ({"client_id": "{client}", "line_items": [{"cost": "abc"}]}, "line_items.0.cost",
         "The line_items.0.cost field must be a number."),
    ],
)  # fmt: skip
def test_a_faulty_invoice_is_refused_with_422(api, body, field, message):
    client = add_client(api)
    body = {key: client["id"] if value == "{client}" else value for key, value in body.items()}

    response = api.post("invoices", body)

    assert (response.status_code, response.json()) == (422, invalid(field, message))
    assert decoded(api.get("invoices"))["data"] == []


def test_lists_are_paginated_oldest_first_with_links_to_existing_pages(api):
    client = add_client(api)
    numbers = [add_invoice(api, client)["number"] for _ in range(5)]

    first = decoded(api.get("invoices", {"per_page": 2}))
    second = decoded(api.get("invoices", {"per_page": 2, "page": 2}))
    last = decoded(api.get("invoices", {"per_page": 2, "page": 3}))

    base = "http://testserver/sandbox/invoice-ninja/api/v1/invoices"
    assert [invoice["number"] for invoice in first["data"]] == numbers[:2]
    assert first["meta"] == {
        "pagination": {
            "total": 5, "count": 2, "per_page": 2, "current_page": 1, "total_pages": 3,
            "links": {"next": f"{base}?per_page=2&page=2"},
        }
    }  # fmt: skip
    assert [invoice["number"] for invoice in second["data"]] == numbers[2:4]
    assert second["meta"]["pagination"]["links"] == {
        "previous": f"{base}?per_page=2&page=1", "next": f"{base}?per_page=2&page=3"
    }  # fmt: skip
    assert [invoice["number"] for invoice in last["data"]] == numbers[4:]
    assert last["meta"]["pagination"]["count"] == 1
    assert last["meta"]["pagination"]["links"] == {"previous": f"{base}?per_page=2&page=2"}
    default = decoded(api.get("invoices"))["meta"]["pagination"]
    assert (default["per_page"], default["current_page"], default["total_pages"], default["links"]) == (20, 1, 1, {})
    assert decoded(api.get("invoices", {"per_page": 9999}))["meta"]["pagination"]["per_page"] == 5000


def test_invoice_filters_number_client_text_and_updated_at(api, monkeypatch):
    monkeypatch.setattr(invoice_ninja, "_now", lambda: 1_710_000_000)
    muster, beta = add_client(api), add_client(api, "Beta SA")
    first = add_invoice(api, muster, po_number="PO-7781")
    monkeypatch.setattr(invoice_ninja, "_now", lambda: 1_710_000_500)
    second = add_invoice(api, beta, number="2024-0042")

    def numbers(params):
        return [invoice["number"] for invoice in decoded(api.get("invoices", params))["data"]]

    assert numbers({"number": "2024-0042"}) == ["2024-0042"]
    assert numbers({"number": "2024"}) == []
    assert numbers({"client_id": muster["id"]}) == [first["number"]]
    assert numbers({"filter": "po-77"}) == [first["number"]]
    assert numbers({"filter": "2024-00"}) == [second["number"]]
    assert numbers({"updated_at": "1710000001"}) == [second["number"]]


# Sending


def test_mark_sent_trigger_sends_the_draft_and_fires_create_then_update(api, enqueued):
    client = add_client(api)
    subscribe(api, "2")
    subscribe(api, "8")

    invoice = add_invoice(api, client, params={"mark_sent": "true"})

    assert invoice["status_id"] == "2"
    assert invoice["last_sent_date"] == ""
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", invoice["invitations"][0]["sent_date"])
    assert [(event_id, body["status_id"]) for event_id, body in fired(enqueued)] == [("2", "2"), ("8", "2")]


def test_email_marks_the_invoice_sent_logs_the_mail_and_fires_sent_invoice(api, token, enqueued):
    client = add_client(
        api,
        contacts=[
            {"first_name": "Anna", "email": "anna@muster.ch", "is_primary": True},
            {"first_name": "Beat", "email": "beat@muster.ch", "send_email": False},
            {"first_name": "Carla", "email": "carla@muster.ch"},
        ],
    )
    invoice = add_invoice(api, client)
    subscribe(api, "60")
    subscribe(api, 8)

    response = api.post(
        "emails", {"entity": "invoice", "entity_id": invoice["id"], "template": "email_template_invoice"}
    )

    assert response.status_code == 200
    sent = decoded(response)["data"]
    today = timezone.localdate().isoformat()
    assert (sent["id"], sent["status_id"], sent["last_sent_date"]) == (invoice["id"], "2", today)
    [mail] = invoice_ninja.email_log(token)
    assert mail == {
        "id": mail["id"], "entity": "invoice", "entity_id": invoice["id"], "number": "0001",
        "template": "email_template_invoice", "to": ["anna@muster.ch", "carla@muster.ch"],
        "subject": "Invoice 0001 from Muster Treuhand AG", "sent_at": mail["sent_at"],
    }  # fmt: skip
    assert [event_id for event_id, _body in fired(enqueued)] == ["8", "60"]
    # An invoice already sent is e-mailed again without another status change.
    api.post("emails", {"entity": "invoice", "entity_id": invoice["id"], "template": "email_template_reminder1",
                        "subject": "Reminder"})  # fmt: skip
    assert [event_id for event_id, _body in fired(enqueued)] == ["60"]
    assert invoice_ninja.email_log(token)[-1]["subject"] == "Reminder"


def test_email_action_and_quote_email(api, token, enqueued):
    client = add_client(api)
    invoice, quote = add_invoice(api, client), add_quote(api, client, due_date="2024-04-30")
    subscribe(api, "61")

    invoice_answer = api.get("invoice-action", entity_id=invoice["id"], action="email")
    quote_answer = api.post("emails", {"entity": "quote", "entity_id": quote["id"], "template": "email_template_quote"})

    assert invoice_answer.json() == {"message": "email sent"}
    assert invoice_ninja.get_invoice(token, invoice["id"])["status_id"] == "2"
    assert decoded(quote_answer)["data"]["status_id"] == "2"
    assert [(mail["entity"], mail["subject"]) for mail in invoice_ninja.email_log(token)] == [
        ("invoice", "Invoice 0001 from Muster Treuhand AG"), ("quote", "Quote 0001 from Muster Treuhand AG")
    ]  # fmt: skip
    [(event_id, body)] = fired(enqueued)
    assert (event_id, body["id"], body["entity_type"], body["client"]["id"]) == (
        "61",
        quote["id"],
        "quote",
        client["id"],
    )


def test_an_entity_without_contact_email_cannot_be_emailed(api, token):
    client = add_client(api, contacts=[{"first_name": "Anna", "email": "anna@muster.ch", "send_email": False}])
    invoice = add_invoice(api, client)

    response = api.post(
        "emails", {"entity": "invoice", "entity_id": invoice["id"], "template": "email_template_invoice"}
    )

    assert (response.status_code, response.json()) == (
        422, invalid("entity_id", "The client has no contact with an e-mail address to send to.")
    )  # fmt: skip
    assert invoice_ninja.get_invoice(token, invoice["id"])["status_id"] == "1"
    assert invoice_ninja.email_log(token) == []
    unknown = api.post("emails", {"entity": "invoice", "entity_id": "XXXXXXXXXX", "template": "email_template_invoice"})
    assert unknown.json() == invalid("entity_id", "The selected entity id is invalid.")


# Payments


def test_payments_make_the_invoice_partial_then_paid(api, token, enqueued):
    client = add_client(api)
    invoice = add_invoice(api, client, params={"mark_sent": "true"})

    first = pay(api, client, invoice, "500.00")

    assert first.status_code == 200
    payment = decoded(first)["data"]
    paymentable = payment["paymentables"][0]
    assert payment == {
        "id": payment["id"], "user_id": invoice["user_id"], "client_id": client["id"], "amount": 500, "applied": 500,
        "refunded": 0, "date": "2024-03-28", "type_id": "1", "status_id": "4", "number": "0001",
        "transaction_reference": "REVOLUT-630f9a62", "private_notes": "", "is_manual": True, "is_deleted": False,
        "currency_id": "17", "exchange_rate": 1, "created_at": payment["created_at"],
        "updated_at": payment["created_at"], "archived_at": 0,
        "paymentables": [
            {"id": paymentable["id"], "invoice_id": invoice["id"], "amount": 500, "refunded": 0,
             "created_at": payment["created_at"], "updated_at": payment["created_at"]},
        ],
        "documents": [],
    }  # fmt: skip
    partial = invoice_ninja.get_invoice(token, invoice["id"])
    assert (partial["status_id"], partial["balance"], partial["paid_to_date"]) == ("3", Decimal("797.2"), 500)

    second = decoded(pay(api, client, invoice, "797.20", reference="REVOLUT-7777"))["data"]

    paid = invoice_ninja.get_invoice(token, invoice["id"])
    assert (paid["status_id"], paid["balance"], paid["paid_to_date"]) == ("4", 0, Decimal("1297.2"))
    assert second["number"] == "0002"
    shown_client = decoded(api.get("client", entity_id=client["id"]))["data"]
    assert (shown_client["balance"], shown_client["paid_to_date"]) == (0, Decimal("1297.2"))
    listed = decoded(api.get("payments", {"include": "invoices,client", "client_id": client["id"]}))["data"]
    assert [p["number"] for p in listed] == ["0001", "0002"]
    assert listed[1]["invoices"][0]["status_id"] == "4"
    assert listed[1]["client"]["name"] == "Muster AG"
    assert "invoices" not in decoded(api.get("payment", entity_id=second["id"]))["data"]
    assert [p["transaction_reference"] for p in decoded(api.get("payments", {"filter": "7777"}))["data"]] == [
        "REVOLUT-7777"
    ]


def test_the_client_balance_counts_issued_invoices_only(api):
    client = add_client(api)
    add_invoice(api, client)
    add_invoice(api, client, params={"mark_sent": "true"})

    assert decoded(api.get("client", entity_id=client["id"]))["data"]["balance"] == Decimal("1297.2")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"invoices": [{"amount": 1297.21}]}, "invoices",
         "The amount is greater than the invoice balance. You cannot overpay an invoice."),
        ({"invoices": [{"invoice_id": "XXXXXXXXXX"}]}, "invoices", "Invoice not found"),
        ({"client_id": "XXXXXXXXXX"}, "client_id", "The selected client id is invalid."),
        ({"client_id": None}, "client_id", "The client id field is required."),
        ({"amount": 100}, "amount", "The amount is less than the sum of the amounts applied to the invoices."),
        ({"invoices": [{"amount": None}]}, "invoices.0.amount", "The invoices.0.amount field is required."),
    ],
)  # fmt: skip
def test_a_faulty_payment_is_refused_with_422_and_changes_nothing(api, token, change, field, message):
    client = add_client(api)
    invoice = add_invoice(api, client, params={"mark_sent": "true"})
    change = dict(change)
    allocation = {"invoice_id": invoice["id"], "amount": 1297.2, **change.pop("invoices", [{}])[0]}
    body = {"client_id": client["id"], "amount": 1297.2, "invoices": [allocation]} | change

    response = api.post("payments", body)

    assert (response.status_code, response.json()) == (422, invalid(field, message))
    assert invoice_ninja.list_payments(token) == []
    assert invoice_ninja.get_invoice(token, invoice["id"])["balance"] == Decimal("1297.2")


def test_an_invoice_of_another_client_cannot_be_paid(api):
    muster, beta = add_client(api), add_client(api, "Beta SA")
    invoice = add_invoice(api, muster)

    response = pay(api, beta, invoice, "100")

    assert response.json() == invalid("invoices", "Invoice not found")


def test_a_payment_fires_create_payment_then_update_invoice_with_bare_bodies(api, token, enqueued):
    client = add_client(api)
    invoice = add_invoice(api, client, number="2024-0042", params={"mark_sent": "true"})
    subscribe(api, 4)
    subscribe(api, "8")
    fired(enqueued)

    payment = decoded(pay(api, client, invoice, "1297.20"))["data"]

    (payment_event, payment_body), (invoice_event, invoice_body) = fired(enqueued)
    assert payment_event == "4"
    assert "data" not in payment_body
    assert {key: value for key, value in payment_body.items() if key not in ("invoices", "client")} == payment
    [paid_invoice] = payment_body["invoices"]
    assert {key: paid_invoice[key] for key in ("id", "number", "status_id", "amount", "balance")} == {
        "id": invoice["id"], "number": "2024-0042", "status_id": "4", "amount": Decimal("1297.2"), "balance": 0
    }  # fmt: skip
    assert {key: payment_body["client"][key] for key in ("id", "name", "number")} == {
        "id": client["id"], "name": "Muster AG", "number": "0001"
    }  # fmt: skip
    assert invoice_event == "8"
    assert (invoice_body["id"], invoice_body["status_id"], invoice_body["balance"]) == (invoice["id"], "4", 0)
    assert invoice_body["client"]["id"] == client["id"]


def test_record_payment_is_what_a_finance_user_does_in_the_ui(token, api, enqueued):
    client = add_client(api)
    invoice = add_invoice(api, client, params={"mark_sent": "true"})
    subscribe(api, "4")
    subscribe(api, "8")
    fired(enqueued)

    payment = invoice_ninja.record_payment(
        token, invoice_id=invoice["id"], amount="1297.20", transaction_reference="QRR 21 00000 00003 13947 14300 09017"
    )

    assert (payment["amount"], payment["type_id"], payment["client_id"]) == (Decimal("1297.20"), "1", client["id"])
    assert payment["date"] == timezone.localdate().isoformat()
    assert payment["transaction_reference"] == "QRR 21 00000 00003 13947 14300 09017"
    assert invoice_ninja.get_invoice(token, invoice["id"])["status_id"] == "4"
    assert [event_id for event_id, _body in fired(enqueued)] == ["4", "8"]
    with pytest.raises(invoice_ninja.ApiError) as refused:
        invoice_ninja.record_payment(token, invoice_id=invoice["id"], amount="1", transaction_reference="x")
    assert refused.value.status == 422


# Invoice actions


def test_mark_paid_pays_the_balance_once(api, token, enqueued):
    client = add_client(api)
    invoice = add_invoice(api, client)

    response = api.get("invoice-action", entity_id=invoice["id"], action="mark_paid")

    paid = decoded(response)["data"]
    assert (paid["status_id"], paid["balance"], paid["paid_to_date"]) == ("4", 0, Decimal("1297.2"))
    [payment] = invoice_ninja.list_payments(token)
    assert (payment["amount"], payment["transaction_reference"]) == (Decimal("1297.2"), "Manual entry")
    again = api.get("invoice-action", entity_id=invoice["id"], action="mark_paid")
    assert (again.status_code, again.json()) == (400, {"message": "Invoice cannot be marked as paid"})


def test_cancel_download_and_unknown_actions(api, token):
    client = add_client(api)
    draft = add_invoice(api, client)
    sent = add_invoice(api, client, params={"mark_sent": "true"})

    cancelled = decoded(api.get("invoice-action", entity_id=sent["id"], action="cancel"))["data"]
    pdf = api.get("invoice-action", entity_id=sent["id"], action="download")

    assert (cancelled["status_id"], cancelled["balance"]) == ("5", 0)
    assert decoded(api.get("client", entity_id=client["id"]))["data"]["balance"] == 0
    assert api.get("invoice-action", entity_id=draft["id"], action="cancel").json() == {
        "message": "Invoice cannot be cancelled"
    }
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-1.4")
    assert pdf.content.rstrip().endswith(b"%%EOF")
    unknown = api.get("invoice-action", entity_id=sent["id"], action="approve")
    assert (unknown.status_code, unknown.json()) == (400, {"message": "Action approve is not available."})


def test_bulk_actions_answer_the_invoices(api, token):
    client = add_client(api)
    first, second = add_invoice(api, client), add_invoice(api, client)

    response = api.post("invoices-bulk", {"action": "mark_sent", "ids": [first["id"], second["id"], "XXXXXXXXXX"]})

    listed = decoded(response)
    assert [(invoice["id"], invoice["status_id"]) for invoice in listed["data"]] == [
        (first["id"], "2"), (second["id"], "2")
    ]  # fmt: skip
    assert listed["meta"]["pagination"]["total"] == 2
    decoded(api.post("invoices-bulk", {"action": "mark_paid", "ids": [first["id"]]}))
    refused = api.post("invoices-bulk", {"action": "mark_paid", "ids": [first["id"], second["id"]]})
    assert (refused.status_code, refused.json()) == (
        422, {"message": "Invoice cannot be marked as paid", "errors": {"ids": ["Invoice cannot be marked as paid"]}}
    )  # fmt: skip
    assert invoice_ninja.get_invoice(token, second["id"])["status_id"] == "2"
    emailed = api.post("invoices-bulk", {"action": "email", "ids": [second["id"]]})
    assert [invoice["last_sent_date"] for invoice in decoded(emailed)["data"]] == [timezone.localdate().isoformat()]
    assert api.post("invoices-bulk", {"action": "delete", "ids": [first["id"]]}).json() == invalid(
        "action", "The selected action is invalid."
    )


def test_put_recomputes_a_paid_invoice_balance_from_its_new_amount(api, token, enqueued):
    client = add_client(api)
    invoice = add_invoice(api, client, params={"mark_sent": "true"})
    pay(api, client, invoice, "1297.20")
    subscribe(api, "8")

    response = api.put("invoice", {"line_items": [{**CONSULTING, "quantity": 10}]}, entity_id=invoice["id"])

    changed = decoded(response)["data"]
    assert (changed["amount"], changed["paid_to_date"], changed["balance"]) == (
        Decimal("1621.5"), Decimal("1297.2"), Decimal("324.3")
    )  # fmt: skip
    assert changed["status_id"] == "4"
    assert changed["number"] == invoice["number"]
    assert [i["key"] for i in changed["invitations"]] == [i["key"] for i in invoice["invitations"]]
    [(event_id, body)] = fired(enqueued)
    assert (event_id, body["amount"]) == ("8", Decimal("1621.5"))


# Quotes


def test_quotes_are_sent_approved_and_converted(api, token, enqueued):
    client = add_client(api)
    quote = add_quote(api, client, due_date="2024-04-30")
    for event_id in ("3", "6", "21", "2"):
        subscribe(api, event_id)

    assert quote["entity_type"] == "quote"
    assert quote["invoice_id"] == ""
    assert quote["invitations"][0]["link"].startswith("http://testserver/sandbox/invoice-ninja/client/quote/")
    assert [event_id for event_id, _body in fired(enqueued)] == []
    with pytest.raises(invoice_ninja.ApiError) as refused:
        invoice_ninja.approve_quote(token, quote["id"])
    assert (refused.value.status, refused.value.body) == (400, {"message": "Only a sent quote can be approved"})

    sent = decoded(api.get("quote-action", entity_id=quote["id"], action="mark_sent"))["data"]
    approved = invoice_ninja.approve_quote(token, quote["id"])

    assert sent["status_id"] == "2"
    assert approved["status_id"] == "3"
    [(update_event, _update), (approve_event, approve_body)] = fired(enqueued)
    assert (update_event, approve_event) == ("6", "21")
    assert (approve_body["id"], approve_body["status_id"], approve_body["client"]["id"]) == (
        quote["id"],
        "3",
        client["id"],
    )

    invoice = decoded(api.get("quote-action", entity_id=quote["id"], action="convert_to_invoice"))["data"]

    assert (invoice["entity_type"], invoice["status_id"], invoice["client_id"]) == ("invoice", "1", client["id"])
    assert invoice["amount"] == Decimal("1297.2")
    assert invoice["line_items"] == quote["line_items"]
    converted = decoded(api.get("quote", entity_id=quote["id"]))["data"]
    assert (converted["status_id"], converted["invoice_id"]) == ("4", invoice["id"])
    assert [event_id for event_id, _body in fired(enqueued)] == ["2", "6"]
    again = api.get("quote-action", entity_id=quote["id"], action="convert")
    assert again.json() == {"message": "The quote has already been converted"}


def test_quote_filters_and_create_event(api, enqueued):
    client = add_client(api)
    subscribe(api, "3")
    quote = add_quote(api, client, number="Q-2024-7")

    assert [q["id"] for q in decoded(api.get("quotes", {"number": "Q-2024-7"}))["data"]] == [quote["id"]]
    [(event_id, body)] = fired(enqueued)
    assert (event_id, body["number"]) == ("3", "Q-2024-7")


def test_the_create_delay_hook_waits_after_storing_and_before_answering(api, token, monkeypatch):
    client = add_client(api)
    waits = []
    monkeypatch.setattr(
        views.time,
        "sleep",
        lambda seconds: waits.append((seconds, [i["id"] for i in invoice_ninja.list_invoices(token)])),
    )
    invoice_ninja.set_create_delay(0.3)

    invoice = add_invoice(api, client)
    quote = add_quote(api, client)

    assert invoice_ninja.create_delay_seconds() == 0.3
    assert waits == [(0.3, [invoice["id"]]), (0.3, [invoice["id"]])]
    assert quote["status_id"] == "1"
    invoice_ninja.set_create_delay(0)
    assert invoice_ninja.create_delay_seconds() == 0.0
    add_invoice(api, client)
    assert len(waits) == 2


# Products


def test_products_are_created_listed_and_updated(api, enqueued):
    subscribe(api, "50")
    response = api.post("products", {"product_key": "Beratung", "notes": "Stundensatz", "cost": 150, "price": 150.5,
                                     "tax_name1": "MWST", "tax_rate1": 8.1})  # fmt: skip

    product = decoded(response)["data"]
    assert ID.match(product["id"])
    assert {key: product[key] for key in ("product_key", "notes", "cost", "price", "quantity", "tax_rate1")} == {
        "product_key": "Beratung", "notes": "Stundensatz", "cost": 150, "price": Decimal("150.5"), "quantity": 1,
        "tax_rate1": Decimal("8.1"),
    }  # fmt: skip
    changed = decoded(api.put("product", {"price": 160}, entity_id=product["id"]))["data"]
    assert (changed["price"], changed["notes"]) == (160, "Stundensatz")
    assert [p["id"] for p in decoded(api.get("products", {"filter": "stunden"}))["data"]] == [product["id"]]
    assert [event_id for event_id, _body in fired(enqueued)] == ["50"]


# Webhook subscriptions and deliveries


def test_webhooks_are_created_listed_updated_and_deleted(api):
    created = subscribe(api, 4)

    assert ID.match(created["id"])
    assert created == {
        "id": created["id"], "user_id": created["user_id"], "event_id": "4", "target_url": f"{HUB_HOOK}4/",
        "format": "JSON", "rest_method": "post", "headers": SECRET_HEADER, "created_at": created["created_at"],
        "updated_at": created["created_at"], "archived_at": 0, "is_deleted": False,
    }  # fmt: skip
    changed = decoded(api.put("webhook", {"rest_method": "put", "event_id": 8}, entity_id=created["id"]))["data"]
    assert (changed["rest_method"], changed["event_id"], changed["target_url"]) == ("put", "8", f"{HUB_HOOK}4/")
    assert [w["id"] for w in decoded(api.get("webhooks"))["data"]] == [created["id"]]
    deleted = decoded(api.delete("webhook", entity_id=created["id"]))["data"]
    assert (deleted["id"], deleted["is_deleted"]) == (created["id"], True)
    assert decoded(api.get("webhooks"))["data"] == []
    assert api.get("webhook", entity_id=created["id"]).status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"event_id": "4"}, "target_url", "The target url field is required."),
        ({"target_url": HUB_HOOK}, "event_id", "The event id field is required."),
        ({"target_url": "not a url", "event_id": "4"}, "target_url", "The target url field must be a valid URL."),
        ({"target_url": HUB_HOOK, "event_id": "4", "rest_method": "patch"}, "rest_method",
         "The selected rest method is invalid."),
        ({"target_url": HUB_HOOK, "event_id": "four"}, "event_id", "The event_id field must be an id."),
    ],
)  # fmt: skip
def test_a_faulty_webhook_is_refused(api, body, field, message):
    response = api.post("webhooks", body)

    assert (response.status_code, response.json()) == (422, invalid(field, message))


@responses.activate
def test_a_delivery_posts_the_compact_bare_entity_with_the_custom_headers(api, token, enqueued):
    client = add_client(api)
    subscribe(api, "2")
    responses.post(f"{HUB_HOOK}2/", status=200)

    invoice = add_invoice(api, client)
    run_all(enqueued, DELIVERY_TASK)

    [call] = responses.calls
    assert call.request.method == "POST"
    assert call.request.headers["Content-Type"] == "application/json"
    assert call.request.headers["Accept"] == "application/json"
    assert call.request.headers["X-Webhook-Secret"] == SECRET_HEADER["X-Webhook-Secret"]
    body = decoded_bytes(call.request.body)
    assert {key: value for key, value in body.items() if key != "client"} == invoice
    assert body["client"]["id"] == client["id"]
    assert (
        call.request.body
        == json.dumps(json.loads(call.request.body), separators=(",", ":"), ensure_ascii=False).encode()
    )
    [delivery] = invoice_ninja.webhook_deliveries(token)
    assert delivery == {
        "event_id": "2", "webhook_id": invoice_ninja.list_webhooks(token)[0]["id"], "target_url": f"{HUB_HOOK}2/",
        "rest_method": "post", "status_code": 200, "error": "", "attempt": 1, "outcome": "delivered",
        "sent_at": delivery["sent_at"],
    }  # fmt: skip


@responses.activate
def test_a_put_subscription_is_delivered_with_put(api, enqueued):
    client = add_client(api)
    subscribe(api, "2", rest_method="put")
    responses.put(f"{HUB_HOOK}2/", status=204)

    add_invoice(api, client)
    run_all(enqueued, DELIVERY_TASK)

    assert [call.request.method for call in responses.calls] == ["PUT"]


@responses.activate
@pytest.mark.parametrize("status", [404, 405, 410])
def test_a_gone_answer_deletes_the_subscription(api, token, status):
    webhook = subscribe(api, "4")
    responses.post(f"{HUB_HOOK}4/", status=status)

    result = tasks.deliver_invoice_ninja_webhook.apply(
        (invoice_ninja.store.reference(token), webhook["id"], "4", '{"id":"x"}')
    )

    assert result.successful()
    assert len(responses.calls) == 1
    assert invoice_ninja.list_webhooks(token) == []
    [delivery] = invoice_ninja.webhook_deliveries(token)
    assert (delivery["status_code"], delivery["outcome"]) == (status, "subscription deleted")
    # A delivery queued before the deletion sends nothing.
    tasks.deliver_invoice_ninja_webhook.apply((invoice_ninja.store.reference(token), webhook["id"], "4", '{"id":"x"}'))
    assert len(responses.calls) == 1


@responses.activate
@pytest.mark.parametrize("status", [400, 500, 503])
def test_400_and_server_errors_fail_without_retry(api, token, status):
    webhook = subscribe(api, "4")
    responses.post(f"{HUB_HOOK}4/", status=status)

    result = tasks.deliver_invoice_ninja_webhook.apply(
        (invoice_ninja.store.reference(token), webhook["id"], "4", '{"id":"x"}')
    )

    assert result.failed()
    assert len(responses.calls) == 1
    [delivery] = invoice_ninja.webhook_deliveries(token)
    assert (delivery["status_code"], delivery["attempt"], delivery["outcome"]) == (status, 1, "failed")
    assert [w["id"] for w in invoice_ninja.list_webhooks(token)] == [webhook["id"]]


@responses.activate
def test_other_4xx_answers_are_retried_up_to_five_attempts(api, token):
    webhook = subscribe(api, "4")
    responses.post(f"{HUB_HOOK}4/", status=401)

    # apply() runs the task and its retries here, one after the other, ignoring the countdown.
    result = tasks.deliver_invoice_ninja_webhook.apply(
        (invoice_ninja.store.reference(token), webhook["id"], "4", '{"id":"x"}')
    )

    assert result.failed()
    assert len(responses.calls) == tasks.INVOICE_NINJA_WEBHOOK_ATTEMPTS == 5
    outcomes = [(d["attempt"], d["status_code"], d["outcome"]) for d in invoice_ninja.webhook_deliveries(token)]
    assert outcomes == [(1, 401, "retry"), (2, 401, "retry"), (3, 401, "retry"), (4, 401, "retry"), (5, 401, "failed")]


@responses.activate
def test_a_connection_error_is_retried_then_delivered(api, token):
    webhook = subscribe(api, "4")
    responses.post(f"{HUB_HOOK}4/", body=requests.ConnectionError("refused"))
    responses.post(f"{HUB_HOOK}4/", status=200)

    result = tasks.deliver_invoice_ninja_webhook.apply(
        (invoice_ninja.store.reference(token), webhook["id"], "4", '{"id":"x"}')
    )

    assert result.successful()
    first, second = invoice_ninja.webhook_deliveries(token)
    assert (first["status_code"], first["outcome"]) == (None, "retry")
    assert "ConnectionError" in first["error"]
    assert (second["status_code"], second["attempt"], second["outcome"]) == (200, 2, "delivered")


def test_delivery_records_are_capped(api, token, monkeypatch):
    webhook = subscribe(api, "4")
    monkeypatch.setattr(invoice_ninja, "MAX_DELIVERY_RECORDS", 3)

    for attempt in range(1, 6):
        invoice_ninja.settle_delivery(
            token, webhook, event_id="4", attempt=attempt, max_attempts=9, status=401, error="Unauthorized"
        )

    assert [d["attempt"] for d in invoice_ninja.webhook_deliveries(token)] == [3, 4, 5]


# The sandbox's page and the client portal


def test_sandbox_page_needs_a_signed_in_user(client):
    response = client.get(reverse("sandbox:invoice-ninja-dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_sandbox_page_shows_the_company_and_records_a_payment(client, api, token, enqueued):
    client.force_login(UserFactory())
    customer = add_client(api)
    invoice = add_invoice(api, customer, number="2024-0042", params={"mark_sent": "true"})
    subscribe(api, "4")
    company = invoice_ninja.company_for_token(token)

    page = client.get(reverse("sandbox:invoice-ninja-dashboard"))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Muster Treuhand AG" in html
    assert "2024-0042" in html
    assert "anna@muster.ch" in html
    assert f"{HUB_HOOK}4/" in html
    assert token not in html
    assert f'value="{company["id"]}:{invoice["id"]}"' in html

    response = client.post(
        reverse("sandbox:invoice-ninja-dashboard"),
        {"invoice": f"{company['id']}:{invoice['id']}", "amount": "500.00", "transaction_reference": "REF-1"},
    )

    assert response.status_code == 302
    [payment] = invoice_ninja.list_payments(token)
    assert (payment["amount"], payment["transaction_reference"]) == (Decimal("500.00"), "REF-1")
    assert invoice_ninja.get_invoice(token, invoice["id"])["status_id"] == "3"
    assert [event_id for event_id, _body in fired(enqueued)] == ["4"]

    too_much = client.post(
        reverse("sandbox:invoice-ninja-dashboard"),
        {"invoice": f"{company['id']}:{invoice['id']}", "amount": "9999.00", "transaction_reference": ""},
    )
    assert too_much.status_code == 200
    assert "You cannot overpay an invoice." in too_much.content.decode()


def test_sandbox_page_approves_a_sent_quote(client, api, token, enqueued):
    client.force_login(UserFactory())
    quote = add_quote(api, add_client(api))
    api.get("quote-action", entity_id=quote["id"], action="mark_sent")
    company = invoice_ninja.company_for_token(token)
    assert (
        f'name="quote_id" value="{quote["id"]}"'
        in client.get(reverse("sandbox:invoice-ninja-dashboard")).content.decode()
    )

    response = client.post(
        reverse("sandbox:invoice-ninja-approve-quote"), {"company_id": company["id"], "quote_id": quote["id"]}
    )

    assert response.status_code == 302
    assert invoice_ninja.list_quotes(token)[0]["status_id"] == "3"


def test_the_portal_shows_an_invoice_without_sign_in_and_records_the_view(client, api, token):
    invoice = add_invoice(api, add_client(api), number="2024-0042")
    link = invoice["invitations"][0]["link"]

    page = client.get(link)

    assert page.status_code == 200
    html = page.content.decode()
    assert "2024-0042" in html
    assert "Consulting March 2024" in html
    viewed = invoice_ninja.get_invoice(token, invoice["id"])["invitations"][0]["viewed_date"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", viewed)
    assert client.get(link.replace("/invoice/", "/quote/")).status_code == 404
    assert client.get(reverse("sandbox:invoice-ninja-portal-invoice", args=["nokey"])).status_code == 404


def test_the_portal_approves_a_sent_quote(client, api, token, enqueued):
    subscribe(api, "21")
    quote = add_quote(api, add_client(api))
    link = quote["invitations"][0]["link"]
    assert '<button type="submit"' not in client.get(link).content.decode()
    api.get("quote-action", entity_id=quote["id"], action="mark_sent")

    assert '<button type="submit"' in client.get(link).content.decode()
    response = client.post(link)

    assert response.status_code == 302
    assert invoice_ninja.list_quotes(token)[0]["status_id"] == "3"
    assert [event_id for event_id, _body in fired(enqueued)] == ["21"]
