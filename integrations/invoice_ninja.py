"""A company's Invoice Ninja connection: its settings, the API client, the probe and the webhook subscriptions.

Invoice Ninja does not sign webhooks. Each company gets a random secret that Invoice Ninja sends back as a
custom header on every delivery (research/api-contracts.md §1.5), and one URL per event id, since the
bodies do not say which event they are.
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
from finance.services.audit import audit_record, field_changes
from integrations.clients import invoice_ninja
from integrations.clients.base import ProviderError
from integrations.connections import connection_for_update, outcome_recorder, status_probe
from integrations.models import Connection, Provider

INVOICE_NINJA_HOSTED_URL = "https://invoicing.co"
# The custom header Invoice Ninja sends back with each delivery; compared in constant time on receipt.
WEBHOOK_SECRET_HEADER = "X-Webhook-Secret"  # noqa: S105 (a header name, not a secret)
# The events the Hub subscribes to: documents created, changed, sent; payments; quotes accepted in the portal.
SUBSCRIBED_EVENTS = (
    invoice_ninja.WebhookEvent.CREATE_INVOICE, invoice_ninja.WebhookEvent.UPDATE_INVOICE,
    invoice_ninja.WebhookEvent.SENT_INVOICE, invoice_ninja.WebhookEvent.CREATE_PAYMENT,
    invoice_ninja.WebhookEvent.CREATE_QUOTE, invoice_ninja.WebhookEvent.UPDATE_QUOTE,
    invoice_ninja.WebhookEvent.APPROVE_QUOTE, invoice_ninja.WebhookEvent.SENT_QUOTE,
)  # fmt: skip
EVENT_LABELS = {
    invoice_ninja.WebhookEvent.CREATE_INVOICE: "create_invoice",
    invoice_ninja.WebhookEvent.UPDATE_INVOICE: "update_invoice",
    invoice_ninja.WebhookEvent.SENT_INVOICE: "sent_invoice",
    invoice_ninja.WebhookEvent.CREATE_PAYMENT: "create_payment",
    invoice_ninja.WebhookEvent.CREATE_QUOTE: "create_quote",
    invoice_ninja.WebhookEvent.UPDATE_QUOTE: "update_quote",
    invoice_ninja.WebhookEvent.APPROVE_QUOTE: "approve_quote",
    invoice_ninja.WebhookEvent.SENT_QUOTE: "sent_quote",
}


def webhook_url(company: Company, event_id: int) -> str:
    path = reverse("integrations:webhook-invoice-ninja", kwargs={"company_code": company.code, "event_id": event_id})
    return settings.HV_PUBLIC_URL + path


def invoice_ninja_client(connection: Connection) -> invoice_ninja.InvoiceNinjaClient:
    return invoice_ninja.InvoiceNinjaClient(
        connection.base_url, token=connection.secret("api_token"), api_secret=connection.secret("api_secret"),
        scope=connection.company.code, on_outcome=outcome_recorder(connection),
    )  # fmt: skip


@transaction.atomic
def settings_save(
    *, company: Company, base_url: str, api_token: str, api_secret: str, signature_channel: str,
    updated_by: AbstractBaseUser,
) -> Connection:  # fmt: skip
    """Store the instance URL and token (a blank token keeps the stored one) and the company's signature channel."""
    connection = connection_for_update(company, Provider.INVOICE_NINJA)
    connection.base_url = base_url.strip().rstrip("/").removesuffix("/api/v1")
    if api_token.strip():
        connection.set_secrets(api_token=api_token.strip())
    elif not connection.secret("api_token"):
        raise ValidationError({"api_token": _("Paste an API token (Invoice Ninja → Settings → API tokens).")})
    if api_secret.strip():
        connection.set_secrets(api_secret=api_secret.strip())
    if not connection.secret("webhook_secret"):
        connection.set_secrets(webhook_secret=secrets.token_urlsafe(32))
    connection.full_clean()
    connection.save()
    before = {"signature_channel": company.signature_channel}
    company.signature_channel = signature_channel
    company.save(update_fields=["signature_channel"])
    changed = field_changes(before, {"signature_channel": signature_channel})
    if changed:
        audit_record(actor=updated_by, company=company, action="company.updated", target=company, changes=changed)
    audit_record(
        actor=updated_by, company=company, action="connection.updated", target=connection,
        changes={"provider": Provider.INVOICE_NINJA, "base_url": connection.base_url,
                 "token_replaced": bool(api_token.strip())},
    )  # fmt: skip
    return connection


@status_probe(Provider.INVOICE_NINJA)
def probe(connection: Connection) -> tuple[bool, str]:
    """A real call (the first client) and a look at the webhook subscriptions, stored for the settings page."""
    client = invoice_ninja_client(connection)
    try:
        page = client.page("/clients", per_page=1)
        state = webhooks_state(connection, client.webhooks())
    except ProviderError as error:
        return False, error.message
    Connection.objects.filter(pk=connection.pk).update(config={**connection.config, "webhook_state": state})
    registered = sum(1 for row in state["events"] if row["registered"])
    return True, _("%(clients)s client(s); %(registered)s of %(expected)s webhooks registered.") % {
        "clients": page.total, "registered": registered, "expected": len(SUBSCRIBED_EVENTS),
    }  # fmt: skip


def webhooks_state(connection: Connection, existing: list[invoice_ninja.Webhook]) -> dict:
    """Per subscribed event: is a webhook with this company's URL and secret header registered?"""
    rows = []
    for event in SUBSCRIBED_EVENTS:
        url = webhook_url(connection.company, event)
        match = next((hook for hook in existing if hook.target_url == url and hook.event_id == event), None)
        rows.append({
            "event_id": int(event), "event": EVENT_LABELS[event], "url": url, "webhook_id": match.id if match else "",
            "registered": bool(match and WEBHOOK_SECRET_HEADER in match.header_names),
        })  # fmt: skip
    return {"checked_at": timezone.now().isoformat(), "events": rows}


def webhooks_register(*, connection: Connection, registered_by: AbstractBaseUser) -> Connection:
    """Subscribe each event to its URL with the secret header; subscriptions of ours are updated, not doubled."""
    client = invoice_ninja_client(connection)
    secret = connection.secret("webhook_secret")
    headers = {WEBHOOK_SECRET_HEADER: secret}
    ours = f"{settings.HV_PUBLIC_URL}/webhooks/invoice-ninja/{connection.company.code}/"
    existing = client.webhooks()
    for event in SUBSCRIBED_EVENTS:
        url = webhook_url(connection.company, event)
        match = next((hook for hook in existing if hook.target_url == url and hook.event_id == event), None)
        if match:
            client.webhook_update(match.id, target_url=url, event_id=event, headers=headers)
        else:
            client.webhook_create(target_url=url, event_id=event, headers=headers)
    for hook in existing:
        # A subscription of ours to an event the Hub no longer follows would only be answered "ignored".
        if hook.target_url.startswith(ours) and hook.event_id not in SUBSCRIBED_EVENTS:
            client.webhook_delete(hook.id)
    state = webhooks_state(connection, client.webhooks())
    with transaction.atomic():
        connection = Connection.objects.select_for_update().select_related("company").get(pk=connection.pk)
        connection.config = {**connection.config, "webhook_state": state}
        connection.save(update_fields=["config"])
        audit_record(
            actor=registered_by, company=connection.company, action="connection.webhook_registered", target=connection,
            changes={"provider": Provider.INVOICE_NINJA, "events": [int(event) for event in SUBSCRIBED_EVENTS]},
        )  # fmt: skip
    return connection


def webhook_secret_matches(connection: Connection, presented: str) -> bool:
    expected = connection.secret("webhook_secret")
    return bool(expected and presented) and secrets.compare_digest(expected.encode(), presented.encode())
