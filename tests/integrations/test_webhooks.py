"""Inbound Revolut webhooks: verified as Revolut signs, stored once, processed in Celery, listed and replayed."""

import datetime as dt
import hashlib
import hmac
import json
import time

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from finance.models import AuditEvent, BankTransaction, Role
from integrations.clients.base import PermanentProviderError, TransientProviderError
from integrations.models import WebhookDelivery
from integrations.webhooks import inbox
from integrations.webhooks import revolut as revolut_webhooks
from tests.factories import BankAccountFactory, CompanyFactory
from tests.finance.test_banking_sync import CHF_ACCOUNT, incoming_json
from tests.integrations.test_connections import SIGNING_SECRET, revolut_connection

pytestmark = pytest.mark.django_db

TRANSACTION_ID = "63d2a8bd-8b67-a2de-b1d2-b58ee21d7073"


def sign(body: bytes, timestamp: str, secret: str) -> str:
    """Revolut-Signature as Revolut computes it: HMAC-SHA256 of "v1.<timestamp>.<raw body>", hex."""
    return "v1=" + hmac.new(secret.encode(), b"v1." + timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def now_ms() -> str:
    return str(int(time.time() * 1000))


def created_event(*, transaction_id=TRANSACTION_ID, state="pending", amount=1500) -> bytes:
    data = incoming_json(amount, transaction_id=transaction_id, state=state)
    payload = {"event": "TransactionCreated", "timestamp": "2026-11-20T10:00:00.000000Z", "data": data}
    return json.dumps(payload, separators=(",", ":")).encode()


def state_changed_event(*, transaction_id=TRANSACTION_ID, old="pending", new="completed") -> bytes:
    payload = {
        "data": {"id": transaction_id, "new_state": new, "old_state": old, "request_id": "hv-si1-1"},
        "event": "TransactionStateChanged", "timestamp": "2026-11-20T10:05:00.000000Z",
    }  # fmt: skip
    return json.dumps(payload, separators=(",", ":")).encode()


def post(body: bytes, *, company_code="QA", secret=SIGNING_SECRET, timestamp=None, signature=None, **headers):
    """Post as Revolut does: no session, no CSRF token, the raw body and its signature."""
    timestamp = timestamp or now_ms()
    signature = signature if signature is not None else sign(body, timestamp, secret)
    return Client(enforce_csrf_checks=True).post(
        reverse("integrations:webhook-revolut", kwargs={"company_code": company_code}), data=body,
        content_type="application/json", HTTP_REVOLUT_REQUEST_TIMESTAMP=timestamp, HTTP_REVOLUT_SIGNATURE=signature,
        **headers,
    )  # fmt: skip


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def connection(company_a):
    return revolut_connection(company_a)


@pytest.fixture
def enqueued(monkeypatch):
    """Deliveries sent to the worker: ("delay", id) or ("apply_async", id, countdown)."""
    sent: list[tuple] = []
    monkeypatch.setattr(inbox.process_webhook_delivery, "delay", lambda pk: sent.append(("delay", pk)))
    monkeypatch.setattr(
        inbox.process_webhook_delivery, "apply_async",
        lambda args, countdown=0, **_options: sent.append(("apply_async", args[0], countdown)),
    )  # fmt: skip
    return sent


@pytest.fixture
def processed(monkeypatch):
    """The events the Revolut handler hands to the Revolut service (it has its own tests)."""
    calls = []
    monkeypatch.setattr(
        revolut_webhooks.revolut_service, "revolut_event_process",
        lambda *, connection, payload: calls.append((connection.pk, payload)),
    )  # fmt: skip
    return calls


def test_the_signature_helper_matches_revoluts_documented_example():
    body = (
        b'{"data":{"id":"645a7696-1234-aa47-1234-cbae0449cc46","new_state":"completed","old_state":"pending",'
        b'"request_id":"app_charges-9f5d5eb3-1234-1234-1234-3914763e0bcb"},"event":"TransactionStateChanged",'
        b'"timestamp":"2023-05-09T16:36:38.028960Z"}'
    )

    assert sign(body, "1683650202360", "wsk_r59a4HfWVAKycbCaNO1RvgCJec02gRd8") == (
        "v1=e0081c3c3d4019449671648596e1868a168d337d5ae711282f32eba42e02eeab"
    )


# --- Receiving ------------------------------------------------------------------------------------


def test_a_signed_delivery_is_stored_and_processed_after_commit(
    connection, enqueued, django_capture_on_commit_callbacks
):
    body = created_event()
    timestamp = now_ms()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(body, timestamp=timestamp, HTTP_AUTHORIZATION="Bearer not-for-the-log",
                        HTTP_COOKIE="sessionid=abc", HTTP_X_API_KEY="k")  # fmt: skip

    assert (response.status_code, response.json()) == (200, {"status": "accepted"})
    delivery = WebhookDelivery.objects.get()
    assert (delivery.provider, delivery.company, delivery.verified, delivery.status) == (
        "revolut", connection.company, True, "received",
    )  # fmt: skip
    assert (delivery.event_key, delivery.event_type) == (
        f"TransactionCreated:{TRANSACTION_ID}:pending",
        "TransactionCreated",
    )
    assert delivery.body == body.decode()
    assert (delivery.attempts, delivery.duplicates, delivery.error) == (0, 0, "")
    assert delivery.headers["Revolut-Request-Timestamp"] == timestamp
    assert delivery.headers["Revolut-Signature"] == sign(body, timestamp, SIGNING_SECRET)
    assert delivery.headers["Content-Type"] == "application/json"
    assert {"Authorization", "Cookie", "X-Api-Key"}.isdisjoint(delivery.headers)
    assert "not-for-the-log" not in json.dumps(delivery.headers)
    assert len(callbacks) == 1
    assert enqueued == [("delay", delivery.pk)]


def test_a_state_change_is_keyed_by_its_new_state(connection, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = post(state_changed_event(new="pending", old="created"))
        second = post(state_changed_event(new="completed", old="pending"))

    assert [first.json(), second.json()] == [{"status": "accepted"}, {"status": "accepted"}]
    assert sorted(WebhookDelivery.objects.values_list("event_key", flat=True)) == [
        f"TransactionStateChanged:{TRANSACTION_ID}:completed", f"TransactionStateChanged:{TRANSACTION_ID}:pending",
    ]  # fmt: skip
    assert len(enqueued) == 2


def test_a_duplicate_is_counted_and_not_processed_again(connection, enqueued, django_capture_on_commit_callbacks):
    body = created_event()

    with django_capture_on_commit_callbacks(execute=True):
        first = post(body)
    with django_capture_on_commit_callbacks(execute=True) as again:
        second = post(body, timestamp=str(int(time.time() * 1000) + 5))

    assert (first.status_code, second.status_code, second.json()) == (200, 200, {"status": "duplicate"})
    delivery = WebhookDelivery.objects.get()
    assert (delivery.duplicates, delivery.status) == (1, "received")
    assert again == []
    assert enqueued == [("delay", delivery.pk)]


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda body, ts: {"signature": sign(body, ts, "wsk_wrong_secret")}, "signature does not match"),
        (lambda body, ts: {"signature": sign(body + b" ", ts, SIGNING_SECRET)}, "signature does not match"),
        (lambda body, ts: {"signature": "v1=" + "0" * 64}, "signature does not match"),
        (lambda body, ts: {"signature": ""}, "missing signature headers"),
        (lambda body, ts: {"timestamp": "2026-11-20T10:00:00Z"}, "malformed timestamp"),
    ],
    ids=["other-secret", "body-changed", "zeros", "no-signature", "iso-timestamp"],
)
def test_a_delivery_not_signed_by_revolut_is_refused_and_kept(
    connection, enqueued, django_capture_on_commit_callbacks, tamper, reason
):
    body, timestamp = created_event(), now_ms()
    changes = tamper(body, timestamp)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(body, timestamp=changes.get("timestamp", timestamp), signature=changes.get("signature"))

    assert (response.status_code, response.json()) == (401, {"error": reason})
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.verified, delivery.event_key, delivery.error, delivery.company) == (
        "rejected", False, None, reason, connection.company,
    )  # fmt: skip
    assert delivery.body == body.decode()
    assert (callbacks, enqueued) == ([], [])


def test_a_stale_timestamp_is_refused_even_when_signed(connection, enqueued, django_capture_on_commit_callbacks):
    body = created_event()
    six_minutes_ago = str(int(time.time() * 1000) - 6 * 60 * 1000)

    with django_capture_on_commit_callbacks(execute=True):
        response = post(body, timestamp=six_minutes_ago)

    assert (response.status_code, response.json()) == (401, {"error": "timestamp outside the 5-minute tolerance"})
    assert WebhookDelivery.objects.get().status == "rejected"
    assert enqueued == []


def test_a_refused_delivery_does_not_block_the_genuine_one(connection, enqueued, django_capture_on_commit_callbacks):
    body = created_event()

    with django_capture_on_commit_callbacks(execute=True):
        forged = post(body, signature="v1=" + "f" * 64)
        genuine = post(body)

    assert (forged.status_code, genuine.json()) == (401, {"status": "accepted"})
    assert sorted(WebhookDelivery.objects.values_list("status", flat=True)) == ["received", "rejected"]


def test_every_secret_being_rotated_is_accepted(company_a, enqueued, django_capture_on_commit_callbacks):
    revolut_connection(company_a, signing_secrets="wsk_new_one,wsk_old_one")
    old_only, both = created_event(state="pending"), created_event(state="completed")
    timestamp = now_ms()

    with django_capture_on_commit_callbacks(execute=True):
        signed_old = post(old_only, secret="wsk_old_one")
        # During a rotation Revolut sends one signature per active secret, comma-separated.
        signed_both = post(both, timestamp=timestamp, signature=(
            f"{sign(both, timestamp, 'wsk_unknown')},{sign(both, timestamp, 'wsk_new_one')}"
        ))  # fmt: skip
        signed_retired = post(created_event(state="declined"), secret="wsk_retired")

    assert [signed_old.status_code, signed_both.status_code, signed_retired.status_code] == [200, 200, 401]
    assert WebhookDelivery.objects.filter(verified=True).count() == 2


def test_a_company_without_revolut_is_not_found(connection, enqueued):
    CompanyFactory(code="QZ", name="No bank")

    unknown = post(created_event(), company_code="ZZ")
    unconnected = post(created_event(), company_code="QZ")

    assert (unknown.status_code, unknown.json()) == (404, {"error": "no Revolut connection for this company"})
    assert unconnected.status_code == 404
    assert WebhookDelivery.objects.count() == 0


def test_a_connection_without_signing_secret_refuses_everything(company_a, enqueued):
    revolut_connection(company_a, signing_secrets="")

    response = post(created_event(), secret="wsk_anything")

    assert (response.status_code, WebhookDelivery.objects.get().status) == (401, "rejected")


def test_a_signed_body_that_is_no_revolut_event_is_refused(connection, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        not_json = post(b"<html>hello</html>")
        a_list = post(b"[1, 2]")

    assert [not_json.status_code, a_list.status_code] == [400, 400]
    assert list(WebhookDelivery.objects.values_list("status", "error")) == [
        ("rejected", "body is not a Revolut event"), ("rejected", "body is not a Revolut event"),
    ]  # fmt: skip
    assert enqueued == []


def test_only_post_is_accepted(connection):
    response = Client().get(reverse("integrations:webhook-revolut", kwargs={"company_code": "QA"}))

    assert response.status_code == 405


# --- Processing -----------------------------------------------------------------------------------


def accepted(connection, body=None, **fields) -> WebhookDelivery:
    body = body or created_event()
    payload = json.loads(body)
    delivery_id, _created = inbox.delivery_accept(
        provider="revolut", company=connection.company, event_key=revolut_webhooks.event_key(payload),
        event_type=payload["event"], headers={}, body=body.decode(),
    )  # fmt: skip
    if fields:
        WebhookDelivery.objects.filter(pk=delivery_id).update(**fields)
    return WebhookDelivery.objects.get(pk=delivery_id)


def test_processing_hands_the_event_to_banking(connection, processed, enqueued):
    body = created_event()
    delivery = accepted(connection, body)

    inbox.process_webhook_delivery(delivery.pk)

    assert processed == [(connection.pk, json.loads(body))]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.error, delivery.processed_at is not None) == (
        "processed", 1, "", True,
    )  # fmt: skip
    inbox.process_webhook_delivery(delivery.pk)
    assert len(processed) == 1


def test_a_failing_handler_is_recorded(connection, monkeypatch, enqueued):
    def crash(*, connection, payload):
        raise ValueError("leg without account_id")

    monkeypatch.setattr(revolut_webhooks.revolut_service, "revolut_event_process", crash)
    delivery = accepted(connection)

    inbox.process_webhook_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.error) == ("failed", 1, "ValueError: leg without account_id")
    assert delivery.processed_at is not None
    assert enqueued == []


def test_a_transient_failure_is_retried_then_recorded(connection, monkeypatch, enqueued):
    def unavailable(*, connection, payload):
        raise TransientProviderError("revolut", "Service Unavailable", status=503)

    monkeypatch.setattr(revolut_webhooks.revolut_service, "revolut_event_process", unavailable)
    delivery = accepted(connection)

    for _attempt in range(inbox.MAX_ATTEMPTS):
        inbox.process_webhook_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.error) == (
        "failed", 4, "revolut: Service Unavailable (HTTP 503)",
    )  # fmt: skip
    assert enqueued == [("apply_async", delivery.pk, 30), ("apply_async", delivery.pk, 60),
                        ("apply_async", delivery.pk, 120)]  # fmt: skip


def test_a_permanent_provider_error_fails_at_once(connection, monkeypatch, enqueued):
    def refused(*, connection, payload):
        raise PermanentProviderError("revolut", "Resource not found", status=404, code=3006)

    monkeypatch.setattr(revolut_webhooks.revolut_service, "revolut_event_process", refused)
    delivery = accepted(connection)

    inbox.process_webhook_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.error, enqueued) == ("failed", "revolut: Resource not found (HTTP 404)", [])


def test_a_provider_without_handler_fails_the_delivery(company_a, monkeypatch, enqueued):
    monkeypatch.delitem(inbox._handlers, "revolut")
    delivery = accepted(revolut_connection(company_a))

    inbox.process_webhook_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.error == "No handler for revolut deliveries."


def test_a_signed_transaction_becomes_a_bank_transaction(connection, monkeypatch, django_capture_on_commit_callbacks):
    """From the POST to the bank transaction, the task run in place of the worker."""
    BankAccountFactory(company=connection.company, connection=connection, provider_account_id=CHF_ACCOUNT)
    monkeypatch.setattr(inbox.process_webhook_delivery, "delay", inbox.process_webhook_delivery)

    with django_capture_on_commit_callbacks(execute=True):
        response = post(created_event(state="pending", amount=2750.5))

    assert response.json() == {"status": "accepted"}
    assert WebhookDelivery.objects.get().status == "processed"
    row = BankTransaction.objects.get()
    assert (row.provider_id, row.company, row.state, str(row.amount)) == (
        TRANSACTION_ID, connection.company, "pending", "2750.50",
    )  # fmt: skip


# --- Page and replay ------------------------------------------------------------------------------


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def finance(company_a, member_of):
    return member_of(company_a, Role.FINANCE, "hooks-finance")


def test_the_webhooks_page_lists_the_deliveries_of_visible_companies(connection, company_b, finance):
    processed = accepted(connection, status="processed", duplicates=2)
    refused = inbox.delivery_reject(provider="revolut", company=connection.company, headers={}, body="{}",
                                    reason="signature does not match")  # fmt: skip
    foreign = accepted(revolut_connection(company_b), body=created_event(transaction_id="b-only"))

    html = signed_in(finance).get(reverse("integrations:webhook-list")).content.decode()

    assert f'id="delivery-{processed.pk}"' in html
    assert f'id="delivery-{refused.pk}"' in html
    assert f'id="delivery-{foreign.pk}"' not in html
    assert f"TransactionCreated:{TRANSACTION_ID}:pending" in html
    assert "+2 duplicates" in html
    assert "signature does not match" in html
    assert reverse("integrations:webhook-replay", kwargs={"pk": processed.pk}) in html
    assert reverse("integrations:webhook-replay", kwargs={"pk": refused.pk}) not in html


def test_the_webhooks_page_filters(connection, finance):
    received = accepted(connection)
    failed = accepted(connection, body=state_changed_event(), status="failed", error="ValueError: boom")
    old = accepted(connection, body=created_event(state="completed"), status="processed")
    WebhookDelivery.objects.filter(pk=old.pk).update(received_at=timezone.now() - dt.timedelta(days=40))
    client = signed_in(finance)
    url = reverse("integrations:webhook-list")

    def listed(**query):
        html = client.get(url, query).content.decode()
        return {pk for pk in (received.pk, failed.pk, old.pk) if f'id="delivery-{pk}"' in html}

    assert listed() == {received.pk, failed.pk, old.pk}
    assert listed(status="failed") == {failed.pk}
    assert listed(q="StateChanged") == {failed.pk}
    assert listed(q="boom") == {failed.pk}
    assert listed(date_from=(timezone.localdate() - dt.timedelta(days=7)).isoformat()) == {received.pk, failed.pk}
    assert listed(company="QA", status="processed") == {old.pk}


def test_replay_processes_a_delivery_again(connection, finance, enqueued, django_capture_on_commit_callbacks):
    delivery = accepted(connection, status="failed", attempts=4, error="ValueError: boom",
                        processed_at=timezone.now())  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(finance).post(reverse("integrations:webhook-replay", kwargs={"pk": delivery.pk}),
                                           follow=True)  # fmt: skip

    assert response.redirect_chain == [(reverse("integrations:webhook-list"), 302)]
    assert f"Delivery #{delivery.pk} is being processed again." in response.content.decode()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.error, delivery.processed_at) == ("received", 0, "", None)
    assert enqueued == [("delay", delivery.pk)]
    event = AuditEvent.objects.get(action="webhook.replayed")
    assert (event.actor, event.company, event.changes) == (
        finance, connection.company, {"provider": "revolut", "event": "TransactionCreated"},
    )  # fmt: skip


def test_a_replayed_delivery_is_handled_again(connection, processed, enqueued, finance):
    delivery = accepted(connection)
    inbox.process_webhook_delivery(delivery.pk)

    inbox.delivery_replay(delivery=delivery, replayed_by=finance)
    inbox.process_webhook_delivery(delivery.pk)

    assert len(processed) == 2
    assert WebhookDelivery.objects.get().status == "processed"


def test_a_refused_delivery_cannot_be_replayed(connection, finance, enqueued, django_capture_on_commit_callbacks):
    refused = inbox.delivery_reject(provider="revolut", company=connection.company, headers={}, body="{}",
                                    reason="signature does not match")  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(finance).post(reverse("integrations:webhook-replay", kwargs={"pk": refused.pk}),
                                           follow=True)  # fmt: skip

    assert "A refused delivery cannot be replayed: its signature was not valid." in response.content.decode()
    assert (WebhookDelivery.objects.get().status, enqueued) == ("rejected", [])


def test_replay_is_for_ceo_and_finance_only(connection, member_of, enqueued, django_capture_on_commit_callbacks):
    delivery = accepted(connection, status="failed")
    sales = member_of(connection.company, Role.SALES, "hooks-sales")

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(sales).post(reverse("integrations:webhook-replay", kwargs={"pk": delivery.pk}),
                                         follow=True)  # fmt: skip
    page = signed_in(sales).get(reverse("integrations:webhook-list")).content.decode()

    assert "Only the CEO and finance replay webhooks." in response.content.decode()
    assert (WebhookDelivery.objects.get().status, enqueued) == ("failed", [])
    assert f'id="delivery-{delivery.pk}"' in page
    assert reverse("integrations:webhook-replay", kwargs={"pk": delivery.pk}) not in page


def test_another_companys_delivery_cannot_be_replayed(company_b, finance, enqueued):
    delivery = accepted(revolut_connection(company_b), status="failed")

    response = signed_in(finance).post(reverse("integrations:webhook-replay", kwargs={"pk": delivery.pk}))

    assert (response.status_code, WebhookDelivery.objects.get().status, enqueued) == (404, "failed", [])
