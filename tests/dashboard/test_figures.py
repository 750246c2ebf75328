"""Every dashboard figure on a dataset built by hand, to the centime, and equal to the list it links to.

Today is Saturday 21.11.2026; EUR is converted at 0.95 (20.11.2026). Companies QA and QB.
"""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone, translation

from dashboard import figures, selectors
from dashboard.models import FigureSnapshot
from finance.models import BankAccount, FxRate, Invoice, Milestone, Project, Quote, SupplierInvoice
from finance.scope import CompanyScope
from integrations.models import ActionRun, WebhookDelivery
from tests.factories import (
    BankAccountFactory,
    BankTransactionFactory,
    ClientFactory,
    ConnectionFactory,
    PaymentFactory,
    SupplierFactory,
    UserFactory,
)

TODAY = dt.date(2026, 11, 21)
NOW = dt.datetime(2026, 11, 21, 8, 30, tzinfo=dt.UTC)  # 09:30 in Zurich
D = Decimal


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def make_invoice(company, client, user, *, number, issued, due, net, status="issued", kind="standard",
                 currency="CHF", credited=None):  # fmt: skip
    vat = (D(net) * D("0.081")).quantize(D("0.01"))
    gross = D(net) + vat
    return Invoice.objects.create(
        company=company, client=client, created_by=user, number=number, title=number, status=status, kind=kind,
        currency=currency, issue_date=day(issued) if issued else None, due_date=day(due) if due else None,
        net_total=D(net), vat_total=vat, gross_total=gross, payable_total=gross, credited_invoice=credited,
    )  # fmt: skip


def pay(invoice, user, amount, received_on):
    payment = PaymentFactory(company=invoice.company, client=invoice.client, amount=D(amount),
                             received_on=day(received_on), currency=invoice.currency, created_by=user)  # fmt: skip
    payment.allocations.create(invoice=invoice, amount=D(amount))
    return payment


def supplier_invoice(company, supplier, entered_by, approver, *, number, dated, due, net, status, paid_on=None):
    vat = (D(net) * D("0.081")).quantize(D("0.01"))
    approved = status in ("approved", "scheduled", "paid")
    return SupplierInvoice.objects.create(
        company=company, supplier=supplier, supplier_number=number, invoice_date=day(dated), due_date=day(due),
        net_total=D(net), vat_total=vat, gross_total=D(net) + vat, creditor_iban=supplier.iban, status=status,
        created_by=entered_by, approved_by=approver if approved else None, approved_at=NOW if approved else None,
        paid_on=day(paid_on) if paid_on else None, rejection_reason="Doublon" if status == "rejected" else "",
    )  # fmt: skip


@pytest.fixture
def lists_on_today(monkeypatch):
    """The list pages the cards link to read the current date: make it the dataset's TODAY, whatever the
    calendar says (their narrowings — overdue, still valid — move with the date)."""
    real_localdate = timezone.localdate

    def localdate(value=None, timezone=None):
        return TODAY if value is None else real_localdate(value, timezone)

    monkeypatch.setattr("django.utils.timezone.localdate", localdate)


@pytest.fixture
def dataset(company_a, company_b):
    user, approver = UserFactory(), UserFactory()
    alpha, beta = ClientFactory(company=company_a), ClientFactory(company=company_b)
    FxRate.objects.create(currency="EUR", rate=D("0.95"), rate_date=day("2026-11-20"), source="revolut")
    FxRate.objects.create(currency="EUR", rate=D("0.90"), rate_date=day("2026-10-01"), source="revolut")

    # Paid last year, a month after the due date.
    i1 = make_invoice(company_a, alpha, user, number="QA-1", issued="2025-11-10", due="2025-12-10", net="1000.00",
                      status="paid")  # fmt: skip
    pay(i1, user, "1081.00", "2026-01-05")
    i5 = make_invoice(company_b, beta, user, number="QB-5", issued="2025-11-18", due="2025-12-18", net="3000.00",
                      status="paid")  # fmt: skip
    pay(i5, user, "3243.00", "2025-12-20")
    # Open, not due yet.
    make_invoice(company_a, alpha, user, number="QA-2", issued="2026-11-03", due="2026-12-03", net="2000.00")
    # Partly paid, partly credited, 51 days late: balance 540.50 − 200.00 − 108.10 = 232.40.
    i3 = make_invoice(company_a, alpha, user, number="QA-3", issued="2026-09-01", due="2026-10-01", net="500.00",
                      status="partially_paid")  # fmt: skip
    pay(i3, user, "200.00", "2026-10-15")
    make_invoice(company_a, alpha, user, number="QA-CN1", issued="2026-11-10", due="2026-11-10", net="100.00",
                 kind="credit_note", credited=i3)  # fmt: skip
    # A deposit invoice awaiting payment, and a euro invoice 6 days late.
    make_invoice(company_a, alpha, user, number="QA-D1", issued="2026-11-15", due="2026-11-25", net="400.00",
                 kind="deposit")  # fmt: skip
    make_invoice(company_b, beta, user, number="QB-4", issued="2026-11-05", due="2026-11-15", net="1000.00",
                 currency="EUR")  # fmt: skip
    # Neither a draft nor a cancelled invoice counts.
    make_invoice(company_a, alpha, user, number="", issued=None, due=None, net="9999.00", status="draft")
    make_invoice(company_a, alpha, user, number="QA-X", issued="2026-11-02", due="2026-12-02", net="7777.00",
                 status="cancelled")  # fmt: skip

    supplier_a, supplier_b = SupplierFactory(company=company_a), SupplierFactory(company=company_b)
    supplier_invoice(company_a, supplier_a, user, approver, number="S1", dated="2026-10-01", due="2026-10-31",
                     net="1000.00", status="paid", paid_on="2026-11-02")  # fmt: skip
    supplier_invoice(company_a, supplier_a, user, approver, number="S2", dated="2026-11-10", due="2026-12-10",
                     net="500.00", status="approved")  # fmt: skip
    supplier_invoice(company_b, supplier_b, user, approver, number="S3", dated="2026-11-01", due="2027-01-15",
                     net="200.00", status="to_approve")  # fmt: skip
    supplier_invoice(company_b, supplier_b, user, approver, number="S4", dated="2026-11-02", due="2026-11-30",
                     net="800.00", status="rejected")  # fmt: skip

    def quote(company, client, number, status, valid_until, net, currency="CHF"):
        return Quote.objects.create(
            company=company, client=client, created_by=user, number=number, title=number, status=status,
            quote_date=day("2026-10-01"), valid_until=day(valid_until), currency=currency, net_total=D(net),
            gross_total=D(net), payable_total=D(net),
        )  # fmt: skip

    quote(company_a, alpha, "QA-Q1", "sent", "2026-11-25", "5000.00")
    quote(company_b, beta, "QB-Q2", "viewed", "2026-12-31", "1000.00", currency="EUR")
    quote(company_a, alpha, "QA-Q3", "sent", "2026-11-10", "3000.00")  # past its validity: out of the pipeline
    quote(company_a, alpha, "", "draft", "2026-12-31", "4000.00")

    late = Project.objects.create(company=company_a, client=alpha, name="Hall", status="installing", created_by=user)
    Milestone.objects.create(project=late, title="Pose", due_date=day("2026-11-01"), status="planned")
    Milestone.objects.create(
        project=late, title="Commande", due_date=day("2026-10-01"), status="done", done_on=day("2026-09-30")
    )
    Project.objects.create(company=company_b, client=beta, name="Vitrine", status="signed", created_by=user)
    Project.objects.create(company=company_a, client=alpha, name="Ancien", status="closed", created_by=user)
    FigureSnapshot.objects.create(company=company_a, day=day("2025-11-21"), metric="pipeline", currency="CHF",
                                  value=D("2000.00"))  # fmt: skip
    FigureSnapshot.objects.create(company=company_a, day=day("2025-11-21"), metric="projects_active", value=1)

    account_a = BankAccountFactory(company=company_a, currency="CHF", balance=D("10000.00"))
    account_b = BankAccountFactory(company=company_b, currency="EUR", balance=D("2000.00"))
    for account, amount, moment, match in [
        (account_a, "1081.00", "2026-01-05T10:00", "matched_none"),
        (account_a, "-500.00", "2026-11-15T10:00", "n/a"),
        (account_a, "300.00", "2026-11-20T10:00", "unmatched"),
        (account_a, "120.00", "2026-11-10T10:00", "unmatched"),  # unmatched for 11 days: urgent
        (account_b, "-100.00", "2026-11-10T10:00", "n/a"),
    ]:
        BankTransactionFactory(
            company=account.company, account=account, currency=account.currency, amount=D(amount),
            created_on_bank=timezone.make_aware(dt.datetime.fromisoformat(moment)),
            match_status="n/a" if match == "matched_none" else match,
        )  # fmt: skip
    # The 120.00 is not yet in the balance: it is pending at the bank.
    BankTransactionFactory._meta.model.objects.filter(amount=D("120.00")).update(state="pending")

    ActionRun.objects.create(
        action="revolut.payout", company=company_a, target_type=ContentType.objects.get_for_model(Invoice),
        target_id=i3.pk, idempotency_key="failed-1", status="failed", finished_at=NOW, last_error="HTTP 500",
    )  # fmt: skip
    WebhookDelivery.objects.create(provider="mautic", company=company_b, status="rejected", error="bad signature")
    consent = ConnectionFactory(company=company_a, provider="revolut")
    consent.consent_granted_at = NOW - dt.timedelta(days=80)
    consent.consent_expires_at = NOW + dt.timedelta(days=3)
    consent.save()
    figures.figures_refresh()
    return {"user": user}


@pytest.fixture
def scope(ceo, company_a, company_b):
    return CompanyScope(user=ceo)


def values(kpis):
    return {kpi.key: kpi for kpi in kpis}


@pytest.mark.django_db
def test_revenue_cards_net_of_credit_notes_with_last_year(dataset, scope):
    with translation.override("en"):
        kpis = values(selectors.revenue_kpis(scope=scope, today=TODAY))
    month, year, margin = kpis["revenue_month"], kpis["revenue_year"], kpis["margin"]
    # November: QA-2 2000.00 − credit note 100.00 + deposit 400.00 + QB-4 EUR 1000.00 × 0.95 = 3250.00.
    assert month.value == D("3250.00")
    assert month.year_ago == D("4000.00")  # 01.–21.11.2025: QA-1 1000.00 + QB-5 3000.00
    assert month.delta == D("-18.8")
    assert [p.value for p in month.history] == [D("0.00")] * 9 + [D("500.00"), D("0.00"), D("3250.00")]
    assert year.value == D("3750.00")
    assert year.year_ago == D("4000.00")
    assert year.delta == D("-6.2")
    assert [p.value for p in year.history][-4:] == [D("0.00"), D("500.00"), D("500.00"), D("3750.00")]
    assert year.history[0].value == D("4000.00")  # December 2025: the whole of 2025
    # Costs 2026: S1 1000.00 + S2 500.00 + S3 200.00 (the rejected S4 is not a cost) → (3750 − 1700) / 3750.
    assert margin.value == D("54.7")
    assert margin.unit == "%"
    assert margin.year_ago == D("100.0")
    assert margin.delta == D("-45.3")
    assert month.link == "/invoices/?date_from=2026-11-01&date_to=2026-11-21"


@pytest.mark.django_db
def test_revenue_counts_the_days_up_to_today_though_a_month_view_holds_whole_months(dataset, scope, company_a):
    """The month views sum whole months: the month of today, and of the same day a year ago, is read by day."""
    alpha = Invoice.objects.get(number="QA-2").client
    make_invoice(company_a, alpha, dataset["user"], number="QA-6", issued="2026-11-25", due="2026-12-25", net="600.00")
    make_invoice(company_a, alpha, dataset["user"], number="QA-7", issued="2025-11-28", due="2025-12-28", net="700.00",
                 status="paid")  # fmt: skip
    figures.figures_refresh()

    on_21st = values(selectors.revenue_kpis(scope=scope, today=TODAY))
    on_28th = values(selectors.revenue_kpis(scope=scope, today=day("2026-11-28")))

    # Up to the 21st neither counts: QA-6 is dated the 25th, QA-7 the 28th of last November.
    assert (on_21st["revenue_month"].value, on_21st["revenue_month"].year_ago) == (D("3250.00"), D("4000.00"))
    assert (on_21st["revenue_year"].value, on_21st["revenue_year"].year_ago) == (D("3750.00"), D("4000.00"))
    assert on_21st["revenue_year"].history[0].value == D("4700.00")  # December 2025: the whole of 2025, QA-7 in it
    # Up to the 28th both do.
    assert (on_28th["revenue_month"].value, on_28th["revenue_month"].year_ago) == (D("3850.00"), D("4700.00"))
    assert (on_28th["revenue_year"].value, on_28th["revenue_year"].year_ago) == (D("4350.00"), D("4700.00"))


@pytest.mark.django_db
def test_receivable_cards_equal_the_lists_and_the_history_views(dataset, scope, client, ceo, lists_on_today):
    with translation.override("en"):
        kpis = values(selectors.receivable_kpis(scope=scope, today=TODAY))
    receivable, overdue, payable = kpis["receivables_open"], kpis["receivables_overdue"], kpis["payables_due"]
    # QA-2 2162.00 + QA-3 232.40 + QA-D1 432.40 + QB-4 EUR 1081.00 × 0.95 = 1026.95.
    assert receivable.value == D("3853.75")
    assert overdue.value == D("1259.35")  # QA-3 232.40 + QB-4 1026.95
    assert payable.value == D("540.50")  # S2; S3 is due after 21.12, S4 rejected
    assert receivable.year_ago == D("4324.00")  # 21.11.2025: QA-1 1081.00 + QB-5 3243.00, neither due yet
    assert overdue.year_ago == D("0.00")
    assert overdue.delta is None
    assert receivable.delta == D("-10.9")
    # Month ends December 2025 … October 2026, then today.
    assert [p.value for p in receivable.history] == (
        [D("1081.00")] + [D("0.00")] * 8 + [D("540.50"), D("340.50"), D("3853.75")]
    )
    assert [p.value for p in overdue.history] == [D("1081.00")] + [D("0.00")] * 9 + [D("340.50"), D("1259.35")]
    assert [p.value for p in payable.history][-3:] == [D("0.00"), D("1081.00"), D("540.50")]

    # The views, read at today, give the live figures: nothing drifts between history and now.
    money = selectors.conversion()
    rows = selectors._as_of_rows("dashboard_receivable_day", ["open_total", "overdue_total"], [*scope.company_ids],
                                 [TODAY])  # fmt: skip
    assert selectors._history_by_day(rows, "open_total", money)[TODAY] == receivable.value
    assert selectors._history_by_day(rows, "overdue_total", money)[TODAY] == overdue.value

    # The lists the cards link to hold exactly these invoices (CSV amounts, per currency).
    client.force_login(ceo)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"

    def csv_rows(url):
        response = client.get(url + "&export=csv")
        return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))

    open_rows = csv_rows(receivable.link)
    assert sorted(r["Number"] for r in open_rows) == ["QA-2", "QA-3", "QA-D1", "QB-4"]
    assert sum(D(r["Balance due"]) for r in open_rows if r["Currency"] == "CHF") == D("2826.80")
    assert [r["Balance due"] for r in open_rows if r["Currency"] == "EUR"] == ["1081.00"]
    overdue_rows = csv_rows(overdue.link)
    assert sorted(r["Number"] for r in overdue_rows) == ["QA-3", "QB-4"]
    payable_rows = csv_rows(payable.link)
    assert [(r["Their number"], r["Total"]) for r in payable_rows] == [("S2", "540.50")]


@pytest.mark.django_db
def test_pipeline_and_projects_with_snapshots(dataset, scope, client, ceo, lists_on_today):
    with translation.override("en"):
        kpis = values(selectors.activity_kpis(scope=scope, today=TODAY))
    pipeline, projects = kpis["pipeline"], kpis["projects"]
    assert pipeline.value == D("5950.00")  # QA-Q1 5000.00 + QB-Q2 EUR 1000.00 × 0.95
    assert pipeline.year_ago == D("2000.00")
    assert pipeline.delta == D("197.5")
    assert [p.value for p in pipeline.history] == [D("5950.00")]  # no snapshot at the month ends yet
    assert projects.value == 2
    assert projects.year_ago == 1
    assert projects.delta == D("100.0")
    assert projects.note == "1 late (a milestone past its date)"
    client.force_login(ceo)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = client.get(pipeline.link + "&export=csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert sorted((r["Number"], r["Net"]) for r in rows) == [("QA-Q1", "5000.00"), ("QB-Q2", "1000.00")]


@pytest.mark.django_db
def test_snapshot_record_writes_todays_figures_once(dataset, company_a, company_b):
    from dashboard import services

    services.figure_snapshots_record(day=TODAY)
    services.figure_snapshots_record(day=TODAY)
    recorded = {(s.company.code, s.metric, s.currency): s.value for s in FigureSnapshot.objects.filter(day=TODAY)}
    assert recorded == {
        ("QA", "pipeline", "CHF"): D("5000.00"), ("QB", "pipeline", "EUR"): D("1000.00"),
        ("QA", "projects_active", ""): D("1.00"), ("QA", "projects_late", ""): D("1.00"),
        ("QB", "projects_active", ""): D("1.00"), ("QB", "projects_late", ""): D("0.00"),
    }  # fmt: skip


@pytest.mark.django_db
def test_cash_balances_history_forecast_and_runway(dataset, scope):
    with translation.override("en"):
        cash = selectors.cash_overview(scope=scope, today=TODAY)
    assert cash.kpi.value == D("11900.00")  # 10000.00 + EUR 2000.00 × 0.95
    assert cash.balances == {"CHF": D("10000.00"), "EUR": D("2000.00")}
    assert cash.kpi.year_ago is None  # the bank history starts on 05.01.2026
    by_day = {point.day: point.balance for point in cash.last_30_days}
    assert len(cash.last_30_days) == 30
    assert cash.last_30_days[-1].day == TODAY
    assert by_day[day("2026-11-20")] == D("11900.00")
    assert by_day[day("2026-11-19")] == D("11600.00")  # before the +300.00
    assert by_day[day("2026-11-14")] == D("12100.00")  # before −500.00 CHF and +300.00: 10200.00 + 1900.00
    assert by_day[day("2026-11-09")] == D("12195.00")  # and before EUR −100.00: 10200.00 + EUR 2100.00 × 0.95
    # End of December 2025: before the +1081.00 of January; end of January: after it.
    assert [p.value for p in cash.kpi.history][:2] == [D("11114.00"), D("12195.00")]
    # Outflows over 90 days: 500.00 + EUR 100.00 × 0.95 = 595.00, 198.33 a month.
    assert cash.monthly_outflow == D("198.33")
    assert cash.runway_months == D("60.0")
    assert [(f.days, f.receivables, f.payables, f.balance) for f in cash.forecast] == [
        (30, D("3853.75"), D("540.50"), D("15213.25")),
        (60, D("3853.75"), D("540.50"), D("15213.25")),
        (90, D("3853.75"), D("540.50"), D("15213.25")),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(("moved_on", "year_ago"), [("2025-11-21", D("11114.00")), ("2025-11-22", None)])
def test_cash_compares_with_a_year_ago_only_when_the_bank_history_reaches_that_day(
    dataset, scope, company_a, moved_on, year_ago
):  # fmt: skip
    account = BankAccount.objects.get(company=company_a, currency="CHF")
    BankTransactionFactory(
        company=company_a, account=account, currency="CHF", amount=D("50.00"), match_status="n/a",
        created_on_bank=timezone.make_aware(dt.datetime.fromisoformat(f"{moved_on}T10:00")),
    )  # fmt: skip
    figures.figures_refresh()

    cash = selectors.cash_overview(scope=scope, today=TODAY)

    # At the end of 21.11.2025: today's balances less what moved after (CHF 881.00 in, EUR 100.00 out):
    # CHF 9119.00 + EUR 2100.00 × 0.95. A first movement on the 22nd leaves that day out of the bank's history.
    assert cash.kpi.year_ago == year_ago


@pytest.mark.django_db
def test_revenue_charts_and_ageing(dataset, scope, company_a, company_b):
    with translation.override("en"):
        charts = selectors.revenue_charts(scope=scope, today=TODAY)
        bars, _money = selectors.receivables_ageing(scope=scope, today=TODAY)
    assert charts.months[0] == day("2024-12-01")
    assert charts.months[-1] == day("2026-11-01")
    assert charts.totals[11] == D("4000.00")
    assert charts.totals[21] == D("500.00")
    assert charts.totals[23] == D("3250.00")
    assert sum(charts.totals) == D("7750.00")
    assert [(c.code, total) for c, total in charts.by_company] == [("QA", D("2800.00")), ("QB", D("950.00"))]
    assert [(c.code, values[-1]) for c, values in charts.stacked] == [("QA", D("2300.00")), ("QB", D("950.00"))]
    # The trend is the least-squares line: it passes through the mean at the middle of the 24 months.
    assert (charts.trend[11] + charts.trend[12]) / 2 == pytest.approx(D("322.92"), abs=D("0.01"))
    assert [(b.key, b.count, b.total) for b in bars] == [
        ("not_due", 2, D("2594.40")), ("1_30", 1, D("1026.95")), ("31_60", 1, D("232.40")),
        ("61_90", 0, D("0.00")), ("over_90", 0, D("0.00")),
    ]  # fmt: skip
    assert bars[2].link == "/invoices/?open=1&bucket=31_60"


@pytest.mark.django_db
def test_urgent_items_sorted_by_severity(dataset, scope, ceo):
    with translation.override("en"):
        items = selectors.urgent_items(scope=scope, user=ceo, today=TODAY, now=NOW)
    assert [(item.key, item.severity_name) for item in items] == [
        ("overdue:QA", "critical"),
        ("consent:QA", "high"), ("failed_runs:QA", "high"), ("quotes:QA", "high"), ("unmatched:QA", "high"),
        ("overdue:QB", "high"), ("rejected_webhooks:QB", "high"),
        ("deposits:QA", "medium"), ("approvals:QB", "medium"),
    ]  # fmt: skip
    texts = {item.key: item.text for item in items}
    assert texts["overdue:QA"] == "1 overdue invoice · CHF 232.40 · oldest 51 days late"
    assert texts["overdue:QB"] == "1 overdue invoice · EUR 1'081.00 · oldest 6 days late"
    assert texts["quotes:QA"] == "2 quotes expire by 28.11.2026 · CHF 8'000.00 net"
    assert texts["unmatched:QA"] == "1 bank transaction unmatched for more than 5 days · CHF 120.00"
    assert texts["consent:QA"] == "Revolut consent expires on 24.11.2026"
    assert {item.key: item.link for item in items}["overdue:QA"] == "/dunning/?company=QA"


@pytest.mark.django_db
def test_open_invoice_table_follows_payments_credit_notes_and_undo(dataset, scope, ceo):
    from django.db import connection

    from dashboard.models import OpenInvoice
    from finance.selectors import invoice_list

    def kept():
        return {row.invoice.number: row.balance_due for row in OpenInvoice.objects.select_related("invoice")}

    def listed():
        invoices = invoice_list(scope=scope, today=TODAY).filter(status__in=["issued", "partially_paid"])
        return {i.number: i.balance_due for i in invoices.exclude(kind="credit_note") if i.balance_due > 0}

    assert kept() == listed() == {
        "QA-2": D("2162.00"), "QA-3": D("232.40"), "QA-D1": D("432.40"), "QB-4": D("1081.00")
    }  # fmt: skip
    payment = pay(Invoice.objects.get(number="QA-2"), dataset["user"], "162.00", "2026-11-20")
    assert kept()["QA-2"] == D("2000.00")
    type(payment).objects.filter(pk=payment.pk).update(undone_at=NOW, undone_by=ceo)
    assert kept()["QA-2"] == D("2162.00")
    # Settled in full, then its status follows (the database refuses a status its payments do not make).
    pay(Invoice.objects.get(number="QA-D1"), dataset["user"], "432.40", "2026-11-21")
    Invoice.objects.filter(number="QA-D1").update(status="paid")
    assert "QA-D1" not in kept()
    assert kept() == listed()
    with connection.cursor() as cursor:
        cursor.execute("SELECT dashboard_open_invoice_rebuild()")
    assert kept() == listed()
