"""Real supplier-invoice documents for the capture tests: QR-bill PDFs (qrbill's SVG rendered by WeasyPrint,
the way finance.pdf renders the Hub's own invoices), photo-like JPEG/PNG of them, and documents without a
Swiss QR code. Reusable by any test: every function returns bytes."""

from __future__ import annotations

import html
import io
import re
from base64 import b64encode
from decimal import Decimal

from PIL import Image, ImageFilter
from qrbill import QRBill

from finance.qrbill import render_pdf

CREDITOR = {
    "name": "Imprimerie du Lac SA",
    "street": "Route de la Glâne",
    "house_num": "21",
    "pcode": "1700",
    "city": "Fribourg",
    "country": "CH",
}
DEBTOR = {
    "name": "HYPERVISUAL Sàrl",
    "street": "Boulevard de Pérolles",
    "house_num": "12",
    "pcode": "1700",
    "city": "Fribourg",
    "country": "CH",
}
QR_IBAN = "CH4431999123000889012"
QRR_REFERENCE = "210000000003139471430009017"
IBAN = "CH5604835012345678009"
SCOR_REFERENCE = "RF18539007547034"
BILLING = "//S1/10/2026-0815/11/261120/30/106017086/31/261120/32/8.1:1200;2.6:100/40/0:30"


def qr_bill_svg(
    *,
    account: str = QR_IBAN,
    reference: str | None = QRR_REFERENCE,
    amount: Decimal | str | None = Decimal("1299.60"),
    currency: str = "CHF",
    creditor: dict | None = None,
    debtor: dict | None = DEBTOR,
    message: str = "Facture 2026-0815",
    billing: str = "",
    language: str = "fr",
) -> str:
    """The receipt and payment part (210 × 106 mm) as an `<svg>` element."""
    bill = QRBill(
        account=account,
        creditor=creditor or CREDITOR,
        debtor=debtor,
        amount=str(amount) if amount is not None else None,
        currency=currency,
        reference_number=reference,
        additional_information=message,
        billing_information=billing,
        language=language,
        top_line=True,
        payment_line=True,
    )
    svg = io.StringIO()
    bill.as_svg(svg)
    return re.sub(r"^<\?xml[^>]*\?>\s*", "", svg.getvalue())


def invoice_page_html(*, title: str = "Facture 2026-0815", lines: tuple[str, ...] = (), svg: str = "") -> str:
    """An A4 supplier invoice: a letterhead, a few lines of text and, when given, the payment part at its foot."""
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines) or (
        "<p>Impression de 500 brochures A5, 16 pages</p><p>Total TTC CHF 1'299.60</p>"
    )
    image = ""
    if svg:
        data = b64encode(svg.encode()).decode()
        image = f"<img class='qr' src='data:image/svg+xml;base64,{data}' alt=''>"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><style>"
        "@page { size: A4; margin: 0 } body { margin: 0; font-family: sans-serif }"
        ".head { padding: 20mm 20mm 0 }"
        "img.qr { position: absolute; bottom: 0; left: 0; width: 210mm }"
        "</style></head><body><div class='head'>"
        f"<p>Imprimerie du Lac SA · Route de la Glâne 21 · 1700 Fribourg</p><h1>{html.escape(title)}</h1>{body}"
        f"</div>{image}</body></html>"
    )


def qr_bill_pdf(**bill) -> bytes:
    """A one-page supplier invoice PDF with the QR-bill payment part built from `qr_bill_svg(**bill)`."""
    return render_pdf(invoice_page_html(svg=qr_bill_svg(**bill)))


def plain_pdf(*lines: str) -> bytes:
    """An invoice page without any QR code."""
    return render_pdf(invoice_page_html(lines=lines or ("Merci de payer sous 30 jours.",)))


def url_qr_pdf(url: str = "https://example.ch/facture/2026-0815") -> bytes:
    """An invoice page whose only QR code is a web address, not a Swiss QR-bill."""
    return qr_code_pdf(url)


def render_page(pdf: bytes, *, dpi: int = 300, page: int = 0) -> Image.Image:
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        return document[page].render(scale=dpi / 72).to_pil().convert("RGB")
    finally:
        document.close()


def photo(
    pdf: bytes,
    *,
    dpi: int = 150,
    angle: float = 3.5,
    format: str = "JPEG",  # noqa: A002 - PIL's own name for it
    quality: int = 70,
    blur: float = 0.4,
    blur_after: float = 0.0,
    keystone: float = 0.0,
) -> bytes:
    """The invoice as a phone photo or a cheap scan would deliver it: rendered at 300 dpi, turned by `angle`
    degrees on a grey table, slightly blurred, scaled down to `dpi`, blurred by `blur_after` pixels at
    that size (an out-of-focus phone), its top narrowed by `keystone` of the width on each side (the keystone of a
    phone held at a slant), JPEG-compressed at `quality` (a PNG
    request still goes through the JPEG compression first, as a screenshot of a photo would)."""
    page = render_page(pdf, dpi=300)
    turned = page.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(128, 124, 118))
    if keystone:
        slant = round(turned.width * keystone)
        corners = (-slant, 0, 0, turned.height, turned.width, turned.height, turned.width + slant, 0)
        turned = turned.transform(
            turned.size, Image.Transform.QUAD, corners, Image.Resampling.BICUBIC, fillcolor=(128, 124, 118)
        )
    if blur:
        turned = turned.filter(ImageFilter.GaussianBlur(blur))
    factor = dpi / 300
    small = turned.resize((round(turned.width * factor), round(turned.height * factor)), Image.Resampling.LANCZOS)
    if blur_after:
        small = small.filter(ImageFilter.GaussianBlur(blur_after))
    compressed = io.BytesIO()
    small.save(compressed, "JPEG", quality=quality)
    if format.upper() == "JPEG":
        return compressed.getvalue()
    out = io.BytesIO()
    Image.open(io.BytesIO(compressed.getvalue())).save(out, format.upper())
    return out.getvalue()


def png_of(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def qr_code_pdf(text: str, *, caption: str = "Votre facture en ligne :") -> bytes:
    """An invoice page whose only QR code carries `text` (a web address, a broken SPC payload…)."""
    import qrcode
    import qrcode.image.svg

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=20, border=4)
    code.add_data(text.encode())
    svg = code.make_image(image_factory=qrcode.image.svg.SvgImage).to_string().decode()
    data = b64encode(svg.encode()).decode()
    page = invoice_page_html(lines=(caption,)).replace(
        "</body>", f"<img style='width:60mm;margin:20mm' src='data:image/svg+xml;base64,{data}' alt=''></body>"
    )
    return render_pdf(page)


def heic_of(image: Image.Image, *, quality: int = 80) -> bytes:
    """The image as an iPhone would store it (HEIC), written by pillow-heif's HEVC encoder."""
    import pillow_heif

    out = io.BytesIO()
    pillow_heif.from_pillow(image).save(out, format="HEIF", quality=quality)
    return out.getvalue()


def pdf_of_pages(*pdfs: bytes) -> bytes:
    """One PDF with the pages of the given one-page PDFs, in order."""
    import pypdfium2

    merged = pypdfium2.PdfDocument.new()
    for pdf in pdfs:
        merged.import_pages(pypdfium2.PdfDocument(pdf))
    out = io.BytesIO()
    merged.save(out)
    return out.getvalue()


def password_protected_pdf() -> bytes:
    """A one-page PDF encrypted with the standard security handler; its user password is not empty."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"<< /Filter /Standard /V 1 /R 2 /Length 40 /P -4 /O <" + b"00" * 32 + b"> /U <" + b"11" * 32 + b"> >>",
    ]
    pdf, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    file_id = b"<" + b"ab" * 16 + b">"
    pdf += b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [%s %s] >>\n" % (len(objects) + 1, file_id, file_id)
    return pdf + b"startxref\n%d\n%%%%EOF\n" % xref


def png_header(width: int, height: int) -> bytes:
    """The start of a PNG claiming `width` × `height` pixels, without image data (a decompression bomb's
    announcement: readers learn the size before decoding anything)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
