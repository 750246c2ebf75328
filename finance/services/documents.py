"""Quotes and invoices: lines, totals and every state change, each one logged to the audit trail."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.db.models.functions import Now
from django.utils.translation import gettext as _

from finance import events, qrbill, selectors, vat
from finance.models import (
    Client,
    DepositRule,
    DocumentSequence,
    Invoice,
    InvoiceLine,
    Quote,
    QuoteLine,
)
from finance.models.sales import DocumentStateError
from finance.services import vat_returns
from finance.services.audit import audit_records, audit_row
from finance.services.numbering import document_number_take
from finance.services.projects import projects_follow_deposit, projects_follow_quote
from finance.vat import document_lines_totals
from hypervisual.lookups import AnyOf

ZERO = Decimal("0.00")
HUNDRED = Decimal("100")
# Without a deposit rule for the company, a signed quote asks for this share up front.
DEFAULT_DEPOSIT_PERCENT = Decimal("30")
DEFAULT_DEPOSIT_DUE_DAYS = 10


@dataclass(frozen=True)
class LineInput:
    description: str
    quantity: Decimal
    unit_price: Decimal
    vat_code: str
    unit: str = ""
    discount_percent: Decimal = ZERO


# --- Totals -------------------------------------------------------------------------------------


def _store_totals(document: Quote | Invoice) -> None:
    totals = document_lines_totals(document)
    document.net_total, document.vat_total, document.gross_total = totals.net, totals.vat, totals.gross
    document.rounding, document.payable_total = totals.rounding, totals.payable
    document.updated_at = Now()
    document.save()
    document.refresh_from_db()


def document_totals_refresh(document: Quote | Invoice) -> None:
    """After any change to a draft's lines: its totals from the lines, and a quote's deposit from its total."""
    _store_totals(document)
    if isinstance(document, Quote):
        document.deposit_percent = deposit_percent_for(quote=document)
        document.save(update_fields=["deposit_percent"])


def _require_status(document: Quote | Invoice, *allowed: str, action: str) -> None:
    if document.status not in allowed:
        raise DocumentStateError(
            _("%(document)s is %(status)s: it cannot be %(action)s.")
            % {
                "document": document.number or document.title,
                "status": document.get_status_display().lower(),
                "action": action,
            },
            code="wrong_state",
        )


def _log(document: Quote | Invoice, *, actor: AbstractBaseUser | None, action: str, **changes) -> None:
    audit_records([_event(document, actor=actor, action=action, **changes)])


def _event(document: Quote | Invoice, *, actor: AbstractBaseUser | None, action: str, **changes) -> dict:
    return audit_row(actor=actor, company=document.company, action=action, target=document,
                     changes={k: str(v) for k, v in changes.items()})  # fmt: skip


# --- Quotes -------------------------------------------------------------------------------------


def deposit_rule_for(*, quote: Quote) -> DepositRule | None:
    """The company's deposit rule for the quote's project type, else its default rule (blank type)."""
    rules = DepositRule.objects.filter(company=quote.company, project_type__in=[quote.project_type, ""])
    return rules.order_by("-project_type").first()


def deposit_percent_for(*, quote: Quote) -> Decimal:
    """The deposit a quote asks for; without any rule, DEFAULT_DEPOSIT_PERCENT."""
    rule = deposit_rule_for(quote=quote)
    if rule is None:
        return DEFAULT_DEPOSIT_PERCENT
    return rule.percent if quote.payable_total >= rule.min_quote_total else ZERO


@transaction.atomic
def quote_create(
    *, client: Client, title: str, quote_date: date, valid_until: date, project_type: str, currency: str,
    created_by: AbstractBaseUser, supply_from: date | None = None, supply_to: date | None = None,
) -> Quote:  # fmt: skip
    """Open a draft quote for a client of the company."""
    quote = Quote(
        company=client.company, client=client, title=title, quote_date=quote_date, valid_until=valid_until,
        project_type=project_type, currency=currency, created_by=created_by, supply_from=supply_from,
        supply_to=supply_to,
    )  # fmt: skip
    quote.full_clean()
    quote.save()
    _log(quote, actor=created_by, action="quote.created")
    return quote


QUOTE_HEADER_FIELDS = (
    "client", "title", "quote_date", "valid_until", "project_type", "currency", "notes", "supply_from", "supply_to",
)  # fmt: skip


@transaction.atomic
def quote_update(*, quote: Quote, edited_by: AbstractBaseUser, **fields) -> Quote:
    """Change a draft quote's header; its lines take the VAT rates of the (new) date when next replaced."""
    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    _require_status(quote, Quote.Status.DRAFT, action=_("edited"))
    for name, value in fields.items():
        if name not in QUOTE_HEADER_FIELDS:
            raise ValueError(f"{name} is not an editable quote field")
        setattr(quote, name, value)
    if quote.client.company_id != quote.company_id:
        raise ValidationError({"client": _("The client belongs to another company.")})
    quote.full_clean()
    quote.updated_at = Now()
    quote.save()
    quote.refresh_from_db()
    # A new date or supply date may fall under other VAT rates.
    if _lines_rerate(quote.lines.all(), on=quote.vat_date):
        document_totals_refresh(quote)
    return quote


def _lines_rerate(lines, *, on: date) -> bool:
    """Give each line its VAT code's rate on that day; whether any rate changed."""
    changed = False
    for line in lines:
        rate = vat.vat_rate_on(code=line.vat_code, on=on).rate
        if rate != line.vat_rate:
            line.vat_rate = rate
            line.save(update_fields=["vat_rate"])
            changed = True
    return changed


def _line_fields(line: LineInput, *, on: date) -> dict:
    return {
        "description": line.description,
        "quantity": line.quantity,
        "unit": line.unit,
        "unit_price": line.unit_price,
        "discount_percent": line.discount_percent,
        "vat_code": line.vat_code,
        "vat_rate": vat.vat_rate_on(code=line.vat_code, on=on).rate,
    }


@transaction.atomic
def quote_lines_replace(*, quote: Quote, lines: list[LineInput], edited_by: AbstractBaseUser) -> Quote:
    """Replace the lines of a draft quote (in this order) and recompute its totals and deposit."""
    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    _require_status(quote, Quote.Status.DRAFT, action=_("edited"))
    quote.lines.all().delete()
    for position, line in enumerate(lines, start=1):
        quote_line = QuoteLine(quote=quote, position=position, **_line_fields(line, on=quote.vat_date))
        quote_line.full_clean(exclude=["quote"])
        quote_line.save()
    document_totals_refresh(quote)
    return quote


def _quote_transition(quote: Quote, *, to: str, allowed: tuple[str, ...], action: str, actor, **fields) -> Quote:
    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    _require_status(quote, *allowed, action=action)
    before = quote.status
    quote.status = to
    for name, value in fields.items():
        setattr(quote, name, value)
    quote.updated_at = Now()
    quote.save()
    quote.refresh_from_db()
    reason = {"reason": quote.rejection_reason} if to == Quote.Status.REJECTED and quote.rejection_reason else {}
    _log(quote, actor=actor, action=f"quote.{to}", status_from=before, status_to=to, **reason)
    return quote


@transaction.atomic
def quote_send(*, quote: Quote, sent_by: AbstractBaseUser) -> Quote:
    """Number the quote and mark it sent; a quote without lines is refused."""
    if not quote.lines.exists():
        raise DocumentStateError(_("A quote without lines cannot be sent."), code="empty")
    number = document_number_take(
        company=quote.company, family=DocumentSequence.Family.QUOTE, year=quote.quote_date.year
    )
    return _quote_transition(
        quote, to=Quote.Status.SENT, allowed=(Quote.Status.DRAFT,), action=_("sent"), actor=sent_by,
        number=number, sent_at=Now(),
    )  # fmt: skip


@transaction.atomic
def quote_mark_viewed(*, quote: Quote, actor: AbstractBaseUser | None) -> Quote:
    return _quote_transition(
        quote, to=Quote.Status.VIEWED, allowed=(Quote.Status.SENT,), action=_("marked viewed"), actor=actor
    )


@transaction.atomic
def quote_mark_signed(*, quote: Quote, actor: AbstractBaseUser | None) -> Quote:
    quote = _quote_transition(
        quote, to=Quote.Status.SIGNED, allowed=(Quote.Status.SENT, Quote.Status.VIEWED), action=_("signed"),
        actor=actor, signed_at=Now(),
    )  # fmt: skip
    projects_follow_quote(quote=quote, actor=actor)
    events.quote_signed.send(sender=Quote, quote=quote, actor=actor)
    return quote


@transaction.atomic
def quote_reject(*, quote: Quote, actor: AbstractBaseUser | None, reason: str = "") -> Quote:
    fields = {"rejection_reason": reason[:500]} if reason else {}
    quote = _quote_transition(
        quote, to=Quote.Status.REJECTED, allowed=(Quote.Status.SENT, Quote.Status.VIEWED), action=_("rejected"),
        actor=actor, **fields,
    )  # fmt: skip
    events.quote_rejected.send(sender=Quote, quote=quote, actor=actor, reason=reason)
    return quote


def quotes_expire(*, today: date) -> int:
    """Expire every sent or viewed quote whose validity ended before today; return how many."""
    expired = 0
    candidates = Quote.objects.filter(status__in=[Quote.Status.SENT, Quote.Status.VIEWED], valid_until__lt=today)
    for quote_id in candidates.values_list("pk", flat=True):
        with transaction.atomic():
            quote = Quote.objects.get(pk=quote_id)
            _quote_transition(
                quote, to=Quote.Status.EXPIRED, allowed=(Quote.Status.SENT, Quote.Status.VIEWED),
                action=_("expired"), actor=None,
            )  # fmt: skip
            expired += 1
    return expired


# --- Invoices -----------------------------------------------------------------------------------


def _new_invoice(*, quote: Quote, kind: str, title: str, created_by) -> Invoice:
    invoice = Invoice(
        company=quote.company, client=quote.client, quote=quote, kind=kind, title=title,
        currency=quote.currency, created_by=created_by, supply_from=quote.supply_from, supply_to=quote.supply_to,
    )  # fmt: skip
    invoice.full_clean()
    invoice.save()
    return invoice


def percent_text(value: Decimal) -> str:
    """A percentage as people write it in a sentence: 30, 8.1 (never 3E+1 or 30.00)."""
    return f"{value.normalize():f}"


def _copy_lines(lines, *, to: Invoice) -> None:
    """Copy quote or invoice lines as they are, with their frozen VAT rates."""
    for line in lines:
        InvoiceLine.objects.create(
            invoice=to, position=line.position, description=line.description, quantity=line.quantity,
            unit=line.unit, unit_price=line.unit_price, discount_percent=line.discount_percent,
            vat_code=line.vat_code, vat_rate=line.vat_rate, corrects_deposit=getattr(line, "corrects_deposit", False),
        )  # fmt: skip


def _net_by_code(lines) -> dict[str, Decimal]:
    """Each VAT code's net base over these lines."""
    bases: dict[str, Decimal] = {}
    for line in lines:
        bases[line.vat_code] = bases.get(line.vat_code, ZERO) + vat.line_of(line).net
    return bases


def _add_share_lines(invoice: Invoice, *, shares: dict[tuple[str, Decimal], Decimal], label: str) -> None:
    """One line per VAT code and rate, for a share (deposit, balance, credit) of the net base taxed so."""
    for position, (code, rate) in enumerate(sorted(shares, key=lambda key: key[1], reverse=True), start=1):
        if shares[code, rate] <= ZERO:
            continue
        InvoiceLine.objects.create(
            invoice=invoice, position=position, quantity=Decimal("1"), unit_price=shares[code, rate], vat_rate=rate,
            description=f"{label} – " + _("VAT %(rate)s %%") % {"rate": percent_text(rate)}, vat_code=code,
        )  # fmt: skip


def _at_rates_on(shares: dict[str, Decimal], *, on: date) -> dict[tuple[str, Decimal], Decimal]:
    """Shares by VAT code, keyed by code and the code's rate on that day."""
    return {(code, vat.vat_rate_on(code=code, on=on).rate): amount for code, amount in shares.items()}


@transaction.atomic
def invoice_create_deposit(*, quote: Quote, created_by: AbstractBaseUser) -> Invoice:
    """Draft the deposit invoice of a signed quote: the rule's share of each VAT rate's net base."""
    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    _require_status(quote, Quote.Status.SIGNED, action=_("invoiced as a deposit"))
    if quote.deposit_percent <= ZERO:
        raise DocumentStateError(_("This quote asks for no deposit."), code="no_deposit")
    if quote.invoices.filter(kind=Invoice.Kind.DEPOSIT).exclude(status=Invoice.Status.CANCELLED).exists():
        raise DocumentStateError(_("This quote already has a deposit invoice."), code="deposit_exists")
    shares = {code: vat.quantize_chf(base * quote.deposit_percent / HUNDRED)
              for code, base in _net_by_code(quote.lines.all()).items()}  # fmt: skip
    percent = percent_text(quote.deposit_percent)
    invoice = _new_invoice(
        quote=quote, kind=Invoice.Kind.DEPOSIT, created_by=created_by,
        title=_("Deposit %(percent)s %% on quote %(number)s") % {"percent": percent, "number": quote.number},
    )  # fmt: skip
    label = _("Deposit %(percent)s %%") % {"percent": percent}
    _add_share_lines(invoice, shares=_at_rates_on(shares, on=quote.vat_date), label=label)
    _store_totals(invoice)
    _log(invoice, actor=created_by, action="invoice.created", kind=invoice.kind, quote=quote.number)
    return invoice


@transaction.atomic
def invoice_create_full(*, quote: Quote, created_by: AbstractBaseUser) -> Invoice:
    """Draft the one standard invoice of a signed quote that asks for no deposit: its lines, as quoted."""
    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    _require_status(quote, Quote.Status.SIGNED, action=_("invoiced"))
    if quote.deposit_percent > ZERO:
        raise DocumentStateError(_("This quote asks for a deposit: invoice the deposit first."), code="has_deposit")
    invoice = _new_invoice(quote=quote, kind=Invoice.Kind.STANDARD, title=quote.title, created_by=created_by)
    _copy_lines(quote.lines.all(), to=invoice)
    _store_totals(invoice)
    quote = _quote_transition(
        quote, to=Quote.Status.CONVERTED, allowed=(Quote.Status.SIGNED,), action=_("converted"), actor=created_by
    )
    _log(invoice, actor=created_by, action="invoice.created", kind=invoice.kind, quote=quote.number)
    return invoice


@transaction.atomic
def invoice_create_balance(*, quote: Quote, created_by: AbstractBaseUser) -> Invoice:
    """Draft the balance invoice: each VAT rate's net base minus what deposit invoices already asked."""
    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    _require_status(quote, Quote.Status.SIGNED, action=_("invoiced for its balance"))
    deposits = InvoiceLine.objects.filter(
        invoice__quote=quote, invoice__kind=Invoice.Kind.DEPOSIT,
        invoice__status__in=[Invoice.Status.ISSUED, Invoice.Status.PARTIALLY_PAID, Invoice.Status.PAID],
    )  # fmt: skip
    if not deposits.exists() or quote.invoices.filter(kind=Invoice.Kind.DEPOSIT, status=Invoice.Status.DRAFT).exists():
        raise DocumentStateError(_("Issue the deposit invoice first."), code="deposit_not_issued")
    invoiced = _net_by_code(deposits)
    shares = {code: base - invoiced.get(code, ZERO) for code, base in _net_by_code(quote.lines.all()).items()}
    invoice = _new_invoice(
        quote=quote, kind=Invoice.Kind.BALANCE, created_by=created_by,
        title=_("Balance of quote %(number)s") % {"number": quote.number},
    )  # fmt: skip
    _add_share_lines(invoice, shares=_at_rates_on(shares, on=quote.vat_date), label=_("Balance"))
    _store_totals(invoice)
    quote = _quote_transition(
        quote, to=Quote.Status.CONVERTED, allowed=(Quote.Status.SIGNED,), action=_("converted"), actor=created_by
    )
    _log(invoice, actor=created_by, action="invoice.created", kind=invoice.kind, quote=quote.number)
    return invoice


def _qr_reference(invoice: Invoice) -> str:
    """QRR reference (company id + invoice id) with a QR-IBAN, an RF creditor reference otherwise."""
    if invoice.company.qr_iban:
        return qrbill.qr_reference(f"{invoice.company_id:06d}{invoice.pk:020d}")
    return qrbill.creditor_reference(f"{invoice.company_id}{invoice.pk:010d}")


@transaction.atomic
def invoice_issue(
    *, invoice: Invoice, issued_by: AbstractBaseUser, issue_date: date, supply_from: date | None = None,
    supply_to: date | None = None,
) -> Invoice:  # fmt: skip
    """Number, date and freeze a draft invoice; from here on only its status moves.

    The VAT rates are those of the supply date (given here, or the quote's), else of the issue date; a credit
    note keeps the rates of what it credits. A final invoice re-taxes deposits invoiced at another rate.
    """
    invoice = Invoice.objects.select_for_update().select_related("company", "client").get(pk=invoice.pk)
    _require_status(invoice, Invoice.Status.DRAFT, action=_("issued"))
    if not invoice.lines.exists():
        raise DocumentStateError(_("An invoice without lines cannot be issued."), code="empty")
    vat_returns.issue_date_open(company=invoice.company, issue_date=issue_date)
    invoice.issue_date = issue_date
    if supply_from is not None:
        invoice.supply_from, invoice.supply_to = supply_from, supply_to
    invoice.clean()
    if invoice.kind != Invoice.Kind.CREDIT_NOTE:
        _lines_rerate(invoice.lines.filter(corrects_deposit=False), on=invoice.vat_date)
    if invoice.kind == Invoice.Kind.BALANCE:
        _deposit_corrections(invoice)
    _store_totals(invoice)
    family = (
        DocumentSequence.Family.CREDIT_NOTE
        if invoice.kind == Invoice.Kind.CREDIT_NOTE
        else DocumentSequence.Family.INVOICE
    )
    invoice.number = document_number_take(company=invoice.company, family=family, year=issue_date.year)
    if invoice.kind == Invoice.Kind.DEPOSIT:
        rule = deposit_rule_for(quote=invoice.quote)
        terms = rule.due_days if rule else DEFAULT_DEPOSIT_DUE_DAYS
    else:
        terms = invoice.client.payment_terms_days or invoice.company.payment_terms_days
    invoice.due_date = issue_date + timedelta(days=terms)
    invoice.qr_reference = "" if invoice.kind == Invoice.Kind.CREDIT_NOTE else _qr_reference(invoice)
    invoice.status = Invoice.Status.ISSUED
    invoice.issued_at = Now()
    invoice.save()
    invoice.refresh_from_db()
    _log(invoice, actor=issued_by, action="invoice.issued", number=invoice.number, payable=invoice.payable_total)
    if invoice.kind == Invoice.Kind.CREDIT_NOTE:
        invoice_status_refresh(invoice=invoice.credited_invoice, actor=issued_by)
    return invoice


def _deposit_corrections(invoice: Invoice) -> None:
    """Deposits of the quote taxed at another rate than the final invoice's: taxed again at the new rate and
    deducted at the old one, as the ESTV asks on a rate change (the client pays the VAT difference)."""
    invoice.lines.filter(corrects_deposit=True).delete()
    deposits = InvoiceLine.objects.filter(
        invoice__quote_id=invoice.quote_id, invoice__kind=Invoice.Kind.DEPOSIT, corrects_deposit=False,
        invoice__status__in=[Invoice.Status.ISSUED, Invoice.Status.PARTIALLY_PAID, Invoice.Status.PAID],
    ).values("vat_code", "vat_rate").annotate(total=Sum("unit_price")).order_by("vat_code", "vat_rate")  # fmt: skip
    position = invoice.lines.count()
    for row in deposits:
        new_rate = vat.vat_rate_on(code=row["vat_code"], on=invoice.vat_date).rate
        if new_rate == row["vat_rate"]:
            continue
        rates = {"old": percent_text(row["vat_rate"]), "new": percent_text(new_rate)}
        for quantity, rate, text in (
            (Decimal("1"), new_rate, _("Deposit taxed again at the new rate of %(new)s %%") % rates),
            (Decimal("-1"), row["vat_rate"], _("Deposit already taxed at %(old)s %%, deducted") % rates),
        ):
            position += 1
            InvoiceLine.objects.create(
                invoice=invoice, position=position, description=text, quantity=quantity, unit_price=row["total"],
                vat_code=row["vat_code"], vat_rate=rate, corrects_deposit=True,
            )  # fmt: skip


@transaction.atomic
def invoice_cancel_draft(*, invoice: Invoice, cancelled_by: AbstractBaseUser) -> Invoice:
    """Cancel a draft; an issued invoice is corrected by a credit note instead."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status != Invoice.Status.DRAFT:
        raise DocumentStateError(
            _("%(number)s is issued: cancel it with a credit note.") % {"number": invoice.number}, code="issued"
        )
    invoice.status = Invoice.Status.CANCELLED
    invoice.save(update_fields=["status"])
    _log(invoice, actor=cancelled_by, action="invoice.cancelled")
    return invoice


# --- Balances and statuses -----------------------------------------------------------------------


def invoice_amount_paid(invoice: Invoice) -> Decimal:
    paid = invoice.allocations.filter(payment__undone_at__isnull=True).aggregate(total=Sum("amount"))["total"]
    return paid or ZERO


def invoice_amount_credited(invoice: Invoice) -> Decimal:
    credited = invoice.credit_notes.exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.CANCELLED]).aggregate(
        total=Sum("payable_total")
    )["total"]
    return credited or ZERO


def invoice_open_to_credit(invoice: Invoice) -> Decimal:
    """How much of an invoice credit notes can still take back."""
    return invoice.payable_total - invoice_amount_credited(invoice)


def _can_owe(invoice: Invoice) -> bool:
    """Only an issued invoice is owed: not a draft, a cancelled one or a credit note."""
    return invoice.status not in (Invoice.Status.DRAFT, Invoice.Status.CANCELLED) and (
        invoice.kind != Invoice.Kind.CREDIT_NOTE
    )


def invoice_balance_due(invoice: Invoice) -> Decimal:
    """What the client still owes on an issued invoice: payable minus payments and credit notes."""
    if not _can_owe(invoice):
        return ZERO
    return invoice_balance_from(invoice, paid=invoice_amount_paid(invoice), credited=invoice_amount_credited(invoice))


def invoice_balance_from(invoice: Invoice, *, paid: Decimal, credited: Decimal) -> Decimal:
    """`invoice_balance_due` on amounts already summed (dunning reads those of thousands of invoices at once)."""
    return max(invoice.payable_total - paid - credited, ZERO) if _can_owe(invoice) else ZERO


def invoice_status_refresh(*, invoice: Invoice, actor: AbstractBaseUser | None = None) -> Invoice:
    """Derive an issued invoice's status from its allocations and credit notes.

    A deposit invoice that becomes paid may open its project's gate, whatever settled it.
    """
    return invoices_status_refresh(invoices=[invoice], actor=actor)[0]


def invoices_status_refresh(*, invoices: Iterable[Invoice], actor: AbstractBaseUser | None = None) -> list[Invoice]:
    """`invoice_status_refresh` for many invoices, in id order, in a number of queries that does not grow with them."""
    locked = selectors.invoices_locked_with_balances(invoice.pk for invoice in invoices)
    changed = defaultdict(list)
    for invoice in locked:
        if not _can_owe(invoice):
            continue
        if invoice.amount_paid + invoice.amount_credited >= invoice.payable_total:
            status = Invoice.Status.PAID if invoice.amount_paid > ZERO else Invoice.Status.CANCELLED
        elif invoice.amount_paid > ZERO:
            status = Invoice.Status.PARTIALLY_PAID
        else:
            status = Invoice.Status.ISSUED
        if status != invoice.status:
            changed[invoice.status, status].append(invoice)
            invoice.status = status
    for (_before, status), group in changed.items():
        Invoice.objects.filter(AnyOf(F("pk"), [invoice.pk for invoice in group])).update(status=status)
    audit_records(
        _event(invoice, actor=None, action=f"invoice.{status}", status_from=before, status_to=status)
        for (before, status), group in changed.items()
        for invoice in group
    )
    for group in changed.values():
        for invoice in group:
            projects_follow_deposit(invoice=invoice, actor=actor)
    return locked


def invoice_is_overdue(invoice: Invoice, *, today: date) -> bool:
    return invoice.due_date is not None and invoice.due_date < today and invoice_balance_due(invoice) > ZERO


@transaction.atomic
def credit_note_create(
    *, invoice: Invoice, created_by: AbstractBaseUser, reason: str, amount: Decimal | None = None
) -> Invoice:
    """Draft a credit note on an issued invoice: in full (its lines) or for an amount, by VAT rate share."""
    original = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if original.kind == Invoice.Kind.CREDIT_NOTE or original.status in (Invoice.Status.DRAFT, Invoice.Status.CANCELLED):
        raise DocumentStateError(_("Only an issued invoice can be credited."), code="not_issued")
    open_amount = invoice_open_to_credit(original)
    if amount is not None and not (ZERO < amount <= open_amount):
        raise ValidationError(
            {"amount": _("The credit must be more than 0 and at most %(open)s.") % {"open": open_amount}}
        )
    note = Invoice(
        company=original.company, client=original.client, quote=original.quote, credited_invoice=original,
        kind=Invoice.Kind.CREDIT_NOTE, title=_("Credit note on %(number)s") % {"number": original.number},
        currency=original.currency, notes=reason, created_by=created_by,
    )  # fmt: skip
    note.full_clean()
    note.save()
    originals = list(original.lines.all())
    if amount is None:
        _copy_lines(originals, to=note)
    else:
        # Split the gross amount over the original's VAT rates in proportion to their gross.
        totals = document_lines_totals(original)
        codes = {line.vat_rate: line.vat_code for line in originals}
        shares: dict[tuple[str, Decimal], Decimal] = {}
        for row in totals.vat_rows:
            gross_share = amount * (row.base + row.vat) / totals.gross
            shares[codes[row.rate], row.rate] = vat.quantize_chf(gross_share * HUNDRED / (HUNDRED + row.rate))
        _add_share_lines(note, shares=shares, label=reason)
    _store_totals(note)
    _log(note, actor=created_by, action="invoice.created", kind=note.kind, credits=original.number)
    return note
