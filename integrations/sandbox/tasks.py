"""Celery tasks of the sandboxes: what the emulated provider does after answering a request."""

from celery import shared_task

from integrations.clients.base import ProviderError
from integrations.sandbox import revolut
from integrations.sandbox.webhooks import post_webhook

# Revolut tries a failed delivery 3 more times (10 minutes apart); the sandbox waits seconds, not minutes,
# so that a demo or an end-to-end test sees the retries happen.
REVOLUT_WEBHOOK_RETRIES = 3
REVOLUT_WEBHOOK_RETRY_SECONDS = 10


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
