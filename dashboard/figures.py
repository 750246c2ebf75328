"""The dashboard's materialized views: refreshing them, and when that last happened."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

import redis
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

# Refreshed in this order: a month view after the day view it sums.
VIEWS = (
    "dashboard_sales_day", "dashboard_sales_month", "dashboard_receivable_day", "dashboard_purchase_day",
    "dashboard_purchase_month", "dashboard_bank_day",
)  # fmt: skip
REFRESHED_AT_KEY = "hv:dashboard:figures-refreshed-at"
# Names one refresh: what was read from the views is valid until it changes (see history_version).
VERSION_KEY = "hv:dashboard:figures-version"


def figures_refresh() -> datetime:
    """Recompute every view from the documents; readers keep seeing the previous rows meanwhile."""
    with connection.cursor() as cursor:
        for view in VIEWS:
            # CONCURRENTLY needs a populated view; a never-filled one (fresh database) is filled plainly.
            cursor.execute("SELECT ispopulated FROM pg_matviews WHERE matviewname = %s", [view])
            populated = cursor.fetchone()[0]
            cursor.execute(f"REFRESH MATERIALIZED VIEW {'CONCURRENTLY ' if populated else ''}{view}")
            # Fresh statistics at once (autovacuum comes later): without them PostgreSQL expects a couple of rows
            # and sorts thousands where it would hash them.
            cursor.execute(f"ANALYZE {view}")
    refreshed_at = timezone.now()
    cache.set_many({REFRESHED_AT_KEY: refreshed_at.isoformat(), VERSION_KEY: uuid4().hex}, timeout=None)
    return refreshed_at


def figures_refreshed_at() -> datetime | None:
    """When the views were last refreshed; unknown (None) while the cache (Redis) does not answer."""
    try:
        stamp = cache.get(REFRESHED_AT_KEY)
    except redis.RedisError:
        return None
    return datetime.fromisoformat(stamp) if stamp else None


def history_version() -> str | None:
    """What names the views' current content, new at each refresh; None while the cache (Redis) does not answer
    or no refresh was recorded, when nothing read from the views may be reused."""
    try:
        return cache.get(VERSION_KEY)
    except redis.RedisError:
        return None
