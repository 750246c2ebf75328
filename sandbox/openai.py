"""The OpenAI sandbox: a stand-in for the Responses API and the models list, with no intelligence at all.

An answer's output text is JSON built from the request's schema alone: an enum gives its first value, an
integer a value within its bounds chosen from a hash of the input (the same input, the same number), a
string the start of the input text, an object each of its properties. Tests and the demo may queue
scripted answers per API key: a given output text (e.g. invalid JSON) or an HTTP error.

Asked to read a supplier invoice (the `supplier_invoice` schema), it answers like a model that read the
attached PDF: the supplier is its letterhead, every other field is found by its printed label (French, German
or English) in the PDF's text layer. A photo, a scan without a text layer or a file that does not decode is
"no text", and every field is then null with confidence 0.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pypdfium2

from finance.capture_ocr import SCHEMA_NAME as INVOICE_SCHEMA_NAME
from finance.capture_ocr import TEXT_FIELDS as INVOICE_TEXT_FIELDS
from finance.capture_qr import PDFIUM_LOCK
from sandbox.store import JsonStore

store = JsonStore("hv:sandbox:openai")
MODELS = ("gpt-4.1-mini", "gpt-4.1", "gpt-4o-mini")
# Characters of the input a generated string repeats.
STRING_CHARS = 120

# What a model reading an invoice says of a field printed next to its label, and of the VAT summary table.
FOUND_CONFIDENCE = 0.95
VAT_LINES_CONFIDENCE = 0.9
PDF_DATA_URL_PREFIX = "data:application/pdf;base64,"
PRINTED_DATE = r"(\d{1,2})\.(\d{1,2})\.(\d{4})"
PRINTED_AMOUNT = r"(\d[\d'’ ]*[.,]\d{2})"
# The letterhead's second line: "street number, postal-code town", maybe followed by "· UID …".
SUPPLIER_ADDRESS = re.compile(r"(.+?)\s+(\d[\w/-]*),\s*(\d{4,5})\s+([^·,]+?)\s*(?:·|$)")
# The patterns below run on the text layer joined one trimmed line per line: ^ and $ are a printed line's ends.
SUPPLIER_UID = re.compile(r"\bCHE[-\s]?(\d{3})[.\s]?(\d{3})[.\s]?(\d{3})\b")
INVOICE_NUMBER = re.compile(
    r"^(?:Facture|Rechnung|Invoice)(?:\s*(?:n°|N°|No\.?|Nr\.?|numéro|Nummer|number))?[\s:]+([0-9A-Za-z][\w./-]*)$",
    re.MULTILINE,
)
INVOICE_DATE = re.compile(rf"(?:Date de facture|Rechnungsdatum|Invoice date)\s*:?\s*{PRINTED_DATE}")
DUE_DATE = re.compile(rf"(?:Échéance|Fällig\w*(?: am)?|Zahlbar bis|Due date)\s*:?\s*{PRINTED_DATE}")
TOTAL = re.compile(rf"^Total\b.*?\b(CHF|EUR)\s*:?\s*{PRINTED_AMOUNT}$", re.MULTILINE)
IBAN = re.compile(r"\bIBAN\s*:?\s*([A-Z]{2}\d{2}(?: ?[0-9A-Z]{1,4})+)(?![0-9A-Za-z])")
# "TVA 8.1 % sur CHF 1'200.00 97.20": the rate, the net amount it applies to, the VAT.
VAT_LINE = re.compile(
    rf"^(?:TVA|MWST|MwSt\.?|VAT)\s+(\d{{1,2}}(?:[.,]\d{{1,2}})?)\s*%\s+(?:sur|auf|on)\s+(?:CHF|EUR)"
    rf"\s+{PRINTED_AMOUNT}\s+{PRINTED_AMOUNT}$",
    re.MULTILINE,
)
# A QR reference as printed (27 digits, in groups of 2 and 5×5 or compact) or an RF creditor reference (in
# groups of four or compact); checked compact against REFERENCE, which also bounds the RF reference's length.
PRINTED_REFERENCE = re.compile(r"(?<!\d)\d{2}(?: ?\d{5}){5}(?!\d)|\bRF\d{2}(?: ?[0-9A-Z]{1,4})+(?![0-9A-Z])")
REFERENCE = re.compile(r"\d{27}|RF\d{2}[0-9A-Z]{1,21}")
# The QR-bill's payment part begins with its receipt, titled in the bill's language; everything above is the letter.
RECEIPT_HEADING = re.compile(r"^(?:Récépissé|Empfangsschein|Receipt|Ricevuta)$", re.MULTILINE)
REFERENCE_HEADING = re.compile(r"Référence|Referenz|Reference|Riferimento")


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, error_type: str = "invalid_request_error", code=None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": error_type, "param": None, "code": code}}


def key_add(api_key: str) -> None:
    """Accept this API key (the connect command registers one per company)."""
    store.add_to_set("keys", api_key)


def authenticate(authorization: str) -> str:
    api_key = authorization.removeprefix("Bearer ").strip()
    if not authorization.startswith("Bearer ") or api_key not in store.set_members("keys"):
        raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
    return api_key


def script_push(api_key: str, *, status: int = 200, output_text: str | None = None) -> None:
    """Queue the next answer for this key: an HTTP error (`status` ≥ 400) or a given output text."""
    queue = store.get(f"script:{api_key}") or []
    queue.append({"status": status, "output_text": output_text})
    store.put(f"script:{api_key}", queue)


def _script_pop(api_key: str) -> dict | None:
    queue = store.get(f"script:{api_key}") or []
    if not queue:
        return None
    store.put(f"script:{api_key}", queue[1:])
    return queue[0]


def models_list() -> dict:
    return {"object": "list", "data": [{"id": model, "object": "model", "created": 1715367049,
                                         "owned_by": "system"} for model in MODELS]}  # fmt: skip


def _input_text(body: dict) -> str:
    parts: list[str] = []
    source = body.get("input")
    if isinstance(source, str):
        return source
    for message in source or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and part.get("type") == "input_text":
                parts.append(str(part.get("text", "")))
    return "\n".join(parts)


def instance_of(schema: dict, text: str, path: str = "") -> Any:
    """A value conforming to `schema`, from the schema and the input text only."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return instance_of(schema["anyOf"][0], text, path)
    seed = int(hashlib.sha256(f"{path}:{text}".encode()).hexdigest(), 16)
    if kind == "object":
        return {name: instance_of(sub, text, f"{path}.{name}") for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [instance_of(schema.get("items", {}), text, f"{path}[0]")]
    if kind == "integer":
        low, high = schema.get("minimum", 0), schema.get("maximum", 100)
        return low + seed % (high - low + 1)
    if kind == "number":
        return float(schema.get("minimum", 0))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return " ".join(text.split())[:STRING_CHARS] or "sandbox"


def invoice_reading(body: dict) -> dict:
    """The `supplier_invoice` answer to `body`: the fields printed in the text layer of its first PDF."""
    text = "\n".join(line.strip() for line in _pdf_text(_first_pdf(body)).splitlines() if line.strip())
    lines = text.split("\n")
    heading = RECEIPT_HEADING.search(text)
    letter, payment_part = (text[: heading.start()], text[heading.start() :]) if heading else (text, "")
    address = SUPPLIER_ADDRESS.match(lines[1]) if len(lines) > 1 else None
    street, building_number, postal_code, town = address.groups() if address else (None, None, None, None)
    uid, number, iban = SUPPLIER_UID.search(text), INVOICE_NUMBER.search(text), IBAN.search(text)
    # The last total is the one to pay: a "Total net" line, when printed, comes before the VAT.
    totals = TOTAL.findall(text)
    currency, total = totals[-1] if totals else (None, None)
    values = {
        "supplier_name": lines[0] or None,
        "supplier_uid": "CHE-{}.{}.{}".format(*uid.groups()) if uid else None,
        "supplier_street": street,
        "supplier_building_number": building_number,
        "supplier_postal_code": postal_code,
        "supplier_town": town,
        # The Hub's suppliers are Swiss or from France and Germany (five digits): four digits is taken as Swiss.
        "supplier_country": "CH" if postal_code and len(postal_code) == 4 else None,
        "invoice_number": number.group(1) if number else None,
        "invoice_date": _iso_date(INVOICE_DATE.search(text)),
        "due_date": _iso_date(DUE_DATE.search(text)),
        "currency": currency,
        "total": _plain_amount(total) if total else None,
        "iban": iban.group(1).replace(" ", "") if iban else None,
        "reference": _letter_reference(letter) or _payment_part_reference(payment_part),
    }
    vat_lines = [
        {"rate": rate.replace(",", "."), "net": _plain_amount(net), "vat": _plain_amount(vat)}
        for rate, net, vat in VAT_LINE.findall(text)
    ]
    return {
        **{
            name: {"value": values[name], "confidence": FOUND_CONFIDENCE if values[name] else 0.0}
            for name in INVOICE_TEXT_FIELDS
        },
        "vat_lines": {"lines": vat_lines, "confidence": VAT_LINES_CONFIDENCE if vat_lines else 0.0},
    }


def _content_parts(body: dict) -> Iterator[dict]:
    source = body.get("input")
    for message in source if isinstance(source, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            yield from (part for part in content if isinstance(part, dict))


def _first_pdf(body: dict) -> bytes:
    """The bytes of the first PDF sent as a data URL; b"" when there is none or it does not decode."""
    for part in _content_parts(body):
        data_url = part.get("file_data") if part.get("type") == "input_file" else None
        if isinstance(data_url, str) and data_url.startswith(PDF_DATA_URL_PREFIX):
            try:
                return base64.b64decode(data_url.removeprefix(PDF_DATA_URL_PREFIX), validate=True)
            except ValueError:
                return b""
    return b""


def _pdf_text(data: bytes) -> str:
    """The text layer of every page; "" for bytes pdfium cannot read (a scan has an empty text layer)."""
    with PDFIUM_LOCK:
        return _pdf_text_locked(data)


def _pdf_text_locked(data: bytes) -> str:
    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        return ""
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    except pypdfium2.PdfiumError:
        return ""
    finally:
        # Closing the document closes its pages and text pages too.
        document.close()


def _iso_date(found: re.Match | None) -> str | None:
    if found is None:
        return None
    day, month, year = (int(group) for group in found.groups())
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def _plain_amount(printed: str) -> str:
    """1'397.20, 1 397.20 or 1397,20 as 1397.20."""
    return re.sub(r"[\s'’]", "", printed).replace(",", ".")


def _letter_reference(letter: str) -> str | None:
    for printed in PRINTED_REFERENCE.finditer(letter):
        if REFERENCE.fullmatch(compact := printed.group().replace(" ", "")):
            return compact
    return None


def _payment_part_reference(payment_part: str) -> str | None:
    """The reference printed in groups on the line below the payment part's "Référence" heading."""
    lines = payment_part.split("\n")
    for heading, value in zip(lines, lines[1:], strict=False):
        if REFERENCE_HEADING.fullmatch(heading) and REFERENCE.fullmatch(compact := value.replace(" ", "")):
            return compact
    return None


def response_create(api_key: str, body: dict) -> dict:
    """The Responses API's answer to `body` (or the scripted one queued for this key)."""
    if not isinstance(body, dict) or not body.get("model") or "input" not in body:
        raise ApiError(400, "Missing required parameter: 'model' and 'input'.")
    text_format = (body.get("text") or {}).get("format") or {"type": "text"}
    scripted = _script_pop(api_key)
    if scripted and scripted["status"] >= 400:
        raise ApiError(scripted["status"], "The server had an error while processing your request.",
                       error_type="server_error")  # fmt: skip
    if scripted and scripted["output_text"] is not None:
        output_text = scripted["output_text"]
    elif text_format.get("type") == "json_schema" and text_format.get("name") == INVOICE_SCHEMA_NAME:
        output_text = json.dumps(invoice_reading(body), ensure_ascii=False)
    elif text_format.get("type") == "json_schema":
        output_text = json.dumps(instance_of(text_format.get("schema") or {}, _input_text(body)), ensure_ascii=False)
    else:
        output_text = _input_text(body)[:STRING_CHARS]
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    now = int(time.time())
    return {
        "id": f"resp_{digest[:48]}", "object": "response", "created_at": now, "status": "completed",
        "error": None, "incomplete_details": None, "model": body["model"],
        "output": [{"type": "message", "id": f"msg_{digest[8:56]}", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "annotations": [], "text": output_text}]}],
        "parallel_tool_calls": True, "previous_response_id": None, "store": True, "temperature": 1.0, "top_p": 1.0,
        "text": {"format": text_format}, "tool_choice": "auto", "tools": [], "truncation": "disabled", "metadata": {},
        "usage": {"input_tokens": len(json.dumps(body)) // 4, "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens": len(output_text) // 4, "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": (len(json.dumps(body)) + len(output_text)) // 4},
    }  # fmt: skip
