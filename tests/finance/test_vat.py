from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from finance.vat import (
    Line,
    VatRateMissing,
    document_totals,
    quantize_chf,
    round_to_five_centimes,
    vat_rate_on,
)


@pytest.mark.parametrize(
    ("amount", "rounded"),
    [("10.005", "10.01"), ("10.004", "10.00"), ("-10.005", "-10.01"), ("0.125", "0.13")],
)
def test_amounts_round_to_the_centime_half_away_from_zero(amount, rounded):
    assert quantize_chf(Decimal(amount)) == Decimal(rounded)


@pytest.mark.parametrize(
    ("amount", "rounded"),
    [("1234.52", "1234.50"), ("1234.53", "1234.55"), ("1234.575", "1234.60"), ("0.02", "0.00"), ("0.025", "0.05")],
)
def test_payable_amounts_round_to_five_centimes(amount, rounded):
    assert round_to_five_centimes(Decimal(amount)) == Decimal(rounded)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "on", "rate"),
    [
        ("standard", date(2023, 12, 31), "7.70"),
        ("standard", date(2024, 1, 1), "8.10"),
        ("reduced", date(2023, 6, 30), "2.50"),
        ("reduced", date(2026, 11, 21), "2.60"),
        ("accommodation", date(2022, 1, 1), "3.70"),
        ("accommodation", date(2024, 1, 1), "3.80"),
        ("exempt", date(2026, 11, 21), "0.00"),
    ],
)
def test_the_rate_is_the_one_in_force_on_the_document_date(code, on, rate):
    assert vat_rate_on(code=code, on=on).rate == Decimal(rate)


@pytest.mark.django_db
def test_a_date_before_the_rate_table_has_no_rate():
    with pytest.raises(VatRateMissing, match="standard"):
        vat_rate_on(code="standard", on=date(2017, 12, 31))


@pytest.mark.django_db
def test_the_rate_table_refuses_impossible_rows_from_any_writer():
    with pytest.raises(IntegrityError, match="vatrate_rate_percent"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("INSERT INTO finance_vatrate (code, rate, valid_from) VALUES ('standard', 120, '2030-01-01')")
    with (
        pytest.raises(IntegrityError, match="vatrate_period_ordered"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute(
            "INSERT INTO finance_vatrate (code, rate, valid_from, valid_to)"
            " VALUES ('reduced', 2, '2030-01-01', '2029-01-01')"
        )


def test_mixed_rate_document_totals_vat_per_line_summed_per_rate():
    lines = [
        Line(quantity=Decimal("3"), unit_price=Decimal("333.33"), vat_rate=Decimal("8.1")),
        Line(
            quantity=Decimal("1.5"),
            unit_price=Decimal("99.90"),
            vat_rate=Decimal("2.6"),
            discount_percent=Decimal("10"),
        ),
        Line(quantity=Decimal("1"), unit_price=Decimal("0.35"), vat_rate=Decimal("8.1")),
    ]

    totals = document_totals(lines, rounds_to_five_centimes=True)

    # 999.99 → 81.00 (80.99919); 0.35 → 0.03 (0.02835); 134.87 (134.865) → 3.51 (3.50662)
    assert [(row.rate, row.base, row.vat) for row in totals.vat_rows] == [
        (Decimal("8.1"), Decimal("1000.34"), Decimal("81.03")),
        (Decimal("2.6"), Decimal("134.87"), Decimal("3.51")),
    ]
    assert (totals.net, totals.vat, totals.gross) == (Decimal("1135.21"), Decimal("84.54"), Decimal("1219.75"))
    assert (totals.rounding, totals.payable) == (Decimal("0.00"), Decimal("1219.75"))


def test_five_centime_rounding_is_shown_as_its_own_difference():
    lines = [Line(quantity=Decimal("1"), unit_price=Decimal("100.02"), vat_rate=Decimal("8.1"))]
    rounded = document_totals(lines, rounds_to_five_centimes=True)
    exact = document_totals(lines, rounds_to_five_centimes=False)
    # 100.02 + 8.10 (8.10162) = 108.12 → 108.10
    assert (rounded.gross, rounded.rounding, rounded.payable) == (
        Decimal("108.12"),
        Decimal("-0.02"),
        Decimal("108.10"),
    )
    assert (exact.rounding, exact.payable) == (Decimal("0.00"), Decimal("108.12"))
