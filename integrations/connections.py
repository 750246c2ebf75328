"""Connections to providers: credentials kept encrypted, the connection test, Revolut's OAuth and tokens."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Now
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from redis.exceptions import LockError

from finance.models import Company
from finance.services.audit import audit_record
from integrations.clients import revolut
from integrations.clients.base import (
    AuthorizationError,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)
from integrations.health import redis_client
from integrations.models import Connection, Provider
from integrations.resilience import CircuitBreaker

REVOLUT_PRODUCTION_URL = "https://b2b.revolut.com/api/1.0"
REVOLUT_CONSENT_URL = "https://business.revolut.com/app-confirm"
# Access tokens live 40 minutes; one this close to its end is refreshed before use, never sent.
TOKEN_REFRESH_MARGIN = dt.timedelta(minutes=5)
# A worker waits this long for another one refreshing the same token (a refresh invalidates the old one).
TOKEN_LOCK_WAIT_SECONDS = 20
# The lock frees itself after this long if its holder died mid-refresh.
TOKEN_LOCK_TIMEOUT_SECONDS = 30
# The consent callback must come back within this many seconds of the click (Revolut's code lives 2 min).
CONSENT_STATE_MAX_AGE = 15 * 60
# A consent ending within this many days is announced by a banner (Freelancer plans: 90-day grants).
CONSENT_WARNING_DAYS = 7
# Validity of the self-signed certificate generated for Revolut's API settings (Revolut's guide: 5 years).
CERTIFICATE_DAYS = 1825
CONSENT_SALT = "integrations.revolut.consent"


class ConsentRequired(PermanentProviderError):
    """Revolut no longer accepts the grant: someone must click "Autoriser" again."""


# --- Status ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionStatus:
    code: str  # connected, degraded, down, consent_required, not_configured
    label: str
    detail: str

    @property
    def usable(self) -> bool:
        return self.code in ("connected", "degraded")


def connection_status(connection: Connection | None) -> ConnectionStatus:
    """What the pages say about a connection: from its last real probe and calls, never from settings alone."""
    if connection is None or not connection.secrets_encrypted:
        return ConnectionStatus("not_configured", _("Not configured"), _("Enter the credentials and test them."))
    if connection.provider == Provider.WEB_FORM:
        # Nothing to call: the websites call the Hub. A secret is all it takes.
        return ConnectionStatus("connected", _("Ready"), _("Websites sign their posts with this company's secret."))
    if connection.provider == Provider.REVOLUT and (
        connection.consent_required or connection.consent_granted_at is None
    ):
        return ConnectionStatus(
            "consent_required", _("Consent required"), _("Authorise the Hub at Revolut to use this account.")
        )
    circuit = CircuitBreaker(connection.provider, connection.company.code).state()
    if circuit.is_open:
        return ConnectionStatus(
            "degraded", _("Degraded"), _("Calls paused until %(time)s after repeated failures.")
            % {"time": timezone.localtime(circuit.open_until).strftime("%H:%M")},
        )  # fmt: skip
    probe_ok_at = connection.last_probe_at if connection.last_probe_ok else None
    last_ok = max(filter(None, [connection.last_success_at, probe_ok_at]), default=None)
    if connection.last_failure_at and (last_ok is None or connection.last_failure_at > last_ok):
        return ConnectionStatus("down", _("Down"), connection.last_failure_detail)
    if last_ok is None:
        return ConnectionStatus("down", _("Not tested"), _("Run the connection test."))
    expiring = connection.consent_expires_at
    if expiring and expiring - timezone.now() < dt.timedelta(days=CONSENT_WARNING_DAYS):
        return ConnectionStatus(
            "degraded", _("Consent expiring"), _("Renew the consent before %(date)s.")
            % {"date": timezone.localtime(expiring).strftime("%d.%m.%Y")},
        )  # fmt: skip
    return ConnectionStatus("connected", _("Connected"), _("Last successful call %(time)s.")
                            % {"time": timezone.localtime(last_ok).strftime("%d.%m.%Y %H:%M")})  # fmt: skip


def connection_get(company: Company, provider: str) -> Connection | None:
    return Connection.objects.select_related("company").filter(company=company, provider=provider).first()


def connection_for_update(company: Company, provider: str) -> Connection:
    """The company's connection to the provider, row-locked for the caller's transaction, or a new unsaved one."""
    locked = Connection.objects.select_for_update().filter(company=company, provider=provider).first()
    return locked or Connection(company=company, provider=provider)


def _outcome_recorder(connection: Connection):
    """Remember each call's outcome on the connection, so the status reflects real traffic."""

    def record(ok: bool, detail: str) -> None:
        if ok:
            Connection.objects.filter(pk=connection.pk).update(last_success_at=Now())
        else:
            Connection.objects.filter(pk=connection.pk).update(last_failure_at=Now(), last_failure_detail=detail)

    return record


# --- Revolut settings -------------------------------------------------------------------------------


def revolut_redirect_uri() -> str:
    return settings.HV_PUBLIC_URL + reverse("integrations:revolut-oauth-callback")


def revolut_issuer() -> str:
    """The JWT issuer Revolut expects: the host of the redirect URI, without scheme or port."""
    return urlsplit(settings.HV_PUBLIC_URL).hostname or ""


def revolut_webhook_url(company: Company) -> str:
    return settings.HV_PUBLIC_URL + reverse("integrations:webhook-revolut", kwargs={"company_code": company.code})


def revolut_keypair_generate(common_name: str) -> tuple[str, str]:
    """A new RSA key and the self-signed X.509 certificate to upload in Revolut's API settings (PEM both)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=CERTIFICATE_DAYS)).sign(key, hashes.SHA256())
    )  # fmt: skip
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return private_pem, certificate.public_bytes(serialization.Encoding.PEM).decode()


def revolut_certificate(connection: Connection) -> str:
    return connection.config.get("certificate_pem", "")


def _check_private_key(pem: str) -> None:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValidationError({"private_key": _("This is not an unencrypted PEM private key.")}) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValidationError({"private_key": _("Revolut needs an RSA key.")})


@transaction.atomic
def revolut_settings_save(
    *, company: Company, base_url: str, consent_url: str, client_id: str, private_key: str, generate_key: bool,
    updated_by: AbstractBaseUser,
) -> Connection:  # fmt: skip
    """Store Revolut's settings; a blank private key keeps the stored one, `generate_key` makes a new pair."""
    connection = connection_for_update(company, Provider.REVOLUT)
    changed_client = connection.config.get("client_id") != client_id.strip()
    connection.base_url = base_url.strip().rstrip("/")
    connection.config = {**connection.config, "client_id": client_id.strip(), "consent_url": consent_url.strip()}
    private_key = private_key.strip()
    if generate_key:
        private_key, certificate = revolut_keypair_generate(f"HYPERVISUAL Hub {company.code}")
        connection.config["certificate_pem"] = certificate
    elif private_key:
        _check_private_key(private_key)
        connection.config.pop("certificate_pem", None)
    if private_key:
        connection.set_secrets(private_key=private_key)
    elif not connection.secret("private_key"):
        raise ValidationError(
            {"private_key": _("Paste the private key whose certificate you uploaded, or generate one.")}
        )
    if changed_client or private_key:
        # Tokens were granted to the previous application or key: a new consent is needed.
        connection.set_secrets(access_token=None, refresh_token=None)
        connection.consent_granted_at, connection.consent_required = None, True
    connection.full_clean()
    connection.save()
    audit_record(
        actor=updated_by, company=company, action="connection.updated", target=connection,
        changes={"provider": Provider.REVOLUT, "base_url": connection.base_url, "client_id": client_id.strip(),
                 "key_replaced": bool(private_key)},
    )  # fmt: skip
    return connection


# --- Revolut OAuth ------------------------------------------------------------------------------------


def _assertion(connection: Connection) -> str:
    return revolut.client_assertion(
        client_id=connection.config.get("client_id", ""), issuer=revolut_issuer(),
        private_key_pem=connection.secret("private_key"),
    )  # fmt: skip


def revolut_consent_link(connection: Connection, *, user: AbstractBaseUser) -> str:
    state = signing.dumps({"connection": connection.pk, "user": user.pk}, salt=CONSENT_SALT)
    # The setting names the page (…/app-confirm, as the form asks); the client appends "/app-confirm" to a base.
    page = connection.config.get("consent_url") or REVOLUT_CONSENT_URL
    return revolut.consent_url(
        page.rstrip("/").removesuffix("/app-confirm"), client_id=connection.config.get("client_id", ""),
        redirect_uri=revolut_redirect_uri(), state=state,
    )  # fmt: skip


def revolut_consent_connection(state: str, *, user: AbstractBaseUser) -> Connection:
    """The connection a consent callback belongs to, if the state is ours, recent and this user's."""
    try:
        payload = signing.loads(state, salt=CONSENT_SALT, max_age=CONSENT_STATE_MAX_AGE)
    except signing.BadSignature:
        raise ValidationError(_("This authorisation link is invalid or expired; start again.")) from None
    if payload.get("user") != user.pk:
        raise ValidationError(_("This authorisation was started by another user; start again."))
    return Connection.objects.select_related("company").get(pk=payload["connection"], provider=Provider.REVOLUT)


def _store_grant(connection: Connection, grant: revolut.TokenGrant) -> None:
    access_token_store(connection, grant.access_token, grant.expires_in)
    if grant.refresh_token:
        connection.set_secrets(refresh_token=grant.refresh_token)


def revolut_consent_complete(*, connection: Connection, code: str, user: AbstractBaseUser) -> Connection:
    """Exchange the consent code for tokens (the code lives two minutes: done at once, in the request)."""
    client = revolut.RevolutClient(connection.base_url, scope=connection.company.code,
                                   on_outcome=_outcome_recorder(connection))  # fmt: skip
    grant = client.exchange_code(code, assertion=_assertion(connection))
    with transaction.atomic():
        connection = Connection.objects.select_for_update().select_related("company").get(pk=connection.pk)
        _store_grant(connection, grant)
        connection.consent_granted_at, connection.consent_required = timezone.now(), False
        days = connection.config.get("consent_days")
        connection.consent_expires_at = timezone.now() + dt.timedelta(days=int(days)) if days else None
        connection.save()
        audit_record(actor=user, company=connection.company, action="connection.consent_granted",
                     target=connection, changes={"provider": Provider.REVOLUT})  # fmt: skip
    return connection


def _token_is_fresh(connection: Connection) -> bool:
    expires = connection.config.get("access_token_expires_at")
    return bool(expires and connection.secret("access_token")) and (
        dt.datetime.fromisoformat(expires) - timezone.now() > TOKEN_REFRESH_MARGIN
    )


def access_token_store(connection: Connection, access_token: str, expires_in: int) -> None:
    """Keep an access token (encrypted) with the moment it ends; the caller saves the connection."""
    connection.set_secrets(access_token=access_token)
    expires = timezone.now() + dt.timedelta(seconds=expires_in)
    connection.config = {**connection.config, "access_token_expires_at": expires.isoformat()}


def fresh_access_token(connection: Connection, renew: Callable[[Connection], str]) -> str:
    """The stored access token while it is fresh; else `renew(connection)` (which stores the new one and returns
    it), under a Redis lock so that only one process ever renews a connection's token at a time."""
    if _token_is_fresh(connection):
        return connection.secret("access_token")
    provider = Provider(connection.provider)
    lock = redis_client().lock(
        f"hv:{provider.value}:token-refresh:{connection.pk}", timeout=TOKEN_LOCK_TIMEOUT_SECONDS,
        blocking_timeout=TOKEN_LOCK_WAIT_SECONDS,
    )  # fmt: skip
    if not lock.acquire():
        # Transient: the action retries later and then finds the token the other process stored.
        raise TransientProviderError(provider.value, _("Another process is refreshing the %(provider)s token.")
                                     % {"provider": provider.label})  # fmt: skip
    try:
        # Another process may have renewed it while this one waited: its token is the valid one now.
        connection.refresh_from_db()
        if _token_is_fresh(connection):
            return connection.secret("access_token")
        return renew(connection)
    finally:
        # A lock that expired during a slow renewal cannot be released: the new token is stored all the same.
        with contextlib.suppress(LockError):
            lock.release()


def _consent_lost(connection: Connection, detail: str) -> ConsentRequired:
    Connection.objects.filter(pk=connection.pk).update(consent_required=True, last_failure_at=Now(),
                                                       last_failure_detail=detail[:300])  # fmt: skip
    return ConsentRequired(Provider.REVOLUT, _("Revolut refused the grant: authorise the Hub again (%(detail)s).")
                           % {"detail": detail})  # fmt: skip


def revolut_access_token(connection: Connection) -> str:
    """A valid access token, refreshed under a Redis lock so that only one process ever refreshes at a time."""
    if connection.consent_required or not connection.secret("refresh_token"):
        raise ConsentRequired(Provider.REVOLUT, _("Revolut is not authorised for %(company)s.")
                              % {"company": connection.company.name})  # fmt: skip
    return fresh_access_token(connection, _revolut_token_refresh)


def _revolut_token_refresh(connection: Connection) -> str:
    client = revolut.RevolutClient(connection.base_url, scope=connection.company.code,
                                   on_outcome=_outcome_recorder(connection))  # fmt: skip
    try:
        grant = client.refresh_access_token(connection.secret("refresh_token"), assertion=_assertion(connection))
    except AuthorizationError as error:
        raise _consent_lost(connection, error.message) from error
    except PermanentProviderError as error:
        if "invalid_grant" in error.message or error.status == 400:
            raise _consent_lost(connection, error.message) from error
        raise
    _store_grant(connection, grant)
    connection.save(update_fields=["secrets_encrypted", "config"])
    return grant.access_token


def revolut_client(connection: Connection) -> revolut.RevolutClient:
    """A client carrying a fresh access token; raises ConsentRequired when someone must authorise again."""
    token = revolut_access_token(connection)
    return revolut.RevolutClient(connection.base_url, scope=connection.company.code, access_token=token,
                                 on_outcome=_outcome_recorder(connection))  # fmt: skip


# --- Probe and webhook registration ------------------------------------------------------------------


def connection_probe(connection: Connection) -> Connection:
    """Call the provider for real (within the client's timeouts) and store what happened."""
    if connection.provider == Provider.INVOICE_NINJA:
        from integrations import invoice_ninja  # it builds on this module

        ok, detail = invoice_ninja.probe(connection)
    elif connection.provider == Provider.MAUTIC:
        from integrations import mautic  # it builds on this module

        ok, detail = mautic.probe(connection)
    elif connection.provider == Provider.OPENAI:
        from integrations import openai  # it builds on this module

        ok, detail = openai.probe(connection)
    elif connection.provider == Provider.DOCUSEAL:
        from integrations import docuseal  # it builds on this module

        ok, detail = docuseal.probe(connection)
    else:
        ok, detail = _revolut_probe(connection)
    Connection.objects.filter(pk=connection.pk).update(
        last_probe_at=Now(), last_probe_ok=ok, last_probe_detail=detail[:300]
    )
    connection.refresh_from_db()
    return connection


def _revolut_probe(connection: Connection) -> tuple[bool, str]:
    try:
        accounts = revolut_client(connection).accounts()
    except ProviderError as error:
        return False, error.message
    return True, _("%(count)s account(s) readable.") % {"count": len(accounts)}


def revolut_signing_secrets(connection: Connection) -> list[str]:
    """Every secret a valid delivery may be signed with: the current one first, then those being rotated out."""
    return [secret for secret in connection.secret("webhook_signing_secrets").split(",") if secret]


def revolut_webhook_register(*, connection: Connection, registered_by: AbstractBaseUser) -> Connection:
    """Register (or re-register) this company's webhook URL at Revolut and keep the signing secret it returns."""
    client = revolut_client(connection)
    url = revolut_webhook_url(connection.company)
    for existing in client.webhooks():
        if existing.url == url:
            client.webhook_delete(existing.id)
    registration = client.webhook_register(url)
    with transaction.atomic():
        connection = Connection.objects.select_for_update().select_related("company").get(pk=connection.pk)
        connection.set_secrets(webhook_signing_secrets=registration.signing_secret)
        connection.config = {**connection.config, "webhook_id": registration.id, "webhook_url": registration.url}
        connection.save(update_fields=["secrets_encrypted", "config"])
        audit_record(actor=registered_by, company=connection.company, action="connection.webhook_registered",
                     target=connection, changes={"provider": Provider.REVOLUT, "url": url})  # fmt: skip
    return connection
