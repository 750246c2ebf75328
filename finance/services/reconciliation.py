"""Incoming bank transfers matched with the invoices they pay (W2): scored, recorded as payments, or left to a person.

Amounts are compared as `Decimal` (the transaction's and the invoice's balance due), never as floats, so a
tolerance of 0.05 means exactly five centimes.
"""

from __future__ import annotations

import difflib
import functools
import re
import string
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count, F, Min, Sum
from django.db.transaction import atomic
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from finance import selectors
from finance.models import BankTransaction, Company, Invoice, MatchSuggestion, Payment
from finance.services.audit import audit_record, audit_records, audit_row, system_user
from finance.services.documents import invoice_balance_due
from finance.services.payments import PaymentEntry, payment_undo, payments_record
from hypervisual.bulk import cycle_collection_paused, rows_insert
from hypervisual.lookups import AnyOf

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


# The characters beyond ASCII letters and digits that `re.IGNORECASE` takes for one of them: references and numbers
# are compared as `(?<![0-9A-Z])…(?![0-9A-Z])` with IGNORECASE would, without compiling a pattern per invoice.
CASE_ALIASES = {"\u0130": "I", "\u0131": "I", "\u017f": "S", "\u212a": "K"}
WORD_CHARACTERS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
CAPITALS = str.maketrans({**{letter: letter.upper() for letter in string.ascii_lowercase}, **CASE_ALIASES})


def _folded(text: str) -> str:
    """The text with each character as the capital it equals ignoring case (ASCII letters and CASE_ALIASES)."""
    return text.translate(CAPITALS)


@functools.lru_cache(maxsize=1024)
def _compacted(text: str) -> tuple[str, str, tuple[int, ...]]:
    """The folded text, its characters other than spaces, and where each of those stands in the text."""
    folded = _folded(text)
    kept = [(position, character) for position, character in enumerate(folded) if not character.isspace()]
    return folded, "".join(character for _, character in kept), tuple(position for position, _ in kept)


def _quotes(text: str, word: str, *, spaced: bool) -> bool:
    """Whether the text holds the (ASCII) word, ignoring case, glued to no letter or digit before or after it;
    with `spaced`, spaces may stand between its characters (a QR reference typed in groups of five)."""
    folded, compact, positions = _compacted(text)
    haystack, word = (compact if spaced else folded), _folded(word)
    start = haystack.find(word)
    while word and start >= 0:
        first, last = (positions[start], positions[start + len(word) - 1]) if spaced else (start, start + len(word) - 1)
        if (first == 0 or folded[first - 1] not in WORD_CHARACTERS) and (
            last + 1 == len(folded) or folded[last + 1] not in WORD_CHARACTERS
        ):
            return True
        start = haystack.find(word, start + 1)
    return False


def _name_words(name: str) -> list[str]:
    """The words of a name stripped of accents, punctuation and legal forms, in alphabetical order."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return sorted(word for word in re.findall(r"[a-z0-9]+", ascii_name) if word not in LEGAL_FORMS)


def _words_similarity(payer_words: list[str], client_words: list[str]) -> float:
    if not payer_words or not client_words:
        return 0.0
    # "Jean Dupont" paying for "Dupont Jean Menuiserie": every word of one name is in the other.
    if set(payer_words) <= set(client_words) or set(client_words) <= set(payer_words):
        return 1.0
    return difflib.SequenceMatcher(None, " ".join(payer_words), " ".join(client_words)).ratio()


def _names_similarity(payer: str, client: str) -> float:
    """0–1, comparing the words of both names once stripped of accents, punctuation, legal forms and order."""
    return _words_similarity(_name_words(payer), _name_words(client))


def _reasons(transaction: BankTransaction, invoice: Invoice, *, paid_on: date) -> list[Reason]:
    reasons = []
    if invoice.qr_reference and _quotes(transaction.reference, invoice.qr_reference, spaced=True):
        code = "creditor_reference" if invoice.qr_reference.startswith("RF") else "qr_reference"
        reasons.append(Reason(code, REFERENCE_SCORE))
    if invoice.number and _quotes(transaction.reference, invoice.number, spaced=False):
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


# --- Candidates read by what the transfers say (set queries) -------------------------------------
#
# Only an invoice scoring at least SUGGESTION_MIN_SCORE (30) can be suggested, and only such an invoice can change
# the automatic decision: the company's payment_match_threshold is at least 30 (constraint
# company_match_threshold_range), so the best candidate is matched only with 30 points or more, and a runner-up
# below 30 can never tie with it. Without its reference (100), its number (60) or its amount (35), an invoice
# reaches 30 only by its client being the payer (25) plus the date (5): a resembling name (10) and the date make 15.
# So the invoices read are those whose reference or number the transfer quotes, whose balance lies within
# AMOUNT_TOLERANCE of its amount, or whose client the payer is; each is then scored in full by `_reasons`.

QR_REFERENCE_LENGTH = 27
# Digits with nothing but spaces between them: where a QR reference may be written, in groups of five or not.
DIGIT_RUN = re.compile(r"[0-9](?:\s*[0-9])*")
# "RF", its two check digits, then letters and digits, spaces allowed, in folded text: where a creditor reference
# may start (a lookahead, so that a reference starting inside another run is found too).
CREDITOR_REFERENCE_RUN = re.compile(r"(?=(R\s*F\s*[0-9]\s*[0-9](?:\s*[0-9A-Z])*))")
CREDITOR_REFERENCE_LENGTHS = range(5, 26)  # ISO 11649: RF, two check digits, 1 to 21 letters or digits
NUMBER_LENGTH = Invoice._meta.get_field("number").max_length
CENT = Decimal("0.01")
# Transfers whose candidates are read together: a handful of queries for this many, with bounded lists.
MATCHING_BATCH_SIZE = 5000


def reference_tokens(text: str) -> set[str]:
    """Every QR or creditor reference `text` may quote, in capitals without spaces (more than it does quote).

    `_quotes` allows spaces between the characters of a reference: a QR reference is then 27 consecutive digits
    of a run of digits and spaces, a creditor reference a start of a run from "RF".
    """
    folded, tokens = _folded(text), set()
    for run in DIGIT_RUN.findall(folded):
        digits = re.sub(r"\s", "", run)
        tokens.update(digits[i : i + QR_REFERENCE_LENGTH] for i in range(len(digits) - QR_REFERENCE_LENGTH + 1))
    for run in CREDITOR_REFERENCE_RUN.findall(folded):
        compact = re.sub(r"\s", "", run)
        tokens.update(compact[:length] for length in CREDITOR_REFERENCE_LENGTHS if length <= len(compact))
    return tokens


def number_tokens(text: str) -> set[str]:
    """Every invoice number `text` may quote as a whole word, in capitals (more than it does quote).

    An invoice number ("QA-2026-0001", see numbering.NUMBER_FORMATS) has no spaces; quoted, it starts after
    no letter or digit and ends before none, as `_quotes` requires.
    """
    folded, tokens = _folded(text), set()
    for chunk in re.finditer(r"\S+", folded):
        start, end = chunk.span()
        starts = [i for i in range(start, end) if i == 0 or folded[i - 1] not in WORD_CHARACTERS]
        ends = [i for i in range(start + 1, end + 1) if i == len(folded) or folded[i] not in WORD_CHARACTERS]
        tokens.update(folded[i:j] for i in starts for j in ends if 0 < j - i <= NUMBER_LENGTH)
    return tokens


def amount_window(amount: Decimal) -> set[Decimal]:
    """The balances due within AMOUNT_TOLERANCE of an amount: balances are whole cents, so a handful of them."""
    steps = int(AMOUNT_TOLERANCE / CENT)
    return {amount + step * CENT for step in range(-steps, steps + 1)}


# Names compared by difflib are first narrowed down by the runs of this many characters they share.
GRAM = 3


def _grams(text: str) -> list[str]:
    return [text[i : i + GRAM] for i in range(len(text) - GRAM + 1)]


@functools.cache
def _grams_shared(length: int, other: int) -> int | None:
    """How many GRAMs (with repeats) two names of these lengths surely share when difflib finds them at least
    PAYER_NAME_SIMILARITY alike without being equal; None when it cannot.

    difflib's ratio is 2·M/T, M the characters of its matching blocks, T both lengths: the e = T − 2·M unmatched
    characters number at most (1 − similarity)·T, and they separate at most e + 1 blocks. Blocks of n characters
    hold n − GRAM + 1 grams each, so both names share at least M − (e + 1)·(GRAM − 1) of them.
    """
    total = length + other
    # e has T's parity and is at least the difference of the lengths; e = 0 is two equal names (the same words).
    fewest, most = abs(length - other) or 2, int((1 - Fraction(str(PAYER_NAME_SIMILARITY))) * total)
    if fewest > most:
        return None
    unmatched = most - (most - fewest) % 2
    return (total - unmatched) // 2 - (unmatched + 1) * (GRAM - 1)


@functools.cache
def _grams_needed(length: int) -> int | None:
    """The fewest grams a name of this length shares with any name difflib finds alike (see `_grams_shared`)."""
    shared = [_grams_shared(length, other) for other in range(1, 2 * length + 2)]
    return min((count for count in shared if count is not None), default=None)


class ClientNames:
    """The company's clients by name, to find those a payer is without comparing the payer with each of them."""

    def __init__(self, clients: Iterable[tuple[int, str]]) -> None:
        self.ids: dict[str, list[int]] = defaultdict(list)  # a name's words, joined → its clients
        self.words: dict[str, frozenset[str]] = {}
        self.gram_counts: dict[str, Counter[str]] = {}
        self.by_word: dict[str, set[str]] = defaultdict(set)
        self.by_gram: dict[str, set[str]] = defaultdict(set)
        for pk, name in clients:
            words = _name_words(name)
            if not words:
                continue
            joined = " ".join(words)
            self.ids[joined].append(pk)
            self.words[joined] = frozenset(words)
            self.gram_counts[joined] = Counter(_grams(joined))
            for word in words:
                self.by_word[word].add(joined)
            for gram in _grams(joined):
                self.by_gram[gram].add(joined)
        self._found: dict[str, list[int]] = {}

    def paying(self, payer: str) -> list[int]:
        """The clients `_names_similarity` finds the payer to be (PAYER_NAME_SIMILARITY or more)."""
        words = _name_words(payer)
        joined = " ".join(words)
        if joined not in self._found:
            # Names sharing a word are the payer only when the words of one are all in the other (a set test);
            # the others only when difflib finds them alike, which `_near` narrows down first.
            payer_words = set(words)
            sharing = set().union(*(self.by_word.get(word, ()) for word in payer_words))
            names = {name for name in sharing if payer_words <= self.words[name] or self.words[name] <= payer_words}
            names |= {name for name in self._near(joined) if _words_similarity(words, name.split(" "))
                      >= PAYER_NAME_SIMILARITY}  # fmt: skip
            self._found[joined] = sorted(pk for name in names for pk in self.ids[name])
        return self._found[joined]

    def _near(self, joined: str) -> set[str]:
        """Names that may be this like the payer's by difflib: sharing one of its rarest grams (any len − needed + 1
        of its grams include one that a name sharing `needed` of them has), then as many as their lengths need."""
        needed = _grams_needed(len(joined))
        if needed is None:
            return set()
        grams = _grams(joined)
        if needed <= 0:
            return set(self.ids)
        rarest = sorted(grams, key=lambda gram: len(self.by_gram.get(gram, ())))[: len(grams) - needed + 1]
        counts = Counter(grams)
        repeated = any(n > 1 for n in counts.values())
        near = set()
        for name in set().union(*(self.by_gram.get(gram, ()) for gram in rarest)):
            needed_here, theirs = _grams_shared(len(joined), len(name)), self.gram_counts[name]
            if needed_here is None:
                continue
            # Without a repeated gram in the payer's name, the grams shared with repeats are the common ones.
            if repeated:
                shared = sum(min(n, theirs[gram]) for gram, n in counts.items())
            else:
                shared = len(counts.keys() & theirs.keys())
            if shared >= needed_here:
                near.add(name)
        return near


class CandidateFinder:
    """The candidates of some transfers of one company and currency, read in two queries (clients, invoices)."""

    def __init__(self, company: Company, currency: str, transactions: list[BankTransaction]) -> None:
        self.company, self.currency = company, currency
        self.names = ClientNames(selectors.client_names_for_matching(company=company))
        incoming = [transaction for transaction in transactions if is_incoming_payment(transaction)]
        invoices = selectors.invoice_matching_candidates(
            company=company, currency=currency,
            references=set().union(*(reference_tokens(t.reference) for t in incoming)),
            numbers=set().union(*(number_tokens(t.reference) for t in incoming)),
            balances=set().union(*(amount_window(t.amount) for t in incoming)),
            client_ids={pk for t in incoming for pk in self.names.paying(t.counterparty_name)},
        ) if incoming else []  # fmt: skip
        self.invoices: dict[int, Invoice] = {}
        self.by_reference, self.by_number, self.by_balance, self.by_client = (defaultdict(set) for _ in range(4))
        for invoice in invoices:
            self._add(invoice)

    def _indexes(self, invoice: Invoice) -> Iterator[set[int]]:
        yield self.by_reference[_folded(invoice.qr_reference)]
        yield self.by_number[_folded(invoice.number)]
        yield self.by_balance[invoice.balance_due]
        yield self.by_client[invoice.client_id]

    def _add(self, invoice: Invoice) -> None:
        self.invoices[invoice.pk] = invoice
        for index in self._indexes(invoice):
            index.add(invoice.pk)

    def candidates(self, transaction: BankTransaction) -> list[Candidate]:
        if not is_incoming_payment(transaction):
            return []
        found = set().union(
            *(self.by_reference.get(token, ()) for token in reference_tokens(transaction.reference)),
            *(self.by_number.get(token, ()) for token in number_tokens(transaction.reference)),
            *(self.by_balance.get(balance, ()) for balance in amount_window(transaction.amount)),
            *(self.by_client.get(pk, ()) for pk in self.names.paying(transaction.counterparty_name)),
        )
        return score_candidates(transaction, (self.invoices[pk] for pk in found))

    def paid(self, invoice: Invoice, *, still_due: Decimal) -> None:
        """A transfer paid the invoice: the next ones see what it still owes, or no longer see it once paid."""
        known = self.invoices.pop(invoice.pk)
        for index in self._indexes(known):
            index.discard(invoice.pk)
        if still_due > ZERO:
            known.balance_due, known.status = still_due, Invoice.Status.PARTIALLY_PAID
            self._add(known)


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
    return CandidateFinder(transaction.company, transaction.currency, [transaction]).candidates(transaction)


def _kept(candidates: list[Candidate]) -> list[Candidate]:
    return [candidate for candidate in candidates if candidate.score >= SUGGESTION_MIN_SCORE][:MAX_SUGGESTIONS]


def _suggest_all(waiting: list[tuple[BankTransaction, list[Candidate]]]) -> None:
    """Keep each transfer's best candidates as suggestions for a person (recomputed, so not logged).

    A few queries however many transfers: their old suggestions go, the new ones come, their statuses follow.
    """
    if not waiting:
        return
    MatchSuggestion.objects.filter(AnyOf(F("transaction_id"), [transaction.pk for transaction, _ in waiting])).delete()
    rows_insert([
        MatchSuggestion(
            transaction_id=transaction.pk, invoice_id=candidate.invoice.pk, score=candidate.score,
            reasons=[reason.as_json() for reason in candidate.reasons],
        )
        for transaction, candidates in waiting
        for candidate in _kept(candidates)
    ])  # fmt: skip
    now = timezone.now()
    by_status = defaultdict(list)
    for transaction, candidates in waiting:
        transaction.match_status = Match.SUGGESTED if _kept(candidates) else Match.UNMATCHED
        transaction.updated_at = now
        by_status[transaction.match_status].append(transaction.pk)
    for status, pks in by_status.items():
        BankTransaction.objects.filter(AnyOf(F("pk"), pks)).update(match_status=status, updated_at=now)


@dataclass(frozen=True)
class Decision:
    """A transfer recorded as the payment of an invoice: `allocated` settles it, the rest is the client's credit."""

    transaction: BankTransaction
    invoice: Invoice
    allocated: Decimal
    score: int | None


def _matches_record(
    decisions: list[Decision], *, recorded_by: AbstractBaseUser, matched_by: AbstractBaseUser | None,
    actor: AbstractBaseUser | None,
) -> None:  # fmt: skip
    """Record each decided transfer as its client's payment, together: payments, transfers, audit in bulk."""
    payments = payments_record(
        [
            PaymentEntry(
                client=decision.invoice.client,
                received_on=timezone.localdate(decision.transaction.completed_at),
                amount=decision.transaction.amount,
                method=Payment.Method.BANK_TRANSFER,
                reference=decision.transaction.reference[:PAYMENT_REFERENCE_LENGTH],
                allocations=[(decision.invoice, decision.allocated)],
                currency=decision.transaction.currency,
            )
            for decision in decisions
        ],
        recorded_by=recorded_by,
    )
    transactions = [decision.transaction for decision in decisions]
    MatchSuggestion.objects.filter(AnyOf(F("transaction_id"), [t.pk for t in transactions])).delete()
    now = timezone.now()
    for transaction, payment in zip(transactions, payments, strict=True):
        transaction.match_status, transaction.payment = Match.MATCHED, payment
        transaction.matched_by, transaction.matched_at, transaction.updated_at = matched_by, now, now
    # One UPDATE joined to each transfer's payment; `bulk_update`'s CASE lists every row for every row.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE finance_banktransaction AS bank SET payment_id = paid.payment_id, match_status = %s, "
            "matched_by_id = %s, matched_at = %s, updated_at = %s "
            "FROM unnest(%s::bigint[], %s::bigint[]) AS paid (id, payment_id) WHERE bank.id = paid.id",
            [Match.MATCHED, matched_by.pk if matched_by else None, now, now,
             [transaction.pk for transaction in transactions], [payment.pk for payment in payments]],
        )  # fmt: skip
    audit_records(
        audit_row(
            actor=actor,
            company=decision.transaction.company,
            action="bank_transaction.matched",
            target=decision.transaction,
            changes={
                "invoice": decision.invoice.number,
                "automatic": matched_by is None,
                "score": decision.score,
                "allocated": str(decision.allocated),
                "credit": str(decision.transaction.amount - decision.allocated),
            },
        )
        for decision in decisions
    )


def _waiting(transaction: BankTransaction) -> bool:
    """Whether the transfer is still to be matched; one that can pay nothing (yet) is marked so on the way."""
    if transaction.match_status in (Match.MATCHED, Match.IGNORED):
        return False
    if not is_incoming_payment(transaction):
        # Outgoing, or not (or no longer) completed: nothing to match until the bank completes it.
        transaction.suggestions.all().delete()
        if transaction.match_status != Match.NOT_APPLICABLE:
            transaction.match_status = Match.NOT_APPLICABLE
            _save(transaction, "match_status")
        return False
    return True


def _decided(transaction: BankTransaction, candidates: list[Candidate]) -> Candidate | None:
    """The candidate the transfer pays without a person: one alone at the top, reaching the company's threshold."""
    best = candidates[0] if candidates else None
    unambiguous = best is not None and (len(candidates) == 1 or candidates[1].score < best.score)
    return best if unambiguous and best.score >= transaction.company.payment_match_threshold else None


@atomic
def transaction_match_auto(transaction: BankTransaction, *, actor: AbstractBaseUser | None = None) -> BankTransaction:
    """Match a transaction the bank just reported (webhook or sync), or leave suggestions for a person.

    It pays an invoice by itself only when one candidate alone reaches the company's threshold; a tie
    stays a suggestion. `actor` is whoever started the sync (None for a webhook); the payment itself is
    recorded by `system_user()`. Calling it again never records a second payment: a matched or ignored
    transaction is left as it is.
    """
    return transactions_match_auto([transaction], actor=actor)[0]


def _batches(transactions: list[BankTransaction]) -> Iterator[list[BankTransaction]]:
    """The transfers by company and currency (in their order), at most MATCHING_BATCH_SIZE at a time."""
    groups = defaultdict(list)
    for transaction in transactions:
        groups[transaction.company_id, transaction.currency].append(transaction)
    for group in groups.values():
        for start in range(0, len(group), MATCHING_BATCH_SIZE):
            yield group[start : start + MATCHING_BATCH_SIZE]


@cycle_collection_paused()
@atomic
def transactions_match_auto(
    transactions: Iterable[BankTransaction], *, actor: AbstractBaseUser | None = None
) -> list[BankTransaction]:
    """`transaction_match_auto` for many transactions at once (a sync, a statement), returned in their order.

    The candidates of each batch of a company and currency are read in two queries, however many transfers and
    open invoices; what a transfer pays is no longer owed for the next ones, so the outcome is the one of matching
    them one by one in this order. Payments and suggestions are written together at the end of each batch.
    """
    pks = [transaction.pk for transaction in transactions]
    # The row locks make matching run once per transaction however many webhooks and syncs arrive together.
    locked = BankTransaction.objects.select_for_update(of=("self",)).select_related("company")
    by_pk = {transaction.pk: transaction for transaction in locked.filter(pk__in=pks).order_by("pk")}
    ordered = [by_pk[pk] for pk in pks]
    for batch in _batches([transaction for transaction in dict.fromkeys(ordered) if _waiting(transaction)]):
        decisions, suggested = _batch_decisions(batch)
        if decisions:
            _matches_record(decisions, recorded_by=system_user(), matched_by=None, actor=actor)
        _suggest_all(suggested)
    return ordered


def _batch_decisions(
    batch: list[BankTransaction],
) -> tuple[list[Decision], list[tuple[BankTransaction, list[Candidate]]]]:
    """What each transfer of the batch pays by itself, and the candidates of those left to a person.

    Judged on candidates read without a lock; the invoices chosen are then locked and their balances read again.
    Should a payment or a credit note have reached one in between, the batch is judged again on fresh candidates:
    the invoices locked so far can no longer change, so each new judgement locks more and the loop ends.
    """
    while True:
        finder = CandidateFinder(batch[0].company, batch[0].currency, batch)
        decisions, suggested, seen_due = [], [], {}
        for transaction in batch:
            candidates = finder.candidates(transaction)
            chosen = _decided(transaction, candidates)
            if chosen is None:
                suggested.append((transaction, candidates))
                continue
            invoice = chosen.invoice
            seen_due.setdefault(invoice.pk, invoice.balance_due)
            allocated = min(transaction.amount, invoice.balance_due)
            decisions.append(Decision(transaction, invoice, allocated=allocated, score=chosen.score))
            finder.paid(invoice, still_due=invoice.balance_due - allocated)
        if not seen_due or seen_due == {
            invoice.pk: invoice.balance_due for invoice in selectors.invoices_locked_with_balances(seen_due)
        }:
            return decisions, suggested


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
    due = invoice_balance_due(invoice)
    if invoice.status not in OPEN_STATUSES or due <= ZERO:
        raise ValidationError(
            _("%(number)s owes nothing (%(status)s): choose an issued invoice with a balance due.")
            % {"number": invoice.number, "status": invoice.get_status_display().lower()},
            code="not_open",
        )
    score = next((s.score for s in transaction.suggestions.all() if s.invoice_id == invoice.pk), None)
    decision = Decision(transaction, invoice, allocated=min(transaction.amount, due), score=score)
    _matches_record([decision], recorded_by=matched_by, matched_by=matched_by, actor=matched_by)
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
    _suggest_all([(transaction, _candidates(transaction))])
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
