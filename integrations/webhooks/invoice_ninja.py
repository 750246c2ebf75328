"""Invoice Ninja webhooks: authenticated by the company's secret header, keyed by content, stored, then processed.

Invoice Ninja signs nothing and posts the bare entity, so the event is the one the URL was registered for.
A valid hook is always answered 2xx: Invoice Ninja deletes a subscription that answers 404, 405 or 410.
"""

from __future__ import annotations

import hashlib
import json

from django.http import HttpRequest, JsonResponse

from finance.services.invoice_ninja import event_process
from integrations.clients.invoice_ninja import WebhookEvent
from integrations.invoice_ninja import EVENT_LABELS, WEBHOOK_SECRET_HEADER, webhook_secret_matches
from integrations.models import Connection, Provider, WebhookDelivery
from integrations.webhooks import inbox


def event_key(event_id: int, payload: dict, raw_body: bytes) -> str:
    """No event id either: the same event is the same body sent to the same event's URL again."""
    return f"{event_id}:{payload.get('id', '')}:{hashlib.sha256(raw_body).hexdigest()[:32]}"


def receive(request: HttpRequest, connection: Connection, event_id: int) -> JsonResponse:
    raw_body = request.body
    body_text = inbox.body_text(raw_body)
    if not webhook_secret_matches(connection, request.headers.get(WEBHOOK_SECRET_HEADER, "")):
        reason = f"missing or wrong {WEBHOOK_SECRET_HEADER} header"
        inbox.delivery_reject(provider=Provider.INVOICE_NINJA, company=connection.company, headers=request.headers,
                              body=body_text, reason=reason)  # fmt: skip
        return JsonResponse({"error": reason}, status=401)
    payload = inbox.json_object(raw_body)
    entity_id = payload.get("id") if payload is not None else None
    if not isinstance(entity_id, str | int) or isinstance(entity_id, bool):
        reason = "body is not an Invoice Ninja entity"
        inbox.delivery_reject(provider=Provider.INVOICE_NINJA, company=connection.company, headers=request.headers,
                              body=body_text, reason=reason)  # fmt: skip
        return JsonResponse({"error": reason}, status=400)
    label = EVENT_LABELS.get(event_id, f"event {event_id}")
    _delivery_id, created = inbox.delivery_accept(
        provider=Provider.INVOICE_NINJA, company=connection.company, event_key=event_key(event_id, payload, raw_body),
        event_type=f"{label} {entity_id}"[:80], headers=request.headers, body=body_text,
    )  # fmt: skip
    return JsonResponse({"status": "accepted" if created else "duplicate"})


@inbox.delivery_handler(Provider.INVOICE_NINJA)
def process(delivery: WebhookDelivery) -> None:
    event_id = int(delivery.event_key.split(":", 1)[0])
    if event_id not in {event.value for event in WebhookEvent}:
        return
    connection = Connection.objects.select_related("company").get(
        company=delivery.company, provider=Provider.INVOICE_NINJA
    )
    event_process(connection, event_id, json.loads(delivery.body))
