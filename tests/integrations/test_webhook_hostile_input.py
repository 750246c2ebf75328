"""Whatever arrives at a webhook URL, the answer is never a 5xx: bytes that are not UTF-8, NUL bytes, JSON of
the wrong shape, absurd headers — signed as the provider signs, or not signed at all. A body over the
limit is refused with 413 before it is read."""

import json
import time
from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finance.models import Company
from integrations.clients import mautic as mautic_api
from integrations.clients.revolut import sign_webhook
from integrations.models import Connection, Provider, WebhookDelivery
from integrations.web_form import signature as web_form_signature
from tests.factories import CompanyFactory, ConnectionFactory

pytestmark = pytest.mark.django_db

SECRET = "whsec-test-secret-value"
DIRECTUS_SECRET = "directus-flow-secret"

HOSTILE_BODIES = [
    b"",
    b"\xff\xfe\xfa not utf-8 \x80\x81",
    b"\x00",
    b'{"event": "TransactionCreated\x00", "data": {"id": "a\x00b"}}',
    b'{"event": "x\\u0000y", "data": {"id": "\\u0000"}, "timestamp": "\\u0000"}',
    b"[]",
    b"[1, 2, 3]",
    b"42",
    b"null",
    b'"just a string"',
    b"{}",
    b'{"data": []}',
    b'{"data": "text"}',
    b'{"data": {"id": 5, "legs": "none", "state": [], "amount": {}}}',
    b'{"event": 7, "data": null}',
    b'{"id": [], "entity_type": {}, "client": 3, "invitations": "x", "status_id": []}',
    b'{"mautic.email_on_send": "nope"}',
    b'{"mautic.email_on_send": [{"stat": "x", "email": [], "lead": 5}]}',
    b'{"event_type": [], "timestamp": {}, "data": {"id": "x", "submission": 5}}',
    b'{"event": "items.update", "collection": 5, "keys": "x", "payload": []}',
    b'{"first_name": "\\u0000", "email": [], "message": {}}',
    b"{" * 5000,
    b'{"a": ' + b"9" * 10_000 + b"}",
    '{"nom": "Zoë \U0001f600 \ud800"}'.encode("utf-8", "surrogatepass"),
]


def revolut_headers(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time() * 1000))
    return {
        "HTTP_REVOLUT_REQUEST_TIMESTAMP": timestamp,
        "HTTP_REVOLUT_SIGNATURE": sign_webhook(raw_body=body, timestamp=timestamp, secret=SECRET),
    }


def mautic_headers(body: bytes) -> dict[str, str]:
    return {"HTTP_WEBHOOK_SIGNATURE": mautic_api.webhook_signature(body, SECRET)}


def secret_header(_body: bytes) -> dict[str, str]:
    return {"HTTP_X_WEBHOOK_SECRET": SECRET}


def web_form_headers(body: bytes) -> dict[str, str]:
    return {"HTTP_X_HUB_SIGNATURE_256": web_form_signature(body, SECRET)}


def directus_headers(_body: bytes) -> dict[str, str]:
    return {"HTTP_X_HUB_SECRET": DIRECTUS_SECRET}


# provider → (its webhook URL for the company, the headers that sign a body as the provider does)
ENDPOINTS = {
    Provider.REVOLUT: (lambda code: reverse("integrations:webhook-revolut", args=[code]), revolut_headers),
    Provider.INVOICE_NINJA: (
        lambda code: reverse("integrations:webhook-invoice-ninja", args=[code, 4]),
        secret_header,
    ),
    Provider.MAUTIC: (lambda code: reverse("integrations:webhook-mautic", args=[code]), mautic_headers),
    Provider.DOCUSEAL: (lambda code: reverse("integrations:webhook-docuseal", args=[code]), secret_header),
    Provider.WEB_FORM: (lambda code: reverse("integrations:webhook-leads", args=[code]), web_form_headers),
    Provider.DIRECTUS: (lambda _code: reverse("integrations:webhook-directus"), directus_headers),
}


@pytest.fixture
def company() -> Company:
    company = CompanyFactory(code="HX")
    secrets = {
        Provider.REVOLUT: {"webhook_signing_secrets": SECRET},
        Provider.INVOICE_NINJA: {"api_token": "token", "webhook_secret": SECRET},
        Provider.MAUTIC: {"password": "pw", "webhook_secret": SECRET},
        Provider.DOCUSEAL: {"api_key": "key", "webhook_secret": SECRET},
        Provider.WEB_FORM: {"signing_secret": SECRET},
    }
    for provider, values in secrets.items():
        connection = ConnectionFactory(company=company, provider=provider, base_url="https://provider.example")
        connection.set_secrets(**values)
        connection.save()
    return company


@pytest.fixture(autouse=True)
def _directus_secret(settings):
    settings.HV_DIRECTUS_WEBHOOK_SECRET = DIRECTUS_SECRET


@pytest.mark.parametrize("provider", list(ENDPOINTS))
@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/x-www-form-urlencoded"])
def test_no_hostile_body_gets_a_server_error(client, company, provider, signed, content_type):
    url, sign = ENDPOINTS[provider]
    for body in HOSTILE_BODIES:
        headers = sign(body) if signed else {}
        response = client.post(url(company.code), data=body, content_type=content_type, **headers)
        assert response.status_code < 500, (provider, body[:60], response.status_code)
        assert response["Content-Type"] == "application/json", (provider, body[:60])


@pytest.mark.parametrize("provider", list(ENDPOINTS))
def test_malformed_and_repeated_signature_headers_are_refused_not_crashed(client, company, provider):
    url, _sign = ENDPOINTS[provider]
    body = b'{"event": "TransactionCreated", "data": {"id": "tx-1"}}'
    for headers in (
        {"HTTP_REVOLUT_REQUEST_TIMESTAMP": "9" * 6000, "HTTP_REVOLUT_SIGNATURE": "v1=00"},
        {"HTTP_REVOLUT_REQUEST_TIMESTAMP": "²³", "HTTP_REVOLUT_SIGNATURE": "v1=00"},
        {"HTTP_REVOLUT_REQUEST_TIMESTAMP": "-1", "HTTP_REVOLUT_SIGNATURE": "v1=" + "0" * 64 + "," * 500},
        {"HTTP_WEBHOOK_SIGNATURE": "é" * 300},
        {"HTTP_X_WEBHOOK_SECRET": f"{SECRET},{SECRET}"},
        {"HTTP_X_WEBHOOK_SECRET": SECRET, "HTTP_X_DOCUSEAL_SIGNATURE": "²." + "f" * 64},
        {"HTTP_X_WEBHOOK_SECRET": SECRET, "HTTP_X_DOCUSEAL_SIGNATURE": "9" * 6000 + ".ff"},
        {"HTTP_X_HUB_SIGNATURE_256": "sha256=" + "é" * 64},
        {"HTTP_X_HUB_SECRET": "x" * 10_000},
    ):
        response = client.post(url(company.code), data=body, content_type="application/json", **headers)
        assert response.status_code < 500, (provider, headers, response.status_code)


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=50_000)
@pytest.mark.parametrize("provider", list(ENDPOINTS))
def test_a_body_over_the_limit_is_refused_with_413(client, company, provider):
    url, sign = ENDPOINTS[provider]
    body = b'{"data": "' + b"x" * 60_000 + b'"}'

    response = client.post(url(company.code), data=body, content_type="application/json", **sign(body))

    assert response.status_code == 413
    assert response.json() == {"error": "request body too large (limit 50000 bytes)"}


def test_a_refused_delivery_with_nul_bytes_and_invalid_utf8_is_kept_readable(client, company):
    url, _sign = ENDPOINTS[Provider.REVOLUT]
    body = b'{"event": "Transaction\x00Created", "x": "\xff\xfe"}'

    response = client.post(url(company.code), data=body, content_type="application/json")

    assert response.status_code == 401
    kept = WebhookDelivery.objects.get(provider=Provider.REVOLUT)
    assert (kept.status, kept.verified) == ("rejected", False)
    assert kept.body == '{"event": "Transaction\ufffdCreated", "x": "\ufffd\ufffd"}'


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    provider=st.sampled_from(list(ENDPOINTS)),
    body=st.one_of(
        st.binary(max_size=2000),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
            lambda children: (
                st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
            ),
            max_leaves=20,
        ).map(lambda value: json.dumps(value).encode()),
    ),
    signed=st.booleans(),
)
def test_fuzzed_bodies_never_get_a_server_error(client, company, provider, body, signed):
    url, sign = ENDPOINTS[provider]
    response = client.post(
        url(company.code), data=body, content_type="application/json", **(sign(body) if signed else {})
    )
    assert response.status_code < 500, (provider, body[:80], response.status_code)


def test_an_unknown_company_or_connection_is_a_404_and_a_nul_in_the_address_a_400(client, company):
    Connection.objects.filter(company=company, provider=Provider.MAUTIC).delete()
    json_body = {"data": b"{}", "content_type": "application/json"}

    assert client.post(reverse("integrations:webhook-mautic", args=["HX"]), **json_body).status_code == 404
    assert client.post(reverse("integrations:webhook-revolut", args=["ZZ"]), **json_body).status_code == 404
    refused = client.post(reverse("integrations:webhook-revolut", args=["ZZ\x00"]), **json_body)
    assert (refused.status_code, refused.content) == (400, b"NUL character in the address")
    assert client.get("/invoices/?search=a%00b").status_code == 400


def test_a_flood_of_refused_requests_is_counted_beyond_the_hourly_cap_not_stored(client, company, settings):
    settings.HV_WEBHOOK_REFUSED_KEPT_PER_HOUR = 3
    url = ENDPOINTS[Provider.REVOLUT][0](company.code)
    old = WebhookDelivery.objects.create(provider=Provider.REVOLUT, company=company, status="rejected", error="old")
    WebhookDelivery.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(hours=2))

    answers = {client.post(url, data=b'{"n": %d}' % n, content_type="application/json").status_code for n in range(10)}
    mautic = client.post(ENDPOINTS[Provider.MAUTIC][0](company.code), data=b"{}", content_type="application/json")

    assert (answers, mautic.status_code) == ({401}, 401)
    kept = WebhookDelivery.objects.filter(provider=Provider.REVOLUT, company=company).order_by("pk")
    assert [(row.body, row.duplicates) for row in kept] == [
        ("", 0), ('{"n": 0}', 0), ('{"n": 1}', 0), ('{"n": 2}', 7)
    ]  # fmt: skip
    assert WebhookDelivery.objects.filter(provider=Provider.MAUTIC).count() == 1
