"""Invoice Ninja end to end: a real Celery worker, the web app (live server) and the Invoice Ninja sandbox over HTTP.

"Envoyer via Invoice Ninja" pushes and e-mails an invoice; a payment recorded in the sandbox comes back as
webhooks (events 4 and 8) and leaves the Hub invoice paid exactly once. Then the same with the worker
killed while Invoice Ninja is storing the invoice: the resumed run finds it and never creates a second one.
"""

import signal
import time
from decimal import Decimal
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.test import Client
from django.urls import reverse

from finance.models import Invoice, Payment, Role
from integrations import connections, invoice_ninja
from integrations.models import ActionRun, WebhookDelivery
from sandbox import invoice_ninja as sandbox
from tests.conftest import start_celery_worker
from tests.factories import ClientFactory, CompanyFactory
from tests.integrations.test_invoice_ninja_sync import issued
from tests.integrations.test_revolut_end_to_end import wait_until

D = Decimal


@pytest.fixture
def company(transactional_db):
    # Live-server tests empty every table when they end, the VAT rates of migration 0005 included.
    import_module("finance.migrations.0005_seed_swiss_vat_rates").seed_rates(django_apps, schema_editor=None)
    return CompanyFactory(code="QN", payment_terms_days=30)


@pytest.fixture
def ceo(company, member_of):
    return member_of(company, Role.CEO, "e2e-ninja-ceo")


@pytest.fixture
def connected(company, ceo, live_server, settings):
    """The company connected to the sandbox as the settings page does it: token, test, webhooks."""
    settings.HV_PUBLIC_URL = live_server.url
    token = f"e2e-{company.code.lower()}-{time.monotonic_ns()}"
    sandbox.ensure_company(token, company.name)
    connection = invoice_ninja.settings_save(
        company=company, base_url=f"{live_server.url}/sandbox/invoice-ninja", api_token=token, api_secret="",
        signature_channel="docuseal", updated_by=ceo,
    )  # fmt: skip
    connection = connections.connection_probe(connection)
    assert connection.last_probe_ok, connection.last_probe_detail
    invoice_ninja.webhooks_register(connection=connection, registered_by=ceo)
    yield token
    sandbox.set_create_delay(0)


def send_in_the_browser_session(invoice, user):
    browser = Client()
    browser.force_login(user)
    response = browser.post(reverse("finance:invoice-send-invoice-ninja", kwargs={"pk": invoice.pk}))
    assert response.status_code == 302
    return ActionRun.objects.get(action="invoice_ninja.send", target_id=invoice.pk)


def sandbox_invoices(token, number):
    return [found for found in sandbox.list_invoices(token) if found["number"] == number]


def all_processed(company):
    deliveries = WebhookDelivery.objects.filter(company=company, provider="invoice_ninja")
    return deliveries.exists() and not deliveries.exclude(status="processed").exists()


@pytest.mark.timeout(180)
def test_an_invoice_sent_and_paid_in_invoice_ninja_ends_paid_once_in_both(
    company, ceo, connected, celery_worker_process
):
    client = ClientFactory(company=company, name="Boulangerie Favre SA", email="compta@favre.ch")
    invoice = issued(client, ceo)

    run = send_in_the_browser_session(invoice, ceo)

    wait_until(lambda: ActionRun.objects.get(pk=run.pk).is_final, what="the send to finish")
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("succeeded", 1)
    assert Invoice.objects.get(pk=invoice.pk).invoice_ninja_sent_at is not None
    [there] = sandbox_invoices(connected, invoice.number)
    assert (there["status_id"], D(str(there["amount"])), there["client_id"] != "") == ("2", D("1081.00"), True)
    assert [(mail["number"], mail["to"]) for mail in sandbox.email_log(connected)] == [
        (invoice.number, ["compta@favre.ch"]),
    ]  # fmt: skip

    paid = sandbox.record_payment(connected, invoice_id=there["id"], amount=D("1081.00"),
                                  transaction_reference="Virement 4711")  # fmt: skip

    wait_until(lambda: Invoice.objects.get(pk=invoice.pk).status == "paid", what="the Hub invoice to be paid")
    wait_until(lambda: all_processed(company), what="every webhook to be processed")
    payment = Payment.objects.get(company=company)
    assert (payment.amount, payment.reference, payment.invoice_ninja_id) == (
        D("1081.00"), "Virement 4711", paid["id"],
    )  # fmt: skip
    invoice.refresh_from_db()
    assert (invoice.status, invoice.invoice_ninja_status) == ("paid", "4")
    [there] = sandbox_invoices(connected, invoice.number)
    assert (there["status_id"], D(str(there["balance"]))) == ("4", D("0.00"))
    assert len(sandbox.list_payments(connected)) == 1
    events = set(WebhookDelivery.objects.filter(company=company).values_list("event_type", flat=True))
    assert {f"create_payment {paid['id']}", f"update_invoice {there['id']}"} <= events
    assert not ActionRun.objects.filter(action="invoice_ninja.payment").exists()


@pytest.mark.timeout(180)
def test_a_worker_killed_while_invoice_ninja_stores_the_invoice_sends_it_once_after_restart(
    company, ceo, connected, celery_worker_process
):
    client = ClientFactory(company=company, name="Garage Rochat SA", email="admin@rochat.ch")
    invoice = issued(client, ceo)
    # The sandbox stores the invoice, then holds its answer: the worker is killed while it waits.
    sandbox.set_create_delay(5)
    run = send_in_the_browser_session(invoice, ceo)
    wait_until(lambda: sandbox_invoices(connected, invoice.number), what="the sandbox to store the invoice")
    celery_worker_process.send_signal(signal.SIGKILL)
    celery_worker_process.wait(timeout=10)
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("running", 1)
    assert Invoice.objects.get(pk=invoice.pk).invoice_ninja_id == ""
    sandbox.set_create_delay(0)

    restarted = start_celery_worker()
    try:
        wait_until(lambda: ActionRun.objects.get(pk=run.pk).is_final, what="the send to finish")
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)

    run.refresh_from_db()
    assert (run.status, run.attempts) == ("succeeded", 2)
    [there] = sandbox_invoices(connected, invoice.number)
    assert Invoice.objects.get(pk=invoice.pk).invoice_ninja_id == there["id"]
    assert [mail["number"] for mail in sandbox.email_log(connected)] == [invoice.number]
