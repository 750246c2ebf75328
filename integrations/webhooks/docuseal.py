"""DocuSeal webhooks: verified by the custom secret header (and `X-Docuseal-Signature` when signed), stored, processed.

DocuSeal sends no event id: a delivery is keyed by company, event type, the object's id and the event's
timestamp, so DocuSeal retrying the same event is one delivery. Any bytes get a 2xx or a 4xx, never a 5xx.
"""

from __future__ import annotations

import json
import logging

from django.http import HttpRequest, JsonResponse

from finance.services.docuseal import event_process
from integrations.docuseal import webhook_refusal, webhook_secret_name
from integrations.models import Connection, Provider, WebhookDelivery
from integrations.webhooks import inbox

logger = logging.getLogger("integrations.webhooks")

# The longest timestamp kept in the event key; DocuSeal's are ISO 8601 with milliseconds (24 characters).
TIMESTAMP_MAX = 40


def _headers(request: HttpRequest, connection: Connection) -> dict[str, str]:
    """The request's headers without the shared secret, which is never stored."""
    secret_name = webhook_secret_name(connection).lower()
    return {name: value for name, value in request.headers.items() if name.lower() != secret_name}


def _event(raw_body: bytes) -> tuple[str, int | str, str] | None:
    """(event type, object id, timestamp) of a DocuSeal-shaped body, or None."""
    payload = inbox.json_object(raw_body)
    if payload is None or not isinstance(payload.get("data"), dict):
        return None
    event_type, timestamp, object_id = payload.get("event_type"), payload.get("timestamp"), payload["data"].get("id")
    if not isinstance(event_type, str) or not event_type or "\x00" in event_type or len(event_type) > 80:
        return None
    if not isinstance(object_id, int | str) or isinstance(object_id, bool) or not str(object_id):
        return None
    if not isinstance(timestamp, str) or len(timestamp) > TIMESTAMP_MAX:
        return None
    return event_type, object_id, timestamp


def receive(request: HttpRequest, connection: Connection) -> JsonResponse:
    raw_body = request.body
    body_text = inbox.body_text(raw_body)
    headers = _headers(request, connection)
    reason = webhook_refusal(connection, raw_body, request.headers)
    if reason:
        inbox.delivery_reject(provider=Provider.DOCUSEAL, company=connection.company, headers=headers,
                              body=body_text, reason=reason)  # fmt: skip
        return JsonResponse({"error": reason}, status=401)
    event = _event(raw_body)
    if event is None:
        reason = "body is not a DocuSeal webhook payload"
        inbox.delivery_reject(provider=Provider.DOCUSEAL, company=connection.company, headers=headers,
                              body=body_text, reason=reason)  # fmt: skip
        return JsonResponse({"error": reason}, status=400)
    event_type, object_id, timestamp = event
    _delivery_id, created = inbox.delivery_accept(
        provider=Provider.DOCUSEAL, company=connection.company,
        event_key=f"{connection.company.code}:{event_type}:{object_id}:{timestamp}"[:200],
        event_type=event_type, headers=headers, body=body_text,
    )  # fmt: skip
    return JsonResponse({"status": "accepted" if created else "duplicate"})


@inbox.delivery_handler(Provider.DOCUSEAL)
def process(delivery: WebhookDelivery) -> None:
    connection = Connection.objects.select_related("company").get(company=delivery.company, provider=Provider.DOCUSEAL)
    note = event_process(connection, json.loads(delivery.body))
    logger.info("docuseal delivery %s (%s): %s", delivery.pk, delivery.event_type, note)
