"""Revolut into the Hub: accounts and balances, exchange rates, transactions (webhook or sync) in one upsert."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Min
from django.db.models.functions import Now
from django.utils import timezone

from finance.models import BankAccount, BankTransaction, FxRate
from finance.models.banking import state_moves_forward
from finance.services import payouts, reconciliation
from integrations.clients import revolut
from integrations.connections import revolut_client
from integrations.models import Connection, SyncCursor

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
        payouts.outgoing_payment_follow(request_id=data.request_id, transaction=data)
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
