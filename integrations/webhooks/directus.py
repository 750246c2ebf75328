"""Directus Flow events: authenticated by a shared secret (Directus signs nothing), stored, then processed.

The Flow `manage.py directus_configure` installs posts, for every item created, updated or deleted in a
shared collection:

    {"delivery": "<id the Flow drew for this run>", "user": "<Directus user id>",
     "trigger": {"event": "finance_client.items.update", "collection": "finance_client",
                 "keys": ["12"], "payload": {...}}}

(`key` instead of `keys` for a creation). The payload is only what the admin submitted; the Hub re-reads
the rows from the database and processes them as its own edits (finance.services.outside_edits).
"""

from __future__ import annotations

import hmac
import json

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from finance.services.outside_edits import SHARED_TABLES, directus_user_label, outside_edit_process
from integrations.models import Provider, WebhookDelivery
from integrations.webhooks import inbox

SECRET_HEADER = "X-Hub-Secret"  # noqa: S105 - a header name


def _event(payload) -> tuple[str, str, list[str]]:
    """(delivery id, collection, row ids) of a Flow body; ValueError when it is not one."""
    trigger = payload["trigger"]
    collection = trigger["collection"]
    keys = trigger.get("keys") or [trigger["key"]]
    delivery_id = str(payload["delivery"])
    if not delivery_id or not isinstance(collection, str) or not isinstance(keys, list):
        raise ValueError("incomplete event")
    return delivery_id, collection, [str(key) for key in keys]


def receive(request: HttpRequest) -> JsonResponse:
    raw_body = request.body
    body_text = inbox.body_text(raw_body)
    expected = settings.HV_DIRECTUS_WEBHOOK_SECRET
    given = request.headers.get(SECRET_HEADER, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        reason = f"missing or wrong {SECRET_HEADER}" if expected else "no Directus webhook secret is configured"
        inbox.delivery_reject(provider=Provider.DIRECTUS, company=None, headers=request.headers, body=body_text,
                              reason=reason)  # fmt: skip
        return JsonResponse({"error": reason}, status=401)
    try:
        payload = inbox.json_object(raw_body)
        delivery_id, collection, _keys = _event(payload)
        event_type = str(payload["trigger"].get("event", ""))[:80]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        reason = "body is not a Directus Flow event of the Hub"
        inbox.delivery_reject(provider=Provider.DIRECTUS, company=None, headers=request.headers, body=body_text,
                              reason=reason)  # fmt: skip
        return JsonResponse({"error": reason}, status=400)
    if collection not in SHARED_TABLES:
        return JsonResponse({"error": f"{collection} is not a collection the Hub shares"}, status=422)
    _delivery_id, created = inbox.delivery_accept(
        provider=Provider.DIRECTUS, company=None, event_key=f"directus:{delivery_id}"[:200], event_type=event_type,
        headers=request.headers, body=body_text,
    )  # fmt: skip
    return JsonResponse({"status": "accepted" if created else "duplicate"})


@inbox.delivery_handler(Provider.DIRECTUS)
def process(delivery: WebhookDelivery) -> None:
    payload = json.loads(delivery.body)
    _delivery_id, collection, keys = _event(payload)
    editor = directus_user_label(payload.get("user"))
    for row_id in keys:
        outcome = outside_edit_process(table=collection, row_id=row_id, editor=editor, delivery=delivery)
        if outcome is not None and outcome.company is not None and delivery.company_id is None:
            # Listed on the Webhooks page of the company whose row was edited.
            WebhookDelivery.objects.filter(pk=delivery.pk).update(company=outcome.company)
            delivery.company_id = outcome.company.pk
