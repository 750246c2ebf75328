"""'Payer via Revolut' (W3): an approved supplier invoice paid through Revolut `/pay`, exactly once.

The outgoing payment is stored with its `request_id` before anything is sent. Revolut deduplicates
`/pay` on it, so a retry, a replayed task or a worker killed mid-call sends the same payment again
and never a second one. Revolut's states (webhook or sync) then move the invoice: completed → paid;
declined, failed or reverted → approved again, with Revolut's reason on the page.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext as _

from finance.models import BankAccount, OutgoingPayment, SupplierInvoice
from finance.models.banking import state_moves_forward
from finance.scope import CompanyScope
from finance.services import purchases
from finance.services.audit import audit_record
from integrations import connections
from integrations.actions import action_handler, action_run_start
from integrations.clients import revolut
from integrations.clients.base import PermanentProviderError
from integrations.models import ActionRun, Provider

PAYOUT_ACTION = "revolut.payout"
# Revolut cuts references longer than this.
REFERENCE_LENGTH = 140
# Revolut's answer (HTTP 400) to a /pay whose request_id it already accepted (business.json, /pay).
DUPLICATE_REQUEST_CODE = 3020


def payout_source_account(invoice: SupplierInvoice) -> BankAccount | None:
    return (
        BankAccount.objects.filter(company=invoice.company, currency=invoice.currency, is_active=True)
        .order_by("-is_payout_source", "name")
        .first()
    )


def payout_refusal(invoice: SupplierInvoice, *, user: AbstractBaseUser, scope: CompanyScope | None = None) -> str:
    """Why `user` cannot pay the invoice via Revolut now, or "" if they can."""
    if invoice.status != SupplierInvoice.Status.APPROVED:
        return _("Only an approved invoice can be paid; this one is %(status)s.") % {
            "status": invoice.get_status_display().lower()
        }
    refusal = purchases.approval_refusal(invoice, user=user, scope=scope)
    if refusal:
        return refusal
    if invoice.approval_fingerprint != purchases.approval_fingerprint(invoice):
        return _("The payment details changed since the approval: it must be approved again.")
    status = connections.connection_status(connections.connection_get(invoice.company, Provider.REVOLUT))
    if not status.usable:
        return _("Revolut is not usable for %(company)s: %(status)s.") % {
            "company": invoice.company.name, "status": status.label.lower()
        }  # fmt: skip
    if payout_source_account(invoice) is None:
        return _("%(company)s has no active Revolut account in %(currency)s.") % {
            "company": invoice.company.name, "currency": invoice.currency
        }  # fmt: skip
    return ""


def payout_reference(invoice: SupplierInvoice) -> str:
    return (invoice.payment_reference or invoice.supplier_number)[:REFERENCE_LENGTH]


@transaction.atomic
def supplier_invoice_pay_revolut(*, invoice: SupplierInvoice, requested_by: AbstractBaseUser) -> OutgoingPayment:
    """Store the outgoing payment, mark the invoice scheduled and enqueue the payout run."""
    invoice = SupplierInvoice.objects.select_for_update().select_related("company", "supplier").get(pk=invoice.pk)
    refusal = payout_refusal(invoice, user=requested_by)
    if refusal:
        raise ValidationError(refusal, code="payout_refused")
    attempt = invoice.outgoing_payments.count() + 1
    payment = OutgoingPayment.objects.create(
        company=invoice.company, supplier_invoice=invoice, account=payout_source_account(invoice),
        request_id=f"hv-si{invoice.pk}-{attempt}", amount=invoice.gross_total, currency=invoice.currency,
        reference=payout_reference(invoice), created_by=requested_by,
    )  # fmt: skip
    purchases.supplier_invoice_schedule(invoice=invoice, scheduled_by=requested_by)
    audit_record(
        actor=requested_by, company=invoice.company, action="payout.requested", target=invoice,
        changes={"request_id": payment.request_id, "amount": str(payment.amount), "currency": payment.currency,
                 "account": payment.account.name},
    )  # fmt: skip
    action_run_start(
        action=PAYOUT_ACTION, target=payment, company=invoice.company, actor=requested_by,
        idempotency_key=f"{PAYOUT_ACTION}:{payment.request_id}",
    )  # fmt: skip
    return payment


def _counterparty(client: revolut.RevolutClient, invoice: SupplierInvoice) -> tuple[str, str]:
    """Revolut's counterparty and account for the invoice's IBAN: the stored one, a found one, or a new one."""
    supplier, iban = invoice.supplier, invoice.creditor_iban
    if supplier.revolut_counterparty_iban == iban and supplier.revolut_counterparty_account_id:
        return supplier.revolut_counterparty_id, supplier.revolut_counterparty_account_id
    found = next(
        ((counterparty.id, account.id) for counterparty in client.counterparties(iban=iban)
         for account in counterparty.accounts if account.iban == iban and counterparty.state != "deleted"),
        None,
    )  # fmt: skip
    if found is None:
        street = " ".join(filter(None, [supplier.street, supplier.building_number]))
        created = client.counterparty_create(
            company_name=supplier.name, bank_country=iban[:2], currency=invoice.currency, iban=iban,
            address={"street_line1": street, "city": supplier.town, "country": supplier.country,
                     "postcode": supplier.postal_code},
        )  # fmt: skip
        account = next(account for account in created.accounts if account.iban == iban)
        found = (created.id, account.id)
    type(supplier).objects.filter(pk=supplier.pk).update(
        revolut_counterparty_id=found[0], revolut_counterparty_account_id=found[1], revolut_counterparty_iban=iban
    )
    return found


@action_handler(PAYOUT_ACTION)
def payout_execute(run: ActionRun) -> dict:
    payment = OutgoingPayment.objects.select_related("supplier_invoice__supplier", "account__connection__company").get(
        pk=run.target_id
    )
    if payment.state != OutgoingPayment.State.INITIATED:
        # Revolut already acknowledged this request id: its states arrive by webhook or sync.
        return {"state": payment.state, "transaction_id": payment.provider_transaction_id}
    client = connections.revolut_client(payment.account.connection)
    counterparty_id, counterparty_account_id = _counterparty(client, payment.supplier_invoice)
    OutgoingPayment.objects.filter(pk=payment.pk).update(
        counterparty_id=counterparty_id, counterparty_account_id=counterparty_account_id, updated_at=Now()
    )
    try:
        result = client.pay(
            request_id=payment.request_id, account_id=payment.account.provider_account_id,
            counterparty_id=counterparty_id, counterparty_account_id=counterparty_account_id, amount=payment.amount,
            currency=payment.currency, reference=payment.reference,
        )  # fmt: skip
    except PermanentProviderError as error:
        if error.code != DUPLICATE_REQUEST_CODE:
            raise
        # An earlier attempt was accepted and its answer lost (timeout, worker killed): nothing is sent
        # again, and the payment's states come by webhook or sync (outgoing_payment_follow).
        return {"state": payment.state, "transaction_id": "", "duplicate_request": True}
    reason = ""
    if result.state in OutgoingPayment.UNSUCCESSFUL_STATES:
        reason = client.transaction(result.id).reason_code or ""
    outgoing_payment_apply(payment, state=result.state, transaction_id=result.id, reason=reason)
    return {"state": result.state, "transaction_id": result.id}


def outgoing_payment_follow(*, request_id: str, transaction: revolut.Transaction) -> None:
    """Revolut reported a transaction: if it is one of our payouts, follow its state."""
    payment = OutgoingPayment.objects.filter(request_id=request_id).first()
    if payment is not None:
        outgoing_payment_apply(
            payment, state=transaction.state, transaction_id=transaction.id, reason=transaction.reason_code or ""
        )


@transaction.atomic
def outgoing_payment_apply(
    payment: OutgoingPayment, *, state: str, transaction_id: str, reason: str
) -> OutgoingPayment:
    """Move the payout (and its invoice) to Revolut's state; a state it is already past changes nothing."""
    payment = OutgoingPayment.objects.select_for_update().select_related("supplier_invoice").get(pk=payment.pk)
    if not state_moves_forward(payment.state, state):
        return payment
    before = payment.state
    payment.state, payment.provider_transaction_id, payment.updated_at = state, transaction_id, Now()
    if state in OutgoingPayment.UNSUCCESSFUL_STATES:
        payment.reason = reason or _("Revolut reported the payment %(state)s.") % {"state": state}
    if state == OutgoingPayment.State.COMPLETED:
        payment.completed_at = timezone.now()
    payment.save()
    invoice = payment.supplier_invoice
    audit_record(
        actor=None, company=payment.company, action="payout.state_changed", target=invoice,
        changes={"request_id": payment.request_id, "state_from": before, "state_to": state, "reason": payment.reason},
    )  # fmt: skip
    if state == OutgoingPayment.State.COMPLETED and invoice.status == SupplierInvoice.Status.SCHEDULED:
        purchases.supplier_invoice_mark_paid(invoice=invoice, paid_by=None, paid_on=timezone.localdate())
    elif state in OutgoingPayment.UNSUCCESSFUL_STATES:
        purchases.supplier_invoice_payout_failed(invoice=invoice, reason=payment.reason)
    payment.refresh_from_db()
    return payment
