"""Where a project stands, derived from its documents: costs, invoicing, margin, late milestones, next action.

Pure computations on a project whose related rows were prefetched (see
`finance.selectors.project_overview_list`), so a page of any length costs a fixed number of queries.
No figure here is typed by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.urls import reverse
from django.utils.translation import gettext as _

from finance.models import Invoice, Milestone, Project, ProviderAssignment, SupplierInvoice

ZERO = Decimal("0.00")
HUNDRED = Decimal("100")
# Supplier invoices that count as a cost of the project: approved for payment, or paid.
COST_STATUSES = (SupplierInvoice.Status.APPROVED, SupplierInvoice.Status.SCHEDULED, SupplierInvoice.Status.PAID)
OPEN_MILESTONE = (Milestone.Status.PLANNED, Milestone.Status.IN_PROGRESS)


@dataclass(frozen=True)
class NextAction:
    label: str
    url: str
    tone: str  # Tabler colour: red = late or blocking, orange = waiting on us, blue = routine


@dataclass(frozen=True)
class ProjectOverview:
    project: Project
    late_milestones: list[Milestone]
    providers: list[ProviderAssignment]
    costs: Decimal  # net of supplier invoices approved or paid
    costs_to_approve: Decimal  # net of supplier invoices still waiting for approval
    invoiced: Decimal  # issued to the client, VAT included, net of credit notes
    collected: Decimal  # paid by the client on those invoices
    revenue: Decimal  # invoiced excluding VAT, net of credit notes
    next_action: NextAction | None
    oldest_late_days: int | None  # how many days the oldest late milestone is overdue

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.costs

    @property
    def margin_percent(self) -> Decimal | None:
        if self.revenue <= ZERO:
            return None
        return (self.margin * HUNDRED / self.revenue).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def costs_percent_of_budget(self) -> Decimal | None:
        budget = self.project.budget
        if budget <= ZERO:
            return None
        return (self.costs * HUNDRED / budget).quantize(Decimal("1"), rounding=ROUND_HALF_UP)

    @property
    def collected_percent(self) -> Decimal | None:
        if self.invoiced <= ZERO:
            return None
        return (self.collected * HUNDRED / self.invoiced).quantize(Decimal("1"), rounding=ROUND_HALF_UP)

    @property
    def oldest_late_milestone(self) -> Milestone | None:
        return self.late_milestones[0] if self.late_milestones else None


def _issued(invoices: list[Invoice]) -> list[Invoice]:
    """Invoices that left the house: numbered (a cancelled draft never got a number)."""
    return [invoice for invoice in invoices if invoice.number]


def project_overview(project: Project, *, today: date) -> ProjectOverview:
    """Everything the CEO reads about a project, from its prefetched documents."""
    client_invoices = list(project.quote.invoices.all()) if project.quote_id else []
    issued = _issued(client_invoices)
    sales = [invoice for invoice in issued if invoice.kind != Invoice.Kind.CREDIT_NOTE]
    credits = [invoice for invoice in issued if invoice.kind == Invoice.Kind.CREDIT_NOTE]
    supplier_invoices = list(project.supplier_invoices.all())
    late = sorted(
        (m for m in project.milestones.all() if m.status in OPEN_MILESTONE and m.due_date and m.due_date < today),
        key=lambda milestone: (milestone.due_date, milestone.position),
    )
    return ProjectOverview(
        project=project,
        late_milestones=late,
        providers=list(project.assignments.all()),
        costs=sum((i.net_total for i in supplier_invoices if i.status in COST_STATUSES), ZERO),
        costs_to_approve=sum(
            (i.net_total for i in supplier_invoices if i.status == SupplierInvoice.Status.TO_APPROVE), ZERO
        ),
        invoiced=sum((i.payable_total for i in sales), ZERO) - sum((i.payable_total for i in credits), ZERO),
        collected=sum((i.amount_paid for i in sales), ZERO),
        revenue=sum((i.net_total for i in sales), ZERO) - sum((i.net_total for i in credits), ZERO),
        next_action=next_action(
            project, client_invoices=client_invoices, supplier_invoices=supplier_invoices, late=late, today=today
        ),
        oldest_late_days=(today - late[0].due_date).days if late else None,
    )


def next_action(
    project: Project, *, client_invoices: list[Invoice], supplier_invoices: list[SupplierInvoice],
    late: list[Milestone], today: date,
) -> NextAction | None:  # fmt: skip
    """The one thing to do next on the project, most urgent first; None when it is over."""
    status = project.status
    project_url = project.get_absolute_url()
    if status in (Project.Status.CLOSED, Project.Status.CANCELLED):
        return None
    if status == Project.Status.ON_HOLD:
        return NextAction(_("Resume or cancel the project"), project_url, "orange")
    quote = project.quote
    if status == Project.Status.QUOTE_SENT and quote is not None:
        return NextAction(
            _("Chase the signature of %(quote)s") % {"quote": quote.number}, quote.get_absolute_url(), "blue"
        )
    if status == Project.Status.SIGNED and quote is not None:
        return _deposit_action(quote, client_invoices, today=today)
    waiting = sorted(
        (i for i in supplier_invoices if i.status == SupplierInvoice.Status.TO_APPROVE),
        key=lambda i: (i.due_date, i.pk),
    )
    if waiting:
        return NextAction(
            _("Approve the supplier invoice of %(supplier)s") % {"supplier": waiting[0].supplier.name},
            reverse("finance:supplier-invoice-detail", kwargs={"pk": waiting[0].pk}), "orange",
        )  # fmt: skip
    if late:
        return NextAction(_("Late milestone: %(title)s") % {"title": late[0].title}, project_url, "red")
    if status == Project.Status.DELIVERED:
        return _closing_action(project, client_invoices, today=today)
    following = {
        Project.Status.DEPOSIT_RECEIVED: Project.Status.IN_PREPARATION,
        Project.Status.IN_PREPARATION: Project.Status.ORDERING,
        Project.Status.ORDERING: Project.Status.INSTALLING,
        Project.Status.INSTALLING: Project.Status.DELIVERED,
    }[status]
    return NextAction(_("Move on to: %(step)s") % {"step": following.label}, project_url, "blue")


def _deposit_action(quote, client_invoices: list[Invoice], *, today: date) -> NextAction:
    deposit = next(
        (i for i in client_invoices if i.kind == Invoice.Kind.DEPOSIT and i.status != Invoice.Status.CANCELLED), None
    )
    if deposit is None:
        return NextAction(_("Create the deposit invoice"), quote.get_absolute_url(), "orange")
    if deposit.status == Invoice.Status.DRAFT:
        return NextAction(_("Issue the deposit invoice"), deposit.get_absolute_url(), "orange")
    if deposit.due_date and deposit.due_date < today:
        return NextAction(
            _("Chase the deposit %(number)s, overdue since %(date)s")
            % {"number": deposit.number, "date": deposit.due_date.strftime("%d.%m.%Y")},
            deposit.get_absolute_url(), "red",
        )  # fmt: skip
    return NextAction(
        _("Chase the deposit %(number)s") % {"number": deposit.number}, deposit.get_absolute_url(), "orange"
    )


def _closing_action(project: Project, client_invoices: list[Invoice], *, today: date) -> NextAction:
    closing = [
        i for i in client_invoices
        if i.kind in (Invoice.Kind.BALANCE, Invoice.Kind.STANDARD) and i.status != Invoice.Status.CANCELLED
    ]  # fmt: skip
    if not closing:
        target = project.quote.get_absolute_url() if project.quote_id else project.get_absolute_url()
        return NextAction(_("Invoice the balance"), target, "orange")
    unpaid = [i for i in closing if i.status != Invoice.Status.PAID]
    if not unpaid:
        return NextAction(_("Close the project"), project.get_absolute_url(), "green")
    invoice = unpaid[0]
    if invoice.status == Invoice.Status.DRAFT:
        return NextAction(_("Issue the balance invoice"), invoice.get_absolute_url(), "orange")
    tone = "red" if invoice.due_date and invoice.due_date < today else "orange"
    return NextAction(_("Chase the balance %(number)s") % {"number": invoice.number}, invoice.get_absolute_url(), tone)
