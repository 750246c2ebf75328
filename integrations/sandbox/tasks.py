"""Celery tasks of the sandboxes: what the emulated provider does after answering a request."""

import json

from celery import shared_task

from integrations.clients.base import ProviderError
from integrations.sandbox import docuseal, invoice_ninja, mautic, revolut
from integrations.sandbox.webhooks import SandboxWebhookSender, post_webhook

# Revolut tries a failed delivery 3 more times (10 minutes apart); the sandbox waits seconds, not minutes,
# so that a demo or an end-to-end test sees the retries happen.
REVOLUT_WEBHOOK_RETRIES = 3
REVOLUT_WEBHOOK_RETRY_SECONDS = 10
# Invoice Ninja makes 5 attempts ($tries), minutes apart; the sandbox waits seconds between them.
INVOICE_NINJA_WEBHOOK_ATTEMPTS = 5
INVOICE_NINJA_WEBHOOK_RETRY_SECONDS = 3
# DocuSeal retries a failed delivery for 48 h, 2^attempt minutes apart; the sandbox a few times, seconds apart.
DOCUSEAL_WEBHOOK_RETRIES = 4
DOCUSEAL_WEBHOOK_RETRY_SECONDS = 3


@shared_task(ignore_result=True)
def settle_revolut_transaction(client_id: str, transaction_id: str) -> None:
    """Settle a pending Revolut sandbox transaction, SETTLE_SECONDS after it was created."""
    revolut.settle_transaction(client_id=client_id, transaction_id=transaction_id)


@shared_task(bind=True, ignore_result=True, max_retries=REVOLUT_WEBHOOK_RETRIES)
def deliver_revolut_webhook(self, url: str, body: str, signing_secret: str) -> None:
    """POST one webhook body to the Hub, signed afresh on each attempt."""
    raw_body = body.encode()
    try:
        post_webhook(url, raw_body, revolut.webhook_headers(raw_body, signing_secret), sandbox="revolut")
    except ProviderError as error:
        raise self.retry(exc=error, countdown=REVOLUT_WEBHOOK_RETRY_SECONDS) from error


@shared_task(bind=True, ignore_result=True, max_retries=INVOICE_NINJA_WEBHOOK_ATTEMPTS - 1)
def deliver_invoice_ninja_webhook(self, token: str, webhook_id: str, event_id: str, body: str) -> None:
    """Send one event's bare entity to one subscription, as Invoice Ninja's WebhookSingle job does.

    The subscription is read when the attempt runs: one deleted meanwhile gets nothing. The method is the
    subscription's rest_method (POST or PUT), which is why this does not go through `post_webhook`.
    """
    webhook = invoice_ninja.find_subscription(token, webhook_id)
    if webhook is None:
        return
    headers = {"Content-Type": "application/json", "Accept": "application/json", **webhook["headers"]}
    attempt = {
        "event_id": event_id,
        "attempt": self.request.retries + 1,
        "max_attempts": INVOICE_NINJA_WEBHOOK_ATTEMPTS,
    }
    sender = SandboxWebhookSender("", scope="invoice_ninja")
    try:
        response = sender.request(
            webhook["rest_method"].upper(), webhook["target_url"], data=body.encode(), headers=headers,
            idempotent=False, authenticated=False,
        )  # fmt: skip
    except ProviderError as error:
        outcome = invoice_ninja.settle_delivery(token, webhook, **attempt, status=error.status, error=error.message)
        if outcome == invoice_ninja.RETRY:
            raise self.retry(exc=error, countdown=INVOICE_NINJA_WEBHOOK_RETRY_SECONDS) from error
        if outcome == invoice_ninja.FAILED:
            raise
        return
    invoice_ninja.settle_delivery(token, webhook, **attempt, status=response.status)


@shared_task(ignore_result=True)
def deliver_mautic_webhook(username: str, hook_id: int, event: str, body: str) -> None:
    """POST one event's body to one hook, as Mautic's immediate queue mode does: once, never retried.

    The hook is read when the attempt runs: one deleted or unpublished meanwhile gets nothing, and the body
    is signed with the secret it has then. Non-2xx answers are logged; a 410 unpublishes the hook.
    """
    hook = mautic.find_hook(username, hook_id)
    if hook is None or not hook["isPublished"]:
        return
    raw_body = body.encode()
    try:
        response = post_webhook(hook["webhookUrl"], raw_body, mautic.webhook_headers(raw_body, hook["secret"]),
                                sandbox="mautic")  # fmt: skip
    except ProviderError as error:
        mautic.settle_delivery(username, hook, event=event, status=error.status, error=error.message)
        return
    mautic.settle_delivery(username, hook, event=event, status=response.status)


@shared_task(bind=True, ignore_result=True, max_retries=DOCUSEAL_WEBHOOK_RETRIES)
def deliver_docuseal_webhook(self, api_key: str, body: str) -> None:
    """POST one event to the account's webhook as configured when the attempt runs, signed afresh each time."""
    raw_body = body.encode()
    target = docuseal.webhook_headers(api_key, raw_body)
    if target is None:
        return
    url, headers = target
    event_type = json.loads(body).get("event_type", "")
    try:
        response = post_webhook(url, raw_body, headers, sandbox="docuseal")
    except ProviderError as error:
        docuseal.record_delivery(api_key, event_type=event_type, status=error.status, error=error.message)
        raise self.retry(exc=error, countdown=DOCUSEAL_WEBHOOK_RETRY_SECONDS) from error
    docuseal.record_delivery(api_key, event_type=event_type, status=response.status)
