"""Revolut in Chromium and in French: connecting a company, its balances, reconciliation and a supplier payout.

No Celery worker here: the steps a worker would run (sync, the payout run) are run in the test process,
against the sandbox over HTTP, so each page can be looked at in a known state.
"""

import datetime
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from finance.models import BankAccount, BankTransaction, Company, FxRate, Invoice, OutgoingPayment, SupplierInvoice
from finance.services import purchases
from finance.services.purchases import SupplierLineInput
from finance.services.revolut import revolut_sync, transactions_sync
from integrations import selectors as integration_selectors
from integrations.actions import execute_action_run
from integrations.models import ActionRun, Provider
from sandbox import revolut as sandbox
from tests.browser.conftest import screenshot, sign_in
from tests.factories import SupplierFactory

pytestmark = pytest.mark.browser

D = Decimal


def test_revolut_connected_synced_reconciled_and_paying_a_supplier(page, demo_group, settings, live_server):
    settings.HV_PUBLIC_URL = live_server.url
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, "ceo", settings.HV_DEMO_PASSWORD)
    page.wait_for_url(f"{page.base_url}/")

    # 1. Connect HYPERVISUAL to the sandbox from the Integrations page: settings, consent, webhook, test.
    page.click('aside >> text="Intégrations"')
    page.click("a[href$='/integrations/revolut/HV/']")
    sandbox_url = f"{live_server.url}/sandbox/revolut"
    page.fill("#id_base_url", f"{sandbox_url}/api/1.0")
    page.fill("#id_consent_url", f"{sandbox_url}/app-confirm")
    page.fill("#id_client_id", "hv-browser")
    page.check("#id_generate_key")
    page.click(".page-body form.card button[type=submit]")
    page.wait_for_selector("[data-testid=certificate]")
    page.click(".alert-warning button[type=submit]")
    page.wait_for_url(re.compile(r"/sandbox/revolut/app-confirm"))
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/integrations/revolut/HV/$"))
    page.click("form[action$='/revolut/HV/webhook/'] button")
    page.wait_for_selector(".toast.text-bg-success")
    page.click("form[action$='/revolut/HV/test/'] button")
    page.wait_for_selector(".toast.text-bg-success")
    connection = integration_selectors.connection_get(demo_group_company(), Provider.REVOLUT)
    assert connection.consent_granted_at is not None
    assert connection.last_probe_ok is True
    assert connection.config["webhook_url"] == f"{live_server.url}/webhooks/revolut/HV/"
    assert page.inner_text("[data-testid=webhook-url]") == f"{live_server.url}/webhooks/revolut/HV/"
    screenshot(page, "revolut-connection")

    # 2. Balances, as the minute's sync reads them, with the group total in CHF at Revolut's rate.
    revolut_sync(connection)
    assert {(a.currency, a.balance) for a in BankAccount.objects.filter(connection=connection)} == {
        ("CHF", D("250000.00")), ("EUR", D("40000.00"))
    }  # fmt: skip
    rate = FxRate.objects.get(currency="EUR")
    page.click('aside >> text="Comptes"')
    body = page.inner_text(".page-body")
    assert rate.rate == D("0.9372")
    assert "CHF 250'000.00" in body
    assert f"EUR 40'000.00 au taux EUR→CHF 0.9372 du {rate.rate_date:%d.%m.%Y} = CHF 37'488.00" in body
    assert "CHF 287'488.00" in body
    screenshot(page, "bank-accounts")

    # 3. Two transfers arrive: one pays an issued invoice by its QR reference, one names no invoice.
    invoice = (
        Invoice.objects.filter(company__code="HV", status="issued", currency="CHF").exclude(qr_reference="").first()
    )
    due = invoice.payable_total
    client_id = connection.config["client_id"]
    sandbox.inject_incoming_transfer(client_id=client_id, currency="CHF", amount=due, reference=invoice.qr_reference,
                                     payer_name=invoice.client.name, state="completed")  # fmt: skip
    sandbox.inject_incoming_transfer(
        client_id=client_id, currency="CHF", amount=D("777.70"), reference="Virement divers", payer_name="Inconnu SA"
    )
    for transaction in sandbox.get_business(client_id)["transactions"]:
        sandbox.settle_transaction(client_id=client_id, transaction_id=transaction["id"])
    transactions_sync(connection)
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"
    assert BankTransaction.objects.get(company__code="HV", amount=due, reference=invoice.qr_reference).match_status == (
        "matched"
    )
    assert BankTransaction.objects.get(company__code="HV", amount=D("777.70")).match_status == "unmatched"
    page.click('aside >> text="Rapprochement"')
    body = page.inner_text(".page-body")
    assert "777.70" in body
    assert invoice.number in body
    screenshot(page, "reconciliation")

    # 4. "Payer via Revolut" on an approved supplier invoice: pending at the bank, then paid.
    supplier_invoice = approved_supplier_invoice(connection.company)
    page.goto(f"{page.base_url}{supplier_invoice.get_absolute_url()}")
    page.click("[data-testid=pay-revolut]")
    page.wait_for_selector("[data-testid=payout-row]")
    assert SupplierInvoice.objects.get(pk=supplier_invoice.pk).status == "scheduled"
    execute_action_run(ActionRun.objects.get(action="revolut.payout").pk)
    payment = OutgoingPayment.objects.get(supplier_invoice=supplier_invoice)
    assert (payment.state, payment.amount) == ("pending", D("1081.00"))
    page.reload()
    assert page.inner_text("[data-testid=payout-state]") == "En cours"
    screenshot(page, "supplier-invoice-payout-pending")
    sandbox.settle_transaction(client_id=client_id, transaction_id=payment.provider_transaction_id)
    transactions_sync(connection)
    assert SupplierInvoice.objects.get(pk=supplier_invoice.pk).status == "paid"
    page.reload()
    assert page.inner_text("[data-testid=payout-state]") == "Exécuté"
    screenshot(page, "supplier-invoice-payout-completed")
    assert page.broken == []


def demo_group_company():
    return Company.objects.get(code="HV")


def approved_supplier_invoice(company):
    """Entered by HYPERVISUAL's finance, approved by the CEO (four-eyes)."""
    users = get_user_model().objects
    clerk, controller = users.get(username="hv.finance"), users.get(username="ceo")
    supplier = SupplierFactory(company=company, name="Écrans Romands SA", iban="CH5604835012345678009")
    invoice = purchases.supplier_invoice_create(
        supplier=supplier, created_by=clerk, supplier_number="ER-2026-77", invoice_date=datetime.date(2026, 11, 3),
        due_date=datetime.date(2026, 12, 3), lines=[SupplierLineInput(net_amount=D("1000.00"), vat_code="standard")],
    )  # fmt: skip
    invoice = purchases.supplier_invoice_submit(invoice=invoice, submitted_by=clerk)
    return purchases.supplier_invoice_approve(invoice=invoice, approved_by=controller)
