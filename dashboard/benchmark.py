"""The dashboard measured side by side: the Hub's partials, the same figures through Directus REST, the SQL floor.

The old platform's React dashboard computed its figures in the browser from Directus REST aggregates
(`/items/<table>?aggregate[...]&groupBy[]=...&filter=...`). `directus_calls` writes down, partial by
partial, the calls it takes to get the same figures that way, on the same database; what Directus cannot
compute at all is named in `DIRECTUS_CANNOT`. The SQL floor of a partial is the database's own time for
the statements the Hub sends for it (EXPLAIN ANALYZE of each), so Hub/floor is what Django, Python and the
templates add on top of the indexed reads and the materialized views.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import requests
from django.db import connection

from dashboard.selectors import (
    APPROVED_PAYABLE_STATUSES,
    OPEN_QUOTE_STATUSES,
    QUOTE_EXPIRY_DAYS,
    UNMATCHED_AFTER_DAYS,
    add_months,
    history_dates,
    month_start,
    year_ago,
)
from finance import selectors as finance
from finance.models import Invoice, SupplierInvoice
from finance.project_overview import OPEN_MILESTONE

# A browser opens at most six connections to one host: the old dashboard's calls ran six at a time.
BROWSER_CONNECTIONS = 6
OPEN_STATUSES = [Invoice.Status.ISSUED, Invoice.Status.PARTIALLY_PAID]

# Figures of a partial Directus cannot produce, whatever the number of calls.
DIRECTUS_CANNOT = {
    "status": "provider health lives in the Hub's probes and circuit breakers (Redis), not in tables",
    "receivables": "the 12 month-end points of each card: no running totals over payments and credit notes",
}


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass
class Samples:
    """Milliseconds of interleaved runs of one way of computing one partial."""

    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def p95(self) -> float:
        return percentile(self.values, 0.95)


# --- Directus REST, the old platform's way -------------------------------------------------------------


@dataclass(frozen=True)
class DirectusCall:
    collection: str
    params: dict

    def query(self) -> dict:
        return {**self.params, "filter": json.dumps(self.params["filter"], default=str), "limit": -1}


def _and(*conditions: dict) -> dict:
    return {"_and": [condition for condition in conditions if condition]}


def _sum(collection: str, value: str, group_by: list[str], *conditions: dict) -> DirectusCall:
    return DirectusCall(collection, {"aggregate[sum]": value, "groupBy[]": group_by, "filter": _and(*conditions)})


def _count(collection: str, *conditions: dict, group_by: list[str] | None = None) -> DirectusCall:
    return DirectusCall(collection, {"aggregate[count]": "*", "groupBy[]": group_by or [], "filter": _and(*conditions)})


def _open_balance(companies: dict, due: dict | None = None) -> list[DirectusCall]:
    """What open invoices still owe: their totals, less credit notes against them, less payments per currency.

    Directus cannot group payments by their invoice's currency (groupBy takes no relation), hence a call each.
    """
    owing = _and(companies, {"status": {"_in": OPEN_STATUSES}}, {"kind": {"_neq": Invoice.Kind.CREDIT_NOTE}},
                 {"due_date": due} if due else {})  # fmt: skip
    calls = [
        _sum("finance_invoice", "payable_total", ["currency"], owing),
        _sum("finance_invoice", "payable_total", ["currency"], {"kind": {"_eq": Invoice.Kind.CREDIT_NOTE}},
             {"status": {"_nin": ["draft", "cancelled"]}}, {"credited_invoice_id": owing}),
    ]  # fmt: skip
    for currency in ("CHF", "EUR"):
        calls.append(_sum("finance_paymentallocation", "amount", [], {"payment_id": {"undone_at": {"_null": True}}},
                          {"invoice_id": _and(owing, {"currency": {"_eq": currency}})}))  # fmt: skip
    return calls


def _fx_rates() -> DirectusCall:
    fields = "currency,quote_currency,rate,rate_date"
    return DirectusCall("finance_fxrate", {"sort": "-rate_date", "fields": fields, "filter": {}})


def _revenue_by_month(companies: dict, since: date, until: date, *, per_company: bool = False) -> DirectusCall:
    group = ["year(issue_date)", "month(issue_date)", "currency", "kind", *(["company_id"] if per_company else [])]
    return _sum("finance_invoice", "net_total", group, companies, {"status": {"_nin": ["draft", "cancelled"]}},
                {"issue_date": {"_between": [since, until]}})  # fmt: skip


def _revenue_between(companies: dict, since: date, until: date) -> DirectusCall:
    return _sum("finance_invoice", "net_total", ["currency", "kind"], companies,
                {"status": {"_nin": ["draft", "cancelled"]}}, {"issue_date": {"_between": [since, until]}})  # fmt: skip


def _costs_between(companies: dict, since: date, until: date, group_by: list[str]) -> DirectusCall:
    booked = {"status": {"_nin": ["draft", "rejected"]}}
    return _sum("finance_supplierinvoice", "net_total", group_by, companies, booked,
                {"invoice_date": {"_between": [since, until]}})  # fmt: skip


def directus_calls(company_ids: list[int], today: date) -> dict[str, list[DirectusCall]]:
    """The REST calls that give each partial's figures, for these companies on this day."""
    companies = {"company_id": {"_in": company_ids}}
    first = add_months(month_start(today), -23)
    same_day = year_ago(today)
    year_start_last = same_day.replace(month=1, day=1)
    overdue = {"_lt": today}
    payable = {"status": {"_in": finance.PAYABLE_STATUSES}}
    approved = {"status": {"_in": APPROVED_PAYABLE_STATUSES}}
    horizons = [today + timedelta(days=days) for days in (30, 60, 90)]
    ageing = []
    for bucket in finance.AGEING_BUCKETS:
        if bucket.days_from is None:
            ageing += _open_balance(companies, {"_gte": today})
            continue
        due = {"_lte": today - timedelta(days=bucket.days_from)}
        if bucket.days_to is not None:
            due = {"_between": [today - timedelta(days=bucket.days_to), today - timedelta(days=bucket.days_from)]}
        ageing += _open_balance(companies, due)
    return {
        "revenue": [
            _revenue_by_month(companies, first, today),
            _costs_between(companies, first, today, ["year(invoice_date)", "month(invoice_date)", "currency"]),
            _revenue_between(companies, month_start(same_day), same_day),
            _revenue_between(companies, year_start_last, same_day),
            _costs_between(companies, year_start_last, same_day, ["currency"]),
            _fx_rates(),
        ],
        "receivables": [
            *_open_balance(companies),
            *_open_balance(companies, overdue),
            _sum("finance_supplierinvoice", "gross_total", ["currency"], companies, payable,
                 {"due_date": {"_lte": today + timedelta(days=30)}}),
            _count("finance_supplierinvoice", companies, payable, {"due_date": {"_lte": today + timedelta(days=30)}}),
            _fx_rates(),
        ],
        "cash": [
            DirectusCall("finance_bankaccount", {"fields": "currency,balance,balance_updated_at",
                                                 "filter": _and(companies, {"is_active": {"_eq": True}})}),
            _sum("finance_banktransaction", "amount", ["year(created_on_bank)", "month(created_on_bank)",
                 "day(created_on_bank)", "currency"], companies, {"state": {"_eq": "completed"}},
                 {"created_on_bank": {"_gt": same_day}}),
            *[call for until in horizons for call in _open_balance(companies, {"_lte": until})],
            *[_sum("finance_supplierinvoice", "gross_total", ["currency"], companies, approved,
                   {"due_date": {"_lte": until}}) for until in horizons],
            _fx_rates(),
        ],
        "activity": [
            _sum("finance_quote", "net_total", ["currency"], companies, {"status": {"_in": OPEN_QUOTE_STATUSES}},
                 {"valid_until": {"_gte": today}}),
            _count("finance_quote", companies, {"status": {"_in": OPEN_QUOTE_STATUSES}},
                   {"valid_until": {"_gte": today}}),
            _count("finance_project", companies, {"status": {"_in": finance.OPEN_PROJECT_STATUSES}}),
            DirectusCall("finance_milestone", {"aggregate[countDistinct]": "project_id", "filter": _and(
                {"due_date": {"_lt": today}}, {"status": {"_in": list(OPEN_MILESTONE)}},
                {"project_id": _and(companies, {"status": {"_in": finance.OPEN_PROJECT_STATUSES}})})}),
            DirectusCall("dashboard_figuresnapshot", {"fields": "metric,day,currency,value", "filter": _and(
                companies, {"day": {"_in": [*history_dates(today)[:-1], same_day]}})}),
            _fx_rates(),
        ],
        "revenue-charts": [_revenue_by_month(companies, first, today, per_company=True), _fx_rates()],
        "ageing": [*ageing, _fx_rates()],
        "urgent": [
            *_open_balance(companies, overdue),
            _count("finance_invoicedunning", {"invoice_id": _and(companies, {"status": {"_in": OPEN_STATUSES}},
                   {"due_date": overdue})}, group_by=["level"]),
            _sum("finance_invoice", "payable_total", ["company_id", "currency"], companies,
                 {"kind": {"_eq": Invoice.Kind.DEPOSIT}}, {"status": {"_in": OPEN_STATUSES}}),
            _count("finance_invoice", companies, {"status": {"_eq": "draft"}},
                   {"quote_id": {"status": {"_in": ["signed", "converted"]}}}, group_by=["company_id"]),
            _count("finance_quote", companies, {"status": {"_in": OPEN_QUOTE_STATUSES}},
                   {"valid_until": {"_lte": today + timedelta(days=QUOTE_EXPIRY_DAYS)}}, group_by=["company_id"]),
            _sum("finance_supplierinvoice", "gross_total", ["company_id", "currency"], companies,
                 {"status": {"_eq": SupplierInvoice.Status.TO_APPROVE}}),
            _count("finance_banktransaction", companies, {"match_status": {"_in": ["unmatched", "suggested"]}},
                   {"created_on_bank": {"_lt": today - timedelta(days=UNMATCHED_AFTER_DAYS)}},
                   group_by=["company_id"]),
            _count("integrations_actionrun", companies, {"status": {"_eq": "failed"}}, group_by=["company_id"]),
            _count("integrations_webhookdelivery", companies, {"status": {"_eq": "rejected"}},
                   {"received_at": {"_gte": today - timedelta(days=7)}}, group_by=["company_id"]),
            _count("integrations_erpnextstockshortage", companies, group_by=["company_id"]),
            _count("integrations_erpnextpurchaseorder", companies, {"schedule_date": {"_lt": today}},
                   group_by=["company_id"]),
            _count("finance_lead", companies, {"status": {"_eq": "new"}}, group_by=["company_id"]),
            DirectusCall("dashboard_urgentsnooze", {"fields": "key,until", "filter": {"until": {"_gt": today}}}),
        ],
        "status": [],
    }  # fmt: skip


class Directus:
    """The old dashboard's client: the admin token, keep-alive connections, six calls at a time."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=BROWSER_CONNECTIONS)
        self.session.mount("http://", adapter)
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.pool = ThreadPoolExecutor(BROWSER_CONNECTIONS)

    def get(self, call: DirectusCall) -> list[dict]:
        response = self.session.get(f"{self.url}/items/{call.collection}", params=call.query(), timeout=120)
        if response.status_code != 200:
            raise RuntimeError(f"Directus {call.collection}: HTTP {response.status_code} {response.text[:300]}")
        return response.json()["data"]

    def get_all(self, calls: list[DirectusCall]) -> list[list[dict]]:
        return list(self.pool.map(self.get, calls))

    def close(self) -> None:
        self.pool.shutdown()
        self.session.close()


def directus_open_receivables(directus: Directus, company_ids: list[int], today: date) -> dict[str, Decimal]:
    """Receivables open per currency as Directus computes them, to check it answers the same as the Hub."""
    invoices, credits, *paid = directus.get_all(_open_balance({"company_id": {"_in": company_ids}}))
    totals: dict[str, Decimal] = {}
    for row in invoices:
        totals[row["currency"]] = Decimal(row["sum"]["payable_total"] or 0)
    for row in credits:
        totals[row["currency"]] = totals.get(row["currency"], Decimal(0)) - Decimal(row["sum"]["payable_total"] or 0)
    for currency, rows in zip(("CHF", "EUR"), paid, strict=True):
        spent = Decimal(rows[0]["sum"]["amount"] or 0) if rows else Decimal(0)
        if currency in totals or spent:
            totals[currency] = totals.get(currency, Decimal(0)) - spent
    return {currency: amount for currency, amount in totals.items() if amount}


# --- The SQL floor -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    sql: str
    params: tuple | list | dict | None


class StatementRecorder:
    """A database execute wrapper keeping the reads a request sends (writes such as a session save are not figures)."""

    def __init__(self) -> None:
        self.statements: list[Statement] = []

    def __call__(self, execute: Callable, sql, params, many, context):
        if not many and sql.lstrip().upper().startswith(("SELECT", "WITH")):
            self.statements.append(Statement(sql, params))
        return execute(sql, params, many, context)


class StatementTimer:
    """A database execute wrapper adding up the milliseconds a request waits on PostgreSQL: each statement sent and
    its result received (psycopg turns the rows into Python values later, on fetching: Python's time, not this)."""

    def __init__(self) -> None:
        self.ms = 0.0

    def __call__(self, execute: Callable, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.ms += (time.perf_counter() - started) * 1000


def floor_ms(statements: list[Statement]) -> float:
    """The database's own time for these statements: the sum of EXPLAIN ANALYZE's planning and execution times."""
    total = 0.0
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement.sql}", statement.params)
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            total += plan[0]["Planning Time"] + plan[0]["Execution Time"]
    return total
