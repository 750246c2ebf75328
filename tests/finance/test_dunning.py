"""Dunning with an injected clock (`today`): levels, fees and interest to the centime, catch-up after skipped
days, pauses, the QR-bill amount, and one reminder per level even when two runs start at once.

The database, the services and the action runs are real; the Mautic channel is only asked for (its run is
stored, not executed: test_mautic_dunning.py runs it against Mautic's HTTP).
"""

import datetime
import gc
import threading
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from finance import dunning, pdf, qrbill, selectors
from finance.models import AuditEvent, DunningText, InvoiceDunning, InvoiceLine, Reminder
from finance.services import documents, payments
from finance.services import dunning as dunning_service
from finance.services.mautic import REMINDER_ACTION
from integrations.models import ActionRun, Connection
from tests.factories import ClientFactory, InvoiceFactory, UserFactory

D = Decimal
ISSUE_DAY = datetime.date(2026, 9, 1)
DUE = datetime.date(2026, 10, 1)  # 30 days' terms


def day(offset: int) -> datetime.date:
    return DUE + datetime.timedelta(days=offset)


def started(result: dunning_service.RunResult) -> list[Reminder]:
    """The reminders a daily run started, in the order it started them."""
    by_id = Reminder.objects.in_bulk(result.reminder_ids)
    return [by_id[reminder_id] for reminder_id in result.reminder_ids]


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def mautic_connected(company_a):
    connection = Connection(company=company_a, provider="mautic", base_url="https://mautic.example",
                            config={"auth_method": "basic", "username": "hub"})  # fmt: skip
    connection.set_secrets(password="pw", webhook_secret="hook-secret")
    connection.save()
    return connection


@pytest.fixture
def policy(company_a, mautic_connected):
    """The default policy (J+7, J+14, J+30; 0 / 20 / 30) with fees allowed and a French e-mail per level."""
    policy = dunning_service.dunning_policy_ensure(company_a)
    policy.terms_allow_fees = True
    policy.save()
    for level in policy.levels.all():
        DunningText.objects.create(level=level, language="fr", mautic_email_id=10 + level.level)
    return policy


@pytest.fixture
def favre(company_a):
    return ClientFactory(company=company_a, name="Boulangerie Favre SA", email="compta@favre.ch", language="fr")


def issued(client, user, net="1000.00"):
    """Net 1000.00 + 8.1 % VAT: 1081.00, due on DUE."""
    invoice = InvoiceFactory(company=client.company, client=client)
    InvoiceLine.objects.create(
        invoice=invoice, position=1, description="Prestation", quantity=1, unit_price=D(net), vat_rate=D("8.10")
    )
    return documents.invoice_issue(invoice=invoice, issued_by=user, issue_date=ISSUE_DAY)


# --- Arithmetic -------------------------------------------------------------------------------------------

RULES = [
    dunning.LevelRule(1, "Rappel courtois", 7, D("0.00")),
    dunning.LevelRule(2, "Rappel ferme", 14, D("20.00")),
    dunning.LevelRule(3, "Mise en demeure", 30, D("30.00")),
]


def test_interest_is_five_percent_a_year_from_the_day_after_the_due_date():
    # 1081.00 × 5 % × 30 / 365 = 4.4424… → 4.44
    interest = dunning.late_interest(principal=D("1081.00"), due_date=DUE, on=day(30), annual_rate_percent=D("5"),
                                     reductions=[])  # fmt: skip
    assert interest == D("4.44")
    assert dunning.late_interest(principal=D("1081.00"), due_date=DUE, on=DUE, annual_rate_percent=D("5"),
                                 reductions=[]) == D("0.00")  # fmt: skip


def test_interest_follows_the_principal_down_as_payments_arrive():
    # 400.00 paid on 15 Oct: 1081.00 owed from 2 to 14 Oct (13 days; the day money arrives no longer counts),
    # 681.00 from 15 to 31 Oct (17 days): (1081 × 13 + 681 × 17) × 5 % / 365 = 25630 × 0.05 / 365 = 3.5110… → 3.51
    interest = dunning.late_interest(
        principal=D("1081.00"), due_date=DUE, on=day(30), annual_rate_percent=D("5"),
        reductions=[dunning.Reduction(on=day(14), amount=D("400.00"))],
    )  # fmt: skip
    assert interest == D("3.51")
    early = dunning.late_interest(
        principal=D("1081.00"), due_date=DUE, on=day(30), annual_rate_percent=D("5"),
        reductions=[dunning.Reduction(on=DUE, amount=D("1000.00"))],
    )  # fmt: skip
    assert early == D("0.33")  # 81.00 × 30 × 5 % / 365 = 0.3329


def test_levels_escalate_in_order_and_keep_their_spacing():
    assert dunning.next_level(RULES, reached=0).level == 1
    assert dunning.next_level(RULES, reached=3) is None
    assert dunning.level_due_on(RULES, RULES[0], due_date=DUE, last_sent_on=None) == day(7)
    assert dunning.level_due_on(RULES, RULES[1], due_date=DUE, last_sent_on=day(7)) == day(14)
    # Level 1 went out late (day 20): level 2 waits its 7-day gap, level 3 its 16 days after that.
    assert dunning.level_due_on(RULES, RULES[1], due_date=DUE, last_sent_on=day(20)) == day(27)
    assert dunning.level_due_on(RULES, RULES[2], due_date=DUE, last_sent_on=day(27)) == day(43)


def test_fees_add_up_only_if_the_terms_provide_for_them():
    assert dunning.fees_through(RULES, 1, fees_allowed=True) == D("0.00")
    assert dunning.fees_through(RULES, 2, fees_allowed=True) == D("20.00")
    assert dunning.fees_through(RULES, 3, fees_allowed=True) == D("50.00")
    assert dunning.fees_through(RULES, 3, fees_allowed=False) == D("0.00")


# --- The state of an invoice and the daily run --------------------------------------------------------------


@pytest.mark.django_db
class TestDailyRun:
    def run(self, company, on):
        return dunning_service.dunning_run(company=company, today=on, actor=None)

    def test_each_level_goes_out_once_on_its_day_with_fees_and_interest(self, policy, favre, user):
        invoice = issued(favre, user)
        sent_on = {}
        for offset in range(0, 45):
            for reminder in started(self.run(favre.company, day(offset))):
                sent_on[reminder.level] = (offset, reminder)
        assert {level: offset for level, (offset, _r) in sent_on.items()} == {1: 7, 2: 14, 3: 30}
        first, second, third = (sent_on[level][1] for level in (1, 2, 3))
        # Level 1: 1081.00 + 0 fees + 1081 × 7 × 5 % / 365 = 1.0366 → 1.04
        assert (first.balance_due, first.fees_total, first.interest, first.amount_due) == (
            D("1081.00"),
            D("0.00"),
            D("1.04"),
            D("1082.04"),
        )
        # Level 2: fees 20.00; interest 14 days = 2.0734 → 2.07
        assert (second.fee, second.fees_total, second.interest, second.amount_due) == (
            D("20.00"),
            D("20.00"),
            D("2.07"),
            D("1103.07"),
        )
        # Level 3: fees 20 + 30; interest 30 days = 4.4424 → 4.44
        assert (third.fee, third.fees_total, third.interest, third.amount_due) == (
            D("30.00"),
            D("50.00"),
            D("4.44"),
            D("1135.44"),
        )
        assert (third.days_late, third.recipient, third.mautic_email_id) == (30, "compta@favre.ch", 13)
        assert Reminder.objects.filter(invoice=invoice).count() == 3
        assert ActionRun.objects.filter(action=REMINDER_ACTION).count() == 3
        state = InvoiceDunning.objects.get(invoice=invoice)
        assert (state.level, state.last_sent_on, state.next_level_on) == (3, day(30), None)
        levels = AuditEvent.objects.filter(action="dunning.level_changed", object_id=str(invoice.pk))
        assert [event.detail for event in levels.order_by("pk")] == ["0 → 1", "1 → 2", "2 → 3"]

    def test_a_run_skipped_for_days_sends_the_right_level_once(self, policy, favre, user):
        invoice = issued(favre, user)
        assert started(self.run(favre.company, day(7)))[0].level == 1
        # No run from day 8 to day 16: day 17 sends level 2 once, never level 2 twice nor level 3.
        assert [r.level for r in started(self.run(favre.company, day(17)))] == [2]
        assert started(self.run(favre.company, day(17))) == []
        assert started(self.run(favre.company, day(18))) == []
        # Level 3 keeps its 16 days after level 2 (day 33), not day 30.
        assert started(self.run(favre.company, day(32))) == []
        assert [r.level for r in started(self.run(favre.company, day(33)))] == [3]
        assert list(invoice.reminders.values_list("level", "dunning_date")) == [(3, day(33)), (2, day(17)), (1, day(7))]

    def test_three_days_missed_after_the_due_date_send_level_one_only(self, policy, favre, user):
        issued(favre, user)
        assert [r.level for r in started(self.run(favre.company, day(16)))] == [1]
        assert InvoiceDunning.objects.get().next_level_on == day(23)

    def test_two_runs_at_once_send_each_level_once(self, vat_rates, policy, favre, user):
        invoice = issued(favre, user)
        barrier, results, errors = threading.Barrier(2), [], []

        def run():
            try:
                barrier.wait()
                results.append(len(started(self.run(favre.company, day(7)))))
            except Exception as error:  # surfaced below
                errors.append(error)
            finally:
                db_connection.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sorted(results) == [0, 1]
        assert Reminder.objects.filter(invoice=invoice).count() == 1
        assert ActionRun.objects.filter(action=REMINDER_ACTION).count() == 1

    def test_a_failed_reminder_leaves_its_level_to_the_next_run(self, policy, favre, user):
        invoice = issued(favre, user)
        reminder = started(self.run(favre.company, day(7)))[0]
        Reminder.objects.filter(pk=reminder.pk).update(status=Reminder.Status.FAILED)
        again = started(self.run(favre.company, day(8)))
        assert [(r.level, r.dunning_date) for r in again] == [(1, day(8))]
        assert invoice.reminders.exclude(status="failed").count() == 1

    def test_the_preview_lists_what_the_run_would_send_and_why_not_the_rest(self, policy, favre, user, company_a):
        due = issued(favre, user)
        nobody = issued(ClientFactory(company=company_a, name="Sans Mail SA", email=""), user)
        english = issued(ClientFactory(company=company_a, name="Acme Ltd", email="ap@acme.example", language="en"),
                         user)  # fmt: skip
        plan = {entry.situation.invoice.pk: entry for entry in dunning_service.dunning_plan(company_a, today=day(7))}
        assert plan[due.pk].blocker == ""
        assert plan[due.pk].situation.amount_due == D("1082.04")
        assert plan[nobody.pk].blocker == "The client has no e-mail address."
        assert plan[english.pk].blocker == "No Mautic e-mail is set for level 1 in english (dunning settings)."
        assert Reminder.objects.count() == 0  # a preview sends nothing


@pytest.mark.django_db
class TestPauses:
    def test_a_disputed_invoice_is_not_reminded_until_the_hold_is_lifted(self, policy, favre, user):
        invoice = issued(favre, user)
        dunning_service.dunning_hold_set(invoice=invoice, hold="disputed", until=None, note="Écran défectueux",
                                         set_by=user, today=day(5))  # fmt: skip
        result = dunning_service.dunning_run(company=favre.company, today=day(7), actor=None)
        assert (started(result), result.skipped) == ([], 1)
        state = InvoiceDunning.objects.get(invoice=invoice)
        assert state.paused_reason == "disputed"
        dunning_service.dunning_hold_set(invoice=invoice, hold="", until=None, note="", set_by=user, today=day(9))
        assert [
            r.level for r in started(dunning_service.dunning_run(company=favre.company, today=day(9), actor=None))
        ] == [1]
        actions = list(AuditEvent.objects.filter(object_id=str(invoice.pk), action__startswith="dunning.")
                       .order_by("pk").values_list("action", flat=True))  # fmt: skip
        assert actions == ["dunning.hold_changed", "dunning.paused", "dunning.hold_changed", "dunning.resumed",
                           "dunning.level_changed"]  # fmt: skip

    def test_a_payment_plan_pauses_until_its_end(self, policy, favre, user):
        invoice = issued(favre, user)
        dunning_service.dunning_hold_set(invoice=invoice, hold="payment_plan", until=day(20), note="3 × 360",
                                         set_by=user, today=day(1))  # fmt: skip
        assert started(dunning_service.dunning_run(company=favre.company, today=day(20), actor=None)) == []
        assert [
            r.level for r in started(dunning_service.dunning_run(company=favre.company, today=day(21), actor=None))
        ] == [1]

    def test_a_recent_partial_payment_pauses_and_lowers_the_amounts(self, policy, favre, user):
        invoice = issued(favre, user)
        payments.payment_record(client=favre, received_on=day(3), amount=D("400.00"), method="bank_transfer",
                                reference="", allocations=[(invoice, D("400.00"))], recorded_by=user)  # fmt: skip
        situation = dunning_service.dunning_situation(invoice, today=day(7))
        assert situation.paused_reason == "partial_payment"  # paid 4 days ago, pause of 10 days
        assert started(dunning_service.dunning_run(company=favre.company, today=day(12), actor=None)) == []
        (reminder,) = started(dunning_service.dunning_run(company=favre.company, today=day(13), actor=None))
        # 1081 × 2 days (2–3 Oct… the 4th is the payment day) + 681 × 11 days: (2162 + 7491) × 5 % / 365 = 1.3223
        assert (reminder.balance_due, reminder.interest, reminder.amount_due) == (D("681.00"), D("1.32"), D("682.32"))

    def test_an_undone_payment_no_longer_lowers_or_pauses_the_reminder(self, policy, favre, user):
        invoice = issued(favre, user)
        kept = payments.payment_record(client=favre, received_on=day(-20), amount=D("81.00"), method="bank_transfer",
                                       reference="", allocations=[(invoice, D("81.00"))], recorded_by=user)  # fmt: skip
        mistaken = payments.payment_record(client=favre, received_on=day(3), amount=D("400.00"),
                                           method="bank_transfer", reference="",
                                           allocations=[(invoice, D("400.00"))], recorded_by=user)  # fmt: skip
        payments.payment_undo(payment=mistaken, undone_by=user)

        facts = selectors.dunning_facts(invoice_ids=[invoice.pk])
        assert facts.payments == {invoice.pk: [(day(-20), kept.amount)]}
        # Reminded on day 7 as if the 400.00 had never come (it would have paused dunning until day 13).
        (reminder,) = started(dunning_service.dunning_run(company=favre.company, today=day(7), actor=None))
        assert (reminder.balance_due, reminder.level) == (D("1000.00"), 1)

    def test_a_balance_below_the_minimum_is_not_reminded(self, policy, favre, user):
        invoice = issued(favre, user)
        payments.payment_record(client=favre, received_on=DUE, amount=D("1075.00"), method="bank_transfer",
                                reference="", allocations=[(invoice, D("1075.00"))], recorded_by=user)  # fmt: skip
        situation = dunning_service.dunning_situation(invoice, today=day(20))
        assert (situation.balance_due, situation.paused_reason) == (D("6.00"), "below_minimum")
        assert started(dunning_service.dunning_run(company=favre.company, today=day(20), actor=None)) == []

    def test_a_paid_invoice_leaves_dunning(self, policy, favre, user):
        invoice = issued(favre, user)
        payments.payment_record(client=favre, received_on=day(2), amount=D("1081.00"), method="bank_transfer",
                                reference="", allocations=[(invoice, D("1081.00"))], recorded_by=user)  # fmt: skip
        assert dunning_service.dunning_plan(favre.company, today=day(30)) == []


@pytest.mark.django_db
class TestByHand:
    def test_the_first_reminder_goes_out_before_its_day_and_the_next_keeps_its_gap(self, policy, favre, user):
        invoice = issued(favre, user)
        reminder = dunning_service.reminder_send_start(
            invoice=invoice, today=day(2), requested_by=user, trigger="manual"
        )
        assert (reminder.level, reminder.trigger, reminder.requested_by) == (1, "manual", user)
        with pytest.raises(ValidationError, match=r"^\['Level 2 is due on 15.10.2026.'\]$"):
            dunning_service.reminder_send_start(invoice=invoice, today=day(2), requested_by=user, trigger="manual")
        # Level 2: 14 days after the due date, and 7 days after level 1 (sent on day 2): day 14.
        second = dunning_service.reminder_send_start(
            invoice=invoice, today=day(14), requested_by=user, trigger="manual"
        )
        assert (second.level, second.fees_total) == (2, D("20.00"))

    def test_an_invoice_not_yet_overdue_is_refused_with_the_reason(self, policy, favre, user):
        invoice = issued(favre, user)
        assert (
            dunning_service.reminder_blocker(dunning_service.dunning_situation(invoice, today=DUE))
            == "The invoice is not overdue."
        )

    def test_without_mautic_the_reason_says_so(self, policy, favre, user, mautic_connected):
        invoice = issued(favre, user)
        mautic_connected.delete()
        assert (
            dunning_service.reminder_blocker(dunning_service.dunning_situation(invoice, today=day(3)))
            == "Mautic is not connected for Alpha."
        )


@pytest.mark.django_db
def test_the_reminder_qr_bill_asks_for_the_amount_with_fees_and_interest(policy, favre, user, monkeypatch):
    invoice = issued(favre, user)
    dunning_service.dunning_run(company=favre.company, today=day(7), actor=None)
    reminder = started(dunning_service.dunning_run(company=favre.company, today=day(14), actor=None))[0]
    assert reminder.amount_due == D("1103.07")
    parts = []
    real_svg = qrbill.payment_part_svg
    monkeypatch.setattr(qrbill, "payment_part_svg", lambda part, **kw: parts.append(part) or real_svg(part, **kw))
    html = pdf.reminder_html(reminder)
    (part,) = parts
    assert (part.amount, part.currency, part.reference) == (D("1103.07"), "CHF", invoice.qr_reference)
    assert part.additional_information == f"{invoice.number} Rappel ferme"
    amounts = ("1&#x27;103.07", "20.00", "2.07")
    assert [amount in html for amount in amounts] == [True, True, True]
    assert pdf.reminder_pdf(reminder)[:5] == b"%PDF-"


# --- Queries per company, not per invoice ------------------------------------------------------------------


def company_with_overdue(company, user, count):
    """`count` overdue invoices, all sorts: one partly paid, one credited in part, one disputed, the rest plain."""
    connection = Connection(company=company, provider="mautic", base_url="https://mautic.example",
                            config={"auth_method": "basic", "username": "hub"})  # fmt: skip
    connection.set_secrets(password="pw")
    connection.save()
    for level in dunning_service.dunning_policy_ensure(company).levels.all():
        DunningText.objects.create(level=level, language="fr", mautic_email_id=10 + level.level)
    client = ClientFactory(company=company, email="compta@client.ch", language="fr")
    invoices = [issued(client, user) for _ in range(count)]
    payments.payment_record(client=client, received_on=day(3), amount=D("400.00"), method="bank_transfer",
                            reference="", allocations=[(invoices[0], D("400.00"))], recorded_by=user)  # fmt: skip
    note = documents.credit_note_create(invoice=invoices[1], created_by=user, reason="Geste", amount=D("108.10"))
    documents.invoice_issue(invoice=note, issued_by=user, issue_date=day(5))
    dunning_service.dunning_hold_set(invoice=invoices[2], hold="disputed", until=None, note="", set_by=user,
                                     today=day(5))  # fmt: skip
    return company


@pytest.mark.django_db
def test_a_companys_overdue_invoices_are_read_from_the_open_invoices_index_alone(company_a, user):
    company = company_with_overdue(company_a, user, 3)  # and an issued credit note, outside the index
    candidates = selectors.dunning_candidates(company=company, today=day(20))
    with db_connection.cursor() as cursor:
        # A few rows in the test database: scanning the table would win, as it does not at a million invoices.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")

    plan = candidates.explain()

    # The index's condition is what `OPEN_INVOICE` asks, and it holds every column the run reads of the invoice.
    assert "Index Only Scan using invoice_open_company_due on finance_invoice" in plan
    assert len(candidates) == 3


@pytest.mark.django_db
def test_the_preview_and_the_daily_run_cost_the_same_queries_for_3_and_for_9_invoices(
    company_a, company_b, user, django_assert_num_queries
):
    three = company_with_overdue(company_a, user, 3)
    nine = company_with_overdue(company_b, user, 9)
    ContentType.objects.get_for_model(Reminder)  # cached for the process: not a query of the first run measured

    with CaptureQueriesContext(db_connection) as preview:
        plan = dunning_service.dunning_plan(three, today=day(20))
    assert [entry.blocker == "" for entry in plan] == [True, True, False]
    with django_assert_num_queries(len(preview)):
        assert len([e for e in dunning_service.dunning_plan(nine, today=day(20)) if not e.blocker]) == 8

    with CaptureQueriesContext(db_connection) as run:
        assert len(dunning_service.dunning_run(company=three, today=day(20), actor=None).reminder_ids) == 2
    with django_assert_num_queries(len(run)):
        result = dunning_service.dunning_run(company=nine, today=day(20), actor=None)
    assert (len(result.reminder_ids), result.skipped) == (8, 1)
    assert sorted(result.reminder_ids) == sorted(Reminder.objects.filter(company=nine).values_list("pk", flat=True))
    assert ActionRun.objects.filter(company=nine, action=REMINDER_ACTION).count() == 8
    assert AuditEvent.objects.filter(company=nine, action="dunning.level_changed").count() == 8
    # The figures themselves: a change in them is a change in the design, to make on purpose.
    assert (len(preview), len(run)) == (9, 24)
    # Reminders, action runs and audit events go as one document (`values_insert`), the states' ids as one array:
    # never one placeholder per value.
    inserts = [query["sql"] for query in run.captured_queries if query["sql"].startswith("INSERT")]
    assert [sql.split(" ")[2].strip('"') for sql in inserts] == [
        "finance_invoicedunning",
        "finance_reminder",
        "integrations_actionrun",
        "finance_auditevent",
    ]
    assert ["unnest(" in sql or "json_populate_recordset(" in sql for sql in inserts] == [True] * 4
    assert ["VALUES" in sql for sql in inserts] == [False] * 4


@pytest.mark.django_db
def test_the_preview_and_the_daily_run_build_their_rows_with_the_cycle_collector_paused(company_a, user, monkeypatch):
    company = company_with_overdue(company_a, user, 3)
    collector_on = []
    read_facts = selectors.dunning_facts

    def facts_noting_the_collector(**kwargs):
        collector_on.append(gc.isenabled())
        return read_facts(**kwargs)

    monkeypatch.setattr(selectors, "dunning_facts", facts_noting_the_collector)
    assert gc.isenabled()

    assert len(dunning_service.dunning_plan(company, today=day(20))) == 3
    assert len(started(dunning_service.dunning_run(company=company, today=day(20), actor=None))) == 2

    # Off while the thousands of rows are built (its full passes cost a quarter of a run at 20,000 invoices), on after.
    assert (collector_on, gc.isenabled()) == ([False, False], True)
