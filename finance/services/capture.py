"""Supplier-invoice capture (W3's intake): a document received, read, cross-checked, then saved by a person.

`capture_receive` stores the original (type and size checked by content) and queues the read as an action
run. The read (`_read`) decodes the Swiss QR payment part deterministically (confidence 1.0), then asks OpenAI
Vision for the rest; the QR fields are stored before OpenAI is called, so a missing, failing or over-quota
OpenAI leaves them filled with the reason shown, and a retry reads again. Cross-checks then mark every
doubtful field: VAT lines against the total, rates valid on the invoice date, QR against the document text,
the supplier found by UID, IBAN or name (or proposed as new), duplicates and deviation from the provider's
quote by the rules of `finance.services.purchases`. Nothing is submitted or approved here: `capture_save`
is a person saving the checked draft.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import os
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext as _

from finance import capture_ocr, capture_qr, vat
from finance.models import (
    Company,
    Project,
    ProviderAssignment,
    Supplier,
    SupplierInvoice,
    SupplierInvoiceCapture,
    VatCode,
    VatRate,
)
from finance.models.actions import READ_ACTION
from finance.services import purchases
from finance.services.audit import audit_record
from integrations import actions
from integrations import openai as openai_connection
from integrations.clients import openai as openai_client
from integrations.clients.base import PermanentProviderError, ProviderError
from integrations.models import ActionRun, Provider
from integrations.selectors import action_runs_for, usable_connection

# Below this confidence, a field read by OpenAI is highlighted for the person checking.
CONFIDENT = 0.8
# VAT lines and the total may differ by rounding per line: up to five centimes is not a doubt.
TOLERANCE = Decimal("0.05")
# The fields shown on the review page, in its order; each may carry a doubt.
FIELD_ORDER = (
    "supplier_name", "supplier_uid", "supplier_street", "supplier_building_number", "supplier_postal_code",
    "supplier_town", "supplier_country", "invoice_number", "invoice_date", "due_date", "currency", "total", "iban",
    "reference_type", "reference",
)  # fmt: skip
# Fields the QR code and the document text both give: a difference is a doubt.
CROSS_CHECKED = ("total", "iban", "reference", "currency", "invoice_number", "invoice_date", "supplier_uid")
PAGE_IMAGE_DPI = 150
Captures = SupplierInvoiceCapture.objects


# --- Receiving ----------------------------------------------------------------------------------------------


def _log(capture: SupplierInvoiceCapture, *, actor, action: str, **changes: Any) -> None:
    audit_record(actor=actor, company=capture.company, action=action, target=capture, changes=changes)


@transaction.atomic
def capture_receive(
    *, company: Company, data: bytes, filename: str, received_by: AbstractBaseUser
) -> tuple[SupplierInvoiceCapture, bool]:
    """Store a received document and queue its read; (capture, created).

    The same file received again for the company (not discarded) returns the first capture, unread again.
    Raises ValidationError with a reason a person can act on for a file the capture does not read.
    """
    try:
        kind = capture_qr.document_kind(data)
    except capture_qr.UnsupportedDocument as error:
        raise ValidationError(str(error), code="unsupported") from None
    digest = hashlib.sha256(data).hexdigest()
    existing = (
        Captures.filter(company=company, sha256=digest).exclude(status=SupplierInvoiceCapture.Status.DISCARDED).first()
    )
    if existing is not None:
        return existing, False
    name = os.path.basename(filename.replace("\\", "/")).replace("\x00", "")[:200] or f"document.{kind}"
    capture = SupplierInvoiceCapture(
        company=company, filename=name, kind=kind, size=len(data), sha256=digest, created_by=received_by
    )
    capture.document.save(f"{digest[:16]}.{kind}", ContentFile(data), save=False)
    capture.save()
    _log(capture, actor=received_by, action="capture.received", file=name, size=len(data))
    _read_start(capture, actor=received_by)
    return capture, True


def _read_start(capture: SupplierInvoiceCapture, *, actor) -> ActionRun:
    attempt = action_runs_for(capture).filter(action=READ_ACTION).count() + 1
    return actions.action_run_start(
        action=READ_ACTION, target=capture, company=capture.company, actor=actor,
        idempotency_key=f"{READ_ACTION}:{capture.pk}:{attempt}",
    )  # fmt: skip


def capture_read_run(capture: SupplierInvoiceCapture) -> ActionRun | None:
    return action_runs_for(capture).filter(action=READ_ACTION).order_by("-created_at", "-id").first()


def capture_read_runs(captures: list[SupplierInvoiceCapture]) -> dict[int, ActionRun]:
    """The latest read run of each capture, in one query (the inbox lists a page of them)."""
    runs = ActionRun.objects.filter(
        action=READ_ACTION, target_type=ContentType.objects.get_for_model(SupplierInvoiceCapture),
        target_id__in=[capture.pk for capture in captures],
    ).order_by("target_id", "-created_at", "-id")  # fmt: skip
    latest: dict[int, ActionRun] = {}
    for run in runs:
        latest.setdefault(run.target_id, run)
    return latest


@transaction.atomic
def capture_read_again(*, capture: SupplierInvoiceCapture, actor: AbstractBaseUser) -> ActionRun:
    """Read the document again (after a failure, or once OpenAI is configured); the person's work is not lost:
    nothing was saved from the capture yet."""
    capture = Captures.select_for_update().get(pk=capture.pk)
    if capture.status != SupplierInvoiceCapture.Status.TO_CHECK:
        raise ValidationError(
            _("This document is %(status)s: it is not read again.") % {"status": capture.get_status_display()}
        )
    run = capture_read_run(capture)
    if run is not None and not run.is_final:
        return run
    capture.status, capture.updated_at = SupplierInvoiceCapture.Status.READING, Now()
    capture.save(update_fields=["status", "updated_at"])
    if run is not None and run.status == ActionRun.Status.FAILED:
        return actions.action_run_retry(run=run, actor=actor)
    return _read_start(capture, actor=actor)


@transaction.atomic
def capture_discard(*, capture: SupplierInvoiceCapture, actor: AbstractBaseUser, reason: str) -> None:
    capture = Captures.select_for_update().get(pk=capture.pk)
    if capture.status not in SupplierInvoiceCapture.OPEN_STATUSES:
        raise ValidationError(_("Only a document still waiting can be discarded."))
    capture.status, capture.updated_at = SupplierInvoiceCapture.Status.DISCARDED, Now()
    capture.save(update_fields=["status", "updated_at"])
    _log(capture, actor=actor, action="capture.discarded", reason=reason.strip()[:300])


# --- Reading ------------------------------------------------------------------------------------------------


def _read_field(value: Any, *, source: str, confidence: float = 1.0, doubt: str = "") -> dict[str, Any]:
    return {"value": "" if value is None else str(value), "confidence": confidence, "source": source, "doubt": doubt}


def qr_fields(bill: capture_qr.SwissQrBill) -> tuple[dict[str, dict], list[dict]]:
    """The fields a Swiss QR-bill gives, each with confidence 1.0, and its VAT lines when its billing
    information details every rate with its net amount."""
    creditor = bill.creditor
    values = {
        "iban": bill.iban, "reference_type": bill.reference_type, "reference": bill.reference,
        "currency": bill.currency,
        "total": f"{bill.amount:.2f}" if bill.amount is not None else None, "supplier_name": creditor.name,
        "supplier_street": creditor.street, "supplier_building_number": creditor.building_number,
        "supplier_postal_code": creditor.postal_code, "supplier_town": creditor.town,
        "supplier_country": creditor.country,
    }  # fmt: skip
    lines: list[dict] = []
    billing = bill.billing
    if billing is not None:
        values.update({"invoice_number": billing.invoice_number, "supplier_uid": billing.vat_number,
                       "invoice_date": billing.invoice_date.isoformat() if billing.invoice_date else None})  # fmt: skip
        if billing.vat_details and all(net is not None for _rate, net in billing.vat_details):
            lines = [
                {"rate": str(rate), "net": str(net), "vat": str(vat.quantize_chf(net * rate / 100)), "source": "qr"}
                for rate, net in billing.vat_details
            ]
        terms = [days for discount, days in billing.payment_conditions if discount == 0]
        if terms and billing.invoice_date:
            values["due_date"] = (billing.invoice_date + dt.timedelta(days=terms[0])).isoformat()
    fields = {name: _read_field(value, source="qr") for name, value in values.items() if value not in (None, "")}
    return fields, lines


def _ocr_content(capture: SupplierInvoiceCapture, data: bytes, pages) -> list[dict[str, str]]:
    """The document as OpenAI reads it: a PDF whole, a photo as the upright page image (HEIC as JPEG)."""
    hint = openai_client.text_part(
        f"Supplier invoice received by {capture.company.name} (the customer, not the supplier)."
    )
    if capture.kind == SupplierInvoiceCapture.Kind.PDF:
        encoded = base64.b64encode(data).decode()
        return [hint, openai_client.file_part(capture.filename, f"data:application/pdf;base64,{encoded}")]
    parts = [hint]
    for page in pages:
        out = io.BytesIO()
        page.convert("RGB").save(out, "JPEG", quality=85)
        parts.append(openai_client.image_part(f"data:image/jpeg;base64,{base64.b64encode(out.getvalue()).decode()}"))
    return parts


def _ocr_read(capture: SupplierInvoiceCapture, data: bytes, pages) -> tuple[capture_ocr.OcrReading | None, str, str]:
    """(reading, model, problem); raises ProviderError for the run, after the caller stored the QR fields."""
    connection = usable_connection(capture.company, Provider.OPENAI)
    if connection is None:
        return None, "", ocr_unconfigured_text(capture.company)
    result = openai_connection.client_for(connection).structured_output(
        instructions=capture_ocr.INSTRUCTIONS, content=_ocr_content(capture, data, pages),
        schema_name=capture_ocr.SCHEMA_NAME, schema=capture_ocr.INVOICE_SCHEMA,
    )  # fmt: skip
    try:
        return capture_ocr.ocr_fields(result.data), result.model, ""
    except capture_ocr.OcrAnswerInvalid as error:
        raise PermanentProviderError(openai_client.PROVIDER, f"the answer does not fit the schema: {error}") from None


def ocr_unconfigured_text(company: Company) -> str:
    return _(
        "OpenAI is not configured for %(company)s: only the QR payment part was read, the other fields are yours "
        "to fill in."
    ) % {"company": company.name}


def merged_fields(
    qr: dict[str, dict], qr_lines: list[dict], reading: capture_ocr.OcrReading | None
) -> tuple[dict[str, dict], list[dict]]:
    """The QR fields win (they are exact); the document text fills the rest, and a difference is a doubt."""
    fields = dict(qr)
    lines = list(qr_lines)
    if reading is None:
        return fields, lines
    for name, read in reading.fields.items():
        if name in fields:
            if name in CROSS_CHECKED and _normal(read.value) != _normal(fields[name]["value"]):
                fields[name] = {**fields[name], "text_value": read.value, "doubt": _(
                    "The QR code says %(qr)s, the document text says %(text)s."
                ) % {"qr": fields[name]["value"], "text": read.value}}  # fmt: skip
            continue
        doubt = read.problem
        if not doubt and read.confidence < CONFIDENT:
            doubt = _("Read with low confidence (%(percent)s %%).") % {"percent": round(read.confidence * 100)}
        fields[name] = _read_field(read.value, source="ocr", confidence=read.confidence, doubt=doubt)
    if not lines and reading.vat_lines:
        lines = [{"rate": str(line.rate), "net": str(line.net), "vat": str(line.vat), "source": "ocr",
                  "confidence": reading.vat_lines_confidence} for line in reading.vat_lines]  # fmt: skip
    if reading.vat_lines_problem:
        lines = [{"rate": "", "net": "", "vat": "", "source": "ocr", "doubt": reading.vat_lines_problem}]
    return fields, lines


def _normal(value: str) -> str:
    return value.replace(" ", "").upper()


@actions.action_handler(READ_ACTION)
def _read(run: ActionRun) -> dict:
    capture = Captures.select_related("company").get(pk=run.target_id)
    # A retry finds the capture to check already (its QR fields stored by the failed attempt): it reads again.
    if capture.status not in SupplierInvoiceCapture.OPEN_STATUSES:
        return {"skipped": capture.status}
    with capture.document.open("rb") as handle:
        data = handle.read()
    try:
        pages = capture_qr.document_pages(data)
    except capture_qr.UnsupportedDocument as error:
        _store(capture, qr={}, qr_lines=[], qr_problem=str(error), reading=None, model="", ocr_problem="",
               actor=run.actor)  # fmt: skip
        raise ValidationError(str(error)) from None
    qr_problem = ""
    try:
        bill = capture_qr.qr_bill_from_pages(pages)
    except capture_qr.InvalidQrBill as error:
        bill, qr_problem = None, _("The Swiss QR code is not valid: %(error)s") % {"error": error}
    qr, qr_lines = qr_fields(bill) if bill is not None else ({}, [])
    if bill is None and not qr_problem:
        qr_problem = _("No Swiss QR code was found on the document.")
    try:
        reading, model, ocr_problem = _ocr_read(capture, data, pages)
    except ProviderError as error:
        # The QR part stays usable while the run retries (transient) or fails (permanent).
        _store(capture, qr=qr, qr_lines=qr_lines, qr_problem=qr_problem, reading=None, model="",
               ocr_problem=_("OpenAI did not read the document: %(error)s") % {"error": error.message},
               actor=run.actor, pages=len(pages), qr_found=bill is not None)  # fmt: skip
        raise
    capture = _store(capture, qr=qr, qr_lines=qr_lines, qr_problem=qr_problem, reading=reading, model=model,
                     ocr_problem=ocr_problem, actor=run.actor, pages=len(pages), qr_found=bill is not None)  # fmt: skip
    return {"qr": bill is not None, "ocr": reading is not None, "model": model,
            "prompt_version": capture_ocr.PROMPT_VERSION if reading else "",
            "doubtful": sorted(capture.doubtful())}  # fmt: skip


@transaction.atomic
def _store(
    capture: SupplierInvoiceCapture, *, qr: dict, qr_lines: list, qr_problem: str,
    reading: capture_ocr.OcrReading | None, model: str, ocr_problem: str, actor, pages: int = 0,
    qr_found: bool = False,
) -> SupplierInvoiceCapture:  # fmt: skip
    capture = Captures.select_for_update().select_related("company").get(pk=capture.pk)
    if capture.status not in SupplierInvoiceCapture.OPEN_STATUSES:
        return capture
    fields, lines = merged_fields(qr, qr_lines, reading)
    capture.fields, capture.vat_lines = fields, lines
    capture.qr_found, capture.qr_problem, capture.pages = qr_found, qr_problem[:300], pages
    capture.ocr_model = model[:80]
    capture.ocr_prompt_version = capture_ocr.PROMPT_VERSION if reading is not None else ""
    capture.ocr_problem = ocr_problem[:500]
    cross_check(capture)
    capture.status, capture.read_at, capture.updated_at = SupplierInvoiceCapture.Status.TO_CHECK, timezone.now(), Now()
    capture.save()
    _log(capture, actor=actor, action="capture.read", qr=qr_found, ocr=reading is not None, model=model,
         doubtful=sorted(capture.doubtful()))  # fmt: skip
    return capture


# --- Cross-checks -------------------------------------------------------------------------------------------


def _doubt(capture: SupplierInvoiceCapture, name: str, message: str) -> None:
    read = capture.fields.get(name) or _read_field("", source="check", confidence=0.0)
    read["doubt"] = f"{read['doubt']} {message}".strip() if read.get("doubt") else message
    capture.fields[name] = read


def _check(capture: SupplierInvoiceCapture, code: str, ok: bool, message: str) -> None:
    capture.checks.append({"code": code, "ok": ok, "message": message})


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _decimal(value: str) -> Decimal | None:
    try:
        return capture_ocr.amount_parse(value)
    except ValueError:
        return None


def rates_on(day: dt.date) -> dict[Decimal, str]:
    """The Swiss VAT rates in force on `day`, each with its code (8.1 → standard from 2024)."""
    rates = VatRate.objects.filter(valid_from__lte=day).filter(Q(valid_to__isnull=True) | Q(valid_to__gte=day))
    return {rate.rate.normalize(): rate.code for rate in rates}


def cross_check(capture: SupplierInvoiceCapture) -> None:
    """Mark the doubtful fields and list the checks, before a person sees the draft."""
    capture.checks = []
    for name in ("supplier_name", "invoice_number", "invoice_date", "total", "iban"):
        if not capture.value(name):
            _doubt(capture, name, _("Not read: fill it in from the document."))
    invoice_date = _date(capture.value("invoice_date"))
    total = _decimal(capture.value("total"))
    _check_vat_lines(capture, invoice_date=invoice_date, total=total)
    due_date = _date(capture.value("due_date"))
    if not capture.value("due_date"):
        _doubt(capture, "due_date", _("No due date read: check the payment terms."))
    elif due_date is not None and invoice_date is not None and due_date < invoice_date:
        _doubt(capture, "due_date", _("The due date is before the invoice date."))
    _check_qr(capture)
    supplier = _match_supplier(capture)
    if supplier is not None:
        _check_duplicate(capture, supplier, total=total)
        _check_deviation(capture, supplier, invoice_date=invoice_date)


def _check_vat_lines(capture: SupplierInvoiceCapture, *, invoice_date: dt.date | None, total: Decimal | None) -> None:
    lines = [line for line in capture.vat_lines if not line.get("doubt")]
    if not lines:
        message = next((line["doubt"] for line in capture.vat_lines if line.get("doubt")), "") or _(
            "No VAT lines read: enter them from the document."
        )
        _check(capture, "vat_sum", False, message)
        return
    amounts = [(_decimal(line["net"]), _decimal(line["vat"])) for line in lines]
    if total is not None and all(net is not None and tax is not None for net, tax in amounts):
        summed = sum((net + tax for net, tax in amounts), Decimal("0.00"))
        ok = abs(summed - total) <= TOLERANCE
        message = (
            _("The VAT lines add up to the total (%(sum)s).") % {"sum": summed} if ok
            else _("The VAT lines add up to %(sum)s, the total is %(total)s.") % {"sum": summed, "total": total}
        )  # fmt: skip
        _check(capture, "vat_sum", ok, message)
        if not ok:
            _doubt(capture, "total", message)
            for line in capture.vat_lines:
                line["doubt"] = message
    if invoice_date is None:
        return
    valid = rates_on(invoice_date)
    listed = ", ".join(f"{rate}" for rate in sorted(valid, reverse=True))
    for line in lines:
        rate = Decimal(line["rate"]).normalize()
        code = valid.get(rate)
        line["vat_code"] = code or ""
        if code is None:
            message = _("%(rate)s %% is not a Swiss VAT rate on %(date)s (%(rates)s).") % {
                "rate": line["rate"], "date": invoice_date.strftime("%d.%m.%Y"), "rates": listed}  # fmt: skip
            line["doubt"] = f"{line.get('doubt', '')} {message}".strip()
            _check(capture, "vat_rate", False, message)


def _check_qr(capture: SupplierInvoiceCapture) -> None:
    if not capture.qr_found:
        return
    disagreements = [name for name in CROSS_CHECKED if "text_value" in capture.fields.get(name, {})]
    if capture.ocr_model:
        _check(capture, "qr_agrees", not disagreements, _("The QR code and the document text agree.") if not
               disagreements else _("The QR code and the document text differ: %(fields)s.")
               % {"fields": ", ".join(disagreements)})  # fmt: skip


def _match_supplier(capture: SupplierInvoiceCapture) -> Supplier | None:
    suppliers = Supplier.objects.filter(company=capture.company)
    uid, iban, name = capture.value("supplier_uid"), capture.value("iban"), capture.value("supplier_name").strip()
    for match, found in (
        (SupplierInvoiceCapture.SupplierMatch.UID, suppliers.filter(che_uid=uid).first() if uid else None),
        (SupplierInvoiceCapture.SupplierMatch.IBAN, suppliers.filter(iban=iban).first() if iban else None),
        (SupplierInvoiceCapture.SupplierMatch.NAME, suppliers.filter(name__iexact=name).first() if name else None),
    ):
        if found is not None:
            capture.supplier, capture.supplier_match = found, match
            _check(capture, "supplier", True, _("Supplier %(name)s found %(how)s.")
                   % {"name": found.name, "how": SupplierInvoiceCapture.SupplierMatch(match).label})  # fmt: skip
            if iban and found.iban != iban:
                _doubt(capture, "iban", _("Not the IBAN on file for %(name)s (%(iban)s): check before paying.")
                       % {"name": found.name, "iban": found.iban_display})  # fmt: skip
            return found
    capture.supplier = None
    capture.supplier_match = (
        SupplierInvoiceCapture.SupplierMatch.NEW if name else SupplierInvoiceCapture.SupplierMatch.NONE
    )
    if name:
        _check(
            capture,
            "supplier",
            False,
            _("No supplier of %(company)s has this UID, IBAN or name: a new supplier is proposed with the data read.")
            % {"company": capture.company.name},
        )
        _doubt(capture, "supplier_name", _("New supplier: check the name and address before saving."))
    return None


def _probe_invoice(capture: SupplierInvoiceCapture, supplier: Supplier, *, total: Decimal | None) -> SupplierInvoice:
    """An unsaved invoice with what was read, for the duplicate and deviation rules of the purchase service."""
    net = sum((_decimal(line["net"]) or Decimal("0") for line in capture.vat_lines if line.get("net")), Decimal("0"))
    return SupplierInvoice(
        company=capture.company, supplier=supplier, supplier_number=capture.value("invoice_number"),
        creditor_iban=capture.value("iban"), payment_reference=capture.value("reference"),
        gross_total=total if total is not None else Decimal("0"), net_total=net,
        project=proposed_project(capture, supplier),
    )  # fmt: skip


def _check_duplicate(capture: SupplierInvoiceCapture, supplier: Supplier, *, total: Decimal | None) -> None:
    existing = purchases.supplier_invoice_duplicate(_probe_invoice(capture, supplier, total=total))
    if existing is None:
        _check(capture, "duplicate", True, _("Not entered before."))
        return
    message = _("Entered already: %(supplier)s %(number)s of %(date)s, %(currency)s %(amount)s.") % {
        "supplier": existing.supplier.name, "number": existing.supplier_number,
        "date": existing.invoice_date.strftime("%d.%m.%Y"), "currency": existing.currency,
        "amount": existing.gross_total,
    }  # fmt: skip
    capture.checks.append({"code": "duplicate", "ok": False, "message": message, "url": existing.get_absolute_url()})
    _doubt(capture, "invoice_number", message)


def proposed_project(capture: SupplierInvoiceCapture, supplier: Supplier | None) -> Project | None:
    """The one open project the supplier is assigned to with an accepted quote, if there is exactly one."""
    if supplier is None:
        return None
    assignments = (
        ProviderAssignment.objects.filter(supplier=supplier, project__company=capture.company)
        .exclude(project__status__in=[Project.Status.CLOSED, Project.Status.CANCELLED])
        .select_related("project")[:2]
    )
    return assignments[0].project if len(assignments) == 1 else None


def _check_deviation(capture: SupplierInvoiceCapture, supplier: Supplier, *, invoice_date) -> None:
    probe = _probe_invoice(capture, supplier, total=_decimal(capture.value("total")))
    deviation = purchases.supplier_invoice_deviation(probe) if probe.project_id else None
    if deviation is None:
        return
    ok = not (deviation.blocks or deviation.warns)
    _check(capture, "deviation", ok, _(
        "%(percent)s %% against the accepted quote of %(supplier)s on %(project)s (%(agreed)s agreed, "
        "%(invoiced)s invoiced with this one)."
    ) % {"percent": deviation.percent, "supplier": supplier.name, "project": probe.project.name,
         "agreed": deviation.agreed, "invoiced": deviation.invoiced})  # fmt: skip
    if not ok:
        _doubt(capture, "total", _("Over the provider's accepted quote by %(percent)s %%.")
               % {"percent": deviation.percent})  # fmt: skip


# --- Saving -------------------------------------------------------------------------------------------------


def review_initial(capture: SupplierInvoiceCapture) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The supplier-invoice form and its VAT lines, filled from what was read."""
    reference_type = capture.value("reference_type") or (
        "SCOR" if capture.value("reference").startswith("RF") else ("QRR" if capture.value("reference") else "NON")
    )
    supplier = capture.supplier
    initial = {
        "supplier": supplier.pk if supplier else None, "supplier_number": capture.value("invoice_number"),
        "invoice_date": capture.value("invoice_date"), "due_date": capture.value("due_date"),
        "currency": capture.value("currency") or (supplier.currency if supplier else "CHF"),
        "creditor_iban": capture.value("iban"), "reference_type": reference_type,
        "payment_reference": capture.value("reference"),
        "project": (project.pk if (project := proposed_project(capture, supplier)) else None),
    }  # fmt: skip
    lines = [
        {"net_amount": line["net"], "vat_code": line.get("vat_code") or VatCode.STANDARD, "description": "",
         "input_vat_recoverable": True}
        for line in capture.vat_lines if line.get("net")
    ]  # fmt: skip
    return initial, lines


def new_supplier_initial(capture: SupplierInvoiceCapture) -> dict[str, str]:
    return {
        "name": capture.value("supplier_name"), "street": capture.value("supplier_street"),
        "building_number": capture.value("supplier_building_number"),
        "postal_code": capture.value("supplier_postal_code"), "town": capture.value("supplier_town"),
        "country": capture.value("supplier_country") or "CH", "che_uid": capture.value("supplier_uid"),
        "iban": capture.value("iban"), "currency": capture.value("currency") or "CHF",
    }  # fmt: skip


@transaction.atomic
def capture_save(
    *, capture: SupplierInvoiceCapture, saved_by: AbstractBaseUser, supplier: Supplier | None,
    new_supplier: dict[str, Any] | None, lines: list[purchases.SupplierLineInput], submit: bool, **fields: Any,
) -> SupplierInvoice:  # fmt: skip
    """Save the checked draft as a supplier invoice (and the proposed supplier, when asked), the original
    document attached; with `submit`, put it in the approval queue. Everything or nothing."""
    capture = Captures.select_for_update().select_related("company").get(pk=capture.pk)
    if capture.status != SupplierInvoiceCapture.Status.TO_CHECK:
        raise ValidationError(
            _("This document is %(status)s: it cannot be saved.") % {"status": capture.get_status_display()}
        )
    if supplier is None:
        if new_supplier is None:
            raise ValidationError({"supplier": _("Choose the supplier, or create the one proposed.")})
        supplier = purchases.supplier_create(company=capture.company, created_by=saved_by, **new_supplier)
    if supplier.company_id != capture.company_id:
        raise ValidationError({"supplier": _("The supplier belongs to another company.")})
    invoice = purchases.supplier_invoice_create(
        supplier=supplier, created_by=saved_by, lines=lines, source_document=capture.document.name, **fields
    )
    corrected = _corrections(capture, invoice)
    capture.status, capture.supplier_invoice, capture.supplier = SupplierInvoiceCapture.Status.SAVED, invoice, supplier
    capture.updated_at = Now()
    capture.save(update_fields=["status", "supplier_invoice", "supplier", "updated_at"])
    _log(capture, actor=saved_by, action="capture.saved", invoice=str(invoice), corrected=corrected)
    if submit:
        invoice = purchases.supplier_invoice_submit(invoice=invoice, submitted_by=saved_by)
    return invoice


def _corrections(capture: SupplierInvoiceCapture, invoice: SupplierInvoice) -> dict[str, dict[str, str]]:
    """What the person changed from what was read: the audit trail of the reading's quality."""
    saved = {
        "invoice_number": invoice.supplier_number, "invoice_date": invoice.invoice_date.isoformat(),
        "due_date": invoice.due_date.isoformat(), "currency": invoice.currency, "total": f"{invoice.gross_total:.2f}",
        "iban": invoice.creditor_iban, "reference": invoice.payment_reference,
    }  # fmt: skip
    return {
        name: {"from": capture.value(name), "to": value}
        for name, value in saved.items()
        if capture.value(name) and capture.value(name) != value
    }
