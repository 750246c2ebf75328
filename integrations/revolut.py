"""Revolut Business as a connection: its settings, the OAuth consent, its tokens, its test and its webhook.

What Revolut's data does to the Hub (accounts, transactions, payouts) is finance.services.revolut.
"""

from __future__ import annotations

import datetime as dt
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

from finance.models import Company
from finance.services.audit import audit_record
from integrations.clients import revolut
from integrations.clients.base import AuthorizationError, PermanentProviderError, ProviderError
from integrations.connections import (
    access_token_store,
    connection_for_update,
    fresh_access_token,
    outcome_recorder,
    status_probe,
)
from integrations.models import Connection, Provider

REVOLUT_PRODUCTION_URL = "https://b2b.revolut.com/api/1.0"
REVOLUT_CONSENT_URL = "https://business.revolut.com/app-confirm"
# The consent callback must come back within this many seconds of the click (Revolut's code lives 2 min).
CONSENT_STATE_MAX_AGE = 15 * 60
# Validity of the self-signed certificate generated for Revolut's API settings (Revolut's guide: 5 years).
CERTIFICATE_DAYS = 1825
CONSENT_SALT = "integrations.revolut.consent"


class ConsentRequired(PermanentProviderError):
    """Revolut no longer accepts the grant: someone must click "Autoriser" again."""


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
                                   on_outcome=outcome_recorder(connection))  # fmt: skip
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
                                   on_outcome=outcome_recorder(connection))  # fmt: skip
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
                                 on_outcome=outcome_recorder(connection))  # fmt: skip


@status_probe(Provider.REVOLUT)
def probe(connection: Connection) -> tuple[bool, str]:
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
