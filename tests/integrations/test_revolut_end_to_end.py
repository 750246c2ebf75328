"""Revolut end to end: a real Celery worker, the web app (live server) and the Revolut sandbox over HTTP.

An incoming transfer with a deposit invoice's QR reference arrives as a signed webhook and leaves the
invoice paid and its project active; "Payer via Revolut" ends with the supplier invoice paid; a worker
killed in the middle of a payout and started again pays exactly once.
"""

import datetime
import logging
import signal
import time
from decimal import Decimal
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.test import Client
from django.urls import reverse

from finance.models import (
    BankAccount,
    BankTransaction,
    DepositRule,
    Invoice,
    OutgoingPayment,
    Project,
    Role,
    SupplierInvoice,
)
from finance.services import documents, projects, purchases
from finance.services.purchases import SupplierLineInput
from finance.services.revolut import bank_accounts_sync
from integrations import revolut as revolut_integration
from integrations.health import redis_client
from integrations.models import ActionRun, WebhookDelivery
from sandbox import revolut as sandbox
from tests.conftest import start_celery_worker
from tests.factories import CompanyFactory, SupplierFactory
from tests.finance.test_projects import draft_quote

D = Decimal
# Seconds the worker, the sandbox's settlement (2 s) and the webhooks get to bring a flow to its end.
FLOW_DEADLINE = 60
SUPPLIER_IBAN = "CH5604835012345678009"


def wait_until(condition, *, what: str, deadline: float = FLOW_DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        result = condition()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def company(transactional_db):
    # Live-server tests empty every table when they end, the VAT rates of migration 0005 included.
    import_module("finance.migrations.0005_seed_swiss_vat_rates").seed_rates(django_apps, schema_editor=None)
    company = CompanyFactory(code="QE", qr_iban="CH4431999123000889012", payment_terms_days=30)
    DepositRule.objects.create(company=company, project_type="", percent=D("30"), due_days=10)
    return company


@pytest.fixture
def people(company, member_of):
    return {"ceo": member_of(company, Role.CEO, "e2e-ceo"), "clerk": member_of(company, Role.FINANCE, "e2e-clerk"),
            "controller": member_of(company, Role.FINANCE, "e2e-controller")}  # fmt: skip


@pytest.fixture
def connected(company, people, live_server, settings):
    """The company connected to the sandbox the way the Integrations page does it, over HTTP."""
    settings.HV_PUBLIC_URL = live_server.url
    base = f"{live_server.url}/sandbox/revolut"
    client_id = f"e2e-{company.code.lower()}-{time.monotonic_ns()}"
    connection = revolut_integration.revolut_settings_save(
        company=company, base_url=f"{base}/api/1.0", consent_url=f"{base}/app-confirm", client_id=client_id,
        private_key="", generate_key=True, updated_by=people["ceo"],
    )  # fmt: skip
    connection = revolut_integration.revolut_consent_complete(
        connection=connection, code=sandbox.authorize(client_id), user=people["ceo"]
    )
    connection = revolut_integration.revolut_webhook_register(connection=connection, registered_by=people["ceo"])
    bank_accounts_sync(connection)
    yield connection
    redis_client().delete(sandbox.PAY_DELAY_KEY)


@pytest.fixture
def debug_logs(caplog):
    """Every log record of the test's process (web app, live server, services) at DEBUG."""
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
def worker_logging_everything(transactional_db, tmp_path):
    """A real worker at DEBUG whose whole output is kept in a file the test reads."""
    log_path = tmp_path / "worker.log"
    worker = start_celery_worker(log_path=log_path, loglevel="DEBUG")
    yield log_path
    worker.terminate()
    worker.wait(timeout=30)


def secret_fragments(connection) -> list[str]:
    """Every secret the connection holds, and each line of its private key, as a log could leak them."""
    fragments = []
    for name, value in connection.secrets().items():
        fragments += [value] if name != "private_key" else [line for line in value.splitlines() if "-----" not in line]
    return [fragment for fragment in fragments if len(fragment) >= 8]


def approved_supplier_invoice(company, people, number):
    supplier = SupplierFactory(company=company, name="Affichage Léman Sàrl", iban=SUPPLIER_IBAN)
    invoice = purchases.supplier_invoice_create(
        supplier=supplier, created_by=people["clerk"], supplier_number=number,
        invoice_date=datetime.date(2026, 11, 3), due_date=datetime.date(2026, 12, 3),
        lines=[SupplierLineInput(net_amount=D("1000.00"), vat_code="standard")],
    )  # fmt: skip
    invoice = purchases.supplier_invoice_submit(invoice=invoice, submitted_by=people["clerk"])
    return purchases.supplier_invoice_approve(invoice=invoice, approved_by=people["controller"])


def pay_via_revolut_in_the_browser_session(invoice, user):
    browser = Client()
    browser.force_login(user)
    response = browser.post(reverse("finance:supplier-invoice-pay", kwargs={"pk": invoice.pk}))
    assert response.status_code == 302
    return OutgoingPayment.objects.get(supplier_invoice=invoice)


def sandbox_transactions(connection, request_id):
    business = sandbox.get_business(connection.config["client_id"])
    return [t for t in business["transactions"] if t.get("request_id") == request_id]


@pytest.mark.timeout(180)
def test_incoming_deposit_and_supplier_payout_run_end_to_end(debug_logs, company, people, connected,
                                                             worker_logging_everything):  # fmt: skip
    user = people["ceo"]
    quote = documents.quote_send(quote=draft_quote(company, user), sent_by=user)
    project = projects.project_create_from_quote(quote=quote, created_by=user)
    documents.quote_mark_signed(quote=quote, actor=user)
    # The signature invoices the deposit by itself (the worker's automatic run).
    wait_until(lambda: Invoice.objects.filter(quote=quote, kind="deposit", status="issued").exists(),
               what="the automatic deposit invoice")  # fmt: skip
    deposit = Invoice.objects.get(quote=quote, kind="deposit")
    assert (deposit.payable_total, len(deposit.qr_reference)) == (D("365.90"), 27)

    sandbox.inject_incoming_transfer(
        client_id=connected.config["client_id"], currency="CHF", amount=D("365.90"),
        reference=deposit.qr_reference, payer_name=deposit.client.name,
    )  # fmt: skip

    wait_until(lambda: Invoice.objects.get(pk=deposit.pk).status == "paid", what="the deposit to be paid")
    project.refresh_from_db()
    assert (project.status, project.activated_at is not None) == (Project.Status.DEPOSIT_RECEIVED, True)
    incoming = BankTransaction.objects.get(company=company, amount__gt=0)
    assert (incoming.state, incoming.match_status, incoming.amount) == ("completed", "matched", D("365.90"))
    assert incoming.payment.allocations.get().invoice_id == deposit.pk
    deliveries = WebhookDelivery.objects.filter(company=company, provider="revolut", verified=True)
    assert {d.event_type for d in deliveries} == {"TransactionCreated", "TransactionStateChanged"}

    invoice = approved_supplier_invoice(company, people, "F-E2E-1")
    payment = pay_via_revolut_in_the_browser_session(invoice, user)
    assert Invoice.objects.filter(pk=deposit.pk, status="paid").exists()
    assert SupplierInvoice.objects.get(pk=invoice.pk).status == "scheduled"

    wait_until(lambda: SupplierInvoice.objects.get(pk=invoice.pk).status == "paid", what="the supplier invoice paid")
    payment.refresh_from_db()
    assert (payment.state, payment.amount, payment.request_id) == ("completed", D("1081.00"), f"hv-si{invoice.pk}-1")
    [paid] = sandbox_transactions(connected, payment.request_id)
    assert (paid["state"], D(str(paid["legs"][0]["amount"]))) == ("completed", D("-1081.00"))
    assert ActionRun.objects.get(action="revolut.payout").status == "succeeded"
    bank_accounts_sync(connected)
    chf = BankAccount.objects.get(company=company, currency="CHF")
    assert chf.balance == D("250000.00") + D("365.90") - D("1081.00")

    # No provider secret in any log of the run, the web app's or the worker's, at DEBUG.
    connected.refresh_from_db()
    secrets = secret_fragments(connected)
    assert {"access_token", "refresh_token", "private_key", "webhook_signing_secrets"} <= set(connected.secrets())
    worker_log = worker_logging_everything.read_text(errors="replace")
    assert "integrations.actions.execute_action_run" in worker_log
    # The connection was made while the fixtures were set up: those records count as much as the test's.
    records = debug_logs.get_records("setup") + debug_logs.get_records("call")
    web_log = "\n".join(logging.Formatter().format(record) for record in records)
    # Its provider calls were logged (how many other records there are depends on what ran before in the process).
    assert "integrations.http" in {record.name for record in records}
    assert [secret for secret in secrets if secret in web_log or secret in worker_log] == []


@pytest.mark.timeout(180)
def test_a_worker_killed_mid_payout_pays_exactly_once_after_restart(company, people, connected, celery_worker_process):
    invoice = approved_supplier_invoice(company, people, "F-E2E-2")
    # The sandbox records the payment, then holds its answer: the worker is killed while it waits.
    redis_client().set(sandbox.PAY_DELAY_KEY, "5")
    payment = pay_via_revolut_in_the_browser_session(invoice, people["ceo"])
    wait_until(lambda: sandbox_transactions(connected, payment.request_id), what="the sandbox to receive /pay")
    celery_worker_process.send_signal(signal.SIGKILL)
    celery_worker_process.wait(timeout=10)
    run = ActionRun.objects.get(action="revolut.payout")
    assert (run.status, run.attempts) == ("running", 1)
    redis_client().delete(sandbox.PAY_DELAY_KEY)

    restarted = start_celery_worker()
    try:
        wait_until(lambda: SupplierInvoice.objects.get(pk=invoice.pk).status == "paid", what="the payout to finish")
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)

    assert len(sandbox_transactions(connected, payment.request_id)) == 1
    assert OutgoingPayment.objects.filter(supplier_invoice=invoice).count() == 1
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("succeeded", 2)
    business = sandbox.get_business(connected.config["client_id"])
    chf = next(account for account in business["accounts"] if account["currency"] == "CHF")
    assert D(chf["balance"]) == D("250000.00") - D("1081.00")
