"""Mautic webhooks: verified by `Webhook-Signature` (base64 HMAC-SHA256 of the raw body), stored, then processed.

The signature carries no timestamp and Mautic sends no event id, so a delivery is keyed by its content:
the same body twice (Mautic retrying) is one delivery. Batches keyed by event type are processed whole.
"""

from __future__ import annotations

import hashlib
import json

from django.http import HttpRequest, JsonResponse

from finance.services.mautic import event_process
from integrations.mautic import webhook_signature_valid
from integrations.models import Connection, Provider, WebhookDelivery
from integrations.webhooks import inbox

SIGNATURE_HEADER = "Webhook-Signature"


def receive(request: HttpRequest, connection: Connection) -> JsonResponse:
    raw_body = request.body
    body_text = inbox.body_text(raw_body)
    if not webhook_signature_valid(connection, raw_body, request.headers.get(SIGNATURE_HEADER, "")):
        reason = f"missing or wrong {SIGNATURE_HEADER}"
        inbox.delivery_reject(provider=Provider.MAUTIC, company=connection.company, headers=request.headers,
                              body=body_text, reason=reason)  # fmt: skip
        return JsonResponse({"error": reason}, status=401)
    payload = inbox.json_object(raw_body)
    if payload is None:
        reason = "body is not a Mautic webhook payload"
        inbox.delivery_reject(provider=Provider.MAUTIC, company=connection.company, headers=request.headers,
                              body=body_text, reason=reason)  # fmt: skip
        return JsonResponse({"error": reason}, status=400)
    event_types = sorted(name for name, items in payload.items() if isinstance(items, list))
    _delivery_id, created = inbox.delivery_accept(
        provider=Provider.MAUTIC, company=connection.company,
        event_key=f"{connection.company.code}:{hashlib.sha256(raw_body).hexdigest()}",
        event_type=", ".join(name.removeprefix("mautic.") for name in event_types)[:80],
        headers=request.headers, body=body_text,
    )  # fmt: skip
    return JsonResponse({"status": "accepted" if created else "duplicate"})


@inbox.delivery_handler(Provider.MAUTIC)
def process(delivery: WebhookDelivery) -> None:
    connection = Connection.objects.select_related("company").get(company=delivery.company, provider=Provider.MAUTIC)
    event_process(connection, json.loads(delivery.body))
