"""The client hears that the project started: a Mautic template e-mail in their language, once, on the timeline.

Mautic's HTTP is faked with `responses` in the shapes of research/api-contracts.md §3 (contacts, the send,
the activity); the Hub's side is real: the payment settles the deposit, the gate opens the project, the
domain event starts the run, and the run is executed as the worker executes it.
"""

import datetime
from decimal import Decimal

import pytest
import requests
from django.urls import reverse
from django.utils import timezone, translation

from finance.models import AuditEvent, Milestone, Project, Quote
from finance.services import documents, payments
from finance.services.mautic import ACKNOWLEDGEMENT_ACTION, acknowledgement_run
from finance.services.projects import project_create_from_quote
from integrations import mautic as mautic_connection
from integrations.actions import execute_action_run
from integrations.models import ActionRun, Connection
from tests.factories import ClientFactory, QuoteFactory
from tests.integrations.test_mautic_dunning import activity, contact_data, contacts, email_sent_event, sent

pytestmark = pytest.mark.django_db

D = Decimal
BASE = "https://mautic.example.ch"
API = f"{BASE}/api"
SEARCH = {
    "where[0][col]": "email", "where[0][expr]": "eq", "where[0][val]": "compta@favre.ch", "orderBy": "id",
    "orderByDir": "asc", "limit": "10",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def mautic_connected(company_a):
    connection = Connection(company=company_a, provider="mautic", base_url=BASE,
                            config={"auth_method": "basic", "username": "hub",
                                    "acknowledgement_emails": {"fr": 21, "de": 22}})  # fmt: skip
    connection.set_secrets(password="pw", webhook_secret="hook-secret")
    connection.save()
    return connection


@pytest.fixture
def manager(company_a, member_of):
    user = member_of(company_a, "operations", "luc.chef")
    user.first_name, user.last_name, user.email = "Luc", "Chef", "luc.chef@alpha.ch"
    user.save()
    return user


def started_project(company, manager, *, language="fr"):
    """Quote of 10'000.00 net at 8.1 %, signed, 30 % deposit (3'243.00) issued and paid: the project starts."""
    client = ClientFactory(company=company, name="Boulangerie Favre SA", email="compta@favre.ch", language=language)
    quote = QuoteFactory(company=company, client=client, created_by=manager, project_type="digital_signage",
                         quote_date=datetime.date(2026, 11, 2), valid_until=datetime.date(2026, 12, 31))  # fmt: skip
    documents.quote_lines_replace(
        quote=quote,
        edited_by=manager,
        lines=[
            documents.LineInput(description="Mur LED", quantity=D("1"), unit_price=D("10000.00"), vat_code="standard")
        ],
    )
    quote = documents.quote_send(quote=Quote.objects.get(pk=quote.pk), sent_by=manager)
    quote = documents.quote_mark_signed(quote=quote, actor=manager)
    project = project_create_from_quote(quote=quote, created_by=manager, manager=manager)
    deposit = documents.invoice_issue(
        invoice=documents.invoice_create_deposit(quote=quote, created_by=manager), issued_by=manager,
        issue_date=timezone.localdate(),
    )  # fmt: skip
    payments.payment_record(
        client=client, received_on=timezone.localdate(), amount=D("3243.00"), method="bank_transfer",
        reference=deposit.qr_reference, allocations=[(deposit, D("3243.00"))], recorded_by=manager,
    )  # fmt: skip
    return Project.objects.get(pk=project.pk), quote


def execute(run):
    execute_action_run(run.pk)
    run.refresh_from_db()
    return run


def expected_tokens(project, quote):
    milestone = Milestone.objects.filter(project=project).order_by("due_date", "pk").first()
    # Mautic's client sends token names in braces; the milestone is named in the client's language (French).
    return {
        "{project_reference}": f"HUB-A{project.pk}", "{project}": "Écran LED hall d'entrée",
        "{quote_number}": quote.number, "{amount_received}": "CHF 3'243.00",
        "{next_milestone}": f"Visite technique du site ({milestone.due_date:%d.%m.%Y})",
        "{contact_person}": "Luc Chef <luc.chef@alpha.ch>", "{client_name}": "Boulangerie Favre SA",
        "{company_name}": project.company.legal_name,
    }  # fmt: skip


def test_an_activated_project_e_mails_the_client_in_their_language_once(http, company_a, mautic_connected, manager):
    project, quote = started_project(company_a, manager)
    assert (project.status, project.acknowledged_at) == ("deposit_received", None)
    run = acknowledgement_run(project)
    assert (run.action, run.status, run.idempotency_key) == (
        ACKNOWLEDGEMENT_ACTION, "queued", f"{ACKNOWLEDGEMENT_ACTION}:{project.pk}",
    )  # fmt: skip
    http.get(f"{API}/contacts", json=contacts())
    http.post(f"{API}/contacts/new", status=201, json={"contact": contact_data(47)})
    http.post(f"{API}/emails/21/contact/47/send", json={"success": True})

    run = execute(run)

    assert (run.status, run.last_error, run.result) == ("succeeded", "", {"project": project.pk, "contact": 47,
                                                                           "email": 21})  # fmt: skip
    search, _create, send = http.calls
    assert sent(search) == ("GET", "/api/contacts", SEARCH, None)
    assert sent(send) == ("POST", "/api/emails/21/contact/47/send", {}, {"tokens": expected_tokens(project, quote)})
    project.refresh_from_db()
    assert project.acknowledged_at is not None
    event = AuditEvent.objects.get(action="project.acknowledged", object_id=str(project.pk))
    assert (event.object_type, event.changes["summary"]) == ("finance.project", "compta@favre.ch · Mautic #21")

    # Executed again (a resumed worker, a replay): the e-mail is not sent twice.
    ActionRun.objects.filter(pk=run.pk).update(status="queued")
    again = execute(run)
    assert again.result == {"project": project.pk, "already_sent": True}
    assert len(calls_to_send(http)) == 1


def calls_to_send(http):
    return [call for call in http.calls if call.request.url.endswith("/send")]


def test_a_german_client_gets_the_german_template_and_a_missing_language_falls_back(
    http, company_a, mautic_connected, manager
):
    assert mautic_connection.acknowledgement_email_for(mautic_connected, "de") == 22
    assert mautic_connection.acknowledgement_email_for(mautic_connected, "it") == 21
    project, _quote = started_project(company_a, manager, language="de")
    http.get(f"{API}/contacts", json=contacts(contact_data(47)))
    http.post(f"{API}/emails/22/contact/47/send", json={"success": True})

    assert execute(acknowledgement_run(project)).result == {"project": project.pk, "contact": 47, "email": 22}


def test_a_send_whose_answer_was_lost_is_found_in_the_activity_not_sent_again(
    http, company_a, mautic_connected, manager
):
    project, _quote = started_project(company_a, manager)
    http.get(f"{API}/contacts", json=contacts(contact_data(47)))
    http.post(f"{API}/emails/21/contact/47/send", body=requests.ConnectionError("reset by peer"))

    run = execute(acknowledgement_run(project))
    assert (run.status, run.attempts) == ("queued", 1)  # transient: retried with backoff
    assert Project.objects.get(pk=project.pk).acknowledgement_attempted_at is not None

    # The contact id is stored now: the next attempt reads it, then the activity.
    http.get(f"{API}/contacts/47", json={"contact": contact_data(47)})
    http.get(f"{API}/contacts/47/activity", json=activity(email_sent_event(email_id="21")))
    run = execute(run)

    assert (run.status, run.result) == ("succeeded", {"project": project.pk, "contact": 47, "found_sent": True})
    assert len(calls_to_send(http)) == 1
    assert Project.objects.get(pk=project.pk).acknowledged_at is not None


def test_without_mautic_or_without_a_template_the_run_fails_with_the_reason(company_a, manager, mautic_connected):
    mautic_connected.config = {"auth_method": "basic", "username": "hub"}
    mautic_connected.save()
    project, _quote = started_project(company_a, manager)

    run = execute(acknowledgement_run(project))

    assert (run.status, run.last_error) == (
        "failed", "mautic: No “project started” template e-mail is chosen in the Mautic settings of Alpha.",
    )  # fmt: skip
    failed = AuditEvent.objects.get(action="project.acknowledgement_failed", object_id=str(project.pk))
    assert failed.changes["summary"].startswith("No “project started” template e-mail")


def test_the_mautic_page_saves_the_templates_per_language(client, company_a, ceo, mautic_connected):
    client.force_login(ceo)
    url = reverse("integrations:mautic-acknowledgement-emails", kwargs={"company_code": company_a.code})

    refused = client.post(url, {"fr": "", "de": "", "en": "", "it": ""}, headers={"Accept-Language": "en"})
    assert refused.status_code == 200
    assert "Choose the template e-mail of at least one language." in refused.text

    saved = client.post(url, {"fr": "31", "de": "32", "en": "", "it": ""})
    assert saved.status_code == 302
    mautic_connected.refresh_from_db()
    assert mautic_connection.acknowledgement_emails(mautic_connected) == {"fr": 31, "de": 32}
    page = client.get(saved.url, headers={"Accept-Language": "en"})
    assert 'name="fr" value="31"' in page.text


def test_the_project_page_shows_the_acknowledgement(client, http, company_a, mautic_connected, manager):
    project, _quote = started_project(company_a, manager)
    http.get(f"{API}/contacts", json=contacts(contact_data(47)))
    http.post(f"{API}/emails/21/contact/47/send", json={"success": True})
    execute(acknowledgement_run(project))
    client.force_login(manager)

    page = client.get(reverse("finance:project-detail", kwargs={"pk": project.pk}), headers={"Accept-Language": "en"})

    assert page.status_code == 200
    assert "“Project started” e-mail via Mautic" in page.text
    assert "Client told the project started (Mautic)" in page.text
