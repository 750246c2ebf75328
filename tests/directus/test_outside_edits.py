"""Edits written by another database client than the Hub (psql here), without Directus running.

PostgreSQL notes them (trigger), the safety net processes them like the Hub's own edits; the Hub's own
writes are never noted. The webhook view's refusals need no Directus either.
"""

import datetime
import json
from decimal import Decimal as D

import psycopg
import pytest
from django.db import connection
from django.utils import translation

from finance.models import AuditEvent, Quote
from finance.services import documents
from finance.services.documents import LineInput
from finance.services.outside_edits import outside_edits_sweep
from integrations.models import OutsideEdit, SyncDrift, WebhookDelivery
from tests.factories import ClientFactory, UserFactory

SECRET = "outside-edit-tests-secret"  # noqa: S105


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.HV_DIRECTUS_WEBHOOK_SECRET = SECRET


def run_as_psql(sql: str, params: list) -> None:
    """One statement on a connection of its own that is not the Hub's (as psql or Directus would)."""
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"],
                         application_name="psql", autocommit=True) as other:  # fmt: skip
        other.execute(sql, params)


@pytest.fixture
def draft_quote(vat_rates, company_a):
    author = UserFactory()
    with translation.override("en"):
        quote = documents.quote_create(
            client=ClientFactory(company=company_a), title="Mur LED", quote_date=datetime.date(2026, 11, 2),
            valid_until=datetime.date(2026, 12, 2), project_type="digital_signage", currency="CHF", created_by=author,
        )  # fmt: skip
        return documents.quote_lines_replace(quote=quote, edited_by=author, lines=[
            LineInput("Écran LED 55 pouces", quantity=D("3"), unit_price=D("333.33"), vat_code="standard"),
            LineInput("Câble", quantity=D("1"), unit_price=D("0.35"), vat_code="standard", unit="pce"),
        ])  # fmt: skip


def test_the_hubs_own_writes_are_not_noted(draft_quote):
    assert draft_quote.lines.count() == 2
    assert not OutsideEdit.objects.exists()


def test_a_line_deleted_outside_the_hub_updates_its_quote(draft_quote):
    cable = draft_quote.lines.get(description="Câble")

    run_as_psql("DELETE FROM finance_quoteline WHERE id = %s", [cable.pk])
    noted = OutsideEdit.objects.get()
    assert (noted.table_name, noted.row_id, noted.operation) == ("finance_quoteline", str(cable.pk), "DELETE")
    assert (noted.application_name, noted.changes["quote_id"]) == ("psql", draft_quote.pk)
    assert noted.changes["unit_price"] == D("0.35")

    with translation.override("en"):
        assert outside_edits_sweep(grace=datetime.timedelta(0)) == 1

    quote = Quote.objects.get(pk=draft_quote.pk)
    # 3 × 333.33 = 999.99 net, VAT 8.1 % = 81.00, total 1080.99 rounded to 1081.00.
    assert (quote.net_total, quote.vat_total, quote.payable_total) == (D("999.99"), D("81.00"), D("1081.00"))
    event = AuditEvent.objects.get(action="directus.edited")
    assert (event.object_type, event.object_id) == ("finance.quote", str(quote.pk))
    assert event.changes["user"] == "postgres (SQL)"
    with translation.override("en"):
        assert event.detail == f"Quote line #{cable.pk} · deleted"
    assert OutsideEdit.objects.get().processed_at is not None


def test_a_sent_quote_changed_outside_the_hub_is_reported_not_accepted(draft_quote):
    with translation.override("en"):
        sent = documents.quote_send(quote=draft_quote, sent_by=draft_quote.created_by)
    run_as_psql("UPDATE finance_quote SET title = %s WHERE id = %s", ["Autre chose", sent.pk])

    with translation.override("en"):
        outside_edits_sweep(grace=datetime.timedelta(0))

    broken = AuditEvent.objects.get(action="directus.rule_broken")
    assert broken.changes["problems"] == [
        f"Quote {sent.number} is sent: its content cannot change; make a new quote in the Hub."
    ]
    # Reported, not reverted: the urgent list asks a person to put it right.
    assert Quote.objects.get(pk=sent.pk).title == "Autre chose"
    assert SyncDrift.objects.get(resolved_at__isnull=True).detail.startswith(
        "Edit by postgres (SQL) breaks a rule: Quote"
    )
    assert AuditEvent.objects.get(action="directus.edited").changes["fields"] == {
        "title": {"from": "Mur LED", "to": "Autre chose"}
    }


def test_a_recent_outside_edit_waits_for_its_event(draft_quote):
    run_as_psql("UPDATE finance_quote SET title = %s WHERE id = %s", ["Mur LED 2", draft_quote.pk])

    assert outside_edits_sweep(grace=datetime.timedelta(minutes=1)) == 0
    assert OutsideEdit.objects.get().processed_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("secret", "body", "status", "reason"),
    [
        ("guess", "{}", 401, "missing or wrong X-Hub-Secret"),
        (SECRET, "not json", 400, "body is not a Directus Flow event of the Hub"),
        (SECRET, json.dumps({"delivery": "x", "trigger": {"collection": "finance_client"}}), 400,
         "body is not a Directus Flow event of the Hub"),
    ],
)  # fmt: skip
def test_the_webhook_refuses_what_is_not_a_signed_flow_event(client, secret, body, status, reason):
    answer = client.post("/webhooks/directus/", data=body, content_type="application/json",
                         headers={"X-Hub-Secret": secret})  # fmt: skip

    assert (answer.status_code, answer.json()) == (status, {"error": reason})
    refused = WebhookDelivery.objects.get()
    assert (refused.provider, refused.verified, refused.status, refused.error) == (
        "directus",
        False,
        "rejected",
        reason,
    )


@pytest.mark.django_db
def test_the_webhook_ignores_collections_the_hub_does_not_share(client):
    body = json.dumps({"delivery": "x1", "user": "", "trigger": {"collection": "auth_user", "keys": ["1"]}})

    answer = client.post("/webhooks/directus/", data=body, content_type="application/json",
                         headers={"X-Hub-Secret": SECRET})  # fmt: skip

    assert (answer.status_code, answer.json()) == (422, {"error": "auth_user is not a collection the Hub shares"})
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_the_webhook_refuses_everything_without_a_configured_secret(client, settings):
    settings.HV_DIRECTUS_WEBHOOK_SECRET = ""

    answer = client.post("/webhooks/directus/", data="{}", content_type="application/json",
                         headers={"X-Hub-Secret": ""})  # fmt: skip

    assert (answer.status_code, answer.json()) == (401, {"error": "no Directus webhook secret is configured"})
