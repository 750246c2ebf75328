"""Website forms posting leads: signed with the company's secret, stored once, processed into a lead."""

import datetime as dt
import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from finance.models import Lead, Role
from integrations import web_form
from integrations.models import Connection, Provider, WebhookDelivery
from integrations.webhooks import inbox

pytestmark = pytest.mark.django_db

LEAD = {
    "first_name": "Anna", "last_name": "Meier", "organisation": "Hôtel du Lac SA", "email": "anna@example.ch",
    "phone": "+41 79 123 45 67", "language": "de", "town": "Luzern", "project_type": "digital_signage",
    "budget": "12000", "currency": "CHF", "event_date": "2026-12-20", "message": "Drei Bildschirme", "hp_field": "",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def secret(company_a) -> str:
    _connection, new_secret = web_form.secret_rotate(company=company_a, rotated_by=None)
    return new_secret


@pytest.fixture
def processed(monkeypatch):
    """Deliveries processed at once, in this process, when the request's transaction commits."""
    monkeypatch.setattr(inbox.process_webhook_delivery, "delay", lambda pk: inbox.process_webhook_delivery(pk))


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(body: bytes, *, secret: str | None, content_type="application/json", company_code="QA", signature=None):
    headers = {}
    if signature is not None or secret is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature if signature is not None else sign(body, secret)
    return Client(enforce_csrf_checks=True).post(
        reverse("integrations:webhook-leads", kwargs={"company_code": company_code}), data=body,
        content_type=content_type, **headers,
    )  # fmt: skip


def test_the_signature_recipe_matches_the_helper():
    assert web_form.signature(b'{"email":"a@b.ch"}', "s3cret") == (
        "sha256=" + hmac.new(b"s3cret", b'{"email":"a@b.ch"}', hashlib.sha256).hexdigest()
    )


def test_a_signed_lead_becomes_a_lead(company_a, secret, processed, django_capture_on_commit_callbacks):
    body = json.dumps(LEAD).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(body, secret=secret)
    assert response.status_code == 202
    assert response.json() == {"status": "accepted"}
    delivery = WebhookDelivery.objects.get()
    assert (delivery.provider, delivery.status, delivery.verified, delivery.event_type) == (
        "web_form", "processed", True, "lead")  # fmt: skip
    lead = Lead.objects.get()
    assert (lead.company, lead.source, lead.email, lead.phone, lead.budget, lead.event_date, lead.project_type) == (
        company_a,
        "website",
        "anna@example.ch",
        "+41791234567",
        12000,
        dt.date(2026, 12, 20),
        "digital_signage",
    )
    assert lead.delivery_ids == [delivery.pk]


def test_a_form_encoded_lead_is_accepted(company_a, secret, processed, django_capture_on_commit_callbacks):
    body = urlencode({"email": "paul@example.ch", "message": "Bonjour", "language": "fr"}).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(body, secret=secret, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 202
    assert Lead.objects.values_list("email", "message", "language").get() == ("paul@example.ch", "Bonjour", "fr")


@pytest.mark.parametrize("signature", [None, "", "sha256=00", "deadbeef"])
def test_an_unsigned_or_forged_lead_is_refused_and_kept(company_a, secret, signature):
    body = json.dumps(LEAD).encode()
    response = post(body, secret=None, signature=signature)
    assert response.status_code == 401
    assert response.json() == {"error": "missing or wrong X-Hub-Signature-256"}
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.verified, delivery.error) == (
        "rejected", False, "missing or wrong X-Hub-Signature-256")  # fmt: skip
    assert Lead.objects.count() == 0


def test_a_body_signed_with_another_secret_is_refused(company_a, secret):
    assert post(json.dumps(LEAD).encode(), secret="not-the-secret").status_code == 401


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe{}", "not a lead: body is not UTF-8"),
        (b'{"email": "a@b.ch", "message": "x\x00y"}', "not a lead: body contains NUL characters"),
        (b'{"email": "a@b.ch", "message": "x\\u0000y"}', "not a lead: message: contains NUL characters"),
        (b"[1, 2]", "not a lead: body must be a JSON object of the form's fields"),
        (b'"text"', "not a lead: body must be a JSON object of the form's fields"),
        (b"{not json", "not a lead: body is not JSON: Expecting property name enclosed in double quotes: "
                       "line 1 column 2 (char 1)"),
        (b'{"email": {"a": 1}}', "not a lead: email: expected a string or a number"),
        (b'{"email": true}', "not a lead: email: expected a string or a number"),
        (b'{"message": "no way to answer"}', "not a lead: give email or phone"),
        (b'{"email": "nope"}', "not a lead: email: Enter a valid email address."),
        (b'{"email": "a@b.ch", "budget": "lots"}', "not a lead: budget: Enter a number."),
        (b'{"email": "a@b.ch", "padding": "' + b"x" * 70_000 + b'"}', "not a lead: body larger than 65536 bytes"),
    ],
)  # fmt: skip
def test_a_signed_body_that_is_no_lead_is_a_400_with_the_reason(company_a, secret, body, reason):
    response = post(body, secret=secret)
    assert response.status_code == 400
    assert response.json() == {"error": reason}
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.error) == ("rejected", reason)
    assert "\x00" not in delivery.body


def test_a_body_too_large_to_read_is_a_413_and_stored(company_a, secret, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post(b'{"email": "a@b.ch", "x": "' + b"y" * 2000 + b'"}', secret=secret)
    assert response.status_code == 413
    assert WebhookDelivery.objects.values_list("status", "error").get() == ("rejected", "body too large")


def test_unsigned_junk_bytes_are_a_401_and_stored(company_a, secret):
    response = post(b"\x00\xff\x00junk", secret=None, content_type="application/octet-stream")
    assert response.status_code == 401
    assert WebhookDelivery.objects.get().body == "\ufffd\ufffd\ufffdjunk"


def test_the_same_body_twice_is_one_delivery(company_a, secret, processed, django_capture_on_commit_callbacks):
    body = json.dumps(LEAD).encode()
    with django_capture_on_commit_callbacks(execute=True):
        first = post(body, secret=secret)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = post(body, secret=secret)
    assert (first.status_code, second.status_code, second.json()) == (202, 200, {"status": "duplicate"})
    assert callbacks == []
    assert WebhookDelivery.objects.get().duplicates == 1
    assert Lead.objects.get().received_count == 1


def test_a_replay_changes_nothing(company_a, secret, processed, django_capture_on_commit_callbacks, member_of):
    with django_capture_on_commit_callbacks(execute=True):
        post(json.dumps(LEAD).encode(), secret=secret)
    delivery = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        inbox.delivery_replay(delivery=delivery, replayed_by=member_of(company_a, Role.FINANCE))
    delivery.refresh_from_db()
    lead = Lead.objects.get()
    assert (delivery.status, lead.received_count, lead.message) == ("processed", 1, "Drei Bildschirme")


def test_a_second_post_of_the_same_person_is_merged(company_a, secret, processed, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post(json.dumps(LEAD).encode(), secret=secret)
        post(json.dumps({**LEAD, "message": "Und eine Offerte für Miete"}).encode(), secret=secret)
    lead = Lead.objects.get()
    assert lead.received_count == 2
    assert WebhookDelivery.objects.count() == 2


def test_a_company_without_web_form_is_not_found(company_a, company_b, secret):
    assert post(json.dumps(LEAD).encode(), secret=secret, company_code="QB").status_code == 404
    assert WebhookDelivery.objects.count() == 0


def test_after_a_rotation_the_previous_secret_works_for_24_hours(company_a, secret, monkeypatch):
    _connection, new_secret = web_form.secret_rotate(company=company_a, rotated_by=None)
    body = json.dumps(LEAD).encode()
    connection = Connection.objects.get(company=company_a, provider=Provider.WEB_FORM)
    assert web_form.signature_valid(connection, body, sign(body, secret)) is True
    assert web_form.signature_valid(connection, body, sign(body, new_secret)) is True
    later = timezone.now() + dt.timedelta(hours=25)
    monkeypatch.setattr(web_form.timezone, "now", lambda: later)
    assert web_form.signature_valid(connection, body, sign(body, secret)) is False
    assert web_form.signature_valid(connection, body, sign(body, new_secret)) is True


def test_the_settings_page_shows_url_and_a_new_secret_once(client, company_a, member_of):
    client.force_login(member_of(company_a, Role.FINANCE))
    url = reverse("integrations:connection", kwargs={"provider": "web_form", "company_code": "QA"})
    response = client.post(url, follow=True)
    secret = Connection.objects.get(company=company_a, provider="web_form").secret("signing_secret")
    page = response.content.decode()
    assert f'data-testid="new-secret">{secret}</code>' in page
    assert "http://127.0.0.1:8000/webhooks/leads/QA/" in page
    assert secret not in client.get(url).content.decode()


def test_web_form_connect_gives_every_company_a_secret(company_a, company_b):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("web_form_connect", stdout=out)
    assert Connection.objects.filter(provider="web_form").count() == 2
    assert "QA: secret generated" in out.getvalue()
    call_command("web_form_connect", stdout=out)
    assert "QA: already has a secret" in out.getvalue()
