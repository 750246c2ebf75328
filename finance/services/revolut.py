"""Revolut Business in the Hub's data: what its accounts, rates and transactions record, and the payouts.

Into the Hub: accounts and balances, exchange rates, transactions (webhook or sync) in one upsert, each
incoming transfer handed to reconciliation.

Out of it, "Payer via Revolut" (W3): an approved supplier invoice paid through Revolut `/pay`, exactly once.
The outgoing payment is stored with its `request_id` before anything is sent. Revolut deduplicates
`/pay` on it, so a retry, a replayed task or a worker killed mid-call sends the same payment again
and never a second one. Revolut's states (webhook or sync) then move the invoice: completed → paid;
declined, failed or reverted → approved again, with Revolut's reason on the page.

The connection itself (settings, consent, tokens, webhook registration) is integrations.revolut.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Min
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext as _

from finance.models import BankAccount, BankTransaction, FxRate, OutgoingPayment, SupplierInvoice
from finance.models.actions import PAYOUT_ACTION
from finance.models.banking import state_moves_forward
from finance.scope import CompanyScope
from finance.services import purchases, reconciliation
from finance.services.audit import audit_record
from integrations.actions import action_handler, action_run_start
from integrations.clients import revolut
from integrations.clients.base import PermanentProviderError
from integrations.models import ActionRun, Connection, Provider, SyncCursor
from integrations.revolut import revolut_client
from integrations.selectors import connection_get, connection_status

logger = logging.getLogger(__name__)

# Where the group total is expressed; rates are fetched for every other currency an account holds.
GROUP_CURRENCY = "CHF"
FX_SOURCE = "revolut"
# The fallback sync re-reads this far behind its cursor, so a transaction created while the last run
# was reading is never skipped.
SYNC_OVERLAP = dt.timedelta(hours=1)
# On its first run the sync reads this much history.
FIRST_SYNC_HISTORY = dt.timedelta(days=30)
TRANSACTIONS_CURSOR = "transactions_since"
OPEN_STATES = (BankTransaction.State.CREATED, BankTransaction.State.PENDING)


def bank_accounts_sync(connection: Connection) -> list[BankAccount]:
    """Read the company's accounts and balances; the first account per currency pays suppliers by default."""
    accounts = revolut_client(connection).accounts()
    now = timezone.now()
    synced = []
    with transaction.atomic():
        for account in accounts:
            bank_account, created = BankAccount.objects.update_or_create(
                provider_account_id=account.id,
                defaults={
                    "company": connection.company, "connection": connection, "name": account.name,
                    "currency": account.currency, "balance": account.balance, "is_active": account.state == "active",
                    "balance_updated_at": account.updated_at or now, "synced_at": now,
                },
            )  # fmt: skip
            if (
                created
                and not BankAccount.objects.filter(
                    company=connection.company, currency=account.currency, is_payout_source=True
                ).exists()
            ):
                BankAccount.objects.filter(pk=bank_account.pk).update(is_payout_source=True)
            synced.append(bank_account)
    return synced


def fx_rates_sync(connection: Connection, currencies: set[str]) -> list[FxRate]:
    """Today's rate to CHF of each currency held, as Revolut quotes it (one stored rate per day and currency)."""
    client = revolut_client(connection)
    stored = []
    for currency in sorted(currencies - {GROUP_CURRENCY}):
        rate = client.rate(currency, GROUP_CURRENCY)
        fx, _created = FxRate.objects.update_or_create(
            currency=currency, quote_currency=GROUP_CURRENCY, rate_date=rate.rate_date, source=FX_SOURCE,
            defaults={"rate": rate.rate, "fetched_at": Now()},
        )  # fmt: skip
        stored.append(fx)
    return stored


def _match_status(amount: Decimal, state: str, current: str | None, *, internal: bool = False) -> str:
    if current in (BankTransaction.Match.MATCHED, BankTransaction.Match.IGNORED, BankTransaction.Match.SUGGESTED):
        return current
    # Money moved between two of our own accounts (an exchange) pays no client invoice.
    if amount > 0 and state == BankTransaction.State.COMPLETED and not internal:
        return BankTransaction.Match.UNMATCHED
    return BankTransaction.Match.NOT_APPLICABLE


def bank_transaction_upsert(connection: Connection, data: revolut.Transaction) -> list[BankTransaction]:
    """Store or update our legs of a Revolut transaction; safe to call any number of times, in any order.

    The company is the connection's: an account Revolut reports is ours only if it is this connection's.
    """
    accounts = {a.provider_account_id: a for a in BankAccount.objects.filter(connection=connection)}
    if any(leg.account_id not in accounts for leg in data.legs):
        accounts = {a.provider_account_id: a for a in bank_accounts_sync(connection)} | accounts
    ours = [leg for leg in data.legs if leg.account_id in accounts]
    internal = len(ours) > 1 or data.type == "exchange"
    stored = []
    for position, leg in enumerate(ours):
        # An exchange between two of our accounts has two legs: the second is kept under its account
        # (id and leg id are 36-character UUIDs: both would not fit the 64 characters of provider_id).
        account = accounts[leg.account_id]
        provider_id = data.id if position == 0 else f"{data.id}:{account.pk}"
        stored.append(_upsert_leg(connection, data, leg, account, provider_id, internal=internal))
    for bank_transaction in stored:
        if bank_transaction.match_status == BankTransaction.Match.UNMATCHED:
            reconciliation.transaction_match_auto(bank_transaction)
    if data.request_id:
        outgoing_payment_follow(request_id=data.request_id, transaction=data)
    return stored


def _upsert_leg(
    connection: Connection,
    data: revolut.Transaction,
    leg: revolut.TransactionLeg,
    account: BankAccount,
    provider_id: str,
    *,
    internal: bool = False,
) -> BankTransaction:
    fields = {
        "company": connection.company, "account": account, "type": data.type, "state": data.state,
        "request_id": data.request_id or "", "reference": (data.reference or "")[:200], "amount": leg.amount,
        "currency": leg.currency, "counterparty_name": (leg.description or "")[:200],
        "created_on_bank": data.created_at, "completed_at": data.completed_at, "raw": data.raw, "updated_at": Now(),
    }  # fmt: skip
    for _attempt in range(2):
        try:
            with transaction.atomic():
                existing = BankTransaction.objects.select_for_update().filter(provider_id=provider_id).first()
                if existing is None:
                    fields["match_status"] = _match_status(leg.amount, data.state, None, internal=internal)
                    return BankTransaction.objects.create(provider_id=provider_id, **fields)
                if not state_moves_forward(existing.state, data.state):
                    # An older event arriving late: keep the state (and completion) already known.
                    fields.update(state=existing.state, completed_at=existing.completed_at, raw=existing.raw)
                fields["match_status"] = _match_status(
                    leg.amount, fields["state"], existing.match_status, internal=internal
                )
                for name, value in fields.items():
                    setattr(existing, name, value)
                existing.save()
                existing.refresh_from_db()
                return existing
        except IntegrityError:
            # The webhook and the sync created it at the same moment: the second pass updates it.
            continue
    raise RuntimeError(f"bank transaction {provider_id} could not be stored")


def transactions_sync(connection: Connection, *, now: dt.datetime | None = None) -> int:
    """Fallback for lost webhooks: read transactions since the cursor (and since the oldest still open one)."""
    now = now or timezone.now()
    cursor, _created = SyncCursor.objects.get_or_create(connection=connection, name=TRANSACTIONS_CURSOR)
    since = dt.datetime.fromisoformat(cursor.value) - SYNC_OVERLAP if cursor.value else now - FIRST_SYNC_HISTORY
    oldest_open = BankTransaction.objects.filter(account__connection=connection, state__in=OPEN_STATES).aggregate(
        oldest=Min("created_on_bank")
    )["oldest"]
    if oldest_open and oldest_open < since:
        since = oldest_open
    transactions = revolut_client(connection).transactions(since=since, until=now)
    for data in sorted(transactions, key=lambda t: t.created_at):
        bank_transaction_upsert(connection, data)
    SyncCursor.objects.filter(pk=cursor.pk).update(value=now.isoformat(), updated_at=Now())
    return len(transactions)


def revolut_sync(connection: Connection) -> None:
    """The periodic sync of one company: balances, rates of the currencies it holds, then transactions."""
    accounts = bank_accounts_sync(connection)
    fx_rates_sync(connection, {account.currency for account in accounts})
    transactions_sync(connection)


def revolut_event_process(*, connection: Connection, payload: dict) -> None:
    """Apply one webhook event. A state change carries no amounts: the transaction is read back in full."""
    event, data = payload.get("event"), payload.get("data") or {}
    if event == "TransactionCreated":
        bank_transaction_upsert(connection, revolut.Transaction.from_api(data))
    elif event == "TransactionStateChanged":
        bank_transaction_upsert(connection, revolut_client(connection).transaction(data["id"]))
    else:
        logger.info("Revolut event %s ignored: the Hub does not use it", event)


# --- "Payer via Revolut" ----------------------------------------------------------------------------------

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
    status = connection_status(connection_get(invoice.company, Provider.REVOLUT))
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
    client = revolut_client(payment.account.connection)
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
