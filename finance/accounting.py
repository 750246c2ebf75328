"""The accountant's view of a period: the journal (one booking per invoice, credit note, payment, supplier invoice
and payout, on the company's account map) and the open items at the period's end. Reads only.

Bookings follow the Swiss SME chart: an invoice debits the debtors with its payable total and credits sales
(net and rounding) and the VAT owed; a credit note the reverse; a payment received debits the bank and credits
the debtors; a supplier invoice debits purchases (with the VAT that cannot be recovered) and input VAT, and
credits the creditors; its payout debits the creditors and credits the bank.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Q, Sum
from django.utils.translation import gettext as _

from finance.models import AccountMap, Company, Invoice, Payment, SupplierInvoice

ZERO = Decimal("0.00")
ISSUED = (Invoice.Status.ISSUED, Invoice.Status.PARTIALLY_PAID, Invoice.Status.PAID)
BOOKED_PURCHASES = (SupplierInvoice.Status.APPROVED, SupplierInvoice.Status.SCHEDULED, SupplierInvoice.Status.PAID)


@dataclass
class Booking:
    """One journal entry: its date, document number, text, and lines as (account, debit, credit)."""

    date: dt.date
    reference: str
    text: str
    currency: str
    lines: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)

    def debit(self, account: str, amount: Decimal) -> None:
        if amount:
            self.lines.append((account, amount, ZERO) if amount > 0 else (account, ZERO, -amount))

    def credit(self, account: str, amount: Decimal) -> None:
        self.debit(account, -amount)

    @property
    def balanced(self) -> bool:
        return sum(line[1] for line in self.lines) == sum(line[2] for line in self.lines)


def account_map_of(company: Company) -> AccountMap:
    """The company's accounts, or the Swiss SME chart's until finance changes them."""
    return AccountMap.objects.filter(company=company).first() or AccountMap(company=company)


def journal(*, company: Company, start: dt.date, end: dt.date) -> list[Booking]:
    accounts = account_map_of(company)
    bookings = []
    invoices = Invoice.objects.filter(company=company, status__in=ISSUED, issue_date__range=(start, end))
    for invoice in invoices.select_related("client").order_by("issue_date", "number"):
        booking = Booking(invoice.issue_date, invoice.number, f"{invoice.client.name} · {invoice.title}"[:200],
                          invoice.currency)  # fmt: skip
        sign = -1 if invoice.kind == Invoice.Kind.CREDIT_NOTE else 1
        booking.debit(accounts.debtors, sign * invoice.payable_total)
        booking.credit(accounts.sales, sign * (invoice.net_total + invoice.rounding))
        booking.credit(accounts.vat_owed, sign * invoice.vat_total)
        bookings.append(booking)
    payments = Payment.objects.filter(company=company, received_on__range=(start, end), undone_at__isnull=True)
    for payment in payments.select_related("client").order_by("received_on", "pk"):
        booking = Booking(payment.received_on, payment.reference or f"P-{payment.pk}",
                          _("Payment from %(client)s") % {"client": payment.client.name}, payment.currency)  # fmt: skip
        booking.debit(accounts.bank, payment.amount)
        booking.credit(accounts.debtors, payment.amount)
        bookings.append(booking)
    purchases = SupplierInvoice.objects.filter(company=company, status__in=BOOKED_PURCHASES,
                                               invoice_date__range=(start, end))  # fmt: skip
    for invoice in purchases.select_related("supplier").prefetch_related("lines").order_by("invoice_date", "pk"):
        booking = Booking(invoice.invoice_date, invoice.supplier_number, invoice.supplier.name[:200], invoice.currency)
        for line in invoice.lines.all():
            recoverable = line.vat_amount if line.input_vat_recoverable else ZERO
            booking.debit(accounts.purchases, line.net_amount + line.vat_amount - recoverable)
            booking.debit(accounts.input_vat_investments if line.is_investment else accounts.input_vat_material,
                          recoverable)  # fmt: skip
        booking.credit(accounts.creditors, invoice.gross_total)
        bookings.append(booking)
    payouts = SupplierInvoice.objects.filter(company=company, status=SupplierInvoice.Status.PAID,
                                             paid_on__range=(start, end))  # fmt: skip
    for invoice in payouts.select_related("supplier").order_by("paid_on", "pk"):
        text = _("Payout to %(supplier)s") % {"supplier": invoice.supplier.name}
        booking = Booking(invoice.paid_on, invoice.supplier_number, text, invoice.currency)
        booking.debit(accounts.creditors, invoice.gross_total)
        booking.credit(accounts.bank, invoice.gross_total)
        bookings.append(booking)
    return sorted(bookings, key=lambda booking: (booking.date, booking.reference))


def journal_balanced(bookings: list[Booking]) -> list[Booking]:
    """The journal, or a ValidationError naming every entry whose debits and credits differ."""
    unbalanced = [booking for booking in bookings if not booking.balanced]
    if unbalanced:
        raise ValidationError(_("The journal does not balance: %(entries)s.") % {"entries": ", ".join(
            f"{booking.reference} ({booking.date:%d.%m.%Y})" for booking in unbalanced)})  # fmt: skip
    return bookings


def account_movement(bookings: list[Booking], account: str) -> Decimal:
    """Credits minus debits of one account over the bookings."""
    return sum((line[2] - line[1] for booking in bookings for line in booking.lines if line[0] == account), ZERO)


@dataclass(frozen=True)
class OpenItem:
    reference: str
    party: str
    date: dt.date
    due_date: dt.date | None
    currency: str
    total: Decimal
    open_amount: Decimal


def open_debtors(*, company: Company, on: dt.date) -> list[OpenItem]:
    """Invoices issued by that day and not settled by it (payments received and credit notes issued by then)."""
    items = []
    invoices = (Invoice.objects.filter(company=company, issue_date__lte=on).exclude(kind=Invoice.Kind.CREDIT_NOTE)
                .exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.CANCELLED]).select_related("client")
                .annotate(paid=Sum("allocations__amount", filter=Q(allocations__payment__received_on__lte=on,
                                                                   allocations__payment__undone_at__isnull=True)))
                .order_by("issue_date", "number"))  # fmt: skip
    credited = dict(Invoice.objects.filter(company=company, kind=Invoice.Kind.CREDIT_NOTE, issue_date__lte=on)
                    .exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.CANCELLED])
                    .values_list("credited_invoice_id").annotate(total=Sum("payable_total")))  # fmt: skip
    for invoice in invoices:
        open_amount = invoice.payable_total - (invoice.paid or ZERO) - credited.get(invoice.pk, ZERO)
        if open_amount > ZERO:
            items.append(OpenItem(invoice.number, invoice.client.name, invoice.issue_date, invoice.due_date,
                                  invoice.currency, invoice.payable_total, open_amount))  # fmt: skip
    return items


def open_creditors(*, company: Company, on: dt.date) -> list[OpenItem]:
    """Supplier invoices booked by that day and not paid by it."""
    invoices = (SupplierInvoice.objects.filter(company=company, status__in=BOOKED_PURCHASES, invoice_date__lte=on)
                .filter(Q(paid_on__isnull=True) | Q(paid_on__gt=on)).select_related("supplier")
                .order_by("due_date", "pk"))  # fmt: skip
    return [OpenItem(invoice.supplier_number, invoice.supplier.name, invoice.invoice_date, invoice.due_date,
                     invoice.currency, invoice.gross_total, invoice.gross_total) for invoice in invoices]  # fmt: skip
