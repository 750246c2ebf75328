"""Payments received: allocated to invoices, the rest kept as the client's credit; undo restores all."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Now
from django.utils.translation import gettext as _

from finance import events
from finance.models import Client, Invoice, Payment, PaymentAllocation
from finance.services.audit import audit_record
from finance.services.documents import invoice_balance_due, invoice_status_refresh

ZERO = Decimal("0.00")


@transaction.atomic
def payment_record(
    *, client: Client, received_on: date, amount: Decimal, method: str, reference: str,
    allocations: list[tuple[Invoice, Decimal]], recorded_by: AbstractBaseUser, currency: str | None = None,
    invoice_ninja_id: str = "",
) -> Payment:  # fmt: skip
    """Record money received and settle invoices with it; what is not allocated stays as credit.

    The payment is in `currency` (by default the company's); it settles only invoices in that currency.
    Receivers of `payment_recorded` follow it up (Invoice Ninja records it too, unless it came from there).
    """
    currency = currency or client.company.currency
    invoices = {
        invoice.pk: invoice
        for invoice in Invoice.objects.select_for_update().filter(pk__in=[invoice.pk for invoice, _ in allocations])
    }
    errors = []
    for invoice, share in allocations:
        locked = invoices[invoice.pk]
        if locked.client_id != client.pk:
            errors.append(_("%(number)s is another client's invoice.") % {"number": locked.number})
            continue
        if locked.currency != currency:
            errors.append(
                _("%(number)s is in %(invoice_currency)s, the payment in %(currency)s.")
                % {"number": locked.number, "invoice_currency": locked.currency, "currency": currency}
            )
            continue
        due = invoice_balance_due(locked)
        if share <= ZERO or share > due:
            errors.append(
                _("%(number)s: allocate more than 0 and at most its balance due of %(due)s.")
                % {"number": locked.number, "due": due}
            )
    if sum((share for _, share in allocations), ZERO) > amount:
        errors.append(_("The allocations add up to more than the payment."))
    if errors:
        raise ValidationError(errors)
    payment = Payment(
        company=client.company, client=client, received_on=received_on, amount=amount, currency=currency,
        method=method, reference=reference, created_by=recorded_by, invoice_ninja_id=invoice_ninja_id,
    )  # fmt: skip
    payment.full_clean()
    payment.save()
    for invoice, share in allocations:
        PaymentAllocation.objects.create(payment=payment, invoice=invoices[invoice.pk], amount=share)
        invoice_status_refresh(invoice=invoices[invoice.pk], actor=recorded_by)
    audit_record(
        actor=recorded_by, company=client.company, action="payment.recorded", target=payment,
        changes={"amount": str(amount), "allocated": {invoices[i.pk].number: str(s) for i, s in allocations}},
    )  # fmt: skip
    events.payment_recorded.send(sender=Payment, payment=payment, actor=recorded_by)
    return payment


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
