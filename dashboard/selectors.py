"""Reads of the CEO dashboard: each function feeds one partial, in a handful of queries at any data size.

History comes from the materialized views (dashboard.figures), today's figures from the documents
themselves through the same rules as the list pages, so a card always equals the list it links to.
Amounts are added per currency and converted to CHF once, at the latest stored rate, which the page names.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import threading
from collections import OrderedDict, defaultdict
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection as db
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from dashboard import figures
from dashboard.models import FigureSnapshot, UrgentSnooze
from finance import selectors as finance
from finance import vat
from finance.models import Company, FxRate, Invoice, Quote, SupplierInvoice
from finance.project_overview import OPEN_MILESTONE
from finance.scope import CompanyScope
from finance.templatetags import money as money_format
from hypervisual.links import cached_reverse
from integrations import selectors as integration_selectors
from integrations.models import AWAITING_GOODS_STATUSES, ActionRun, Connection, Provider, SyncDrift

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)

# Quotes still waiting for the client's answer: the pipeline.
OPEN_QUOTE_STATUSES = [Quote.Status.SENT, Quote.Status.VIEWED]
# Supplier invoices approved for payment: what the cash forecast takes out.
APPROVED_PAYABLE_STATUSES = [SupplierInvoice.Status.APPROVED, SupplierInvoice.Status.SCHEDULED]
FORECAST_HORIZONS = (30, 60, 90)
# Transfers nobody reconciled this many days after they arrived are an urgent item.
UNMATCHED_AFTER_DAYS = 5
# Quotes whose validity ends within this many days are an urgent item.
QUOTE_EXPIRY_DAYS = 7


# --- Dates --------------------------------------------------------------------------------------


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(first_of_month: date, months: int) -> date:
    years, month_index = divmod(first_of_month.month - 1 + months, 12)
    return date(first_of_month.year + years, month_index + 1, 1)


def month_end(first_of_month: date) -> date:
    return add_months(first_of_month, 1) - timedelta(days=1)


def year_ago(day: date) -> date:
    """The same day a year earlier; 29 February falls back to the 28th."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def history_dates(today: date) -> list[date]:
    """The 12 points of a stock figure's sparkline: the last 11 month ends, then today."""
    this_month = month_start(today)
    return [month_end(add_months(this_month, -back)) for back in range(11, 0, -1)] + [today]


def date_label(day: date, form: str) -> str:
    """A date written in the reader's language; the page writes the same few dozen dates many times (labels of
    every card's twelve points, of the charts), so each is formatted once per process and language."""
    return _date_label(day, form, translation.get_language())


@functools.lru_cache(maxsize=4096)
def _date_label(day: date, form: str, language: str | None) -> str:
    with translation.override(language):
        return formats.date_format(day, form)


def _month_label(first_of_month: date) -> str:
    return date_label(first_of_month, "YEAR_MONTH_FORMAT")


def _day_label(day: date) -> str:
    return date_label(day, "SHORT_DATE_FORMAT")


# --- Currencies ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversion:
    """CHF per unit of each foreign currency, at the latest rate the bank gave; the page names each rate."""

    rates: dict[str, FxRate]

    def chf(self, amounts: dict[str, Decimal]) -> Decimal:
        """Francs plus each converted currency, rounded once per currency; a currency without rate is left out."""
        total = amounts.get("CHF", ZERO)
        for currency, amount in amounts.items():
            if currency != "CHF" and currency in self.rates:
                total += vat.quantize_chf(amount * self.rates[currency].rate)
        return total

    def missing(self, amounts: dict[str, Decimal]) -> list[str]:
        return sorted(c for c, amount in amounts.items() if c != "CHF" and c not in self.rates and amount)


def conversion() -> Conversion:
    return Conversion(finance.fx_rate_latest(currencies=["EUR", "USD", "GBP"]))


def _per_currency(rows, value: str) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        totals[row["currency"]] += row[value] or ZERO
    return dict(totals)


# --- KPI cards ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    label: str
    value: Decimal


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    value: Decimal
    unit: str  # "CHF", "%" or "" for a count
    link: str
    history: list[Point]
    year_ago: Decimal | None  # the same figure a year earlier; None when nothing was recorded then
    year_ago_label: str
    note: str = ""
    higher_is_better: bool = True
    missing_currencies: list[str] = field(default_factory=list)

    @functools.cached_property
    def delta(self) -> Decimal | None:
        """Change against a year ago: percentage points for a percentage, otherwise per cent."""
        if self.year_ago is None:
            return None
        if self.unit == "%":
            return (self.value - self.year_ago).quantize(Decimal("0.1"))
        if not self.year_ago:
            return None
        return ((self.value - self.year_ago) / abs(self.year_ago) * HUNDRED).quantize(Decimal("0.1"))

    @functools.cached_property
    def delta_tone(self) -> str:
        if not self.delta:
            return "secondary"
        return "green" if (self.delta > 0) == self.higher_is_better else "red"

    @functools.cached_property
    def sparkline(self) -> str:
        """The history as SVG polyline points in a 100 × 30 box, drawn by the server (no script needed)."""
        values = [point.value for point in self.history]
        if len(values) < 2:
            return ""
        low, high = min(values), max(values)
        span = (high - low) or Decimal(1)
        step = Decimal(100) / (len(values) - 1)
        points = []
        for index, value in enumerate(values):
            y = Decimal(28) - (value - low) / span * Decimal(26)
            points.append(f"{(step * index):.1f},{y:.1f}")
        return " ".join(points)


def _as_of_rows(view: str, columns: list[str], company_ids: list[int], days: list[date]) -> list[dict]:
    """Each running total of a day view as it stood at the end of each given day (the last change before)."""
    selected = ", ".join(f"found.{column}" for column in columns)
    inner = ", ".join(columns)
    sql = f"""
        SELECT company.id AS company_id, currency.code AS currency, asked.day AS day, {selected}
        FROM unnest(%s::int[]) AS company(id)
        CROSS JOIN unnest(%s::text[]) AS currency(code)
        CROSS JOIN unnest(%s::date[]) AS asked(day)
        CROSS JOIN LATERAL (
            SELECT {inner} FROM {view} AS v
            WHERE v.company_id = company.id AND v.currency = currency.code AND v.day <= asked.day
            ORDER BY v.day DESC LIMIT 1
        ) AS found
    """  # noqa: S608 - view and column names are constants of this module
    return history_rows.read(sql, [company_ids, ["CHF", "EUR"], days])


def _history_by_day(rows: list[dict], column: str, money: Conversion) -> dict[date, Decimal]:
    per_day: dict[date, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for row in rows:
        per_day[row["day"]][row["currency"]] += row[column]
    return {day: money.chf(amounts) for day, amounts in per_day.items()}


def _query(sql: str, params: list) -> list[dict]:
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class HistoryRows:
    """What the history views answered, kept per process until their next refresh.

    The materialized views change only when figures.figures_refresh recomputes them, so the same statement
    answers the same rows until then: each process asks PostgreSQL once per refresh, scope and day, then reuses
    the rows (read-only). Rows are kept under the refresh's version (in Redis) and dropped when a newer one is
    seen; without a version (Redis down, never refreshed) every read goes to the database. A request asks Redis
    for the version once (see request_started).
    """

    SIZE = 64  # statements kept: six per scope (group, a company, a member's companies) and day

    def __init__(self) -> None:
        self._rows: OrderedDict[tuple, list[dict]] = OrderedDict()
        self._rows_version: str | None = None
        self._lock = threading.Lock()  # gunicorn's threads share the process
        # During a request, what it read of the version: a context variable, which the threads reading the page's
        # partials take over from the request (dashboard.concurrent.ConcurrentReads.carry, in DashboardConfig).
        self.request_state: ContextVar[dict | None] = ContextVar("dashboard_history_request", default=None)

    def request_started(self, **_kwargs) -> None:
        self.request_state.set({})

    def request_finished(self, **_kwargs) -> None:
        self.request_state.set(None)

    def _version(self) -> str | None:
        request = self.request_state.get()
        if request is None:
            return figures.history_version()  # outside a request (a command, a task): asked at each read
        if "version" not in request:
            request["version"] = figures.history_version()
        return request["version"]

    def read(self, sql: str, params: list | dict) -> list[dict]:
        version = self._version()
        if version is None:
            return _query(sql, params)
        key = (sql, repr(params))  # the parameters are lists and dicts of ints, dates and text
        with self._lock:
            if self._rows_version == version and key in self._rows:
                self._rows.move_to_end(key)
                return self._rows[key]
        rows = _query(sql, params)
        with self._lock:
            if self._rows_version != version:
                self._rows.clear()
                self._rows_version = version
            self._rows[key] = rows
            while len(self._rows) > self.SIZE:
                self._rows.popitem(last=False)
        return rows


history_rows = HistoryRows()


def _link(name: str, **kwargs: str) -> str:
    return cached_reverse(name, kwargs=kwargs)


def _list_url(name: str, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items() if value not in ("", None))
    return _link(name) + (f"?{query}" if query else "")


def _by_month(source: str, amount: str) -> str:
    """SQL for a day view's `amount` per company, currency and month, from the month %(first)s to the day
    %(until)s (in the month %(last_month)s): the whole months from the view's month view, the last one's days
    from the day view, since a month's row holds all its days, those after %(until)s included."""
    return f"""
        SELECT company_id, currency, month, {amount} AS amount FROM dashboard_{source}_month
        WHERE company_id = ANY(%(companies)s) AND month >= %(first)s AND month < %(last_month)s
        UNION ALL
        SELECT company_id, currency, %(last_month)s, SUM({amount}) FROM dashboard_{source}_day
        WHERE company_id = ANY(%(companies)s) AND day BETWEEN %(last_month)s AND %(until)s
        GROUP BY company_id, currency
    """  # noqa: S608 - constant SQL, the values are parameters


SALES_BY_MONTH = _by_month("sales", "invoiced_net - credited_net")
COSTS_BY_MONTH = _by_month("purchase", "cost_net")


def _by_month_params(company_ids: list[int], first: date, until: date) -> dict:
    return {"companies": company_ids, "first": first, "last_month": month_start(until), "until": until}


@dataclass(frozen=True)
class MonthlyRevenue:
    """Revenue (net of credit notes) per company, currency and month, from the sales views."""

    rows: list[dict]  # company_id, currency, month, amount

    def per_month(self, money: Conversion, company_id: int | None = None) -> dict[date, Decimal]:
        amounts: dict[date, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
        for row in self.rows:
            if company_id is None or row["company_id"] == company_id:
                amounts[row["month"]][row["currency"]] += row["amount"]
        return {month: money.chf(per_currency) for month, per_currency in amounts.items()}


def monthly_revenue(*, company_ids: list[int], today: date) -> MonthlyRevenue:
    """The last 24 months of revenue (the current one up to today), one query on the sales views."""
    first = add_months(month_start(today), -23)
    return MonthlyRevenue(history_rows.read(SALES_BY_MONTH, _by_month_params(company_ids, first, today)))


def _monthly_costs(*, company_ids: list[int], today: date) -> dict[date, dict[str, Decimal]]:
    first = add_months(month_start(today), -23)
    costs: dict[date, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for row in history_rows.read(COSTS_BY_MONTH, _by_month_params(company_ids, first, today)):
        costs[row["month"]][row["currency"]] += row["amount"]
    return costs


def _last_year_to_date(*, company_ids: list[int], today: date) -> dict[str, dict[str, Decimal]]:
    """Last year's month-to-date and year-to-date revenue and year-to-date costs, up to the same day."""
    same_day = year_ago(today)
    rows = history_rows.read(
        f"SELECT 'revenue' AS figure, * FROM ({SALES_BY_MONTH}) AS sales "  # noqa: S608 - constant SQL
        f"UNION ALL SELECT 'cost', * FROM ({COSTS_BY_MONTH}) AS costs",
        _by_month_params(company_ids, same_day.replace(month=1, day=1), same_day),
    )
    same_month = month_start(same_day)
    figures: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for row in rows:
        currency = row["currency"]
        if row["figure"] == "revenue":
            figures["revenue_year_to_date"][currency] += row["amount"]
            figures["month_to_date"][currency] += row["amount"] if row["month"] == same_month else ZERO
        else:
            figures["cost_year_to_date"][currency] += row["amount"]
    return figures


def _margin(revenue: Decimal, cost: Decimal) -> Decimal | None:
    return ((revenue - cost) / revenue * HUNDRED).quantize(Decimal("0.1")) if revenue else None


def revenue_kpis(
    *, scope: CompanyScope, today: date, monthly: MonthlyRevenue | None = None, money: Conversion | None = None
) -> list[Kpi]:
    """Revenue of the month and of the year, and the year's margin: four queries on the day views (three when the
    page already read `monthly`)."""
    company_ids = scope.company_ids
    money = money or conversion()
    revenue = (monthly or monthly_revenue(company_ids=company_ids, today=today)).per_month(money)
    monthly_cost = _monthly_costs(company_ids=company_ids, today=today)
    cost = {month: money.chf(amounts) for month, amounts in monthly_cost.items()}
    last_year = _last_year_to_date(company_ids=company_ids, today=today)
    this_month = month_start(today)
    months = [add_months(this_month, -back) for back in range(11, -1, -1)]

    def year_to_date(figures: dict[date, Decimal], month: date) -> Decimal:
        return sum((figures.get(m, ZERO) for m in _months_of_year_until(month)), ZERO)

    same_day = year_ago(today)
    month_label = _("vs %(start)s–%(end)s") % {
        "start": date_label(month_start(same_day), "d.m."), "end": _day_label(same_day)
    }  # fmt: skip
    year_label = _("vs %(start)s–%(end)s") % {
        "start": date_label(same_day.replace(month=1, day=1), "d.m."), "end": _day_label(same_day)
    }  # fmt: skip
    revenue_ytd = year_to_date(revenue, this_month)
    cost_ytd = year_to_date(cost, this_month)
    revenue_ytd_last_year = money.chf(last_year["revenue_year_to_date"])
    margin_last_year = _margin(revenue_ytd_last_year, money.chf(last_year["cost_year_to_date"]))
    date_from = this_month.isoformat()
    return [
        Kpi(
            "revenue_month", _("Revenue this month"), revenue.get(this_month, ZERO), "CHF",
            _list_url("finance:invoice-list", date_from=date_from, date_to=today.isoformat()),
            [Point(_month_label(m), revenue.get(m, ZERO)) for m in months],
            money.chf(last_year["month_to_date"]), month_label, note=_("Invoiced net of VAT, less credit notes"),
        ),
        Kpi(
            "revenue_year", _("Revenue year to date"), revenue_ytd, "CHF",
            _list_url("finance:invoice-list", date_from=today.replace(month=1, day=1).isoformat(),
                      date_to=today.isoformat()),
            [Point(_month_label(m), year_to_date(revenue, m)) for m in months],
            revenue_ytd_last_year, year_label, note=_("Invoiced net of VAT, less credit notes"),
        ),
        Kpi(
            "margin", _("Margin of the year"), _margin(revenue_ytd, cost_ytd) or ZERO, "%",
            _list_url("finance:supplier-invoice-list", date_from=today.replace(month=1, day=1).isoformat()),
            [Point(_month_label(m), _margin(year_to_date(revenue, m), year_to_date(cost, m)) or ZERO) for m in months],
            margin_last_year, year_label,
            note=_("Revenue less supplier costs %(cost)s, net of VAT")
            % {"cost": f"CHF {_swiss(cost_ytd)}"},
        ),
    ]  # fmt: skip


def _months_of_year_until(month: date) -> list[date]:
    return [date(month.year, m, 1) for m in range(1, month.month + 1)]


def _swiss(amount: Decimal) -> str:
    return money_format.chf(amount)


# The invoices still owing money and how much, as the triggers of dashboard.models.OpenInvoice keep them
# (the invoice list's rules): reading a balance costs one index entry, however many payments made it.
# NOT MATERIALIZED: each reader's conditions (due before today, a deposit) then reach the table's indexes,
# rather than every open invoice being copied first and filtered after (13 ms instead of 5 at L).
OPEN_INVOICES = """
WITH open_invoice AS NOT MATERIALIZED (
    SELECT invoice_id AS id, company_id, currency, kind, due_date, balance_due
    FROM dashboard_openinvoice WHERE company_id = ANY(%(companies)s)
)
"""


# Further from today than any card looks (the ageing's "> 90 days" ends 91 days ago, the forecast looks 90 days
# ahead), so that each bound asked falls strictly inside it (OpenInvoices.between checks).
_AGEING_DAYS = [days for bucket in finance.AGEING_BUCKETS for days in (bucket.days_from, bucket.days_to) if days]
OPEN_INVOICE_HORIZON = timedelta(days=1 + max(*FORECAST_HORIZONS, *_AGEING_DAYS))


class OpenInvoices:
    """What open invoices owe per currency and due date, with running sums: a due-date range within the horizon
    (OPEN_INVOICE_HORIZON) in two lookups.

    The receivables cards, the cash forecast and the ageing chart all read it; the page reads it once
    (see dashboard.views) instead of aggregating every open invoice for each of them.
    """

    def __init__(self, rows: list[dict], *, today: date) -> None:
        # Due dates beyond the horizon come counted at its edges (see open_invoices).
        self.earliest, self.latest = today - OPEN_INVOICE_HORIZON, today + OPEN_INVOICE_HORIZON
        # Per currency: due dates ascending, and the amount and count owed up to and including each.
        self._dates: dict[str, list[date]] = defaultdict(list)
        self._amounts: dict[str, list[Decimal]] = defaultdict(list)
        self._counts: dict[str, list[int]] = defaultdict(list)
        self._undated: dict[str, tuple[Decimal, int]] = {}
        for row in rows:  # ordered by currency, then due date
            currency = row["currency"]
            if row["due_date"] is None:
                self._undated[currency] = (row["balance"], row["count"])
                continue
            amounts, counts = self._amounts[currency], self._counts[currency]
            self._dates[currency].append(row["due_date"])
            amounts.append((amounts[-1] if amounts else ZERO) + row["balance"])
            counts.append((counts[-1] if counts else 0) + row["count"])

    def between(self, first: date | None = None, last: date | None = None) -> dict[str, dict]:
        """Amount and count owed per currency, due from `first` to `last` (both included; None: no bound).

        An invoice without a due date counts only when both bounds are open. A bound past the horizon would
        cut through the due dates counted at its edge: refused rather than answered wrong.
        """
        if (first is not None and not self.earliest < first <= self.latest) or (
            last is not None and not self.earliest <= last < self.latest
        ):
            raise ValueError(f"due dates from {first} to {last} reach beyond {self.earliest}–{self.latest}")
        totals = {}
        for currency in sorted(set(self._dates) | set(self._undated)):
            dates, amounts, counts = self._dates[currency], self._amounts[currency], self._counts[currency]
            below = bisect.bisect_left(dates, first) if first else 0
            upto = bisect.bisect_right(dates, last) if last else len(dates)
            amount = (amounts[upto - 1] if upto else ZERO) - (amounts[below - 1] if below else ZERO)
            count = (counts[upto - 1] if upto else 0) - (counts[below - 1] if below else 0)
            if first is None and last is None and currency in self._undated:
                amount, count = amount + self._undated[currency][0], count + self._undated[currency][1]
            if count:
                totals[currency] = {"amount": amount, "count": count}
        return totals


def open_invoices(company_ids: list[int], today: date) -> OpenInvoices:
    """What open invoices owe per currency and due date, a due date beyond the horizon counted at its edge.

    No card asks about a range that ends further than the horizon (the ageing's 90 days past due, the forecast's
    90 days ahead), so an invoice 400 days late need not have a row of its own: a few hundred rows per currency
    rather than one per due date since the oldest unpaid invoice.
    """
    return OpenInvoices(_query(
        """
        SELECT currency, CASE WHEN due_date IS NOT NULL THEN LEAST(GREATEST(due_date, %(earliest)s), %(latest)s)
                         END AS due_date,
               SUM(balance_due) AS balance, COUNT(*) AS count
        FROM dashboard_openinvoice WHERE company_id = ANY(%(companies)s) AND balance_due > 0
        GROUP BY 1, 2 ORDER BY 1, 2
        """,
        {"companies": company_ids, "earliest": today - OPEN_INVOICE_HORIZON, "latest": today + OPEN_INVOICE_HORIZON},
    ), today=today)  # fmt: skip


def _open_receivables(owed: OpenInvoices, today: date) -> list[dict]:
    overdue = owed.between(last=today - timedelta(days=1))
    nothing = {"amount": ZERO, "count": 0}
    return [
        {"currency": currency, "open": total["amount"], "open_count": total["count"],
         "overdue": overdue.get(currency, nothing)["amount"], "overdue_count": overdue.get(currency, nothing)["count"]}
        for currency, total in owed.between().items()
    ]  # fmt: skip


def _payables_due(company_ids: list[int], today: date) -> list[dict]:
    """Supplier invoices still to pay (the payables list's statuses) due within 30 days, per currency."""
    return _query(
        """
        SELECT currency, SUM(gross_total) AS total, COUNT(*) AS count FROM finance_supplierinvoice
        WHERE company_id = ANY(%(companies)s) AND status = ANY(%(payable)s) AND due_date <= %(until)s
        GROUP BY currency ORDER BY currency
        """,
        {"companies": company_ids, "payable": list(finance.PAYABLE_STATUSES), "until": today + timedelta(days=30)},
    )


def receivable_kpis(
    *, scope: CompanyScope, today: date, owed: OpenInvoices | None = None, money: Conversion | None = None
) -> list[Kpi]:
    """Open and overdue receivables and payables due within 30 days: today's from the documents, history from views."""
    company_ids = scope.company_ids
    money = money or conversion()
    receivables = _open_receivables(owed or open_invoices(company_ids, today), today)
    payables = _payables_due(company_ids, today)
    days = history_dates(today)
    same_day = year_ago(today)
    past = days[:-1] + [same_day]
    receivable_history = _as_of_rows("dashboard_receivable_day", ["open_total", "overdue_total"], company_ids, past)
    payable_history = _as_of_rows("dashboard_purchase_day", ["due_30_total"], company_ids, past)
    open_by_day = _history_by_day(receivable_history, "open_total", money)
    overdue_by_day = _history_by_day(receivable_history, "overdue_total", money)
    due_by_day = _history_by_day(payable_history, "due_30_total", money)
    open_now = _per_currency(receivables, "open")
    overdue_now = _per_currency(receivables, "overdue")
    due_now = _per_currency(payables, "total")
    labels = [_month_label(day) for day in days[:-1]] + [_day_label(today)]
    compared = _("vs %(date)s") % {"date": _day_label(same_day)}

    def history(by_day: dict[date, Decimal], now: Decimal) -> list[Point]:
        return [Point(label, by_day.get(day, ZERO)) for label, day in zip(labels[:-1], days[:-1], strict=True)] + [
            Point(labels[-1], now)
        ]

    open_total, overdue_total, due_total = money.chf(open_now), money.chf(overdue_now), money.chf(due_now)
    open_count = sum(row["open_count"] for row in receivables)
    overdue_count = sum(row["overdue_count"] for row in receivables)
    due_count = sum(row["count"] for row in payables)
    return [
        Kpi(
            "receivables_open", _("Receivables open"), open_total, "CHF",
            _list_url("finance:invoice-list", open=1), history(open_by_day, open_total),
            open_by_day.get(same_day, ZERO), compared, higher_is_better=False,
            note=ngettext("%(count)s invoice", "%(count)s invoices", open_count) % {"count": open_count},
            missing_currencies=money.missing(open_now),
        ),
        Kpi(
            "receivables_overdue", _("Receivables overdue"), overdue_total, "CHF",
            _list_url("finance:invoice-list", overdue=1), history(overdue_by_day, overdue_total),
            overdue_by_day.get(same_day, ZERO), compared, higher_is_better=False,
            note=ngettext("%(count)s invoice past its due date", "%(count)s invoices past their due date",
                          overdue_count) % {"count": overdue_count},
            missing_currencies=money.missing(overdue_now),
        ),
        Kpi(
            "payables_due", _("Payables due within 30 days"), due_total, "CHF",
            _list_url("finance:supplier-invoice-list", due_by=(today + timedelta(days=30)).isoformat()),
            history(due_by_day, due_total), due_by_day.get(same_day, ZERO), compared, higher_is_better=False,
            note=ngettext("%(count)s supplier invoice, overdue ones included",
                          "%(count)s supplier invoices, overdue ones included", due_count) % {"count": due_count},
            missing_currencies=money.missing(due_now),
        ),
    ]  # fmt: skip


def pipeline_now(company_ids: list[int], today: date) -> list[dict]:
    """Quotes awaiting an answer and still valid, per company and currency (the quote list's "open" filter)."""
    return _query(
        """
        SELECT company_id, currency, SUM(net_total) AS total, COUNT(*) AS count FROM finance_quote
        WHERE company_id = ANY(%(companies)s) AND status = ANY(%(open)s) AND valid_until >= %(today)s
        GROUP BY company_id, currency
        """,
        {"companies": company_ids, "open": list(OPEN_QUOTE_STATUSES), "today": today},
    )


def projects_now(company_ids: list[int], today: date) -> list[dict]:
    """Open projects per company, and how many have a milestone past its date and not done. The late ones are one
    set read from the milestones' partial index (milestone_unfinished_due), not a lookup per project."""
    return _query(
        """
        SELECT company_id, COUNT(*) AS active,
               COUNT(*) FILTER (WHERE id IN (SELECT project_id FROM finance_milestone
                                             WHERE due_date < %(today)s AND status = ANY(%(unfinished)s))) AS late
        FROM finance_project WHERE company_id = ANY(%(companies)s) AND status = ANY(%(open)s)
        GROUP BY company_id ORDER BY company_id
        """,
        {"companies": company_ids, "open": list(finance.OPEN_PROJECT_STATUSES), "today": today,
         "unfinished": list(OPEN_MILESTONE)},
    )  # fmt: skip


def activity_kpis(*, scope: CompanyScope, today: date, money: Conversion | None = None) -> list[Kpi]:
    """Pipeline and open projects: today's from the documents, the past from the daily snapshots."""
    company_ids = scope.company_ids
    money = money or conversion()
    pipeline = pipeline_now(company_ids, today)
    projects = projects_now(company_ids, today)
    days = history_dates(today)
    same_day = year_ago(today)
    snapshots = _query(
        "SELECT metric, day, currency, value FROM dashboard_figuresnapshot "
        "WHERE company_id = ANY(%(companies)s) AND day = ANY(%(days)s)",
        {"companies": company_ids, "days": [*days[:-1], same_day]},
    )
    recorded: dict[tuple[str, date], dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for snapshot in snapshots:
        recorded[(snapshot["metric"], snapshot["day"])][snapshot["currency"]] += snapshot["value"]
    labels = [_month_label(day) for day in days[:-1]] + [_day_label(today)]
    compared = _("vs %(date)s") % {"date": _day_label(same_day)}

    def past(metric: str, day: date) -> Decimal | None:
        amounts = recorded.get((metric, day))
        if amounts is None:
            return None
        return money.chf(amounts) if metric == FigureSnapshot.Metric.PIPELINE else amounts[""]

    def history(metric: str, now: Decimal) -> list[Point]:
        # Days before the first snapshot have no figure: the line starts where the record does.
        points = [Point(label, value) for label, day in zip(labels[:-1], days[:-1], strict=True)
                  if (value := past(metric, day)) is not None]  # fmt: skip
        return [*points, Point(labels[-1], now)]

    quote_count = sum(row["count"] for row in pipeline)
    pipeline_amounts = _per_currency(pipeline, "total")
    pipeline_total = money.chf(pipeline_amounts)
    active = Decimal(sum(row["active"] for row in projects))
    late = sum(row["late"] for row in projects)
    return [
        Kpi(
            "pipeline", _("Pipeline"), pipeline_total, "CHF", _list_url("finance:quote-list", open=1),
            history(FigureSnapshot.Metric.PIPELINE, pipeline_total), past(FigureSnapshot.Metric.PIPELINE, same_day),
            compared, note=ngettext("%(count)s quote awaiting an answer, net of VAT",
                                    "%(count)s quotes awaiting an answer, net of VAT", quote_count)
            % {"count": quote_count},
            missing_currencies=money.missing(pipeline_amounts),
        ),
        Kpi(
            "projects", _("Open projects"), active, "", _list_url("finance:project-list"),
            history(FigureSnapshot.Metric.PROJECTS_ACTIVE, active),
            past(FigureSnapshot.Metric.PROJECTS_ACTIVE, same_day), compared,
            note=_("%(late)s late (a milestone past its date)") % {"late": late},
        ),
    ]  # fmt: skip


# --- Cash ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CashDay:
    day: date
    balance: Decimal


@dataclass(frozen=True)
class Forecast:
    days: int
    receivables: Decimal
    payables: Decimal
    balance: Decimal


@dataclass(frozen=True)
class Cash:
    kpi: Kpi
    balances: dict[str, Decimal]  # per currency, never added before conversion
    money: Conversion
    last_30_days: list[CashDay]
    forecast: list[Forecast]
    monthly_outflow: Decimal  # average over the last 90 days, CHF
    runway_months: Decimal | None  # None when nothing went out
    balances_as_of: datetime | None


def cash_overview(
    *, scope: CompanyScope, today: date, owed: OpenInvoices | None = None, money: Conversion | None = None
) -> Cash:
    """Revolut balances now, day by day over 30 days and at month ends, the 30/60/90-day forecast, the runway."""
    company_ids = scope.company_ids
    money = money or conversion()
    # By id: the history statement below is kept per process by its parameters, these ids in this order.
    accounts = _query(
        "SELECT id, currency, balance, balance_updated_at FROM finance_bankaccount "
        "WHERE company_id = ANY(%(companies)s) AND is_active ORDER BY id",
        {"companies": company_ids},
    )
    balances = _per_currency(accounts, "balance")
    same_day = year_ago(today)
    changes = history_rows.read(
        """
        SELECT currency, day, SUM(net_change) AS net_change, SUM(outflow) AS outflow,
               SUM(SUM(net_change)) OVER (PARTITION BY currency ORDER BY day DESC) AS moved_since,
               EXISTS (SELECT FROM dashboard_bank_day WHERE account_id = ANY(%(accounts)s) AND day <= %(since)s)
                   AS reaches_a_year_back
        FROM dashboard_bank_day WHERE account_id = ANY(%(accounts)s) AND day > %(since)s
        GROUP BY currency, day ORDER BY currency, day
        """,
        {"accounts": [account["id"] for account in accounts], "since": same_day},
    )

    days = history_dates(today)
    last_30 = [today - timedelta(days=back) for back in range(29, -1, -1)]
    balance_at = _balances_at_end_of(balances, changes, [*days, same_day, *last_30])

    total = money.chf(balances)
    history = [Point(_month_label(day), money.chf(balance_at[day])) for day in days[:-1]]
    history.append(Point(_day_label(today), total))
    # Without a movement on or before that day, the bank's history does not reach back a year.
    reaches_a_year_back = bool(changes) and changes[0]["reaches_a_year_back"]
    kpi = Kpi(
        "cash", _("Cash"), total, "CHF", _link("finance:bank-accounts"), history,
        money.chf(balance_at[same_day]) if reaches_a_year_back else None,
        _("vs %(date)s") % {"date": _day_label(same_day)},
        note=ngettext("%(count)s Revolut account", "%(count)s Revolut accounts", len(accounts))
        % {"count": len(accounts)}, missing_currencies=money.missing(balances),
    )  # fmt: skip
    last_30_days = [CashDay(day, money.chf(balance_at[day])) for day in last_30]
    since_90_days = today - timedelta(days=90)
    outflow_90 = _per_currency([r for r in changes if r["day"] > since_90_days], "outflow")
    monthly_outflow = -money.chf(outflow_90) / 3
    monthly_outflow = vat.quantize_chf(monthly_outflow)
    return Cash(
        kpi=kpi, balances=balances, money=money, last_30_days=last_30_days,
        forecast=_forecast(company_ids, owed or open_invoices(company_ids, today), today, total, money),
        monthly_outflow=monthly_outflow,
        runway_months=(total / monthly_outflow).quantize(Decimal("0.1")) if monthly_outflow > 0 else None,
        balances_as_of=max((account["balance_updated_at"] for account in accounts), default=None),
    )  # fmt: skip


def _balances_at_end_of(
    balances: dict[str, Decimal], changes: list[dict], days: list[date]
) -> dict[date, dict[str, Decimal]]:
    """Each day's closing balance: today's balance less what moved after that day. `changes` come by currency and
    day with `moved_since`, what moved on that day and after (summed by PostgreSQL, kept with the history)."""
    moved: dict[str, tuple[list[date], list[Decimal]]] = {}
    for currency, rows in itertools.groupby(changes, key=lambda row: row["currency"]):
        rows = list(rows)
        moved[currency] = ([row["day"] for row in rows], [row["moved_since"] for row in rows])

    def moved_after(currency: str, day: date) -> Decimal:
        moved_days, moved_since = moved.get(currency, ((), ()))
        later = bisect.bisect_right(moved_days, day)
        return moved_since[later] if later < len(moved_since) else ZERO

    return {
        day: {currency: amount - moved_after(currency, day) for currency, amount in balances.items()}
        for day in set(days)
    }


def _forecast(
    company_ids: list[int], owed: OpenInvoices, today: date, cash: Decimal, money: Conversion
) -> list[Forecast]:
    """Cash after 30, 60 and 90 days: today's balance, plus open receivables and less approved payables due by then
    (overdue ones included: they are still expected)."""
    horizons = {days: today + timedelta(days=days) for days in FORECAST_HORIZONS}
    receivable = {
        days: {currency: total["amount"] for currency, total in owed.between(last=until).items()}
        for days, until in horizons.items()
    }
    due_by = ", ".join(f"SUM(gross_total) FILTER (WHERE due_date <= %(until_{d})s) AS due_{d}" for d in horizons)
    payable_rows = _query(
        f"SELECT currency, {due_by} FROM finance_supplierinvoice "  # noqa: S608 - the horizons are constants
        "WHERE company_id = ANY(%(companies)s) AND status = ANY(%(approved)s) GROUP BY currency ORDER BY currency",
        {"companies": company_ids, "approved": list(APPROVED_PAYABLE_STATUSES),
         **{f"until_{days}": until for days, until in horizons.items()}},
    )  # fmt: skip
    forecast = []
    for days in FORECAST_HORIZONS:
        incoming = money.chf(receivable[days])
        outgoing = money.chf(_per_currency(payable_rows, f"due_{days}"))
        forecast.append(Forecast(days, incoming, outgoing, cash + incoming - outgoing))
    return forecast


# --- Charts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevenueCharts:
    months: list[date]  # 24, oldest first
    totals: list[Decimal]
    trend: list[Decimal]  # least-squares line through the 24 totals
    by_company: list[tuple[Company, Decimal]]  # year to date
    stacked_months: list[date]  # the last 12
    stacked: list[tuple[Company, list[Decimal]]]
    money: Conversion


def least_squares(values: list[Decimal]) -> list[Decimal]:
    """The straight line closest to the values (ordinary least squares over their positions)."""
    count = len(values)
    if count < 2:
        return list(values)
    mean_x = Decimal(count - 1) / 2
    mean_y = sum(values, ZERO) / count
    spread = sum(((Decimal(x) - mean_x) ** 2 for x in range(count)), ZERO)
    slope = sum(((Decimal(x) - mean_x) * (y - mean_y) for x, y in enumerate(values)), ZERO) / spread
    return [vat.quantize_chf(mean_y + slope * (Decimal(x) - mean_x)) for x in range(count)]


def revenue_charts(
    *, scope: CompanyScope, today: date, monthly: MonthlyRevenue | None = None, money: Conversion | None = None
) -> RevenueCharts:
    money = money or conversion()
    revenue = monthly or monthly_revenue(company_ids=scope.company_ids, today=today)
    this_month = month_start(today)
    months = [add_months(this_month, -back) for back in range(23, -1, -1)]
    group = revenue.per_month(money)
    totals = [group.get(month, ZERO) for month in months]
    ytd_months = _months_of_year_until(this_month)
    by_company, stacked = [], []
    for company in scope.companies:
        own = revenue.per_month(money, company.pk)
        by_company.append((company, sum((own.get(m, ZERO) for m in ytd_months), ZERO)))
        stacked.append((company, [own.get(month, ZERO) for month in months[-12:]]))
    return RevenueCharts(months, totals, least_squares(totals), by_company, months[-12:], stacked, money)


@dataclass(frozen=True)
class AgeingBar:
    key: str
    label: str
    count: int
    total: Decimal
    link: str


def _bucket_dates(bucket: finance.AgeingBucket, today: date) -> tuple[date | None, date | None]:
    """finance.selectors.ageing_bucket_filter as a range of due dates (first, last)."""
    if bucket.days_from is None:
        return today, None
    first = today - timedelta(days=bucket.days_to) if bucket.days_to is not None else None
    return first, today - timedelta(days=bucket.days_from)


def receivables_ageing(
    *, scope: CompanyScope, today: date, owed: OpenInvoices | None = None, money: Conversion | None = None
) -> tuple[list[AgeingBar], Conversion]:
    """Open receivables by how late they are, the invoice list's buckets."""
    money = money or conversion()
    owed = owed or open_invoices(scope.company_ids, today)
    bars = []
    for bucket in finance.AGEING_BUCKETS:
        totals = owed.between(*_bucket_dates(bucket, today))
        bars.append(AgeingBar(
            bucket.key, str(bucket.label), sum(total["count"] for total in totals.values()),
            money.chf({currency: total["amount"] for currency, total in totals.items()}),
            _list_url("finance:invoice-list", open=1, bucket=bucket.key),
        ))  # fmt: skip
    return bars, money


# --- Urgent actions -----------------------------------------------------------------------------


class Severity:
    CRITICAL, HIGH, MEDIUM, LOW = 0, 1, 2, 3
    LABELS = {0: "critical", 1: "high", 2: "medium", 3: "low"}


@dataclass(frozen=True)
class UrgentItem:
    key: str  # what a snooze names: the kind of item and the company
    severity: int
    company: Company
    text: str
    link: str
    detail: str = ""  # what the overdue invoices' reminders stand at

    @property
    def severity_name(self) -> str:
        return Severity.LABELS[self.severity]


URGENT_COUNTS = (
    OPEN_INVOICES  # noqa: S608 - constant SQL, the values are parameters
    + """
SELECT 'overdue' AS kind, open_invoice.company_id, currency, COUNT(*) AS number, SUM(balance_due) AS amount,
       MIN(due_date) AS oldest, COUNT(*) FILTER (WHERE COALESCE(dunning.level, 0) = 0) AS not_reminded,
       COUNT(*) FILTER (WHERE dunning.level = 1) AS level_1, COUNT(*) FILTER (WHERE dunning.level = 2) AS level_2,
       COUNT(*) FILTER (WHERE dunning.level >= 3) AS level_3,
       COUNT(*) FILTER (WHERE dunning.paused_reason <> '') AS paused
FROM open_invoice LEFT JOIN finance_invoicedunning dunning ON dunning.invoice_id = open_invoice.id
WHERE due_date < %(today)s GROUP BY open_invoice.company_id, currency
UNION ALL
SELECT 'deposits', company_id, currency, COUNT(*), SUM(balance_due), MIN(due_date), NULL, NULL, NULL, NULL, NULL
FROM open_invoice WHERE kind = 'deposit' GROUP BY company_id, currency
UNION ALL
SELECT 'to_issue', invoice.company_id, invoice.currency, COUNT(*), SUM(invoice.payable_total),
       MIN(quote.signed_at AT TIME ZONE %(zone)s)::date, NULL, NULL, NULL, NULL, NULL
FROM finance_invoice invoice JOIN finance_quote quote ON quote.id = invoice.quote_id
WHERE invoice.company_id = ANY(%(companies)s) AND invoice.status = 'draft' AND invoice.kind IN ('deposit', 'standard')
  AND quote.status IN ('signed', 'converted')
GROUP BY invoice.company_id, invoice.currency
UNION ALL
SELECT 'quotes', company_id, currency, COUNT(*), SUM(net_total), MIN(valid_until), NULL, NULL, NULL, NULL, NULL
FROM finance_quote WHERE company_id = ANY(%(companies)s) AND status IN ('sent', 'viewed')
  AND valid_until <= %(quotes_until)s
GROUP BY company_id, currency
UNION ALL
SELECT 'approvals', company_id, currency, COUNT(*), SUM(gross_total), MIN(due_date), NULL, NULL, NULL, NULL, NULL
FROM finance_supplierinvoice WHERE company_id = ANY(%(companies)s) AND status = 'to_approve'
GROUP BY company_id, currency
UNION ALL
SELECT 'unmatched', company_id, currency, COUNT(*), SUM(amount), MIN(created_on_bank AT TIME ZONE %(zone)s)::date,
       NULL, NULL, NULL, NULL, NULL
FROM finance_banktransaction WHERE company_id = ANY(%(companies)s) AND match_status IN ('unmatched', 'suggested')
  AND created_on_bank < %(unmatched_before)s
GROUP BY company_id, currency
UNION ALL
SELECT 'failed_runs', company_id, '', COUNT(*), 0, MIN(created_at AT TIME ZONE %(zone)s)::date,
       NULL, NULL, NULL, NULL, NULL
FROM integrations_actionrun WHERE company_id = ANY(%(companies)s) AND status = 'failed'
GROUP BY company_id
UNION ALL
SELECT 'rejected_webhooks', company_id, '', COUNT(*), 0, MIN(received_at AT TIME ZONE %(zone)s)::date,
       NULL, NULL, NULL, NULL, NULL
FROM integrations_webhookdelivery WHERE company_id = ANY(%(companies)s) AND status = 'rejected'
  AND received_at >= %(webhooks_since)s
GROUP BY company_id
UNION ALL
SELECT 'erp_stock', company_id, currency, COUNT(*), SUM(reorder_value), NULL, NULL, NULL, NULL, NULL, NULL
FROM integrations_erpnextstockshortage WHERE company_id = ANY(%(companies)s)
  AND company_id IN (SELECT company_id FROM integrations_connection WHERE provider = 'erpnext')
GROUP BY company_id, currency
UNION ALL
SELECT 'erp_late_orders', company_id, currency, COUNT(*), SUM(grand_total), MIN(schedule_date),
       NULL, NULL, NULL, NULL, NULL
FROM integrations_erpnextpurchaseorder WHERE company_id = ANY(%(companies)s)
  AND company_id IN (SELECT company_id FROM integrations_connection WHERE provider = 'erpnext')
  AND schedule_date < %(today)s AND status = ANY(%(awaiting_goods)s)
GROUP BY company_id, currency
UNION ALL
SELECT 'consent', company_id, '', COUNT(*), 0, MIN(consent_expires_at AT TIME ZONE %(zone)s)::date,
       NULL, NULL, NULL, NULL, NULL
FROM integrations_connection WHERE company_id = ANY(%(companies)s) AND provider = 'revolut'
  AND (consent_required OR consent_expires_at < %(consent_before)s)
GROUP BY company_id
"""
)


def _urgent_counts(company_ids: list[int], today: date, now: datetime) -> list[dict]:
    """Every urgent source counted per company (and currency) in one statement."""
    return _query(URGENT_COUNTS, {
        "companies": company_ids, "today": today, "zone": timezone.get_current_timezone_name(),
        "quotes_until": today + timedelta(days=QUOTE_EXPIRY_DAYS),
        "unmatched_before": now - timedelta(days=UNMATCHED_AFTER_DAYS),
        "webhooks_since": now - timedelta(days=7),
        "consent_before": now + timedelta(days=integration_selectors.CONSENT_WARNING_DAYS),
        "awaiting_goods": list(AWAITING_GOODS_STATUSES),
    })  # fmt: skip


def _urgent_text(kind: str, count: int, amounts: dict[str, Decimal], oldest: date | None, today: date) -> str:
    total = " + ".join(f"{currency} {_swiss(amount)}" for currency, amount in sorted(amounts.items()) if amount)
    if kind == "overdue":
        days = (today - oldest).days if oldest else 0
        return ngettext("%(count)s overdue invoice · %(total)s · oldest %(days)s days late",
                        "%(count)s overdue invoices · %(total)s · oldest %(days)s days late", count) % {
            "count": count, "total": total, "days": days}  # fmt: skip
    if kind == "deposits":
        return ngettext(
            "%(count)s deposit invoice awaiting payment · %(total)s",
            "%(count)s deposit invoices awaiting payment · %(total)s",
            count,
        ) % {"count": count, "total": total}
    if kind == "to_issue":
        return ngettext(
            "%(count)s invoice of a signed quote waits to be issued · %(total)s",
            "%(count)s invoices of signed quotes wait to be issued · %(total)s",
            count,
        ) % {"count": count, "total": total}
    if kind == "quotes":
        return ngettext("%(count)s quote expires by %(date)s · %(total)s net",
                        "%(count)s quotes expire by %(date)s · %(total)s net", count) % {
            "count": count, "total": total, "date": _day_label(today + timedelta(days=QUOTE_EXPIRY_DAYS))}  # fmt: skip
    if kind == "approvals":
        return ngettext(
            "%(count)s supplier invoice awaiting approval · %(total)s",
            "%(count)s supplier invoices awaiting approval · %(total)s",
            count,
        ) % {"count": count, "total": total}
    if kind == "unmatched":
        return ngettext("%(count)s bank transaction unmatched for more than %(days)s days · %(total)s",
                        "%(count)s bank transactions unmatched for more than %(days)s days · %(total)s", count) % {
            "count": count, "days": UNMATCHED_AFTER_DAYS, "total": total}  # fmt: skip
    if kind == "failed_runs":
        return ngettext(
            "%(count)s action failed (Revolut, Invoice Ninja, Mautic…)",
            "%(count)s actions failed (Revolut, Invoice Ninja, Mautic…)",
            count,
        ) % {"count": count}
    if kind == "rejected_webhooks":
        return ngettext(
            "%(count)s webhook rejected in the last 7 days (bad signature)",
            "%(count)s webhooks rejected in the last 7 days (bad signature)",
            count,
        ) % {"count": count}
    if kind == "erp_stock":
        return ngettext("%(count)s item at or below its reorder level (ERPNext) · %(total)s to reorder",
                        "%(count)s items at or below their reorder level (ERPNext) · %(total)s to reorder", count) % {
            "count": count, "total": total}  # fmt: skip
    if kind == "erp_late_orders":
        days = (today - oldest).days if oldest else 0
        return ngettext("%(count)s purchase order late (ERPNext) · %(total)s · oldest %(days)s days late",
                        "%(count)s purchase orders late (ERPNext) · %(total)s · oldest %(days)s days late", count) % {
            "count": count, "total": total, "days": days}  # fmt: skip
    if oldest is None or oldest <= today:
        return _("Revolut consent expired: authorise the Hub again")
    return _("Revolut consent expires on %(date)s") % {"date": _day_label(oldest)}


def _dunning_detail(levels: dict[str, int]) -> str:
    detail = _("not reminded %(none)s · level 1: %(one)s · level 2: %(two)s · level 3: %(three)s") % {
        "none": levels["not_reminded"],
        "one": levels["level_1"],
        "two": levels["level_2"],
        "three": levels["level_3"],
    }
    if levels["paused"]:
        detail += " · " + _("paused %(paused)s") % {"paused": levels["paused"]}
    return detail


def _urgent_severity(kind: str, oldest: date | None, today: date) -> int:
    if kind == "overdue":
        return Severity.CRITICAL if oldest and (today - oldest).days > 30 else Severity.HIGH
    if kind == "consent":
        return Severity.CRITICAL if oldest is None or oldest <= today else Severity.HIGH
    if kind == "quotes":
        return Severity.HIGH if oldest and oldest < today else Severity.MEDIUM
    if kind == "deposits":
        return Severity.HIGH if oldest and oldest < today else Severity.MEDIUM
    if kind in ("unmatched", "failed_runs", "rejected_webhooks", "to_issue", "erp_stock", "erp_late_orders"):
        return Severity.HIGH
    return Severity.MEDIUM


def _urgent_link(kind: str, company: Company) -> str:
    code = company.code
    match kind:
        case "overdue":
            return _list_url("finance:dunning-list", company=code)
        case "deposits":
            return _list_url("finance:invoice-list", company=code, open=1, kind=Invoice.Kind.DEPOSIT)
        case "quotes":
            return _list_url("finance:quote-list", company=code, open=1)
        case "to_issue":
            return _list_url("finance:invoice-list", company=code, status=Invoice.Status.DRAFT)
        case "approvals":
            return _link("finance:approval-queue")
        case "unmatched":
            return _link("finance:reconciliation")
        case "failed_runs":
            return _list_url("dashboard:failed-actions", company=code)
        case "rejected_webhooks":
            return _list_url("integrations:webhook-list", company=code, status="rejected")
        case "consent":
            return _link("integrations:connection", provider="revolut", company_code=code)
        case "erp_stock":
            return _list_url("integrations:erpnext", company=code) + "#stock"
        case "erp_late_orders":
            return _list_url("integrations:erpnext", company=code) + "#orders"
    raise KeyError(kind)


def _unanswered_leads_item(company: Company, count: int, oldest: datetime, now: datetime) -> UrgentItem:
    hours = int((now - oldest).total_seconds() // 3600)
    age = (ngettext("%(days)s day", "%(days)s days", hours // 24) % {"days": hours // 24} if hours >= 48
           else ngettext("%(hours)s hour", "%(hours)s hours", hours) % {"hours": hours})  # fmt: skip
    text = ngettext(
        "%(count)s new lead not answered within 24 h · oldest %(age)s",
        "%(count)s new leads not answered within 24 h · oldest %(age)s",
        count,
    ) % {"count": count, "age": age}
    link = _list_url("finance:lead-list", company=company.code, unanswered=1)
    return UrgentItem(f"leads:{company.code}", Severity.HIGH, company, text, link)


def urgent_items(*, scope: CompanyScope, user, today: date, now: datetime) -> list[UrgentItem]:
    """What needs doing, most severe first, without the items this user snoozed: three queries."""
    companies = {company.pk: company for company in scope.companies}
    grouped: dict[tuple[str, int], dict] = {}
    for row in _urgent_counts(list(companies), today, now):
        kind, company_id, currency, count, total, oldest = (
            row["kind"],
            row["company_id"],
            row["currency"],
            row["number"],
            row["amount"],
            row["oldest"],
        )
        entry = grouped.setdefault(
            (kind, company_id), {"count": 0, "amounts": {}, "oldest": oldest, "levels": defaultdict(int)}
        )
        entry["count"] += count
        for level in ("not_reminded", "level_1", "level_2", "level_3", "paused"):
            entry["levels"][level] += row[level] or 0
        if currency:
            entry["amounts"][currency] = total
        if oldest and (entry["oldest"] is None or oldest < entry["oldest"]):
            entry["oldest"] = oldest
    items = [
        UrgentItem(
            f"{kind}:{companies[company_id].code}", _urgent_severity(kind, entry["oldest"], today),
            companies[company_id], _urgent_text(kind, entry["count"], entry["amounts"], entry["oldest"], today),
            _urgent_link(kind, companies[company_id]), _dunning_detail(entry["levels"]) if kind == "overdue" else "",
        )
        for (kind, company_id), entry in grouped.items()
    ]  # fmt: skip
    for row in finance.lead_unanswered_by_company(company_ids=list(companies), now=now):
        items.append(_unanswered_leads_item(companies[row["company_id"]], row["count"], row["oldest"], now))
    drifts = SyncDrift.objects.filter(company_id__in=list(companies), resolved_at__isnull=True)
    for drift in drifts.prefetch_related("target").order_by("-detected_at")[:20]:
        # An edit made in Directus that breaks a rule is wrong data in the Hub now, not a difference to check.
        severity = Severity.HIGH if drift.provider == Provider.DIRECTUS else Severity.MEDIUM
        link = getattr(drift.target, "get_absolute_url", None)
        items.append(UrgentItem(
            f"drift:{drift.pk}", severity, companies[drift.company_id],
            f"{drift.get_provider_display()} · {drift.detail}", link() if link else "",
        ))  # fmt: skip
    snoozed = {row["key"] for row in _query(
        f"SELECT key FROM {UrgentSnooze._meta.db_table} WHERE user_id = %s AND until > %s",  # noqa: S608 - the model's table
        [user.pk, now],
    )}  # fmt: skip
    visible = [item for item in items if item.key not in snoozed]
    return sorted(visible, key=lambda item: (item.severity, item.company.code, item.key))


# --- Integration status -------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusPill:
    provider: str
    label: str
    company: Company
    status: integration_selectors.ConnectionStatus
    link: str

    # Kept after the first look: the template reads the state twice, and the title once rather than from three
    # lookups (the group's bar draws 35 pills).
    @functools.cached_property
    def state(self) -> str:
        """The bar's four states; a Revolut consent to renew is a connection that cannot work: down."""
        return "down" if self.status.code == "consent_required" else self.status.code

    @functools.cached_property
    def title(self) -> str:
        return f"{self.label}: {self.status.label} — {self.status.detail}"


# Every provider the group works with, in the bar's order.
STATUS_PROVIDERS = (
    ("revolut", "Revolut"), ("invoice_ninja", "Invoice Ninja"), ("mautic", "Mautic"), ("docuseal", "DocuSeal"),
    ("erpnext", "ERPNext"), ("openai", "OpenAI"), ("directus", "Directus"),
)  # fmt: skip


def integration_status(*, scope: CompanyScope) -> list[tuple[Company, list[StatusPill]]]:
    """One pill per provider and company, from the last real probe and call (one query, Redis for circuits)."""
    companies = {company.pk: company for company in scope.companies}
    found: dict[tuple[int, str], Connection] = {}
    # Written out, as every status bar request reads them (the ORM's statement cost more than its answer).
    connections = Connection.objects.raw(
        f"SELECT * FROM {Connection._meta.db_table} WHERE company_id = ANY(%s)",  # noqa: S608 - the model's table
        [list(companies)],
    )
    for connection in connections:
        connection.company = companies[connection.company_id]  # the scope's own rows: no join to read them again
        found[(connection.company_id, connection.provider)] = connection
    # Directus is one for the group: its pill says how it last answered /server/health, on every row.
    directus = integration_selectors.directus_status()
    directus_link = _link("integrations:connection-list")
    # Every company's connections at once: their circuits are read from Redis in one round trip.
    pairs = [(company, provider) for company in scope.companies for provider, _label in STATUS_PROVIDERS
             if provider != Provider.DIRECTUS]  # fmt: skip
    statuses = integration_selectors.connection_statuses([found.get((company.pk, p)) for company, p in pairs])
    status_of = dict(zip(pairs, statuses, strict=True))
    rows = []
    for company in scope.companies:
        pills = []
        for provider, label in STATUS_PROVIDERS:
            if provider == Provider.DIRECTUS:
                pills.append(StatusPill(provider, label, company, directus, directus_link))
                continue
            link = _link("integrations:connection", provider=provider, company_code=company.code)
            pills.append(StatusPill(provider, label, company, status_of[(company, provider)], link))
        rows.append((company, pills))
    return rows


def failed_action_list(*, scope: CompanyScope, company_code: str = ""):
    runs = ActionRun.objects.filter(company_id__in=scope.company_ids, status=ActionRun.Status.FAILED)
    if company_code:
        runs = runs.filter(company__code=company_code)
    runs = runs.select_related("company", "target_type").prefetch_related("target")
    return runs.order_by("-finished_at", "-pk")[:200]


def now_local() -> tuple[date, datetime]:
    now = timezone.now()
    return timezone.localdate(now), now
