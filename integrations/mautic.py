"""A company's Mautic connection: its settings, the authenticated client, the probe and the webhook.

Mautic accepts Basic auth (a Mautic user) or OAuth2 client credentials (research/api-contracts.md §3.1);
both are supported. An OAuth2 access token is kept encrypted on the connection with its expiry and a new
one is asked for shortly before it ends, under a Redis lock, so that parallel workers ask once.
Mautic signs its webhooks with the secret the Hub gives it when registering: `Webhook-Signature` is the
base64 HMAC-SHA256 of the raw body (§3.3).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from finance.models import Company
from finance.services.audit import audit_record
from integrations.clients import mautic
from integrations.clients.base import ProviderError
from integrations.connections import (
    access_token_store,
    connection_for_update,
    fresh_access_token,
    outcome_recorder,
    status_probe,
)
from integrations.models import MAUTIC_AUTH_BASIC, MAUTIC_AUTH_OAUTH2, Connection, Provider

SUBSCRIBED_EVENTS = (
    mautic.WebhookEvent.EMAIL_ON_SEND, mautic.WebhookEvent.EMAIL_ON_OPEN, mautic.WebhookEvent.LEAD_POST_SAVE_UPDATE,
)  # fmt: skip
WEBHOOK_NAME = "HYPERVISUAL Hub"
# The languages a client can have, in the order a missing template falls back through.
ACKNOWLEDGEMENT_LANGUAGES = ("fr", "de", "en", "it")


def webhook_url(company: Company) -> str:
    return settings.HV_PUBLIC_URL + reverse("integrations:webhook-mautic", kwargs={"company_code": company.code})


@transaction.atomic
def settings_save(
    *, company: Company, base_url: str, auth_method: str, username: str, password: str, client_id: str,
    client_secret: str, updated_by: AbstractBaseUser,
) -> Connection:  # fmt: skip
    """Store the Mautic address and credentials; a blank password or client secret keeps the stored one."""
    connection = connection_for_update(company, Provider.MAUTIC)
    connection.base_url = base_url.strip().rstrip("/").removesuffix("/api")
    if auth_method == MAUTIC_AUTH_OAUTH2:
        if not client_id.strip():
            raise ValidationError({"client_id": _("Give the client ID of the API credentials created in Mautic.")})
        if client_secret.strip():
            connection.set_secrets(client_secret=client_secret.strip())
        elif not connection.secret("client_secret") or connection.config.get("client_id") != client_id.strip():
            raise ValidationError({"client_secret": _("Paste the client secret of these API credentials.")})
        connection.config = {**connection.config, "auth_method": MAUTIC_AUTH_OAUTH2, "client_id": client_id.strip()}
    else:
        if not username.strip():
            raise ValidationError({"username": _("Give the Mautic user the Hub signs in as.")})
        if password:
            connection.set_secrets(password=password)
        elif not connection.secret("password") or connection.config.get("username") != username.strip():
            raise ValidationError({"password": _("Give this Mautic user's password.")})
        connection.config = {**connection.config, "auth_method": MAUTIC_AUTH_BASIC, "username": username.strip()}
    # Whatever changed, a cached token belongs to the previous credentials.
    connection.set_secrets(access_token=None)
    connection.config.pop("access_token_expires_at", None)
    if not connection.secret("webhook_secret"):
        connection.set_secrets(webhook_secret=secrets.token_urlsafe(32))
    connection.full_clean()
    connection.save()
    audit_record(
        actor=updated_by, company=company, action="connection.updated", target=connection,
        changes={"provider": Provider.MAUTIC, "base_url": connection.base_url, "auth_method": auth_method,
                 "secret_replaced": bool(password or client_secret.strip())},
    )  # fmt: skip
    return connection


def _client(connection: Connection, **auth) -> mautic.MauticClient:
    return mautic.MauticClient(
        connection.base_url, scope=connection.company.code, on_outcome=outcome_recorder(connection), **auth
    )


def _token_renew(connection: Connection) -> str:
    grant = _client(connection).token_client_credentials(
        connection.config.get("client_id", ""), connection.secret("client_secret")
    )
    access_token_store(connection, grant.access_token, grant.expires_in)
    connection.save(update_fields=["secrets_encrypted", "config"])
    return grant.access_token


def mautic_client(connection: Connection) -> mautic.MauticClient:
    if connection.config.get("auth_method") == MAUTIC_AUTH_OAUTH2:
        return _client(connection, access_token=fresh_access_token(connection, _token_renew))
    return _client(connection, username=connection.config.get("username", ""), password=connection.secret("password"))


@status_probe(Provider.MAUTIC)
def probe(connection: Connection) -> tuple[bool, str]:
    """A real call (the template e-mails) and a look at the webhook, stored for the settings page."""
    try:
        client = mautic_client(connection)
        templates = [email for email in client.emails() if email.email_type == "template"]
        hook = _our_hook(connection, client.hooks())
    except ProviderError as error:
        return False, error.message
    _store_webhook_state(connection, hook)
    return True, _("%(templates)s template e-mail(s); webhook %(webhook)s.") % {
        "templates": len(templates), "webhook": _("registered") if hook else _("not registered"),
    }  # fmt: skip


def _our_hook(connection: Connection, hooks: list[mautic.Hook]) -> mautic.Hook | None:
    url = webhook_url(connection.company)
    return next((hook for hook in hooks if hook.webhook_url == url), None)


def _store_webhook_state(connection: Connection, hook: mautic.Hook | None) -> None:
    state = {
        "checked_at": timezone.now().isoformat(), "hook_id": hook.id if hook else None,
        "events": sorted(set(hook.triggers) & set(SUBSCRIBED_EVENTS)) if hook else [],
    }  # fmt: skip
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        locked.config = {**locked.config, "webhook_state": state}
        locked.save(update_fields=["config"])
    connection.config = {**connection.config, "webhook_state": state}


def webhooks_register(*, connection: Connection, registered_by: AbstractBaseUser) -> Connection:
    """One Mautic webhook for the company's URL with the events and the secret: updated if it exists, never doubled."""
    client = mautic_client(connection)
    fields = {
        "name": f"{WEBHOOK_NAME} {connection.company.code}", "webhook_url": webhook_url(connection.company),
        "secret": connection.secret("webhook_secret"), "triggers": [str(event) for event in SUBSCRIBED_EVENTS],
    }  # fmt: skip
    existing = _our_hook(connection, client.hooks())
    hook = client.hook_update(existing.id, **fields) if existing else client.hook_create(**fields)
    _store_webhook_state(connection, hook)
    audit_record(
        actor=registered_by, company=connection.company, action="connection.webhook_registered", target=connection,
        changes={"provider": Provider.MAUTIC, "events": fields["triggers"]},
    )  # fmt: skip
    return connection


def webhook_signature_valid(connection: Connection, raw_body: bytes, presented: str) -> bool:
    return mautic.signature_valid(raw_body, presented, connection.secret("webhook_secret"))


def acknowledgement_emails(connection: Connection | None) -> dict[str, int]:
    """The "project started" template e-mail chosen per client language (Mautic e-mail ids)."""
    chosen = (connection.config.get("acknowledgement_emails") if connection else None) or {}
    return {language: int(chosen[language]) for language in ACKNOWLEDGEMENT_LANGUAGES if chosen.get(language)}


def acknowledgement_email_for(connection: Connection, language: str) -> int | None:
    """The template for a client of this language; else the first chosen in French, German, English, Italian."""
    chosen = acknowledgement_emails(connection)
    return chosen.get(language) or next(iter(chosen.values()), None)


@transaction.atomic
def acknowledgement_emails_save(
    *, connection: Connection, emails: dict[str, int | None], updated_by: AbstractBaseUser
) -> Connection:
    """Choose the "project started" template e-mail per language; a blank language falls back to another."""
    connection = Connection.objects.select_for_update().select_related("company").get(pk=connection.pk)
    chosen = {language: int(emails[language]) for language in ACKNOWLEDGEMENT_LANGUAGES if emails.get(language)}
    before = acknowledgement_emails(connection)
    connection.config = {**connection.config, "acknowledgement_emails": chosen}
    connection.save(update_fields=["config"])
    if before != chosen:
        audit_record(actor=updated_by, company=connection.company, action="connection.updated", target=connection,
                     changes={"provider": Provider.MAUTIC, "acknowledgement_emails": chosen})  # fmt: skip
    return connection
