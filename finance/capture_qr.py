"""A supplier invoice's Swiss QR payment part, read deterministically from its PDF or photo.

Pure functions, no database: `document_kind` tells a PDF, JPEG, PNG or HEIC by its content, `document_pages`
renders PDF pages (pypdfium2) or loads the photo upright, `qr_payloads` decodes every QR code (zxing-cpp,
retrying a page in grayscale, binarised and rescaled when the first pass finds no Swiss QR code), and
`spc_parse` reads an SPC payload strictly after SIX's Swiss Implementation Guidelines QR-bill v2.3, with the
Swico billing information (S1 syntax). `qr_bill_read` chains them. Every refusal is an exception whose text a
user can read: `UnsupportedDocument` for the file, `InvalidQrBill` for the payment part.
"""

from __future__ import annotations

import io
import re
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from PIL import Image, ImageFilter, ImageOps
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum import iso11649
from stdnum.ch import esr
from stdnum.ch import uid as che_uid

MAX_DOCUMENT_BYTES = 15 * 1024 * 1024
# A rendered page or a photo larger than this many pixels is scaled down before decoding: a QR-bill's code
# is 46 × 46 mm, which needs no more than ~300 dpi, and a 5 m poster-sized PDF page must not exhaust memory.
MAX_PAGE_PIXELS = 40_000_000
# Larger images are refused before they are decoded (a 15 MB PNG can hold gigapixels of one colour).
MAX_IMAGE_PIXELS = 150_000_000

QR_IID = range(30000, 32000)
QR_IBAN_COUNTRIES = ("CH", "LI")
CURRENCIES = ("CHF", "EUR")
MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999.99")
AMOUNT = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")
QRR = re.compile(r"[0-9]{27}")
SCOR = re.compile(r"RF[0-9]{2}[0-9A-Z]{1,21}")
COUNTRY = re.compile(r"[A-Z]{2}")
YYMMDD = re.compile(r"[0-9]{6}")
# Line counts of an SPC payload: 31 elements up to the trailer "EPD", then the optional billing information
# and up to two alternative procedures.
MIN_LINES = 31
MAX_LINES = 34
TRAILER_INDEX = 30


# PDFium is not thread-safe: every use in one process (the web server renders page previews while the OpenAI
# sandbox, served by the same process, reads a PDF's text) goes through this lock.
PDFIUM_LOCK = threading.RLock()


class UnsupportedDocument(ValueError):
    """The uploaded file is not a document the capture reads; str(error) says why, for the user."""


class InvalidQrBill(ValueError):
    """A Swiss QR code (SPC) breaks the QR-bill standard; str(error) names the field, for the user."""


@dataclass(frozen=True)
class QrAddress:
    name: str
    street: str
    building_number: str
    postal_code: str
    town: str
    country: str


@dataclass(frozen=True)
class QrBillingInfo:
    """Swico's structured billing information, syntax S1 (`//S1/10/…/11/…`)."""

    invoice_number: str = ""
    invoice_date: date | None = None
    customer_reference: str = ""
    vat_number: str = ""  # CHE-123.456.789
    vat_date: date | None = None  # the date of the supply, or the first day of its period
    # (rate %, net amount); the amount None: the rate applies to the whole invoice amount
    vat_details: tuple[tuple[Decimal, Decimal | None], ...] = ()
    payment_conditions: tuple[tuple[Decimal, int], ...] = ()  # (discount %, days); (0, 30): net in 30 days
    vat_period_end: date | None = None  # the last day when tag 31 gives a period (start and end)


@dataclass(frozen=True)
class SwissQrBill:
    iban: str
    is_qr_iban: bool
    creditor: QrAddress
    amount: Decimal | None
    currency: str
    debtor: QrAddress | None
    reference_type: str
    reference: str
    message: str
    billing: QrBillingInfo | None
    raw: str


# --- Documents ----------------------------------------------------------------------------------------------

PDF_MAGIC = b"%PDF-"
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# ISO base media file brands of HEIF images (HEIC from iPhones and most Android phones).
HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}


def document_kind(data: bytes) -> str:
    """The document's kind, "pdf", "jpeg", "png" or "heic", told by its content (never by a file name). Raises
    UnsupportedDocument for an empty file, one over MAX_DOCUMENT_BYTES, another type, or an unreadable HEIC."""
    if not data:
        raise UnsupportedDocument(_("The file is empty."))
    if len(data) > MAX_DOCUMENT_BYTES:
        raise UnsupportedDocument(
            _("The file is %(size)s MB; documents of up to %(limit)s MB are accepted.")
            % {"size": _megabytes(len(data)), "limit": _megabytes(MAX_DOCUMENT_BYTES)}
        )
    # The PDF specification lets readers accept a header within the first 1024 bytes.
    if data.startswith(PDF_MAGIC) or PDF_MAGIC in data[:1024]:
        return "pdf"
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    if data.startswith(PNG_MAGIC):
        return "png"
    # AVIF shares HEIF's container (and its brand mif1) but not its codec, which pillow-heif does not carry.
    if data[4:8] == b"ftyp" and data[8:12] not in (b"avif", b"avis") and _heif_brands(data) & HEIF_BRANDS:
        if not _heif_readable(data):
            raise UnsupportedDocument(_("This HEIC photo cannot be read here; export it as JPEG and upload it again."))
        return "heic"
    raise UnsupportedDocument(_("Only PDF, JPEG, PNG and HEIC documents are accepted; this file is none of them."))


def _megabytes(size: int) -> str:
    """Megabytes rounded up to a tenth, so that a file just over the limit never reads as the limit."""
    tenths = -(-size * 10 // (1024 * 1024))
    return f"{tenths / 10:.1f}".removesuffix(".0")


def _heif_brands(data: bytes) -> set[bytes]:
    """The major brand and the compatible brands of an ISO base media `ftyp` box."""
    box_size = int.from_bytes(data[0:4], "big")
    end = min(max(box_size, 16), len(data), 256)
    return {data[8:12]} | {data[offset : offset + 4] for offset in range(16, end - 3, 4)}


def _heif_readable(data: bytes) -> bool:
    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - pillow-heif is a runtime dependency
        return False
    try:
        return bool(pillow_heif.is_supported(data))
    except Exception:  # noqa: BLE001 - any failure of the native library means "cannot read"
        return False


def document_pages(data: bytes, *, dpi: int = 200, max_pages: int = 5) -> list[Image.Image]:
    """The document's first `max_pages` pages as RGB images: PDF pages rendered at `dpi`, a photo upright
    (EXIF orientation applied, transparency on white). Raises UnsupportedDocument."""
    kind = document_kind(data)
    if kind == "pdf":
        return _pdf_pages(data, dpi=dpi, max_pages=max_pages)
    return [_image(data, kind)]


def _pdf_pages(data: bytes, *, dpi: int, max_pages: int) -> list[Image.Image]:
    with PDFIUM_LOCK:
        return _pdf_pages_locked(data, dpi=dpi, max_pages=max_pages)


def _pdf_pages_locked(data: bytes, *, dpi: int, max_pages: int) -> list[Image.Image]:
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as error:
        if getattr(error, "err_code", None) == pypdfium2.raw.FPDF_ERR_PASSWORD or "password" in str(error).lower():
            raise UnsupportedDocument(
                _("The PDF is protected by a password; upload a copy without the password.")
            ) from None
        raise UnsupportedDocument(_("The PDF cannot be read: it is damaged or incomplete.")) from None
    try:
        if len(pdf) == 0:
            raise UnsupportedDocument(_("The PDF has no pages."))
        pages = []
        for index in range(min(len(pdf), max_pages)):
            try:
                page = pdf[index]
            except pypdfium2.PdfiumError:
                raise UnsupportedDocument(_("The PDF cannot be read: it is damaged or incomplete.")) from None
            try:
                width, height = page.get_size()  # points, 1/72 inch
                scale = dpi / 72
                pixels = width * scale * height * scale
                if pixels > MAX_PAGE_PIXELS:
                    scale *= (MAX_PAGE_PIXELS / pixels) ** 0.5
                bitmap = page.render(scale=scale, fill_color=(255, 255, 255, 255))
                pages.append(bitmap.to_pil().convert("RGB"))
            except pypdfium2.PdfiumError:
                raise UnsupportedDocument(_("The PDF cannot be read: it is damaged or incomplete.")) from None
            finally:
                page.close()
        return pages
    finally:
        pdf.close()


def _decoded(opened: Image.Image) -> Image.Image:
    with opened:
        width, height = opened.size
        if width * height > MAX_IMAGE_PIXELS:
            raise UnsupportedDocument(_("The image is too large to be read."))
        if opened.format == "JPEG" and width * height > MAX_PAGE_PIXELS:
            # libjpeg decodes at 1/2, 1/4 or 1/8 of the size directly: a 50-megapixel photo stays cheap.
            opened.draft("RGB", (width // 2, height // 2))
        image = ImageOps.exif_transpose(opened)
        image.load()
        return image


def _image(data: bytes, kind: str) -> Image.Image:
    if kind == "heic":
        import pillow_heif

        pillow_heif.register_heif_opener()
    try:
        # The size is checked before decoding against limits of our own; Pillow's warning adds nothing.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = _decoded(Image.open(io.BytesIO(data)))
    except UnsupportedDocument:
        raise
    except Image.DecompressionBombError:
        raise UnsupportedDocument(_("The image is too large to be read.")) from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise UnsupportedDocument(_("The image cannot be read: it is damaged or incomplete.")) from None
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels are black in RGB; a QR code drawn on transparency would vanish.
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, "white")
        image.paste(rgba, mask=rgba.getchannel("A"))
    else:
        image = image.convert("RGB")
    if image.width * image.height > MAX_PAGE_PIXELS:
        factor = (MAX_PAGE_PIXELS / (image.width * image.height)) ** 0.5
        image = image.resize((int(image.width * factor), int(image.height * factor)), Image.Resampling.LANCZOS)
    return image


# --- QR codes -----------------------------------------------------------------------------------------------


def qr_payloads(pages: list[Image.Image]) -> list[str]:
    """Every QR code's text on the pages, in page order, each once. A page where the first pass finds no
    Swiss QR code (SPC) is tried again on cleaned-up versions (see `_variants`) until one gives an SPC code."""
    import zxingcpp

    found: dict[str, None] = {}
    for page in pages:
        page_texts: dict[str, None] = {}
        for image, binarizer in _variants(page, zxingcpp):
            page_texts.update(dict.fromkeys(_decode(zxingcpp, image, binarizer)))
            if any(_is_spc(text) for text in page_texts):
                break
        found.update(page_texts)
    return list(found)


def _decode(zxingcpp, image: Image.Image, binarizer) -> list[str]:
    codes = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormat.QRCode, try_rotate=True, try_downscale=True, binarizer=binarizer
    )
    return [code.text for code in codes if code.valid and code.text]


def _variants(page: Image.Image, zxingcpp) -> Iterator[tuple[Image.Image, object]]:
    """The page, then versions that rescue photos and scans, cheapest first (measured on 150-dpi photos of a
    QR-bill): grayscale, contrast stretched, binarised at one global threshold (noise); a 3-pixel median filter,
    globally binarised too (grain, JPEG artefacts); half size (large noisy photos); twice the size, sharpened
    (a small or blurred code; only for images up to 2000 pixels: a 150-dpi A4 page, a reduced phone photo)."""
    local, global_ = zxingcpp.Binarizer.LocalAverage, zxingcpp.Binarizer.GlobalHistogram
    yield page, local
    gray = ImageOps.autocontrast(page.convert("L"), cutoff=1)
    yield gray, global_
    yield gray.filter(ImageFilter.MedianFilter(3)), global_
    if min(gray.size) >= 800:
        yield gray.reduce(2), local
    if max(gray.size) <= 2000:
        larger = gray.resize((gray.width * 2, gray.height * 2), Image.Resampling.BICUBIC)
        yield larger.filter(ImageFilter.UnsharpMask(radius=4, percent=300, threshold=0)), local


def _is_spc(text: str) -> bool:
    return text.lstrip("\ufeff").startswith("SPC")


def qr_bill_read(data: bytes) -> SwissQrBill | None:
    """The document's Swiss QR-bill: the first SPC payload that parses. None when the document carries no
    Swiss QR code; InvalidQrBill (the first error) when every SPC payload found breaks the standard.
    UnsupportedDocument when the file itself is refused."""
    return qr_bill_from_pages(document_pages(data))


def qr_bill_from_pages(pages: list[Image.Image]) -> SwissQrBill | None:
    """`qr_bill_read` on pages already rendered by `document_pages`, for a caller that also sends them to OCR
    and should not render the document twice."""
    first_error: InvalidQrBill | None = None
    for payload in qr_payloads(pages):
        if not _is_spc(payload):
            continue
        try:
            return spc_parse(payload)
        except InvalidQrBill as error:
            first_error = first_error or error
    if first_error is not None:
        raise first_error
    return None


# --- SPC payload --------------------------------------------------------------------------------------------


def spc_parse(payload: str) -> SwissQrBill:
    """Read a Swiss QR code's SPC payload strictly (SIX IG QR-bill v2.3). Raises InvalidQrBill naming the
    field that breaks the standard."""
    raw = payload
    text = payload.lstrip("\ufeff")
    # Elements are separated by CR LF or LF; a final line break, which some generators add, is tolerated.
    if text.endswith("\n"):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    lines = text.replace("\r\n", "\n").split("\n")
    if lines[0] != "SPC":
        raise InvalidQrBill(_("This QR code is not a Swiss QR-bill: it does not start with “SPC”."))
    if not MIN_LINES <= len(lines) <= MAX_LINES:
        raise InvalidQrBill(
            _("The Swiss QR code has %(count)d lines; a QR-bill has %(min)d to %(max)d.")
            % {"count": len(lines), "min": MIN_LINES, "max": MAX_LINES}
        )
    if lines[1] != "0200":
        raise InvalidQrBill(
            _("The Swiss QR code has version “%(version)s”; only version 0200 (QR-bill 2.x) is read.")
            % {"version": lines[1]}
        )
    if lines[2] != "1":
        raise InvalidQrBill(
            _("The Swiss QR code has coding type “%(coding)s”; the standard requires 1 (UTF-8).") % {"coding": lines[2]}
        )
    if lines[TRAILER_INDEX] != "EPD":
        raise InvalidQrBill(_("The Swiss QR code does not end its payment data with the trailer “EPD”."))

    iban, is_qr_iban = _iban(lines[3])
    creditor = _address(lines[4:11], party="creditor")
    if creditor is None:
        raise InvalidQrBill(_("The Swiss QR code has no creditor address."))
    if any(lines[11:18]):
        raise InvalidQrBill(_("The Swiss QR code fills the ultimate creditor, which the standard reserves (empty)."))
    amount = _amount(lines[18])
    currency = lines[19]
    if currency not in CURRENCIES:
        raise InvalidQrBill(
            _("The Swiss QR code's currency is “%(currency)s”; a QR-bill is in CHF or EUR.") % {"currency": currency}
        )
    debtor = _address(lines[20:27], party="debtor")
    reference_type, reference = _reference(lines[27], lines[28], is_qr_iban=is_qr_iban)
    message = lines[29]
    billing_text = lines[31] if len(lines) > 31 else ""
    if len(message) + len(billing_text) > 140:
        raise InvalidQrBill(
            _("The Swiss QR code's message and billing information have %(length)d characters; at most 140.")
            % {"length": len(message) + len(billing_text)}
        )
    for procedure in lines[32:]:
        if len(procedure) > 100:
            raise InvalidQrBill(_("An alternative procedure of the Swiss QR code has more than 100 characters."))
    return SwissQrBill(
        iban=iban,
        is_qr_iban=is_qr_iban,
        creditor=creditor,
        amount=amount,
        currency=currency,
        debtor=debtor,
        reference_type=reference_type,
        reference=reference,
        message=message,
        billing=_billing(billing_text),
        raw=raw,
    )


def _iban(value: str) -> tuple[str, bool]:
    compact = re.sub(r"\s", "", value).upper()
    if compact[:2] not in QR_IBAN_COUNTRIES or len(compact) != 21:
        raise InvalidQrBill(
            _("The Swiss QR code's account “%(iban)s” is not a Swiss or Liechtenstein IBAN of 21 characters.")
            % {"iban": value}
        )
    try:
        IBAN(compact, validate_bban=False)
    except SchwiftyException:
        raise InvalidQrBill(
            _("The Swiss QR code's IBAN “%(iban)s” has wrong check digits.") % {"iban": value}
        ) from None
    if not compact[4:9].isdigit():
        raise InvalidQrBill(_("The Swiss QR code's IBAN “%(iban)s” has no valid bank number.") % {"iban": value})
    return compact, int(compact[4:9]) in QR_IID


def _address(lines: list[str], *, party: str) -> QrAddress | None:
    """An address of type S (structured) or K (combined lines); None when all seven elements are empty."""
    kind, name, line1, line2, postal_code, town, country = lines
    if not any(lines):
        return None

    def refuse(field: str) -> InvalidQrBill:
        if party == "creditor":
            return InvalidQrBill(_("The Swiss QR code's creditor address is invalid: %(field)s.") % {"field": field})
        return InvalidQrBill(_("The Swiss QR code's debtor address is invalid: %(field)s.") % {"field": field})

    if not name.strip() or len(name) > 70:
        raise refuse(_("the name is missing or longer than 70 characters"))
    if not COUNTRY.fullmatch(country):
        raise refuse(_("the country is not a two-letter code"))
    if kind == "S":
        if len(line1) > 70 or len(line2) > 16:
            raise refuse(_("the street or the building number is too long"))
        if not postal_code.strip() or len(postal_code) > 16 or not town.strip() or len(town) > 35:
            raise refuse(_("the postal code or the town is missing or too long"))
        return QrAddress(name, line1, line2, postal_code, town, country)
    if kind == "K":
        if postal_code or town:
            raise refuse(_("a combined address (K) carries its postal code and town in the second line"))
        if len(line1) > 70 or not line2.strip() or len(line2) > 70:
            raise refuse(_("the second address line is missing or too long"))
        # "1700 Fribourg", "D-79539 Lörrach", "FL-9490 Vaduz": the first word holding a digit is the postal code.
        match = re.fullmatch(r"\s*(\S*[0-9]\S*)\s+(.+?)\s*", line2)
        postal, place = (match.group(1), match.group(2)) if match else ("", line2.strip())
        return QrAddress(name, line1, "", postal, place, country)
    raise refuse(_("the address type is “%(kind)s”, not S or K") % {"kind": kind})


def _amount(value: str) -> Decimal | None:
    if value == "":
        return None
    if not AMOUNT.fullmatch(value):
        raise InvalidQrBill(
            _("The Swiss QR code's amount “%(amount)s” is not a number with a dot and at most two decimals.")
            % {"amount": value}
        )
    amount = Decimal(value).quantize(Decimal("0.01"))
    if not MIN_AMOUNT <= amount <= MAX_AMOUNT:
        raise InvalidQrBill(
            _("The Swiss QR code's amount %(amount)s is outside 0.01 to 999999999.99.") % {"amount": value}
        )
    return amount


def _reference(kind: str, value: str, *, is_qr_iban: bool) -> tuple[str, str]:
    reference = re.sub(r"\s", "", value).upper()
    if kind == "QRR":
        if not is_qr_iban:
            raise InvalidQrBill(
                _("The Swiss QR code has a QR reference (QRR) but an ordinary IBAN; QRR requires a QR-IBAN.")
            )
        if not QRR.fullmatch(reference) or not esr.is_valid(reference):
            raise InvalidQrBill(
                _("The Swiss QR code's QR reference “%(reference)s” is not 27 digits with a valid check digit.")
                % {"reference": value}
            )
        return kind, reference
    if is_qr_iban:
        raise InvalidQrBill(
            _(
                "The Swiss QR code has a QR-IBAN with reference type “%(kind)s”; a QR-IBAN requires a QR reference (QRR)."  # noqa: E501 - one message for translators
            )
            % {"kind": kind}
        )
    if kind == "SCOR":
        if not SCOR.fullmatch(reference) or not iso11649.is_valid(reference):
            raise InvalidQrBill(
                _("The Swiss QR code's creditor reference “%(reference)s” is not RF with valid check digits.")
                % {"reference": value}
            )
        return kind, reference
    if kind == "NON":
        if reference:
            raise InvalidQrBill(_("The Swiss QR code has reference type NON but carries a reference."))
        return kind, ""
    raise InvalidQrBill(_("The Swiss QR code's reference type is “%(kind)s”, not QRR, SCOR or NON.") % {"kind": kind})


# --- Billing information (Swico S1) -------------------------------------------------------------------------


def _billing(text: str) -> QrBillingInfo | None:
    """Swico's S1 billing information; None when absent or in another syntax."""
    if not text.startswith("//S1/"):
        return None
    parts = _s1_parts(text[5:])
    if len(parts) % 2:
        raise _billing_error(_("tags and values do not pair up"))
    fields: dict[str, str] = {}
    for tag, value in zip(parts[::2], parts[1::2], strict=True):
        if not tag.isdigit() or tag in fields:
            raise _billing_error(_("the tag “%(tag)s” is invalid or repeated") % {"tag": tag})
        fields[tag] = value
    vat_date, vat_period_end = None, None
    if "31" in fields:
        value = fields["31"]
        if len(value) == 12:
            vat_date, vat_period_end = _yymmdd(value[:6], tag="31"), _yymmdd(value[6:], tag="31")
        else:
            vat_date = _yymmdd(value, tag="31")
    return QrBillingInfo(
        invoice_number=fields.get("10", ""),
        invoice_date=_yymmdd(fields["11"], tag="11") if "11" in fields else None,
        customer_reference=fields.get("20", ""),
        vat_number=_vat_number(fields["30"]) if "30" in fields else "",
        vat_date=vat_date,
        vat_details=_vat_details(fields["32"]) if "32" in fields else (),
        payment_conditions=_conditions(fields["40"]) if "40" in fields else (),
        vat_period_end=vat_period_end,
    )


def _s1_parts(text: str) -> list[str]:
    """The S1 elements (tag, value, tag, value…) separated by "/"; a value writes "/" as "\\/" and "\\" as
    "\\\\"."""
    parts, current, characters = [], [], iter(text)
    for character in characters:
        if character == "\\":
            current.append(next(characters, "\\"))
        elif character == "/":
            parts.append("".join(current))
            current = []
        else:
            current.append(character)
    parts.append("".join(current))
    return parts


def _billing_error(detail: str) -> InvalidQrBill:
    return InvalidQrBill(
        _("The Swiss QR code's billing information (//S1/) is invalid: %(detail)s.") % {"detail": detail}
    )


def _yymmdd(value: str, *, tag: str) -> date:
    if YYMMDD.fullmatch(value):
        try:
            return date(2000 + int(value[:2]), int(value[2:4]), int(value[4:6]))
        except ValueError:
            pass
    raise _billing_error(_("tag %(tag)s, “%(value)s”, is not a date YYMMDD") % {"tag": tag, "value": value})


def _vat_number(value: str) -> str:
    digits = value.strip()
    if not re.fullmatch(r"[0-9]{9}", digits) or not che_uid.is_valid("CHE" + digits):
        raise _billing_error(_("tag 30, “%(value)s”, is not a valid UID (9 digits)") % {"value": value})
    return che_uid.format("CHE" + digits)


def _decimal(value: str, *, tag: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number < 0 or not re.fullmatch(r"[0-9]+(\.[0-9]+)?", value):
        raise _billing_error(_("tag %(tag)s, “%(value)s”, is not a number") % {"tag": tag, "value": value})
    return number


def _vat_details(value: str) -> tuple[tuple[Decimal, Decimal | None], ...]:
    details: list[tuple[Decimal, Decimal | None]] = []
    for item in value.split(";"):
        rate, colon, net = item.partition(":")
        details.append((_decimal(rate, tag="32"), _decimal(net, tag="32") if colon else None))
    if len(details) > 1 and any(net is None for _rate, net in details):
        raise _billing_error(_("tag 32 lists several rates, each needs its net amount"))
    return tuple(details)


def _conditions(value: str) -> tuple[tuple[Decimal, int], ...]:
    conditions: list[tuple[Decimal, int]] = []
    for item in value.split(";"):
        discount, colon, days = item.partition(":")
        if not colon or not days.isdigit():
            raise _billing_error(_("tag 40, “%(value)s”, is not discount:days") % {"value": value})
        conditions.append((_decimal(discount, tag="40"), int(days)))
    return tuple(conditions)
