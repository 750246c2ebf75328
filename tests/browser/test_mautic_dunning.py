"""Dunning end to end, in Chromium and in French, with the web app, a real Celery worker and the Mautic sandbox:
the CEO clicks "Envoyer relance Mautic" on an overdue invoice, the worker sends the template e-mail (it lands in
the sandbox's sent log with the amount due), Mautic's signed webhooks come back for the send and the opening,
and the invoice's timeline shows both. Then the dunning list, its filters and export, and the daily run's preview.
"""

import pytest
from django.core.management import call_command
from django.utils import timezone

from finance.models import Company, Invoice, Reminder
from finance.services.mautic import reminder_tokens
from integrations.models import WebhookDelivery
from sandbox import mautic as sandbox
from sandbox.management.commands.mautic_connect_sandbox import SUBJECTS
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import start_celery_worker
from tests.integrations.test_revolut_end_to_end import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

MAUTIC_USER = "hv-demo-hv"


@pytest.fixture
def mautic_sandbox():
    sandbox.clear()
    yield
    sandbox.clear()


@pytest.fixture
def worker(demo_group, live_server):
    """A real worker that builds the e-mail's links on the live server's address."""
    process = start_celery_worker(HV_PUBLIC_URL=live_server.url)
    yield process
    process.terminate()
    process.wait(timeout=30)


def overdue_invoice() -> Invoice:
    today = timezone.localdate()
    invoice = (
        Invoice.objects.filter(company__code="HV", status="issued", due_date__lt=today)
        .exclude(kind="credit_note")
        .exclude(client__email="")
        .select_related("client")
        .order_by("due_date", "pk")
        .first()
    )
    assert invoice is not None, "the demo group has an overdue HYPERVISUAL invoice"
    return invoice


def test_a_reminder_clicked_by_the_ceo_is_sent_by_mautic_and_its_opening_comes_back(
    page, demo_group, mautic_sandbox, settings, live_server, worker
):
    settings.HV_PUBLIC_URL = live_server.url
    call_command("mautic_connect_sandbox")
    invoice = overdue_invoice()
    sign_in(page, "ceo", settings.HV_DEMO_PASSWORD)
    page.wait_for_url(f"{page.base_url}/")

    # 1. The CEO clicks "Envoyer relance Mautic" on the overdue invoice.
    page.goto(f"{page.base_url}{invoice.get_absolute_url()}")
    button = page.locator(f"form[action$='/invoices/{invoice.pk}/reminder/'] button")
    assert button.inner_text().strip() == "Envoyer relance Mautic"
    button.click()
    page.wait_for_selector(".toast.text-bg-success")

    # 2. The worker upserts the contact and sends the level's template e-mail: it is in Mautic's sent log.
    reminder = wait_until(lambda: Reminder.objects.filter(invoice=invoice, status="sent").first(), what="the send")
    (sent,) = wait_until(lambda: sandbox.sent_log(MAUTIC_USER), what="the sandbox's sent log")
    assert (sent["contact_email"], sent["email_id"]) == (invoice.client.email, reminder.mautic_email_id)
    subject = SUBJECTS[invoice.client.language].format(reminder_name="Rappel courtois", invoice_number=invoice.number)
    assert sent["subject"] == subject
    tokens = reminder_tokens(reminder)
    assert tokens["amount_due"] in sent["body"]
    # The link is signed with the time it was made: the worker's, not this test's.
    link = sent["tokens"]["{qr_bill_url}"]
    assert link.startswith(f"{live_server.url}/r/")
    assert link in sent["body"]
    assert reminder.amount_due == reminder.balance_due + reminder.fees_total + reminder.interest
    # The link of the e-mail opens the reminder's QR-bill without an account.
    pdf = page.context.request.get(link)
    assert (pdf.status, pdf.headers["content-type"], pdf.body()[:5]) == (200, "application/pdf", b"%PDF-")

    # 3. Mautic's signed email_on_send comes back and confirms it.
    wait_until(lambda: Reminder.objects.filter(pk=reminder.pk, delivered_at__isnull=False).exists(),
               what="email_on_send")  # fmt: skip

    # 4. The client opens the e-mail: Mautic's signed email_on_open comes back.
    sandbox.open_email(MAUTIC_USER, sent["id"])
    reminder = wait_until(lambda: Reminder.objects.filter(pk=reminder.pk, opened_at__isnull=False).first(),
                          what="email_on_open")  # fmt: skip
    assert reminder.open_count == 1
    deliveries = WebhookDelivery.objects.filter(provider="mautic", company__code="HV")
    assert sorted(deliveries.values_list("event_type", "verified", "status")) == [
        ("email_on_open", True, "processed"), ("email_on_send", True, "processed"),
    ]  # fmt: skip

    # 5. The invoice's timeline shows the reminder sent and opened; its card shows both.
    page.reload()
    timeline = page.inner_text(".timeline")
    assert "Relance envoyée via Mautic" in timeline
    assert "Mautic a confirmé l’e-mail de relance" in timeline
    assert "Relance ouverte par le client" in timeline
    assert page.locator("[data-testid=reminder-sent]").count() == 1
    assert page.locator("[data-testid=reminder-opened]").count() == 1
    assert page.inner_text("[data-testid=dunning-level]") == "1"
    assert page.broken == []
    screenshot(page, "dunning-invoice-timeline")

    # 6. The dunning list shows the invoice at level 1; the filter by level keeps it, the CSV lists it.
    page.goto(f"{page.base_url}/dunning/?company=HV&level=1")
    rows = page.locator("[data-testid=dunning-table] tbody tr")
    assert rows.count() == 1
    assert invoice.number in rows.first.inner_text()
    csv = page.context.request.get(f"{page.base_url}/dunning/?company=HV&level=1&export=csv")
    assert csv.status == 200
    assert csv.text().splitlines()[1].split(";")[0] == invoice.number
    page.goto(f"{page.base_url}/dunning/")
    assert page.broken == []
    screenshot(page, "dunning-list")

    # 7. The daily run's preview of HYPERVISUAL lists what it would send today, and why it leaves the rest.
    page.goto(f"{page.base_url}/companies/HV/dunning/preview/")
    assert page.locator("[data-testid=preview-send]").count() == 1
    assert page.broken == []
    screenshot(page, "dunning-preview")
    page.goto(f"{page.base_url}/companies/HV/dunning/")
    assert page.locator("[data-testid=dunning-levels] tbody tr").count() == 4  # three levels and a blank one
    screenshot(page, "dunning-settings")
    assert Company.objects.get(code="HV").dunning_policy.levels.count() == 3
