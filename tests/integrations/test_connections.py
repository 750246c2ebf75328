"""Connections: their status, Revolut's settings (secrets encrypted), consent, tokens refreshed once, probe, webhook.

The helpers at the top build a connected Revolut connection; the other integration and banking tests use them.
"""

import datetime as dt
import json
import threading
import time
import zoneinfo
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import responses
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import connection as db_connection
from django.db import connections as db_connections
from django.utils import timezone, translation

from finance.models import AuditEvent, Role
from integrations import connections
from integrations import revolut as revolut_integration
from integrations.clients.base import PermanentProviderError, TransientProviderError
from integrations.health import redis_client
from integrations.models import Connection, Provider
from integrations.resilience import FAILURE_THRESHOLD, CircuitBreaker
from integrations.revolut import ConsentRequired
from integrations.selectors import connection_status

BASE = "https://b2b.revolut.com/api/1.0"
TOKEN_URL = f"{BASE}/auth/token"
WEBHOOKS_URL = "https://b2b.revolut.com/api/2.0/webhooks"
CLIENT_ID = "hub-client-id-123"
# One key pair for the whole run: generating RSA keys is slow.
PRIVATE_KEY, CERTIFICATE = revolut_integration.revolut_keypair_generate("t")
SIGNING_SECRET = "wsk_r59a4HfWVAKycbCaNO1RvgCJec02gRd8"
ZURICH = zoneinfo.ZoneInfo("Europe/Zurich")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def revolut_connection(
    company, *, expires_in=dt.timedelta(minutes=30), signing_secrets=SIGNING_SECRET, **fields
) -> Connection:
    """A Revolut connection that works: consented, a fresh access token, a signing secret, a recent success."""
    now = timezone.now()
    fields.setdefault("consent_granted_at", now)
    fields.setdefault("last_success_at", now)
    connection = Connection(
        company=company, provider=Provider.REVOLUT, base_url=BASE,
        config={"client_id": CLIENT_ID, "access_token_expires_at": (now + expires_in).isoformat()}, **fields,
    )  # fmt: skip
    connection.set_secrets(
        private_key=PRIVATE_KEY, access_token="tok", refresh_token="ref", webhook_signing_secrets=signing_secrets
    )
    connection.save()
    return connection


def form_of(call) -> dict[str, str]:
    """The form-encoded body a mocked call received, one value per field."""
    return {name: values[0] for name, values in parse_qs(call.request.body).items()}


def public_key_of(private_pem: str):
    return serialization.load_pem_private_key(private_pem.encode(), password=None).public_key()


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def admin(company_a, member_of):
    return member_of(company_a, Role.FINANCE, "conn-admin")


# --- Status -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_status_of_a_missing_or_empty_connection_is_not_configured(company_a):
    empty = Connection.objects.create(company=company_a, provider=Provider.REVOLUT, base_url=BASE)

    for connection in (None, empty):
        status = connection_status(connection)
        assert (status.code, status.label, status.usable) == ("not_configured", "Not configured", False)


@pytest.mark.django_db
def test_status_asks_for_consent_when_revoked_or_never_granted(company_a, company_b):
    revoked = revolut_connection(company_a, consent_required=True)
    never = revolut_connection(company_b, consent_granted_at=None)

    for connection in (revoked, never):
        status = connection_status(connection)
        assert (status.code, status.label, status.usable) == ("consent_required", "Consent required", False)


@pytest.mark.django_db
def test_status_is_connected_after_a_successful_call(company_a):
    success = dt.datetime(2026, 11, 20, 9, 30, tzinfo=ZURICH)
    status = connection_status(revolut_connection(company_a, last_success_at=success))

    assert (status.code, status.label, status.detail, status.usable) == (
        "connected", "Connected", "Last successful call 20.11.2026 09:30.", True,
    )  # fmt: skip


@pytest.mark.django_db
def test_status_is_down_when_the_last_call_failed_or_nothing_was_tried(company_a, company_b):
    now = timezone.now()
    failed = revolut_connection(
        company_a, last_success_at=now - dt.timedelta(minutes=5), last_failure_at=now,
        last_failure_detail="revolut: Service Unavailable (HTTP 503)",
    )  # fmt: skip
    untested = revolut_connection(company_b, last_success_at=None)

    status = connection_status(failed)
    assert (status.code, status.label, status.detail, status.usable) == (
        "down", "Down", "revolut: Service Unavailable (HTTP 503)", False,
    )  # fmt: skip
    assert (connection_status(untested).code, connection_status(untested).label) == (
        "down", "Not tested",
    )  # fmt: skip


@pytest.mark.django_db
def test_a_successful_probe_counts_as_a_success(company_a):
    now = timezone.now()
    connection = revolut_connection(
        company_a, last_success_at=None, last_probe_at=now, last_probe_ok=True,
        last_failure_at=now - dt.timedelta(hours=1),
    )  # fmt: skip

    assert connection_status(connection).code == "connected"


@pytest.mark.django_db
def test_status_is_degraded_while_the_circuit_is_open(company_a):
    connection = revolut_connection(company_a)
    breaker = CircuitBreaker(Provider.REVOLUT, company_a.code)
    for _ in range(FAILURE_THRESHOLD):
        breaker.record_failure()

    status = connection_status(connection)
    assert (status.code, status.label, status.usable) == ("degraded", "Degraded", True)
    assert status.detail.startswith("Calls paused until ")


@pytest.mark.django_db
def test_status_warns_of_a_consent_ending_within_seven_days(company_a, company_b):
    ending = dt.datetime(2026, 11, 25, 12, 0, tzinfo=ZURICH)
    soon = revolut_connection(company_a, consent_expires_at=ending)
    later = revolut_connection(company_b, consent_expires_at=timezone.now() + dt.timedelta(days=30))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(connections.timezone, "now", lambda: ending - dt.timedelta(days=3))
        status = connection_status(soon)
    assert (status.code, status.label, status.detail) == (
        "degraded",
        "Consent expiring",
        "Renew the consent before 25.11.2026.",
    )
    assert connection_status(later).code == "connected"


# --- Settings -----------------------------------------------------------------------------------


def save_settings(company, user, **overrides):
    values = {
        "base_url": BASE + "/", "consent_url": "https://business.revolut.com/app-confirm",
        "client_id": f" {CLIENT_ID} ", "private_key": PRIVATE_KEY, "generate_key": False,
    }  # fmt: skip
    return revolut_integration.revolut_settings_save(company=company, updated_by=user, **{**values, **overrides})


@pytest.mark.django_db
def test_settings_store_the_private_key_encrypted_and_ask_for_consent(company_a, admin):
    connection = save_settings(company_a, admin)

    with db_connection.cursor() as cursor:
        cursor.execute(
            "SELECT secrets_encrypted, config::text FROM integrations_connection WHERE id = %s", [connection.pk]
        )
        stored, config = cursor.fetchone()
    key_body = PRIVATE_KEY.splitlines()[1]
    assert stored
    assert "PRIVATE KEY" not in stored
    assert key_body not in stored
    assert "PRIVATE KEY" not in config
    assert key_body not in config
    connection = Connection.objects.get(pk=connection.pk)
    assert connection.secret("private_key") == PRIVATE_KEY.strip()
    assert (connection.base_url, connection.config["client_id"], connection.config["consent_url"]) == (
        BASE, CLIENT_ID, "https://business.revolut.com/app-confirm",
    )  # fmt: skip
    assert (connection.consent_required, connection.consent_granted_at) == (True, None)
    assert connection_status(connection).code == "consent_required"
    event = AuditEvent.objects.get(action="connection.updated")
    assert (event.actor, event.company, event.changes["client_id"], event.changes["key_replaced"]) == (
        admin, company_a, CLIENT_ID, True,
    )  # fmt: skip
    assert PRIVATE_KEY.splitlines()[1] not in json.dumps(event.changes)


@pytest.mark.django_db
def test_generate_key_stores_a_new_key_and_its_certificate(company_a, admin):
    connection = save_settings(company_a, admin, private_key="", generate_key=True)

    certificate = x509.load_pem_x509_certificate(revolut_integration.revolut_certificate(connection).encode())
    stored_key = connection.secret("private_key")
    assert stored_key.startswith("-----BEGIN PRIVATE KEY-----")
    assert stored_key != PRIVATE_KEY
    assert certificate.public_key() == public_key_of(stored_key)
    assert certificate.subject.rfc4514_string() == "CN=HYPERVISUAL Hub QA"
    assert (
        certificate.not_valid_after_utc - certificate.not_valid_before_utc
    ).days == revolut_integration.CERTIFICATE_DAYS


@pytest.mark.parametrize(
    ("private_key", "message"),
    [
        (
            "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----",
            "This is not an unencrypted PEM private key.",
        ),
        (
            ec.generate_private_key(ec.SECP256R1())
            .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            .decode(),
            "Revolut needs an RSA key.",
        ),
        ("", "Paste the private key whose certificate you uploaded, or generate one."),
    ],
    ids=["garbage", "ec-key", "none"],
)
@pytest.mark.django_db
def test_settings_refuse_a_key_revolut_cannot_use(company_a, admin, private_key, message):
    with pytest.raises(ValidationError) as refused:
        save_settings(company_a, admin, private_key=private_key)

    assert refused.value.message_dict == {"private_key": [message]}
    assert not Connection.objects.exists()


@pytest.mark.django_db
def test_saving_without_a_new_key_keeps_key_and_tokens(company_a, admin):
    connection = revolut_connection(company_a)

    saved = save_settings(company_a, admin, private_key="")

    assert saved.pk == connection.pk
    assert (saved.secret("private_key"), saved.secret("access_token"), saved.secret("refresh_token")) == (
        PRIVATE_KEY, "tok", "ref",
    )  # fmt: skip
    assert (saved.consent_required, saved.consent_granted_at) == (False, connection.consent_granted_at)


@pytest.mark.django_db
def test_another_client_id_drops_the_tokens_and_needs_a_new_consent(company_a, admin):
    revolut_connection(company_a)

    saved = save_settings(company_a, admin, private_key="", client_id="another-app")

    assert (saved.secret("private_key"), saved.secret("access_token"), saved.secret("refresh_token")) == (
        PRIVATE_KEY, "", "",
    )  # fmt: skip
    assert saved.secret("webhook_signing_secrets") == SIGNING_SECRET
    assert (saved.consent_required, saved.consent_granted_at) == (True, None)


# --- Consent ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_consent_link_carries_client_redirect_and_a_signed_state(company_a, admin, settings):
    settings.HV_PUBLIC_URL = "https://hub.example.ch"
    connection = save_settings(company_a, admin)

    link = urlsplit(revolut_integration.revolut_consent_link(connection, user=admin))

    assert (link.scheme, link.netloc, link.path) == ("https", "business.revolut.com", "/app-confirm")
    query = {name: values[0] for name, values in parse_qs(link.query).items()}
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == "https://hub.example.ch/integrations/revolut/oauth/callback/"
    assert query["response_type"] == "code"
    assert signing.loads(query["state"], salt=revolut_integration.CONSENT_SALT) == {
        "connection": connection.pk,
        "user": admin.pk,
    }
    assert revolut_integration.revolut_consent_connection(query["state"], user=admin) == connection


@pytest.mark.django_db
def test_consent_link_of_a_base_url_without_the_page(company_a, admin):
    connection = save_settings(company_a, admin, consent_url="https://sandbox-business.revolut.com/")

    link = urlsplit(revolut_integration.revolut_consent_link(connection, user=admin))

    assert (link.netloc, link.path) == ("sandbox-business.revolut.com", "/app-confirm")


@pytest.mark.django_db
def test_consent_state_of_another_user_tampered_or_expired_is_refused(company_a, admin, member_of, monkeypatch):
    connection = revolut_connection(company_a)
    state = parse_qs(urlsplit(revolut_integration.revolut_consent_link(connection, user=admin)).query)["state"][0]
    other = member_of(company_a, Role.CEO, "other-admin")

    with pytest.raises(ValidationError) as foreign:
        revolut_integration.revolut_consent_connection(state, user=other)
    with pytest.raises(ValidationError) as tampered:
        revolut_integration.revolut_consent_connection(
            state[:-2] + ("AA" if not state.endswith("AA") else "BB"), user=admin
        )
    monkeypatch.setattr(revolut_integration, "CONSENT_STATE_MAX_AGE", -1)
    with pytest.raises(ValidationError) as expired:
        revolut_integration.revolut_consent_connection(state, user=admin)

    assert foreign.value.messages == ["This authorisation was started by another user; start again."]
    assert tampered.value.messages == ["This authorisation link is invalid or expired; start again."]
    assert expired.value.messages == ["This authorisation link is invalid or expired; start again."]


@pytest.mark.django_db
def test_consent_complete_exchanges_the_code_for_tokens(company_a, admin, http, settings):
    settings.HV_PUBLIC_URL = "https://hub.example.ch"
    connection = save_settings(company_a, admin)
    connection.config = {**connection.config, "consent_days": 90}
    connection.save()
    http.post(TOKEN_URL, json={
        "access_token": "oa_prod_access", "token_type": "bearer", "expires_in": 2399,
        "refresh_token": "oa_prod_refresh",
    })  # fmt: skip
    before = timezone.now()

    connection = revolut_integration.revolut_consent_complete(connection=connection, code="oa_prod_code", user=admin)

    form = form_of(http.calls[0])
    assert set(form) == {"grant_type", "code", "client_assertion_type", "client_assertion"}
    assert (form["grant_type"], form["code"], form["client_assertion_type"]) == (
        "authorization_code", "oa_prod_code", ASSERTION_TYPE,
    )  # fmt: skip
    assert "Authorization" not in http.calls[0].request.headers
    claims = jwt.decode(
        form["client_assertion"], public_key_of(PRIVATE_KEY), algorithms=["RS256"], audience="https://revolut.com"
    )
    assert (claims["iss"], claims["sub"]) == ("hub.example.ch", CLIENT_ID)
    assert jwt.get_unverified_header(form["client_assertion"]) == {"alg": "RS256", "typ": "JWT"}
    stored = Connection.objects.get(pk=connection.pk)
    assert (stored.secret("access_token"), stored.secret("refresh_token")) == ("oa_prod_access", "oa_prod_refresh")
    expires = dt.datetime.fromisoformat(stored.config["access_token_expires_at"])
    assert before + dt.timedelta(seconds=2399) <= expires <= timezone.now() + dt.timedelta(seconds=2399)
    assert (stored.consent_required, stored.consent_granted_at is not None) == (False, True)
    assert before + dt.timedelta(days=90) <= stored.consent_expires_at <= timezone.now() + dt.timedelta(days=90)
    assert AuditEvent.objects.filter(action="connection.consent_granted", actor=admin, company=company_a).count() == 1


@pytest.mark.django_db
def test_a_refused_consent_code_changes_nothing(company_a, admin, http):
    connection = save_settings(company_a, admin)
    http.post(TOKEN_URL, status=400, json={"error": "invalid_grant", "error_description": "Code expired"})

    with pytest.raises(PermanentProviderError) as refused:
        revolut_integration.revolut_consent_complete(connection=connection, code="old", user=admin)

    assert refused.value.message == "Code expired (invalid_grant)"
    stored = Connection.objects.get(pk=connection.pk)
    assert (stored.consent_required, stored.secret("access_token")) == (True, "")


# --- Access token -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_fresh_token_is_used_without_calling_revolut(company_a, http):
    connection = revolut_connection(company_a, expires_in=dt.timedelta(minutes=6))

    assert revolut_integration.revolut_access_token(connection) == "tok"
    assert len(http.calls) == 0


@pytest.mark.django_db
def test_a_token_within_five_minutes_of_its_end_is_refreshed_once(company_a, http):
    connection = revolut_connection(company_a, expires_in=dt.timedelta(minutes=4))
    http.post(TOKEN_URL, json={"access_token": "oa_new", "token_type": "bearer", "expires_in": 2399})
    before = timezone.now()

    assert revolut_integration.revolut_access_token(connection) == "oa_new"
    assert revolut_integration.revolut_access_token(connection) == "oa_new"

    assert len(http.calls) == 1
    form = form_of(http.calls[0])
    assert (form["grant_type"], form["refresh_token"], form["client_assertion_type"]) == (
        "refresh_token", "ref", ASSERTION_TYPE,
    )  # fmt: skip
    jwt.decode(
        form["client_assertion"], public_key_of(PRIVATE_KEY), algorithms=["RS256"], audience="https://revolut.com"
    )
    stored = Connection.objects.get(pk=connection.pk)
    assert (stored.secret("access_token"), stored.secret("refresh_token")) == ("oa_new", "ref")
    expires = dt.datetime.fromisoformat(stored.config["access_token_expires_at"])
    assert before + dt.timedelta(seconds=2399) <= expires <= timezone.now() + dt.timedelta(seconds=2399)


@pytest.mark.django_db
def test_a_caller_waiting_for_the_lock_uses_the_token_the_holder_refreshed(company_a, http):
    stale = revolut_connection(company_a, expires_in=dt.timedelta(minutes=1))
    # Another process holds the lock and has already stored a fresh token; this one still sees the old row.
    refreshed = Connection.objects.get(pk=stale.pk)
    refreshed.set_secrets(access_token="refreshed-by-the-other")
    refreshed.config["access_token_expires_at"] = (timezone.now() + dt.timedelta(minutes=40)).isoformat()
    refreshed.save()
    lock = redis_client().lock(f"hv:revolut:token-refresh:{stale.pk}", timeout=30, thread_local=False)
    assert lock.acquire(blocking=False)
    releaser = threading.Timer(0.3, lock.release)
    started = time.monotonic()
    releaser.start()

    token = revolut_integration.revolut_access_token(stale)

    releaser.join()
    assert time.monotonic() - started >= 0.3
    assert token == "refreshed-by-the-other"
    assert len(http.calls) == 0


@pytest.mark.django_db
def test_a_lock_never_freed_in_time_is_a_transient_error(company_a, http, monkeypatch):
    connection = revolut_connection(company_a, expires_in=dt.timedelta(minutes=1))
    lock = redis_client().lock(f"hv:revolut:token-refresh:{connection.pk}", timeout=30)
    assert lock.acquire(blocking=False)
    monkeypatch.setattr(connections, "TOKEN_LOCK_WAIT_SECONDS", 0.2)
    try:
        with pytest.raises(TransientProviderError) as waited:
            revolut_integration.revolut_access_token(connection)
    finally:
        lock.release()

    assert waited.value.message == "Another process is refreshing the Revolut Business token."
    assert len(http.calls) == 0


@pytest.mark.django_db(transaction=True)
def test_two_processes_needing_a_new_token_refresh_it_once(company_a, http):
    connection = revolut_connection(company_a, expires_in=dt.timedelta(minutes=2))

    def slow_token(request):
        time.sleep(0.3)  # the other caller arrives meanwhile and must wait for the lock
        return 200, {}, json.dumps({"access_token": "oa_once", "token_type": "bearer", "expires_in": 2399})

    http.add_callback(responses.POST, TOKEN_URL, callback=slow_token)
    tokens, errors = [], []

    def caller():
        try:
            tokens.append(
                revolut_integration.revolut_access_token(
                    Connection.objects.select_related("company").get(pk=connection.pk)
                )
            )
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            db_connections.close_all()

    threads = [threading.Thread(target=caller) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert tokens == ["oa_once", "oa_once"]
    assert len(http.calls) == 1


@pytest.mark.django_db
def test_a_refused_refresh_marks_the_connection_for_consent(company_a, http):
    connection = revolut_connection(company_a, expires_in=dt.timedelta(minutes=1))
    http.post(TOKEN_URL, status=400, json={"error": "invalid_grant", "error_description": "Refresh token revoked"})

    with pytest.raises(ConsentRequired) as lost:
        revolut_integration.revolut_access_token(connection)

    assert lost.value.message == (
        "Revolut refused the grant: authorise the Hub again (Refresh token revoked (invalid_grant))."
    )
    stored = Connection.objects.get(pk=connection.pk)
    assert (stored.consent_required, stored.last_failure_detail) == (True, "Refresh token revoked (invalid_grant)")
    assert connection_status(stored).code == "consent_required"
    with pytest.raises(ConsentRequired):
        revolut_integration.revolut_access_token(stored)
    assert len(http.calls) == 1


@pytest.mark.django_db
def test_a_connection_needing_consent_gives_no_token(company_a, http):
    with pytest.raises(ConsentRequired) as refused:
        revolut_integration.revolut_access_token(revolut_connection(company_a, consent_required=True))

    assert refused.value.message == "Revolut is not authorised for Alpha."
    assert len(http.calls) == 0


# --- Probe and webhook registration -------------------------------------------------------------


ACCOUNTS = [
    {"id": "acc-chf", "name": "Main", "balance": 12500.5, "currency": "CHF", "state": "active", "public": False,
     "created_at": "2026-01-05T08:00:00.000000Z", "updated_at": "2026-11-20T08:00:00.000000Z"},
    {"id": "acc-eur", "name": "Euro", "balance": 800, "currency": "EUR", "state": "active", "public": False,
     "created_at": "2026-01-05T08:00:00.000000Z", "updated_at": "2026-11-20T08:00:00.000000Z"},
]  # fmt: skip


@pytest.mark.django_db
def test_probe_stores_what_revolut_answered(company_a, http):
    connection = revolut_connection(company_a)
    http.get(f"{BASE}/accounts", json=ACCOUNTS)

    probed = connections.connection_probe(connection)

    assert (probed.last_probe_ok, probed.last_probe_detail, probed.last_probe_at is not None) == (
        True, "2 account(s) readable.", True,
    )  # fmt: skip
    assert http.calls[0].request.headers["Authorization"] == "Bearer tok"


@pytest.mark.django_db
def test_probe_stores_a_refusal(company_a, http):
    connection = revolut_connection(company_a)
    http.get(f"{BASE}/accounts", status=401, json={"message": "The request should be authorized."})

    probed = connections.connection_probe(connection)

    assert (probed.last_probe_ok, probed.last_probe_detail) == (False, "The request should be authorized.")
    assert probed.last_failure_detail == "revolut: The request should be authorized. (HTTP 401)"
    assert connection_status(probed).code == "down"


@pytest.mark.django_db
def test_webhook_registration_replaces_ours_and_stores_the_signing_secret(company_a, admin, http, settings):
    settings.HV_PUBLIC_URL = "https://hub.example.ch"
    connection = revolut_connection(company_a, signing_secrets="wsk_old")
    url = "https://hub.example.ch/webhooks/revolut/QA/"
    http.get(WEBHOOKS_URL, json=[
        {"id": "wh-ours", "url": url, "events": ["TransactionCreated"]},
        {"id": "wh-foreign", "url": "https://elsewhere.example/hook", "events": ["TransactionCreated"]},
    ])  # fmt: skip
    http.delete(f"{WEBHOOKS_URL}/wh-ours", status=204)
    http.post(WEBHOOKS_URL, status=201, json={
        "id": "wh-new", "url": url, "events": ["TransactionCreated", "TransactionStateChanged"],
        "signing_secret": "wsk_fresh_secret_value",
    })  # fmt: skip

    registered = revolut_integration.revolut_webhook_register(connection=connection, registered_by=admin)

    assert [(call.request.method, call.request.url) for call in http.calls] == [
        ("GET", WEBHOOKS_URL), ("DELETE", f"{WEBHOOKS_URL}/wh-ours"), ("POST", WEBHOOKS_URL),
    ]  # fmt: skip
    assert json.loads(http.calls[2].request.body) == {
        "url": url, "events": ["TransactionCreated", "TransactionStateChanged"],
    }  # fmt: skip
    stored = Connection.objects.get(pk=registered.pk)
    assert stored.secret("webhook_signing_secrets") == "wsk_fresh_secret_value"
    assert revolut_integration.revolut_signing_secrets(stored) == ["wsk_fresh_secret_value"]
    assert (stored.config["webhook_id"], stored.config["webhook_url"], stored.config["client_id"]) == (
        "wh-new", url, CLIENT_ID,
    )  # fmt: skip
    assert "wsk_fresh" not in stored.secrets_encrypted
    event = AuditEvent.objects.get(action="connection.webhook_registered")
    assert (event.actor, event.changes) == (admin, {"provider": "revolut", "url": url})


@pytest.mark.django_db
def test_signing_secrets_being_rotated_are_all_accepted(company_a):
    connection = revolut_connection(company_a, signing_secrets="wsk_current,wsk_previous,")

    assert revolut_integration.revolut_signing_secrets(connection) == ["wsk_current", "wsk_previous"]
