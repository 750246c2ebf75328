"""Connections to providers: where the credentials are kept, how each call's outcome is remembered, the
shared token refresh, and the connection test.

Each provider's module (integrations/<provider>.py) registers its test with `@status_probe`, so this module
calls every provider's test without importing any of them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable

from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext as _
from redis.exceptions import LockError

from finance.models import Company
from integrations.clients.base import TransientProviderError
from integrations.health import redis_client
from integrations.models import Connection, Provider

# Access tokens this close to their end are refreshed before use, never sent (Revolut's live 40 minutes).
TOKEN_REFRESH_MARGIN = dt.timedelta(minutes=5)
# A worker waits this long for another one refreshing the same token (a refresh invalidates the old one).
TOKEN_LOCK_WAIT_SECONDS = 20
# The lock frees itself after this long if its holder died mid-refresh.
TOKEN_LOCK_TIMEOUT_SECONDS = 30

# provider → its connection test: (ok, detail) from one real call within the client's timeouts.
_probes: dict[str, Callable[[Connection], tuple[bool, str]]] = {}


def status_probe(provider: str):
    """Register a provider's connection test (used by "Tester la connexion" and the status of the pages)."""

    def register(probe: Callable[[Connection], tuple[bool, str]]):
        _probes[provider] = probe
        return probe

    return register


def connection_for_update(company: Company, provider: str) -> Connection:
    """The company's connection to the provider, row-locked for the caller's transaction, or a new unsaved one."""
    locked = Connection.objects.select_for_update().filter(company=company, provider=provider).first()
    return locked or Connection(company=company, provider=provider)


def outcome_recorder(connection: Connection):
    """Remember each call's outcome on the connection, so the status reflects real traffic."""

    def record(ok: bool, detail: str) -> None:
        if ok:
            Connection.objects.filter(pk=connection.pk).update(last_success_at=Now())
        else:
            Connection.objects.filter(pk=connection.pk).update(last_failure_at=Now(), last_failure_detail=detail)

    return record


# --- Access tokens ------------------------------------------------------------------------------------


def _token_is_fresh(connection: Connection) -> bool:
    expires = connection.config.get("access_token_expires_at")
    return bool(expires and connection.secret("access_token")) and (
        dt.datetime.fromisoformat(expires) - timezone.now() > TOKEN_REFRESH_MARGIN
    )


def access_token_store(connection: Connection, access_token: str, expires_in: int) -> None:
    """Keep an access token (encrypted) with the moment it ends; the caller saves the connection."""
    connection.set_secrets(access_token=access_token)
    expires = timezone.now() + dt.timedelta(seconds=expires_in)
    connection.config = {**connection.config, "access_token_expires_at": expires.isoformat()}


def fresh_access_token(connection: Connection, renew: Callable[[Connection], str]) -> str:
    """The stored access token while it is fresh; else `renew(connection)` (which stores the new one and returns
    it), under a Redis lock so that only one process ever renews a connection's token at a time."""
    if _token_is_fresh(connection):
        return connection.secret("access_token")
    provider = Provider(connection.provider)
    lock = redis_client().lock(
        f"hv:{provider.value}:token-refresh:{connection.pk}", timeout=TOKEN_LOCK_TIMEOUT_SECONDS,
        blocking_timeout=TOKEN_LOCK_WAIT_SECONDS,
    )  # fmt: skip
    if not lock.acquire():
        # Transient: the action retries later and then finds the token the other process stored.
        raise TransientProviderError(provider.value, _("Another process is refreshing the %(provider)s token.")
                                     % {"provider": provider.label})  # fmt: skip
    try:
        # Another process may have renewed it while this one waited: its token is the valid one now.
        connection.refresh_from_db()
        if _token_is_fresh(connection):
            return connection.secret("access_token")
        return renew(connection)
    finally:
        # A lock that expired during a slow renewal cannot be released: the new token is stored all the same.
        with contextlib.suppress(LockError):
            lock.release()


def connection_probe(connection: Connection) -> Connection:
    """Call the provider for real (within the client's timeouts) and store what happened."""
    probe = _probes.get(connection.provider)
    ok, detail = probe(connection) if probe else (False, _("The Hub has no test for this provider."))
    Connection.objects.filter(pk=connection.pk).update(
        last_probe_at=Now(), last_probe_ok=ok, last_probe_detail=detail[:300]
    )
    connection.refresh_from_db()
    return connection
