"""finance.capture_qr on real documents: QR-bill PDFs made with qrbill + WeasyPrint, the same as 150-dpi
photos (turned, blurred, JPEG-compressed), HEIC, documents without a Swiss QR code, and the strict SPC parser."""

import ast
import io
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import zxingcpp
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management import call_command
from django.utils import translation
from PIL import Image
from qrbill import QRBill

from finance import capture_qr
from finance.capture_qr import (
    MAX_DOCUMENT_BYTES,
    InvalidQrBill,
    QrAddress,
    QrBillingInfo,
    SwissQrBill,
    UnsupportedDocument,
    document_kind,
    document_pages,
    qr_bill_from_pages,
    qr_bill_read,
    qr_payloads,
    spc_parse,
)
from tests import capture_documents as docs

IMPRIMERIE = QrAddress("Imprimerie du Lac SA", "Route de la Glâne", "21", "1700", "Fribourg", "CH")
HYPERVISUAL = QrAddress("HYPERVISUAL Sàrl", "Boulevard de Pérolles", "12", "1700", "Fribourg", "CH")
BILLING = QrBillingInfo(
    invoice_number="2026-0815",
    invoice_date=date(2026, 11, 20),
    vat_number="CHE-106.017.086",
    vat_date=date(2026, 11, 20),
    vat_details=((Decimal("8.1"), Decimal("1200")), (Decimal("2.6"), Decimal("100"))),
    payment_conditions=((Decimal("0"), 30),),
)

# name → (arguments of docs.qr_bill_svg, the bill that must come out, apart from `raw`)
BILLS = {
    "qr-iban+qrr, CHF 1299.60": (
        {},
        SwissQrBill(
            iban="CH4431999123000889012",
            is_qr_iban=True,
            creditor=IMPRIMERIE,
            amount=Decimal("1299.60"),
            currency="CHF",
            debtor=HYPERVISUAL,
            reference_type="QRR",
            reference="210000000003139471430009017",
            message="Facture 2026-0815",
            billing=None,
            raw="",
        ),
    ),
    "iban+scor, EUR 1337.05, billing information": (
        {
            "account": docs.IBAN,
            "reference": docs.SCOR_REFERENCE,
            "currency": "EUR",
            "amount": Decimal("1337.05"),
            "message": "Commande 4711",
            "billing": docs.BILLING,
        },
        SwissQrBill(
            iban="CH5604835012345678009",
            is_qr_iban=False,
            creditor=IMPRIMERIE,
            amount=Decimal("1337.05"),
            currency="EUR",
            debtor=HYPERVISUAL,
            reference_type="SCOR",
            reference="RF18539007547034",
            message="Commande 4711",
            billing=BILLING,
            raw="",
        ),
    ),
    "iban, no reference, CHF, no amount, no debtor": (
        {"account": docs.IBAN, "reference": None, "amount": None, "debtor": None, "message": ""},
        SwissQrBill(
            iban="CH5604835012345678009",
            is_qr_iban=False,
            creditor=IMPRIMERIE,
            amount=None,
            currency="CHF",
            debtor=None,
            reference_type="NON",
            reference="",
            message="",
            billing=None,
            raw="",
        ),
    ),
    "iban, no reference, EUR 0.05": (
        {"account": docs.IBAN, "reference": None, "currency": "EUR", "amount": Decimal("0.05")},
        SwissQrBill(
            iban="CH5604835012345678009",
            is_qr_iban=False,
            creditor=IMPRIMERIE,
            amount=Decimal("0.05"),
            currency="EUR",
            debtor=HYPERVISUAL,
            reference_type="NON",
            reference="",
            message="Facture 2026-0815",
            billing=None,
            raw="",
        ),
    ),
}


@pytest.fixture(scope="module")
def bill_pdfs() -> dict[str, bytes]:
    return {name: docs.qr_bill_pdf(**arguments) for name, (arguments, _expected) in BILLS.items()}


def expected_raw(arguments: dict) -> str:
    """The payload qrbill encodes for these arguments: what the QR code must give back, byte for byte."""
    merged = {
        "account": docs.QR_IBAN,
        "reference": docs.QRR_REFERENCE,
        "amount": Decimal("1299.60"),
        "currency": "CHF",
        "debtor": docs.DEBTOR,
        "message": "Facture 2026-0815",
        "billing": "",
        **arguments,
    }
    return QRBill(
        account=merged["account"],
        creditor=docs.CREDITOR,
        debtor=merged["debtor"],
        amount=str(merged["amount"]) if merged["amount"] is not None else None,
        currency=merged["currency"],
        reference_number=merged["reference"],
        additional_information=merged["message"],
        billing_information=merged["billing"],
    ).qr_data()


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


# --- Reading real documents ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BILLS)
def test_a_qr_bill_pdf_is_read_exactly(name, bill_pdfs):
    arguments, expected = BILLS[name]

    bill = qr_bill_read(bill_pdfs[name])

    assert bill == SwissQrBill(**{**expected.__dict__, "raw": expected_raw(arguments)})


@pytest.mark.parametrize("name", BILLS)
@pytest.mark.parametrize(
    ("image_format", "angle"),
    [("JPEG", 3.5), ("PNG", -4.0)],
)
def test_a_150_dpi_photo_of_the_qr_bill_turned_and_jpeg_compressed_is_read_exactly(
    name, image_format, angle, bill_pdfs
):
    arguments, expected = BILLS[name]
    photo = docs.photo(bill_pdfs[name], dpi=150, angle=angle, format=image_format, quality=70)
    assert document_kind(photo) == image_format.lower()
    with Image.open(io.BytesIO(photo)) as image:
        assert 1300 < image.width < 1400  # A4 at 150 dpi is 1240 px wide; the turn widens it

    bill = qr_bill_read(photo)

    assert bill == SwissQrBill(**{**expected.__dict__, "raw": expected_raw(arguments)})


def test_a_photo_taken_at_a_slant_at_120_dpi_is_read_exactly(bill_pdfs):
    name = "iban+scor, EUR 1337.05, billing information"
    photo = docs.photo(bill_pdfs[name], dpi=120, angle=-3.0, keystone=0.1, quality=60)

    assert qr_bill_read(photo) == SwissQrBill(**{**BILLS[name][1].__dict__, "raw": expected_raw(BILLS[name][0])})


def test_an_out_of_focus_photo_missed_by_the_first_pass_is_read_from_a_cleaned_up_version(bill_pdfs):
    name = "iban+scor, EUR 1337.05, billing information"
    photo = docs.photo(bill_pdfs[name], angle=4.0, blur_after=2.0)
    [page] = document_pages(photo)
    first_pass = zxingcpp.read_barcodes(page, formats=zxingcpp.BarcodeFormat.QRCode, try_rotate=True)
    assert first_pass == []

    assert qr_bill_read(photo) == SwissQrBill(**{**BILLS[name][1].__dict__, "raw": expected_raw(BILLS[name][0])})


def test_a_heic_photo_of_the_qr_bill_is_read(bill_pdfs):
    page = Image.open(io.BytesIO(docs.photo(bill_pdfs["qr-iban+qrr, CHF 1299.60"], angle=2.0)))
    heic = docs.heic_of(page)
    assert document_kind(heic) == "heic"

    bill = qr_bill_read(heic)

    assert (bill.iban, bill.amount, bill.reference) == (
        "CH4431999123000889012",
        Decimal("1299.60"),
        "210000000003139471430009017",
    )


def test_pages_already_rendered_for_ocr_give_the_same_bill(bill_pdfs):
    pdf = bill_pdfs["iban+scor, EUR 1337.05, billing information"]

    assert qr_bill_from_pages(document_pages(pdf)) == qr_bill_read(pdf)
    assert qr_bill_from_pages([]) is None


def test_the_payment_part_on_the_second_page_of_a_pdf_is_found(bill_pdfs):
    pdf = docs.pdf_of_pages(docs.plain_pdf("Page 1 : conditions générales"), bill_pdfs["qr-iban+qrr, CHF 1299.60"])

    assert len(document_pages(pdf)) == 2
    assert qr_bill_read(pdf).reference == "210000000003139471430009017"


def test_only_the_first_max_pages_pages_are_rendered(bill_pdfs):
    pdf = docs.pdf_of_pages(*[docs.plain_pdf(f"Page {number}") for number in range(1, 4)])

    pages = document_pages(pdf, dpi=72, max_pages=2)

    assert [page.size for page in pages] == [(596, 842), (596, 842)]  # A4 (595.3 × 841.9 points) at 72 dpi
    assert {page.mode for page in pages} == {"RGB"}


def test_the_same_qr_code_on_two_pages_is_listed_once(bill_pdfs):
    pdf = docs.pdf_of_pages(bill_pdfs["iban+scor, EUR 1337.05, billing information"], docs.url_qr_pdf())
    twice = docs.pdf_of_pages(pdf, bill_pdfs["iban+scor, EUR 1337.05, billing information"])

    payloads = qr_payloads(document_pages(twice))

    assert payloads == [
        expected_raw(BILLS["iban+scor, EUR 1337.05, billing information"][0]),
        "https://example.ch/facture/2026-0815",
    ]


def test_a_document_without_qr_code_has_no_qr_bill():
    assert qr_bill_read(docs.plain_pdf("Facture 2026-0815", "Total CHF 100.00")) is None


def test_a_qr_code_that_is_not_a_swiss_qr_bill_is_ignored():
    pdf = docs.url_qr_pdf("https://example.ch/facture/2026-0815")

    assert qr_payloads(document_pages(pdf)) == ["https://example.ch/facture/2026-0815"]
    assert qr_bill_read(pdf) is None


def test_a_document_whose_only_swiss_qr_code_is_invalid_raises_invalid_qr_bill():
    broken = expected_raw({}).replace("210000000003139471430009017", "210000000003139471430009018")

    with pytest.raises(InvalidQrBill, match="QR reference “210000000003139471430009018”"):
        qr_bill_read(docs.qr_code_pdf(broken))


def test_a_valid_swiss_qr_code_wins_over_an_invalid_one(bill_pdfs):
    broken = expected_raw({}).replace("EPD", "END")
    pdf = docs.pdf_of_pages(docs.qr_code_pdf(broken), bill_pdfs["iban, no reference, EUR 0.05"])

    assert qr_bill_read(pdf).amount == Decimal("0.05")


def test_a_photo_taken_sideways_is_turned_upright_by_its_exif_orientation():
    image = Image.new("RGB", (300, 200), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)

    [page] = document_pages(out.getvalue())

    assert (page.size, page.mode) == ((200, 300), "RGB")


def test_a_transparent_png_is_put_on_white():
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))

    [page] = document_pages(docs.png_of(image))

    assert page.getpixel((5, 5)) == (255, 255, 255)


# --- Document kind ------------------------------------------------------------------------------------------


def test_document_kind_reads_the_content_not_the_name(bill_pdfs):
    pdf = bill_pdfs["qr-iban+qrr, CHF 1299.60"]
    white = Image.new("RGB", (20, 20), "white")
    jpeg = io.BytesIO()
    white.save(jpeg, "JPEG")

    assert document_kind(pdf) == "pdf"
    assert document_kind(jpeg.getvalue()) == "jpeg"
    assert document_kind(docs.png_of(white)) == "png"
    assert document_kind(docs.heic_of(white)) == "heic"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"Facture 2026-0815\nTotal CHF 100.00\n", "Only PDF, JPEG, PNG and HEIC documents are accepted"),
        (b"GIF89a" + b"\0" * 100, "Only PDF, JPEG, PNG and HEIC documents are accepted"),
        (b"PK\x03\x04" + b"\0" * 100, "Only PDF, JPEG, PNG and HEIC documents are accepted"),
        (b"%PDF-1.7" + b" " * MAX_DOCUMENT_BYTES, "The file is 15.1 MB; documents of up to 15 MB are accepted."),
    ],
    ids=["empty", "text named .pdf", "gif", "zip/docx", "too large"],
)
def test_document_kind_refuses_with_a_reason(data, message):
    with pytest.raises(UnsupportedDocument) as refusal:
        document_kind(data)

    assert str(refusal.value).startswith(message)


def test_a_file_of_exactly_the_maximum_size_is_accepted():
    assert document_kind(b"%PDF-1.7" + b" " * (MAX_DOCUMENT_BYTES - 8)) == "pdf"


def test_a_heic_that_pillow_heif_cannot_read_is_refused(monkeypatch):
    heic = docs.heic_of(Image.new("RGB", (16, 16), "white"))
    monkeypatch.setattr("pillow_heif.is_supported", lambda data: False)

    with pytest.raises(UnsupportedDocument, match="This HEIC photo cannot be read here"):
        document_kind(heic)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.7\nnot really a PDF", "The PDF cannot be read: it is damaged or incomplete."),
        (b"\xff\xd8\xff\xe0" + b"\0" * 64, "The image cannot be read: it is damaged or incomplete."),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "The image cannot be read: it is damaged or incomplete."),
    ],
    ids=["pdf", "jpeg", "png"],
)
def test_a_damaged_document_is_refused_when_its_pages_are_read(data, message):
    with pytest.raises(UnsupportedDocument, match=message):
        qr_bill_read(data)


def test_a_password_protected_pdf_is_refused_with_the_reason():
    with pytest.raises(UnsupportedDocument) as refusal:
        document_pages(docs.password_protected_pdf())

    assert str(refusal.value) == "The PDF is protected by a password; upload a copy without the password."


def test_an_image_of_too_many_pixels_is_refused_before_it_is_decoded():
    with pytest.raises(UnsupportedDocument) as refusal:
        document_pages(docs.png_header(13_000, 12_000))

    assert str(refusal.value) == "The image is too large to be read."


def test_a_very_large_jpeg_photo_is_decoded_at_a_reduced_size():
    out = io.BytesIO()
    Image.new("L", (8000, 6000), 255).save(out, "JPEG", quality=50)

    [page] = document_pages(out.getvalue())

    assert (page.size, page.mode) == ((4000, 3000), "RGB")


def test_an_avif_image_is_not_taken_for_heic():
    avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf" + b"\0" * 64

    with pytest.raises(UnsupportedDocument, match="Only PDF, JPEG, PNG and HEIC documents are accepted"):
        document_kind(avif)


def test_a_truncated_pdf_is_refused(bill_pdfs):
    pdf = bill_pdfs["qr-iban+qrr, CHF 1299.60"]

    with pytest.raises(UnsupportedDocument, match="The PDF cannot be read"):
        document_pages(pdf[: len(pdf) // 3])


# --- The SPC parser -----------------------------------------------------------------------------------------

VALID_LINES = [
    "SPC",
    "0200",
    "1",
    "CH4431999123000889012",
    *["S", "Imprimerie du Lac SA", "Route de la Glâne", "21", "1700", "Fribourg", "CH"],
    *[""] * 7,
    "1299.60",
    "CHF",
    *["S", "HYPERVISUAL Sàrl", "Boulevard de Pérolles", "12", "1700", "Fribourg", "CH"],
    "QRR",
    "210000000003139471430009017",
    "Facture 2026-0815",
    "EPD",
]


def payload(**changes) -> str:
    """The valid payload with lines replaced by index: payload(_18="12.5")."""
    lines = list(VALID_LINES)
    for key, value in changes.items():
        lines[int(key.removeprefix("_"))] = value
    return "\r\n".join(lines)


def test_spc_parse_reads_every_field():
    assert spc_parse(payload()) == SwissQrBill(**{**BILLS["qr-iban+qrr, CHF 1299.60"][1].__dict__, "raw": payload()})


def test_spc_parse_accepts_lf_separators_a_final_line_break_and_spaced_identifiers():
    text = payload(_3="CH44 3199 9123 0008 8901 2", _28="21 00000 00003 13947 14300 09017") + "\n"

    bill = spc_parse(text.replace("\r\n", "\n"))

    assert (bill.iban, bill.reference, bill.raw) == (
        "CH4431999123000889012",
        "210000000003139471430009017",
        text.replace("\r\n", "\n"),
    )


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("1299.6", Decimal("1299.60")), ("7", Decimal("7.00")), ("0.01", Decimal("0.01")), ("999999999.99", None)],
)
def test_spc_parse_reads_amounts_to_the_centime(amount, expected):
    assert spc_parse(payload(_18=amount)).amount == (expected or Decimal("999999999.99"))


def test_spc_parse_maps_a_combined_address_k():
    bill = spc_parse(
        payload(
            _4="K",
            _6="Rue du Marché 4",
            _7="1204 Genève",
            _8="",
            _9="",
            **{"_20": "K", "_22": "Postfach 12", "_23": "FL-9490 Vaduz", "_24": "", "_25": "", "_26": "LI"},
        )
    )

    assert bill.creditor == QrAddress("Imprimerie du Lac SA", "Rue du Marché 4", "", "1204", "Genève", "CH")
    assert bill.debtor == QrAddress("HYPERVISUAL Sàrl", "Postfach 12", "", "FL-9490", "Vaduz", "LI")


def test_spc_parse_reads_billing_information_with_a_period_escapes_and_a_single_rate():
    billing = "//S1/10/X.66711\\/8824/11/200712/20/MW\\\\2020-04/31/200701200731/32/7.7"
    text = payload(_29="").replace("EPD", "EPD\r\n" + billing)

    billing = spc_parse(text).billing

    assert billing == QrBillingInfo(
        invoice_number="X.66711/8824",
        invoice_date=date(2020, 7, 12),
        customer_reference="MW\\2020-04",
        vat_date=date(2020, 7, 1),
        vat_period_end=date(2020, 7, 31),
        vat_details=((Decimal("7.7"), None),),
    )


def test_spc_parse_ignores_billing_information_in_another_syntax_and_keeps_alternative_procedures():
    text = payload().replace("EPD", "EPD\r\n//XY/other\r\neBill/B/41010560425610173")

    assert spc_parse(text).billing is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (payload(_3="CH4431999123000889013"), "IBAN “CH4431999123000889013” has wrong check digits"),
        (payload(_3="DE89370400440532013000"), "is not a Swiss or Liechtenstein IBAN"),
        (payload(_28="210000000003139471430009018"), "QR reference “210000000003139471430009018” is not 27 digits"),
        (payload(_28="21000000000313947143000901"), "is not 27 digits with a valid check digit"),
        (
            payload(_3="CH5604835012345678009"),
            "has a QR reference (QRR) but an ordinary IBAN; QRR requires a QR-IBAN",
        ),
        (payload(_27="SCOR", _28="RF18539007547034"), "QR-IBAN with reference type “SCOR”; a QR-IBAN requires"),
        (payload(_27="NON", _28=""), "QR-IBAN with reference type “NON”"),
        (
            payload(_3="CH5604835012345678009", _27="SCOR", _28="RF19539007547034"),
            "creditor reference “RF19539007547034” is not RF with valid check digits",
        ),
        (payload(_3="CH5604835012345678009", _27="NON", _28="RF18539007547034"), "type NON but carries a reference"),
        (payload(_3="CH5604835012345678009", _27="ESR", _28=""), "reference type is “ESR”, not QRR, SCOR or NON"),
        (payload(_18="1299,60"), "amount “1299,60” is not a number with a dot"),
        (payload(_18="12.345"), "amount “12.345” is not a number with a dot"),
        (payload(_18="-5.00"), "amount “-5.00” is not a number"),
        (payload(_18="0.00"), "amount 0.00 is outside 0.01 to 999999999.99"),
        (payload(_18="1000000000.00"), "amount “1000000000.00” is not a number"),
        (payload(_19="USD"), "currency is “USD”; a QR-bill is in CHF or EUR"),
        (payload(_1="0100"), "version “0100”; only version 0200"),
        (payload(_2="2"), "coding type “2”"),
        (payload(_30="END"), "does not end its payment data with the trailer “EPD”"),
        (payload(_0="SPX"), "does not start with “SPC”"),
        (payload()[: payload().rindex("\r\n")], "has 30 lines; a QR-bill has 31 to 34"),
        (payload() + "\r\n//S1/10/1\r\nA\r\nB\r\nC", "has 35 lines"),
        (payload(_11="S", _12="Somebody"), "fills the ultimate creditor"),
        (payload(_4="X"), "creditor address is invalid: the address type is “X”, not S or K"),
        (payload(_5=""), "creditor address is invalid: the name is missing"),
        (payload(_4="", _5="", _6="", _7="", _8="", _9="", _10=""), "has no creditor address"),
        (payload(_25=""), "debtor address is invalid: the postal code or the town is missing"),
        (payload(_26="Suisse"), "debtor address is invalid: the country is not a two-letter code"),
        (payload(_4="K", _9="1700"), "a combined address (K) carries its postal code and town in the second line"),
        (payload(_29="x" * 141), "message and billing information have 141 characters; at most 140"),
    ],
)
def test_spc_parse_refuses_what_breaks_the_standard_and_says_which_field(text, message):
    with pytest.raises(InvalidQrBill) as refusal:
        spc_parse(text)

    assert message in str(refusal.value)


@pytest.mark.parametrize(
    ("billing", "message"),
    [
        ("//S1/10/2026-0815/11/261320", "tag 11, “261320”, is not a date YYMMDD"),
        ("//S1/30/106017087", "tag 30, “106017087”, is not a valid UID (9 digits)"),
        ("//S1/32/8.1:1200;2.6", "tag 32 lists several rates, each needs its net amount"),
        ("//S1/32/8,1", "tag 32, “8,1”, is not a number"),
        ("//S1/40/30", "tag 40, “30”, is not discount:days"),
        ("//S1/10/1/10/2", "the tag “10” is invalid or repeated"),
        ("//S1/10", "tags and values do not pair up"),
    ],
)
def test_spc_parse_refuses_broken_billing_information(billing, message):
    with pytest.raises(InvalidQrBill) as refusal:
        spc_parse(payload().replace("EPD", "EPD\r\n" + billing))

    assert str(refusal.value) == f"The Swiss QR code's billing information (//S1/) is invalid: {message}."


def test_every_message_a_user_sees_has_french_and_german_translations():
    """Every gettext message of the module is in the French and German catalogues, its placeholders kept."""
    source = Path(capture_qr.__file__).read_text()
    msgids = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_":
            msgids.add(node.args[0].value)
    assert len(msgids) > 30
    for language in ("fr", "de"):
        with (Path(settings.BASE_DIR) / "locale" / language / "LC_MESSAGES" / "django.po").open("rb") as po_file:
            catalog = read_po(po_file)
        for msgid in msgids:
            message = catalog.get(msgid)
            assert message is not None, (language, msgid)
            assert message.string not in ("", msgid), (language, msgid)
            placeholders = sorted(re.findall(r"%\(\w+\)[sd]", msgid))
            assert sorted(re.findall(r"%\(\w+\)[sd]", message.string)) == placeholders, (language, msgid)


# --- Benchmark command --------------------------------------------------------------------------------------


def test_bench_capture_prints_a_table_of_timings_per_page():
    out = io.StringIO()

    call_command("bench_capture", "--count", "1", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "Capture benchmark, ms per page: 1 QR-bill PDFs (200 dpi), 1 photos of them (PNG, 150 dpi, turned 3.5°), "
        "1 PDFs without QR code"
    )
    assert [title.strip() for title in lines[1].split("   ") if title.strip()] == [
        "step",
        "QR-bill PDF",
        "photo of it",
        "PDF without QR",
    ]
    assert lines[2].split() == ["median", "p95"] * 3
    assert [line[:26].strip() for line in lines[3:7]] == [
        "render page",
        "QR decode",
        "qr_bill_read",
        "qr_bill_read + faked OCR",
    ]
    for line in lines[3:7]:
        numbers = [float(value) for value in line[26:].split()]
        assert len(numbers) == 6
        assert all(0 < median <= p95 for median, p95 in zip(numbers[::2], numbers[1::2], strict=True))
    assert lines[7] == "All 3 documents read right (QR-bill fields exact, or none)."
    assert lines[8].startswith("OCR is FAKED: the stand-in only encodes each page as base64 PNG")
