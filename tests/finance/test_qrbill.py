import dataclasses
import shutil
import subprocess
import threading
from base64 import b64encode
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import zxingcpp
from django.core.exceptions import ValidationError
from django.utils import translation
from PIL import Image
from qrbill import QRBill

from finance.qrbill import (
    Address,
    PaymentPart,
    creditor_reference,
    payment_part_svg,
    qr_reference,
    render_pdf,
    validate_payment_part,
)

# Test data of the qrbill README and SIX: a QR-IBAN with its QR reference, an ordinary IBAN with an
# ISO 11649 creditor reference.
QR_IBAN = "CH44 3199 9123 0008 8901 2"
IBAN = "CH56 0483 5012 3456 7800 9"
QRR = "210000000003139471430009017"
SCOR = "RF18539007547034"

CREDITOR = Address(
    name="HYPERVISUAL Sàrl",
    street="Boulevard de Pérolles",
    building_number="12",
    postal_code="1700",
    town="Fribourg",
    country="CH",
)
DEBTOR = Address(
    name="Café du Léman SA",
    street="Rue de Genève",
    building_number="7bis",
    postal_code="1204",
    town="Genève",
    country="CH",
)
QRR_PART = PaymentPart(
    account=QR_IBAN,
    creditor=CREDITOR,
    debtor=DEBTOR,
    amount=Decimal("1219.75"),
    currency="CHF",
    reference=QRR,
    additional_information="Facture 2026-0042",
)
SCOR_PART = dataclasses.replace(QRR_PART, account=IBAN, reference=SCOR, currency="EUR")


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted by their English msgids, whatever translations the catalogue gains."""
    with translation.override("en"):
        yield


def messages(part: PaymentPart) -> list[str]:
    with pytest.raises(ValidationError) as error:
        validate_payment_part(part)
    return error.value.messages


# --- References ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "reference"),
    [
        # SIX's sample QR reference 21 00000 00003 13947 14300 09017: check digit 7.
        ("21000000000313947143000901", "210000000003139471430009017"),
        # Example of the IG QR-bill: 00 00082 07791 22585 74212 86694.
        ("00000820779122585742128669", "000008207791225857421286694"),
        # Short payloads are padded with zeros to 26 digits (python-stdnum's ESR example 18 78583).
        ("187858", "000000000000000000001878583"),
        ("1", "000000000000000000000000011"),
    ],
)
def test_qr_reference_pads_to_26_digits_and_appends_the_modulo_10_recursive_check_digit(payload, reference):
    assert qr_reference(payload) == reference


@pytest.mark.parametrize("payload", ["", "12a4", "12 34", "１２", "1" * 27])
def test_qr_reference_refuses_a_payload_that_is_not_1_to_26_digits(payload):
    with pytest.raises(ValueError, match="A QR reference payload is 1 to 26 digits"):
        qr_reference(payload)


@pytest.mark.parametrize(
    ("payload", "reference"),
    [
        # ISO 11649's example RF18 5390 0754 7034, and with a letter (python-stdnum's RF18 5390 0754 70Y).
        ("539007547034", "RF18539007547034"),
        ("5390075470Y", "RF185390075470Y"),
        ("5390075470y", "RF185390075470Y"),
        ("A" * 21, "RF47" + "A" * 21),
    ],
)
def test_creditor_reference_prefixes_rf_and_the_mod_97_check_digits(payload, reference):
    assert creditor_reference(payload) == reference
    assert len(reference) <= 25


@pytest.mark.parametrize("payload", ["", "5390-0754", "A" * 22, "Pérolles"])
def test_creditor_reference_refuses_a_payload_that_is_not_1_to_21_letters_or_digits(payload):
    with pytest.raises(ValueError, match="A creditor reference payload is 1 to 21 letters or digits"):
        creditor_reference(payload)


@pytest.mark.parametrize(("reference", "reference_type"), [(QRR, "QRR"), (SCOR, "SCOR"), ("", "NON")])
def test_reference_type_follows_the_reference(reference, reference_type):
    assert dataclasses.replace(QRR_PART, reference=reference).reference_type == reference_type


# --- Valid payment parts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "part",
    [
        QRR_PART,
        SCOR_PART,
        dataclasses.replace(SCOR_PART, reference=""),
        # Open amount and blank debtor box: the payer fills both in.
        dataclasses.replace(QRR_PART, amount=None, debtor=None),
        dataclasses.replace(QRR_PART, amount=Decimal("0.01")),
        dataclasses.replace(QRR_PART, amount=Decimal("999999999.99")),
        dataclasses.replace(QRR_PART, amount=Decimal("100")),
        dataclasses.replace(SCOR_PART, account="LI21 0881 0000 2324 013A A"),
        dataclasses.replace(
            QRR_PART,
            creditor=Address("N" * 70, "S" * 70, "B" * 16, "P" * 16, "T" * 35, "LI"),
            debtor=Address("Ștefan Țară", "", "", "1000", "Łódź", "PL"),
            additional_information="€" * 140,
        ),
    ],
)
def test_valid_payment_parts_pass(part):
    validate_payment_part(part)


# --- Refused payment parts, each with its message --------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"account": IBAN},
            "A QR reference (QRR) can only be paid to a QR-IBAN; “CH56 0483 5012 3456 7800 9” is an ordinary IBAN.",
        ),
        (
            {"reference": SCOR},
            "A QR-IBAN requires a QR reference (QRR); for a creditor reference (RF) or no reference, "
            "use the account's ordinary IBAN.",
        ),
        (
            {"reference": ""},
            "A QR-IBAN requires a QR reference (QRR); for a creditor reference (RF) or no reference, "
            "use the account's ordinary IBAN.",
        ),
        (
            {"account": "DE89 3704 0044 0532 0130 00", "reference": SCOR},
            "A QR-bill is payable only to a Swiss or Liechtenstein account; “DE89 3704 0044 0532 0130 00” is not one.",
        ),
        ({"currency": "USD"}, "A QR-bill is payable in CHF or EUR only, not “USD”."),
        ({"currency": "chf"}, "A QR-bill is payable in CHF or EUR only, not “chf”."),
        ({"amount": Decimal("0.00")}, "The amount of a QR-bill must be greater than zero."),
        ({"amount": Decimal("-5.00")}, "The amount of a QR-bill must be greater than zero."),
        ({"amount": Decimal("1000000000.00")}, "The amount of a QR-bill cannot exceed 999'999'999.99."),
        ({"amount": Decimal("1219.755")}, "The amount of a QR-bill has at most two decimals, not 1219.755."),
        (
            {"reference": "210000000003139471430009016"},
            "The QR reference “210000000003139471430009016” has a wrong check digit.",
        ),
        (
            {"reference": "21000000000313947143000901"},
            "A QR reference (QRR) is 27 digits; “21000000000313947143000901” is not.",
        ),
        (
            {"reference": "21 00000 00003 13947 14300 09017"},
            "A QR reference (QRR) is 27 digits; “21 00000 00003 13947 14300 09017” is not.",
        ),
        (
            {"creditor": dataclasses.replace(CREDITOR, name="N" * 71)},
            "Creditor: the name has 71 characters; the QR-bill allows at most 70.",
        ),
        (
            {"creditor": dataclasses.replace(CREDITOR, street="S" * 71)},
            "Creditor: the street has 71 characters; the QR-bill allows at most 70.",
        ),
        (
            {"creditor": dataclasses.replace(CREDITOR, building_number="1" * 17)},
            "Creditor: the building number has 17 characters; the QR-bill allows at most 16.",
        ),
        (
            {"creditor": dataclasses.replace(CREDITOR, postal_code="1" * 17)},
            "Creditor: the postal code has 17 characters; the QR-bill allows at most 16.",
        ),
        (
            {"creditor": dataclasses.replace(CREDITOR, town="T" * 36)},
            "Creditor: the town has 36 characters; the QR-bill allows at most 35.",
        ),
        ({"creditor": dataclasses.replace(CREDITOR, name=" ")}, "Creditor: the name is required."),
        ({"creditor": dataclasses.replace(CREDITOR, postal_code="")}, "Creditor: the postal code is required."),
        ({"debtor": dataclasses.replace(DEBTOR, town="")}, "Debtor: the town is required."),
        (
            {"debtor": dataclasses.replace(DEBTOR, country="Suisse")},
            "Debtor: “Suisse” is not a two-letter ISO 3166 country code such as CH.",
        ),
        (
            {"debtor": dataclasses.replace(DEBTOR, country="ch")},
            "Debtor: “ch” is not a two-letter ISO 3166 country code such as CH.",
        ),
        (
            {"debtor": dataclasses.replace(DEBTOR, name="Иван Петров 🙂")},
            "Debtor: the name contains characters a QR-bill cannot carry: "
            "'И', 'в', 'а', 'н', 'П', 'е', 'т', 'р', 'о', '🙂'",
        ),
        (
            {"creditor": dataclasses.replace(CREDITOR, street="Boulevard\nde Pérolles")},
            "Creditor: the street contains characters a QR-bill cannot carry: '\\n'",
        ),
        (
            {"additional_information": "Facture\n2026-0042"},
            "Additional information: the text contains characters a QR-bill cannot carry: '\\n'",
        ),
        ({"reference": "INV-42"}, "A QR reference (QRR) is 27 digits; “INV-42” is not."),
        (
            {"additional_information": "x" * 141},
            "The additional information has 141 characters; the QR-bill allows at most 140.",
        ),
    ],
)
def test_qrr_payment_part_is_refused_with_a_clear_message(changes, message):
    assert messages(dataclasses.replace(QRR_PART, **changes)) == [message]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reference": "RF17539007547034"}, "The creditor reference “RF17539007547034” has wrong check digits."),
        (
            {"reference": "RF18 5390 0754 7034"},
            "A creditor reference is RF, two check digits and 1 to 21 capital letters or digits; "
            "“RF18 5390 0754 7034” is not.",
        ),
        (
            {"reference": "RF18" + "1" * 22},
            "A creditor reference is RF, two check digits and 1 to 21 capital letters or digits; "
            f"“RF18{'1' * 22}” is not.",
        ),
    ],
)
def test_scor_payment_part_is_refused_with_a_clear_message(changes, message):
    assert messages(dataclasses.replace(SCOR_PART, **changes)) == [message]


def test_an_invalid_iban_is_refused_by_the_shared_iban_check():
    with pytest.raises(ValidationError) as error:
        validate_payment_part(dataclasses.replace(QRR_PART, account="CH44 3199 9123 0008 8901 3"))
    assert [e.code for e in error.value.error_list] == ["invalid_iban"]


def test_every_broken_rule_is_listed_at_once():
    part = dataclasses.replace(
        QRR_PART,
        account=IBAN,
        currency="USD",
        amount=Decimal("-1"),
        debtor=dataclasses.replace(DEBTOR, town=""),
    )
    assert messages(part) == [
        "A QR reference (QRR) can only be paid to a QR-IBAN; “CH56 0483 5012 3456 7800 9” is an ordinary IBAN.",
        "The amount of a QR-bill must be greater than zero.",
        "A QR-bill is payable in CHF or EUR only, not “USD”.",
        "Debtor: the town is required.",
    ]


def test_no_svg_is_drawn_for_a_refused_payment_part():
    with pytest.raises(ValidationError):
        payment_part_svg(dataclasses.replace(QRR_PART, account=IBAN), language="fr")


# --- SVG and PDF ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "heading"),
    [("fr", "Section paiement"), ("de", "Zahlteil"), ("it", "Sezione pagamento"), ("en", "Payment part")],
)
def test_payment_part_svg_is_an_inline_svg_element_in_the_payers_language(language, heading):
    svg = payment_part_svg(QRR_PART, language=language)
    assert svg.startswith("<svg ")
    assert 'width="210mm"' in svg
    assert heading in svg


def pdf_page(svg: str) -> str:
    """An A4 page with the payment part at its foot, the way an invoice embeds it."""
    data = b64encode(svg.encode()).decode()
    return (
        "<!doctype html><html><head><meta charset='utf-8'><style>"
        "@page { size: A4; margin: 0 } body { margin: 0 }"
        "img { position: absolute; bottom: 0; left: 0; width: 210mm }"
        "</style></head><body><h1>Facture 2026-0042</h1>"
        f"<img src='data:image/svg+xml;base64,{data}' alt=''></body></html>"
    )


def decode_qr_code(pdf: bytes, tmp_path) -> str:
    """Rasterize the PDF at 300 dpi with poppler's pdftoppm and read its only QR code with zxing-cpp."""
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm, "pdftoppm is missing: apt-get install poppler-utils (.ci/run does)"
    (tmp_path / "bill.pdf").write_bytes(pdf)
    subprocess.run([pdftoppm, "-r", "300", "-png", "-singlefile", tmp_path / "bill.pdf", tmp_path / "bill"], check=True)
    with Image.open(tmp_path / "bill.png") as image:
        codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(codes) == 1
    return codes[0].text


def qrbill_from_payload(payload: str) -> QRBill:
    """Build the bill again from the decoded fields: the library must accept what it reads."""
    lines = payload.split("\r\n")
    keys = ["name", "street", "house_num", "pcode", "city", "country"]

    def address(start: int) -> dict[str, str]:
        return dict(zip(keys, lines[start : start + 6], strict=True))

    return QRBill(
        account=lines[3],
        creditor=address(5),
        amount=lines[18],
        currency=lines[19],
        debtor=address(21),
        reference_number=lines[28],
        additional_information=lines[29],
    )


def test_qrr_bill_in_chf_renders_to_a_pdf_whose_qr_code_carries_the_payment(tmp_path):
    payload = decode_qr_code(render_pdf(pdf_page(payment_part_svg(QRR_PART, language="fr"))), tmp_path)

    assert payload.split("\r\n") == [
        "SPC",
        "0200",
        "1",
        "CH4431999123000889012",
        # Creditor: structured address
        "S",
        "HYPERVISUAL Sàrl",
        "Boulevard de Pérolles",
        "12",
        "1700",
        "Fribourg",
        "CH",
        # Ultimate creditor: reserved, empty
        *[""] * 7,
        "1219.75",
        "CHF",
        # Debtor: structured address
        "S",
        "Café du Léman SA",
        "Rue de Genève",
        "7bis",
        "1204",
        "Genève",
        "CH",
        "QRR",
        "210000000003139471430009017",
        "Facture 2026-0042",
        "EPD",
    ]
    assert qrbill_from_payload(payload).qr_data() == payload


def test_scor_bill_in_eur_on_an_ordinary_iban_renders_to_a_pdf_whose_qr_code_carries_the_payment(tmp_path):
    payload = decode_qr_code(render_pdf(pdf_page(payment_part_svg(SCOR_PART, language="de"))), tmp_path)

    lines = payload.split("\r\n")
    assert lines[:4] == ["SPC", "0200", "1", "CH5604835012345678009"]
    assert lines[4:11] == ["S", "HYPERVISUAL Sàrl", "Boulevard de Pérolles", "12", "1700", "Fribourg", "CH"]
    assert lines[18:20] == ["1219.75", "EUR"]
    assert lines[20:27] == ["S", "Café du Léman SA", "Rue de Genève", "7bis", "1204", "Genève", "CH"]
    assert lines[27:] == ["SCOR", "RF18539007547034", "Facture 2026-0042", "EPD"]
    assert qrbill_from_payload(payload).qr_data() == payload


def test_render_pdf_never_fetches_from_the_network():
    requests = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        pdf = render_pdf(f"<link rel='stylesheet' href='{url}/style.css'><img src='{url}/logo.png'><p>Facture</p>")
    finally:
        server.shutdown()
        server.server_close()

    assert pdf.startswith(b"%PDF-")
    assert requests == []


def test_render_pdf_resolves_relative_files_against_the_base_url(tmp_path):
    Image.new("RGB", (40, 20), "red").save(tmp_path / "logo.png")

    with_logo = render_pdf("<img src='logo.png'>", base_url=f"{tmp_path.as_uri()}/")
    without_base_url = render_pdf("<img src='logo.png'>")

    assert b"/Subtype /Image" in with_logo
    assert b"/Subtype /Image" not in without_base_url
