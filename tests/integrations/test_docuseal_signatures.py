"""DocuSeal signatures in the Hub: "Envoyer pour signature" as a run that never sends twice, the webhook's
refusals, and DocuSeal's events moving the signature and the quote forward exactly once."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import translation

from finance import pdf
from finance.models import AuditEvent, Company, Invoice, Quote, QuoteSignature, Role
from finance.services import documents
from finance.services import docuseal as signatures
from finance.services import invoice_ninja as invoice_ninja_service
from finance.services.automatic_deposit import DEPOSIT_ACTION
from finance.services.documents import LineInput
from integrations import docuseal
from integrations.actions import execute_action_run
from integrations.clients.invoice_ninja import WebhookEvent
from integrations.models import ActionRun, Connection, WebhookDelivery
from integrations.webhooks.inbox import process_webhook_delivery
from tests.factories import ClientFactory, QuoteFactory
from tests.integrations.conftest import run_all
from tests.integrations.test_invoice_ninja_sync import ninja_document

D = Decimal
BASE = "https://api.docuseal.com"
KEY = "ds-api-key-QA"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "docuseal"
QUOTE_PDF = b"%PDF-1.4\n% the quote\n"
TERMS = b"%PDF-1.4\n% general terms\n"
SIGNED = b"%PDF-1.4\n% signed quote\n"
AUDIT = b"%PDF-1.4\n% audit log\n"
ACTION_TASK = execute_action_run.name
DELIVERY_TASK = process_webhook_delivery.name


def fixture(name: str, **data) -> dict:
    payload = json.loads((FIXTURES / f"{name}.json").read_text())
    payload["data"].update(data) if "data" in payload and data else None
    return payload


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def quick_pdf(monkeypatch):
    monkeypatch.setattr(pdf, "quote_pdf", lambda quote: QUOTE_PDF)


@pytest.fixture
def seller(company_a, member_of):
    return member_of(company_a, Role.SALES, "seller-qa")


@pytest.fixture
def connection(company_a, seller):
    connection = docuseal.settings_save(
        company=company_a, base_url=BASE, api_key=KEY, template_id=1000001, cgv_version="CGV 2026-01",
        cgv_file=ContentFile(TERMS, name="cgv.pdf"), updated_by=seller,
    )  # fmt: skip
    connection.config = {**connection.config, "template_role": "First Party"}
    connection.save(update_fields=["config"])
    return connection


@pytest.fixture
def quote(company_a, seller):
    client = ClientFactory(company=company_a, name="Anna Muster", email="anna@example.ch", language="en")
    quote = QuoteFactory(company=company_a, client=client, title="Écran LED")
    return documents.quote_lines_replace(
        quote=quote, edited_by=seller,
        lines=[LineInput(description="Écran", quantity=D("1"), unit_price=D("1000.00"), vat_code="standard")],
    )  # fmt: skip


def headers(connection) -> dict:
    return {"HTTP_X_WEBHOOK_SECRET": connection.secret("webhook_secret")}


def post(body, company_code="QA", **extra):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    url = reverse("integrations:webhook-docuseal", kwargs={"company_code": company_code})
    return Client(HTTP_ACCEPT_LANGUAGE="en").post(url, raw, content_type="application/json", **extra)


def start(quote, user, django_capture_on_commit_callbacks) -> ActionRun:
    with django_capture_on_commit_callbacks(execute=True):
        return signatures.signature_request_start(quote=quote, requested_by=user)


def created_answer(external_id: str) -> dict:
    answer = json.loads((FIXTURES / "submission_created.json").read_text())
    answer["submitters"][0]["external_id"] = external_id
    return answer


def sent_for_signature(quote, user, http, enqueued, django_capture_on_commit_callbacks) -> QuoteSignature:
    external_id = f"quote-QA-{quote.pk}"
    http.get(f"{BASE}/submitters", json=fixture("submitters_empty"))
    http.post(f"{BASE}/submissions/pdf", json=created_answer(external_id))
    start(quote, user, django_capture_on_commit_callbacks)
    run_all(enqueued, ACTION_TASK)
    return QuoteSignature.objects.get(quote=quote)


def event(name: str, quote, **data) -> dict:
    payload = json.loads((FIXTURES / f"{name}.json").read_text())
    if payload["event_type"].startswith("form."):
        payload["data"]["external_id"] = f"quote-QA-{quote.pk}"
    payload["data"].update(data)
    return payload


def deliver(connection, payload, django_capture_on_commit_callbacks, enqueued):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(payload, **headers(connection))
    run_all(enqueued, DELIVERY_TASK)
    return response


# --- Envoyer pour signature ---------------------------------------------------------------------------------


def test_sending_a_draft_numbers_it_and_creates_one_submission_with_quote_and_terms(
    connection, quote, seller, http, enqueued, django_capture_on_commit_callbacks
):
    signature = sent_for_signature(quote, seller, http, enqueued, django_capture_on_commit_callbacks)

    quote.refresh_from_db()
    assert (quote.status, quote.number != "") == ("sent", True)
    lookup, create = http.calls
    assert lookup.request.url == f"{BASE}/submitters?external_id=quote-QA-{quote.pk}&limit=10"
    body = json.loads(create.request.body)
    assert [document["name"] for document in body["documents"]] == [quote.number.lower(), "General terms CGV 2026-01"]
    assert body["template_ids"] == [1000001]
    [submitter] = body["submitters"]
    assert (submitter["email"], submitter["role"], submitter["external_id"]) == (
        "anna@example.ch", "First Party", f"quote-QA-{quote.pk}",
    )  # fmt: skip
    assert submitter["metadata"]["cgv_sha256"] == connection.config["cgv_sha256"]
    assert (signature.submission_id, signature.submitter_id, signature.status, signature.signing_url) == (
        55, 101, "sent", "https://docuseal.com/s/pAMimKcyrLjqVt",
    )  # fmt: skip
    assert (signature.cgv_version, len(signature.cgv_sha256)) == ("CGV 2026-01", 64)
    run = ActionRun.objects.get(action="docuseal.sign")
    assert (run.status, run.attempts, run.idempotency_key) == ("succeeded", 1, f"docuseal-sign:quote:{quote.pk}:0")
    actions = list(AuditEvent.objects.filter(object_type="finance.quote", object_id=str(quote.pk))
                   .order_by("pk").values_list("action", flat=True))  # fmt: skip
    assert actions[-2:] == ["quote.sent", "signature.requested"]


def test_a_lost_answer_is_found_by_the_next_attempt_and_never_sent_twice(
    connection, quote, seller, http, enqueued, django_capture_on_commit_callbacks, waits
):
    created = []

    def created_then_lost(request):
        created.append(json.loads(request.body))  # DocuSeal stored it; the answer never comes back
        raise requests.ConnectionError("connection reset by peer")

    external_id = f"quote-QA-{quote.pk}"
    http.get(f"{BASE}/submitters", json=fixture("submitters_empty"))
    http.add_callback("POST", f"{BASE}/submissions/pdf", callback=created_then_lost)
    run = start(quote, seller, django_capture_on_commit_callbacks)
    run_all(enqueued, ACTION_TASK)
    run.refresh_from_db()
    assert (run.status, run.attempts, len(created)) == ("queued", 1, 1)
    assert "no answer" in run.last_error

    # The retry: DocuSeal now lists the submitter the lost call created.
    found = json.loads((FIXTURES / "submitters.json").read_text())
    found["data"][0]["external_id"] = external_id
    http.replace("GET", f"{BASE}/submitters", json=found)
    run_all(enqueued, ACTION_TASK)

    run.refresh_from_db()
    assert (run.status, run.attempts, len(created)) == ("succeeded", 2, 1)
    assert [call.request.method for call in http.calls] == ["GET", "POST", "GET"]
    signature = QuoteSignature.objects.get(quote=quote)
    assert (signature.submitter_id, signature.external_id) == (101, external_id)


def test_asking_twice_gives_the_same_run(connection, quote, seller, http, enqueued, django_capture_on_commit_callbacks):
    sent_for_signature(quote, seller, http, enqueued, django_capture_on_commit_callbacks)

    with pytest.raises(ValidationError) as refused:
        start(Quote.objects.get(pk=quote.pk), seller, django_capture_on_commit_callbacks)

    assert refused.value.messages == ["The quote is already with DocuSeal: see the signature card."]
    assert ActionRun.objects.filter(action="docuseal.sign").count() == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("channel", "Alpha has its quotes signed in Invoice Ninja client portal, not DocuSeal."),
        ("unconnected", "DocuSeal is not set up for Alpha (API key, template and general terms)."),
        ("signed", "Only a draft or sent quote is sent for signature; this one is signed."),
        ("no_email", "Anna Muster has no e-mail address."),
    ],
)
def test_the_refusals_say_why(connection, quote, seller, change, expected):
    if change == "channel":
        Company.objects.filter(pk=quote.company_id).update(signature_channel="invoice_ninja")
    elif change == "unconnected":
        connection.delete()
    elif change == "signed":
        quote = documents.quote_mark_signed(quote=documents.quote_send(quote=quote, sent_by=seller), actor=seller)
    else:
        type(quote.client).objects.filter(pk=quote.client_id).update(email="")
    quote = Quote.objects.select_related("company", "client").get(pk=quote.pk)

    assert signatures.signature_refusal(quote) == expected


# --- The webhook's refusals ------------------------------------------------------------------------------------


def test_a_missing_or_wrong_secret_is_refused_and_kept(connection, quote, enqueued):
    missing = post(event("form_viewed", quote))
    wrong = post(event("form_viewed", quote), HTTP_X_WEBHOOK_SECRET="guess")

    assert [missing.status_code, wrong.status_code] == [401, 401]
    assert list(WebhookDelivery.objects.values_list("status", "verified", "error")) == [
        ("rejected", False, "missing or wrong X-Webhook-Secret"),
        ("rejected", False, "missing or wrong X-Webhook-Secret"),
    ]  # fmt: skip
    assert enqueued == []


def test_the_secret_is_never_stored(connection, quote, enqueued, django_capture_on_commit_callbacks):
    deliver(connection, event("form_viewed", quote), django_capture_on_commit_callbacks, enqueued)

    stored = WebhookDelivery.objects.get().headers
    assert connection.secret("webhook_secret") not in json.dumps(stored)


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe\x00garbage", b"\x00", b"[1, 2]", b'{"event_type": "form.viewed"}', b"{}", b"x" * 300_000,
     b'{"event_type": "form.viewed", "timestamp": "t", "data": {"id": null}}',
     b'{"event_type": "form\\u0000", "timestamp": "t", "data": {"id": 1}}'],
)  # fmt: skip
def test_any_bytes_get_a_4xx_never_a_5xx(connection, body, enqueued):
    response = post(body, **headers(connection))

    assert response.status_code == 400
    assert WebhookDelivery.objects.get().status == "rejected"


def test_a_body_over_the_upload_limit_is_a_413_and_kept_refused(connection, enqueued, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = post(b"{" + b" " * 5000 + b"}", **headers(connection))

    assert (response.status_code, response.json()) == (413, {"error": "request body too large (limit 1000 bytes)"})
    assert WebhookDelivery.objects.values_list("provider", "status", "error").get() == (
        "docuseal", "rejected", "body too large"
    )  # fmt: skip


def test_an_unsigned_post_to_an_unconnected_company_is_404(company_b, enqueued):
    assert post(b"{}", company_code="QB").status_code == 404


def test_the_same_event_twice_is_one_delivery(connection, quote, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = post(event("form_viewed", quote), **headers(connection))
        second = post(event("form_viewed", quote), **headers(connection))

    assert [first.json(), second.json()] == [{"status": "accepted"}, {"status": "duplicate"}]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.duplicates, delivery.event_key) == (1, "QA:form.viewed:101:2024-05-10T11:10:02.100Z")
    assert len(enqueued) == 1


def test_an_hmac_signed_delivery_is_checked_when_a_secret_is_configured(connection, quote, enqueued):
    connection.set_secrets(hmac_secret="whsec_test")
    connection.save()

    response = post(event("form_viewed", quote), HTTP_X_DOCUSEAL_SIGNATURE="1.abc", **headers(connection))

    assert (response.status_code, WebhookDelivery.objects.get().error) == (401, "X-Docuseal-Signature too old or "
                                                                                "in the future")  # fmt: skip


# --- Events ---------------------------------------------------------------------------------------------------


@pytest.fixture
def signature(connection, quote, seller, http, enqueued, django_capture_on_commit_callbacks):
    signature = sent_for_signature(quote, seller, http, enqueued, django_capture_on_commit_callbacks)
    http.reset()
    return signature


def test_viewed_opens_the_signature_and_marks_the_quote_viewed_once(
    connection, quote, signature, enqueued, django_capture_on_commit_callbacks
):
    deliver(connection, event("form_viewed", quote), django_capture_on_commit_callbacks, enqueued)
    replay = WebhookDelivery.objects.get()
    from integrations.webhooks import inbox

    with django_capture_on_commit_callbacks(execute=True):
        inbox.delivery_replay(delivery=replay, replayed_by=signature.quote.created_by)
    run_all(enqueued, DELIVERY_TASK)

    signature.refresh_from_db()
    assert (signature.status, signature.opened_at.isoformat()) == ("opened", "2024-05-10T11:10:02+00:00")
    assert Quote.objects.get(pk=quote.pk).status == "viewed"
    assert AuditEvent.objects.filter(action="signature.opened").count() == 1
    assert AuditEvent.objects.filter(action="quote.viewed").count() == 1
    assert WebhookDelivery.objects.get().status == "processed"


def test_completed_three_times_stores_the_files_and_signs_once(
    connection, quote, signature, http, enqueued, django_capture_on_commit_callbacks
):
    http.get("https://docuseal.com/file/hash/2024-0042.pdf", body=SIGNED, content_type="application/pdf")
    http.get("https://docuseal.com/file/hash/audit.pdf", body=AUDIT, content_type="application/pdf")
    number = Quote.objects.get(pk=quote.pk).number
    completed = event("form_completed", quote,
                      documents=[{"name": number, "url": "https://docuseal.com/file/hash/2024-0042.pdf"},
                                 {"name": "CGV", "url": "https://docuseal.com/file/hash/cgv.pdf"}])  # fmt: skip
    signed_events = []
    from finance import events

    events.quote_signed.connect(lambda **kwargs: signed_events.append(kwargs["quote"].pk), weak=False,
                                dispatch_uid="test-docuseal")  # fmt: skip
    try:
        deliver(connection, completed, django_capture_on_commit_callbacks, enqueued)
        deliver(connection, {**completed, "timestamp": "2024-05-10T11:15:09.000Z"},
                django_capture_on_commit_callbacks, enqueued)  # fmt: skip
        deliver(connection, event("submission_completed", quote), django_capture_on_commit_callbacks, enqueued)
    finally:
        events.quote_signed.disconnect(dispatch_uid="test-docuseal")

    signature.refresh_from_db()
    assert signature.status == "completed"
    assert (signature.signed_pdf.read(), signature.audit_trail.read()) == (SIGNED, AUDIT)
    assert (signature.signer_name, signature.signer_ip, signature.signer_user_agent) == (
        "Anna Muster", "203.0.113.7", "Mozilla/5.0",
    )  # fmt: skip
    assert signature.cgv_accepted_at.isoformat() == "2024-05-10T11:15:02.900000+00:00"
    assert Quote.objects.get(pk=quote.pk).status == "signed"
    assert signed_events == [quote.pk]
    assert AuditEvent.objects.filter(action="signature.completed").count() == 1
    assert len(http.calls) == 2  # the files were downloaded once
    assert list(WebhookDelivery.objects.values_list("status", flat=True)) == ["processed"] * 3


def test_the_portal_and_docuseal_both_reporting_the_signature_make_one_deposit_invoice(
    connection, quote, signature, http, enqueued, django_capture_on_commit_callbacks
):
    # The client approves in Invoice Ninja's portal (the company signs there) and also signs at DocuSeal.
    Company.objects.filter(pk=quote.company_id).update(signature_channel="invoice_ninja")
    ninja = Connection(company=quote.company, provider="invoice_ninja", base_url="https://invoicing.example.ch")
    ninja.set_secrets(api_token="token-QA", webhook_secret="secret-QA")
    ninja.save()
    Quote.objects.filter(pk=quote.pk).update(invoice_ninja_id="QtE9x", invoice_ninja_status="2")
    number = Quote.objects.get(pk=quote.pk).number
    approved = ninja_document(id="QtE9x", number=number, status_id="3", entity_type="quote", amount="1081.00")
    with django_capture_on_commit_callbacks(execute=False):
        invoice_ninja_service.event_process(ninja, WebhookEvent.APPROVE_QUOTE, approved)
    assert Quote.objects.get(pk=quote.pk).status == "signed"
    http.get("https://docuseal.com/file/hash/2024-0042.pdf", body=SIGNED, content_type="application/pdf")
    http.get("https://docuseal.com/file/hash/audit.pdf", body=AUDIT, content_type="application/pdf")
    completed = event("form_completed", quote,
                      documents=[{"name": number, "url": "https://docuseal.com/file/hash/2024-0042.pdf"}])  # fmt: skip

    deliver(connection, completed, django_capture_on_commit_callbacks, enqueued)
    deliver(connection, event("submission_completed", quote), django_capture_on_commit_callbacks, enqueued)

    # DocuSeal's signature is recorded (files, CGV), the quote stays signed once, one automatic deposit.
    signature.refresh_from_db()
    assert (signature.status, signature.signed_pdf.read()) == ("completed", SIGNED)
    assert AuditEvent.objects.filter(action="quote.signed", object_id=str(quote.pk)).count() == 1
    runs = ActionRun.objects.filter(action=DEPOSIT_ACTION, target_id=quote.pk)
    assert runs.count() == 1
    execute_action_run(runs.get().pk)
    deposit = Invoice.objects.get(quote=quote)
    assert (deposit.kind, deposit.status, deposit.payable_total) == ("deposit", "issued", D("324.30"))


def test_declined_rejects_the_quote_with_the_reason(
    connection, quote, signature, enqueued, django_capture_on_commit_callbacks
):
    deliver(connection, event("form_declined", quote), django_capture_on_commit_callbacks, enqueued)
    deliver(connection, event("form_declined", quote, declined_at="2024-05-10T11:13:00.000Z"),
            django_capture_on_commit_callbacks, enqueued)  # fmt: skip

    signature.refresh_from_db()
    rejected = Quote.objects.get(pk=quote.pk)
    assert (signature.status, signature.decline_reason) == ("declined", "Le budget a été réduit")
    assert (rejected.status, rejected.rejection_reason) == ("rejected", "Le budget a été réduit")
    assert AuditEvent.objects.filter(action="signature.declined").count() == 1


def test_started_then_a_late_viewed_never_goes_back(connection, quote, signature, enqueued,
                                                    django_capture_on_commit_callbacks):  # fmt: skip
    deliver(connection, event("form_started", quote), django_capture_on_commit_callbacks, enqueued)
    deliver(connection, event("form_viewed", quote), django_capture_on_commit_callbacks, enqueued)

    signature.refresh_from_db()
    assert (signature.status, signature.started_at is not None, signature.opened_at is not None) == (
        "started", True, True,
    )  # fmt: skip


def test_expired_ends_the_signature_and_allows_a_new_request(
    connection, quote, signature, enqueued, django_capture_on_commit_callbacks
):
    deliver(connection, event("submission_expired", quote), django_capture_on_commit_callbacks, enqueued)

    signature.refresh_from_db()
    assert signature.status == "expired"
    assert signatures.live_signature(quote) is None
    assert signatures.external_id_for(quote, attempt=1) == f"quote-QA-{quote.pk}-2"


def test_an_event_for_an_unknown_submission_is_a_processed_no_op(connection, quote, enqueued,
                                                                 django_capture_on_commit_callbacks):  # fmt: skip
    deliver(connection, event("form_completed", quote, id=999, external_id="other"),
            django_capture_on_commit_callbacks, enqueued)  # fmt: skip

    assert WebhookDelivery.objects.get().status == "processed"
    assert not QuoteSignature.objects.exists()


def test_a_reminder_resends_the_email_and_counts(connection, quote, signature, seller, http, enqueued,
                                                  django_capture_on_commit_callbacks):  # fmt: skip
    http.put(f"{BASE}/submitters/101", json=json.loads((FIXTURES / "submitters.json").read_text())["data"][0])

    with django_capture_on_commit_callbacks(execute=True):
        signatures.signature_remind_start(signature=signature, requested_by=seller)
    run_all(enqueued, ACTION_TASK)

    signature.refresh_from_db()
    assert (signature.reminders_sent, signature.last_reminder_at is not None) == (1, True)
    assert json.loads(http.calls[0].request.body) == {"send_email": True}
    assert AuditEvent.objects.filter(action="signature.reminded", object_id=str(quote.pk)).count() == 1


def test_after_an_expiry_a_new_request_is_a_new_run_with_a_new_key(
    connection, quote, signature, seller, http, enqueued, django_capture_on_commit_callbacks
):
    deliver(connection, event("submission_expired", quote), django_capture_on_commit_callbacks, enqueued)
    http.get(f"{BASE}/submitters", json=fixture("submitters_empty"))
    answer = created_answer(f"quote-QA-{quote.pk}-2")
    answer["submitters"][0].update(id=202, slug="second")
    http.post(f"{BASE}/submissions/pdf", json=answer)

    start(Quote.objects.get(pk=quote.pk), seller, django_capture_on_commit_callbacks)
    run_all(enqueued, ACTION_TASK)

    assert http.calls[0].request.url == f"{BASE}/submitters?external_id=quote-QA-{quote.pk}-2&limit=10"
    runs = ActionRun.objects.filter(action="docuseal.sign").order_by("pk")
    assert list(runs.values_list("idempotency_key", "status")) == [
        (f"docuseal-sign:quote:{quote.pk}:0", "succeeded"), (f"docuseal-sign:quote:{quote.pk}:1", "succeeded"),
    ]  # fmt: skip
    assert signatures.live_signature(quote).submitter_id == 202


def test_a_failed_run_is_retried_from_its_badge_not_asked_again(
    connection, quote, seller, http, enqueued, django_capture_on_commit_callbacks
):
    http.get(f"{BASE}/submitters", json={"error": "Not authorized"}, status=403)
    run = start(quote, seller, django_capture_on_commit_callbacks)
    run_all(enqueued, ACTION_TASK)

    run.refresh_from_db()
    assert (run.status, run.last_error) == ("failed", "docuseal: Not authorized (HTTP 403)")
    assert signatures.signature_refusal(Quote.objects.get(pk=quote.pk)) == (
        "Sending for signature was asked already: see its progress on the page."
    )
