"""Posting a sandbox's webhook to the Hub, through the one HTTP client of the Hub."""

from __future__ import annotations

from collections.abc import Mapping

from integrations.clients.base import ApiResponse, BaseClient, Timeouts


class SandboxWebhookSender(BaseClient):
    """Posts webhook bodies to absolute URLs; the circuit is per sandbox (scope), like one real sender."""

    provider = "sandbox"
    timeouts = Timeouts(connect=5.0, read=15.0)


def post_webhook(url: str, raw_body: bytes, headers: Mapping[str, str], *, sandbox: str) -> ApiResponse:
    """POST the exact bytes once; raises a ProviderError when the receiver does not answer 2xx.

    The caller retries: a sandbox re-signs each attempt, since signatures carry the time of sending.
    """
    sender = SandboxWebhookSender("", scope=sandbox)
    return sender.request(
        "POST", url, data=raw_body, headers={"Content-Type": "application/json", **headers},
        idempotent=False, authenticated=False,
    )  # fmt: skip
