"""What OpenAI Vision is asked about a supplier invoice, and how its answer is checked field by field.

Pure functions, no database, no HTTP: `INVOICE_SCHEMA` is the strict JSON schema of the answer (every field a
value with the model's own confidence from 0 to 1), `INSTRUCTIONS` the prompt, and `ocr_fields` turns an
answer into `ReadField`s, normalised (dates ISO, amounts to the centime, UID CHE-123.456.789, IBAN compact).
A value that does not parse is kept as read, with confidence 0 and the problem named, so the person checking
sees what the model saw; an answer whose shape breaks the schema raises `OcrAnswerInvalid`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from finance import identifiers

# Stored with every reading: a change of the prompt or the schema is a new version.
PROMPT_VERSION = "supplier-invoice-2026-12"
SCHEMA_NAME = "supplier_invoice"
CENTIME = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999.99")

TEXT_FIELDS = (
    "supplier_name", "supplier_uid", "supplier_street", "supplier_building_number", "supplier_postal_code",
    "supplier_town", "supplier_country", "invoice_number", "invoice_date", "due_date", "currency", "total", "iban",
    "reference",
)  # fmt: skip
DATE_FIELDS = ("invoice_date", "due_date")
AMOUNT_FIELDS = ("total",)


def _field(description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "value": {"type": ["string", "null"], "description": description},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1,
                           "description": "How sure the reading is: 1 printed clearly, 0 guessed"},
        },
        "required": ["value", "confidence"],
        "additionalProperties": False,
    }  # fmt: skip


DESCRIPTIONS = {
    "supplier_name": "Legal name of the company that issued the invoice (not the customer)",
    "supplier_uid": "Swiss UID of the issuer, CHE-123.456.789, without MWST/TVA/IVA",
    "supplier_street": "Issuer's street, without the number",
    "supplier_building_number": "Issuer's building number",
    "supplier_postal_code": "Issuer's postal code",
    "supplier_town": "Issuer's town",
    "supplier_country": "Issuer's country, ISO 3166 alpha-2 (CH, FR, DE…)",
    "invoice_number": "The issuer's invoice number",
    "invoice_date": "Invoice date, YYYY-MM-DD",
    "due_date": "Due date, YYYY-MM-DD; null when only a term such as 30 days is printed",
    "currency": "ISO 4217 code of the amounts (CHF, EUR)",
    "total": "Total to pay including VAT, digits with a dot, e.g. 1299.60",
    "iban": "IBAN or QR-IBAN to pay to",
    "reference": "Payment reference (27-digit QR reference or RF creditor reference), null if none",
}
VAT_LINE = {
    "type": "object",
    "properties": {
        "rate": {"type": "string", "description": "VAT rate in percent, e.g. 8.1"},
        "net": {"type": "string", "description": "Amount before VAT at this rate, e.g. 1200.00"},
        "vat": {"type": "string", "description": "VAT amount at this rate, e.g. 97.20"},
    },
    "required": ["rate", "net", "vat"],
    "additionalProperties": False,
}
INVOICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **{name: _field(DESCRIPTIONS[name]) for name in TEXT_FIELDS},
        "vat_lines": {
            "type": "object",
            "properties": {
                "lines": {"type": "array", "items": VAT_LINE, "description": "One line per VAT rate on the invoice"},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            },
            "required": ["lines", "confidence"],
            "additionalProperties": False,
        },
    },
    "required": [*TEXT_FIELDS, "vat_lines"],
    "additionalProperties": False,
}
INSTRUCTIONS = (
    "You read one supplier invoice received by a Swiss company. Extract the fields of the schema exactly as "
    "printed: do not compute or invent values; a field that is not on the document is null with confidence 0. "
    "Amounts are plain decimals with a dot (1299.60, not 1'299.60). Give each field your confidence that it is "
    "read correctly."
)


class OcrAnswerInvalid(ValueError):
    """The answer does not have the schema's shape; str(error) names the first thing wrong."""


@dataclass(frozen=True)
class ReadField:
    value: str
    confidence: float
    problem: str = ""


@dataclass(frozen=True)
class VatLineRead:
    rate: Decimal
    net: Decimal
    vat: Decimal


@dataclass(frozen=True)
class OcrReading:
    fields: dict[str, ReadField]
    vat_lines: tuple[VatLineRead, ...]
    vat_lines_confidence: float
    vat_lines_problem: str = ""


def ocr_fields(answer: Any) -> OcrReading:
    """The checked reading of an answer; fields read as null are left out."""
    if not isinstance(answer, dict):
        raise OcrAnswerInvalid("the answer is not a JSON object")
    fields: dict[str, ReadField] = {}
    for name in TEXT_FIELDS:
        item = answer.get(name)
        if not isinstance(item, dict) or "value" not in item:
            raise OcrAnswerInvalid(f"{name} is missing or not an object with a value")
        value, confidence = item["value"], _confidence(item.get("confidence"), name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if not isinstance(value, str):
            raise OcrAnswerInvalid(f"{name} is not a string")
        fields[name] = _normalised(name, value.strip()[:140], confidence)
    lines, lines_confidence, lines_problem = _vat_lines(answer.get("vat_lines"))
    return OcrReading(fields=fields, vat_lines=lines, vat_lines_confidence=lines_confidence,
                      vat_lines_problem=lines_problem)  # fmt: skip


def _confidence(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise OcrAnswerInvalid(f"the confidence of {name} is not a number from 0 to 1")
    return round(float(value), 3)


def _normalised(name: str, value: str, confidence: float) -> ReadField:
    try:
        if name in DATE_FIELDS:
            return ReadField(dt.date.fromisoformat(value).isoformat(), confidence)
        if name in AMOUNT_FIELDS:
            return ReadField(str(amount_parse(value)), confidence)
        if name == "supplier_uid":
            return ReadField(identifiers.normalize_che_uid(value), confidence)
        if name == "iban":
            return ReadField(identifiers.parse_iban(value).compact, confidence)
        if name == "currency":
            return _listed(value.upper(), ("CHF", "EUR"), confidence)
        if name == "supplier_country":
            return _listed(value.upper(), None, confidence)
        if name == "reference":
            return ReadField(value.replace(" ", "").upper(), confidence)
    except (ValueError, ValidationError):
        return ReadField(value, 0.0, _("Not readable as %(kind)s.") % {"kind": _kind(name)})
    return ReadField(value, confidence)


def _listed(value: str, allowed: tuple[str, ...] | None, confidence: float) -> ReadField:
    if (allowed is not None and value not in allowed) or not re.fullmatch(r"[A-Z]{2,3}", value):
        raise ValueError(value)
    return ReadField(value, confidence)


def _kind(name: str) -> str:
    kinds = {"invoice_date": _("a date"), "due_date": _("a date"), "total": _("an amount"),
             "supplier_uid": _("a Swiss UID"), "iban": _("an IBAN"), "currency": _("a currency code"),
             "supplier_country": _("a country code")}  # fmt: skip
    return kinds.get(name, name)


def amount_parse(text: str) -> Decimal:
    """An amount as printed by a model or on a Swiss invoice (1'299.60, 1 299,60, 1299.6) to the centime."""
    cleaned = re.sub(r"[\s'’]", "", text)
    if re.fullmatch(r"-?\d+,\d{1,2}", cleaned):
        cleaned = cleaned.replace(",", ".")
    if not re.fullmatch(r"\d{1,9}(\.\d{1,2})?", cleaned):
        raise ValueError(text)
    try:
        amount = Decimal(cleaned).quantize(CENTIME)
    except InvalidOperation:
        raise ValueError(text) from None
    if amount > MAX_AMOUNT:
        raise ValueError(text)
    return amount


def _vat_lines(item: Any) -> tuple[tuple[VatLineRead, ...], float, str]:
    if not isinstance(item, dict) or not isinstance(item.get("lines"), list):
        raise OcrAnswerInvalid("vat_lines is missing or has no list of lines")
    confidence = _confidence(item.get("confidence"), "vat_lines")
    lines = []
    for position, line in enumerate(item["lines"][:20], start=1):
        if not isinstance(line, dict) or not all(isinstance(line.get(key), str) for key in ("rate", "net", "vat")):
            raise OcrAnswerInvalid(f"VAT line {position} is not an object of rate, net and vat strings")
        try:
            rate = Decimal(line["rate"].replace("%", "").replace(",", ".").strip())
            if not rate.is_finite() or not 0 <= rate < 100:
                raise ValueError(line["rate"])
            lines.append(VatLineRead(rate=rate, net=amount_parse(line["net"]), vat=amount_parse(line["vat"])))
        except (ValueError, InvalidOperation):
            return (), 0.0, _("VAT line %(position)s is not readable: %(line)s") % {
                "position": position, "line": f"{line['rate']} % · {line['net']} · {line['vat']}"}  # fmt: skip
    return tuple(lines), confidence, ""
