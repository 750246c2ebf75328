"""Invoice Ninja in Chromium and in French: the settings page, then an invoice sent through it and paid there.

No Celery worker here: the send run and the reconciliation a worker would run are run in the test process,
against the sandbox over HTTP, so each page can be looked at in a known state.
"""

from decimal import Decimal

import pytest

from finance.models import Company, Invoice
from finance.services import invoice_ninja
from integrations import selectors as integration_selectors
from integrations.actions import execute_action_run
from integrations.models import ActionRun, Provider
from sandbox import invoice_ninja as sandbox
from tests.browser.conftest import screenshot, sign_in

pytestmark = pytest.mark.browser

D = Decimal
TOKEN = "hv-browser-invoice-ninja"


def test_invoice_ninja_set_up_then_an_invoice_sent_and_paid_there(page, demo_group, settings, live_server):
    settings.HV_PUBLIC_URL = live_server.url
    sandbox.ensure_company(TOKEN, "HYPERVISUAL")
    sign_in(page, "ceo", settings.HV_DEMO_PASSWORD)
    page.wait_for_url(f"{page.base_url}/")

    # 1. Settings: address and token, the connection test, then the webhooks registered in one click.
    page.goto(f"{page.base_url}/integrations/invoice_ninja/HV/")
    page.fill("#id_base_url", f"{live_server.url}/sandbox/invoice-ninja")
    page.fill("#id_api_token", TOKEN)
    page.click(".page-body form.card button[type=submit]")
    page.wait_for_selector(".toast.text-bg-success")
    page.click("form[action$='/invoice_ninja/HV/test/'] button")
    page.wait_for_selector(".toast.text-bg-success")
    page.click("form[action$='/invoice_ninja/HV/webhook/'] button")
    page.wait_for_selector(".toast.text-bg-success")
    states = page.locator("[data-testid=webhook-state] tbody tr td:last-child").all_inner_texts()
    assert states == ["Enregistré"] * 8
    assert page.inner_text("[data-status]") == "Connectée"
    assert len(sandbox.list_webhooks(TOKEN)) == 8
    screenshot(page, "invoice-ninja-settings")

    # 2. An issued invoice of HYPERVISUAL, sent through Invoice Ninja from its page.
    company = Company.objects.get(code="HV")
    invoice = (
        Invoice.objects.filter(company=company, status="issued", kind__in=["standard", "deposit", "balance"])
        .exclude(client__email="")
        .order_by("pk")
        .first()
    )
    page.goto(f"{page.base_url}{invoice.get_absolute_url()}")
    page.click(f"form[action$='/invoices/{invoice.pk}/invoice-ninja/'] button")
    page.wait_for_selector(".toast.text-bg-success")
    run = ActionRun.objects.get(action="invoice_ninja.send", target_id=invoice.pk)
    execute_action_run(run.pk)
    page.reload()
    assert page.inner_text("[data-testid=invoice-ninja-status]") == "Envoyée"
    link = page.get_attribute("[data-testid=invoice-ninja-link]", "href")
    assert link.startswith(f"{live_server.url}/sandbox/invoice-ninja/client/invoice/")

    # 3. The client pays; Invoice Ninja records it; the reconciliation brings it into the Hub.
    there = next(found for found in sandbox.list_invoices(TOKEN) if found["number"] == invoice.number)
    sandbox.record_payment(TOKEN, invoice_id=there["id"], amount=invoice.payable_total,
                           transaction_reference="Virement client")  # fmt: skip
    connection = integration_selectors.connection_get(company, Provider.INVOICE_NINJA)
    invoice_ninja.reconcile(connection)
    page.reload()
    assert page.inner_text("[data-testid=invoice-ninja-status]") == "Payée"
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    assert page.broken == []
    screenshot(page, "invoice-ninja-invoice")
