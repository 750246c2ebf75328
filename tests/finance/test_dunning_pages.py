"""The dunning pages: the list with its filters and CSV, the policy form, the hold and the reminder button's
permissions, the daily run's preview and the dashboard's urgent entry."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from finance.models import AuditEvent, DunningText, InvoiceDunning, InvoiceLine, Reminder, Role
from finance.services import documents
from finance.services import dunning as dunning_service
from integrations.models import Connection
from tests.factories import ClientFactory, InvoiceFactory

pytestmark = pytest.mark.django_db

D = Decimal
TODAY = datetime.date(2026, 11, 21)


@pytest.fixture(autouse=True)
def _english_and_today(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *args: TODAY)
    with translation.override("en"):
        yield


@pytest.fixture
def finance_web(client, company_a, member_of):
    user = member_of(company_a, Role.FINANCE)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def overdue(company_a, member_of):
    """1081.00 due on 21 October: 31 days late; the company has the group's default policy."""
    dunning_service.dunning_policy_ensure(company_a)
    client = ClientFactory(company=company_a, name="Boulangerie Favre SA", email="compta@favre.ch")
    invoice = InvoiceFactory(company=company_a, client=client)
    InvoiceLine.objects.create(invoice=invoice, position=1, description="Pose", quantity=1, unit_price=D("1000.00"),
                               vat_rate=D("8.10"))  # fmt: skip
    invoice = documents.invoice_issue(invoice=invoice, issued_by=member_of(company_a, Role.CEO),
                                      issue_date=datetime.date(2026, 9, 21))  # fmt: skip
    assert invoice.due_date == datetime.date(2026, 10, 21)
    return invoice


def test_the_list_shows_overdue_invoices_with_their_level_and_exports_them(finance_web, overdue):
    response = finance_web.get(reverse("finance:dunning-list"))
    assert response.status_code == 200
    ((invoice, state, days_late),) = response.context["rows"]
    assert (invoice, state.level, state.next_level_on, days_late) == (overdue, 0, datetime.date(2026, 10, 28), 31)

    csv = finance_web.get(reverse("finance:dunning-list"), {"export": "csv"}).content.decode("utf-8-sig")
    header, row = csv.splitlines()
    assert header.split(";")[:6] == ["Number", "Company", "Client", "E-mail", "Due date", "Days late"]
    assert row.split(";") == [overdue.number, "QA", "Boulangerie Favre SA", "compta@favre.ch", "21.10.2026", "31",
                              "CHF", "1081.00", "0", "", "28.10.2026", ""]  # fmt: skip
    assert finance_web.get(reverse("finance:dunning-list"), {"level": "1"}).context["rows"] == []
    assert finance_web.get(reverse("finance:dunning-list"), {"paused": "yes"}).context["rows"] == []


def test_the_policy_form_saves_levels_and_texts_and_refuses_levels_out_of_order(finance_web, company_a):
    # The page shows the three default levels (initial forms); the third row is emptied to remove level 3.
    url = reverse("finance:dunning-settings", kwargs={"code": company_a.code})
    assert finance_web.get(url).status_code == 200
    form = {
        "daily_run_enabled": "on", "run_at": "08:30", "terms_allow_fees": "on", "interest_rate": "5.00",
        "minimum_amount": "20.00", "pause_when_disputed": "on", "partial_payment_pause_days": "7",
        "levels-TOTAL_FORMS": "3", "levels-INITIAL_FORMS": "3", "levels-MIN_NUM_FORMS": "0",
        "levels-MAX_NUM_FORMS": "1000",
        "levels-0-level": "1", "levels-0-name": "Rappel", "levels-0-days_after_due": "10", "levels-0-fee": "0",
        "levels-0-email_fr": "21", "levels-0-email_de": "22",
        "levels-1-level": "2", "levels-1-name": "Mise en demeure", "levels-1-days_after_due": "25",
        "levels-1-fee": "30.00", "levels-1-email_fr": "23",
    }  # fmt: skip
    response = finance_web.post(url, form)
    assert response.status_code == 302
    policy = company_a.dunning_policy
    policy.refresh_from_db()
    assert (policy.run_at, policy.terms_allow_fees, policy.minimum_amount, policy.pause_during_payment_plan) == (
        datetime.time(8, 30), True, D("20.00"), False)  # fmt: skip
    assert list(policy.levels.values_list("level", "name", "days_after_due", "fee")) == [
        (1, "Rappel", 10, D("0.00")), (2, "Mise en demeure", 25, D("30.00"))]  # fmt: skip
    assert sorted(DunningText.objects.values_list("level__level", "language", "mautic_email_id")) == [
        (1, "de", 22), (1, "fr", 21), (2, "fr", 23)]  # fmt: skip
    assert AuditEvent.objects.filter(action="dunning_policy.saved", company=company_a).count() == 1

    backwards = {**form, "levels-1-days_after_due": "5"}
    response = finance_web.post(url, backwards)
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Level 2 must come later after the due date than level 1."]  # fmt: skip
    assert policy.levels.get(level=2).days_after_due == 25


def test_a_hold_pauses_the_invoice_and_shows_on_its_page(finance_web, overdue):
    url = reverse("finance:invoice-dunning-hold", kwargs={"pk": overdue.pk})
    response = finance_web.post(url, {"hold": "disputed", "until": "", "note": "Écran défectueux"})
    assert response.status_code == 302
    state = InvoiceDunning.objects.get(invoice=overdue)
    assert (state.hold, state.paused_reason, state.hold_note) == ("disputed", "disputed", "Écran défectueux")
    page = finance_web.get(overdue.get_absolute_url())
    assert "Disputed by the client" in page.content.decode()
    button = next(action for action in page.context["actions"] if action.label == "Send Mautic reminder")
    assert button.reason == "Paused: Disputed by the client."


def test_the_reminder_button_is_refused_to_sales_and_explains_a_missing_connection(
    client, finance_web, overdue, company_a, member_of
):
    url = reverse("finance:invoice-reminder-send", kwargs={"pk": overdue.pk})
    response = finance_web.post(url, follow=True)
    assert [str(message) for message in response.context["messages"]] == ["Mautic is not connected for Alpha."]
    assert Reminder.objects.count() == 0
    client.force_login(member_of(company_a, Role.SALES))
    assert client.post(url).status_code == 403


def test_the_button_starts_the_reminder_when_mautic_is_connected(finance_web, overdue, company_a):
    connection = Connection(company=company_a, provider="mautic", base_url="https://mautic.example",
                            config={"auth_method": "basic", "username": "hub"})  # fmt: skip
    connection.set_secrets(password="pw")
    connection.save()
    level = dunning_service.dunning_policy_ensure(company_a).levels.get(level=1)
    DunningText.objects.create(level=level, language="fr", mautic_email_id=11)

    response = finance_web.post(reverse("finance:invoice-reminder-send", kwargs={"pk": overdue.pk}), follow=True)

    reminder = Reminder.objects.get()
    assert (reminder.level, reminder.trigger, reminder.requested_by, reminder.days_late) == (
        1, "manual", finance_web.user, 31)  # fmt: skip
    # 1081.00 × 31 days × 5 % / 365 = 4.5906… → 4.59
    assert (reminder.interest, reminder.amount_due) == (D("4.59"), D("1085.59"))
    assert [str(m) for m in response.context["messages"]] == [
        f"Level 1 reminder of {overdue.number} is being sent via Mautic."]  # fmt: skip


def test_the_preview_and_the_dashboard_list_the_overdue_invoice(finance_web, overdue, company_a):
    preview = finance_web.get(reverse("finance:dunning-preview", kwargs={"code": company_a.code}))
    assert preview.status_code == 200
    assert [entry.blocker for entry in preview.context["left"]] == ["Mautic is not connected for Alpha."]
    assert preview.context["to_send"] == []
    assert Reminder.objects.count() == 0

    dashboard = finance_web.get(reverse("dashboard:home"))
    (item,) = [item for item in dashboard.context["urgent"] if item.key.startswith("overdue:")]
    assert (item.key, item.severity_name, item.link, item.detail) == (
        "overdue:QA",
        "critical",  # 31 days late
        "/dunning/?company=QA",
        "not reminded 1 · level 1: 0 · level 2: 0 · level 3: 0",
    )
    assert item.text.startswith("1 overdue invoice · CHF 1'081.00 · oldest ")
    assert 'href="/dunning/?company=QA"' in dashboard.content.decode()
