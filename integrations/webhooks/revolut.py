"""Revolut Business webhooks (v2): verified as Revolut signs them, keyed, stored, then processed."""

from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse

from finance.services import revolut as revolut_service
from integrations.clients import revolut
from integrations.models import Connection, Provider, WebhookDelivery
from integrations.revolut import revolut_signing_secrets
from integrations.webhooks import inbox


def event_key(payload: dict) -> str:
    """Revolut sends no event id: an event is its type, the transaction and the state it reports."""
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    state = data.get("new_state") or data.get("state") or ""
    return f"{payload.get('event', '')}:{data.get('id', '')}:{state}"


def receive(request: HttpRequest, connection: Connection) -> JsonResponse:
    raw_body = request.body
    body_text = inbox.body_text(raw_body)
    try:
        revolut.verify_webhook_signature(
            raw_body=raw_body, timestamp=request.headers.get("Revolut-Request-Timestamp", ""),
            signature_header=request.headers.get("Revolut-Signature", ""), secrets=revolut_signing_secrets(connection),
        )  # fmt: skip
    except revolut.SignatureError as error:
        inbox.delivery_reject(provider=Provider.REVOLUT, company=connection.company, headers=request.headers,
                              body=body_text, reason=error.reason)  # fmt: skip
        return JsonResponse({"error": error.reason}, status=401)
    payload = inbox.json_object(raw_body)
    if payload is None or not isinstance(payload.get("event"), str):
        inbox.delivery_reject(provider=Provider.REVOLUT, company=connection.company, headers=request.headers,
                              body=body_text, reason="body is not a Revolut event")  # fmt: skip
        return JsonResponse({"error": "body is not a Revolut event"}, status=400)
    _delivery_id, created = inbox.delivery_accept(
        provider=Provider.REVOLUT, company=connection.company, event_key=event_key(payload),
        event_type=payload["event"], headers=request.headers, body=body_text,
    )  # fmt: skip
    return JsonResponse({"status": "accepted" if created else "duplicate"})


@inbox.delivery_handler(Provider.REVOLUT)
def process(delivery: WebhookDelivery) -> None:
    connection = Connection.objects.select_related("company").get(company=delivery.company, provider=Provider.REVOLUT)
    revolut_service.revolut_event_process(connection=connection, payload=json.loads(delivery.body))
