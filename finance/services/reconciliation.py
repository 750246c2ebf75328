"""Incoming bank transfers matched with the invoices they pay (W2): scored, recorded as payments, or left to a person.

Amounts are compared as `Decimal` (the transaction's and the invoice's balance due), never as floats, so a
tolerance of 0.05 means exactly five centimes.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Count, Min, Sum
from django.db.transaction import atomic
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from finance import selectors
from finance.models import BankTransaction, Company, Invoice, MatchSuggestion, Payment
from finance.services.audit import audit_record, system_user
from finance.services.documents import invoice_balance_due
from finance.services.payments import payment_record, payment_undo

ZERO = Decimal("0.00")
Match = BankTransaction.Match

# --- Scoring weights (points out of 100) ---------------------------------------------------------

# The invoice's own QR reference (27 digits) or creditor reference (RF…) identifies it: decisive on its own.
REFERENCE_SCORE = 100
# The invoice number written in the transfer's reference: strong, but people mistype and quote old numbers.
INVOICE_NUMBER_SCORE = 60
# The amount equals what the invoice still owes: strong, yet two invoices can owe the same amount.
AMOUNT_SCORE = 35
# Difference still counted as the same amount: the 5-centime rounding of francs.
AMOUNT_TOLERANCE = Decimal("0.05")
# The payer is the client (names compared without legal forms, accents or word order): medium.
PAYER_NAME_SCORE = 25
PAYER_NAME_SIMILARITY = 0.95
# The payer's name merely resembles the client's (a typo, a trading name): a hint only.
PAYER_NAME_PARTIAL_SCORE = 10
PAYER_NAME_PARTIAL_SIMILARITY = 0.8
# Paid between the issue date and a little after the due date: a small nudge, most payments are.
DATE_SCORE = 5
DATE_GRACE_DAYS = 10

# Below this a candidate is noise and is not offered as a suggestion; at most this many are kept.
SUGGESTION_MIN_SCORE = 30
MAX_SUGGESTIONS = 3
# A completed incoming transfer still unreconciled after this many days is raised to the CEO.
UNMATCHED_ALERT_DAYS = 5

# A payment keeps at most this much of the transfer's reference (the bank allows more).
PAYMENT_REFERENCE_LENGTH = Payment._meta.get_field("reference").max_length

REASON_TEXTS = {
    "qr_reference": gettext_lazy("QR reference of the invoice"),
    "creditor_reference": gettext_lazy("Creditor reference (RF) of the invoice"),
    "invoice_number": gettext_lazy("Invoice number in the reference"),
    "amount": gettext_lazy("Amount equals the balance due"),
    "payer_name": gettext_lazy("Payer is the client"),
    "payer_name_partial": gettext_lazy("Payer's name resembles the client's"),
    "date": gettext_lazy("Paid between issue and due date"),
}
# Words that say what kind of company it is, not which one: "Favre SA", "FAVRE Sàrl" and "Favre & Cie" are one payer.
LEGAL_FORMS = {"sa", "ag", "sarl", "gmbh", "ltd", "llc", "inc", "sas", "srl", "sagl", "cie", "co", "et", "und", "and"}
OPEN_STATUSES = (Invoice.Status.ISSUED, Invoice.Status.PARTIALLY_PAID)


@dataclass(frozen=True)
class Reason:
    """Why a transaction may pay an invoice: a short code (stored) and the points it earned."""

    code: str
    points: int

    @property
    def text(self) -> str:
        return str(REASON_TEXTS.get(self.code, self.code))

    def as_json(self) -> dict:
        return {"code": self.code, "points": self.points}


@dataclass(frozen=True)
class Candidate:
    invoice: Invoice
    score: int
    reasons: list[Reason]


# --- Scoring (pure: no database) -----------------------------------------------------------------


def is_incoming_payment(transaction: BankTransaction) -> bool:
    """Money that arrived for good: only those can pay an invoice."""
    return transaction.state == BankTransaction.State.COMPLETED and transaction.amount > ZERO


def is_open_for(transaction: BankTransaction, invoice: Invoice) -> bool:
    """An invoice of the transaction's company and currency that still owes money (its `balance_due`)."""
    return (
        invoice.company_id == transaction.company_id
        and invoice.currency == transaction.currency
        and invoice.status in OPEN_STATUSES
        and invoice.kind != Invoice.Kind.CREDIT_NOTE
        and invoice.balance_due > ZERO
    )


def _compact_reference_pattern(reference: str) -> re.Pattern:
    """The whole reference, spaces allowed between its characters, not glued to other letters or digits."""
    spaced = r"\s*".join(re.escape(character) for character in reference)
    return re.compile(rf"(?<![0-9A-Z]){spaced}(?![0-9A-Z])", re.IGNORECASE)


def _names_similarity(payer: str, client: str) -> float:
    """0–1, comparing the words of both names once stripped of accents, punctuation, legal forms and order."""

    def words(name: str) -> list[str]:
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
        return sorted(word for word in re.findall(r"[a-z0-9]+", ascii_name) if word not in LEGAL_FORMS)

    payer_words, client_words = words(payer), words(client)
    if not payer_words or not client_words:
        return 0.0
    # "Jean Dupont" paying for "Dupont Jean Menuiserie": every word of one name is in the other.
    if set(payer_words) <= set(client_words) or set(client_words) <= set(payer_words):
        return 1.0
    return difflib.SequenceMatcher(None, " ".join(payer_words), " ".join(client_words)).ratio()


def _reasons(transaction: BankTransaction, invoice: Invoice, *, paid_on: date) -> list[Reason]:
    reasons = []
    if invoice.qr_reference and _compact_reference_pattern(invoice.qr_reference).search(transaction.reference):
        code = "creditor_reference" if invoice.qr_reference.startswith("RF") else "qr_reference"
        reasons.append(Reason(code, REFERENCE_SCORE))
    number = rf"(?<![0-9A-Z]){re.escape(invoice.number)}(?![0-9A-Z])"
    if invoice.number and re.search(number, transaction.reference, re.IGNORECASE):
        reasons.append(Reason("invoice_number", INVOICE_NUMBER_SCORE))
    if abs(transaction.amount - invoice.balance_due) <= AMOUNT_TOLERANCE:
        reasons.append(Reason("amount", AMOUNT_SCORE))
    similarity = _names_similarity(transaction.counterparty_name, invoice.client.name)
    if similarity >= PAYER_NAME_SIMILARITY:
        reasons.append(Reason("payer_name", PAYER_NAME_SCORE))
    elif similarity >= PAYER_NAME_PARTIAL_SIMILARITY:
        reasons.append(Reason("payer_name_partial", PAYER_NAME_PARTIAL_SCORE))
    if (
        invoice.issue_date
        and invoice.due_date
        and (invoice.issue_date <= paid_on <= invoice.due_date + timedelta(days=DATE_GRACE_DAYS))
    ):
        reasons.append(Reason("date", DATE_SCORE))
    return reasons


def score_candidates(transaction: BankTransaction, invoices: Iterable[Invoice]) -> list[Candidate]:
    """Score the invoices a completed incoming transfer may pay, best first; the others are left out.

    Each invoice carries `balance_due` (as `selectors.invoice_open_for_matching_list` annotates it).
    An invoice's own payment reference scores 100 whatever else differs; otherwise the points add up to
    at most 100. Only invoices of the transaction's company and currency that still owe money qualify.
    """
    if not is_incoming_payment(transaction):
        return []
    paid_on = timezone.localdate(transaction.completed_at)
    candidates = []
    for invoice in invoices:
        if not is_open_for(transaction, invoice):
            continue
        reasons = _reasons(transaction, invoice, paid_on=paid_on)
        if not reasons:
            continue
        score = min(100, sum(reason.points for reason in reasons))
        candidates.append(Candidate(invoice, score, reasons))
    return sorted(candidates, key=lambda c: (-c.score, c.invoice.due_date or date.max, c.invoice.pk or 0))


def suggestion_reasons(suggestion: MatchSuggestion) -> list[Reason]:
    return [Reason(reason["code"], reason["points"]) for reason in suggestion.reasons]


# --- Matching ------------------------------------------------------------------------------------


def _locked(transaction: BankTransaction) -> BankTransaction:
    # The row lock makes matching run once per transaction however many webhooks and syncs arrive together.
    return BankTransaction.objects.select_for_update(of=("self",)).select_related("company").get(pk=transaction.pk)


def _log(transaction: BankTransaction, *, actor: AbstractBaseUser | None, action: str, **changes) -> None:
    audit_record(actor=actor, company=transaction.company, action=action, target=transaction, changes=changes)


def _save(transaction: BankTransaction, *fields: str) -> None:
    transaction.updated_at = timezone.now()
    transaction.save(update_fields=[*fields, "updated_at"])


def _candidates(transaction: BankTransaction) -> list[Candidate]:
    invoices = selectors.invoice_open_for_matching_list(company=transaction.company, currency=transaction.currency)
    return score_candidates(transaction, invoices)


def _suggest(transaction: BankTransaction, candidates: list[Candidate]) -> None:
    """Keep the best candidates as suggestions for a person (recomputed, so not logged)."""
    kept = [candidate for candidate in candidates if candidate.score >= SUGGESTION_MIN_SCORE][:MAX_SUGGESTIONS]
    transaction.suggestions.all().delete()
    MatchSuggestion.objects.bulk_create(
        MatchSuggestion(
            transaction=transaction, invoice=candidate.invoice, score=candidate.score,
            reasons=[reason.as_json() for reason in candidate.reasons],
        )
        for candidate in kept
    )  # fmt: skip
    transaction.match_status = Match.SUGGESTED if kept else Match.UNMATCHED
    _save(transaction, "match_status")


def _match(
    transaction: BankTransaction, invoice: Invoice, *, recorded_by: AbstractBaseUser,
    matched_by: AbstractBaseUser | None, actor: AbstractBaseUser | None, score: int | None,
) -> None:  # fmt: skip
    """Record the transfer as the client's payment of the invoice: what it owes, the rest as the client's credit."""
    invoice = Invoice.objects.select_for_update(of=("self",)).select_related("client").get(pk=invoice.pk)
    allocated = min(transaction.amount, invoice_balance_due(invoice))
    payment = payment_record(
        client=invoice.client, received_on=timezone.localdate(transaction.completed_at), amount=transaction.amount,
        method=Payment.Method.BANK_TRANSFER, reference=transaction.reference[:PAYMENT_REFERENCE_LENGTH],
        allocations=[(invoice, allocated)], recorded_by=recorded_by, currency=transaction.currency,
    )  # fmt: skip
    transaction.suggestions.all().delete()
    transaction.match_status, transaction.payment = Match.MATCHED, payment
    transaction.matched_by, transaction.matched_at = matched_by, timezone.now()
    _save(transaction, "match_status", "payment", "matched_by", "matched_at")
    _log(
        transaction, actor=actor, action="bank_transaction.matched", invoice=invoice.number,
        automatic=matched_by is None, score=score, allocated=str(allocated),
        credit=str(transaction.amount - allocated),
    )  # fmt: skip


@atomic
def transaction_match_auto(transaction: BankTransaction, *, actor: AbstractBaseUser | None = None) -> BankTransaction:
    """Match a transaction the bank just reported (webhook or sync), or leave suggestions for a person.

    It pays an invoice by itself only when one candidate alone reaches the company's threshold; a tie
    stays a suggestion. `actor` is whoever started the sync (None for a webhook); the payment itself is
    recorded by `system_user()`. Calling it again never records a second payment: a matched or ignored
    transaction is left as it is.
    """
    transaction = _locked(transaction)
    if transaction.match_status in (Match.MATCHED, Match.IGNORED):
        return transaction
    if not is_incoming_payment(transaction):
        # Outgoing, or not (or no longer) completed: nothing to match until the bank completes it.
        transaction.suggestions.all().delete()
        if transaction.match_status != Match.NOT_APPLICABLE:
            transaction.match_status = Match.NOT_APPLICABLE
            _save(transaction, "match_status")
        return transaction
    candidates = _candidates(transaction)
    best = candidates[0] if candidates else None
    unambiguous = best is not None and (len(candidates) == 1 or candidates[1].score < best.score)
    if unambiguous and best.score >= transaction.company.payment_match_threshold:
        _match(transaction, best.invoice, recorded_by=system_user(), matched_by=None, actor=actor, score=best.score)
    else:
        _suggest(transaction, candidates)
    return transaction


def _require_waiting(transaction: BankTransaction) -> None:
    if not is_incoming_payment(transaction):
        raise ValidationError(
            _("Only a completed incoming transfer can be matched with an invoice."), code="not_incoming"
        )
    if transaction.match_status not in (Match.UNMATCHED, Match.SUGGESTED):
        raise ValidationError(
            _("Only a transfer waiting to be reconciled can be matched or ignored; this one is %(status)s.")
            % {"status": transaction.get_match_status_display().lower()},
            code="not_waiting",
        )


@atomic
def transaction_match_manual(
    *, transaction: BankTransaction, invoice: Invoice, matched_by: AbstractBaseUser
) -> BankTransaction:
    """A person says which invoice the transfer pays: recorded as that invoice's payment, the rest as credit."""
    transaction = _locked(transaction)
    _require_waiting(transaction)
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.company_id != transaction.company_id:
        raise ValidationError(
            _("%(number)s is another company's invoice.") % {"number": invoice.number}, code="company"
        )
    if invoice.currency != transaction.currency:
        raise ValidationError(
            _("%(number)s is in %(invoice_currency)s, the transfer in %(currency)s.")
            % {"number": invoice.number, "invoice_currency": invoice.currency, "currency": transaction.currency},
            code="currency",
        )
    if invoice.status not in OPEN_STATUSES or invoice_balance_due(invoice) <= ZERO:
        raise ValidationError(
            _("%(number)s owes nothing (%(status)s): choose an issued invoice with a balance due.")
            % {"number": invoice.number, "status": invoice.get_status_display().lower()},
            code="not_open",
        )
    score = next((s.score for s in transaction.suggestions.all() if s.invoice_id == invoice.pk), None)
    _match(transaction, invoice, recorded_by=matched_by, matched_by=matched_by, actor=matched_by, score=score)
    return transaction


@atomic
def transaction_match_undo(*, transaction: BankTransaction, undone_by: AbstractBaseUser) -> BankTransaction:
    """Take back a match (its payment is undone, the invoice owes again) or an ignore; suggestions are recomputed.

    Nothing is matched again by itself: the person who undid a match decides what the transfer pays.
    """
    transaction = _locked(transaction)
    if transaction.match_status not in (Match.MATCHED, Match.IGNORED):
        raise ValidationError(_("Only a matched or ignored transfer can be undone."), code="not_decided")
    before, payment = transaction.match_status, transaction.payment
    if payment is not None and payment.undone_at is None:
        payment_undo(payment=payment, undone_by=undone_by)
    transaction.match_status = Match.UNMATCHED
    transaction.payment, transaction.matched_by, transaction.matched_at = None, None, None
    _save(transaction, "match_status", "payment", "matched_by", "matched_at")
    _log(
        transaction, actor=undone_by, action="bank_transaction.match_undone", was=before,
        payment=payment.pk if payment else None,
    )  # fmt: skip
    _suggest(transaction, _candidates(transaction))
    return transaction


@atomic
def transaction_ignore(*, transaction: BankTransaction, ignored_by: AbstractBaseUser, reason: str) -> BankTransaction:
    """Set aside a transfer that pays no invoice (a refund, a loan, a transfer between own accounts)."""
    transaction = _locked(transaction)
    _require_waiting(transaction)
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("Say why this transfer pays no invoice."), code="reason")
    transaction.suggestions.all().delete()
    transaction.match_status = Match.IGNORED
    _save(transaction, "match_status")
    _log(transaction, actor=ignored_by, action="bank_transaction.ignored", reason=reason)
    return transaction


# --- Alerts --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnmatchedAlert:
    """Incoming transfers of one currency left unreconciled too long (francs and euros are never added)."""

    currency: str
    count: int
    total: Decimal
    oldest: datetime


def unmatched_alerts(companies: Iterable[Company], *, now: datetime) -> list[UnmatchedAlert]:
    """Completed incoming transfers still unmatched (or only suggested) more than UNMATCHED_ALERT_DAYS after."""
    rows = (
        BankTransaction.objects.filter(
            company__in=list(companies), state=BankTransaction.State.COMPLETED, amount__gt=0,
            match_status__in=[Match.UNMATCHED, Match.SUGGESTED],
            completed_at__lt=now - timedelta(days=UNMATCHED_ALERT_DAYS),
        )
        .values("currency")
        .annotate(count=Count("pk"), total=Sum("amount"), oldest=Min("completed_at"))
        .order_by("currency")
    )  # fmt: skip
    return [UnmatchedAlert(row["currency"], row["count"], row["total"], row["oldest"]) for row in rows]
