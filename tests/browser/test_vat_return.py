"""Groupe → TVA in Chromium and in French, on the demo data: the CEO opens a quarter of HYPERVISUAL, reads its
figures and the documents behind them, and downloads the PDF, the XLSX and the accountant's ZIP."""

import datetime
import zipfile

import pytest
from django.conf import settings
from django.utils import timezone

from finance import vat_return
from finance.models import Company
from tests.browser.conftest import screenshot, sign_in

pytestmark = pytest.mark.browser


def test_the_ceo_opens_a_demo_quarter_and_downloads_its_pdf_and_xlsx(page, demo_group):
    company = Company.objects.get(code="HV")
    current = vat_return.period_containing(company, timezone.localdate())
    start, end = vat_return.period_containing(company, current[0] - datetime.timedelta(days=1))  # the last one over
    expected = vat_return.vat_return_compute(company=company, start=start, end=end)
    assert expected.figures["303"].amount > 0  # the demo issues invoices every month
    sign_in(page, "ceo", settings.HV_DEMO_PASSWORD)
    page.wait_for_url(f"{page.base_url}/")

    page.goto(f"{page.base_url}/vat/")
    page.click(f"[data-company=HV] a[href='/vat/HV/{start:%Y-%m-%d}/']")
    page.wait_for_selector("[data-testid=vat-figures]")
    assert (
        page.locator(".page-title")
        .inner_text()
        .startswith(f"HV\nDécompte TVA {vat_return.period_label(company, start)}")
    )
    row = page.locator("[data-testid=vat-figures] tr[data-code='303']")
    assert row.locator(
        "[data-testid=amount]"
    ).inner_text() == "CHF " + f"{expected.figures['303'].amount:,.2f}".replace(",", "'")
    screenshot(page, "vat-return-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "vat-return-390")
    page.set_viewport_size({"width": 1440, "height": 900})

    row.locator("a").click()
    assert page.url.endswith("#figure-303")
    with page.expect_download() as download_info:
        page.click("[data-testid=download-pdf]")
    download = download_info.value
    assert download.suggested_filename == f"tva-HV-{vat_return.period_label(company, start).replace(' ', '-')}.pdf"
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    with page.expect_download() as xlsx_info:
        page.click("a[href$='/xlsx/']")
    assert xlsx_info.value.suggested_filename.endswith(".xlsx")
    with page.expect_download() as zip_info:
        page.click("[data-testid=download-zip]")
    label = vat_return.period_label(company, start).replace(" ", "-")
    assert zip_info.value.suggested_filename == f"comptabilite-HV-{label}.zip"
    with zipfile.ZipFile(zip_info.value.path()) as pack:
        names = pack.namelist()
    assert {"journal.csv", "journal.xlsx", "open-debtors.csv", "vat-return.pdf"} <= set(names)
    assert any(name.startswith("documents/HV-") for name in names)
    assert page.broken == []
