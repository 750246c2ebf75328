"""Suppliers and their invoices: entry, duplicate check, deviation from the provider's quote, four-eyes approval.

Approval rules (DESIGN.md W3): the approver is not the person who entered the invoice, holds the
CEO or finance role for the company, and is the CEO above the company's threshold. An approval
covers one payee IBAN, amount, currency and reference (its fingerprint): changing any of them
sends the invoice back to approval.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.db.models.functions import Now
from django.utils.translation import gettext as _
from stdnum import iso11649
from stdnum.ch import esr

from finance import identifiers, vat
from finance.models import Company, ProviderAssignment, Role, Supplier, SupplierInvoice, SupplierInvoiceLine
from finance.models.purchases import DEVIATION_BLOCK_PERCENT, DEVIATION_WARN_PERCENT
from finance.permissions import APPROVER_ROLES
from finance.scope import CompanyScope
from finance.services.audit import audit_record, field_changes

ZERO = Decimal("0.00")
HUNDRED = Decimal("100")

SUPPLIER_FIELDS = (
    "name", "street", "building_number", "postal_code", "town", "country", "che_uid", "iban", "currency",
    "contact_name", "email", "phone", "categories", "revolut_counterparty_id",
)  # fmt: skip
SUPPLIER_INVOICE_FIELDS = (
    "supplier_number", "invoice_date", "due_date", "currency", "creditor_iban", "reference_type",
    "payment_reference", "project", "source_document",
)  # fmt: skip
# Statuses in which the invoice still counts as owed to the supplier or paid to them.
COMMITTED_STATUSES = (
    SupplierInvoice.Status.TO_APPROVE, SupplierInvoice.Status.APPROVED, SupplierInvoice.Status.SCHEDULED,
    SupplierInvoice.Status.PAID, SupplierInvoice.Status.DISPUTED,
)  # fmt: skip
EDITABLE_STATUSES = (
    SupplierInvoice.Status.DRAFT, SupplierInvoice.Status.TO_APPROVE, SupplierInvoice.Status.APPROVED,
    SupplierInvoice.Status.SCHEDULED, SupplierInvoice.Status.DISPUTED,
)  # fmt: skip


class SupplierInvoiceStateError(ValidationError):
    """The supplier invoice is not in a state that allows this action."""


class ApprovalRefused(ValidationError):
    """The user may not approve this invoice (four-eyes, role or threshold)."""


class DuplicateSupplierInvoice(ValidationError):
    """The same invoice was entered already; `existing` is the one to open instead."""

    def __init__(self, message: str, *, existing: SupplierInvoice) -> None:
        super().__init__(message, code="duplicate")
        self.existing = existing


@dataclass(frozen=True)
class SupplierLineInput:
    net_amount: Decimal
    vat_code: str
    description: str = ""
    input_vat_recoverable: bool = True
    is_investment: bool = False


@dataclass(frozen=True)
class Deviation:
    """How far a provider's invoices on a project run over their accepted quote (net amounts)."""

    agreed: Decimal
    invoiced: Decimal
    percent: Decimal

    @property
    def blocks(self) -> bool:
        return self.percent > DEVIATION_BLOCK_PERCENT

    @property
    def warns(self) -> bool:
        return DEVIATION_WARN_PERCENT < self.percent <= DEVIATION_BLOCK_PERCENT


def _log(invoice: SupplierInvoice, *, actor: AbstractBaseUser | None, action: str, **changes: Any) -> None:
    audit_record(actor=actor, company=invoice.company, action=action, target=invoice, changes=changes)


# --- Suppliers ----------------------------------------------------------------------------------


@transaction.atomic
def supplier_create(*, company: Company, created_by: AbstractBaseUser | None, **fields: Any) -> Supplier:
    supplier = Supplier(company=company, **fields)
    supplier.full_clean()
    supplier.save()
    supplier.refresh_from_db()
    audit_record(
        actor=created_by, company=company, action="supplier.created", target=supplier, changes={"name": supplier.name}
    )
    return supplier


@transaction.atomic
def supplier_update(*, supplier: Supplier, updated_by: AbstractBaseUser, **fields: Any) -> Supplier:
    """Change a supplier; their invoices keep the IBAN they were entered with (each is approved on its own)."""
    supplier = Supplier.objects.select_for_update().get(pk=supplier.pk)
    before = {name: getattr(supplier, name) for name in SUPPLIER_FIELDS}
    for name, value in fields.items():
        if name not in SUPPLIER_FIELDS:
            raise ValueError(f"{name} is not an editable supplier field")
        setattr(supplier, name, value)
    supplier.full_clean()
    changes = field_changes(before, {name: getattr(supplier, name) for name in SUPPLIER_FIELDS})
    if changes:
        supplier.updated_at = Now()
        supplier.save()
        supplier.refresh_from_db()
        audit_record(
            actor=updated_by, company=supplier.company, action="supplier.updated", target=supplier, changes=changes
        )
    return supplier


# --- Payment details ----------------------------------------------------------------------------


def approval_fingerprint(invoice: SupplierInvoice) -> str:
    """What an approval covers: who is paid (IBAN), how much, in which currency, with which reference."""
    payload = "|".join(
        [invoice.creditor_iban, f"{invoice.gross_total:.2f}", invoice.currency, invoice.payment_reference]
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _clean_payment_details(invoice: SupplierInvoice) -> None:
    """Normalise IBAN and reference; refuse the combinations a Swiss payment cannot carry."""
    errors: dict[str, ValidationError] = {}
    try:
        iban = identifiers.parse_iban(invoice.creditor_iban)
        invoice.creditor_iban = iban.compact
    except ValidationError as error:
        raise ValidationError({"creditor_iban": error}) from None
    reference = invoice.payment_reference.strip()
    kind = invoice.reference_type
    if kind == SupplierInvoice.ReferenceType.QRR:
        reference = reference.replace(" ", "")
        if not esr.is_valid(reference) or len(reference) != 27:
            errors["payment_reference"] = ValidationError(_("A QR reference has 27 digits with a valid check digit."))
        if not identifiers.is_qr_iban(iban):
            errors["creditor_iban"] = ValidationError(_("A QR reference is paid to a QR-IBAN only."))
    else:
        if identifiers.is_qr_iban(iban):
            errors["reference_type"] = ValidationError(_("A QR-IBAN is paid with a QR reference only."))
        if kind == SupplierInvoice.ReferenceType.SCOR:
            reference = reference.replace(" ", "").upper()
            if not iso11649.is_valid(reference):
                errors["payment_reference"] = ValidationError(
                    _("A creditor reference starts with RF and has valid check digits, e.g. RF18 5390 0754 7034.")
                )
    invoice.payment_reference = reference
    if errors:
        raise ValidationError(errors)


def _priced_lines(invoice: SupplierInvoice, lines: list[SupplierLineInput]) -> list[SupplierInvoiceLine]:
    """The VAT lines at each code's rate on the invoice date, VAT per line; the invoice's totals summed."""
    if not lines:
        raise ValidationError(_("A supplier invoice needs at least one VAT line."), code="no_lines")
    priced = []
    for position, line in enumerate(lines, start=1):
        try:
            rate = vat.vat_rate_on(code=line.vat_code, on=invoice.invoice_date).rate
        except vat.VatRateMissing as missing:
            raise ValidationError(str(missing), code="vat_rate_missing") from None
        amount = vat.Line(quantity=Decimal(1), unit_price=line.net_amount, vat_rate=rate)
        priced.append(
            SupplierInvoiceLine(
                position=position, description=line.description, net_amount=amount.net, vat_code=line.vat_code,
                vat_rate=rate, vat_amount=amount.vat, input_vat_recoverable=line.input_vat_recoverable,
                is_investment=line.is_investment,
            )
        )  # fmt: skip
    invoice.net_total = sum((line.net_amount for line in priced), ZERO)
    invoice.vat_total = sum((line.vat_amount for line in priced), ZERO)
    invoice.gross_total = invoice.net_total + invoice.vat_total
    return priced


def _save_lines(invoice: SupplierInvoice, priced: list[SupplierInvoiceLine]) -> None:
    invoice.lines.all().delete()
    for line in priced:
        line.invoice = invoice
    SupplierInvoiceLine.objects.bulk_create(priced)


def supplier_invoice_duplicate(invoice: SupplierInvoice) -> SupplierInvoice | None:
    """The invoice already entered that this one repeats: same supplier and number, or same payment."""
    others = SupplierInvoice.objects.filter(company=invoice.company).exclude(pk=invoice.pk)
    same_number = Q(supplier=invoice.supplier, supplier_number__iexact=invoice.supplier_number.strip())
    same_payment = Q(
        creditor_iban=invoice.creditor_iban, payment_reference=invoice.payment_reference,
        gross_total=invoice.gross_total,
    ) & ~Q(payment_reference="")  # fmt: skip
    return others.filter(same_number | same_payment).exclude(status=SupplierInvoice.Status.REJECTED).first()


def _refuse_duplicate(invoice: SupplierInvoice) -> None:
    existing = supplier_invoice_duplicate(invoice)
    if existing is not None:
        raise DuplicateSupplierInvoice(
            _("This invoice was entered already: %(supplier)s %(number)s of %(date)s, %(currency)s %(amount)s.")
            % {
                "supplier": existing.supplier.name, "number": existing.supplier_number,
                "date": existing.invoice_date.strftime("%d.%m.%Y"), "currency": existing.currency,
                "amount": existing.gross_total,
            },
            existing=existing,
        )  # fmt: skip


# --- Entry --------------------------------------------------------------------------------------


@transaction.atomic
def supplier_invoice_create(
    *, supplier: Supplier, created_by: AbstractBaseUser, lines: list[SupplierLineInput], **fields: Any
) -> SupplierInvoice:
    """Enter a supplier invoice as a draft; the creditor IBAN defaults to the supplier's."""
    unknown = set(fields) - set(SUPPLIER_INVOICE_FIELDS)
    if unknown:
        raise ValueError(f"{', '.join(sorted(unknown))}: not supplier invoice fields")
    fields.setdefault("creditor_iban", supplier.iban)
    fields.setdefault("currency", supplier.currency)
    invoice = SupplierInvoice(company=supplier.company, supplier=supplier, created_by=created_by, **fields)
    _check_project(invoice)
    _clean_payment_details(invoice)
    priced = _priced_lines(invoice, lines)
    _refuse_duplicate(invoice)
    invoice.full_clean()
    invoice.save()
    _save_lines(invoice, priced)
    _log(
        invoice, actor=created_by, action="supplier_invoice.created",
        supplier=supplier.name, number=invoice.supplier_number, total=f"{invoice.currency} {invoice.gross_total}",
    )  # fmt: skip
    return invoice


def _check_project(invoice: SupplierInvoice) -> None:
    if invoice.project is not None and invoice.project.company_id != invoice.company_id:
        raise ValidationError({"project": _("The project belongs to another company.")})


@transaction.atomic
def supplier_invoice_update(
    *, invoice: SupplierInvoice, updated_by: AbstractBaseUser, lines: list[SupplierLineInput] | None = None,
    **fields: Any,
) -> SupplierInvoice:  # fmt: skip
    """Correct an invoice not yet paid; a change to who is paid, how much or with which reference
    withdraws an approval already given."""
    invoice = SupplierInvoice.objects.select_for_update().select_related("company", "supplier").get(pk=invoice.pk)
    if invoice.status not in EDITABLE_STATUSES:
        raise SupplierInvoiceStateError(
            _("A supplier invoice that is %(status)s cannot be changed.")
            % {"status": invoice.get_status_display().lower()},
            code="not_editable",
        )
    tracked = [name for name in SUPPLIER_INVOICE_FIELDS if name != "source_document"] + ["gross_total"]
    before = {name: getattr(invoice, name) for name in tracked}
    for name, value in fields.items():
        if name not in SUPPLIER_INVOICE_FIELDS:
            raise ValueError(f"{name} is not an editable supplier invoice field")
        setattr(invoice, name, value)
    _check_project(invoice)
    _clean_payment_details(invoice)
    priced = _priced_lines(invoice, lines) if lines is not None else None
    _refuse_duplicate(invoice)
    invoice.full_clean()
    changes = field_changes(before, {name: getattr(invoice, name) for name in tracked})
    approval_reset = (
        bool(invoice.approval_fingerprint) and approval_fingerprint(invoice) != invoice.approval_fingerprint
    )
    if approval_reset:
        status_before = invoice.status
        invoice.status = SupplierInvoice.Status.TO_APPROVE
        invoice.approved_by, invoice.approved_at, invoice.approval_fingerprint = None, None, ""
    invoice.updated_at = Now()
    invoice.save()
    if priced is not None:
        _save_lines(invoice, priced)
    invoice.refresh_from_db()
    if changes or "source_document" in fields:
        _log(invoice, actor=updated_by, action="supplier_invoice.updated", **changes)
    if approval_reset:
        _log(
            invoice, actor=updated_by, action="supplier_invoice.approval_reset",
            status_from=status_before, status_to=invoice.status,
        )  # fmt: skip
    return invoice


# --- Deviation from the provider's quote ---------------------------------------------------------


def supplier_invoice_deviation(invoice: SupplierInvoice) -> Deviation | None:
    """Compare what the supplier invoiced on the project (this invoice included) with their accepted quote.

    None when the invoice has no project or the supplier has no accepted quote on it.
    """
    if invoice.project_id is None:
        return None
    assignment = ProviderAssignment.objects.filter(
        project_id=invoice.project_id, supplier_id=invoice.supplier_id
    ).first()
    if assignment is None or assignment.agreed_amount <= ZERO:
        return None
    earlier = (
        SupplierInvoice.objects.filter(
            project_id=invoice.project_id, supplier_id=invoice.supplier_id, status__in=COMMITTED_STATUSES
        )
        .exclude(pk=invoice.pk)
        .aggregate(total=Sum("net_total"))["total"]
        or ZERO
    )
    invoiced = earlier + invoice.net_total
    percent = vat.quantize_chf((invoiced - assignment.agreed_amount) * HUNDRED / assignment.agreed_amount)
    return Deviation(agreed=assignment.agreed_amount, invoiced=invoiced, percent=percent)


# --- Approval workflow --------------------------------------------------------------------------


def _transition(
    invoice: SupplierInvoice, *, to: str, allowed: tuple[str, ...], actor: AbstractBaseUser | None, action: str,
    reason: str = "", **fields: Any,
) -> SupplierInvoice:  # fmt: skip
    if invoice.status not in allowed:
        raise SupplierInvoiceStateError(
            _("This supplier invoice is %(status)s: it cannot become %(target)s.")
            % {
                "status": invoice.get_status_display().lower(),
                "target": SupplierInvoice.Status(to).label.lower(),
            },
            code="wrong_status",
        )
    before = invoice.status
    invoice.status = to
    for name, value in fields.items():
        setattr(invoice, name, value)
    invoice.updated_at = Now()
    invoice.save()
    invoice.refresh_from_db()
    changes: dict[str, Any] = {"status_from": before, "status_to": to}
    if reason:
        changes["reason"] = reason
    _log(invoice, actor=actor, action=action, **changes)
    return invoice


def _locked(invoice: SupplierInvoice) -> SupplierInvoice:
    return SupplierInvoice.objects.select_for_update().select_related("company", "supplier").get(pk=invoice.pk)


@transaction.atomic
def supplier_invoice_submit(*, invoice: SupplierInvoice, submitted_by: AbstractBaseUser) -> SupplierInvoice:
    """Put a draft (or a settled dispute) in the approval queue, with its deviation measured now."""
    invoice = _locked(invoice)
    deviation = supplier_invoice_deviation(invoice)
    return _transition(
        invoice, to=SupplierInvoice.Status.TO_APPROVE,
        allowed=(SupplierInvoice.Status.DRAFT, SupplierInvoice.Status.DISPUTED),
        actor=submitted_by, action="supplier_invoice.submitted", submitted_at=Now(),
        deviation_percent=deviation.percent if deviation else None,
    )  # fmt: skip


def approval_refusal(invoice: SupplierInvoice, *, user: AbstractBaseUser, scope: CompanyScope | None = None) -> str:
    """Why `user` may not approve the invoice, or "" if they may (four-eyes, role, threshold).

    Pages pass the request's scope, whose roles are read once for a whole queue.
    """
    role = (scope or CompanyScope(user=user)).role_for(invoice.company)
    if user.pk == invoice.created_by_id:
        return _("You entered this invoice: another person must approve it (four-eyes rule).")
    if role not in APPROVER_ROLES:
        return _("Only the CEO or finance of %(company)s approve supplier invoices.") % {
            "company": invoice.company.name
        }
    if invoice.gross_total > invoice.company.ceo_approval_threshold and role != Role.CEO:
        return _("Above %(threshold)s, the CEO must approve.") % {
            "threshold": f"{invoice.company.currency} {invoice.company.ceo_approval_threshold}"
        }
    return ""


@transaction.atomic
def supplier_invoice_approve(
    *, invoice: SupplierInvoice, approved_by: AbstractBaseUser, override_reason: str = ""
) -> SupplierInvoice:
    """Approve for payment. Over 5 % above the provider's quote, only with a written reason (audited)."""
    invoice = _locked(invoice)
    refusal = approval_refusal(invoice, user=approved_by)
    if refusal:
        raise ApprovalRefused(refusal, code="not_allowed")
    deviation = supplier_invoice_deviation(invoice)
    override_reason = override_reason.strip()
    if deviation is not None and deviation.blocks and not override_reason:
        raise ApprovalRefused(
            _("%(percent)s %% over the provider's accepted quote (%(agreed)s agreed, %(invoiced)s invoiced): "
              "approve only with a written reason.")
            % {"percent": deviation.percent, "agreed": deviation.agreed, "invoiced": deviation.invoiced},
            code="deviation",
        )  # fmt: skip
    fields: dict[str, Any] = {
        "approved_by": approved_by, "approved_at": Now(), "approval_fingerprint": approval_fingerprint(invoice),
        "deviation_percent": deviation.percent if deviation else None,
    }  # fmt: skip
    if deviation is not None and deviation.blocks:
        fields["deviation_override_reason"] = override_reason
    return _transition(
        invoice, to=SupplierInvoice.Status.APPROVED, allowed=(SupplierInvoice.Status.TO_APPROVE,),
        actor=approved_by, action="supplier_invoice.approved",
        reason=override_reason if deviation is not None and deviation.blocks else "", **fields,
    )  # fmt: skip


@transaction.atomic
def supplier_invoice_reject(*, invoice: SupplierInvoice, rejected_by: AbstractBaseUser, reason: str) -> SupplierInvoice:
    invoice = _locked(invoice)
    if CompanyScope(user=rejected_by).role_for(invoice.company) not in APPROVER_ROLES:
        raise ApprovalRefused(_("Only the CEO or finance reject supplier invoices."), code="not_allowed")
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the invoice is rejected; the supplier will be told.")})
    return _transition(
        invoice, to=SupplierInvoice.Status.REJECTED,
        allowed=(SupplierInvoice.Status.TO_APPROVE, SupplierInvoice.Status.APPROVED),
        actor=rejected_by, action="supplier_invoice.rejected", reason=reason.strip(),
        rejection_reason=reason.strip(), approved_by=None, approved_at=None, approval_fingerprint="",
    )  # fmt: skip


@transaction.atomic
def supplier_invoice_dispute(
    *, invoice: SupplierInvoice, disputed_by: AbstractBaseUser, reason: str
) -> SupplierInvoice:
    """Hold the invoice while it is discussed with the supplier; resubmitting puts it back in the queue."""
    invoice = _locked(invoice)
    if CompanyScope(user=disputed_by).role_for(invoice.company) not in APPROVER_ROLES:
        raise ApprovalRefused(_("Only the CEO or finance dispute supplier invoices."), code="not_allowed")
    if not reason.strip():
        raise ValidationError({"reason": _("Say what is disputed.")})
    return _transition(
        invoice, to=SupplierInvoice.Status.DISPUTED,
        allowed=(SupplierInvoice.Status.TO_APPROVE, SupplierInvoice.Status.APPROVED),
        actor=disputed_by, action="supplier_invoice.disputed", reason=reason.strip(),
        dispute_reason=reason.strip(), approved_by=None, approved_at=None, approval_fingerprint="",
    )  # fmt: skip


def _require_approval_still_valid(invoice: SupplierInvoice) -> None:
    if invoice.approval_fingerprint != approval_fingerprint(invoice):
        raise SupplierInvoiceStateError(
            _("The payment details changed since the approval: it must be approved again."), code="stale_approval"
        )


@transaction.atomic
def supplier_invoice_schedule(*, invoice: SupplierInvoice, scheduled_by: AbstractBaseUser) -> SupplierInvoice:
    """Mark an approved invoice as handed to the bank for payment."""
    invoice = _locked(invoice)
    _require_approval_still_valid(invoice)
    return _transition(
        invoice, to=SupplierInvoice.Status.SCHEDULED, allowed=(SupplierInvoice.Status.APPROVED,),
        actor=scheduled_by, action="supplier_invoice.scheduled",
    )  # fmt: skip


@transaction.atomic
def supplier_invoice_mark_paid(
    *, invoice: SupplierInvoice, paid_by: AbstractBaseUser | None, paid_on: date
) -> SupplierInvoice:
    """Record that the approved amount left the bank on `paid_on`."""
    invoice = _locked(invoice)
    _require_approval_still_valid(invoice)
    return _transition(
        invoice, to=SupplierInvoice.Status.PAID,
        allowed=(SupplierInvoice.Status.APPROVED, SupplierInvoice.Status.SCHEDULED),
        actor=paid_by, action="supplier_invoice.paid", paid_on=paid_on,
    )  # fmt: skip


@transaction.atomic
def supplier_invoice_payout_failed(*, invoice: SupplierInvoice, reason: str) -> SupplierInvoice:
    """The bank did not pay (declined, failed, reverted): the invoice is approved and payable again."""
    invoice = _locked(invoice)
    return _transition(
        invoice, to=SupplierInvoice.Status.APPROVED,
        allowed=(SupplierInvoice.Status.SCHEDULED, SupplierInvoice.Status.PAID),
        actor=None, action="supplier_invoice.payout_failed", reason=reason, paid_on=None,
    )  # fmt: skip
