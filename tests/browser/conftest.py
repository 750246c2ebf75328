import os
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.core.management import call_command
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


@pytest.fixture
def demo_group(transactional_db):
    """The seeded demo group.

    Live-server tests empty every table when they end, the Swiss VAT rates loaded by migration 0005
    included; the seed needs them, so they are loaded again the way that migration does.
    """
    import_module("finance.migrations.0005_seed_swiss_vat_rates").seed_rates(django_apps, schema_editor=None)
    call_command("seed_demo")


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, username: str, password: str) -> None:
    page.goto(f"{page.base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
