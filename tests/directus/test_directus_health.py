"""The Directus pill of the status bar, from a real Directus's /server/health: connected while it runs, down once
it is stopped (a second Directus on the test database, started and stopped by the test)."""

import secrets

from django.test import Client
from django.utils import translation

from finance.models import Role
from integrations import directus as directus_admin
from integrations.health import DIRECTUS_HEALTH_KEY, redis_client
from tests.conftest import DIRECTUS_ADMIN_EMAIL, DIRECTUS_ADMIN_PASSWORD, DIRECTUS_ADMIN_TOKEN, free_port


def directus_pill(browser: Client) -> tuple[str, str]:
    page = browser.get("/dashboard/parts/status/", HTTP_HX_REQUEST="true").content.decode()
    state = page.split('data-provider="directus" data-company="QA" data-state="')[1].split('"')[0]
    return state, page


def test_the_pill_is_connected_while_directus_runs_and_down_once_stopped(
    directus, transactional_db, company_a, member_of, settings, tmp_path
):
    from scripts import directus_server
    from tests.conftest import database_url_of_test_database

    instance = directus_server.configure(
        config=tmp_path / "directus.env", database_url=database_url_of_test_database(), port=free_port(),
        secret=secrets.token_hex(32), admin_email=DIRECTUS_ADMIN_EMAIL, admin_password=DIRECTUS_ADMIN_PASSWORD,
        admin_token=DIRECTUS_ADMIN_TOKEN,
    )  # fmt: skip
    settings.HV_DIRECTUS_URL, settings.HV_DIRECTUS_TOKEN = instance.url, DIRECTUS_ADMIN_TOKEN
    redis_client().delete(DIRECTUS_HEALTH_KEY)
    browser = Client()
    browser.force_login(member_of(company_a, Role.CEO))
    process = directus_server.start(instance, tmp_path / "directus.log")
    try:
        with translation.override("fr"):  # the answer is kept in the words of whoever probed
            assert directus_admin.health_probe()["state"] == "connected"
        state, page = directus_pill(browser)
        assert state == "connected"
        assert "/server/health a répondu « ok »." in page
    finally:
        directus_server.stop(process)

    result = directus_admin.health_probe()
    assert result["state"] == "down"
    assert result["detail"].startswith(("ConnectionError: no answer from 127.0.0.1", "Calls to directus"))
    assert directus_pill(browser)[0] == "down"
