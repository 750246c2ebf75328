"""Swiss VAT arithmetic: pure functions on Decimal. Every rounding of money goes through here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q
from django.utils.translation import gettext as _

from finance.models import Invoice, Quote, VatRate

CENTIME = Decimal("0.01")
FIVE_CENTIMES = Decimal("0.05")
HUNDRED = Decimal("100")


class VatRateMissing(LookupError):
    """No rate of that code is in force on that date."""


def quantize_chf(amount: Decimal) -> Decimal:
    """Round an amount to the centime, half away from zero (commercial rounding)."""
    return amount.quantize(CENTIME, rounding=ROUND_HALF_UP)


def round_to_five_centimes(amount: Decimal) -> Decimal:
    """Round a payable amount to the nearest 0.05, half away from zero."""
    return ((amount / FIVE_CENTIMES).quantize(Decimal("1"), rounding=ROUND_HALF_UP) * FIVE_CENTIMES).quantize(CENTIME)


def vat_rate_on(*, code: str, on: date) -> VatRate:
    """Return the rate of a VAT code in force on a date."""
    rate = (
        VatRate.objects.filter(code=code, valid_from__lte=on)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=on))
        .order_by("-valid_from")
        .first()
    )
    if rate is None:
        raise VatRateMissing(_("No %(code)s VAT rate is in force on %(date)s.") % {"code": code, "date": on})
    return rate


@dataclass(frozen=True)
class Line:
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    discount_percent: Decimal = Decimal("0")

    @property
    def net(self) -> Decimal:
        gross_before_discount = self.quantity * self.unit_price
        return quantize_chf(gross_before_discount * (HUNDRED - self.discount_percent) / HUNDRED)

    @property
    def vat(self) -> Decimal:
        return quantize_chf(self.net * self.vat_rate / HUNDRED)


def line_of(document_line) -> Line:
    """The arithmetic view of a stored quote or invoice line (anything with these four fields)."""
    return Line(
        quantity=document_line.quantity,
        unit_price=document_line.unit_price,
        vat_rate=document_line.vat_rate,
        discount_percent=document_line.discount_percent,
    )


@dataclass(frozen=True)
class VatSummaryRow:
    rate: Decimal
    base: Decimal
    vat: Decimal


@dataclass(frozen=True)
class Totals:
    net: Decimal
    vat_rows: tuple[VatSummaryRow, ...]
    vat: Decimal
    gross: Decimal
    rounding: Decimal
    payable: Decimal


def document_totals(lines: Iterable[Line], *, rounds_to_five_centimes: bool) -> Totals:
    """Total a document: VAT per line, summed per rate; the payable gross rounded to 0.05 if asked."""
    bases: dict[Decimal, Decimal] = {}
    taxes: dict[Decimal, Decimal] = {}
    for line in lines:
        bases[line.vat_rate] = bases.get(line.vat_rate, Decimal("0.00")) + line.net
        taxes[line.vat_rate] = taxes.get(line.vat_rate, Decimal("0.00")) + line.vat
    rows = tuple(VatSummaryRow(rate=rate, base=bases[rate], vat=taxes[rate]) for rate in sorted(bases, reverse=True))
    net = sum((row.base for row in rows), Decimal("0.00"))
    vat = sum((row.vat for row in rows), Decimal("0.00"))
    gross = net + vat
    payable = round_to_five_centimes(gross) if rounds_to_five_centimes else gross
    return Totals(net=net, vat_rows=rows, vat=vat, gross=gross, rounding=payable - gross, payable=payable)


def rounds_to_five_centimes(company, currency: str) -> bool:
    """Swiss cash rounding applies to francs only, for the companies that opt in; euros stay to the cent."""
    return company.rounds_to_five_centimes and currency == "CHF"


def document_lines_totals(document: Quote | Invoice) -> Totals:
    lines = [line_of(line) for line in document.lines.all()]
    return document_totals(lines, rounds_to_five_centimes=rounds_to_five_centimes(document.company, document.currency))
