"""Health of the Hub's own parts: PostgreSQL, Redis and the Celery worker."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

# Redis key the worker's heartbeat task writes its time into (ISO 8601).
HEARTBEAT_KEY = "hv:health:worker-heartbeat"
# Redis key of Directus' last answer to /server/health (integrations.directus writes it, the status bar reads it).
DIRECTUS_HEALTH_KEY = "hv:health:directus"
# The worker counts as down after this many heartbeat periods without a beat.
MISSED_HEARTBEATS_TOLERATED = 3


@dataclass(frozen=True)
class ComponentStatus:
    up: bool
    detail: str

    def as_dict(self) -> dict:
        return {"status": "up" if self.up else "down", "detail": self.detail}


def redis_client() -> redis.Redis:
    """The process's client of the configured Redis, over one connection pool.

    A client per call opened a TCP connection per call: about 3 ms on every page, partial and webhook. The pool
    checks a connection before lending it, so a Redis restarted meanwhile costs a reconnection, not an error.
    """
    return _redis_client(settings.REDIS_URL, settings.REDIS_SOCKET_TIMEOUT)


@functools.cache
def _redis_client(url: str, timeout: float) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)


def database_status() -> ComponentStatus:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        return ComponentStatus(up=False, detail=f"{type(error).__name__}: {error}".strip())
    return ComponentStatus(up=True, detail=connection.vendor)


def redis_status() -> ComponentStatus:
    try:
        redis_client().ping()
    except redis.RedisError as error:
        return ComponentStatus(up=False, detail=f"{type(error).__name__}: {error}")
    return ComponentStatus(up=True, detail="ping ok")


def heartbeat_record(now: datetime | None = None) -> None:
    """Store the worker's heartbeat; it expires on its own once too old to count."""
    moment = now or timezone.now()
    ttl = settings.HV_WORKER_HEARTBEAT_SECONDS * MISSED_HEARTBEATS_TOLERATED
    redis_client().set(HEARTBEAT_KEY, moment.isoformat(), ex=ttl)


def worker_status() -> ComponentStatus:
    try:
        raw = redis_client().get(HEARTBEAT_KEY)
    except redis.RedisError:
        return ComponentStatus(up=False, detail="heartbeat unreadable: Redis is down")
    if raw is None:
        return ComponentStatus(up=False, detail="no heartbeat from a Celery worker")
    age = (timezone.now() - datetime.fromisoformat(raw.decode())).total_seconds()
    return ComponentStatus(up=True, detail=f"last heartbeat {age:.0f} s ago")


@dataclass(frozen=True)
class HealthReport:
    database: ComponentStatus
    redis: ComponentStatus
    celery_worker: ComponentStatus

    @property
    def healthy(self) -> bool:
        return self.database.up and self.redis.up and self.celery_worker.up

    def as_dict(self) -> dict:
        components = {name: getattr(self, name).as_dict() for name in ("database", "redis", "celery_worker")}
        return {"status": "ok" if self.healthy else "degraded", "components": components}


def health_report() -> HealthReport:
    return HealthReport(database=database_status(), redis=redis_status(), celery_worker=worker_status())
