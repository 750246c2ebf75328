"""Bank statements as files (ISO 20022 camt.053 and camt.054, Swiss bank flavour), for accounts not on Revolut:
their entries become the same bank transactions as Revolut's and go through the same matching.

The file is read by pycamt on lxml with entities and network off (no XXE). An entry is known again by the
bank's reference (AcctSvcrRef), or by its account, booking date, amount and reference when the bank gives none,
so importing the same statement twice adds nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from lxml import etree
from pycamt.parser import Camt053ParseError, Camt053Parser

from finance import identifiers
from finance.models import BankAccount, BankTransaction, Company
from finance.services.audit import audit_record
from finance.services.reconciliation import transactions_match_auto

# A day's statement of a busy account is a few hundred kilobytes; beyond this it is not a statement.
MAX_FILE_BYTES = 10 * 1024 * 1024
STATES = {"BOOK": BankTransaction.State.COMPLETED, "PDNG": BankTransaction.State.PENDING,
          "INFO": BankTransaction.State.PENDING}  # fmt: skip


class CamtParser(Camt053Parser):
    """pycamt's reader, also for camt.054 notifications (their entries sit under Ntfctn, not Stmt or Rpt)."""

    def _find_statements_or_reports(self):
        for path in (".//Stmt", ".//Rpt", ".//Ntfctn"):
            found = self.tree.findall(path, self.namespaces)
            if found:
                return found
        raise Camt053ParseError()


@dataclass
class CamtImport:
    accounts: list[BankAccount]
    new: int = 0
    known: int = 0
    matched: int = 0


def _statements(content: bytes) -> tuple[list[dict], list[dict]]:
    if len(content) > MAX_FILE_BYTES:
        raise ValidationError(_("A statement file may not exceed 10 MB."))
    try:
        parser = CamtParser(content)
        return parser.get_statement_info(), parser.get_transactions()
    except (etree.XMLSyntaxError, ValueError):
        raise ValidationError(_("This file is not XML: export the statement as camt.053 or camt.054.")) from None
    except (Camt053ParseError, AttributeError, TypeError):
        raise ValidationError(_("This XML file holds no camt.053 statement nor camt.054 notification.")) from None


def _decimal(value: str | None, what: str) -> Decimal:
    try:
        return Decimal(value or "")
    except InvalidOperation:
        message = _("An entry's %(what)s is not a number: %(value)s.") % {"what": what, "value": value}
        raise ValidationError(message) from None


def _date(value: str | None) -> dt.datetime:
    try:
        day = dt.date.fromisoformat((value or "")[:10])
    except ValueError:
        raise ValidationError(_("An entry has no valid booking date: %(value)s.") % {"value": value}) from None
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)))


def _account(company: Company, statement: dict) -> BankAccount:
    try:
        iban = identifiers.parse_iban(statement.get("IBAN") or "").compact
    except ValidationError:
        raise ValidationError(_("The statement names no valid IBAN.")) from None
    account = BankAccount.objects.select_for_update().filter(iban=iban).first()
    if account is not None and account.company_id != company.pk:
        raise ValidationError(_("The account %(iban)s belongs to another company.") % {"iban": iban})
    closing = statement.get("ClosingBalance")
    balance = _decimal(closing, _("balance")) if closing else (account.balance if account else Decimal("0.00"))
    when = _date(statement.get("ClosingBalanceDate")) if statement.get("ClosingBalanceDate") else timezone.now()
    if account is None:
        return BankAccount.objects.create(
            company=company, provider_account_id=f"camt:{iban}", iban=iban, name=identifiers.format_iban(iban),
            currency=(statement.get("Currency") or company.currency)[:3], balance=balance, balance_updated_at=when,
        )  # fmt: skip
    if closing and when >= account.balance_updated_at:
        account.balance, account.balance_updated_at = balance, when
        account.save(update_fields=["balance", "balance_updated_at"])
    return account


def _entry_id(iban: str, entry: dict) -> str:
    """The bank's reference of the entry, or a digest of what makes it this entry."""
    own = entry.get("TransactionID") or ""
    keys = ("BookingDate", "Amount", "CreditDebitIndicator", "RemittanceInformation", "EndToEndId")
    basis = own or "|".join(str(entry.get(key) or "") for key in keys)
    return "camt:" + hashlib.sha256(f"{iban}|{basis}".encode()).hexdigest()[:40]


@transaction.atomic
def camt_import(*, company: Company, content: bytes, imported_by: AbstractBaseUser) -> CamtImport:
    """Read a statement into the company's bank transactions and match the incoming ones; all or nothing."""
    statements, entries = _statements(content)
    accounts = {}
    for statement in statements:
        account = _account(company, statement)
        accounts[account.iban] = account
    if not accounts:
        raise ValidationError(_("The statement names no account."))
    result = CamtImport(accounts=list(accounts.values()))
    arrived = []
    for entry in entries:
        iban = identifiers.parse_iban(entry.get("AccountIBAN") or next(iter(accounts))).compact
        account = accounts.get(iban)
        if account is None:
            raise ValidationError(_("An entry belongs to an account the statement does not list."))
        provider_id = _entry_id(iban, entry)
        if BankTransaction.objects.filter(provider_id=provider_id).exists():
            result.known += 1
            continue
        amount = _decimal(entry.get("Amount"), _("amount"))
        if entry.get("CreditDebitIndicator") == "DBIT":
            amount = -amount
        incoming = amount > 0
        booked = _date(entry.get("BookingDate") or entry.get("ValueDate"))
        state = STATES.get(entry.get("Status") or "BOOK", BankTransaction.State.COMPLETED)
        created = BankTransaction.objects.create(
            company=company, account=account, provider_id=provider_id, type="camt", state=state,
            reference=(entry.get("RemittanceInformation") or entry.get("AdditionalEntryInformation") or "")[:200],
            amount=amount, currency=(entry.get("Currency") or account.currency)[:3],
            counterparty_name=(entry.get("DebtorName" if incoming else "CreditorName") or "")[:200],
            created_on_bank=booked, completed_at=booked if state == BankTransaction.State.COMPLETED else None,
            raw={key: str(value) for key, value in entry.items()},
            match_status=BankTransaction.Match.UNMATCHED if incoming else BankTransaction.Match.NOT_APPLICABLE,
        )  # fmt: skip
        result.new += 1
        if incoming:
            arrived.append(created)
    # Matched together: the candidates of the whole statement are read at once, not once per entry.
    matched = transactions_match_auto(arrived, actor=imported_by)
    result.matched = sum(transaction.match_status == BankTransaction.Match.MATCHED for transaction in matched)
    audit_record(actor=imported_by, company=company, action="bank_statement.imported", target=result.accounts[0],
                 changes={"new": result.new, "known": result.known, "matched": result.matched})  # fmt: skip
    return result
