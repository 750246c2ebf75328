"""The open invoices the page reads once: due-date ranges summed from running totals, bounds included."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from dashboard.models import OpenInvoice
from dashboard.selectors import FORECAST_HORIZONS, OPEN_INVOICE_HORIZON, OpenInvoices, _bucket_dates, open_invoices
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
    ], today=TODAY)  # fmt: skip


def test_ranges_include_both_bounds_and_an_undated_invoice_counts_only_in_the_whole():
    assert OpenInvoices([], today=TODAY).between() == {}
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


def test_a_range_reaching_beyond_the_horizon_is_refused_not_answered_wrong():
    invoices = owed()
    assert timedelta(days=92) == OPEN_INVOICE_HORIZON
    # Due dates past the edge are counted at it: a range may end on it, not start on it or beyond.
    invoices.between(first=TODAY - timedelta(days=91), last=TODAY + timedelta(days=91))
    invoices.between(last=TODAY - OPEN_INVOICE_HORIZON)
    with pytest.raises(ValueError, match="beyond"):
        invoices.between(last=TODAY - OPEN_INVOICE_HORIZON - timedelta(days=1))
    with pytest.raises(ValueError, match="beyond"):
        invoices.between(first=TODAY - OPEN_INVOICE_HORIZON)
    with pytest.raises(ValueError, match="beyond"):
        invoices.between(last=TODAY + OPEN_INVOICE_HORIZON)


@pytest.mark.django_db
def test_invoices_due_far_away_are_counted_at_the_horizon_with_the_same_totals(company_a):
    # The rows the triggers keep (the selector reads nothing else), an undated one included.
    OpenInvoice.objects.create(invoice_id=1, company=company_a, currency="CHF", kind="standard", due_date=None,
                               balance_due=Decimal("0.50"))  # fmt: skip
    due_in = {-400: "100.00", -92: "20.00", -91: "3.00", -90: "4.00", -1: "5.00", 0: "6.00", 90: "7.00",
              91: "8.00", 92: "9.00", 700: "10.00"}  # fmt: skip
    for invoice_id, (days, amount) in enumerate(due_in.items(), start=2):
        OpenInvoice.objects.create(invoice_id=invoice_id, company=company_a, currency="CHF", kind="standard",
                                   due_date=TODAY + timedelta(days=days), balance_due=Decimal(amount))  # fmt: skip

    invoices = open_invoices([company_a.pk], TODAY)

    def expected(first: int | None, last: int | None) -> Decimal:
        return sum((Decimal(amount) for days, amount in due_in.items()
                    if (first is None or days >= first) and (last is None or days <= last)), Decimal(0))  # fmt: skip

    # Every range the cards ask: the whole, overdue, the forecast's horizons, the ageing buckets.
    asked = [(None, None), (None, -1), *((None, days) for days in FORECAST_HORIZONS)]
    asked += [((first - TODAY).days if first else None, (last - TODAY).days if last else None)
              for first, last in (_bucket_dates(bucket, TODAY) for bucket in AGEING_BUCKETS)]  # fmt: skip
    assert {(-90, -61), (None, -91), (0, None)} <= set(asked)
    for first, last in asked:
        shown = invoices.between(
            TODAY + timedelta(days=first) if first is not None else None,
            TODAY + timedelta(days=last) if last is not None else None,
        )
        undated = Decimal("0.50") if (first, last) == (None, None) else Decimal(0)
        assert shown.get("CHF", {"amount": Decimal(0)})["amount"] == expected(first, last) + undated, (first, last)
    assert invoices.between(last=TODAY - timedelta(days=91)) == {"CHF": {"amount": Decimal("123.00"), "count": 3}}
