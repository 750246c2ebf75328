"""ERPNext in Chromium and in French: a company connected to its sandbox site from the settings page, its critical
stock read, a stock level changed in the sandbox, and the ERPNext page and the dashboard following the next read.

Celery runs eagerly in the live server's threads: "Lire ERPNext maintenant" reads the sandbox over HTTP before
the page comes back, so each page is looked at in a known state (the real worker runs the beat task in
tests/integrations/test_erpnext.py).
"""

import pytest
from django.utils import timezone

from finance.models import Role
from hypervisual.celery import app as celery_app
from integrations.models import ErpnextStockShortage
from sandbox import erpnext as sandbox
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.factories import CompanyFactory

pytestmark = pytest.mark.browser

KEY, SECRET = "hv-browser-erpnext", "browser-secret"


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def stock_company(transactional_db, member_of, settings, live_server):
    settings.HV_PUBLIC_URL = live_server.url
    company = CompanyFactory(code="QE", name="Entrepôts Léman SA")
    ceo = member_of(company, Role.CEO, "browser-erpnext-ceo")
    sandbox.clear()
    sandbox.site_add("qe", api_key=KEY, api_secret=SECRET, user="hub@qe.example.ch")
    sandbox.company_seed("qe", company=company.name, abbr="QE", currency="CHF", today=timezone.localdate(),
                         suppliers=[])  # fmt: skip
    yield company, ceo
    sandbox.clear()


def critical_items(page) -> list[str]:
    return page.eval_on_selector_all(
        "[data-testid=critical-stock] tr[data-item]", "rows => rows.map(r => r.dataset.item)"
    )


def test_connect_read_change_stock_and_see_the_hub_follow(page, stock_company, eager_celery):
    company, ceo = stock_company
    sign_in(page, ceo.username, PASSWORD)
    page.wait_for_url(f"{page.base_url}/")

    page.goto(f"{page.base_url}/integrations/erpnext/QE/")
    page.fill("#id_base_url", f"{page.base_url}/sandbox/erpnext/qe")
    assert page.input_value("#id_erpnext_company") == "Entrepôts Léman SA"  # the Hub's name as a starting point
    page.fill("#id_api_key", KEY)
    page.fill("#id_api_secret", SECRET)
    page.click("form.card button[type=submit]")
    page.wait_for_selector(".toast.text-bg-success")
    page.click("form[action$='/integrations/erpnext/QE/test/'] button")
    page.wait_for_selector(".toast.text-bg-success")
    assert "Connecté en tant que hub@qe.example.ch" in page.inner_text("[data-testid=last-probe]")

    page.goto(f"{page.base_url}/erpnext/?company=QE")
    assert page.inner_text("[data-testid=snapshot-age]").strip() == "Jamais lu"
    page.click("form[action$='/erpnext/sync/'] button")
    page.wait_for_selector(".toast.text-bg-success")
    assert critical_items(page) == ["QE-CABLE-PWR", "QE-LED-P26"]
    led = page.locator("[data-testid=critical-stock] tr[data-item=QE-LED-P26]")
    assert led.locator("[data-testid=actual]").inner_text() == "12 Nos"
    assert "CHF 12’800.00" in led.inner_text() or "CHF 12'800.00" in led.inner_text()
    assert page.locator("[data-testid=late]").count() == 1
    assert page.locator("[data-testid=stale]").count() == 0
    screenshot(page, "erpnext-page-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "erpnext-page-390")
    page.set_viewport_size({"width": 1440, "height": 900})

    page.goto(f"{page.base_url}/")
    urgent = page.locator("a[href='/erpnext/?company=QE#stock']")
    assert "2 articles au niveau de réapprovisionnement ou en dessous (ERPNext)" in urgent.inner_text()

    page.goto(f"{page.base_url}/sandbox/erpnext/")
    row = page.locator("[data-site=qe] tr[data-item=QE-LED-P26]")
    row.locator("input[name=actual_qty]").fill("50")
    row.locator("button[type=submit]").click()
    page.wait_for_selector(".toast.text-bg-success")

    page.goto(f"{page.base_url}/erpnext/?company=QE")
    assert critical_items(page) == ["QE-CABLE-PWR", "QE-LED-P26"]  # nothing changes before the next read
    page.click("form[action$='/erpnext/sync/'] button")
    page.wait_for_selector(".toast.text-bg-success")
    assert critical_items(page) == ["QE-CABLE-PWR"]
    assert list(ErpnextStockShortage.objects.filter(company=company).values_list("item_code", flat=True)) == [
        "QE-CABLE-PWR"
    ]
    page.goto(f"{page.base_url}/")
    urgent = page.locator("a[href='/erpnext/?company=QE#stock']")
    assert "1 article au niveau de réapprovisionnement ou en dessous (ERPNext)" in urgent.inner_text()
    assert page.broken == []
