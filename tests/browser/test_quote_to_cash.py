"""The quote-to-cash walk of issue 3 in Chromium, in French, each step checked in PostgreSQL and screenshotted."""

import re
import shutil
import subprocess
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from finance.models import Client, DocumentSequence, Invoice, Quote
from tests.browser.conftest import SCREENSHOTS, screenshot, sign_in

pytestmark = pytest.mark.browser

D = Decimal


def post_button(page, action_suffix: str) -> None:
    """Click the button of the page-action form posting to a URL ending with `action_suffix`; wait for the page."""
    with page.expect_navigation():
        page.click(f".page-header form[action$='{action_suffix}'] button[type=submit]")


def next_number(company, family: str, year: int) -> int:
    sequence = DocumentSequence.objects.filter(company=company, family=family, year=year).first()
    return (sequence.last_number if sequence else 0) + 1


def test_staff_user_runs_a_quote_to_cash(page, demo_group):
    sign_in(page, "hv.finance", settings.HV_DEMO_PASSWORD)
    page.wait_for_url(f"{page.base_url}/")

    # 1. A new client.
    page.click("text=Clients")
    page.click("text=Nouveau client")
    page.fill("#id_name", "Boulangerie Python Sàrl")
    page.fill("#id_street", "Rue de Lausanne")
    page.fill("#id_building_number", "42")
    page.fill("#id_postal_code", "1700")
    page.fill("#id_town", "Fribourg")
    page.fill("#id_email", "compta@boulangerie-python.ch")
    page.click(".page-body form button[type=submit]")
    page.wait_for_url(re.compile(r"/clients/\d+/$"))
    client = Client.objects.get(name="Boulangerie Python Sàrl")
    assert page.url == f"{page.base_url}/clients/{client.pk}/"
    assert (client.company.code, client.postal_code, client.language) == ("HV", "1700", "fr")
    screenshot(page, "q2c-1-client")

    # 2. A three-line quote with two VAT rates, lines added with HTMX, totals live.
    page.click("text=Nouveau devis")
    page.fill("#id_title", "Vitrine numérique")
    page.select_option("#id_project_type", "consulting")
    page.fill("[name=lines-0-description]", "Écran LED 55 pouces")
    page.fill("[name=lines-0-quantity]", "2")
    page.fill("[name=lines-0-unit]", "pce")
    page.fill("[name=lines-0-unit_price]", "1250")
    page.click("text=Ajouter une ligne")
    page.fill("[name=lines-1-description]", "Installation")
    page.fill("[name=lines-1-quantity]", "6")
    page.fill("[name=lines-1-unit]", "h")
    page.fill("[name=lines-1-unit_price]", "120")
    page.fill("[name=lines-1-discount_percent]", "10")
    page.click("text=Ajouter une ligne")
    page.fill("[name=lines-2-description]", "Guide imprimé")
    page.fill("[name=lines-2-quantity]", "10")
    page.fill("[name=lines-2-unit_price]", "12.50")
    page.select_option("[name=lines-2-vat_code]", "reduced")
    # 2'500.00 + 648.00 at 8.1 % (VAT 202.50 + 52.49), 125.00 at 2.6 % (VAT 3.25): 3'531.24, rounded 3'531.25.
    page.wait_for_function("() => document.querySelector('#document-totals').innerText.includes(\"3'531.25\")")
    assert page.locator("#line-net-1").inner_text() == "648.00"
    screenshot(page, "q2c-2-quote-editor")
    page.click("text=Enregistrer le devis")
    page.wait_for_url(re.compile(r"/quotes/\d+/$"))
    quote = Quote.objects.get(title="Vitrine numérique")
    assert page.url == f"{page.base_url}/quotes/{quote.pk}/"
    assert (quote.net_total, quote.vat_total, quote.rounding, quote.payable_total) == (
        D("3273.00"), D("258.24"), D("0.01"), D("3531.25")
    )  # fmt: skip
    assert quote.deposit_percent == D("30.00")

    # 3. Sent (numbered after the demo's quotes of the year), then signed.
    year = timezone.localdate().year
    expected_number = f"HV-DEV-{year}-{next_number(quote.company, 'quote', year):04d}"
    post_button(page, "/send/")
    post_button(page, "/signed/")
    quote.refresh_from_db()
    assert (quote.status, quote.number) == ("signed", expected_number)
    assert "Devis signé" in page.locator(".timeline").inner_text()
    screenshot(page, "q2c-3-quote-signed")

    # 4. The deposit invoice, issued.
    post_button(page, "/invoice/deposit/")
    deposit = Invoice.objects.get(quote=quote, kind="deposit")
    assert page.url == f"{page.base_url}/invoices/{deposit.pk}/"
    expected_number = f"HV-{year}-{next_number(quote.company, 'invoice', year):04d}"
    post_button(page, "/issue/")
    deposit.refresh_from_db()
    # 30 % of each rate's base: 944.40 at 8.1 % (76.50) and 37.50 at 2.6 % (0.98): 1'059.38, rounded 1'059.40.
    assert (deposit.status, deposit.net_total, deposit.vat_total, deposit.payable_total) == (
        "issued", D("981.90"), D("77.48"), D("1059.40")
    )  # fmt: skip
    assert deposit.number == expected_number
    assert len(deposit.qr_reference) == 27
    screenshot(page, "q2c-4-deposit-issued")

    # 5. Its PDF, downloaded.
    with page.expect_download() as download_info:
        page.click(".page-header a[href$='/pdf/']")
    download = download_info.value
    assert download.suggested_filename == f"{deposit.number}.pdf"
    pdf_path = SCREENSHOTS / download.suggested_filename
    download.save_as(pdf_path)
    pdftotext, pdftoppm = shutil.which("pdftotext"), shutil.which("pdftoppm")
    assert pdftotext, "poppler-utils is missing: apt-get install poppler-utils (.ci/run does)"
    assert pdftoppm
    text = subprocess.run([pdftotext, str(pdf_path), "-"], capture_output=True, text=True, check=True).stdout
    assert deposit.number in text
    assert "1'059.40" in text
    subprocess.run([pdftoppm, "-r", "60", "-png", "-singlefile", str(pdf_path), str(SCREENSHOTS / "q2c-5-pdf")])

    # 6. A partial payment.
    with page.expect_navigation():
        page.click(".page-header a:has-text('Enregistrer un paiement')")
    assert page.input_value("#id_amount") == "1059.40"
    page.fill("#id_amount", "500.00")
    page.fill(f"#id_allocate_{deposit.pk}", "500.00")
    page.fill("#id_reference", "Virement Raiffeisen")
    with page.expect_navigation():
        page.click(".page-body form button[type=submit]")
    assert page.url == f"{page.base_url}/invoices/{deposit.pk}/"
    deposit.refresh_from_db()
    assert deposit.status == "partially_paid"
    assert page.locator("#balance-due").inner_text() == "CHF 559.40"
    screenshot(page, "q2c-6-partial-payment")

    # 7. The balance invoice.
    page.goto(f"{page.base_url}/quotes/{quote.pk}/")
    post_button(page, "/invoice/balance/")
    balance = Invoice.objects.get(quote=quote, kind="balance")
    assert page.url == f"{page.base_url}/invoices/{balance.pk}/"
    # The rest of each base: 2'203.60 at 8.1 % (178.49) and 87.50 at 2.6 % (2.28): 2'471.87, rounded 2'471.85.
    assert (balance.net_total, balance.vat_total, balance.payable_total) == (D("2291.10"), D("180.77"), D("2471.85"))
    quote.refresh_from_db()
    assert quote.status == "converted"
    screenshot(page, "q2c-7-balance-invoice")
    assert page.broken == []
