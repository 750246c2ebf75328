"""OpenAI through its official SDK (openai 3.x, which speaks HTTP with httpx2): structured outputs only.

One generic call, `structured_output`, sends instructions and content parts (text now; images and PDFs
for invoice reading later) to the Responses API with a strict JSON schema, and returns the decoded JSON.
SDK errors become the Hub's ProviderError classes: network trouble, timeouts, rate limits and server
errors are transient; refused credentials, refused requests, refusals and answers that are not JSON
conforming to the request are permanent. Tests inject `http_client=httpx2.Client(transport=MockTransport)`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai

from integrations.clients.base import (
    AuthorizationError,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)
from integrations.resilience import CircuitBreaker, CircuitOpenError

logger = logging.getLogger("integrations.http")

PROVIDER = "OpenAI"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Seconds for one call: a structured answer of a small model usually takes 2-10 s.
TIMEOUT_SECONDS = 60.0
# Retries the SDK makes itself on connection errors, 408/409/429 and 5xx, with its own backoff.
MAX_RETRIES = 1


@dataclass(frozen=True)
class StructuredResult:
    data: dict[str, Any]
    model: str
    response_id: str
    usage: dict[str, int] = field(default_factory=dict)


def text_part(text: str) -> dict[str, str]:
    return {"type": "input_text", "text": text}


def image_part(data_url: str, *, detail: str = "high") -> dict[str, str]:
    """An image as a URL or `data:image/png;base64,…` URL (the Responses API's input_image)."""
    return {"type": "input_image", "image_url": data_url, "detail": detail}


def file_part(filename: str, data_url: str) -> dict[str, str]:
    """A file such as a PDF as `data:application/pdf;base64,…` (the Responses API's input_file)."""
    return {"type": "input_file", "filename": filename, "file_data": data_url}


class OpenAIClient:
    """The SDK client of one connection; `on_outcome(ok, detail)` hears every call's result."""

    def __init__(
        self, *, api_key: str, base_url: str = DEFAULT_BASE_URL, scope: str = "", model: str = "",
        http_client: httpx2.Client | None = None, max_retries: int = MAX_RETRIES,
        timeout: float = TIMEOUT_SECONDS, on_outcome: Callable[[bool, str], None] | None = None,
    ) -> None:  # fmt: skip
        self.model = model
        self.on_outcome = on_outcome
        self.breaker = CircuitBreaker("openai", scope) if scope else None
        self.sdk = openai.OpenAI(
            api_key=api_key, base_url=(base_url or DEFAULT_BASE_URL).rstrip("/"), http_client=http_client,
            max_retries=max_retries, timeout=timeout,
        )  # fmt: skip

    def models(self) -> list[str]:
        """The ids of the models the key may use (the connection test)."""
        return self._call("GET /models", lambda: [model.id for model in self.sdk.models.list()])

    def structured_output(
        self, *, instructions: str, content: list[dict[str, str]], schema_name: str, schema: dict[str, Any],
        model: str = "",
    ) -> StructuredResult:  # fmt: skip
        """Ask for one JSON object conforming to `schema` (strict); raises ProviderError subclasses."""
        response = self._call(
            "POST /responses",
            lambda: self.sdk.responses.create(
                model=model or self.model, instructions=instructions,
                input=[{"role": "user", "content": content}],
                text={"format": {"type": "json_schema", "name": schema_name, "schema": schema, "strict": True}},
            ),
        )  # fmt: skip
        return self._decoded(response)

    def _decoded(self, response: Any) -> StructuredResult:
        if response.status != "completed":
            reason = getattr(response.incomplete_details, "reason", None) or response.status
            raise self._permanent(f"the answer is incomplete ({reason})")
        texts, refusals = [], []
        for item in response.output or []:
            for part in getattr(item, "content", None) or []:
                if part.type == "output_text":
                    texts.append(part.text)
                elif part.type == "refusal":
                    refusals.append(part.refusal)
        if refusals:
            raise self._permanent(f"the model refused: {' '.join(refusals)[:200]}")
        text = "".join(texts)
        try:
            data = json.loads(text)
        except ValueError:
            raise self._permanent(f"the answer is not valid JSON: {text[:120]!r}") from None
        if not isinstance(data, dict):
            raise self._permanent(f"the answer is not a JSON object: {text[:120]!r}")
        usage = response.usage.model_dump(include={"input_tokens", "output_tokens"}) if response.usage else {}
        return StructuredResult(data=data, model=response.model, response_id=response.id, usage=usage)

    def _permanent(self, message: str) -> PermanentProviderError:
        error = PermanentProviderError(PROVIDER, message)
        self._report(False, str(error))
        return error

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        if self.breaker is not None:
            try:
                self.breaker.before_call()
            except CircuitOpenError as error:
                raise TransientProviderError(PROVIDER, str(error)) from error
        started = time.monotonic()
        try:
            result = call()
        except openai.OpenAIError as error:
            mapped = map_error(error)
            logger.info("provider=openai call=%s outcome=%s ms=%d", what, type(error).__name__,
                        (time.monotonic() - started) * 1000)  # fmt: skip
            if self.breaker is not None and mapped.transient:
                self.breaker.record_failure()
            elif self.breaker is not None:
                # A refusal of this request says nothing about the provider's health.
                self.breaker.record_success()
            self._report(False, str(mapped))
            raise mapped from error
        logger.info("provider=openai call=%s outcome=ok ms=%d", what, (time.monotonic() - started) * 1000)
        if self.breaker is not None:
            self.breaker.record_success()
        self._report(True, what)
        return result

    def _report(self, ok: bool, detail: str) -> None:
        if self.on_outcome is not None:
            self.on_outcome(ok, detail[:300])


def _message(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(error.message)[:300]


def map_error(error: openai.OpenAIError) -> ProviderError:
    """The Hub's error for an SDK error: transient when trying again later may help."""
    if isinstance(error, openai.APITimeoutError):
        return TransientProviderError(PROVIDER, "no answer within the time limit")
    if isinstance(error, openai.APIConnectionError):
        return TransientProviderError(PROVIDER, "no connection to the API")
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        if isinstance(error, openai.RateLimitError | openai.InternalServerError) or status >= 500:
            return TransientProviderError(PROVIDER, _message(error), status=status)
        if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
            return AuthorizationError(PROVIDER, _message(error), status=status)
        return PermanentProviderError(PROVIDER, _message(error), status=status)
    if isinstance(error, openai.LengthFinishReasonError | openai.ContentFilterFinishReasonError):
        return PermanentProviderError(PROVIDER, str(error)[:300])
    if isinstance(error, openai.APIResponseValidationError):
        return PermanentProviderError(PROVIDER, f"unexpected answer: {error.message}"[:300])
    return PermanentProviderError(PROVIDER, str(error)[:300])
