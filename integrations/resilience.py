"""Circuit breaker per provider and company, kept in Redis so every web and worker process shares it.

The breaker is a help, not a gate: while Redis itself does not answer, it reads as closed and records
nothing, so pages that show a provider's status still render and calls are not refused for its sake.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.health import redis_client

# Failed calls (each after its own retries) within the window that open the circuit: five in a row
# means the provider is down, not unlucky, and further actions should fail fast instead of waiting.
FAILURE_THRESHOLD = 5
# Failures older than this are forgotten, so sparse blips over a day never add up to an open circuit.
FAILURE_WINDOW_SECONDS = 120
# How long the single trial call of a half-open circuit may take before another one is allowed.
TRIAL_SECONDS = 30


@dataclass(frozen=True)
class CircuitState:
    state: str  # "closed", "open" or "half_open"
    failures: int
    open_until: datetime | None

    @property
    def is_open(self) -> bool:
        return self.state == "open"


class CircuitOpenError(Exception):
    def __init__(self, provider: str, scope: str, open_until: datetime):
        self.provider, self.scope, self.open_until = provider, scope, open_until
        super().__init__(
            _("%(provider)s is not answering: calls are paused until %(time)s after repeated failures.")
            % {"provider": provider, "time": timezone.localtime(open_until).strftime("%H:%M:%S")}
        )


class CircuitBreaker:
    def __init__(self, provider: str, scope: str):
        self.provider, self.scope = provider, scope
        prefix = f"hv:circuit:{provider}:{scope}"
        self._failures_key, self._open_key, self._trial_key = f"{prefix}:failures", f"{prefix}:open", f"{prefix}:trial"

    def state(self) -> CircuitState:
        return circuit_states([self])[0]

    def before_call(self) -> None:
        """Refuse the call while open; once the pause is over, let exactly one trial call through."""
        current = self.state()
        if current.is_open:
            raise CircuitOpenError(self.provider, self.scope, current.open_until)
        if current.state == "half_open" and not self._trial_claimed():
            raise CircuitOpenError(self.provider, self.scope, timezone.now() + timedelta(seconds=TRIAL_SECONDS))

    def _trial_claimed(self) -> bool:
        try:
            return bool(redis_client().set(self._trial_key, "1", nx=True, ex=TRIAL_SECONDS))
        except redis.RedisError:
            return True

    def record_failure(self) -> None:
        with suppress(redis.RedisError):
            self._failure_count()

    def _failure_count(self) -> None:
        client = redis_client()
        with client.pipeline() as pipe:
            pipe.incr(self._failures_key).expire(self._failures_key, FAILURE_WINDOW_SECONDS).delete(self._trial_key)
            failures = pipe.execute()[0]
        if failures >= FAILURE_THRESHOLD:
            until = timezone.now() + timedelta(seconds=settings.HV_CIRCUIT_OPEN_SECONDS)
            # The key outlives the pause so that the state reads half-open, not closed, until a call succeeds.
            client.set(self._open_key, until.isoformat(), ex=settings.HV_CIRCUIT_OPEN_SECONDS + FAILURE_WINDOW_SECONDS)

    def record_success(self) -> None:
        with suppress(redis.RedisError):
            redis_client().delete(self._failures_key, self._open_key, self._trial_key)


def circuit_states(breakers: list[CircuitBreaker]) -> list[CircuitState]:
    """The state of each breaker, read from Redis in one round trip (a status bar shows thirty of them)."""
    if not breakers:
        return []
    try:
        values = redis_client().mget(
            [key for breaker in breakers for key in (breaker._failures_key, breaker._open_key)]
        )
    except redis.RedisError:
        return [CircuitState("closed", 0, None) for _breaker in breakers]
    return [
        _circuit_state(failures, open_until) for failures, open_until in zip(values[::2], values[1::2], strict=True)
    ]


def _circuit_state(failures: bytes | None, open_until: bytes | None) -> CircuitState:
    count = int(failures or 0)
    if open_until is None:
        return CircuitState("half_open" if count >= FAILURE_THRESHOLD else "closed", count, None)
    until = datetime.fromisoformat(open_until.decode())
    return CircuitState("open" if until > timezone.now() else "half_open", count, until)
