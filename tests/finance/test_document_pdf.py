"""Printed invoices and quotes: what their QR code carries, what their pages say, and what is refused unprinted."""

import datetime
import re
import shutil
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import zxingcpp
from django.core.exceptions import ValidationError
from django.utils import translation
from PIL import Image

from finance import pdf, qrbill, vat
from finance.models import Company, Invoice, InvoiceLine
from finance.services import documents
from finance.services.documents import DocumentStateError, LineInput
from finance.templatetags.money import chf, number
from tests.factories import ClientFactory, CompanyFactory, InvoiceFactory, UserFactory
from tests.finance.test_qrbill import qrbill_from_payload

pytestmark = pytest.mark.django_db

D = Decimal
ISSUE_DAY = datetime.date(2026, 11, 10)
QR_IBAN = "CH4431999123000889012"
IBAN = "CH5604835012345678009"
QUOTE_LINES = [
    LineInput("Écran LED 55 pouces", quantity=D("3"), unit_price=D("333.33"), vat_code="standard"),
    LineInput("Repas équipe", quantity=D("1.5"), unit_price=D("99.90"), vat_code="reduced", discount_percent=D("10")),
    LineInput("Câble", quantity=D("1"), unit_price=D("0.35"), vat_code="standard", unit="pce"),
]


@pytest.fixture(autouse=True)
def _english():
    """Whoever prints works in English; each document must still come out in its client's language."""
    with translation.override("en"):
        yield


@pytest.fixture
def user():
    return UserFactory()


def seller(*, qr_iban: str = QR_IBAN) -> Company:
    return CompanyFactory(
        code="QP", legal_name="HYPERVISUAL Sàrl", street="Boulevard de Pérolles", building_number="12",
        postal_code="1700", town="Fribourg", iban=IBAN, qr_iban=qr_iban, rounds_to_five_centimes=True,
    )  # fmt: skip


def buyer(company: Company, *, language: str = "en"):
    return ClientFactory(
        company=company, name="Café du Léman SA", street="Rue de Genève", building_number="7bis",
        postal_code="1204", town="Genève", language=language,
    )  # fmt: skip


def draft_quote(company: Company, user, *, language: str = "en", currency: str = "CHF"):
    quote = documents.quote_create(
        client=buyer(company, language=language), title="Mur LED", quote_date=datetime.date(2026, 11, 2),
        valid_until=datetime.date(2026, 12, 2), project_type="digital_signage", currency=currency, created_by=user,
    )  # fmt: skip
    return documents.quote_lines_replace(quote=quote, lines=QUOTE_LINES, edited_by=user)


def issued_deposit(company: Company, user, *, language: str = "en", currency: str = "CHF") -> Invoice:
    """30 % deposit on the quote: 300.10 at 8.1 % and 40.46 at 2.6 %, 365.92 rounded to 365.90."""
    quote = documents.quote_send(quote=draft_quote(company, user, language=language, currency=currency), sent_by=user)
    quote = documents.quote_mark_signed(quote=quote, actor=user)
    deposit = documents.invoice_create_deposit(quote=quote, created_by=user)
    return documents.invoice_issue(invoice=deposit, issued_by=user, issue_date=ISSUE_DAY)


def issued_invoice_of(company: Company, user, *, line_count: int) -> Invoice:
    invoice = InvoiceFactory(company=company, client=buyer(company), title="Maintenance", created_by=user)
    rate = vat.vat_rate_on(code="standard", on=ISSUE_DAY).rate
    for position in range(1, line_count + 1):
        InvoiceLine.objects.create(
            invoice=invoice, position=position, description=f"Intervention {position}", quantity=D("2"), unit="h",
            unit_price=D("120.00"), vat_code="standard", vat_rate=rate,
        )  # fmt: skip
    return documents.invoice_issue(invoice=invoice, issued_by=user, issue_date=ISSUE_DAY)


def pdf_pages(document_pdf: bytes, tmp_path) -> list[Path]:
    """Rasterize every page at 300 dpi with poppler's pdftoppm."""
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm, "pdftoppm is missing: apt-get install poppler-utils (.ci/run does)"
    (tmp_path / "document.pdf").write_bytes(document_pdf)
    subprocess.run([pdftoppm, "-r", "300", "-png", tmp_path / "document.pdf", tmp_path / "page"], check=True)
    return sorted(tmp_path.glob("page-*.png"))


@dataclass(frozen=True)
class FoundQrCode:
    page: int
    top: float  # the code's top edge, as a share of the page height
    text: str


def qr_codes(pages: list[Path]) -> list[FoundQrCode]:
    """Every QR code on the pages, read with zxing-cpp."""
    found = []
    for page_number, page in enumerate(pages, start=1):
        with Image.open(page) as image:
            for code in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode):
                found.append(FoundQrCode(page_number, code.position.top_left.y / image.height, code.text))
    return found


def pdf_text(document_pdf: bytes, tmp_path) -> str:
    """The PDF's text as poppler lays it out, runs of spaces squeezed to one."""
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext is missing: apt-get install poppler-utils (.ci/run does)"
    (tmp_path / "text.pdf").write_bytes(document_pdf)
    text = subprocess.run([pdftotext, "-layout", tmp_path / "text.pdf", "-"], check=True, capture_output=True).stdout
    return re.sub(r"[ \t]+", " ", text.decode())


# --- The QR code -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qr_iban", "currency", "account", "reference_type", "amount"),
    [
        (QR_IBAN, "CHF", QR_IBAN, "QRR", "365.90"),
        ("", "CHF", IBAN, "SCOR", "365.90"),
        # Cash rounding to 0.05 is for francs: the euro invoice asks for its exact 365.92.
        (QR_IBAN, "EUR", QR_IBAN, "QRR", "365.92"),
    ],
)
def test_the_qr_code_of_the_invoice_pdf_carries_exactly_the_invoice(
    tmp_path, user, qr_iban, currency, account, reference_type, amount
):
    invoice = issued_deposit(seller(qr_iban=qr_iban), user, currency=currency)

    [code] = qr_codes(pdf_pages(pdf.invoice_pdf(invoice), tmp_path))

    payload = code.text
    fields = payload.split("\r\n")
    assert fields[:4] == ["SPC", "0200", "1", account]
    assert fields[4:11] == ["S", "HYPERVISUAL Sàrl", "Boulevard de Pérolles", "12", "1700", "Fribourg", "CH"]
    assert fields[18:20] == [amount, currency]
    assert D(fields[18]) == invoice.payable_total
    assert fields[20:27] == ["S", "Café du Léman SA", "Rue de Genève", "7bis", "1204", "Genève", "CH"]
    assert fields[27:] == [reference_type, invoice.qr_reference, invoice.number, "EPD"]
    assert qrbill_from_payload(payload).qr_data() == payload


def test_the_payment_part_is_built_from_the_issued_invoice(user):
    invoice = issued_deposit(seller(), user)

    part = pdf.invoice_payment_part(invoice)

    assert part == qrbill.PaymentPart(
        account=QR_IBAN,
        creditor=qrbill.Address("HYPERVISUAL Sàrl", "Boulevard de Pérolles", "12", "1700", "Fribourg", "CH"),
        debtor=qrbill.Address("Café du Léman SA", "Rue de Genève", "7bis", "1204", "Genève", "CH"),
        amount=D("365.90"),
        currency="CHF",
        reference=invoice.qr_reference,
        additional_information=invoice.number,
    )
    assert part.reference_type == "QRR"


def test_an_rf_reference_is_paid_to_the_ordinary_iban_even_once_the_company_has_a_qr_iban(user):
    company = seller(qr_iban="")
    invoice = issued_deposit(company, user)
    Company.objects.filter(pk=company.pk).update(qr_iban=QR_IBAN)

    part = pdf.invoice_payment_part(Invoice.objects.get(pk=invoice.pk))

    assert (part.account, part.reference_type) == (IBAN, "SCOR")


@pytest.mark.parametrize(("line_count", "page_count"), [(1, 1), (40, 2)])
def test_the_payment_part_sits_at_the_foot_of_the_last_page(tmp_path, user, line_count, page_count):
    invoice = issued_invoice_of(seller(), user, line_count=line_count)

    pages = pdf_pages(pdf.invoice_pdf(invoice), tmp_path)

    [code] = qr_codes(pages)
    assert (len(pages), code.page) == (page_count, page_count)
    # The payment part is the bottom 105 mm of A4; its QR code starts 17 mm below the part's top edge.
    assert code.top == pytest.approx((297 - 105 + 17) / 297, abs=0.01)


# --- What the page says ------------------------------------------------------------------------------------


def test_the_invoice_pdf_shows_the_company_the_amounts_per_vat_rate_and_the_terms(tmp_path, user):
    company = seller()
    invoice = issued_deposit(company, user)

    text = pdf_text(pdf.invoice_pdf(invoice), tmp_path)

    for expected in [
        "HYPERVISUAL Sàrl",
        f"VAT number {company.vat_number}",
        f"Deposit invoice {invoice.number}",
        f"Quote no. {invoice.quote.number}",
        f"Deposit on our quote {invoice.quote.number} of 02.11.2026.",
        "Due date 20.11.2026",
        "Total excl. VAT 340.56",
        "VAT 8.1 % on 300.10 24.31",
        "VAT 2.6 % on 40.46 1.05",
        "Total incl. VAT 365.92",
        "Rounding -0.02",
        "Total payable CHF 365.90",
        "Payable within 10 days, by 20.11.2026.",
        "Late payment interest of 5 % per year is due from the due date (art. 104 CO).",
    ]:
        assert expected in text


def test_amounts_are_printed_in_the_swiss_format_and_without_a_rounding_line_when_there_is_none(tmp_path, user):
    invoice = issued_invoice_of(seller(), user, line_count=5)

    text = pdf_text(pdf.invoice_pdf(invoice), tmp_path)

    assert "Intervention 5 2 h 120.00 8.1 240.00" in text
    assert "Total excl. VAT 1'200.00" in text
    assert "Total payable CHF 1'297.20" in text
    assert "Rounding" not in text


def test_the_invoice_is_written_in_the_clients_language_whatever_the_printers(tmp_path, user):
    invoice = issued_deposit(seller(), user, language="de")

    html = pdf.invoice_html(invoice)
    text = pdf_text(qrbill.render_pdf(html), tmp_path)

    assert html.startswith('<!doctype html>\n<html lang="de">')
    # The payment part's headings come translated from the qrbill library, whatever the Hub's catalogues hold.
    assert "Empfangsschein" in text
    assert "Zahlteil" in text
    assert translation.get_language() == "en"


def test_a_credit_note_names_the_credited_invoice_and_the_reason_and_has_no_payment_part(tmp_path, user):
    invoice = issued_deposit(seller(), user)
    note = documents.credit_note_create(invoice=invoice, created_by=user, reason="Projet annulé")
    note = documents.invoice_issue(invoice=note, issued_by=user, issue_date=ISSUE_DAY)
    document_pdf = pdf.invoice_pdf(note)

    text = pdf_text(document_pdf, tmp_path)

    assert qr_codes(pdf_pages(document_pdf, tmp_path)) == []
    assert "Payment part" not in text
    assert f"Credit note {note.number}" in text
    assert f"Credited invoice {invoice.number}" in text
    assert f"We credit you the following amounts on our invoice {invoice.number} of 10.11.2026." in text
    assert "Reason: Projet annulé" in text
    assert "Total credited CHF 365.90" in text
    assert "art. 104 CO" not in text


def test_the_quote_pdf_shows_its_lines_validity_and_deposit(tmp_path, user):
    quote = documents.quote_send(quote=draft_quote(seller(), user), sent_by=user)

    text = pdf_text(pdf.quote_pdf(quote), tmp_path)

    for expected in [
        f"Quote {quote.number}",
        "Valid until 02.12.2026",
        "1 Écran LED 55 pouces 3 333.33 8.1 999.99",
        "2 Repas équipe 1.5 99.90 10 2.6 134.87",
        "3 Câble 1 pce 0.35 8.1 0.35",
        "Total excl. VAT 1'135.21",
        "Total CHF 1'219.75",
        "This quote is valid until 02.12.2026.",
        "Deposit of 30 % due on signature.",
    ]:
        assert expected in text
    assert "Rounding" not in text


def test_a_draft_quote_is_printed_as_a_draft(tmp_path, user):
    quote = draft_quote(seller(), user)

    text = pdf_text(pdf.quote_pdf(quote), tmp_path)

    assert "Quote Draft" in text
    assert "Quote no. Draft" in text


def test_a_foreign_address_ends_with_the_country_in_capitals(tmp_path, user):
    quote = draft_quote(seller(), user)
    quote.client.country, quote.client.postal_code, quote.client.town = "DE", "10115", "Berlin"

    text = pdf_text(pdf.quote_pdf(quote), tmp_path)

    assert text.index("10115 Berlin") < text.index("GERMANY")


# --- Refused before anything is rendered -------------------------------------------------------------------


@pytest.fixture
def nothing_rendered(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a refused document must not be rendered")

    monkeypatch.setattr(pdf, "render_to_string", refuse)
    monkeypatch.setattr(qrbill, "render_pdf", refuse)


def test_a_qr_reference_without_a_qr_iban_is_refused(user, nothing_rendered):
    company = seller()
    invoice = issued_deposit(company, user)
    # The QR-IBAN removed after the invoice took its QR reference: the reference can no longer be paid.
    Company.objects.filter(pk=company.pk).update(qr_iban="")

    with pytest.raises(ValidationError) as refused:
        pdf.invoice_pdf(Invoice.objects.get(pk=invoice.pk))

    assert refused.value.messages == [
        "A QR reference (QRR) can only be paid to a QR-IBAN; “CH56 0483 5012 3456 7800 9” is an ordinary IBAN."
    ]


def test_a_payment_part_the_standard_refuses_is_refused_with_every_reason(user, nothing_rendered):
    invoice = issued_deposit(seller(), user)
    invoice.client.town = ""
    invoice.company.legal_name = "N" * 71

    with pytest.raises(ValidationError) as refused:
        pdf.invoice_pdf(invoice)

    assert refused.value.messages == [
        "Creditor: the name has 71 characters; the QR-bill allows at most 70.",
        "Debtor: the town is required.",
    ]


def test_a_draft_or_cancelled_invoice_has_no_pdf(user, nothing_rendered):
    quote = documents.quote_mark_signed(
        quote=documents.quote_send(quote=draft_quote(seller(), user, language="de"), sent_by=user), actor=user
    )
    draft = documents.invoice_create_deposit(quote=quote, created_by=user)

    with pytest.raises(DocumentStateError) as refused:
        pdf.invoice_pdf(draft)
    assert refused.value.messages == [f"Only an issued invoice has a PDF; “{draft.title}” is draft."]

    cancelled = documents.invoice_cancel_draft(invoice=draft, cancelled_by=user)
    with pytest.raises(DocumentStateError, match="is cancelled"):
        pdf.invoice_pdf(cancelled)


# --- Swiss number formats ----------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["fr", "de", "en", "it"])
def test_amounts_and_quantities_are_swiss_in_every_language(language):
    with translation.override(language):
        assert [chf(D("1234.5")), chf(D("-0.02")), chf(D("1234567.00"))] == ["1'234.50", "-0.02", "1'234'567.00"]
        assert [chf(D("-1234567.891")), chf(D("-0.001")), chf(D("999.995"))] == ["-1'234'567.89", "0.00", "1'000.00"]
        assert [number(D("-0.00")), number(D("12345.6780")), number(D("1E+3"))] == ["0", "12'345.678", "1'000"]
        assert [number(D("1.500")), number(D("8.10")), number(D("1000.000")), number(D("0.00"))] == [
            "1.5",
            "8.1",
            "1'000",
            "0",
        ]
