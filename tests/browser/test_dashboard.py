"""The CEO dashboard in Chromium: the demo group, desktop and phone, group and one company."""

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from dashboard import figures
from finance.models import Company, FxRate
from tests.browser.conftest import screenshot, sign_in
from tests.factories import BankAccountFactory, BankTransactionFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def dashboard_group(demo_group):
    """The demo group with Revolut accounts in francs and euros, a rate, and its history computed."""
    FxRate.objects.create(currency="EUR", rate=Decimal("0.9412"), rate_date=timezone.localdate(), source="revolut")
    hypervisual, dainamics = Company.objects.get(code="HV"), Company.objects.get(code="DA")
    francs = BankAccountFactory(company=hypervisual, currency="CHF", balance=Decimal("48250.00"))
    BankAccountFactory(company=dainamics, currency="EUR", balance=Decimal("12000.00"))
    for days_ago, amount in [(20, "-3200.00"), (12, "8400.00"), (4, "-1250.00")]:
        moment = timezone.now() - dt.timedelta(days=days_ago)
        BankTransactionFactory(company=hypervisual, account=francs, amount=Decimal(amount), created_on_bank=moment,
                               completed_at=moment, match_status="n/a")  # fmt: skip
    figures.figures_refresh()


def assert_fits(page, width: int) -> None:
    """Nothing wider than the screen, and every figure of a card carries its unit."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    values = page.locator("[data-kpi] [data-value]").all_inner_texts()
    assert len(values) == 9
    for value in values:
        assert value.startswith("CHF ") or value.endswith(" %") or value.strip().isdigit(), value
    assert "TODO" not in page.content()


def test_ceo_reads_snoozes_and_refreshes_the_group_dashboard(page, dashboard_group, celery_worker_process):
    sign_in(page, "ceo", settings.HV_DEMO_PASSWORD)
    page.wait_for_url(f"{page.base_url}/")
    page.wait_for_selector("#dashboard-revenue-charts .apexcharts-canvas")
    assert page.locator(".apexcharts-canvas").count() == 5
    assert page.locator(".page-title").inner_text() == "Vue du groupe"
    assert page.locator("[data-kpi=cash] [data-value]").inner_text() == "CHF 59'544.40"  # 48'250.00 + 12'000 × 0.9412
    assert "1 EUR = 0.9412 CHF" in page.locator("#dashboard-revenue-charts [data-testid=rates]").inner_text()
    assert page.locator("[data-testid=status-bar] [data-provider]").count() == 35
    assert_fits(page, 1440)
    screenshot(page, "dashboard-group")

    # Snoozing an item takes it away at once (HTMX), and it stays away after a reload.
    first = page.locator("[data-urgent]").first
    key = first.get_attribute("data-urgent")
    first.locator("select[name=for]").select_option("tomorrow")
    first.locator("button[type=submit]").click()
    page.wait_for_selector(f"[data-urgent='{key}']", state="detached")
    page.reload()
    page.wait_for_selector("[data-urgent]")
    assert page.locator(f"[data-urgent='{key}']").count() == 0

    # "Actualiser" hands the recompute to the worker; the button waits, then the server's HX-Trigger makes every
    # figure partial reload alone.
    with page.expect_response(lambda response: "/dashboard/parts/revenue/" in response.url, timeout=60_000) as reloaded:
        page.locator("form[action='/dashboard/refresh/'] button").click()
        page.wait_for_selector("[data-testid=refresh-pending]")
        screenshot(page, "dashboard-refreshing")
    assert reloaded.value.status == 200
    page.wait_for_selector("form[action='/dashboard/refresh/'] button")
    page.wait_for_selector("#dashboard-revenue [data-kpi=revenue_month]")
    assert page.broken == []

    # One company through the switcher.
    page.click("[data-testid=company-switcher] > a")
    page.click("[data-testid=company-switcher] button[value=HV]")
    page.wait_for_url(f"{page.base_url}/")
    page.wait_for_selector("#dashboard-revenue-charts .apexcharts-canvas")
    assert page.locator(".page-title").inner_text() == "HYPERVISUAL"
    assert page.locator("[data-kpi=cash] [data-value]").inner_text() == "CHF 48'250.00"
    assert page.locator("[data-testid=status-bar] [data-provider]").count() == 7
    assert_fits(page, 1440)
    screenshot(page, "dashboard-company")
    assert page.broken == []


@pytest.mark.parametrize("company", [None, "HV"])
def test_phone_width_dashboard_fits(chromium, live_server, dashboard_group, company):
    context = chromium.new_context(locale="fr-CH", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.base_url = live_server.url
    sign_in(page, "ceo", settings.HV_DEMO_PASSWORD)
    page.wait_for_url(f"{page.base_url}/")
    if company:
        page.click("[data-testid=company-switcher] > a")
        page.click(f"[data-testid=company-switcher] button[value={company}]")
        page.wait_for_url(f"{page.base_url}/")
    page.wait_for_selector("#dashboard-cash-chart .apexcharts-canvas")
    assert_fits(page, 390)
    screenshot(page, f"dashboard-phone-{company or 'group'}")
    context.close()


def test_dashboard_figures_without_javascript(chromium, live_server, dashboard_group):
    context = chromium.new_context(locale="fr-CH", java_script_enabled=False, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "ceo")
    page.fill("#id_password", settings.HV_DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("[data-kpi=cash] [data-value]").inner_text() == "CHF 59'544.40"
    assert page.locator("[data-testid=ageing] tr").count() == 5
    assert page.locator("[data-testid=forecast] [data-days]").count() == 3
    context.close()
