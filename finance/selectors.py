"""Reads of finance data. Every query goes through `scoped()`, so no page sees another company's rows."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DecimalField,
    F,
    Max,
    Min,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, Upper
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from finance import vat
from finance.models import (
    AccountMap,
    AuditEvent,
    BankAccount,
    BankTransaction,
    Client,
    Company,
    Contact,
    DepositRule,
    DocumentSequence,
    DunningLevel,
    DunningPolicy,
    FxRate,
    Invoice,
    InvoiceDunning,
    Lead,
    MatchSuggestion,
    Membership,
    Milestone,
    OutgoingPayment,
    Payment,
    PaymentAllocation,
    Project,
    ProviderAssignment,
    Quote,
    QuoteSignature,
    Reminder,
    Supplier,
    SupplierInvoice,
    SupplierInvoiceCapture,
    VatReturn,
)
from finance.models.actions import PAYMENT_ACTION, REMIND_ACTION, SEND_ACTION, SIGN_ACTION
from finance.models.sales import OPEN_INVOICE
from finance.project_overview import ProjectOverview, project_overview
from finance.scope import CompanyScope
from hypervisual.lookups import AnyOf
from integrations.clients import invoice_ninja as ninja
from integrations.models import ActionRun, Provider, SyncDrift
from integrations.selectors import action_runs_for, usable_connection


def scoped(
    queryset: QuerySet, *, scope: CompanyScope, company_field: str = "company", narrowed: bool = True
) -> QuerySet:
    """Restrict a queryset to the scope's companies: the switcher's choice, or every visible one.

    `narrowed=False` ignores the switcher and keeps every company the user belongs to; detail
    pages use it so that a link to another of the user's companies still opens.
    """
    company_ids = scope.company_ids if narrowed else scope.visible_ids
    lookup = "pk__in" if queryset.model is Company else f"{company_field}__in"
    return queryset.filter(**{lookup: company_ids})


def scoped_get(queryset: QuerySet, *, scope: CompanyScope, company_field: str = "company", **lookup) -> Model:
    """Return one object of the user's companies, or raise Http404 (never 403: no existence leak)."""
    return get_object_or_404(scoped(queryset, scope=scope, company_field=company_field, narrowed=False), **lookup)


def company_list(*, scope: CompanyScope) -> QuerySet[Company]:
    return scoped(Company.objects.all(), scope=scope).order_by("code")


def company_get(*, scope: CompanyScope, code: str) -> Company:
    return scoped_get(Company.objects.all(), scope=scope, code=code)


def membership_list(*, scope: CompanyScope, company: Company | None = None) -> QuerySet[Membership]:
    memberships = scoped(Membership.objects.select_related("user", "company"), scope=scope, narrowed=company is None)
    if company is not None:
        memberships = memberships.filter(company=company)
    return memberships.order_by("company__code", "user__username")


def membership_get(*, scope: CompanyScope, pk: int) -> Membership:
    return scoped_get(Membership.objects.select_related("user", "company"), scope=scope, pk=pk)


def audit_event_list(*, scope: CompanyScope, company: Company | None = None, limit: int = 20) -> QuerySet[AuditEvent]:
    events = scoped(AuditEvent.objects.select_related("actor"), scope=scope, narrowed=company is None)
    if company is not None:
        events = events.filter(company=company)
    return events[:limit]


def audit_event_get(*, scope: CompanyScope, pk: int) -> AuditEvent:
    return scoped_get(AuditEvent.objects.select_related("actor", "company"), scope=scope, pk=pk)


def client_get(*, scope: CompanyScope, pk: int) -> Client:
    return scoped_get(Client.objects.select_related("company"), scope=scope, pk=pk)


def contact_get(*, scope: CompanyScope, pk: int) -> Contact:
    return scoped_get(Contact.objects.select_related("client"), scope=scope, company_field="client__company", pk=pk)


def quote_get(*, scope: CompanyScope, pk: int) -> Quote:
    return scoped_get(Quote.objects.select_related("company", "client"), scope=scope, pk=pk)


def invoice_get(*, scope: CompanyScope, pk: int) -> Invoice:
    return scoped_get(Invoice.objects.select_related("company", "client"), scope=scope, pk=pk)


def payment_get(*, scope: CompanyScope, pk: int) -> Payment:
    return scoped_get(Payment.objects.select_related("company", "client"), scope=scope, pk=pk)


def deposit_rule_get(*, scope: CompanyScope, pk: int) -> DepositRule:
    return scoped_get(DepositRule.objects.all(), scope=scope, pk=pk)


def document_sequence_get(*, scope: CompanyScope, pk: int) -> DocumentSequence:
    return scoped_get(DocumentSequence.objects.all(), scope=scope, pk=pk)


def vat_return_get(*, scope: CompanyScope, pk: int) -> VatReturn:
    return scoped_get(VatReturn.objects.select_related("company"), scope=scope, pk=pk)


def account_map_get(*, scope: CompanyScope, pk: int) -> AccountMap:
    return scoped_get(AccountMap.objects.select_related("company"), scope=scope, pk=pk)


# --- Lists of the sales pages -------------------------------------------------------------------

ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=12, decimal_places=2)


@dataclass(frozen=True)
class DocumentFilters:
    """What a list page narrows by; empty values filter nothing."""

    search: str = ""
    company_code: str = ""
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    overdue: bool = False
    open: bool = False  # invoices still owing, quotes still awaiting an answer, payables still to pay
    bucket: str = ""  # an ageing bucket's key (AGEING_BUCKETS)
    kind: str = ""
    due_by: date | None = None


def client_list(*, scope: CompanyScope, search: str = "", company_code: str = "") -> QuerySet[Client]:
    clients = scoped(Client.objects.select_related("company"), scope=scope)
    if company_code:
        clients = clients.filter(company__code=company_code)
    if search:
        clients = clients.filter(
            Q(name__icontains=search) | Q(email__icontains=search) | Q(town__icontains=search)
            | Q(che_uid__icontains=search) | Q(contacts__name__icontains=search)
        ).distinct()  # fmt: skip
    return clients.order_by("name", "pk")


def client_for_company_list(*, scope: CompanyScope, company: Company) -> QuerySet[Client]:
    return scoped(Client.objects.filter(company=company), scope=scope, narrowed=False).order_by("name")


def contact_list(*, client: Client) -> QuerySet[Contact]:
    return client.contacts.order_by("name")


def quote_list(
    *, scope: CompanyScope, filters: DocumentFilters = DocumentFilters(), today: date | None = None
) -> QuerySet[Quote]:
    quotes = scoped(Quote.objects.select_related("company", "client"), scope=scope)
    if filters.open and today is not None:
        quotes = quotes.filter(status__in=[Quote.Status.SENT, Quote.Status.VIEWED], valid_until__gte=today)
    if filters.company_code:
        quotes = quotes.filter(company__code=filters.company_code)
    if filters.status:
        quotes = quotes.filter(status=filters.status)
    if filters.date_from:
        quotes = quotes.filter(quote_date__gte=filters.date_from)
    if filters.date_to:
        quotes = quotes.filter(quote_date__lte=filters.date_to)
    if filters.search:
        quotes = quotes.filter(
            Q(number__icontains=filters.search) | Q(title__icontains=filters.search)
            | Q(client__name__icontains=filters.search)
        )  # fmt: skip
    return quotes


# Invoices billed to a client, paid or not; credit notes owe nothing. Those still owing: `OPEN_INVOICE` (models).
OWES = Q(status__in=[Invoice.Status.ISSUED, Invoice.Status.PARTIALLY_PAID, Invoice.Status.PAID]) & ~Q(
    kind=Invoice.Kind.CREDIT_NOTE
)


def _with_balances(invoices: QuerySet[Invoice], *, today: date | None = None) -> QuerySet[Invoice]:
    """Annotate what was paid (payments not undone), credited (issued credit notes) and is still due.

    The same rules as finance.services.documents.invoice_balance_due, in SQL so lists can sort and sum.
    With `today`, also whether the invoice is overdue.
    """
    paid = (
        PaymentAllocation.objects.filter(invoice=OuterRef("pk"), payment__undone_at__isnull=True)
        .values("invoice")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    credited = (
        Invoice.objects.filter(credited_invoice=OuterRef("pk"))
        .exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.CANCELLED])
        .values("credited_invoice")
        .annotate(total=Sum("payable_total"))
        .values("total")
    )
    invoices = invoices.annotate(
        amount_paid=Coalesce(Subquery(paid, output_field=MONEY), Value(ZERO), output_field=MONEY),
        amount_credited=Coalesce(Subquery(credited, output_field=MONEY), Value(ZERO), output_field=MONEY),
    ).annotate(
        balance_due=Case(
            When(OWES, then=Greatest(F("payable_total") - F("amount_paid") - F("amount_credited"), Value(ZERO))),
            default=Value(ZERO),
            output_field=MONEY,
        )
    )
    if today is not None:
        invoices = invoices.annotate(
            overdue=Case(
                When(OPEN_INVOICE & Q(due_date__lt=today), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
    return invoices


def invoices_locked_with_balances(invoice_ids) -> list[Invoice]:
    """The invoices locked for update, in id order as every batch locks them, with their balances read under the lock.

    `amount_paid`, `amount_credited` and `balance_due` as `_with_balances` annotates them.
    """
    locked = Invoice.objects.select_for_update(of=("self",)).select_related("company")
    locked = locked.filter(AnyOf(F("pk"), sorted(set(invoice_ids))))
    return list(_with_balances(locked).order_by("pk"))


def invoice_list(
    *, scope: CompanyScope, today: date, filters: DocumentFilters = DocumentFilters()
) -> QuerySet[Invoice]:
    """Invoices with their amounts paid and credited annotated; `overdue` = open and past the due date."""
    invoices = _with_balances(scoped(Invoice.objects.select_related("company", "client"), scope=scope), today=today)
    if filters.company_code:
        invoices = invoices.filter(company__code=filters.company_code)
    if filters.status:
        invoices = invoices.filter(status=filters.status)
    if filters.overdue:
        invoices = invoices.filter(OPEN_INVOICE, due_date__lt=today, balance_due__gt=ZERO)
    if filters.open or filters.bucket:
        invoices = invoices.filter(OPEN_INVOICE, balance_due__gt=ZERO)
    if filters.bucket:
        chosen = next((b for b in AGEING_BUCKETS if b.key == filters.bucket), None)
        if chosen is not None:
            invoices = invoices.filter(ageing_bucket_filter(chosen, today=today))
    if filters.kind:
        invoices = invoices.filter(kind=filters.kind)
    if filters.date_from:
        invoices = invoices.filter(issue_date__gte=filters.date_from)
    if filters.date_to:
        invoices = invoices.filter(issue_date__lte=filters.date_to)
    if filters.search:
        invoices = invoices.filter(
            Q(number__icontains=filters.search) | Q(title__icontains=filters.search)
            | Q(client__name__icontains=filters.search) | Q(qr_reference__icontains=filters.search)
        )  # fmt: skip
    return invoices


def invoice_open_for_client_list(*, client: Client) -> QuerySet[Invoice]:
    """The client's invoices a payment can settle, oldest due first."""
    return _with_balances(Invoice.objects.filter(OPEN_INVOICE, client=client)).order_by("due_date", "pk")


def invoice_for_quote_list(*, quote: Quote) -> QuerySet[Invoice]:
    return _with_balances(quote.invoices.all()).order_by("created_at", "pk")


def credit_note_list(*, invoice: Invoice) -> QuerySet[Invoice]:
    return invoice.credit_notes.order_by("created_at", "pk")


def payment_list(*, scope: CompanyScope, client: Client | None = None, invoice: Invoice | None = None):
    payments = scoped(Payment.objects.select_related("client", "undone_by"), scope=scope, narrowed=False)
    if client is not None:
        payments = payments.filter(client=client)
    if invoice is not None:
        payments = payments.filter(allocations__invoice=invoice).annotate(
            allocated=Sum("allocations__amount", filter=Q(allocations__invoice=invoice))
        )
    return payments.prefetch_related("allocations__invoice").order_by("-received_on", "-pk")


def document_timeline(*, documents: list[Model]) -> QuerySet[AuditEvent]:
    """The audit events of some objects (a document, its payments…), oldest first: the story of a document."""
    matches = Q(pk__in=[])
    for document in documents:
        matches |= Q(object_type=document._meta.label_lower, object_id=str(document.pk))
    return AuditEvent.objects.filter(matches).select_related("actor").order_by("created_at", "pk")


def deposit_rule_list(*, company: Company) -> QuerySet[DepositRule]:
    return DepositRule.objects.filter(company=company).order_by("project_type")


# --- Purchases ----------------------------------------------------------------------------------


def supplier_list(*, scope: CompanyScope, search: str = "", company_code: str = "") -> QuerySet[Supplier]:
    suppliers = scoped(Supplier.objects.select_related("company"), scope=scope).annotate(
        # In the supplier's own currency only: francs and euros are never added.
        open_total=Sum(
            "invoices__gross_total", filter=Q(invoices__status__in=PAYABLE_STATUSES, invoices__currency=F("currency"))
        )
    )
    if company_code:
        suppliers = suppliers.filter(company__code=company_code)
    if search:
        suppliers = suppliers.filter(
            Q(name__icontains=search) | Q(town__icontains=search) | Q(che_uid__icontains=search)
            | Q(iban__icontains=search.replace(" ", "").upper()) | Q(contact_name__icontains=search)
        )  # fmt: skip
    return suppliers


def supplier_get(*, scope: CompanyScope, pk: int) -> Supplier:
    return scoped_get(Supplier.objects.select_related("company"), scope=scope, pk=pk)


def supplier_for_company_list(*, scope: CompanyScope, company: Company) -> QuerySet[Supplier]:
    return scoped(Supplier.objects.filter(company=company), scope=scope, narrowed=False).order_by("name")


# Supplier invoices the group still has to pay (or to decide on): the payables.
PAYABLE_STATUSES = [
    SupplierInvoice.Status.TO_APPROVE, SupplierInvoice.Status.APPROVED, SupplierInvoice.Status.SCHEDULED,
    SupplierInvoice.Status.DISPUTED,
]  # fmt: skip


@dataclass(frozen=True)
class AgeingBucket:
    key: str
    label: str
    days_from: int | None  # days past due, inclusive; None = not due yet
    days_to: int | None


AGEING_BUCKETS = (
    AgeingBucket("not_due", _("Not due"), None, None),
    AgeingBucket("1_30", _("1–30 days"), 1, 30),
    AgeingBucket("31_60", _("31–60 days"), 31, 60),
    AgeingBucket("61_90", _("61–90 days"), 61, 90),
    AgeingBucket("over_90", _("> 90 days"), 91, None),
)


def ageing_bucket_filter(bucket: AgeingBucket, *, today: date) -> Q:
    """The supplier invoices of one ageing bucket: how many days past their due date they are today."""
    if bucket.days_from is None:
        return Q(due_date__gte=today)
    condition = Q(due_date__lte=today - timedelta(days=bucket.days_from))
    if bucket.days_to is not None:
        condition &= Q(due_date__gte=today - timedelta(days=bucket.days_to))
    return condition


def supplier_invoice_list(
    *, scope: CompanyScope, filters: DocumentFilters = DocumentFilters(), bucket: str = "", today: date | None = None
) -> QuerySet[SupplierInvoice]:
    invoices = scoped(
        SupplierInvoice.objects.select_related("company", "supplier", "project", "created_by", "approved_by"),
        scope=scope,
    )
    if today is not None:
        invoices = invoices.annotate(
            overdue=Case(
                When(Q(status__in=PAYABLE_STATUSES, due_date__lt=today), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
    if filters.company_code:
        invoices = invoices.filter(company__code=filters.company_code)
    if filters.status:
        invoices = invoices.filter(status=filters.status)
    if filters.date_from:
        invoices = invoices.filter(invoice_date__gte=filters.date_from)
    if filters.date_to:
        invoices = invoices.filter(invoice_date__lte=filters.date_to)
    if filters.overdue and today is not None:
        invoices = invoices.filter(status__in=PAYABLE_STATUSES, due_date__lt=today)
    if filters.open or filters.due_by:
        invoices = invoices.filter(status__in=PAYABLE_STATUSES)
    if filters.due_by:
        invoices = invoices.filter(due_date__lte=filters.due_by)
    if bucket and today is not None:
        chosen = next((b for b in AGEING_BUCKETS if b.key == bucket), None)
        if chosen is not None:
            invoices = invoices.filter(ageing_bucket_filter(chosen, today=today), status__in=PAYABLE_STATUSES)
    if filters.search:
        invoices = invoices.filter(
            Q(supplier_number__icontains=filters.search) | Q(supplier__name__icontains=filters.search)
            | Q(payment_reference__icontains=filters.search.replace(" ", ""))
            | Q(project__name__icontains=filters.search)
        )  # fmt: skip
    return invoices


@dataclass(frozen=True)
class AgeingTotal:
    currency: str
    count: int
    total: Decimal


@dataclass(frozen=True)
class AgeingRow:
    bucket: AgeingBucket
    totals: list[AgeingTotal]  # one per currency owed; francs and euros are never added

    @property
    def count(self) -> int:
        return sum(total.count for total in self.totals)


def payables_ageing(*, scope: CompanyScope, today: date, company_code: str = "") -> list[AgeingRow]:
    """What the group owes its suppliers, by how late it is, per currency: one query."""
    invoices = scoped(SupplierInvoice.objects.filter(status__in=PAYABLE_STATUSES), scope=scope)
    if company_code:
        invoices = invoices.filter(company__code=company_code)
    aggregates = {}
    for bucket in AGEING_BUCKETS:
        condition = ageing_bucket_filter(bucket, today=today)
        aggregates[f"{bucket.key}_count"] = Count("pk", filter=condition)
        aggregates[f"{bucket.key}_total"] = Coalesce(
            Sum("gross_total", filter=condition), Value(ZERO), output_field=MONEY
        )
    per_currency = list(invoices.values("currency").annotate(**aggregates).order_by("currency"))
    return [
        AgeingRow(
            bucket,
            [
                AgeingTotal(row["currency"], row[f"{bucket.key}_count"], row[f"{bucket.key}_total"])
                for row in per_currency
                if row[f"{bucket.key}_count"]
            ],
        )
        for bucket in AGEING_BUCKETS
    ]


def approval_queue(*, scope: CompanyScope) -> QuerySet[SupplierInvoice]:
    """Supplier invoices waiting for approval, oldest submission first."""
    return scoped(
        SupplierInvoice.objects.filter(status=SupplierInvoice.Status.TO_APPROVE).select_related(
            "company", "supplier", "project", "created_by"
        ),
        scope=scope,
    ).order_by("submitted_at", "pk")


def supplier_invoice_get(*, scope: CompanyScope, pk: int) -> SupplierInvoice:
    return scoped_get(
        SupplierInvoice.objects.select_related("company", "supplier", "project", "created_by", "approved_by"),
        scope=scope, pk=pk,
    )  # fmt: skip


# --- Projects -----------------------------------------------------------------------------------

OPEN_PROJECT_STATUSES = [
    Project.Status.QUOTE_SENT, Project.Status.SIGNED, Project.Status.DEPOSIT_RECEIVED, Project.Status.IN_PREPARATION,
    Project.Status.ORDERING, Project.Status.INSTALLING, Project.Status.DELIVERED, Project.Status.ON_HOLD,
]  # fmt: skip


URGENCY = {"red": 0, "orange": 1, "blue": 2, "green": 3}


def _projects_with_documents(projects: QuerySet[Project]) -> QuerySet[Project]:
    """Prefetch everything `finance.project_overview` reads: five queries, however many projects."""
    return projects.select_related("company", "client", "quote", "manager").prefetch_related(
        Prefetch("milestones", queryset=Milestone.objects.order_by("position", "due_date", "pk")),
        Prefetch("assignments", queryset=ProviderAssignment.objects.select_related("supplier")),
        Prefetch("supplier_invoices", queryset=SupplierInvoice.objects.select_related("supplier")),
        Prefetch("quote__invoices", queryset=_with_balances(Invoice.objects.order_by("created_at", "pk"))),
    )


def project_overview_list(
    *, scope: CompanyScope, today: date, status: str = "", search: str = "", company_code: str = ""
) -> list[ProjectOverview]:
    """The CEO project view: open projects (or one status) of the switcher's companies, most urgent first."""
    projects = scoped(Project.objects.all(), scope=scope)
    projects = projects.filter(status=status) if status else projects.filter(status__in=OPEN_PROJECT_STATUSES)
    if company_code:
        projects = projects.filter(company__code=company_code)
    if search:
        projects = projects.filter(Q(name__icontains=search) | Q(client__name__icontains=search))
    projects = _projects_with_documents(projects.order_by("created_at", "pk"))
    overviews = [project_overview(project, today=today) for project in projects]
    # What needs doing first comes first: late or blocking, then waiting on us, then routine.
    return sorted(
        overviews, key=lambda overview: URGENCY.get(overview.next_action.tone if overview.next_action else "", 9)
    )


def project_get(*, scope: CompanyScope, pk: int) -> Project:
    return scoped_get(_projects_with_documents(Project.objects.all()), scope=scope, pk=pk)


def project_for_company_list(*, scope: CompanyScope, company: Company) -> QuerySet[Project]:
    projects = scoped(Project.objects.filter(company=company), scope=scope, narrowed=False)
    return projects.exclude(status__in=[Project.Status.CLOSED, Project.Status.CANCELLED]).order_by("name")


def milestone_get(*, scope: CompanyScope, pk: int) -> Milestone:
    return scoped_get(Milestone.objects.select_related("project"), scope=scope, company_field="project__company", pk=pk)


# --- Bank ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurrencyTotal:
    currency: str
    total: Decimal


@dataclass(frozen=True)
class CompanyBankAccounts:
    company: Company
    revolut_connected: bool
    accounts: list[BankAccount]
    totals: list[CurrencyTotal]  # per currency: francs and euros are never added


@dataclass(frozen=True)
class ConvertedTotal:
    """A currency's balances in CHF at the bank's latest stored rate, which the page names with its date."""

    currency: str
    total: Decimal
    rate: FxRate
    total_chf: Decimal


@dataclass(frozen=True)
class BankOverview:
    companies: list[CompanyBankAccounts]
    chf_total: Decimal  # the francs, plus every converted currency
    converted: list[ConvertedTotal]
    # Currencies without a stored rate stay out of the total rather than be counted at an invented one.
    unconverted: list[CurrencyTotal]

    @property
    def any_connected(self) -> bool:
        """A Revolut connection, or accounts known from imported statements."""
        return any(company.revolut_connected or company.accounts for company in self.companies)


def _currency_totals(accounts: list[BankAccount]) -> list[CurrencyTotal]:
    totals: dict[str, Decimal] = {}
    for account in accounts:
        totals[account.currency] = totals.get(account.currency, ZERO) + account.balance
    return [CurrencyTotal(currency, total) for currency, total in sorted(totals.items())]


def fx_rate_latest(*, currencies: list[str]) -> dict[str, FxRate]:
    """Each currency's latest stored rate in CHF (the newest day, then the newest fetch).

    Written out: every dashboard request reads it, and building this statement through the ORM took longer than
    PostgreSQL takes to answer it."""
    rates = FxRate.objects.raw(
        f"SELECT DISTINCT ON (currency) * FROM {FxRate._meta.db_table} WHERE currency = ANY(%s) "  # noqa: S608 - the model's table
        "AND quote_currency = 'CHF' ORDER BY currency, rate_date DESC, fetched_at DESC, id DESC",
        [list(currencies)],
    )
    return {rate.currency: rate for rate in rates}


def company_with_revolut_ids(*, scope: CompanyScope) -> set[int]:
    """The switcher's companies connected to Revolut, the bank every balance and transfer comes from."""
    companies = scoped(Company.objects.filter(connections__provider=Provider.REVOLUT), scope=scope)
    return set(companies.values_list("pk", flat=True))


def bank_account_overview(*, scope: CompanyScope) -> BankOverview:
    """The active bank accounts of the switcher's companies, their balances, and the total in CHF."""
    companies = scoped(Company.objects.all(), scope=scope).order_by("code")
    connected = company_with_revolut_ids(scope=scope)
    accounts = list(scoped(BankAccount.objects.filter(is_active=True), scope=scope).order_by("currency", "name"))
    per_company = []
    for company in companies:
        own = [account for account in accounts if account.company_id == company.pk]
        per_company.append(CompanyBankAccounts(company, company.pk in connected, own, _currency_totals(own)))
    group_totals = _currency_totals(accounts)
    rates = fx_rate_latest(currencies=[total.currency for total in group_totals if total.currency != "CHF"])
    converted = [
        ConvertedTotal(
            total.currency,
            total.total,
            rates[total.currency],
            vat.quantize_chf(total.total * rates[total.currency].rate),
        )
        for total in group_totals
        if total.currency in rates
    ]
    francs = sum((total.total for total in group_totals if total.currency == "CHF"), ZERO)
    return BankOverview(
        companies=per_company,
        chf_total=francs + sum((c.total_chf for c in converted), ZERO),
        converted=converted,
        unconverted=[total for total in group_totals if total.currency != "CHF" and total.currency not in rates],
    )


# Incoming transfers a person still has to reconcile, and those already decided.
TO_RECONCILE = [BankTransaction.Match.UNMATCHED, BankTransaction.Match.SUGGESTED]
RECONCILED = [BankTransaction.Match.MATCHED, BankTransaction.Match.IGNORED]
RECENTLY_RECONCILED_LIMIT = 20


def _bank_transactions() -> QuerySet[BankTransaction]:
    """Transactions with what their row shows: suggestions, or the payment and the invoices it settled."""
    transactions = BankTransaction.objects.select_related("company", "account", "payment__client", "matched_by")
    return transactions.prefetch_related(
        Prefetch("suggestions", queryset=MatchSuggestion.objects.select_related("invoice__client")),
        Prefetch("payment__allocations", queryset=PaymentAllocation.objects.select_related("invoice")),
    )


def _as_amount(text: str) -> Decimal | None:
    """A search term read as an amount (1'234.50), or None when it is not one."""
    try:
        amount = Decimal(text.replace("'", ""))
    except ArithmeticError:
        return None
    return amount if amount.is_finite() else None


def _filtered_bank_transactions(*, scope: CompanyScope, filters: DocumentFilters) -> QuerySet[BankTransaction]:
    # Only money that arrived for good is reconciled.
    transactions = scoped(_bank_transactions(), scope=scope).filter(state=BankTransaction.State.COMPLETED, amount__gt=0)
    if filters.company_code:
        transactions = transactions.filter(company__code=filters.company_code)
    if filters.status:
        transactions = transactions.filter(match_status=filters.status)
    if filters.date_from:
        transactions = transactions.filter(completed_at__date__gte=filters.date_from)
    if filters.date_to:
        transactions = transactions.filter(completed_at__date__lte=filters.date_to)
    if filters.search:
        condition = Q(reference__icontains=filters.search) | Q(counterparty_name__icontains=filters.search)
        amount = _as_amount(filters.search)
        if amount is not None:
            condition |= Q(amount=amount)
        transactions = transactions.filter(condition)
    return transactions


def bank_transaction_to_reconcile_list(
    *, scope: CompanyScope, filters: DocumentFilters = DocumentFilters()
) -> QuerySet[BankTransaction]:
    """Completed incoming transfers not matched yet, with their suggestions: the oldest first."""
    transactions = _filtered_bank_transactions(scope=scope, filters=filters).filter(match_status__in=TO_RECONCILE)
    return transactions.order_by("completed_at", "pk")


def bank_transaction_reconciled_list(
    *, scope: CompanyScope, filters: DocumentFilters = DocumentFilters(), limit: int = RECENTLY_RECONCILED_LIMIT
) -> QuerySet[BankTransaction]:
    """The transfers most recently matched or ignored, the last decision first, to undo a mistake."""
    transactions = _filtered_bank_transactions(scope=scope, filters=filters).filter(match_status__in=RECONCILED)
    # Ignored transfers have no match time; their last change is when they were ignored.
    return transactions.order_by(Coalesce("matched_at", "updated_at").desc(), "-pk")[:limit]


def bank_transaction_get(*, scope: CompanyScope, pk: int) -> BankTransaction:
    return scoped_get(_bank_transactions(), scope=scope, pk=pk)


def bank_account_get(*, scope: CompanyScope, pk: int) -> BankAccount:
    return scoped_get(BankAccount.objects.select_related("company"), scope=scope, pk=pk)


def outgoing_payment_get(*, scope: CompanyScope, pk: int) -> OutgoingPayment:
    return scoped_get(OutgoingPayment.objects.select_related("company", "supplier_invoice"), scope=scope, pk=pk)


def invoice_open_for_matching_list(*, company: Company, currency: str | None = None) -> QuerySet[Invoice]:
    """The company's invoices a transfer may pay (with `balance_due`), optionally in one currency."""
    invoices = Invoice.objects.filter(OPEN_INVOICE, company=company).select_related("client")
    if currency:
        invoices = invoices.filter(currency=currency)
    return _with_balances(invoices).filter(balance_due__gt=0).order_by("due_date", "pk")


def invoice_matching_candidates(
    *, company: Company, currency: str, references: set[str], numbers: set[str], balances: set[Decimal],
    client_ids: set[int],
) -> QuerySet[Invoice]:  # fmt: skip
    """The open invoices some transfers may pay, found by what the transfers say rather than read in full.

    An invoice qualifies by its QR/creditor reference or its number (both compared in capitals, as the transfers'
    tokens are), by a balance due among `balances`, or by its client. One query, however many transfers and
    invoices; like `invoice_open_for_matching_list`, each invoice carries `balance_due` and its client.
    """
    # Arrays, not `IN` lists: a statement of thousands of transfers brings thousands of tokens and amounts.
    wanted = (
        Q(AnyOf(Upper("qr_reference"), references)) | Q(AnyOf(Upper("number"), numbers))
        | Q(AnyOf(F("client_id"), client_ids)) | Q(AnyOf(F("balance_due"), balances))
    )  # fmt: skip
    return invoice_open_for_matching_list(company=company, currency=currency).filter(wanted)


def client_names_for_matching(*, company: Company) -> list[tuple[int, str]]:
    """(id, name) of every client of the company: whom a payer's name is compared with."""
    return list(Client.objects.filter(company=company).order_by("pk").values_list("pk", "name"))


def invoice_by_number(*, company: Company, number: str) -> Invoice | None:
    return Invoice.objects.filter(company=company, number__iexact=number.strip()).first() if number.strip() else None


# French words for a facture and an offre (both feminine), hence their own context.
INVOICE_STATUS_LABELS = {
    ninja.InvoiceStatus.DRAFT: pgettext_lazy("Invoice Ninja status of an invoice or quote", "Draft"),
    ninja.InvoiceStatus.SENT: pgettext_lazy("Invoice Ninja status of an invoice or quote", "Sent"),
    ninja.InvoiceStatus.PARTIAL: pgettext_lazy("Invoice Ninja status of an invoice or quote", "Partially paid"),
    ninja.InvoiceStatus.PAID: pgettext_lazy("Invoice Ninja status of an invoice or quote", "Paid"),
    ninja.InvoiceStatus.CANCELLED: pgettext_lazy("Invoice Ninja status of an invoice or quote", "Cancelled"),
    ninja.InvoiceStatus.REVERSED: pgettext_lazy("Invoice Ninja status of an invoice or quote", "Reversed"),
}
QUOTE_STATUS_LABELS = {
    ninja.QuoteStatus.DRAFT: pgettext_lazy("Invoice Ninja status of an invoice or quote", "Draft"),
    ninja.QuoteStatus.SENT: pgettext_lazy("Invoice Ninja status of an invoice or quote", "Sent"),
    ninja.QuoteStatus.APPROVED: pgettext_lazy("Invoice Ninja status of an invoice or quote", "Approved"),
    ninja.QuoteStatus.CONVERTED: pgettext_lazy("Invoice Ninja status of an invoice or quote", "Converted"),
}


def status_label(document: Invoice | Quote) -> str:
    """The Invoice Ninja status of a document, in words; empty before it was pushed."""
    labels = INVOICE_STATUS_LABELS if isinstance(document, Invoice) else QUOTE_STATUS_LABELS
    return str(labels.get(document.invoice_ninja_status, document.invoice_ninja_status))


def send_run(document: Invoice | Quote) -> ActionRun | None:
    return action_runs_for(document).filter(action=SEND_ACTION).first()


def invoice_ninja_panel(*, document: Quote | Invoice) -> dict | None:
    """What the document page shows of Invoice Ninja: status, link, the send run, payment runs, open drifts.

    None when the document was never there and cannot go there (no connection, or a credit note).
    """
    if not document.invoice_ninja_id and (
        usable_connection(document.company, Provider.INVOICE_NINJA) is None
        or (isinstance(document, Invoice) and document.kind == Invoice.Kind.CREDIT_NOTE)
    ):
        return None
    payment_runs = []
    if isinstance(document, Invoice):
        payments = {p.pk: p for p in Payment.objects.filter(allocations__invoice=document).distinct()}
        runs = ActionRun.objects.filter(
            action=PAYMENT_ACTION, target_type=ContentType.objects.get_for_model(Payment),
            target_id__in=payments,
        ).order_by("target_id")  # fmt: skip
        payment_runs = [(payments[run.target_id], run) for run in runs]
    drifts = SyncDrift.objects.filter(
        target_type=ContentType.objects.get_for_model(document), target_id=document.pk, resolved_at__isnull=True
    )
    return {
        "status_label": status_label(document),
        "run": send_run(document),
        "payment_runs": payment_runs,
        "drifts": list(drifts),
    }


def sync_drift_list(*, scope: CompanyScope) -> list[SyncDrift]:
    """Open differences with providers that no sync could repair: the dashboard's urgent items."""
    return list(
        SyncDrift.objects.filter(company_id__in=scope.visible_ids, resolved_at__isnull=True)
        .select_related("company", "target_type").order_by("-detected_at")
    )  # fmt: skip


# --- Dunning --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DunningFilters:
    search: str = ""
    company_code: str = ""
    level: int | None = None
    paused: bool | None = None


def dunning_list(*, scope: CompanyScope, today: date, filters: DunningFilters = DunningFilters()) -> QuerySet[Invoice]:
    """Overdue invoices that still owe something, with their dunning state, the longest overdue first."""
    invoices = _with_balances(
        scoped(Invoice.objects.select_related("company", "client", "dunning"), scope=scope), today=today
    ).filter(OPEN_INVOICE, due_date__lt=today, balance_due__gt=ZERO)
    if filters.company_code:
        invoices = invoices.filter(company__code=filters.company_code)
    if filters.level is not None:
        invoices = (
            invoices.filter(Q(dunning__level=0) | Q(dunning__isnull=True))
            if filters.level == 0
            else invoices.filter(dunning__level=filters.level)
        )
    if filters.paused is True:
        invoices = invoices.exclude(Q(dunning__paused_reason="") | Q(dunning__isnull=True))
    elif filters.paused is False:
        invoices = invoices.filter(Q(dunning__paused_reason="") | Q(dunning__isnull=True))
    if filters.search:
        invoices = invoices.filter(
            Q(number__icontains=filters.search) | Q(client__name__icontains=filters.search)
            | Q(title__icontains=filters.search)
        )  # fmt: skip
    return invoices.order_by("due_date", "pk")


# The index `invoice_open_company_due` holds each of these columns of the invoice: a column added here belongs there
# too, or the daily run reads every overdue invoice's row again.
DUNNING_INVOICE_FIELDS = (
    "company", "number", "kind", "status", "currency", "payable_total", "issue_date", "due_date",
    "client__name", "client__email", "client__language",
)  # fmt: skip


def dunning_candidates(*, company: Company, today: date) -> QuerySet[Invoice]:
    """The company's issued invoices past their due date, with their client, the longest overdue first.

    What they still owe is left to the caller, from `dunning_facts`: a balance per row in SQL would cost two
    subqueries per invoice. Only the columns dunning reads and its preview shows: at thousands of invoices, building
    whole rows took twice as long as the rest of the plan.
    """
    return (
        Invoice.objects.filter(OPEN_INVOICE, company=company, due_date__lt=today)
        .select_related("client")
        .only(*DUNNING_INVOICE_FIELDS)
        .order_by("due_date", "pk")
    )


@dataclass(frozen=True)
class DunningFacts:
    """What the dunning of some invoices is derived from, per invoice id; an invoice without any is absent."""

    payments: dict[int, list[tuple[date, Decimal]]]  # (received on, amount) of the payments not undone
    credit_notes: dict[int, list[tuple[date, Decimal]]]  # (issue date, payable) of the issued credit notes
    reminders: dict[int, tuple[int, date]]  # (highest level, latest date) of the reminders not failed
    states: dict[int, InvoiceDunning]


def dunning_facts(*, invoice_ids: list[int]) -> DunningFacts:
    """The facts of every invoice in four queries, however many invoices: no query per invoice.

    Ids rather than a subquery: an invoice paid in between must not lose its payments while keeping its place.
    """
    payments, credit_notes = defaultdict(list), defaultdict(list)
    if not invoice_ids:
        return DunningFacts(payments={}, credit_notes={}, reminders={}, states={})
    # The payment's date read per allocation (its primary key), not joined: with thousands of ids the planner would
    # rather scan every payment of the group (a quarter of a second per company at a million invoices).
    payment_date = Payment.objects.filter(pk=OuterRef("payment_id"), undone_at__isnull=True).values("received_on")
    allocations = PaymentAllocation.objects.filter(AnyOf(F("invoice_id"), invoice_ids))
    for invoice_id, received_on, amount in (
        allocations.annotate(received_on=Subquery(payment_date)).order_by("pk")
        .values_list("invoice_id", "received_on", "amount")
    ):  # fmt: skip
        if received_on is not None:  # None: the payment was undone
            payments[invoice_id].append((received_on, amount))
    notes = Invoice.objects.filter(AnyOf(F("credited_invoice_id"), invoice_ids)).exclude(
        status__in=[Invoice.Status.DRAFT, Invoice.Status.CANCELLED]
    )
    for invoice_id, issued_on, payable in notes.order_by("pk").values_list(
        "credited_invoice_id", "issue_date", "payable_total"
    ):
        credit_notes[invoice_id].append((issued_on, payable))
    reminders = (
        Reminder.objects.filter(AnyOf(F("invoice_id"), invoice_ids)).exclude(status=Reminder.Status.FAILED)
        .order_by().values("invoice_id").annotate(level=Max("level"), last=Max("dunning_date"))
    )  # fmt: skip
    return DunningFacts(
        payments=dict(payments),
        credit_notes=dict(credit_notes),
        reminders={row["invoice_id"]: (row["level"], row["last"]) for row in reminders},
        states={
            state.invoice_id: state for state in InvoiceDunning.objects.filter(AnyOf(F("invoice_id"), invoice_ids))
        },
    )


def dunning_policy_get(*, scope: CompanyScope, pk: int) -> DunningPolicy:
    return scoped_get(DunningPolicy.objects.select_related("company"), scope=scope, pk=pk)


def invoice_dunning_get(*, scope: CompanyScope, pk: int) -> InvoiceDunning:
    return scoped_get(InvoiceDunning.objects.select_related("invoice", "company"), scope=scope, pk=pk)


def reminder_get(*, scope: CompanyScope, pk: int) -> Reminder:
    return scoped_get(Reminder.objects.select_related("company", "invoice__client", "invoice__company"), scope=scope,
                      pk=pk)  # fmt: skip


def dunning_first_level_days(*, scope: CompanyScope) -> dict[int, int]:
    """Per company, the days after the due date of its first dunning level."""
    levels = DunningLevel.objects.filter(policy__company_id__in=scope.company_ids).values("policy__company_id")
    return {row["policy__company_id"]: row["first"] for row in levels.annotate(first=Min("days_after_due"))}


def dunning_summary(*, scope: CompanyScope, today: date) -> list[dict]:
    """Overdue invoices per company and currency: how many, how much, how many per level and paused."""
    level = lambda n: Count("pk", filter=Q(dunning__level=n))  # noqa: E731
    return list(
        dunning_list(scope=scope, today=today)
        .order_by()
        .values("company__code", "company__name", "company__colour", "currency")
        .annotate(count=Count("pk"), total=Sum("balance_due"), none=Count("pk", filter=Q(dunning__level=0)
                  | Q(dunning__isnull=True)), level1=level(1), level2=level(2), level3=level(3),
                  paused=Count("pk", filter=~Q(dunning__paused_reason="") & Q(dunning__isnull=False)))
        .order_by("company__code", "currency")
    )  # fmt: skip


# --- Leads ----------------------------------------------------------------------------------------

# A lead nobody answered this long after it arrived is an urgent item on the dashboard.
LEAD_ANSWER_WITHIN = timedelta(hours=24)
# The leads still awaiting the company's first answer.
LEAD_AWAITING_ANSWER = [Lead.Status.NEW, Lead.Status.QUALIFIED]


@dataclass(frozen=True)
class LeadFilters:
    search: str = ""
    company_code: str = ""
    status: str = ""
    source: str = ""
    owner: str = ""  # a user id, or "none" for leads nobody owns
    unanswered: bool = False  # open, not answered within LEAD_ANSWER_WITHIN (the dashboard's link)


def lead_list(*, scope: CompanyScope, filters: LeadFilters = LeadFilters(), now=None) -> QuerySet[Lead]:
    leads = scoped(Lead.objects.select_related("company", "owner", "quote"), scope=scope)
    if filters.company_code:
        leads = leads.filter(company__code=filters.company_code)
    if filters.status:
        leads = leads.filter(status=filters.status)
    if filters.source:
        leads = leads.filter(source=filters.source)
    if filters.owner == "none":
        leads = leads.filter(owner__isnull=True)
    elif filters.owner.isdigit():
        leads = leads.filter(owner_id=int(filters.owner))
    if filters.unanswered and now is not None:
        leads = leads.filter(lead_unanswered_condition(now=now))
    if filters.search:
        search = filters.search
        leads = leads.filter(
            Q(first_name__icontains=search) | Q(last_name__icontains=search) | Q(organisation__icontains=search)
            | Q(email__icontains=search) | Q(phone__icontains=search.replace(" ", "")) | Q(town__icontains=search)
            | Q(message__icontains=search)
        )  # fmt: skip
    return leads


def lead_get(*, scope: CompanyScope, pk: int) -> Lead:
    return scoped_get(Lead.objects.select_related("company", "owner", "client", "quote"), scope=scope, pk=pk)


def lead_unanswered_condition(*, now) -> Q:
    """Open leads nobody answered, received at least LEAD_ANSWER_WITHIN ago."""
    return Q(status__in=LEAD_AWAITING_ANSWER, first_response_at__isnull=True, received_at__lte=now - LEAD_ANSWER_WITHIN)


def lead_unanswered_by_company(*, company_ids: list[int], now) -> list[dict]:
    """Per company: how many leads wait for an answer beyond LEAD_ANSWER_WITHIN, and since when the oldest.

    lead_unanswered_condition in SQL: the dashboard asks on every page, where the ORM took longer to write the
    statement than PostgreSQL to answer it. Tested against the condition.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT company_id, COUNT(*), MIN(received_at) FROM finance_lead
            WHERE company_id = ANY(%(companies)s) AND status = ANY(%(awaiting)s) AND first_response_at IS NULL
              AND received_at <= %(answer_by)s
            GROUP BY company_id
            """,
            {"companies": company_ids, "awaiting": LEAD_AWAITING_ANSWER, "answer_by": now - LEAD_ANSWER_WITHIN},
        )
        return [{"company_id": company, "count": count, "oldest": oldest} for company, count, oldest in cursor]


def lead_owner_choices(*, company: Company):
    """The people who may own a company's leads: its CEO, finance and sales members."""
    members = Membership.objects.filter(company=company, role__in=["ceo", "finance", "sales"]).values("user_id")
    return get_user_model().objects.filter(pk__in=members, is_active=True).order_by("first_name", "last_name")


def quote_signature_get(*, scope: CompanyScope, pk: int, quote: Quote | None = None) -> QuoteSignature:
    """One signature request of the user's companies (of `quote`, when given), else 404."""
    signatures = QuoteSignature.objects.select_related("quote", "company")
    if quote is not None:
        signatures = signatures.filter(quote=quote)
    return scoped_get(signatures, scope=scope, pk=pk)


REMINDABLE = (QuoteSignature.Status.SENT, QuoteSignature.Status.OPENED, QuoteSignature.Status.STARTED)


def live_signature(quote: Quote) -> QuoteSignature | None:
    """The quote's signature in progress or done; a declined or expired one is history."""
    return QuoteSignature.objects.filter(quote=quote).exclude(status__in=QuoteSignature.ENDED).first()


def sign_run(quote: Quote) -> ActionRun | None:
    """The latest "Envoyer pour signature" run of the quote."""
    return action_runs_for(quote).filter(action=SIGN_ACTION).order_by("-created_at", "-pk").first()


def remind_run(signature: QuoteSignature) -> ActionRun | None:
    return action_runs_for(signature).filter(action=REMIND_ACTION).order_by("-created_at", "-pk").first()


def remind_refusal(signature: QuoteSignature) -> str:
    if signature.status not in REMINDABLE:
        return _("The signature is %(status)s: nothing to remind.") % {
            "status": signature.get_status_display().lower()
        }  # fmt: skip
    run = remind_run(signature)
    if run is not None and not run.is_final:
        return _("A reminder is being sent.")
    return ""


def quote_signature_panel(*, quote: Quote) -> dict | None:
    """What the quote page shows of DocuSeal: the live signature, earlier ones, the send and reminder runs.

    None when the quote never went to DocuSeal and its company does not sign through it.
    """
    signatures = list(QuoteSignature.objects.filter(quote=quote).order_by("-created_at", "-pk"))
    run = sign_run(quote)
    if (
        not signatures
        and run is None
        and (
            quote.company.signature_channel != quote.company.SignatureChannel.DOCUSEAL
            or usable_connection(quote.company, Provider.DOCUSEAL) is None
        )
    ):
        return None
    current = next((signature for signature in signatures if signature.is_live), signatures[0] if signatures else None)
    return {
        "signature": current,
        "earlier": [signature for signature in signatures if signature is not current],
        "run": run,
        "remind_run": remind_run(current) if current else None,
        "remind_refusal": remind_refusal(current) if current else "",
    }


# --- Captured documents ---------------------------------------------------------------------------------------


def capture_list(*, scope: CompanyScope, open_only: bool = True) -> QuerySet[SupplierInvoiceCapture]:
    captures = scoped(
        SupplierInvoiceCapture.objects.select_related("company", "supplier", "supplier_invoice", "created_by"),
        scope=scope,
    )
    return captures.filter(status__in=SupplierInvoiceCapture.OPEN_STATUSES) if open_only else captures


def capture_get(*, scope: CompanyScope, pk: int) -> SupplierInvoiceCapture:
    return scoped_get(
        SupplierInvoiceCapture.objects.select_related("company", "supplier", "supplier_invoice", "created_by"),
        scope=scope, pk=pk,
    )  # fmt: skip
