"""The dashboard page and its partials over HTTP: rendering alone or inside the page, snoozing, the status bar."""

import datetime as dt
import re
import time
from unittest import mock
from urllib.parse import quote, unquote

import pytest
from django.test import Client
from django.utils import timezone

from dashboard import figures
from dashboard.models import UrgentSnooze
from dashboard.views import PARTIALS
from finance.models import FxRate
from integrations.health import redis_client
from integrations.models import Connection, Provider
from integrations.resilience import FAILURE_THRESHOLD, CircuitBreaker
from tests.factories import MembershipFactory, UserFactory

PARTIAL_IDS = {name: f"dashboard-{name}" for name in PARTIALS}


@pytest.fixture
def browser(client, ceo):
    client.force_login(ceo)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def html_of(response) -> str:
    return response.content.decode()


@pytest.mark.django_db
def test_full_page_renders_every_partial_server_side(dataset, browser, django_assert_max_num_queries):
    with django_assert_max_num_queries(45):
        response = browser.get("/")
    page = html_of(response)
    assert response.status_code == 200
    for element_id in PARTIAL_IDS.values():
        assert page.count(f'id="{element_id}"') == 1, element_id
    # The figures are in the HTML itself, not fetched by script: the page works without JavaScript.
    assert 'data-kpi="receivables_open"' in page
    assert "3&#x27;853.75" in page
    assert "CHF <strong>" not in page
    assert 'hx-trigger="every 60s, hv:figures-refreshed from:body"' in page  # cash
    assert page.count('hx-trigger="every 300s, hv:figures-refreshed from:body"') == len(PARTIALS) - 1
    assert "1 EUR = 0.9500 CHF (20.11.2026)" in page
    assert "TODO" not in page


@pytest.mark.django_db
def test_full_page_reads_what_its_partials_share_once(dataset, browser):
    """Exchange rates (six partials), monthly revenue (cards, charts), open invoices by due date (three partials)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as page:
        assert browser.get("/").status_code == 200
    statements = [query["sql"] for query in page.captured_queries]
    assert sum("FROM finance_fxrate" in sql for sql in statements) == 1
    assert sum("dashboard_sales_month" in sql and "dashboard_purchase_month" not in sql for sql in statements) == 1
    assert sum("SUM(balance_due) AS balance," in sql for sql in statements) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(PARTIALS))
def test_each_partial_renders_alone_for_htmx_in_few_queries(
    name, dataset, browser, django_assert_max_num_queries
):  # fmt: skip
    with django_assert_max_num_queries(10):
        response = browser.get(f"/dashboard/parts/{name}/", HTTP_HX_REQUEST="true")
    fragment = html_of(response)
    assert response.status_code == 200
    assert fragment.lstrip().startswith("<div")
    assert "<html" not in fragment
    assert f'id="{PARTIAL_IDS[name]}"' in fragment
    # A background refresh does not renew the session: a dashboard left open still logs out when idle.
    assert "sessionid" not in response.cookies
    assert "Cookie" in response["Vary"]  # it depends on the session all the same


@pytest.mark.django_db
def test_partial_without_htmx_gets_the_whole_page(browser):
    response = browser.get("/dashboard/parts/revenue/")
    assert (response.status_code, response["Location"]) == (302, "/")
    assert browser.get("/dashboard/parts/nothing/", HTTP_HX_REQUEST="true").status_code == 404


@pytest.mark.django_db
def test_user_activity_still_renews_the_session(browser):
    assert "sessionid" in browser.get("/").cookies


@pytest.mark.django_db
def test_snoozed_item_stays_hidden_on_refresh_for_this_user_only(dataset, browser, ceo, company_a):
    before = html_of(browser.get("/dashboard/parts/urgent/", HTTP_HX_REQUEST="true"))
    assert 'data-urgent="overdue:QA"' in before

    response = browser.post("/dashboard/urgent/snooze/", {"key": "overdue:QA", "for": "tomorrow"},
                            HTTP_HX_REQUEST="true")  # fmt: skip
    assert response.status_code == 200
    assert 'data-urgent="overdue:QA"' not in html_of(response)
    assert 'data-urgent="overdue:QB"' in html_of(response)
    snooze = UrgentSnooze.objects.get(user=ceo, key="overdue:QA")
    tomorrow_morning = dt.datetime.combine(timezone.localdate() + dt.timedelta(days=1), dt.time(7, 0))
    assert timezone.localtime(snooze.until).replace(tzinfo=None) == tomorrow_morning

    # The next automatic refresh and a full reload keep it hidden.
    assert 'data-urgent="overdue:QA"' not in html_of(browser.get("/dashboard/parts/urgent/", HTTP_HX_REQUEST="true"))
    assert 'data-urgent="overdue:QA"' not in html_of(browser.get("/"))

    # Another user still sees it; once the time is over, it comes back.
    other = UserFactory()
    MembershipFactory(user=other, company=company_a, role="ceo")
    browser.force_login(other)
    assert 'data-urgent="overdue:QA"' in html_of(browser.get("/dashboard/parts/urgent/", HTTP_HX_REQUEST="true"))
    browser.force_login(ceo)
    UrgentSnooze.objects.filter(pk=snooze.pk).update(until=timezone.now() - dt.timedelta(seconds=1))
    assert 'data-urgent="overdue:QA"' in html_of(browser.get("/dashboard/parts/urgent/", HTTP_HX_REQUEST="true"))


@pytest.mark.django_db
def test_an_urgent_item_s_form_carries_the_page_s_csrf_token_and_snoozes_without_javascript(dataset, ceo):
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(ceo)
    page = html_of(client.get("/"))
    urgent = page[page.index('id="dashboard-urgent"') : page.index('id="dashboard-revenue"')]
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    in_urgent = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', urgent)
    assert len(in_urgent) == urgent.count('action="/dashboard/urgent/snooze/"') >= 2
    assert set(in_urgent) == set(tokens)  # the navbar's forms (language, sign out) and the items' forms: one token
    assert [len(token) for token in set(tokens)] == [64]

    assert client.post("/dashboard/urgent/snooze/", {"key": "overdue:QA", "for": "1h"}).status_code == 403
    response = client.post(
        "/dashboard/urgent/snooze/", {"csrfmiddlewaretoken": tokens[0], "key": "overdue:QA", "for": "1h"}
    )
    assert (response.status_code, response["Location"]) == (302, "/")
    assert list(UrgentSnooze.objects.filter(user=ceo).values_list("key", flat=True)) == ["overdue:QA"]


@pytest.mark.django_db
def test_snooze_refuses_unknown_durations_and_keys(browser, ceo):
    response = browser.post("/dashboard/urgent/snooze/", {"key": "overdue:QA", "for": "forever"},
                            HTTP_HX_REQUEST="true")  # fmt: skip
    assert response.status_code == 400
    assert html_of(response) == "Choose how long to hide the item: one hour, until tomorrow or one week."
    response = browser.post("/dashboard/urgent/snooze/", {"key": "<script>", "for": "1h"}, HTTP_HX_REQUEST="true")
    assert (response.status_code, html_of(response)) == (400, "This item cannot be hidden.")
    assert not UrgentSnooze.objects.exists()
    # Without JavaScript: back to the page with the error as a message.
    response = browser.post("/dashboard/urgent/snooze/", {"key": "overdue:QA", "for": "forever"}, follow=True)
    assert "Choose how long to hide the item" in html_of(response)


def connection(company, provider, **fields) -> Connection:
    made = Connection(company=company, provider=provider, base_url="https://provider.example/api", **fields)
    made.set_secrets(api_token="secret-token")
    made.save()
    return made


def pills(page: str) -> dict[tuple[str, str], str]:
    found = re.findall(r'data-provider="([a-z_]+)" data-company="([A-Z]+)" data-state="([a-z_]+)"', page)
    return {(company, provider): state for provider, company, state in found}


@pytest.mark.django_db
def test_status_bar_states_come_from_probes_and_calls(browser, company_a, company_b):
    now = timezone.now()
    connection(company_a, Provider.INVOICE_NINJA, last_probe_at=now, last_probe_ok=True)
    connection(company_a, Provider.MAUTIC, last_probe_at=now - dt.timedelta(hours=1), last_probe_ok=True,
               last_failure_at=now, last_failure_detail='HTTP 503 "Service <Unavailable>"')  # fmt: skip
    connection(company_b, Provider.INVOICE_NINJA, last_success_at=now)
    for _ in range(FAILURE_THRESHOLD):
        CircuitBreaker(Provider.INVOICE_NINJA, company_b.code).record_failure()
    connection(company_b, Provider.MAUTIC)  # saved but never tested: a setting is not a connection
    connection(company_a, Provider.REVOLUT, last_success_at=now, consent_granted_at=now - dt.timedelta(days=85),
               consent_expires_at=now + dt.timedelta(days=5))  # fmt: skip
    connection(company_b, Provider.REVOLUT, consent_required=True, last_success_at=now)

    redis = redis_client()
    with mock.patch.object(redis, "mget", wraps=redis.mget) as circuits_read:
        page = html_of(browser.get("/dashboard/parts/status/", HTTP_HX_REQUEST="true"))
    # The five connections that call their provider (not QB's Revolut, whose consent is to renew): their circuits,
    # two keys each, in one round trip to Redis.
    assert circuits_read.call_count == 1
    assert len(circuits_read.call_args.args[0]) == 5 * 2
    states = pills(page)
    assert states[("QA", "invoice_ninja")] == "connected"
    assert states[("QA", "mautic")] == "down"
    assert states[("QB", "invoice_ninja")] == "degraded"
    assert states[("QB", "mautic")] == "down"
    assert states[("QA", "revolut")] == "degraded"  # consent ending within 7 days
    assert states[("QB", "revolut")] == "down"  # consent to renew
    for provider in ("docuseal", "erpnext", "openai"):
        assert states[("QA", provider)] == states[("QB", provider)] == "not_configured"
    assert states[("QA", "directus")] == states[("QB", "directus")] == "down"  # no health answer kept
    assert len(states) == 14
    assert 'href="/integrations/mautic/QA/"' in page
    assert 'title="Mautic: Down — HTTP 503 &quot;Service &lt;Unavailable&gt;&quot;"' in page  # escaped once, whole


def test_refresh_hands_the_recompute_to_the_worker_and_reloads_the_partials_when_done(
    browser, member_of, company_a, celery_worker_process
):
    response = browser.post("/dashboard/refresh/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "HX-Trigger" not in response
    waiting = html_of(response)
    assert 'data-testid="refresh-pending"' in waiting
    since = re.search(r'hx-get="/dashboard/refresh/status/\?since=([^"]+)" hx-trigger="load delay:2s"', waiting)
    assert since is not None
    requested_at = dt.datetime.fromisoformat(unquote(since.group(1)))
    deadline = time.monotonic() + 60
    while True:
        polled = browser.get(f"/dashboard/refresh/status/?since={since.group(1)}", HTTP_HX_REQUEST="true")
        assert polled.status_code == 200
        if "HX-Trigger" in polled or time.monotonic() > deadline:
            break
        assert 'data-testid="refresh-pending"' in html_of(polled)
        time.sleep(0.5)
    assert polled["HX-Trigger"] == '{"hv:figures-refreshed": {}}'
    assert 'data-testid="refresh-pending"' not in html_of(polled)
    assert "History as of" in html_of(polled)
    assert figures.figures_refreshed_at() >= requested_at
    sales = member_of(company_a, "sales")
    browser.force_login(sales)
    assert browser.post("/dashboard/refresh/", HTTP_HX_REQUEST="true").status_code == 403


@pytest.mark.django_db
def test_refresh_status_waits_for_a_newer_history_and_refuses_a_malformed_time(browser, company_a):
    figures.figures_refresh()
    future = quote((timezone.now() + dt.timedelta(minutes=5)).isoformat())
    waiting = browser.get(f"/dashboard/refresh/status/?since={future}", HTTP_HX_REQUEST="true")
    assert (waiting.status_code, "HX-Trigger" in waiting) == (200, False)
    assert 'data-testid="refresh-pending"' in html_of(waiting)
    past = quote((timezone.now() - dt.timedelta(minutes=5)).isoformat())
    done = browser.get(f"/dashboard/refresh/status/?since={past}", HTTP_HX_REQUEST="true")
    assert done["HX-Trigger"] == '{"hv:figures-refreshed": {}}'
    for since in ("", "yesterday", "2026-12-06T10:00:00"):
        refused = browser.get(f"/dashboard/refresh/status/?since={since}", HTTP_HX_REQUEST="true")
        assert (refused.status_code, refused.content) == (400, b"Say since when the figures are awaited.")
    assert browser.get("/dashboard/refresh/status/?since=%00", HTTP_HX_REQUEST="true").status_code == 400
    assert browser.get(f"/dashboard/refresh/status/?since={past}").status_code == 302


@pytest.mark.django_db
def test_missing_rate_leaves_euros_out_and_says_so(dataset, browser):
    FxRate.objects.all().delete()
    page = html_of(browser.get("/"))
    assert "EUR not included: no exchange rate stored" in page
    assert "No exchange rate stored: amounts in other currencies are not converted." in page


@pytest.mark.django_db
def test_failed_actions_page_lists_them_with_retry(dataset, browser):
    page = html_of(browser.get("/dashboard/failed-actions/?company=QA"))
    assert "revolut.payout" in page
    assert "HTTP 500" in page
    assert "Retry" in page


@pytest.mark.django_db
def test_failed_actions_and_drifts_cost_the_same_queries_for_more_rows(dataset, browser, company_a):
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from finance.models import Invoice
    from integrations.models import ActionRun, SyncDrift

    def counts():
        with CaptureQueriesContext(connection) as failed_page:
            browser.get("/dashboard/failed-actions/")
        with CaptureQueriesContext(connection) as urgent:
            browser.get("/dashboard/parts/urgent/", HTTP_HX_REQUEST="true")
        return len(failed_page), len(urgent)

    invoice_type = ContentType.objects.get_for_model(Invoice)

    def add(count: int, start: int) -> None:
        for index, invoice in enumerate(Invoice.objects.exclude(number="")[:count], start=start):
            ActionRun.objects.create(action="mautic.reminder", company=invoice.company, target_type=invoice_type,
                                     target_id=invoice.pk, idempotency_key=f"more-{index}", status="failed",
                                     finished_at=timezone.now())  # fmt: skip
            SyncDrift.objects.create(company=invoice.company, provider="invoice_ninja", target_type=invoice_type,
                                     target_id=invoice.pk, kind=f"amount-{index}", detail=f"drift {index}")  # fmt: skip

    add(2, 0)
    counts()  # the first request renews the session (a write of its own); the next minute's requests do not
    few = counts()
    add(6, 10)
    assert counts() == few
