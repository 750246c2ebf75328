"""Directus' admin app on the Hub's database, as a Directus admin sees it after `directus_configure`."""

import pytest

from tests.browser.conftest import screenshot
from tests.conftest import DIRECTUS_ADMIN_EMAIL, DIRECTUS_ADMIN_PASSWORD

pytestmark = pytest.mark.browser


def test_directus_shows_the_hub_collections_with_readable_names(chromium, directus_hub, demo_group):
    context = chromium.new_context(locale="en-US", viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{directus_hub.url}/admin/login")
        page.fill("input[type=email]", DIRECTUS_ADMIN_EMAIL)
        page.fill("input[type=password]", DIRECTUS_ADMIN_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/admin/content**")
        # Directus 11 (BSL 1.1) asks for a project owner at sign-in; registering one would call Directus' servers.
        page.get_by_role("button", name="Remind Later").click()
        for name in ("Master data", "Quotes and invoices", "Records (read only)", "Clients", "Quote lines"):
            page.get_by_text(name, exact=True).first.wait_for()
        names = page.inner_text("body")
        # Django's own tables are hidden; raw table names appear nowhere.
        for hidden in ("auth_user", "django_session", "finance_client", "Auth User", "Django Session"):
            assert hidden not in names
        screenshot(page, "directus-collections")

        page.goto(f"{directus_hub.url}/admin/content/finance_client")
        page.get_by_text("Clients", exact=True).first.wait_for()
        # Directus draws the table before its items arrive (one placeholder row): wait for the fifth client.
        page.locator(".v-table tbody tr").nth(4).wait_for()
        rows = page.locator(".v-table tbody tr").count()
        page.wait_for_timeout(500)
        screenshot(page, "directus-clients")
    finally:
        context.close()
    # The seeded group's clients, read by Directus from the same tables the Hub writes.
    assert rows >= 5
