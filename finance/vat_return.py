"""The Swiss VAT return (ESTV form) of a company and period, computed from the documents: reads only.

Effective method: total consideration (200), deductions by code (220 exports and supplies abroad, 230 supplies
excluded from the tax, 235 reductions — the credit notes of the period), taxable turnover per rate with its tax
(303/313/343 for 8.1/2.6/3.8 %, 302/312/342 for the rates before 2024), input tax on material and services (400)
and on investments and other operating costs (405), and the tax payable (500) or the credit (510).
Net tax rate method: the consideration including VAT per approved net rate (322/332) and the tax due.

Agreed basis: invoices and supplier invoices by their dates. Received basis: the payments received in the
period, each split over its invoice's rates, and supplier invoices by their payment date. Credit notes reduce
the period they are issued in, on either basis. Every figure keeps the documents behind it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from finance.models import Company, FxRate, Invoice, PaymentAllocation, SupplierInvoice, VatRate, VatReturn
from finance.vat import HUNDRED, line_of, quantize_chf

ZERO = Decimal("0.00")
# The ESTV form's codes for each rate: since 2024, and for supplies before.
TAX_CODES = {
    Decimal("8.10"): "303", Decimal("2.60"): "313", Decimal("3.80"): "343",
    Decimal("7.70"): "302", Decimal("2.50"): "312", Decimal("3.70"): "342",
}  # fmt: skip
NET_RATE_CODES = ("322", "332")
LABELS = {
    "200": gettext_lazy("Total consideration"),
    "220": gettext_lazy("Exports and supplies abroad (tax-free)"),
    "230": gettext_lazy("Supplies excluded from the tax"),
    "235": gettext_lazy("Reductions of consideration (credit notes)"),
    "289": gettext_lazy("Total deductions"),
    "299": gettext_lazy("Taxable turnover"),
    "399": gettext_lazy("Total tax"),
    "400": gettext_lazy("Input tax on material and services"),
    "405": gettext_lazy("Input tax on investments and other operating costs"),
    "479": gettext_lazy("Total input tax"),
    "500": gettext_lazy("Tax payable"),
    "510": gettext_lazy("Credit in favour of the company"),
}
SALES_STATUSES = (Invoice.Status.ISSUED, Invoice.Status.PARTIALLY_PAID, Invoice.Status.PAID)
PURCHASE_STATUSES = (SupplierInvoice.Status.APPROVED, SupplierInvoice.Status.SCHEDULED, SupplierInvoice.Status.PAID)


@dataclass
class Source:
    """A document behind a figure, with the share of the figure it brings."""

    document: Invoice | SupplierInvoice
    date: dt.date
    amount: Decimal
    tax: Decimal = ZERO


@dataclass
class Figure:
    code: str
    label: str
    amount: Decimal = ZERO
    rate: Decimal | None = None
    tax: Decimal | None = None
    sources: list[Source] = field(default_factory=list)

    def add(self, source: Source) -> None:
        self.amount += source.amount
        self.sources.append(source)


@dataclass
class VatReturnFigures:
    company: Company
    start: dt.date
    end: dt.date
    method: str
    basis: str
    figures: dict[str, Figure]
    filed: VatReturn | None = None

    @property
    def payable(self) -> Decimal:
        """The tax to pay (500), or minus the credit (510)."""
        if "510" in self.figures:
            return -self.figures["510"].amount
        return self.figures["500"].amount

    def ordered(self) -> list[Figure]:
        return sorted(self.figures.values(), key=lambda figure: figure.code)


# --- Periods ------------------------------------------------------------------------------------------


def periods_of_year(company: Company, year: int) -> list[tuple[dt.date, dt.date]]:
    months = 3 if company.vat_period == Company.VatPeriod.QUARTER else 6
    starts = [dt.date(year, month, 1) for month in range(1, 13, months)]
    return [(start, _month_end(start, months)) for start in starts]


def period_containing(company: Company, day: dt.date) -> tuple[dt.date, dt.date]:
    return next(period for period in periods_of_year(company, day.year) if period[0] <= day <= period[1])


def _month_end(start: dt.date, months: int) -> dt.date:
    year, month = divmod(start.month - 1 + months, 12)
    return dt.date(start.year + year, month + 1, 1) - dt.timedelta(days=1)


def period_label(company: Company, start: dt.date) -> str:
    if company.vat_period == Company.VatPeriod.QUARTER:
        return _("Q%(quarter)s %(year)s") % {"quarter": (start.month - 1) // 3 + 1, "year": start.year}
    return _("S%(half)s %(year)s") % {"half": (start.month - 1) // 6 + 1, "year": start.year}


# --- Turnover -------------------------------------------------------------------------------------------


def _invoices(company: Company, start: dt.date, end: dt.date, *, credit_notes: bool):
    kinds = Q(kind=Invoice.Kind.CREDIT_NOTE) if credit_notes else ~Q(kind=Invoice.Kind.CREDIT_NOTE)
    return (Invoice.objects.filter(kinds, company=company, status__in=SALES_STATUSES, issue_date__range=(start, end))
            .select_related("client", "quote").prefetch_related("lines").order_by("issue_date", "number"))  # fmt: skip


def _line_bases(invoice: Invoice, *, gross: bool) -> dict[Decimal, Decimal]:
    """The invoice's consideration per VAT rate, net (effective method) or with its VAT (net tax rate method)."""
    bases: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for line in invoice.lines.all():
        arithmetic = line_of(line)
        bases[line.vat_rate] += arithmetic.net + (arithmetic.vat if gross else ZERO)
    return bases


def _received_shares(company: Company, start: dt.date, end: dt.date) -> list[tuple[Invoice, dt.date, Decimal]]:
    """Each payment allocation received in the period: its invoice, date and share of the invoice's total."""
    allocations = PaymentAllocation.objects.filter(
        invoice__company=company, payment__received_on__range=(start, end), payment__undone_at__isnull=True,
    ).exclude(invoice__kind=Invoice.Kind.CREDIT_NOTE)  # fmt: skip
    allocations = allocations.select_related("invoice__client", "invoice__quote", "payment")
    shares = []
    for allocation in allocations.prefetch_related("invoice__lines").order_by("payment__received_on", "pk"):
        invoice = allocation.invoice
        if invoice.payable_total > ZERO:
            shares.append((invoice, allocation.payment.received_on, allocation.amount / invoice.payable_total))
    return shares


def _turnover(company: Company, start: dt.date, end: dt.date, *, gross: bool):
    """(invoice, date, {rate: amount}) for each consideration of the period, as the company's basis counts it."""
    if company.vat_basis == Company.VatBasis.RECEIVED:
        for invoice, day, share in _received_shares(company, start, end):
            yield invoice, day, {rate: quantize_chf(amount * share) for rate, amount in
                                 _line_bases(invoice, gross=gross).items()}  # fmt: skip
        return
    for invoice in _invoices(company, start, end, credit_notes=False):
        yield invoice, invoice.issue_date, _line_bases(invoice, gross=gross)


# --- Francs -------------------------------------------------------------------------------------------------


class Francs:
    """Amounts in another currency turned into CHF, as the ESTV wants them, at the bank's rate of their day (the
    latest stored on or before it); a day without any rate leaves the document out, and the check list says so."""

    def __init__(self) -> None:
        self.rates: dict[tuple[str, dt.date], Decimal | None] = {}

    def rate(self, currency: str, day: dt.date) -> Decimal | None:
        if currency == "CHF":
            return Decimal(1)
        if (currency, day) not in self.rates:
            found = (FxRate.objects.filter(currency=currency, quote_currency="CHF", rate_date__lte=day)
                     .order_by("-rate_date", "-fetched_at").first())  # fmt: skip
            self.rates[currency, day] = found.rate if found else None
        return self.rates[currency, day]

    def convert(self, amounts: dict[Decimal, Decimal], currency: str, day: dt.date) -> dict[Decimal, Decimal] | None:
        rate = self.rate(currency, day)
        if rate is None:
            return None
        return {key: quantize_chf(value * rate) for key, value in amounts.items()}


# --- The return ------------------------------------------------------------------------------------------


def vat_return_compute(*, company: Company, start: dt.date, end: dt.date) -> VatReturnFigures:
    """The VAT return's figures as the documents give them now."""
    figures: dict[str, Figure] = {code: Figure(code, str(LABELS[code])) for code in
                                  ("200", "220", "230", "235", "289", "299", "399")}  # fmt: skip
    net_rate = company.vat_method == Company.VatMethod.NET_RATE
    rows: dict[str, Figure] = {}

    def taxable(code: str, rate: Decimal, label: str) -> Figure:
        if code not in rows:
            rows[code] = Figure(code, label, rate=rate, tax=ZERO)
        return rows[code]

    def row_of(invoice: Invoice, rate: Decimal) -> Figure:
        if net_rate:
            code, rate_of = _net_rate_of(company, invoice)
            return taxable(code, rate_of, _("Net tax rate %(rate)s %%") % {"rate": _percent(rate_of)})
        return taxable(TAX_CODES.get(rate, f"3x{rate}"), rate, _("Taxable at %(rate)s %%") % {"rate": _percent(rate)})

    francs = Francs()
    for invoice, day, own_currency in _turnover(company, start, end, gross=net_rate):
        bases = francs.convert(own_currency, invoice.currency, day)
        for rate, amount in (bases or {}).items():
            figures["200"].add(Source(invoice, day, amount))
            if rate == ZERO:
                figures[_exempt_box(invoice)].add(Source(invoice, day, amount))
            else:
                row_of(invoice, rate).add(Source(invoice, day, amount))
    for note in _invoices(company, start, end, credit_notes=True):
        bases = francs.convert(_line_bases(note, gross=net_rate), note.currency, note.issue_date)
        for rate, amount in (bases or {}).items():
            # Every credit note is a reduction (235); it takes its share out of the box its supply was counted in.
            figures["235"].add(Source(note, note.issue_date, amount))
            box = figures[_exempt_box(note)] if rate == ZERO else row_of(note, rate)
            box.add(Source(note, note.issue_date, -amount))
    figures["289"].amount = sum((figures[code].amount for code in ("220", "230", "235")), ZERO)
    figures["299"].amount = figures["200"].amount - figures["289"].amount
    for row in rows.values():
        row.tax = quantize_chf(row.amount * row.rate / HUNDRED)
        figures[row.code] = row
    figures["399"].amount = sum((row.tax for row in rows.values()), ZERO)
    total_tax = figures["399"].amount
    if not net_rate:
        _input_tax(company, start, end, figures, francs)
        total_tax -= figures["479"].amount
    if total_tax >= ZERO:
        figures["500"] = Figure("500", str(LABELS["500"]), total_tax)
    else:
        figures["510"] = Figure("510", str(LABELS["510"]), -total_tax)
    filed = VatReturn.objects.filter(company=company, period_start=start).first()
    return VatReturnFigures(company, start, end, company.vat_method, company.vat_basis, figures, filed)


def _input_tax(company: Company, start: dt.date, end: dt.date, figures: dict[str, Figure], francs: Francs) -> None:
    """400/405: the recoverable VAT of the period's supplier invoices (by invoice date, or by payment date)."""
    for code in ("400", "405", "479"):
        figures[code] = Figure(code, str(LABELS[code]))
    invoices = SupplierInvoice.objects.filter(company=company, status__in=PURCHASE_STATUSES)
    if company.vat_basis == Company.VatBasis.RECEIVED:
        invoices = invoices.filter(status=SupplierInvoice.Status.PAID, paid_on__range=(start, end))
    else:
        invoices = invoices.filter(invoice_date__range=(start, end))
    for invoice in invoices.prefetch_related("lines").select_related("supplier").order_by("invoice_date", "pk"):
        day = invoice.paid_on if company.vat_basis == Company.VatBasis.RECEIVED else invoice.invoice_date
        rate = francs.rate(invoice.currency, invoice.invoice_date)
        for line in invoice.lines.all():
            if line.input_vat_recoverable and line.vat_amount and rate is not None:
                figures["405" if line.is_investment else "400"].add(
                    Source(invoice, day, quantize_chf(line.vat_amount * rate))
                )
    figures["479"].amount = figures["400"].amount + figures["405"].amount


def _exempt_box(invoice: Invoice) -> str:
    """A supply without VAT: tax-free abroad (220), else excluded from the tax (230)."""
    return "220" if invoice.client.country != "CH" else "230"


def _net_rate_of(company: Company, invoice: Invoice) -> tuple[str, Decimal]:
    """The approved net tax rate of an invoice's activity: the second for its chosen project types."""
    project_type = invoice.quote.project_type if invoice.quote_id else ""
    if company.net_tax_rate_2 and project_type in company.net_tax_rate_2_project_types:
        return NET_RATE_CODES[1], company.net_tax_rate_2
    return NET_RATE_CODES[0], company.net_tax_rate_1


def _percent(rate: Decimal) -> str:
    return f"{rate.normalize():f}"


# --- What to check before filing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckItem:
    text: str
    documents: list


def vat_return_checks(*, company: Company, start: dt.date, end: dt.date) -> list[CheckItem]:
    """What makes the figures incomplete or doubtful: drafts dated in the period, supplier invoices without VAT
    lines or not yet approved, rates not in force in the period."""
    checks = []
    in_period = Q(supply_from__range=(start, end)) | Q(supply_from__isnull=True, created_at__date__range=(start, end))
    drafts = list(Invoice.objects.filter(in_period, company=company, status=Invoice.Status.DRAFT).order_by("pk"))
    if drafts:
        checks.append(CheckItem(_("Invoices still draft for supplies in the period"), drafts))
    waiting = list(SupplierInvoice.objects.filter(
        company=company, invoice_date__range=(start, end),
        status__in=[SupplierInvoice.Status.DRAFT, SupplierInvoice.Status.TO_APPROVE],
    ).order_by("invoice_date"))  # fmt: skip
    if waiting:
        checks.append(CheckItem(_("Supplier invoices of the period not approved yet (their input tax is left out)"),
                                waiting))  # fmt: skip
    bare = list(SupplierInvoice.objects.filter(company=company, invoice_date__range=(start, end), lines__isnull=True)
                .exclude(status=SupplierInvoice.Status.REJECTED).order_by("invoice_date"))  # fmt: skip
    if bare:
        checks.append(CheckItem(_("Supplier invoices without VAT lines"), bare))
    francs = Francs()
    unconverted = [invoice for invoice in Invoice.objects.filter(
        company=company, status__in=SALES_STATUSES, issue_date__range=(start, end)).exclude(currency="CHF")
        if francs.rate(invoice.currency, invoice.issue_date) is None]  # fmt: skip
    if unconverted:
        checks.append(CheckItem(_("Invoices in another currency without an exchange rate to CHF (left out)"),
                                unconverted))  # fmt: skip
    rates = list(VatRate.objects.all())

    def expected(code: str, day: dt.date) -> Decimal | None:
        return next((r.rate for r in rates if r.code == code and r.valid_from <= day
                     and (r.valid_to is None or r.valid_to >= day)), None)  # fmt: skip

    odd = [invoice for invoice in _invoices(company, start, end, credit_notes=False) if any(
        not line.corrects_deposit and line.vat_rate != expected(line.vat_code, invoice.vat_date)
        for line in invoice.lines.all())]  # fmt: skip
    if odd:
        checks.append(CheckItem(_("Invoices whose VAT rate is not the one in force on their supply date"), odd))
    return checks


def filed_period_of(company: Company, day: dt.date) -> VatReturn | None:
    return VatReturn.objects.filter(company=company, period_start__lte=day, period_end__gte=day).first()


def vat_return_table(result: VatReturnFigures) -> tuple[list[str], list[list]]:
    """The form's figures as a table (CSV, XLSX): code, label, amount, rate, tax, in CHF."""
    header = [_("Code"), _("Figure"), _("Amount CHF"), _("Rate %"), _("Tax CHF")]
    return header, [[figure.code, figure.label, figure.amount, figure.rate, figure.tax] for figure in result.ordered()]
