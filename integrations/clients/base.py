"""The one HTTP client every provider client is built on; no other module of the Hub calls `requests`.

It owns the session, the (connect, read) timeouts, the retries (network errors, 429 and 5xx, on
idempotent calls only), the circuit breaker of the provider and company, the mapping of failures to
transient or permanent errors, and a log line per call that never carries a secret.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from integrations.resilience import CircuitBreaker, CircuitOpenError

logger = logging.getLogger("integrations.http")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Calls made per request at most: the first and two retries, waiting RETRY_BACKOFF_SECONDS × 2^n between.
MAX_ATTEMPTS = 3
RETRY_BACKOFF_SECONDS = 0.5
# A provider's Retry-After is honoured up to this many seconds; longer waits become a transient error.
MAX_RETRY_AFTER_SECONDS = 10


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0


class ProviderError(Exception):
    """A provider call that did not succeed; `transient` says whether trying again later may help."""

    transient: ClassVar[bool] = False

    def __init__(self, provider: str, message: str, *, status: int | None = None, code: str | int | None = None):
        self.provider, self.message, self.status, self.code = provider, message, status, code
        super().__init__(f"{provider}: {message}" + (f" (HTTP {status})" if status else ""))


class TransientProviderError(ProviderError):
    """Network trouble, rate limit, provider error or open circuit: worth retrying with backoff."""

    transient = True


class PermanentProviderError(ProviderError):
    """The provider refused the request as it is (validation, not found, forbidden): do not retry."""


class AuthorizationError(PermanentProviderError):
    """The credentials were refused (401/403): a person must fix the connection."""


@dataclass(frozen=True)
class ApiResponse:
    status: int
    headers: Mapping[str, str]
    data: Any = None  # the decoded JSON body, or None
    text: str = field(default="", repr=False)
    content: bytes = field(default=b"", repr=False)  # the raw body, for downloads (PDF files)


class BaseClient:
    provider: ClassVar[str]
    timeouts: ClassVar[Timeouts] = Timeouts()

    def __init__(
        self, base_url: str, *, scope: str, session: requests.Session | None = None,
        on_outcome: Callable[[bool, str], None] | None = None,
    ) -> None:  # fmt: skip
        """`scope` names the circuit (usually the company code); `on_outcome(ok, detail)` hears every call's result."""
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.breaker = CircuitBreaker(self.provider, scope)
        self.on_outcome = on_outcome

    # Subclasses: authentication headers and how the provider words its errors.
    def auth_headers(self) -> dict[str, str]:
        return {}

    def error_message(self, response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return response.text[:200] or response.reason
        if isinstance(body, dict):
            return str(body.get("message") or body.get("error_description") or body.get("error") or body)[:300]
        return str(body)[:300]

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
        data: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None, authenticated: bool = True,
    ) -> ApiResponse:  # fmt: skip
        """Send one logical request; POST/PATCH are retried only when the caller vouches it is idempotent."""
        method = method.upper()
        retryable = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        try:
            self.breaker.before_call()
        except CircuitOpenError as error:
            raise TransientProviderError(self.provider, str(error)) from error
        auth = self.auth_headers() if authenticated else {}
        all_headers = {"Accept": "application/json", **auth, **(headers or {})}
        url = self.url(path)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            started = time.monotonic()
            try:
                response = self.session.request(
                    method, url, params=params, json=json, data=data, headers=all_headers,
                    timeout=(self.timeouts.connect, self.timeouts.read),
                )  # fmt: skip
            except (requests.ConnectionError, requests.Timeout) as error:
                self._log(method, url, attempt, started, status=None, outcome=type(error).__name__)
                failure = TransientProviderError(self.provider, f"{type(error).__name__}: no answer from {_host(url)}")
                wait = RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1)
            else:
                outcome = "ok" if response.ok else "error"
                self._log(method, url, attempt, started, status=response.status_code, outcome=outcome)
                if response.ok:
                    self.breaker.record_success()
                    self._report(True, f"HTTP {response.status_code}")
                    return _api_response(response)
                if response.status_code != 429 and response.status_code < 500:
                    # The provider is up and answered: its refusal is about this request, not its health.
                    self.breaker.record_success()
                    error_class = AuthorizationError if response.status_code in (401, 403) else PermanentProviderError
                    error = error_class(
                        self.provider, self.error_message(response), status=response.status_code, code=_code(response)
                    )
                    self._report(False, str(error))
                    raise error
                failure = TransientProviderError(
                    self.provider, self.error_message(response), status=response.status_code, code=_code(response)
                )
                wait = _retry_after(response) or RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1)
            if not retryable or attempt == MAX_ATTEMPTS or wait > MAX_RETRY_AFTER_SECONDS:
                break
            time.sleep(wait)
        self.breaker.record_failure()
        self._report(False, str(failure))
        raise failure

    def _report(self, ok: bool, detail: str) -> None:
        if self.on_outcome is not None:
            self.on_outcome(ok, detail[:300])

    def _log(self, method: str, url: str, attempt: int, started: float, *, status: int | None, outcome: str) -> None:
        # The path only: query strings and bodies may carry tokens or personal data.
        logger.info(
            "provider=%s method=%s path=%s attempt=%d status=%s outcome=%s ms=%d",
            self.provider, method, urlsplit(url).path, attempt, status, outcome, (time.monotonic() - started) * 1000,
        )  # fmt: skip


def _host(url: str) -> str:
    return urlsplit(url).netloc


def _code(response: requests.Response) -> str | int | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.replace(".", "", 1).isdigit() else None


def _api_response(response: requests.Response) -> ApiResponse:
    try:
        data = response.json() if response.content else None
    except ValueError:
        data = None
    return ApiResponse(
        status=response.status_code, headers=dict(response.headers), data=data, text=response.text,
        content=response.content,
    )  # fmt: skip
