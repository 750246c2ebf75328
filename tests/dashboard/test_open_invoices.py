"""The open invoices the page reads once: due-date ranges summed from running totals, bounds included."""

from datetime import date
from decimal import Decimal

from dashboard.selectors import OpenInvoices, _bucket_dates
from finance.selectors import AGEING_BUCKETS

TODAY = date(2026, 12, 6)


def owed() -> OpenInvoices:
    # As SQL orders them: by currency, then due date, an invoice without one last.
    return OpenInvoices([
        {"currency": "CHF", "due_date": date(2026, 8, 31), "balance": Decimal("100.00"), "count": 1},  # 97 days late
        {"currency": "CHF", "due_date": date(2026, 11, 5), "balance": Decimal("3.00"), "count": 1},  # 31 days late
        {"currency": "CHF", "due_date": date(2026, 11, 6), "balance": Decimal("20.05"), "count": 2},  # 30 days late
        {"currency": "CHF", "due_date": TODAY, "balance": Decimal("7.50"), "count": 1},
        {"currency": "CHF", "due_date": None, "balance": Decimal("1.00"), "count": 1},
        {"currency": "EUR", "due_date": date(2026, 12, 5), "balance": Decimal("40.00"), "count": 1},
    ])  # fmt: skip


def test_ranges_include_both_bounds_and_an_undated_invoice_counts_only_in_the_whole():
    assert OpenInvoices([]).between() == {}
    invoices = owed()
    assert invoices.between() == {"CHF": {"amount": Decimal("131.55"), "count": 6},
                                  "EUR": {"amount": Decimal("40.00"), "count": 1}}  # fmt: skip
    assert invoices.between(last=date(2026, 12, 5)) == {"CHF": {"amount": Decimal("123.05"), "count": 4},
                                                        "EUR": {"amount": Decimal("40.00"), "count": 1}}  # fmt: skip
    assert invoices.between(first=date(2026, 11, 6), last=date(2026, 11, 6)) == {
        "CHF": {"amount": Decimal("20.05"), "count": 2}
    }


def test_ageing_buckets_are_the_invoice_lists_day_ranges():
    invoices = owed()
    buckets = {bucket.key: invoices.between(*_bucket_dates(bucket, TODAY)) for bucket in AGEING_BUCKETS}
    assert buckets == {
        "not_due": {"CHF": {"amount": Decimal("7.50"), "count": 1}},
        "1_30": {"CHF": {"amount": Decimal("20.05"), "count": 2}, "EUR": {"amount": Decimal("40.00"), "count": 1}},
        "31_60": {"CHF": {"amount": Decimal("3.00"), "count": 1}},
        "61_90": {},
        "over_90": {"CHF": {"amount": Decimal("100.00"), "count": 1}},
    }
