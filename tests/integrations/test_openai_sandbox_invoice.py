"""The OpenAI sandbox reading a supplier invoice: the fields printed in a real PDF's text layer, or nothing."""

import base64
import datetime as dt
import io
import json
from decimal import Decimal

import pytest

from finance.capture_demo import DemoLine, DemoSupplierInvoice, supplier_invoice_pdf
from finance.capture_ocr import INSTRUCTIONS, INVOICE_SCHEMA, SCHEMA_NAME, TEXT_FIELDS, ocr_fields
from finance.qrbill import Address, creditor_reference, qr_reference, render_pdf
from finance.services import leads
from integrations.clients import openai as openai_client
from sandbox import openai as sandbox_openai
from tests.capture_documents import password_protected_pdf, render_page

API_KEY = "sk-sandbox-invoice"
SUPPLIER = Address("Papeterie Müller SA", "Rue de Bourg", "12a", "1003", "Lausanne", "CH")
DEBTOR = Address("HYPERVISUAL SA", "Rue du Lac", "5", "1201", "Genève", "CH")
QR_IBAN = "CH4431999123000889012"
IBAN = "CH9300762011623852957"
TWO_RATES = (
    DemoLine("Papier A4, 40 cartons", Decimal("1200.00"), Decimal("8.1")),
    DemoLine("Ouvrages de référence", Decimal("150.00"), Decimal("2.6")),
)
NOTHING_READ = {
    **{name: {"value": None, "confidence": 0.0} for name in TEXT_FIELDS},
    "vat_lines": {"lines": [], "confidence": 0.0},
}


def demo_pdf(**changes) -> bytes:
    invoice = {
        "supplier": SUPPLIER, "uid": "CHE-116.281.710", "number": "F-2026-0412",
        "invoice_date": dt.date(2026, 4, 2), "due_date": dt.date(2026, 5, 2), "iban": IBAN, "reference": "",
        "debtor": DEBTOR, "lines": TWO_RATES,
    }  # fmt: skip
    return supplier_invoice_pdf(DemoSupplierInvoice(**{**invoice, **changes}))


def data_url(pdf: bytes) -> str:
    return "data:application/pdf;base64," + base64.b64encode(pdf).decode()


def request_body(*parts: dict, schema_name: str = SCHEMA_NAME, schema: dict = INVOICE_SCHEMA) -> dict:
    """The body `OpenAIClient.structured_output` sends."""
    return {
        "model": "gpt-4.1-mini", "instructions": INSTRUCTIONS, "input": [{"role": "user", "content": list(parts)}],
        "text": {"format": {"type": "json_schema", "name": schema_name, "schema": schema, "strict": True}},
    }  # fmt: skip


def answer_to(body: dict) -> dict:
    response = sandbox_openai.response_create(API_KEY, body)
    return json.loads(response["output"][0]["content"][0]["text"])


def read(pdf: bytes) -> dict:
    return answer_to(request_body(openai_client.file_part("facture.pdf", data_url(pdf))))


def values(answer: dict) -> dict:
    return {name: answer[name]["value"] for name in TEXT_FIELDS}


def test_a_demo_invoice_is_read_field_by_field():
    answer = read(demo_pdf())
    assert values(answer) == {
        "supplier_name": "Papeterie Müller SA", "supplier_uid": "CHE-116.281.710", "supplier_street": "Rue de Bourg",
        "supplier_building_number": "12a", "supplier_postal_code": "1003", "supplier_town": "Lausanne",
        "supplier_country": "CH", "invoice_number": "F-2026-0412", "invoice_date": "2026-04-02",
        "due_date": "2026-05-02", "currency": "CHF", "total": "1451.10", "iban": IBAN, "reference": None,
    }  # fmt: skip
    assert answer["vat_lines"] == {
        "lines": [{"rate": "2.6", "net": "150.00", "vat": "3.90"}, {"rate": "8.1", "net": "1200.00", "vat": "97.20"}],
        "confidence": 0.9,
    }
    assert {name: answer[name]["confidence"] for name in TEXT_FIELDS} == {
        **dict.fromkeys(TEXT_FIELDS, 0.95),
        "reference": 0.0,
    }


def test_the_answer_has_the_shape_of_the_schema_and_passes_the_hub_check():
    answer = read(demo_pdf(iban=QR_IBAN, reference=qr_reference("20260412")))
    assert set(answer) == set(INVOICE_SCHEMA["properties"]) == set(INVOICE_SCHEMA["required"])
    assert all(set(answer[name]) == {"value", "confidence"} for name in TEXT_FIELDS)
    reading = ocr_fields(answer)
    assert {name: (field.value, field.problem) for name, field in reading.fields.items()} == {
        name: (value, "") for name, value in values(answer).items()
    }
    assert [(line.rate, line.net, line.vat) for line in reading.vat_lines] == [
        (Decimal("2.6"), Decimal("150.00"), Decimal("3.90")),
        (Decimal("8.1"), Decimal("1200.00"), Decimal("97.20")),
    ]


def test_a_qr_reference_is_read_from_the_payment_part_of_a_qr_iban_invoice():
    answer = read(demo_pdf(iban=QR_IBAN, reference=qr_reference("20260412")))
    assert (answer["iban"]["value"], answer["reference"]) == (
        QR_IBAN, {"value": "000000000000000000202604127", "confidence": 0.95}
    )  # fmt: skip


def test_a_creditor_reference_is_read_from_the_payment_part():
    answer = read(demo_pdf(reference=creditor_reference("F20260412")))
    assert (answer["iban"]["value"], answer["reference"]) == (IBAN, {"value": "RF70F20260412", "confidence": 0.95})


def test_a_reference_printed_in_the_letter_is_read_there():
    answer = read(demo_pdf(extra_text=("Référence de paiement : RF18 5390 0754 7034, merci.",)))
    assert answer["reference"] == {"value": "RF18539007547034", "confidence": 0.95}
    answer = read(demo_pdf(extra_text=("Votre référence : 21 00000 00003 13947 14300 09017",)))
    assert answer["reference"]["value"] == "210000000003139471430009017"


def test_german_labels_are_read():
    pdf = render_pdf(
        "<!doctype html><meta charset='utf-8'><p><strong>Druckerei Berger AG</strong></p>"
        "<p>Industriestrasse 7, 8005 Zürich · UID CHE-109.322.551 MWST</p><h1>Rechnung R-2026/77</h1>"
        "<p>Rechnungsdatum: 05.01.2026<br>Fällig am: 04.02.2026</p><p>MWST 8.1 % auf EUR 1'000.00 81.00</p>"
        "<p>Total EUR 1'081.00</p><p>IBAN: CH93 0076 2011 6238 5295 7</p>"
    )
    answer = read(pdf)
    assert values(answer) == {
        "supplier_name": "Druckerei Berger AG", "supplier_uid": "CHE-109.322.551",
        "supplier_street": "Industriestrasse", "supplier_building_number": "7", "supplier_postal_code": "8005",
        "supplier_town": "Zürich", "supplier_country": "CH", "invoice_number": "R-2026/77",
        "invoice_date": "2026-01-05", "due_date": "2026-02-04", "currency": "EUR", "total": "1081.00",
        "iban": IBAN, "reference": None,
    }  # fmt: skip
    assert answer["vat_lines"]["lines"] == [{"rate": "8.1", "net": "1000.00", "vat": "81.00"}]


def test_a_photo_is_not_read():
    png = render_page(demo_pdf(), dpi=50)
    out = io.BytesIO()
    png.save(out, format="PNG")
    photo = openai_client.image_part("data:image/png;base64," + base64.b64encode(out.getvalue()).decode())
    assert answer_to(request_body(openai_client.text_part("Lis cette facture."), photo)) == NOTHING_READ


def test_a_scan_without_a_text_layer_is_not_read():
    scan = io.BytesIO()
    render_page(demo_pdf(), dpi=100).save(scan, format="PDF")
    assert read(scan.getvalue()) == NOTHING_READ


@pytest.mark.parametrize(
    "file_data",
    [
        "data:application/pdf;base64,pas du base64 !",
        "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.7 truncated").decode(),
        "data:application/pdf;base64," + base64.b64encode(password_protected_pdf()).decode(),
        "https://example.ch/facture.pdf",
    ],
)
def test_a_file_that_does_not_decode_is_no_text(file_data):
    part = {"type": "input_file", "filename": "facture.pdf", "file_data": file_data}
    assert answer_to(request_body(part)) == NOTHING_READ


def test_other_schemas_still_get_the_generic_answer():
    body = request_body(
        openai_client.text_part("Budget: CHF 12000.00"), openai_client.file_part("facture.pdf", data_url(demo_pdf())),
        schema_name="lead_qualification", schema=leads.QUALIFICATION_SCHEMA,
    )  # fmt: skip
    assert answer_to(body) == sandbox_openai.instance_of(leads.QUALIFICATION_SCHEMA, "Budget: CHF 12000.00")


def test_a_scripted_answer_comes_before_the_reading():
    sandbox_openai.script_push(API_KEY, output_text='{"scripted": true}')
    assert answer_to(request_body(openai_client.file_part("facture.pdf", data_url(demo_pdf())))) == {"scripted": True}
