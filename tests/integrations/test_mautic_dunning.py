"""Mautic as the dunning channel: the reminder run, the contact upsert, a lost answer, auth, webhooks.

Mautic's HTTP is faked with `responses`, in the shapes of research/api-contracts.md §3 (§3.4 for contacts and
the send, §3.2 for lists, activity and hooks, §3.3 for webhook payloads and signatures); the Hub's side is real
(PostgreSQL, services, the action run handler called as the worker calls it, the webhook URL and inbox).
"""

import base64
import datetime
import hashlib
import hmac
import json
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses
from django.core import signing
from django.urls import reverse
from django.utils import timezone, translation

from finance.models import AuditEvent, Client, Contact, DunningText, InvoiceDunning, InvoiceLine, Reminder
from finance.services import documents
from finance.services import dunning as dunning_service
from finance.services.mautic import PDF_LINK_SALT, REMINDER_ACTION, reminder_tokens
from integrations import mautic as mautic_connection
from integrations.actions import action_run_retry, execute_action_run
from integrations.clients.mautic import signature_valid
from integrations.models import Connection, WebhookDelivery
from integrations.selectors import action_runs_for
from integrations.webhooks.inbox import delivery_replay, process_webhook_delivery
from tests.factories import ClientFactory, InvoiceFactory, UserFactory
from tests.finance.test_dunning import started

pytestmark = pytest.mark.django_db

D = Decimal
PUBLIC = "https://hub.example.ch"
BASE = "https://mautic.example.ch"
API = f"{BASE}/api"
SECRET = "hook-secret-QA-5b1f0c"
BASIC_HUB = "Basic aHViOnB3"  # base64("hub:pw")
ISSUE_DAY = datetime.date(2026, 9, 1)
DUE = datetime.date(2026, 10, 1)  # 30 days' terms
HOOK_URL = f"{PUBLIC}/webhooks/mautic/QA/"
TRIGGERS = ["mautic.email_on_send", "mautic.email_on_open", "mautic.lead_post_save_update"]
TRACKING_HASH = "6731c4e0b2a9f5d81e47"

# Webhook signature test vector (research/api-contracts.md §3.3): these exact bytes, this secret.
VECTOR_SECRET = "mySuperWebhookSecretKey"
VECTOR_BODY = (
    b'{"mautic.lead_post_save_new":[{"contact":{"id":47,"points":0,"fields":{"all":{"id":47,"firstname":"Anna",'
    b'"lastname":"Muster","email":"anna@example.ch"}}},"timestamp":"2024-05-10T09:15:03+00:00"}]}'
)
VECTOR_SIGNATURE = "JUbxpsIDSE6+GEPSL3ykQbqhz6AfbzOka228HI9BfzE="


def day(offset: int) -> datetime.date:
    return DUE + datetime.timedelta(days=offset)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _public_url(settings):
    settings.HV_PUBLIC_URL = PUBLIC


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def mautic_connected(company_a):
    connection = Connection(company=company_a, provider="mautic", base_url=BASE,
                            config={"auth_method": "basic", "username": "hub"})  # fmt: skip
    connection.set_secrets(password="pw", webhook_secret=SECRET)
    connection.save()
    return connection


@pytest.fixture
def policy(company_a, mautic_connected):
    """The default policy (J+7, J+14, J+30; 0 / 20 / 30) with fees allowed and French e-mails #11, #12, #13."""
    policy = dunning_service.dunning_policy_ensure(company_a)
    policy.terms_allow_fees = True
    policy.save()
    for level in policy.levels.all():
        DunningText.objects.create(level=level, language="fr", mautic_email_id=10 + level.level)
    return policy


@pytest.fixture
def favre(company_a):
    return ClientFactory(company=company_a, name="Boulangerie Favre SA", email="compta@favre.ch", language="fr")


def issued(client, user, net="1000.00"):
    """Net 1000.00 + 8.1 % VAT: 1081.00, due on DUE."""
    invoice = InvoiceFactory(company=client.company, client=client)
    InvoiceLine.objects.create(
        invoice=invoice, position=1, description="Prestation", quantity=1, unit_price=D(net), vat_rate=D("8.10")
    )
    return documents.invoice_issue(invoice=invoice, issued_by=user, issue_date=ISSUE_DAY)


def start(invoice, user, *, on=None, trigger="manual"):
    """The reminder "Envoyer relance Mautic" creates, and its action run (queued, not yet executed)."""
    reminder = dunning_service.reminder_send_start(invoice=invoice, today=on or day(7), requested_by=user,
                                                   trigger=trigger)  # fmt: skip
    return reminder, action_runs_for(reminder).get()


def run(action_run):
    """Execute the run as the Celery worker does."""
    execute_action_run(action_run.pk)
    action_run.refresh_from_db()
    return action_run


# --- Mautic's answers (api-contracts.md §3.2 / §3.4) ---------------------------------------------------------


def contact_data(contact_id=47, email="compta@favre.ch", company="Boulangerie Favre SA"):
    """A contact as `POST /api/contacts/new` answers it (§3.4), with Favre's values."""
    return {
        "id": contact_id, "isPublished": True, "dateAdded": "2026-10-08T07:15:03+00:00", "dateModified": None,
        "createdBy": 1, "createdByUser": "API User", "owner": None, "points": 0, "color": None, "lastActive": None,
        "dateIdentified": "2026-10-08T07:15:03+00:00", "ipAddresses": [],
        "fields": {"core": {"firstname": {"id": "2", "label": "First Name", "alias": "firstname", "type": "text",
                                          "group": "core", "value": None},
                            "email": {"id": "6", "label": "Email", "alias": "email", "type": "email", "group": "core",
                                      "value": email}},
                   "social": [], "personal": [], "professional": [],
                   "all": {"id": contact_id, "firstname": None, "lastname": None, "email": email,
                           "company": company}},
        "tags": [{"tag": "finance-hub"}], "utmtags": [], "doNotContact": [],
    }  # fmt: skip


def contacts(*items):
    """`GET /api/contacts`: an object keyed by id, `[]` when empty, the total as a string."""
    return {"total": str(len(items)), "contacts": {str(item["id"]): item for item in items} if items else []}


def errors(code, message):
    """Mautic's error envelope (FetchCommonApiController::returnError)."""
    return {"errors": [{"code": code, "message": message, "details": [], "type": None}]}


def email_sent_event(email_id="11", contact_id=47):
    """An `email.sent` event of `GET /api/contacts/{id}/activity`, its stat row as Mautic reads it (strings)."""
    return {
        "event": "email.sent", "eventId": "email.sent3",
        "eventLabel": {"label": "Rappel courtois", "href": "/s/emails/view/11"}, "eventType": "Email sent",
        "eventPriority": 0, "timestamp": "2026-10-08T07:15:04+00:00", "featured": False, "icon": "fa-send-o",
        "contactId": contact_id,
        "details": {"stat": {"id": "3", "email_id": email_id, "lead_id": str(contact_id),
                             "dateSent": "2026-10-08 07:15:04", "isRead": "0", "openCount": "0",
                             "storedSubject": "Rappel: facture QA-2026-0001"},
                    "type": "sent"},
    }  # fmt: skip


def activity(*events):
    return {
        "events": list(events), "filters": {"search": "", "includeEvents": ["email.sent"], "excludeEvents": []},
        "order": ["timestamp", "DESC"], "types": {"email.sent": "Email sent"}, "total": len(events), "page": 1,
        "limit": 50, "maxPages": 1,
    }  # fmt: skip


def hook_data(hook_id=31, *, url=HOOK_URL, secret=SECRET, triggers=TRIGGERS, name="HYPERVISUAL Hub QA"):
    """A webhook as WebhookApiController writes it."""
    return {
        "isPublished": True, "dateAdded": "2026-10-01T09:00:00+00:00", "dateModified": None, "createdBy": 1,
        "createdByUser": "API User", "modifiedBy": None, "modifiedByUser": None, "id": hook_id, "name": name,
        "description": None, "webhookUrl": url, "secret": secret, "eventsOrderbyDir": None, "category": None,
        "triggers": list(triggers),
    }  # fmt: skip


def sent(call):
    """(method, path, query, JSON body) of a request; a parameter sent twice fails."""
    url = urlsplit(call.request.url)
    pairs = parse_qsl(url.query, keep_blank_values=True)
    assert len(pairs) == len(dict(pairs)), pairs
    body = json.loads(call.request.body) if call.request.body else None
    return call.request.method, url.path, dict(pairs), body


def calls(http, method, path):
    return [call for call in http.calls if call.request.method == method and urlsplit(call.request.url).path == path]


def audits(action, target):
    return list(AuditEvent.objects.filter(action=action, object_id=str(target.pk)).order_by("pk"))


SEARCH_FAVRE = {
    "where[0][col]": "email", "where[0][expr]": "eq", "where[0][val]": "compta@favre.ch", "orderBy": "id",
    "orderByDir": "asc", "limit": "10",
}  # fmt: skip


# --- "Envoyer relance Mautic" ----------------------------------------------------------------------------


def test_a_reminder_creates_the_contact_and_sends_the_level_template_with_its_tokens(
    http, client, policy, favre, user, company_a
):
    invoice = issued(favre, user)
    reminder, action_run = start(invoice, user)
    assert (action_run.action, action_run.status, action_run.idempotency_key) == (
        REMINDER_ACTION, "queued", f"mautic.reminder:{reminder.pk}",
    )  # fmt: skip
    http.get(f"{API}/contacts", json=contacts())
    http.post(f"{API}/contacts/new", status=201, json={"contact": contact_data(47)})
    http.post(f"{API}/emails/11/contact/47/send", json={"success": True})

    action_run = run(action_run)

    assert (action_run.status, action_run.last_error, action_run.attempts) == ("succeeded", "", 1)
    assert action_run.result == {"reminder": reminder.pk, "contact": 47, "email": 11}
    search, create, send = http.calls
    assert sent(search) == ("GET", "/api/contacts", SEARCH_FAVRE, None)
    assert sent(create) == ("POST", "/api/contacts/new", {}, {
        "email": "compta@favre.ch", "company": "Boulangerie Favre SA", "tags": ["finance-hub"],
        "overwriteWithBlank": False,
    })  # fmt: skip
    method, path, query, body = sent(send)
    assert (method, path, query, list(body)) == ("POST", "/api/emails/11/contact/47/send", {}, ["tokens"])
    for call in http.calls:
        assert call.request.headers["Authorization"] == BASIC_HUB
        assert call.request.headers["Accept"] == "application/json"
    for call in (create, send):
        assert call.request.headers["Content-Type"] == "application/json"

    # Level 1 on day 7: 1081.00 + no fee + 1081.00 × 5 % × 7 / 365 = 1.0366 → 1.04 of interest: 1082.04.
    assert (reminder.balance_due, reminder.fees_total, reminder.interest, reminder.amount_due) == (
        D("1081.00"), D("0.00"), D("1.04"), D("1082.04"),
    )  # fmt: skip
    assert invoice.number == "QA-2026-0001"
    tokens = body["tokens"]
    qr_bill_url = tokens.pop("{qr_bill_url}")
    assert tokens == {
        "{reminder_reference}": f"HUB-R{reminder.pk}", "{reminder_level}": "1", "{reminder_name}": "Rappel courtois",
        "{invoice_number}": "QA-2026-0001", "{invoice_date}": "01.09.2026", "{due_date}": "01.10.2026",
        "{days_late}": "7", "{balance_due}": "CHF 1'081.00", "{fees}": "CHF 0.00", "{interest}": "CHF 1.04",
        "{interest_rate}": "5 %", "{amount_due}": "CHF 1'082.04", "{client_name}": "Boulangerie Favre SA",
        "{company_name}": "Company QA SA", "{company_address}": "Rue de Lausanne 1, 1700 Fribourg",
        "{company_uid}": company_a.che_uid, "{company_iban}": "CH93 0076 2011 6238 5295 7",
    }  # fmt: skip

    # The QR-bill link: under the Hub's public URL, signed for this reminder, opened without signing in.
    token = qr_bill_url.removeprefix(f"{PUBLIC}/r/").removesuffix("/")
    assert qr_bill_url == PUBLIC + reverse("finance:reminder-pdf-public", kwargs={"token": token})
    assert signing.loads(token, salt=PDF_LINK_SALT) == reminder.pk
    pdf = client.get(qr_bill_url.removeprefix(PUBLIC))
    assert (pdf.status_code, pdf["Content-Type"], pdf.content[:5]) == (200, "application/pdf", b"%PDF-")
    assert pdf["Content-Disposition"] == 'inline; filename="QA-2026-0001-1.pdf"'
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(reverse("finance:reminder-pdf-public", kwargs={"token": tampered})).status_code == 404
    assert client.get(reverse("finance:reminder-pdf-public", kwargs={"token": str(reminder.pk)})).status_code == 404

    reminder.refresh_from_db()
    favre.refresh_from_db()
    assert (reminder.status, reminder.mautic_contact_id, reminder.mautic_email_id) == ("sent", 47, 11)
    assert reminder.error == ""
    assert reminder.sent_at is not None
    assert reminder.send_attempted_at is not None
    assert favre.mautic_id == "47"
    (sent_event,) = audits("dunning.reminder_sent", invoice)
    assert (sent_event.actor, sent_event.object_type, sent_event.detail) == (
        user, "finance.invoice", "1. Rappel courtois · CHF 1'082.04 → compta@favre.ch",
    )  # fmt: skip
    state = InvoiceDunning.objects.get(invoice=invoice)
    assert (state.level, state.last_sent_on, state.next_level_on) == (1, day(7), day(14))


def test_the_daily_run_sends_level_two_with_its_fee_in_the_amount(http, policy, favre, user):
    invoice = issued(favre, user)
    Reminder.objects.create(
        company=invoice.company, invoice=invoice, level=1, level_name="Rappel courtois", dunning_date=day(7),
        days_late=7, balance_due=D("1081.00"), interest=D("1.04"), amount_due=D("1082.04"), currency="CHF",
        recipient="compta@favre.ch", language="fr", trigger="daily_run", status="sent", mautic_email_id=11,
    )  # fmt: skip
    Client.objects.filter(pk=favre.pk).update(mautic_id="47")
    (reminder,) = started(dunning_service.dunning_run(company=invoice.company, today=day(14), actor=None))
    http.get(f"{API}/contacts/47", json={"contact": contact_data(47)})
    http.post(f"{API}/emails/12/contact/47/send", json={"success": 1})  # the documentation's form of success

    assert run(action_runs_for(reminder).get()).status == "succeeded"

    tokens = sent(calls(http, "POST", "/api/emails/12/contact/47/send")[0])[3]["tokens"]
    # Level 2 on day 14: fee 20.00; 1081.00 × 5 % × 14 / 365 = 2.0734 → 2.07; 1081.00 + 20.00 + 2.07 = 1103.07.
    names = ("{reminder_level}", "{days_late}", "{fees}", "{interest}", "{amount_due}")
    assert {name: tokens[name] for name in names} == {
        "{reminder_level}": "2", "{days_late}": "14", "{fees}": "CHF 20.00", "{interest}": "CHF 2.07",
        "{amount_due}": "CHF 1'103.07",
    }  # fmt: skip
    reminder.refresh_from_db()
    assert (reminder.status, reminder.trigger, reminder.requested_by) == ("sent", "daily_run", None)
    (event,) = audits("dunning.reminder_sent", invoice)
    assert (event.actor, event.detail) == (None, "2. Rappel ferme · CHF 1'103.07 → compta@favre.ch")


# --- Never a second contact ------------------------------------------------------------------------------


def test_a_contact_found_by_email_is_reused_the_oldest_of_duplicates(http, policy, favre, user):
    reminder, action_run = start(issued(favre, user), user)
    http.get(f"{API}/contacts", json=contacts(contact_data(52), contact_data(47)))
    http.post(f"{API}/emails/11/contact/47/send", json={"success": True})

    assert run(action_run).status == "succeeded"

    assert [sent(call)[:2] for call in http.calls] == [
        ("GET", "/api/contacts"), ("POST", "/api/emails/11/contact/47/send"),
    ]  # fmt: skip
    assert calls(http, "POST", "/api/contacts/new") == []
    favre.refresh_from_db()
    reminder.refresh_from_db()
    assert (favre.mautic_id, reminder.mautic_contact_id) == ("47", 47)


def test_the_stored_contact_gets_the_new_address_instead_of_a_second_contact(http, policy, favre, user):
    Client.objects.filter(pk=favre.pk).update(mautic_id="47")
    reminder, action_run = start(issued(favre, user), user)
    http.get(f"{API}/contacts/47", json={"contact": contact_data(47, email="ancienne@favre.ch")})
    http.patch(f"{API}/contacts/47/edit", json={"contact": contact_data(47)})
    http.post(f"{API}/emails/11/contact/47/send", json={"success": True})

    assert run(action_run).status == "succeeded"

    assert [sent(call) for call in http.calls[:2]] == [
        ("GET", "/api/contacts/47", {}, None),
        ("PATCH", "/api/contacts/47/edit", {}, {"email": "compta@favre.ch"}),
    ]  # fmt: skip
    assert len(http.calls) == 3
    assert calls(http, "GET", "/api/contacts") == []
    reminder.refresh_from_db()
    assert (reminder.status, reminder.mautic_contact_id) == ("sent", 47)


def test_a_stored_contact_deleted_in_mautic_falls_back_to_the_search(http, policy, favre, user):
    Client.objects.filter(pk=favre.pk).update(mautic_id="47")
    reminder, action_run = start(issued(favre, user), user)
    http.get(f"{API}/contacts/47", status=404, json=errors(404, "Item was not found."))
    http.get(f"{API}/contacts", json=contacts(contact_data(63)))
    http.post(f"{API}/emails/11/contact/63/send", json={"success": True})

    assert run(action_run).status == "succeeded"

    assert [sent(call)[:3] for call in http.calls] == [
        ("GET", "/api/contacts/47", {}), ("GET", "/api/contacts", SEARCH_FAVRE),
        ("POST", "/api/emails/11/contact/63/send", {}),
    ]  # fmt: skip
    favre.refresh_from_db()
    reminder.refresh_from_db()
    assert (favre.mautic_id, reminder.mautic_contact_id, reminder.status) == ("63", 63, "sent")


# --- A lost answer -----------------------------------------------------------------------------------------


def lose_the_first_send(http, enqueued, policy, favre, user):
    """A first attempt whose send reached Mautic (or not): the connection drops before any answer."""
    reminder, action_run = start(issued(favre, user), user)
    http.get(f"{API}/contacts", json=contacts(contact_data(47)))
    http.post(f"{API}/emails/11/contact/47/send", body=requests.ConnectionError("Connection reset by peer"))

    action_run = run(action_run)

    assert (action_run.status, action_run.attempts) == ("queued", 1)
    assert action_run.last_error == "mautic: ConnectionError: no answer from mautic.example.ch"
    (retry,) = [task for task in enqueued if task.task.name == execute_action_run.name]
    assert (retry.args, retry.options) == ((action_run.pk,), {"countdown": 15})
    reminder.refresh_from_db()
    assert (reminder.status, reminder.mautic_contact_id, reminder.sent_at) == ("sending", 47, None)
    assert reminder.send_attempted_at is not None
    assert len(calls(http, "POST", "/api/emails/11/contact/47/send")) == 1  # a send is never retried in the call
    return reminder, action_run


def test_a_send_whose_answer_was_lost_is_found_in_the_activity_and_not_sent_again(http, enqueued, policy, favre, user):
    reminder, action_run = lose_the_first_send(http, enqueued, policy, favre, user)
    http.get(f"{API}/contacts/47", json={"contact": contact_data(47)})
    http.get(f"{API}/contacts/47/activity", json=activity(email_sent_event(email_id="11")))

    action_run = run(action_run)

    assert (action_run.status, action_run.attempts, action_run.last_error) == ("succeeded", 2, "")
    assert action_run.result == {"reminder": reminder.pk, "contact": 47, "found_sent": True}
    assert sent(calls(http, "GET", "/api/contacts/47/activity")[0])[2] == {
        "filters[includeEvents][]": "email.sent",
        "filters[dateFrom]": reminder.send_attempted_at.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "limit": "50",
    }  # fmt: skip
    assert len(calls(http, "POST", "/api/emails/11/contact/47/send")) == 1
    assert len(calls(http, "GET", "/api/contacts")) == 1  # searched once; the retry reads the stored id
    reminder.refresh_from_db()
    assert (reminder.status, reminder.mautic_contact_id) == ("sent", 47)
    assert len(audits("dunning.reminder_sent", reminder.invoice)) == 1


@pytest.mark.parametrize("events", [[], [email_sent_event(email_id="12")]], ids=["no-activity", "another-email-sent"])
def test_a_send_whose_answer_was_lost_and_that_mautic_never_made_is_sent_on_the_retry(
    http, enqueued, policy, favre, user, events
):
    reminder, action_run = lose_the_first_send(http, enqueued, policy, favre, user)
    first_attempt = reminder.send_attempted_at
    http.get(f"{API}/contacts/47", json={"contact": contact_data(47)})
    http.get(f"{API}/contacts/47/activity", json=activity(*events))
    http.post(f"{API}/emails/11/contact/47/send", json={"success": True})

    action_run = run(action_run)

    assert (action_run.status, action_run.attempts) == ("succeeded", 2)
    assert action_run.result == {"reminder": reminder.pk, "contact": 47, "email": 11}
    assert [sent(call)[:2] for call in http.calls[2:]] == [
        ("GET", "/api/contacts/47"), ("GET", "/api/contacts/47/activity"), ("POST", "/api/emails/11/contact/47/send"),
    ]  # fmt: skip
    sends = calls(http, "POST", "/api/emails/11/contact/47/send")
    assert len(sends) == 2
    first_tokens, retry_tokens = (sent(send)[3]["tokens"] for send in sends)
    # The same tokens; the QR-bill link is signed anew (its signature is timestamped) for the same reminder.
    links = [tokens.pop("{qr_bill_url}") for tokens in (first_tokens, retry_tokens)]
    assert first_tokens == retry_tokens
    tokens = [link.removeprefix(f"{PUBLIC}/r/").removesuffix("/") for link in links]
    assert [signing.loads(token, salt=PDF_LINK_SALT) for token in tokens] == [reminder.pk] * 2
    reminder.refresh_from_db()
    assert reminder.status == "sent"
    assert reminder.send_attempted_at > first_attempt


# --- A permanent failure ---------------------------------------------------------------------------------


def test_a_refused_send_fails_the_reminder_and_frees_its_level_for_the_next_run(http, policy, favre, user):
    invoice = issued(favre, user)
    reminder, action_run = start(invoice, user)
    assert InvoiceDunning.objects.get(invoice=invoice).level == 1
    http.get(f"{API}/contacts", json=contacts(contact_data(47)))
    http.post(f"{API}/emails/11/contact/47/send", status=404, json=errors(404, "Item was not found."))

    action_run = run(action_run)

    assert (action_run.status, action_run.attempts) == ("failed", 1)
    assert action_run.last_error == "mautic: Item was not found. (HTTP 404)"
    reminder.refresh_from_db()
    assert (reminder.status, reminder.error, reminder.sent_at) == ("failed", "mautic: Item was not found. (HTTP 404)",
                                                                   None)  # fmt: skip
    (failed,) = audits("dunning.reminder_failed", invoice)
    assert (failed.actor, failed.detail) == (None, "1. Rappel courtois · mautic: Item was not found. (HTTP 404)")
    assert audits("dunning.reminder_sent", invoice) == []
    state = InvoiceDunning.objects.get(invoice=invoice)
    assert (state.level, state.last_sent_on) == (0, None)
    assert [event.detail for event in audits("dunning.level_changed", invoice)] == ["0 → 1", "1 → 0"]

    (again,) = started(dunning_service.dunning_run(company=invoice.company, today=day(8), actor=None))
    assert (again.level, again.dunning_date, again.status) == (1, day(8), "sending")
    assert again.pk != reminder.pk


def test_a_send_mautic_answers_unsent_fails_the_reminder(http, policy, favre, user):
    invoice = issued(favre, user)
    reminder, action_run = start(invoice, user)
    http.get(f"{API}/contacts", json=contacts(contact_data(47)))
    http.post(f"{API}/emails/11/contact/47/send", json={"success": False, "failed": {"47": "Email is not published"}})

    assert run(action_run).status == "failed"

    reminder.refresh_from_db()
    assert (reminder.status, reminder.error) == (
        "failed", "mautic: e-mail 11 to contact 47 not sent: Email is not published (HTTP 200)",
    )  # fmt: skip
    assert InvoiceDunning.objects.get(invoice=invoice).level == 0


def test_a_failed_reminder_retried_by_hand_checks_the_activity_then_sends(http, policy, favre, user):
    invoice = issued(favre, user)
    reminder, action_run = start(invoice, user)
    http.get(f"{API}/contacts", json=contacts(contact_data(47)))
    http.post(f"{API}/emails/11/contact/47/send", status=404, json=errors(404, "Item was not found."))
    assert run(action_run).status == "failed"

    # "Réessayer" once the template is published again.
    action_run = action_run_retry(run=action_run, actor=user)
    http.get(f"{API}/contacts/47", json={"contact": contact_data(47)})
    http.get(f"{API}/contacts/47/activity", json=activity())
    http.replace(responses.POST, f"{API}/emails/11/contact/47/send", json={"success": True})
    action_run = run(action_run)

    assert (action_run.status, action_run.attempts) == ("succeeded", 1)
    reminder.refresh_from_db()
    assert (reminder.status, reminder.error) == ("sent", "")
    state = InvoiceDunning.objects.get(invoice=invoice)
    assert (state.level, state.last_sent_on) == (1, day(7))
    assert [event.detail for event in audits("dunning.level_changed", invoice)] == ["0 → 1", "1 → 0", "0 → 1"]


# --- Authentication -------------------------------------------------------------------------------------


def token_answer(token):
    return {"access_token": token, "expires_in": 3600, "token_type": "bearer", "scope": None}


def test_oauth2_asks_for_a_token_once_reuses_it_and_renews_it_near_its_end(http, policy, favre, user, company_a):
    connection = mautic_connection.settings_save(
        company=company_a, base_url=f"{BASE}/api/", auth_method="oauth2", username="", password="",
        client_id="3_1x2y3z4w5v", client_secret="c1i3nt-s3cr3t-Zx9", updated_by=user,
    )  # fmt: skip
    assert (connection.base_url, connection.config["auth_method"], connection.secret("webhook_secret")) == (
        BASE, "oauth2", SECRET,
    )  # fmt: skip
    invoice = issued(favre, user)
    http.post(f"{BASE}/oauth/v2/token", json=token_answer("tok-one"))
    http.get(f"{API}/contacts", json=contacts(contact_data(47)))
    http.post(f"{API}/emails/11/contact/47/send", json={"success": True})
    before = timezone.now()

    assert run(start(invoice, user)[1]).status == "succeeded"

    token_call, search, send = http.calls
    assert (token_call.request.method, token_call.request.url) == ("POST", f"{BASE}/oauth/v2/token")
    assert dict(parse_qsl(token_call.request.body)) == {
        "grant_type": "client_credentials", "client_id": "3_1x2y3z4w5v", "client_secret": "c1i3nt-s3cr3t-Zx9",
    }  # fmt: skip
    assert token_call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in token_call.request.headers
    assert [call.request.headers["Authorization"] for call in (search, send)] == ["Bearer tok-one"] * 2
    connection.refresh_from_db()
    expires = datetime.datetime.fromisoformat(connection.config["access_token_expires_at"])
    assert connection.secret("access_token") == "tok-one"
    assert before + datetime.timedelta(seconds=3600) <= expires <= timezone.now() + datetime.timedelta(seconds=3600)

    # The next reminder reuses the stored token: no second token request.
    http.get(f"{API}/contacts/47", json={"contact": contact_data(47)})
    http.post(f"{API}/emails/12/contact/47/send", json={"success": True})
    assert run(start(invoice, user, on=day(14))[1]).status == "succeeded"
    assert len(calls(http, "POST", "/oauth/v2/token")) == 1
    assert [call.request.headers["Authorization"] for call in http.calls[3:]] == ["Bearer tok-one"] * 2

    # Six minutes left: still used as it is.
    Connection.objects.filter(pk=connection.pk).update(config={
        **connection.config, "access_token_expires_at": (timezone.now() + datetime.timedelta(minutes=6)).isoformat(),
    })  # fmt: skip
    mautic_connection.mautic_client(Connection.objects.get(pk=connection.pk)).contact_get(47)
    assert len(calls(http, "POST", "/oauth/v2/token")) == 1
    assert http.calls[-1].request.headers["Authorization"] == "Bearer tok-one"

    # Four minutes left (within the 5-minute margin): a new token is asked for before the call.
    connection.refresh_from_db()
    Connection.objects.filter(pk=connection.pk).update(config={
        **connection.config, "access_token_expires_at": (timezone.now() + datetime.timedelta(minutes=4)).isoformat(),
    })  # fmt: skip
    http.replace(responses.POST, f"{BASE}/oauth/v2/token", json=token_answer("tok-two"))
    http.post(f"{API}/emails/13/contact/47/send", json={"success": True})
    assert run(start(invoice, user, on=day(30))[1]).status == "succeeded"
    assert [(call.request.method, urlsplit(call.request.url).path) for call in http.calls[6:]] == [
        ("POST", "/oauth/v2/token"), ("GET", "/api/contacts/47"), ("POST", "/api/emails/13/contact/47/send"),
    ]  # fmt: skip
    assert [call.request.headers["Authorization"] for call in http.calls[7:]] == ["Bearer tok-two"] * 2
    connection.refresh_from_db()
    assert connection.secret("access_token") == "tok-two"
    assert datetime.datetime.fromisoformat(connection.config["access_token_expires_at"]) > timezone.now() + (
        datetime.timedelta(minutes=59)
    )


def test_oauth2_credentials_refused_fail_the_reminder_with_mautics_words(http, policy, favre, user, company_a):
    mautic_connection.settings_save(
        company=company_a, base_url=BASE, auth_method="oauth2", username="", password="", client_id="3_1x2y3z4w5v",
        client_secret="wrong", updated_by=user,
    )  # fmt: skip
    reminder, action_run = start(issued(favre, user), user)
    http.post(f"{BASE}/oauth/v2/token", status=400,
              json={"error": "invalid_client", "error_description": "The client credentials are invalid"})  # fmt: skip

    action_run = run(action_run)

    assert (action_run.status, action_run.last_error) == (
        "failed", "mautic: The client credentials are invalid (invalid_client) (HTTP 400)",
    )  # fmt: skip
    reminder.refresh_from_db()
    assert reminder.status == "failed"
    assert not Connection.objects.get(company=company_a, provider="mautic").secret("access_token")


def test_basic_auth_sends_the_mautic_users_credentials(http, policy, favre, user, company_a):
    connection = mautic_connection.settings_save(
        company=company_a, base_url=BASE, auth_method="basic", username="hub-api", password="Grüezi-2026!",
        client_id="", client_secret="", updated_by=user,
    )  # fmt: skip
    assert (connection.config["username"], connection.secret("password")) == ("hub-api", "Grüezi-2026!")
    http.get(f"{API}/contacts", json=contacts(contact_data(47)))
    http.post(f"{API}/emails/11/contact/47/send", json={"success": True})

    assert run(start(issued(favre, user), user)[1]).status == "succeeded"

    # base64("hub-api:Grüezi-2026!"), the password in UTF-8.
    assert [call.request.headers["Authorization"] for call in http.calls] == ["Basic aHViLWFwaTpHcsO8ZXppLTIwMjYh"] * 2


# --- Webhooks ---------------------------------------------------------------------------------------------


def signature(raw: bytes, secret: str = SECRET) -> str:
    """Webhook-Signature as Mautic computes it: base64(HMAC-SHA256(secret, raw body))."""
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def hook(client, raw: bytes, *, sign: str | None = "valid", code="QA"):
    url = reverse("integrations:webhook-mautic", kwargs={"company_code": code})
    headers = {"HTTP_X_ORIGIN_BASE_URL": BASE}
    if sign == "valid":
        headers["HTTP_WEBHOOK_SIGNATURE"] = signature(raw)
    elif sign is not None:
        headers["HTTP_WEBHOOK_SIGNATURE"] = sign
    return client.post(url, data=raw, content_type="application/json", **headers)


def encode(payload) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def on_send(reminder, *, contact_id=47, timestamp="2026-10-08T07:15:05+00:00"):
    """`mautic.email_on_send` (EmailSubscriber::onEmailSend): the e-mail, the contact, the hashes and the tokens."""
    return {
        "email": {"id": 11, "name": "Rappel 1 (fr)", "subject": "Rappel: facture {invoice_number}",
                  "emailType": "template", "language": "fr", "isPublished": True},
        "contact": {"id": contact_id, "email": "compta@favre.ch", "company": "Boulangerie Favre SA"},
        "contentHash": "9f3b5a0e6c1d2b4f8a7e", "idHash": TRACKING_HASH,
        "subject": "Rappel: facture QA-2026-0001", "source": ["api", 0], "headers": {"X-Mautic-Transactional": "1"},
        "tokens": {"{reminder_reference}": f"HUB-R{reminder.pk}", "{invoice_number}": "QA-2026-0001",
                   "{amount_due}": "CHF 1'082.04"},
        "timestamp": timestamp,
    }  # fmt: skip


def on_open(*, open_count=1, date_read="2026-10-08T09:41:27+00:00", tracking_hash=TRACKING_HASH):
    """`mautic.email_on_open`: the e-mail's stat."""
    return {
        "stat": {"id": 3, "emailAddress": "compta@favre.ch", "ipAddress": {"ipAddress": "203.0.113.7"},
                 "dateSent": "2026-10-08T07:15:04+00:00", "isRead": True, "isFailed": False,
                 "viewedInBrowser": False, "dateRead": date_read, "trackingHash": tracking_hash, "retryCount": 0,
                 "source": "api", "sourceId": 0, "openCount": open_count, "lastOpened": date_read,
                 "email": {"id": 11, "name": "Rappel 1 (fr)"}, "lead": {"id": 47}},
        "timestamp": date_read,
    }  # fmt: skip


def on_contact_update(contact_id=47, email="nouvelle.compta@favre.ch"):
    """`mautic.lead_post_save_update`: the contact serialised with its fields."""
    return {"contact": contact_data(contact_id, email=email), "timestamp": "2026-10-09T08:00:00+00:00"}


def processed(client, payload) -> WebhookDelivery:
    """Deliver a signed payload through the URL, then process it as the worker does."""
    response = hook(client, encode(payload))
    assert (response.status_code, response.json()) == (200, {"status": "accepted"})
    delivery = WebhookDelivery.objects.filter(provider="mautic").latest("pk")
    process_webhook_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error) == ("processed", "")
    return delivery


def test_the_contracts_test_vector_verifies():
    assert signature(VECTOR_BODY, VECTOR_SECRET) == VECTOR_SIGNATURE
    assert signature_valid(VECTOR_BODY, VECTOR_SIGNATURE, VECTOR_SECRET) is True
    assert signature_valid(VECTOR_BODY + b" ", VECTOR_SIGNATURE, VECTOR_SECRET) is False
    assert signature_valid(VECTOR_BODY, VECTOR_SIGNATURE, "another-secret") is False
    assert signature_valid(VECTOR_BODY, "", VECTOR_SECRET) is False
    assert signature_valid(VECTOR_BODY, VECTOR_SIGNATURE, "") is False


def test_a_signed_delivery_is_stored_once_and_answered_2xx(client, mautic_connected, company_b):
    raw = VECTOR_BODY  # an event the Hub does not subscribe to: stored, then ignored
    signed = signature(raw)

    first = hook(client, raw, sign=signed)
    again = hook(client, raw, sign=signed)

    assert (first.status_code, first.json()) == (200, {"status": "accepted"})
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    delivery = WebhookDelivery.objects.get()
    assert (delivery.provider, delivery.company, delivery.verified, delivery.status, delivery.duplicates) == (
        "mautic", mautic_connected.company, True, "received", 1,
    )  # fmt: skip
    assert (delivery.event_key, delivery.event_type, delivery.body) == (
        f"QA:{hashlib.sha256(raw).hexdigest()}", "lead_post_save_new", raw.decode(),
    )  # fmt: skip
    assert delivery.headers["X-Origin-Base-Url"] == BASE
    process_webhook_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "processed"
    assert hook(client, raw, sign=signed, code=company_b.code).status_code == 404


def test_a_delivery_without_the_right_signature_is_refused_kept_and_not_processed(
    client, policy, favre, user, mautic_connected
):
    reminder, _run = start(issued(favre, user), user)
    raw = encode({"mautic.email_on_send": [on_send(reminder)]})
    refusals = {
        "wrong secret": signature(raw, "another-secret"),
        "another body's": signature(encode({"mautic.email_on_send": []})),
        "hex, not base64": hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest(),
        "missing": None,
    }
    for sign in refusals.values():
        response = hook(client, raw, sign=sign)
        assert (response.status_code, response.json()) == (401, {"error": "missing or wrong Webhook-Signature"})

    refused = WebhookDelivery.objects.filter(provider="mautic").order_by("pk")
    assert [(d.status, d.verified, d.event_key, d.error) for d in refused] == [
        ("rejected", False, None, "missing or wrong Webhook-Signature"),
    ] * 4  # fmt: skip
    assert refused[0].body == raw.decode()
    for delivery in refused:
        process_webhook_delivery(delivery.pk)  # a refused delivery is never processed
    reminder.refresh_from_db()
    assert (reminder.status, reminder.delivered_at, reminder.mautic_tracking_hash) == ("sending", None, "")
    assert audits("dunning.reminder_delivered", reminder.invoice) == []


def test_a_signed_body_that_is_not_a_payload_is_refused(client, mautic_connected):
    for raw in (b"not json", b'["mautic.email_on_send"]'):
        response = hook(client, raw)
        assert (response.status_code, response.json()) == (400, {"error": "body is not a Mautic webhook payload"})
    assert [(d.status, d.verified) for d in WebhookDelivery.objects.all()] == [("rejected", False)] * 2


def test_email_on_send_confirms_a_sent_reminder_once(http, client, policy, favre, user):
    reminder, action_run = start(issued(favre, user), user)
    http.get(f"{API}/contacts", json=contacts(contact_data(47)))
    http.post(f"{API}/emails/11/contact/47/send", json={"success": True})
    assert run(action_run).status == "succeeded"

    delivery = processed(client, {"mautic.email_on_send": [on_send(reminder)]})

    assert delivery.event_type == "email_on_send"
    reminder.refresh_from_db()
    assert (reminder.status, reminder.mautic_tracking_hash) == ("sent", TRACKING_HASH)
    delivered_at = reminder.delivered_at
    assert delivered_at is not None
    (event,) = audits("dunning.reminder_delivered", reminder.invoice)
    assert (event.actor, event.detail) == (None, "1. Rappel courtois · Rappel: facture QA-2026-0001")

    # Replayed from the Webhooks page: nothing new.
    delivery_replay(delivery=delivery, replayed_by=user)
    process_webhook_delivery(delivery.pk)
    reminder.refresh_from_db()
    assert reminder.delivered_at == delivered_at
    assert len(audits("dunning.reminder_delivered", reminder.invoice)) == 1
    assert len(audits("dunning.reminder_sent", reminder.invoice)) == 1


def test_email_on_send_marks_a_reminder_still_sending_sent_and_the_run_then_sends_nothing(
    http, client, policy, favre, user
):
    reminder, action_run = start(issued(favre, user), user)

    processed(client, {"mautic.email_on_send": [on_send(reminder)]})

    reminder.refresh_from_db()
    assert (reminder.status, reminder.mautic_contact_id, reminder.mautic_tracking_hash) == ("sent", 47, TRACKING_HASH)
    assert reminder.sent_at is not None
    assert reminder.delivered_at is not None
    (sent_event,) = audits("dunning.reminder_sent", reminder.invoice)
    assert (sent_event.actor, sent_event.detail) == (user, "1. Rappel courtois · CHF 1'082.04 → compta@favre.ch")
    assert len(audits("dunning.reminder_delivered", reminder.invoice)) == 1

    action_run = run(action_run)  # no HTTP answer registered: any call would fail the test
    assert (action_run.status, action_run.result) == ("succeeded", {"reminder": reminder.pk, "already_sent": True})
    assert len(http.calls) == 0


def test_email_on_send_of_a_reminder_given_up_restores_it_so_its_level_is_not_sent_again(client, policy, favre, user):
    invoice = issued(favre, user)
    reminder, _run = start(invoice, user)
    # Its answers were lost until the last attempt: the run gave it up and freed its level.
    Reminder.objects.filter(pk=reminder.pk).update(status="failed", error="mautic: ConnectionError")
    dunning_service.invoice_dunning_refresh(invoice=invoice, today=day(7))

    processed(client, {"mautic.email_on_send": [on_send(reminder)]})

    reminder.refresh_from_db()
    assert (reminder.status, reminder.error, reminder.mautic_tracking_hash) == ("sent", "", TRACKING_HASH)
    assert InvoiceDunning.objects.get(invoice=invoice).level == 1
    assert started(dunning_service.dunning_run(company=favre.company, today=day(8), actor=None)) == []


def test_a_replayed_open_is_not_counted_twice(client, policy, favre, user):
    reminder, _run = start(issued(favre, user), user)
    processed(client, {"mautic.email_on_send": [on_send(reminder)]})
    delivery = processed(client, {"mautic.email_on_open": [on_open()]})

    delivery_replay(delivery=delivery, replayed_by=user)
    process_webhook_delivery(delivery.pk)

    reminder.refresh_from_db()
    assert reminder.open_count == 1


def test_the_interest_rate_token_is_written_as_people_write_it(http, policy, favre, user):
    policy.interest_rate = D("10.00")
    policy.save()
    reminder, _run = start(issued(favre, user), user)

    assert reminder_tokens(reminder)["interest_rate"] == "10 %"


def test_an_email_mautic_sent_for_something_else_is_ignored(client, policy, favre, user):
    reminder, _run = start(issued(favre, user), user)
    other = on_send(reminder)
    other["tokens"] = {"{reminder_reference}": "HUB-R999999"}
    campaign = {**on_send(reminder), "tokens": {}}

    processed(client, {"mautic.email_on_send": [other, campaign]})

    reminder.refresh_from_db()
    assert (reminder.status, reminder.delivered_at) == ("sending", None)


def test_email_on_open_counts_the_opens_and_audits_the_first(client, policy, favre, user):
    reminder, _run = start(issued(favre, user), user)
    processed(client, {"mautic.email_on_send": [on_send(reminder)]})

    processed(client, {"mautic.email_on_open": [on_open()]})

    reminder.refresh_from_db()
    assert (reminder.opened_at, reminder.open_count) == (
        datetime.datetime(2026, 10, 8, 9, 41, 27, tzinfo=datetime.UTC), 1,
    )  # fmt: skip
    (event,) = audits("dunning.reminder_opened", reminder.invoice)
    assert (event.actor, event.detail) == (None, "1. Rappel courtois · compta@favre.ch")

    processed(client, {"mautic.email_on_open": [on_open(open_count=2, date_read="2026-10-09T14:02:00+00:00")]})

    reminder.refresh_from_db()
    assert (reminder.opened_at, reminder.open_count) == (
        datetime.datetime(2026, 10, 8, 9, 41, 27, tzinfo=datetime.UTC), 2,
    )  # fmt: skip
    assert len(audits("dunning.reminder_opened", reminder.invoice)) == 1


def test_an_open_of_an_unknown_email_is_ignored(client, policy, favre, user):
    reminder, _run = start(issued(favre, user), user)
    processed(client, {"mautic.email_on_open": [on_open(tracking_hash="0000ffff")]})
    reminder.refresh_from_db()
    assert (reminder.opened_at, reminder.open_count) == (None, 0)


def test_a_batch_of_two_event_types_is_processed_whole(client, policy, favre, user):
    reminder, _run = start(issued(favre, user), user)

    delivery = processed(client, {"mautic.email_on_send": [on_send(reminder)], "mautic.email_on_open": [on_open()]})

    assert delivery.event_type == "email_on_open, email_on_send"
    reminder.refresh_from_db()
    assert (reminder.status, reminder.mautic_tracking_hash, reminder.open_count) == ("sent", TRACKING_HASH, 1)
    assert reminder.delivered_at is not None
    assert reminder.opened_at is not None
    events = AuditEvent.objects.filter(object_id=str(reminder.invoice.pk), action__startswith="dunning.reminder_")
    assert [event.action for event in events.order_by("pk")] == [
        "dunning.reminder_sent", "dunning.reminder_delivered", "dunning.reminder_opened",
    ]  # fmt: skip


def test_an_event_type_the_hub_did_not_subscribe_to_is_ignored(client, policy, favre, user):
    reminder, _run = start(issued(favre, user), user)
    page_hit = {"hit": {"id": 5, "url": "https://example.ch/", "lead": {"id": 47}},
                "timestamp": "2026-10-08T10:00:00+00:00"}  # fmt: skip

    delivery = processed(client, {"mautic.page_on_hit": [page_hit], "timestamp": "2026-10-08T10:00:01+00:00"})

    assert delivery.event_type == "page_on_hit"
    reminder.refresh_from_db()
    assert (reminder.status, reminder.delivered_at) == ("sending", None)
    assert AuditEvent.objects.filter(action__startswith="dunning.reminder_").count() == 0


def test_an_address_changed_in_mautic_replaces_the_clients_and_contacts(client, mautic_connected, favre):
    Client.objects.filter(pk=favre.pk).update(mautic_id="47")
    person = Contact.objects.create(client=favre, name="Anne Favre", email="anne@favre.ch", mautic_id="47")
    stranger = ClientFactory(company=favre.company, name="Autre SA", email="info@autre.ch", mautic_id="48")

    processed(client, {"mautic.lead_post_save_update": [on_contact_update()]})

    favre.refresh_from_db()
    person.refresh_from_db()
    stranger.refresh_from_db()
    assert (favre.email, person.email, stranger.email) == (
        "nouvelle.compta@favre.ch", "nouvelle.compta@favre.ch", "info@autre.ch",
    )  # fmt: skip
    (change,) = audits("client.updated", favre)
    assert (change.actor.username, change.changes) == (
        "system", {"email": {"from": "compta@favre.ch", "to": "nouvelle.compta@favre.ch"}},
    )  # fmt: skip
    assert audits("contact.updated", person)[0].actor.username == "system"

    # The same address again (Mautic saving the contact for another reason): no change, no audit.
    again = {**on_contact_update(), "timestamp": "2026-10-09T08:05:00+00:00"}
    processed(client, {"mautic.lead_post_save_update": [again]})
    assert len(audits("client.updated", favre)) == 1


# --- Registering the webhook ------------------------------------------------------------------------------


def test_registering_creates_the_hook_with_our_url_secret_and_events(http, mautic_connected, user):
    http.get(f"{API}/hooks", json={"total": 0, "hooks": []})
    http.post(f"{API}/hooks/new", status=201, json={"hook": hook_data(31)})

    mautic_connection.webhooks_register(connection=mautic_connected, registered_by=user)

    listing, create = http.calls
    assert sent(listing) == ("GET", "/api/hooks", {"start": "0", "limit": "100"}, None)
    assert sent(create) == ("POST", "/api/hooks/new", {}, {
        "name": "HYPERVISUAL Hub QA", "webhookUrl": HOOK_URL, "secret": SECRET, "triggers": TRIGGERS,
        "isPublished": True,
    })  # fmt: skip
    assert PUBLIC + reverse("integrations:webhook-mautic", kwargs={"company_code": "QA"}) == HOOK_URL
    assert create.request.headers["Authorization"] == BASIC_HUB
    mautic_connected.refresh_from_db()
    state = mautic_connected.config["webhook_state"]
    assert (state["hook_id"], state["events"]) == (31, sorted(TRIGGERS))
    registered = AuditEvent.objects.get(action="connection.webhook_registered")
    assert (registered.actor, registered.changes) == (user, {"provider": "mautic", "events": TRIGGERS})


def test_registering_again_replaces_our_hook_and_never_adds_a_second(http, mautic_connected, user):
    ours = hook_data(31, secret="an-old-secret", triggers=["mautic.email_on_send"])
    theirs = hook_data(7, url="https://crm.example.ch/hook", name="CRM", triggers=["mautic.form_on_submit"])
    http.get(f"{API}/hooks", json={"total": "2", "hooks": {"7": theirs, "31": ours}})
    http.put(f"{API}/hooks/31/edit", json={"hook": hook_data(31)})

    mautic_connection.webhooks_register(connection=mautic_connected, registered_by=user)

    assert [sent(call) for call in http.calls] == [
        ("GET", "/api/hooks", {"start": "0", "limit": "100"}, None),
        ("PUT", "/api/hooks/31/edit", {}, {"name": "HYPERVISUAL Hub QA", "webhookUrl": HOOK_URL, "secret": SECRET,
                                           "triggers": TRIGGERS, "isPublished": True}),
    ]  # fmt: skip
    assert calls(http, "POST", "/api/hooks/new") == []
    mautic_connected.refresh_from_db()
    assert mautic_connected.config["webhook_state"]["hook_id"] == 31
