"""Celery tasks of the sandboxes: what the emulated provider does after answering a request.

Each task is defined beside the emulator it runs (it settles or sends what that module decided), named
`sandbox.tasks.<task>`; this module imports them so that Celery's autodiscovery registers them all, and so
that they can be named from here. It imports the emulators and nothing imports it: no cycle.
"""

from sandbox.docuseal import DOCUSEAL_WEBHOOK_RETRIES, DOCUSEAL_WEBHOOK_RETRY_SECONDS, deliver_docuseal_webhook
from sandbox.invoice_ninja import (
    INVOICE_NINJA_WEBHOOK_ATTEMPTS,
    INVOICE_NINJA_WEBHOOK_RETRY_SECONDS,
    deliver_invoice_ninja_webhook,
)
from sandbox.mautic import deliver_mautic_webhook
from sandbox.revolut import (
    REVOLUT_WEBHOOK_RETRIES,
    REVOLUT_WEBHOOK_RETRY_SECONDS,
    deliver_revolut_webhook,
    settle_revolut_transaction,
)

__all__ = [
    "DOCUSEAL_WEBHOOK_RETRIES",
    "DOCUSEAL_WEBHOOK_RETRY_SECONDS",
    "INVOICE_NINJA_WEBHOOK_ATTEMPTS",
    "INVOICE_NINJA_WEBHOOK_RETRY_SECONDS",
    "REVOLUT_WEBHOOK_RETRIES",
    "REVOLUT_WEBHOOK_RETRY_SECONDS",
    "deliver_docuseal_webhook",
    "deliver_invoice_ninja_webhook",
    "deliver_mautic_webhook",
    "deliver_revolut_webhook",
    "settle_revolut_transaction",
]
