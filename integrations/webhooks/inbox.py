"""The webhook inbox every provider's view writes to: store once, process in Celery, replay on demand.

A provider view verifies the request exactly as the provider signs it, then calls `delivery_accept`
(or `delivery_reject`). Processing runs after the commit, in a worker, through the handler the
provider registered with `@delivery_handler`; it must be idempotent, since a replay runs it again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from finance.services.audit import audit_record
from integrations.clients.base import ProviderError
from integrations.models import WebhookDelivery

logger = logging.getLogger("integrations.webhooks")

# Headers never stored: they carry credentials (ours or the provider's) rather than facts about the event.
SECRET_HEADERS = frozenset({"authorization", "cookie", "x-api-token", "x-api-key", "x-hub-secret", "x-webhook-secret"})
# Stored bodies are cut at this many characters: enough for any provider event, bounded for junk posts.
MAX_STORED_BODY = 200_000
# Refused requests are kept per provider and company up to HV_WEBHOOK_REFUSED_KEPT_PER_HOUR within this
# window; beyond it a flood is only counted (on the last one kept), so it cannot fill the database.
REFUSED_WINDOW = timedelta(hours=1)
EVENT_KEY_LENGTH = WebhookDelivery._meta.get_field("event_key").max_length
EVENT_TYPE_LENGTH = WebhookDelivery._meta.get_field("event_type").max_length
# Processing attempts of one delivery before it stays failed (replayable by hand); 30 s, 1 min, 2 min apart.
MAX_ATTEMPTS = 4
RETRY_BASE_SECONDS = 30

# A new event is inserted; the same provider and event key again (webhook_event_once) only counts a duplicate.
# `xmax = 0` holds for a row this statement inserted, not for one it updated.
_ACCEPT_SQL = """
    INSERT INTO integrations_webhookdelivery (provider, company_id, event_key, event_type, headers, body, verified,
                                              status)
    VALUES (%s, %s, %s, %s, %s::jsonb, %s, true, %s)
    ON CONFLICT (provider, event_key) WHERE event_key IS NOT NULL
    DO UPDATE SET duplicates = integrations_webhookdelivery.duplicates + 1
    RETURNING id, xmax = 0
"""

DeliveryHandler = Callable[[WebhookDelivery], None]
_handlers: dict[str, DeliveryHandler] = {}


def delivery_handler(provider: str) -> Callable[[DeliveryHandler], DeliveryHandler]:
    def register(handler: DeliveryHandler) -> DeliveryHandler:
        _handlers[provider] = handler
        return handler

    return register


def storable(text: str) -> str:
    """Text PostgreSQL can keep: it holds no NUL, shown instead as U+FFFD like any undecodable byte."""
    return text.replace("\x00", "\ufffd")


def body_text(raw_body: bytes) -> str:
    """The stored, human-readable copy of a body of any bytes."""
    return storable(raw_body.decode("utf-8", errors="replace"))


def json_object(raw_body: bytes) -> dict | None:
    """The body as a JSON object, or None when it is anything else (not JSON, nested too deep, a list…)."""
    try:
        payload = json.loads(raw_body)
    except (ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


def stored_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {storable(name): storable(value) for name, value in headers.items() if name.lower() not in SECRET_HEADERS}


def delivery_accept(
    *, provider: str, company, event_key: str, event_type: str, headers: Mapping[str, str], body: str
) -> tuple[int, bool]:
    """Store a verified delivery and enqueue it; the same event again only counts as a duplicate.

    Returns the delivery's id and whether it is new. One statement either way: every webhook request runs it,
    so its cost bounds the intake rate (bench_webhooks). Outside a transaction, as in the webhook views, the row is
    committed when the statement returns, and the processing task is sent then.
    """
    event_key = storable(event_key)[:EVENT_KEY_LENGTH]
    event_type = storable(str(event_type))[:EVENT_TYPE_LENGTH]
    with connection.cursor() as cursor:
        cursor.execute(
            _ACCEPT_SQL,
            [provider, getattr(company, "pk", None), event_key, event_type, json.dumps(stored_headers(headers)),
             storable(body[:MAX_STORED_BODY]), WebhookDelivery.Status.RECEIVED],
        )  # fmt: skip
        delivery_id, created = cursor.fetchone()
    if created:
        transaction.on_commit(lambda: process_webhook_delivery.delay(delivery_id))
    return delivery_id, created


def delivery_reject(*, provider: str, company, headers: Mapping[str, str], body: str, reason: str) -> WebhookDelivery:
    """Keep a refused request for the Webhooks page and the dashboard, and log it; nothing is processed.

    Beyond HV_WEBHOOK_REFUSED_KEPT_PER_HOUR refused requests of one provider and company in the last hour,
    a request is only counted on the last one kept (its `duplicates`): a flood of unsigned posts costs one
    UPDATE each, never a row.
    """
    logger.warning("webhook refused provider=%s company=%s reason=%s", provider, getattr(company, "code", "-"), reason)
    with transaction.atomic():
        recent = WebhookDelivery.objects.filter(
            provider=provider, company=company, status=WebhookDelivery.Status.REJECTED,
            received_at__gte=timezone.now() - REFUSED_WINDOW,
        ).order_by("-received_at", "-pk")  # fmt: skip
        kept = list(recent.values_list("pk", flat=True)[: settings.HV_WEBHOOK_REFUSED_KEPT_PER_HOUR])
        if len(kept) >= settings.HV_WEBHOOK_REFUSED_KEPT_PER_HOUR:
            WebhookDelivery.objects.filter(pk=kept[0]).update(duplicates=F("duplicates") + 1)
            return WebhookDelivery.objects.get(pk=kept[0])
        return WebhookDelivery.objects.create(
            provider=provider, company=company, event_key=None, headers=stored_headers(headers),
            body=storable(body[:MAX_STORED_BODY]), verified=False, status=WebhookDelivery.Status.REJECTED,
            error=storable(reason),
        )  # fmt: skip


@shared_task(ignore_result=True)
def process_webhook_delivery(delivery_id: int) -> None:
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None or delivery.status != WebhookDelivery.Status.RECEIVED:
            return
        delivery.attempts += 1
        delivery.save(update_fields=["attempts"])
    handler = _handlers.get(delivery.provider)
    if handler is None:
        _delivery_failed(delivery, f"No handler for {delivery.provider} deliveries.")
        return
    try:
        handler(delivery)
    except ProviderError as error:
        if error.transient and delivery.attempts < MAX_ATTEMPTS:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(error=str(error))
            process_webhook_delivery.apply_async(
                (delivery.pk,), countdown=RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1)
            )
            return
        _delivery_failed(delivery, str(error))
    except Exception as error:
        logger.exception("webhook delivery %s failed", delivery.pk)
        _delivery_failed(delivery, f"{type(error).__name__}: {error}")
    else:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.PROCESSED, processed_at=timezone.now(), error=""
        )


def _delivery_failed(delivery: WebhookDelivery, error: str) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.FAILED, processed_at=timezone.now(), error=error[:2000]
    )


@transaction.atomic
def delivery_replay(*, delivery: WebhookDelivery, replayed_by: AbstractBaseUser) -> WebhookDelivery:
    """Process a verified delivery again (its handler is idempotent); a refused one stays refused."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    if not delivery.verified:
        raise ValidationError(_("A refused delivery cannot be replayed: its signature was not valid."))
    delivery.status, delivery.attempts, delivery.error, delivery.processed_at = (
        WebhookDelivery.Status.RECEIVED, 0, "", None,
    )  # fmt: skip
    delivery.save(update_fields=["status", "attempts", "error", "processed_at"])
    audit_record(actor=replayed_by, company=delivery.company, action="webhook.replayed", target=delivery,
                 changes={"provider": delivery.provider, "event": delivery.event_type})  # fmt: skip
    transaction.on_commit(lambda: process_webhook_delivery.delay(delivery.pk))
    return delivery
