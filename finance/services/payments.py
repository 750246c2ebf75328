"""Payments received: allocated to invoices, the rest kept as the client's credit; undo restores all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.db.models.functions import Now
from django.utils.translation import gettext as _

from finance import events, selectors
from finance.models import Client, Company, Invoice, Payment, PaymentAllocation
from finance.services.audit import audit_record, audit_records, audit_row
from finance.services.documents import invoice_status_refresh, invoices_status_refresh
from hypervisual.bulk import rows_insert

ZERO = Decimal("0.00")
# Saved rows the caller holds: validated by PostgreSQL's foreign keys rather than one query each.
PAYMENT_RELATIONS = ["company", "client", "created_by"]


@dataclass(frozen=True)
class PaymentEntry:
    """Money one client paid, and how much of it settles which of its invoices (the rest stays as credit)."""

    client: Client
    received_on: date
    amount: Decimal
    method: str
    reference: str
    allocations: list[tuple[Invoice, Decimal]]
    currency: str | None = None  # by default the company's
    invoice_ninja_id: str = ""


def payment_record(
    *, client: Client, received_on: date, amount: Decimal, method: str, reference: str,
    allocations: list[tuple[Invoice, Decimal]], recorded_by: AbstractBaseUser, currency: str | None = None,
    invoice_ninja_id: str = "",
) -> Payment:  # fmt: skip
    """Record money received and settle invoices with it; what is not allocated stays as credit.

    The payment is in `currency` (by default the company's); it settles only invoices in that currency.
    Receivers of `payments_recorded` follow it up (Invoice Ninja records it too, unless it came from there).
    """
    entry = PaymentEntry(client=client, received_on=received_on, amount=amount, method=method, reference=reference,
                         allocations=allocations, currency=currency, invoice_ninja_id=invoice_ninja_id)  # fmt: skip
    return payments_record([entry], recorded_by=recorded_by)[0]


@transaction.atomic
def payments_record(entries: list[PaymentEntry], *, recorded_by: AbstractBaseUser) -> list[Payment]:
    """`payment_record` for many payments at once (a bank statement), in queries that do not grow with them.

    They settle their invoices in their order: an invoice two of them pay owes the second what the first left.
    Nothing is recorded if one of them is refused.
    """
    invoices = {invoice.pk: invoice for invoice in selectors.invoices_locked_with_balances(
        invoice.pk for entry in entries for invoice, _share in entry.allocations
    )}  # fmt: skip
    # Read once: a statement's clients are distinct rows, each would read its company again.
    companies = Company.objects.in_bulk({entry.client.company_id for entry in entries})
    still_due = {pk: invoice.balance_due for pk, invoice in invoices.items()}
    currencies = [entry.currency or companies[entry.client.company_id].currency for entry in entries]
    errors = []
    for entry, currency in zip(entries, currencies, strict=True):
        errors += _allocation_errors(entry, currency=currency, invoices=invoices, still_due=still_due)
    if errors:
        raise ValidationError(errors)
    payments = [
        Payment(
            company=companies[entry.client.company_id],
            client=entry.client,
            received_on=entry.received_on,
            amount=entry.amount,
            currency=currency,
            method=entry.method,
            reference=entry.reference,
            created_by=recorded_by,
            invoice_ninja_id=entry.invoice_ninja_id,
        )
        for entry, currency in zip(entries, currencies, strict=True)
    ]
    _payments_insert(payments)
    rows_insert([
        PaymentAllocation(payment=payment, invoice=invoices[invoice.pk], amount=share)
        for payment, entry in zip(payments, entries, strict=True)
        for invoice, share in entry.allocations
    ])  # fmt: skip
    invoices_status_refresh(invoices=invoices.values(), actor=recorded_by)
    audit_records(
        audit_row(
            actor=recorded_by,
            company=payment.company,
            action="payment.recorded",
            target=payment,
            changes={
                "amount": str(payment.amount),
                "allocated": {invoices[invoice.pk].number: str(share) for invoice, share in entry.allocations},
            },
        )
        for payment, entry in zip(payments, entries, strict=True)
    )
    events.payments_recorded.send(sender=Payment, payments=payments, actor=recorded_by)
    return payments


def _allocation_errors(
    entry: PaymentEntry, *, currency: str, invoices: dict[int, Invoice], still_due: dict[int, Decimal]
) -> list:
    """What refuses the entry's allocations; what they take is no longer due for the entries after it."""
    errors = []
    for invoice, share in entry.allocations:
        locked = invoices[invoice.pk]
        if locked.client_id != entry.client.pk:
            errors.append(_("%(number)s is another client's invoice.") % {"number": locked.number})
            continue
        if locked.currency != currency:
            errors.append(
                _("%(number)s is in %(invoice_currency)s, the payment in %(currency)s.")
                % {"number": locked.number, "invoice_currency": locked.currency, "currency": currency}
            )
            continue
        if share <= ZERO or share > still_due[locked.pk]:
            errors.append(
                _("%(number)s: allocate more than 0 and at most its balance due of %(due)s.")
                % {"number": locked.number, "due": still_due[locked.pk]}
            )
            continue
        still_due[locked.pk] -= share
    if sum((share for _, share in entry.allocations), ZERO) > entry.amount:
        errors.append(_("The allocations add up to more than the payment."))
    return errors


def _payments_insert(payments: list[Payment]) -> None:
    """Insert the payments in one statement, PostgreSQL checking their rules (checks, uniqueness, references).

    Each payment's fields are checked first, as `full_clean` does without a query; should the database refuse the
    rows, each payment is validated in full to say which rule it breaks.
    """
    for payment in payments:
        payment.full_clean(exclude=PAYMENT_RELATIONS, validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            rows_insert(payments)
    except IntegrityError:
        for payment in payments:
            payment.full_clean()
        raise


@transaction.atomic
def payment_undo(*, payment: Payment, undone_by: AbstractBaseUser) -> Payment:
    """Take a payment back (entered by mistake): its invoices owe again what it settled."""
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.undone_at is not None:
        raise ValidationError(_("This payment was already undone."), code="undone")
    payment.undone_at, payment.undone_by = Now(), undone_by
    payment.save(update_fields=["undone_at", "undone_by"])
    for allocation in payment.allocations.select_related("invoice"):
        invoice_status_refresh(invoice=allocation.invoice)
    audit_record(actor=undone_by, company=payment.company, action="payment.undone", target=payment)
    return payment


def client_credit(*, client: Client, currency: str | None = None) -> Decimal:
    """What the client paid beyond the invoices it settled (over-payments), still to be used or refunded.

    Counted in one currency (by default the company's): francs and euros are never added together.
    """
    payments = Payment.objects.filter(
        client=client, undone_at__isnull=True, currency=currency or client.company.currency
    )
    received = payments.aggregate(total=Sum("amount"))["total"] or ZERO
    allocated = PaymentAllocation.objects.filter(payment__in=payments).aggregate(total=Sum("amount"))["total"] or ZERO
    return received - allocated
