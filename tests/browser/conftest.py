import os
from dataclasses import dataclass
from datetime import date
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from playwright.sync_api import sync_playwright

# Playwright's sync API runs an event loop in this thread; Django's ORM calls in the same test are
# still synchronous, so its async-safety guard is lifted for browser tests only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(os.environ.get("HV_SCREENSHOT_DIR", settings.BASE_DIR / "var" / "screenshots"))


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server):
    """A French page on the live server that records every failed request and console error."""
    context = chromium.new_context(locale="fr-CH", viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.broken = []
    # A load the browser abandoned because the page moved on (net::ERR_ABORTED) is not a broken page.
    page.on(
        "requestfailed",
        lambda request: request.failure != "net::ERR_ABORTED" and page.broken.append(f"failed {request.url}"),
    )
    page.on(
        "response", lambda response: response.status >= 400 and page.broken.append(f"{response.status} {response.url}")
    )
    page.on("console", lambda message: message.type == "error" and page.broken.append(f"console {message.text}"))
    page.base_url = live_server.url
    yield page
    context.close()


@dataclass
class DatabaseCopy:
    """Every table Django's flush empties, as PostgreSQL's binary COPY, and where each sequence stood."""

    tables: dict[str, bytes]
    rows: dict[str, int]
    sequences: dict[str, tuple[int, bool]]


def _row_counts(cursor, tables: list[str]) -> dict[str, int]:
    counts = (f"SELECT '{table}', COUNT(*) FROM {connection.ops.quote_name(table)}" for table in tables)  # noqa: S608
    cursor.execute(" UNION ALL ".join(counts))
    return dict(cursor.fetchall())


def database_copy() -> DatabaseCopy:
    tables = sorted(connection.introspection.django_table_names(only_existing=True, include_views=False))
    with connection.cursor() as cursor:
        copied = {}
        for table in tables:
            with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} TO STDOUT (FORMAT BINARY)") as copy:
                copied[table] = b"".join(bytes(block) for block in copy)
        cursor.execute("SELECT sequencename, COALESCE(last_value, 1), last_value IS NOT NULL FROM pg_sequences "
                       "WHERE schemaname = current_schema()")  # fmt: skip
        sequences = {name: (value, called) for name, value, called in cursor.fetchall()}
        return DatabaseCopy(copied, _row_counts(cursor, tables), sequences)


def database_restore(saved: DatabaseCopy) -> None:
    """Put the copy back in place of what the tables hold, as the flush between tests does: without triggers."""
    tables = list(saved.tables)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(f"TRUNCATE {', '.join(map(connection.ops.quote_name, tables))}")
        for table, data in saved.tables.items():
            with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(data)
        for name, (value, called) in saved.sequences.items():
            cursor.execute("SELECT setval(%s, %s, %s)", [name, value, called])
        assert _row_counts(cursor, tables) == saved.rows
    # Content types are cached by id, and the ids are now the copy's.
    ContentType.objects.clear_cache()


# What the demo seed left, by the day it was seeded for (the seed dates its documents from today).
_demo_group_copies: dict[date, DatabaseCopy] = {}


@pytest.fixture
def demo_group(transactional_db):
    """The seeded demo group.

    Live-server tests empty every table when they end, the Swiss VAT rates loaded by migration 0005
    included; the seed needs them, so they are loaded again the way that migration does. Seeding takes
    half a minute: the first test of the day seeds, the next ones get a copy of what it left (the seed's
    queued no-op tasks for its cancelled follow-ups excepted).
    """
    today = timezone.localdate()
    if today in _demo_group_copies:
        database_restore(_demo_group_copies[today])
        return
    import_module("finance.migrations.0005_seed_swiss_vat_rates").seed_rates(django_apps, schema_editor=None)
    call_command("seed_demo")
    _demo_group_copies[today] = database_copy()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # A full page captured while the two cores run the server and the browser has taken more than the default
    # 10 s (a `make test` on 2026-12-07): the capture is evidence, not what the test waits for.
    page.screenshot(path=str(path), full_page=True, timeout=30_000)
    return path


def sign_in(page, username: str, password: str) -> None:
    page.goto(f"{page.base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
