"""Figures and next action of the CEO project view, on hand-built projects with exact values."""

import datetime
from decimal import Decimal

import pytest
from django.utils import translation

from finance import selectors
from finance.models import Role
from finance.project_overview import project_overview
from finance.scope import CompanyScope
from finance.services import documents, payments, projects, purchases
from finance.services.purchases import SupplierLineInput
from tests.factories import ClientFactory, QuoteFactory, SupplierFactory

pytestmark = pytest.mark.django_db

D = Decimal
TODAY = datetime.date(2026, 11, 21)
QUOTE_NET = D("20000.00")
DEPOSIT_PERCENT = D("30")


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def clerk(company_a, member_of):
    return member_of(company_a, Role.FINANCE, "clerk")


@pytest.fixture
def boss(company_a, member_of):
    company_a.ceo_approval_threshold = D("100000.00")
    company_a.save()
    return member_of(company_a, Role.CEO, "boss")


def overview_of(project, user, today=TODAY):
    return project_overview(selectors.project_get(scope=CompanyScope(user=user), pk=project.pk), today=today)


def sent_quote(company, user, net=QUOTE_NET, deposit=DEPOSIT_PERCENT):
    quote = QuoteFactory(company=company, client=ClientFactory(company=company), deposit_percent=deposit)
    documents.quote_lines_replace(
        quote=quote, lines=[documents.LineInput("Mur LED", D("1"), net, "standard")], edited_by=user
    )
    return documents.quote_send(quote=quote, sent_by=user)


def pay(invoice, user, amount=None, on=datetime.date(2026, 11, 12)):
    amount = invoice.payable_total if amount is None else amount
    payments.payment_record(
        client=invoice.client, received_on=on, amount=amount, method="bank_transfer", reference="",
        allocations=[(invoice, amount)], recorded_by=user,
    )  # fmt: skip


def issued(invoice, user, on=datetime.date(2026, 11, 2)):
    return documents.invoice_issue(invoice=invoice, issued_by=user, issue_date=on)


def supplier_invoice(project, supplier, user, approver, net, *, number, approve=True):
    invoice = purchases.supplier_invoice_create(
        supplier=supplier, created_by=user, supplier_number=number, project=project,
        invoice_date=datetime.date(2026, 11, 5), due_date=datetime.date(2026, 12, 5),
        lines=[SupplierLineInput(net, "standard")],
    )  # fmt: skip
    invoice = purchases.supplier_invoice_submit(invoice=invoice, submitted_by=user)
    if approve:
        invoice = purchases.supplier_invoice_approve(invoice=invoice, approved_by=approver, override_reason="agreed")
    return invoice


def test_quote_sent_asks_to_chase_the_signature(company_a, clerk, boss):
    quote = sent_quote(company_a, clerk)
    project = projects.project_create_from_quote(quote=quote, created_by=clerk)

    overview = overview_of(project, boss)

    assert (overview.next_action.label, overview.next_action.url) == (
        f"Chase the signature of {quote.number}", quote.get_absolute_url(),
    )  # fmt: skip
    assert (overview.invoiced, overview.revenue, overview.margin, overview.margin_percent) == (
        D("0"),
        D("0"),
        D("0"),
        None,
    )


def test_signed_project_walks_the_deposit_actions(company_a, clerk, boss):
    quote = sent_quote(company_a, clerk)
    project = projects.project_create_from_quote(quote=quote, created_by=clerk)
    documents.quote_mark_signed(quote=quote, actor=clerk)
    assert overview_of(project, boss).next_action.label == "Create the deposit invoice"

    deposit = documents.invoice_create_deposit(quote=quote, created_by=clerk)
    assert overview_of(project, boss).next_action.label == "Issue the deposit invoice"

    deposit = issued(deposit, clerk)
    before_due = overview_of(project, boss, today=deposit.due_date)
    after_due = overview_of(project, boss, today=deposit.due_date + datetime.timedelta(days=1))

    assert (before_due.next_action.label, before_due.next_action.tone) == (
        f"Chase the deposit {deposit.number}",
        "orange",
    )
    assert (after_due.next_action.label, after_due.next_action.tone) == (
        f"Chase the deposit {deposit.number}, overdue since {deposit.due_date:%d.%m.%Y}", "red",
    )  # fmt: skip
    assert (after_due.invoiced, after_due.collected, after_due.revenue) == (D("6486.00"), D("0"), D("6000.00"))


@pytest.fixture
def active_project(company_a, clerk):
    """Signed quote of 20'000.00 net, 30 % deposit (6'486.00 incl. 8.1 % VAT) paid in full."""
    quote = sent_quote(company_a, clerk)
    project = projects.project_create_from_quote(quote=quote, created_by=clerk)
    documents.quote_mark_signed(quote=quote, actor=clerk)
    deposit = issued(documents.invoice_create_deposit(quote=quote, created_by=clerk), clerk)
    pay(deposit, clerk)
    project.refresh_from_db()
    assert project.status == "deposit_received"
    return project


def test_costs_margin_and_the_supplier_approval_action(active_project, company_a, clerk, boss):
    supplier = SupplierFactory(company=company_a, name="Pose Léman SA")
    projects.assignment_save(
        project=active_project, saved_by=clerk, supplier=supplier, role="Pose", agreed_amount=D("5000")
    )
    supplier_invoice(active_project, supplier, clerk, boss, D("3200.00"), number="1")
    waiting = supplier_invoice(active_project, supplier, clerk, boss, D("2100.00"), number="2", approve=False)

    overview = overview_of(active_project, boss)

    assert (overview.costs, overview.costs_to_approve, overview.costs_percent_of_budget) == (
        D("3200.00"),
        D("2100.00"),
        D("16"),
    )
    assert (overview.invoiced, overview.collected, overview.collected_percent) == (D("6486.00"), D("6486.00"), D("100"))
    assert (overview.revenue, overview.margin, overview.margin_percent) == (D("6000.00"), D("2800.00"), D("46.7"))
    assert (overview.next_action.label, overview.next_action.url) == (
        "Approve the supplier invoice of Pose Léman SA", waiting.get_absolute_url(),
    )  # fmt: skip
    assert waiting.deviation_percent == D("6.00")


def test_a_rejected_or_draft_supplier_invoice_is_no_cost(active_project, company_a, clerk, boss):
    supplier = SupplierFactory(company=company_a)
    rejected = supplier_invoice(active_project, supplier, clerk, boss, D("900.00"), number="R", approve=False)
    purchases.supplier_invoice_reject(invoice=rejected, rejected_by=boss, reason="Not ours")
    purchases.supplier_invoice_create(
        supplier=supplier, created_by=clerk, supplier_number="D", project=active_project,
        invoice_date=datetime.date(2026, 11, 5), due_date=datetime.date(2026, 12, 5),
        lines=[SupplierLineInput(D("700.00"), "standard")],
    )  # fmt: skip

    overview = overview_of(active_project, boss)

    assert (overview.costs, overview.costs_to_approve, overview.margin) == (D("0"), D("0"), D("6000.00"))


def test_late_milestone_names_the_oldest(active_project, clerk, boss):
    first, second = list(active_project.milestones.order_by("position"))[:2]
    projects.milestone_save(
        project=active_project, saved_by=clerk, milestone=second, due_date=datetime.date(2026, 11, 1)
    )
    projects.milestone_save(
        project=active_project, saved_by=clerk, milestone=first, due_date=datetime.date(2026, 11, 10)
    )

    overview = overview_of(active_project, boss)

    assert [m.title for m in overview.late_milestones] == [second.title, first.title]
    assert (overview.oldest_late_days, overview.next_action.label, overview.next_action.tone) == (
        20, f"Late milestone: {second.title}", "red",
    )  # fmt: skip
    projects.milestone_save(project=active_project, saved_by=clerk, milestone=second, status="done", today=TODAY)
    assert overview_of(active_project, boss).next_action.label == f"Late milestone: {first.title}"


def test_on_time_work_moves_on_to_the_next_step(active_project, boss):
    overview = overview_of(active_project, boss, today=datetime.date(2026, 11, 1))

    assert (overview.late_milestones, overview.next_action.label) == ([], "Move on to: In preparation")


def test_delivered_project_asks_for_the_balance_then_to_close(active_project, clerk, boss):
    for _step in range(4):
        projects.project_advance(project=active_project, advanced_by=clerk)
    for milestone in active_project.milestones.all():
        projects.milestone_save(project=active_project, saved_by=clerk, milestone=milestone, status="done", today=TODAY)
    assert overview_of(active_project, boss).next_action.label == "Invoice the balance"

    balance = documents.invoice_create_balance(quote=active_project.quote, created_by=clerk)
    assert overview_of(active_project, boss).next_action.label == "Issue the balance invoice"
    balance = issued(balance, clerk, on=datetime.date(2026, 11, 15))
    assert overview_of(active_project, boss).next_action.label == f"Chase the balance {balance.number}"
    pay(balance, clerk, on=datetime.date(2026, 11, 20))

    overview = overview_of(active_project, boss)
    assert (overview.next_action.label, overview.next_action.tone) == ("Close the project", "green")
    assert (overview.invoiced, overview.collected, overview.revenue) == (D("21620.00"), D("21620.00"), D("20000.00"))


def test_a_credit_note_lowers_revenue_and_can_make_the_margin_negative(active_project, company_a, clerk, boss):
    deposit = active_project.quote.invoices.get(kind="deposit")
    note = documents.credit_note_create(invoice=deposit, created_by=clerk, reason="Geste", amount=D("1081.00"))
    issued(note, clerk, on=datetime.date(2026, 11, 18))
    supplier_invoice(active_project, SupplierFactory(company=company_a), clerk, boss, D("5500.00"), number="X")

    overview = overview_of(active_project, boss)

    assert (overview.invoiced, overview.revenue) == (D("5405.00"), D("5000.00"))
    assert (overview.margin, overview.margin_percent) == (D("-500.00"), D("-10.0"))


def test_hold_and_closed_states(active_project, clerk, boss):
    projects.project_hold(project=active_project, held_by=clerk, reason="Chantier arrêté")
    assert overview_of(active_project, boss).next_action.label == "Resume or cancel the project"

    projects.project_cancel(project=active_project, cancelled_by=clerk, reason="Client en faillite")
    assert overview_of(active_project, boss).next_action is None
