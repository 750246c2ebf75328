"""Directus as the admin layer, against a real Directus on the test database (started by the `directus` fixture).

Directus writes through its own connections, so these tests commit (transactional_db); its Flow posts to the
live server, and a real Celery worker processes the events as in production.
"""

import datetime
import time
from decimal import Decimal as D

import pytest
import requests
from django.utils import translation

from finance.models import AuditEvent, Client, Invoice, Quote, Role
from finance.services import documents
from finance.services.documents import LineInput
from finance.tasks import outside_edits_sweep
from integrations.directus import FLOW_NAME
from integrations.models import OutsideEdit, SyncDrift, WebhookDelivery
from tests.conftest import DIRECTUS_ADMIN_EMAIL, DIRECTUS_ADMIN_TOKEN, DIRECTUS_WEBHOOK_SECRET
from tests.factories import ClientFactory, UserFactory

HUB_ADMIN_EMAIL = "anna.admin@hypervisual.ch"
HUB_ADMIN_TOKEN = "tests-hub-admin-token"  # noqa: S105
# Seconds a Flow event gets to reach the Hub and be processed by the worker (under 2 s here).
EVENT_TIMEOUT = 30


@pytest.fixture(autouse=True)
def _hub_knows_the_secret(settings):
    settings.HV_DIRECTUS_WEBHOOK_SECRET = DIRECTUS_WEBHOOK_SECRET


def directus_call(instance, method: str, path: str, *, token: str = DIRECTUS_ADMIN_TOKEN, **kwargs):
    return requests.request(method, f"{instance.url}{path}", headers={"Authorization": f"Bearer {token}"},
                            timeout=30, **kwargs)  # fmt: skip


def hub_flows(instance) -> list[dict]:
    return directus_call(instance, "GET", "/flows", params={"filter[name][_eq]": FLOW_NAME}).json()["data"]


def wait_until(condition, *, timeout: float = EVENT_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"not reached within {timeout} s")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def hub_admin(directus_hub, django_db_blocker):
    """A Directus user with the "Hub admin" role (an API user with a static token: no seat in the app)."""
    role = directus_call(directus_hub, "GET", "/roles", params={"filter[name][_eq]": "Hub admin"}).json()["data"][0]
    answer = directus_call(directus_hub, "POST", "/users", json={
        "email": HUB_ADMIN_EMAIL, "first_name": "Anna", "last_name": "Admin", "role": role["id"],
        "token": HUB_ADMIN_TOKEN,
    })  # fmt: skip
    assert answer.status_code == 200, answer.text
    return HUB_ADMIN_TOKEN


@pytest.fixture
def seller(company_a):
    return company_a


@pytest.fixture
def draft_quote(seller, vat_rates):
    author = UserFactory()
    with translation.override("en"):
        quote = documents.quote_create(
            client=ClientFactory(company=seller), title="Mur LED", quote_date=datetime.date(2026, 11, 2),
            valid_until=datetime.date(2026, 12, 2), project_type="digital_signage", currency="CHF", created_by=author,
        )  # fmt: skip
        return documents.quote_lines_replace(quote=quote, edited_by=author, lines=[
            LineInput("Écran LED 55 pouces", quantity=D("3"), unit_price=D("333.33"), vat_code="standard"),
            LineInput("Câble", quantity=D("1"), unit_price=D("0.35"), vat_code="standard", unit="pce"),
        ])  # fmt: skip


@pytest.fixture
def issued_invoice(draft_quote):
    author = draft_quote.created_by
    with translation.override("en"):
        quote = documents.quote_send(quote=draft_quote, sent_by=author)
        quote = documents.quote_mark_signed(quote=quote, actor=author)
        invoice = documents.invoice_create_deposit(quote=quote, created_by=author)
        return documents.invoice_issue(invoice=invoice, issued_by=author, issue_date=datetime.date(2026, 11, 5))


def test_configuration_is_idempotent_and_readable(directus_hub, settings, live_server):
    from django.core.management import call_command

    settings.HV_DIRECTUS_URL, settings.HV_DIRECTUS_TOKEN = directus_hub.url, DIRECTUS_ADMIN_TOKEN
    output = __import__("io").StringIO()
    call_command("directus_configure", hub_url=live_server.url, stdout=output)

    # Configured once by the fixture already: the second run finds nothing to change.
    assert output.getvalue().splitlines()[1:] == [
        "  collections registered or changed: 0",
        "  fields described or changed: 0",
        "  Django tables newly hidden: 0",
        "  Hub admin permissions created or changed: 0",
        "  flow steps created or changed: 0",
        "  health: /server/health a répondu « ok ».",
    ]
    listed = directus_call(directus_hub, "GET", "/collections").json()["data"]
    collections = {item["collection"]: item["meta"] for item in listed}
    names = {entry["language"]: entry["translation"] for entry in collections["finance_quoteline"]["translations"]}
    assert names == {"en-US": "Quote lines", "fr-FR": "Lignes de devis", "de-DE": "Offertpositionen"}
    assert collections["finance_client"]["group"] == "hub_master_data"
    assert collections["auth_user"]["hidden"] is True
    assert collections["django_session"]["hidden"] is True
    flows = hub_flows(directus_hub)
    assert len(flows) == 1
    assert flows[0]["status"] == "active"
    assert "finance_quoteline" in flows[0]["options"]["collections"]


def test_a_client_created_in_directus_appears_in_the_hub(
    directus_hub, celery_worker_process, seller, member_of, client
):
    answer = directus_call(directus_hub, "POST", "/items/finance_client", json={
        "company_id": seller.pk, "name": "Clinique des Alpes SA", "street": "Route de Berne", "building_number": "12",
        "postal_code": "1700", "town": "Fribourg", "che_uid": "CHE-109.322.551",
    })  # fmt: skip

    assert answer.status_code == 200, answer.text
    created = answer.json()["data"]
    # Database defaults filled what Directus did not send.
    assert (created["country"], created["language"], created["email"], created["kind"]) == (
        "CH",
        "fr",
        "",
        "organisation",
    )
    event = wait_until(lambda: AuditEvent.objects.filter(action="directus.edited", object_id=created["id"]).first())
    assert event.object_type == "finance.client"
    assert event.company == seller
    assert event.changes["user"] == DIRECTUS_ADMIN_EMAIL
    assert event.changes["operation"] == "create"
    assert event.changes["source"] == "event"
    assert WebhookDelivery.objects.get(provider="directus").status == "processed"
    assert not OutsideEdit.objects.filter(processed_at__isnull=True).exists()

    client.force_login(member_of(seller, Role.SALES))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    listing = client.get("/clients/")
    assert "Clinique des Alpes SA" in listing.content.decode()
    detail = client.get(f"/clients/{created['id']}/").content.decode()
    assert "Edited in Directus" in detail
    assert f"{DIRECTUS_ADMIN_EMAIL} (Directus)" in detail


def test_an_issued_invoice_cannot_be_changed_through_directus(directus_hub, issued_invoice):
    answer = directus_call(directus_hub, "PATCH", f"/items/finance_invoice/{issued_invoice.pk}",
                           json={"payable_total": "1.00", "gross_total": "1.00", "net_total": "1.00"})  # fmt: skip

    assert answer.status_code >= 400
    assert f"invoice {issued_invoice.number} is issued: only its status may change" in answer.text
    unchanged = Invoice.objects.get(pk=issued_invoice.pk)
    assert (unchanged.net_total, unchanged.payable_total) == (issued_invoice.net_total, issued_invoice.payable_total)
    assert (unchanged.kind, unchanged.payable_total) == ("deposit", D("324.40"))
    assert not OutsideEdit.objects.exists()


def test_the_hub_admin_role_edits_master_data_and_drafts_only(directus_hub, hub_admin, issued_invoice):
    client_id = issued_invoice.client_id
    refused_issued = directus_call(directus_hub, "PATCH", f"/items/finance_invoice/{issued_invoice.pk}",
                                   token=hub_admin, json={"title": "Autre"})  # fmt: skip
    refused_field = directus_call(directus_hub, "PATCH", f"/items/finance_client/{client_id}", token=hub_admin,
                                  json={"invoice_ninja_id": "forged"})  # fmt: skip
    sent_line = issued_invoice.quote.lines.first()
    refused_sent_quote = directus_call(directus_hub, "PATCH", f"/items/finance_quoteline/{sent_line.pk}",
                                       token=hub_admin, json={"quantity": "9"})  # fmt: skip
    allowed = directus_call(directus_hub, "PATCH", f"/items/finance_client/{client_id}", token=hub_admin,
                            json={"email": "compta@example.ch"})  # fmt: skip
    readable = directus_call(directus_hub, "GET", f"/items/finance_invoice/{issued_invoice.pk}", token=hub_admin)

    assert [refused_issued.status_code, refused_field.status_code, refused_sent_quote.status_code] == [403, 403, 403]
    assert allowed.status_code == 200, allowed.text
    assert readable.json()["data"]["number"] == issued_invoice.number
    assert Client.objects.get(pk=client_id).email == "compta@example.ch"


def test_a_draft_quote_line_edited_in_directus_updates_the_totals(
    directus_hub, hub_admin, celery_worker_process, draft_quote, member_of, client
):
    assert (draft_quote.net_total, draft_quote.payable_total) == (D("1000.34"), D("1081.35"))
    line = draft_quote.lines.get(description="Câble")

    answer = directus_call(directus_hub, "PATCH", f"/items/finance_quoteline/{line.pk}", token=hub_admin,
                           json={"quantity": "11", "vat_code": "reduced"})  # fmt: skip

    assert answer.status_code == 200, answer.text
    event = wait_until(
        lambda: AuditEvent.objects.filter(action="directus.edited", object_id=str(draft_quote.pk)).first()
    )
    quote = Quote.objects.get(pk=draft_quote.pk)
    # 3 × 333.33 at 8.1 % + 11 × 0.35 at 2.6 % (the reduced rate on the quote's date, set by the Hub).
    assert quote.lines.get(pk=line.pk).vat_rate == D("2.60")
    assert (quote.net_total, quote.vat_total, quote.gross_total) == (D("1003.84"), D("81.10"), D("1084.94"))
    assert (quote.rounding, quote.payable_total) == (D("0.01"), D("1084.95"))
    assert event.changes["user"] == HUB_ADMIN_EMAIL
    assert event.changes["fields"] == {"quantity": {"from": "1.000", "to": "11.000"},
                                       "vat_code": {"from": "standard", "to": "reduced"}}  # fmt: skip
    assert not SyncDrift.objects.exists()

    client.force_login(member_of(draft_quote.company, Role.SALES))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = client.get(f"/quotes/{quote.pk}/").content.decode()
    assert 'Payable</td><td class="text-end text-nowrap">CHF 1&#x27;084.95</td>' in page
    assert (
        f"{HUB_ADMIN_EMAIL} (Directus) · Quote line #{line.pk} · quantity: 1.000 → 11.000; VAT: standard → reduced"
        in page
    )


def test_an_event_delivered_twice_is_stored_once(directus_hub, celery_worker_process, draft_quote, client):
    answer = directus_call(directus_hub, "PATCH", f"/items/finance_quote/{draft_quote.pk}", json={"title": "Mur LED 2"})
    assert answer.status_code == 200, answer.text
    delivery = wait_until(lambda: WebhookDelivery.objects.filter(provider="directus", status="processed").first())
    events_before = AuditEvent.objects.filter(action="directus.edited").count()

    again = client.post("/webhooks/directus/", data=delivery.body, content_type="application/json",
                        headers={"X-Hub-Secret": DIRECTUS_WEBHOOK_SECRET})  # fmt: skip
    forged = client.post("/webhooks/directus/", data=delivery.body, content_type="application/json",
                         headers={"X-Hub-Secret": "guess"})  # fmt: skip

    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert forged.status_code == 401
    assert forged.json() == {"error": "missing or wrong X-Hub-Secret"}
    stored = WebhookDelivery.objects.filter(provider="directus")
    assert stored.filter(verified=True).count() == 1
    assert stored.get(verified=True).duplicates == 1
    assert stored.get(verified=False).status == "rejected"
    assert delivery.event_key.startswith("directus:")
    assert "X-Hub-Secret" not in stored.get(verified=True).headers
    assert AuditEvent.objects.filter(action="directus.edited").count() == events_before == 1
    assert delivery.company == draft_quote.company
    assert Quote.objects.get(pk=draft_quote.pk).title == "Mur LED 2"


def test_the_safety_net_catches_an_edit_whose_event_was_lost(directus_hub, seller, ceo, client, settings):
    settings.HV_OUTSIDE_EDIT_GRACE_SECONDS = 0
    customer = ClientFactory(company=seller, name="Boulangerie du Lac", postal_code="1003", town="Lausanne")
    flow = hub_flows(directus_hub)[0]
    # The event is lost: the Flow is off while the admin edits.
    directus_call(directus_hub, "PATCH", f"/flows/{flow['id']}", json={"status": "inactive"})
    try:
        answer = directus_call(
            directus_hub, "PATCH", f"/items/finance_client/{customer.pk}", json={"postal_code": "10"}
        )
        assert answer.status_code == 200, answer.text
    finally:
        directus_call(directus_hub, "PATCH", f"/flows/{flow['id']}", json={"status": "active"})
    pending = OutsideEdit.objects.get(table_name="finance_client", row_id=str(customer.pk))
    assert (pending.operation, pending.changes, pending.processed_at) == (
        "UPDATE",
        {"postal_code": ["1003", "10"]},
        None,
    )
    assert not WebhookDelivery.objects.exists()

    with translation.override("en"):
        assert outside_edits_sweep() == 1
        assert outside_edits_sweep() == 0

    event = AuditEvent.objects.get(action="directus.edited", object_id=str(customer.pk))
    assert (event.changes["source"], event.changes["user"]) == ("safety_net", DIRECTUS_ADMIN_EMAIL)
    assert event.changes["fields"] == {"postal_code": {"from": "1003", "to": "10"}}
    broken = AuditEvent.objects.get(action="directus.rule_broken", object_id=str(customer.pk))
    assert broken.changes["problems"] == ["postal_code: A Swiss postal code has four digits, e.g. 1700."]
    drift = SyncDrift.objects.get(provider="directus", resolved_at__isnull=True)
    assert drift.detail == (
        f"Edit by {DIRECTUS_ADMIN_EMAIL} breaks a rule: postal_code: A Swiss postal code has four digits, e.g. 1700."
    )
    client.force_login(ceo)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    dashboard = client.get("/").content.decode()
    assert "Directus · Edit by admin@example.com breaks a rule" in dashboard
    assert f"/clients/{customer.pk}/" in dashboard

    # Put right in Directus (the Flow on again): the urgent item goes.
    directus_call(directus_hub, "PATCH", f"/items/finance_client/{customer.pk}", json={"postal_code": "1006"})
    with translation.override("en"):
        wait_until(lambda: outside_edits_sweep() or not OutsideEdit.objects.filter(processed_at__isnull=True).exists())
    assert SyncDrift.objects.get(pk=drift.pk).resolved_at is not None
    assert "breaks a rule" not in client.get("/").content.decode()
