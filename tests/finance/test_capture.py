"""Supplier-invoice capture: real generated documents, OpenAI answers from fixtures shaped as the real API
(valid, partly wrong, invalid JSON, 429, timeout), the cross-checks, the pages and the saved draft."""

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import httpx2
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from finance import capture_ocr
from finance.models import (
    AuditEvent,
    Project,
    ProviderAssignment,
    Role,
    Supplier,
    SupplierInvoice,
    SupplierInvoiceCapture,
)
from finance.services import capture as capture_service
from finance.services import purchases
from integrations import actions
from integrations import openai as openai_connection
from integrations.health import redis_client
from integrations.models import ActionRun
from tests import capture_documents as docs
from tests.factories import ClientFactory, SupplierFactory
from tests.integrations.test_openai import BASE_URL, FakeOpenAI, django_transport, responses_json

pytestmark = pytest.mark.django_db

BILLING = "//S1/10/2026-0815/11/261120/30/106017086/40/0:30"
TOTAL = Decimal("1399.80")


def field(value, confidence=0.97):
    return {"value": value, "confidence": confidence}


def answer(**changes) -> dict:
    """What OpenAI answers for the test invoice, every field read clearly."""
    data = {
        "supplier_name": field("Imprimerie du Lac SA"), "supplier_uid": field("CHE-106.017.086"),
        "supplier_street": field("Route de la Glâne"), "supplier_building_number": field("21"),
        "supplier_postal_code": field("1700"), "supplier_town": field("Fribourg"), "supplier_country": field("CH"),
        "invoice_number": field("2026-0815"), "invoice_date": field("2026-11-20"), "due_date": field("2026-12-20"),
        "currency": field("CHF"), "total": field("1399.80"), "iban": field("CH44 3199 9123 0008 8901 2"),
        "reference": field("21 00000 00003 13947 14300 09017"),
        "vat_lines": {"lines": [{"rate": "8.1", "net": "1200.00", "vat": "97.20"},
                                {"rate": "2.6", "net": "100.00", "vat": "2.60"}], "confidence": 0.9},
    }  # fmt: skip
    data.update(changes)
    return data


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield


@pytest.fixture(scope="module")
def bill_pdf() -> bytes:
    return docs.qr_bill_pdf(amount=TOTAL, billing=BILLING)


@pytest.fixture
def fake(monkeypatch) -> FakeOpenAI:
    fake = FakeOpenAI()
    monkeypatch.setattr(openai_connection, "http_client_factory", fake.client)
    return fake


@pytest.fixture
def openai_on(company_a):
    return openai_connection.settings_save(company=company_a, base_url=BASE_URL, api_key="sk-test",
                                           model="gpt-4.1-mini", updated_by=None)  # fmt: skip


@pytest.fixture
def no_retry_wait(monkeypatch):
    monkeypatch.setattr(actions.execute_action_run, "apply_async", lambda *args, **kwargs: None)


@pytest.fixture
def finance_user(company_a, member_of):
    return member_of(company_a, Role.FINANCE, "fin-capture")


def receive(company, user, data, django_capture_on_commit_callbacks, filename="facture.pdf"):
    with django_capture_on_commit_callbacks(execute=False):
        capture, created = capture_service.capture_receive(
            company=company, data=data, filename=filename, received_by=user
        )
    assert created
    return capture, capture_service.capture_read_run(capture)


def read(company, user, data, callbacks, fake=None, answers=(), filename="facture.pdf"):
    capture, run = receive(company, user, data, callbacks, filename=filename)
    if fake is not None:
        fake.answers += list(answers)
    actions.execute_action_run(run.pk)
    capture.refresh_from_db()
    run.refresh_from_db()
    return capture, run


def ok(data: dict) -> httpx2.Response:
    return httpx2.Response(200, json=responses_json(json.dumps(data)))


# --- Reading ------------------------------------------------------------------------------------------------


def test_a_qr_bill_pdf_is_read_from_its_qr_code_and_by_openai(
    company_a, finance_user, openai_on, fake, bill_pdf, django_capture_on_commit_callbacks
):
    capture, run = read(company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks, fake, [ok(answer())])
    assert (run.status, run.action, run.idempotency_key) == (
        "succeeded",
        "capture.read",
        f"capture.read:{capture.pk}:1",
    )
    assert (capture.status, capture.kind, capture.pages, capture.qr_found) == ("to_check", "pdf", 1, True)
    assert (capture.ocr_model, capture.ocr_prompt_version, capture.ocr_problem) == (
        "gpt-4.1-mini-2025-04-14", capture_ocr.PROMPT_VERSION, "")  # fmt: skip
    values = {name: (read["value"], read["source"], read["confidence"]) for name, read in capture.fields.items()}
    assert values["total"] == ("1399.80", "qr", 1.0)
    assert values["iban"] == ("CH4431999123000889012", "qr", 1.0)
    assert values["reference"] == ("210000000003139471430009017", "qr", 1.0)
    assert values["reference_type"] == ("QRR", "qr", 1.0)
    assert values["invoice_number"] == ("2026-0815", "qr", 1.0)
    assert values["invoice_date"] == ("2026-11-20", "qr", 1.0)
    assert values["due_date"] == ("2026-12-20", "qr", 1.0)
    assert values["supplier_uid"] == ("CHE-106.017.086", "qr", 1.0)
    assert values["supplier_name"][:2] == ("Imprimerie du Lac SA", "qr")
    assert capture.vat_lines == [
        {"rate": "8.1", "net": "1200.00", "vat": "97.20", "source": "ocr", "confidence": 0.9, "vat_code": "standard"},
        {"rate": "2.6", "net": "100.00", "vat": "2.60", "source": "ocr", "confidence": 0.9, "vat_code": "reduced"},
    ]
    # Only the new supplier is doubtful: everything agrees and adds up.
    assert capture.doubtful() == {"supplier_name": "New supplier: check the name and address before saving."}
    assert {check["code"]: check["ok"] for check in capture.checks} == {
        "vat_sum": True, "qr_agrees": True, "supplier": False}  # fmt: skip
    assert capture.supplier_match == "new"
    sent = json.loads(fake.requests[0].content)
    assert sent["text"]["format"]["name"] == "supplier_invoice"
    assert sent["text"]["format"]["strict"] is True
    parts = sent["input"][0]["content"]
    assert parts[0] == {"type": "input_text",
                        "text": "Supplier invoice received by Alpha (the customer, not the supplier)."}  # fmt: skip
    assert (parts[1]["type"], parts[1]["filename"]) == ("input_file", "facture.pdf")
    assert parts[1]["file_data"].startswith("data:application/pdf;base64,JVBERi0")
    assert AuditEvent.objects.filter(action="capture.read", object_id=str(capture.pk)).count() == 1


def test_a_photo_is_read_from_its_qr_code_and_sent_to_openai_as_an_image(
    company_a, finance_user, openai_on, fake, bill_pdf, django_capture_on_commit_callbacks
):
    photo = docs.photo(bill_pdf, dpi=150, angle=3.0, format="PNG", quality=70)
    capture, run = read(company_a, finance_user, photo, django_capture_on_commit_callbacks, fake, [ok(answer())],
                        filename="IMG_0815.png")  # fmt: skip
    assert (run.status, capture.kind, capture.qr_found) == ("succeeded", "png", True)
    assert (capture.value("total"), capture.value("iban"), capture.value("reference")) == (
        "1399.80", "CH4431999123000889012", "210000000003139471430009017")  # fmt: skip
    image = json.loads(fake.requests[0].content)["input"][0]["content"][1]
    assert (image["type"], image["detail"]) == ("input_image", "high")
    assert image["image_url"].startswith("data:image/jpeg;base64,/9j/")


def test_a_partly_wrong_answer_marks_each_doubtful_field(
    company_a, finance_user, openai_on, fake, django_capture_on_commit_callbacks
):
    pdf = docs.qr_bill_pdf(amount=TOTAL, billing="")
    wrong = answer(
        total=field("1399.00"), iban=field("CH56 0483 5012 3456 7800 9"), invoice_date=field("2026-11-20", 0.42),
        due_date=field("20/12/2026"),
        vat_lines={"lines": [{"rate": "7.7", "net": "1200.00", "vat": "92.40"}], "confidence": 0.6},
    )  # fmt: skip
    capture, run = read(company_a, finance_user, pdf, django_capture_on_commit_callbacks, fake, [ok(wrong)])
    assert run.status == "succeeded"
    doubts = capture.doubtful()
    assert doubts["total"] == (
        "The QR code says 1399.80, the document text says 1399.00. "
        "The VAT lines add up to 1292.40, the total is 1399.80."
    )
    assert doubts["iban"] == "The QR code says CH4431999123000889012, the document text says CH5604835012345678009."
    assert doubts["invoice_date"] == "Read with low confidence (42 %)."
    assert capture.fields["due_date"] == {"value": "20/12/2026", "confidence": 0.0, "source": "ocr",
                                          "doubt": "Not readable as a date."}  # fmt: skip
    assert capture.vat_lines[0]["doubt"] == (
        "The VAT lines add up to 1292.40, the total is 1399.80. "
        "7.7 % is not a Swiss VAT rate on 20.11.2026 (8.1, 3.8, 2.6, 0)."
    )
    checks = {check["code"]: (check["ok"], check["message"]) for check in capture.checks}
    assert checks["qr_agrees"] == (False, "The QR code and the document text differ: total, iban.")
    assert checks["vat_rate"][0] is False
    # The QR values are kept: the person decides.
    assert (capture.value("total"), capture.value("iban")) == ("1399.80", "CH4431999123000889012")


def test_rates_before_2024_are_the_old_ones(
    company_a, finance_user, openai_on, fake, django_capture_on_commit_callbacks
):
    pdf = docs.qr_bill_pdf(amount=Decimal("107.70"), billing="")
    old = answer(invoice_date=field("2023-11-20"), due_date=field("2023-12-20"), total=field("107.70"),
                 vat_lines={"lines": [{"rate": "7.7", "net": "100.00", "vat": "7.70"}], "confidence": 0.9})  # fmt: skip
    capture, _run = read(company_a, finance_user, pdf, django_capture_on_commit_callbacks, fake, [ok(old)])
    assert capture.vat_lines == [{"rate": "7.7", "net": "100.00", "vat": "7.70", "source": "ocr", "confidence": 0.9,
                                  "vat_code": "standard"}]  # fmt: skip
    assert "vat_rate" not in {check["code"] for check in capture.checks}


@pytest.mark.parametrize(
    ("answers", "run_status", "problem"),
    [
        ([httpx2.Response(200, json=responses_json("{total: 1399"))], "failed",
         "OpenAI did not read the document: the answer is not valid JSON: '{total: 1399'"),
        ([httpx2.Response(200, json=responses_json(json.dumps({"total": "1399.80"})))], "failed",
         "OpenAI did not read the document: the answer does not fit the schema: supplier_name is missing or not an "
         "object with a value"),
        ([httpx2.Response(429, json={"error": {"message": "You exceeded your current quota.",
                                               "type": "insufficient_quota"}})] * 2,
         "queued", "OpenAI did not read the document: You exceeded your current quota."),
        ([httpx2.ReadTimeout("timed out")] * 2, "queued",
         "OpenAI did not read the document: no answer within the time limit"),
    ],
    ids=["invalid-json", "wrong-shape", "429", "timeout"],
)  # fmt: skip
def test_when_openai_fails_the_qr_fields_stay_filled_with_the_reason(
    company_a, finance_user, openai_on, fake, bill_pdf, no_retry_wait, django_capture_on_commit_callbacks,
    answers, run_status, problem,
):  # fmt: skip
    capture, run = read(company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks, fake, answers)
    # Transient errors (quota, timeout) are tried again later by the run; the others fail it for good.
    assert run.status == run_status
    assert capture.status == "to_check"
    assert capture.ocr_problem == problem
    assert (capture.value("total"), capture.value("iban"), capture.value("invoice_number")) == (
        "1399.80", "CH4431999123000889012", "2026-0815")  # fmt: skip
    assert capture.vat_lines == []
    assert capture.doubtful()["supplier_name"] == "New supplier: check the name and address before saving."


def test_a_transient_failure_retried_until_the_last_attempt_fails_the_run(
    company_a, finance_user, openai_on, fake, bill_pdf, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(actions, "MAX_ATTEMPTS", 2)
    retries = []
    monkeypatch.setattr(actions.execute_action_run, "apply_async", lambda args, countdown: retries.append(countdown))
    quota = httpx2.Response(429, json={"error": {"message": "Rate limit reached", "type": "requests"}})
    capture, run = read(company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks, fake, [quota] * 4)
    assert (run.status, run.attempts, retries) == ("queued", 1, [15])
    actions.execute_action_run(run.pk)
    run.refresh_from_db()
    capture.refresh_from_db()
    assert (run.status, run.attempts, run.last_error) == ("failed", 2, "OpenAI: Rate limit reached (HTTP 429)")
    assert capture.ocr_problem == "OpenAI did not read the document: Rate limit reached"


def test_without_openai_only_the_qr_part_is_read_and_that_is_said(
    company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks
):
    capture, run = read(company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks)
    assert run.status == "succeeded"
    assert capture.ocr_problem == (
        "OpenAI is not configured for Alpha: only the QR payment part was read, the other fields are yours to fill in."
    )
    assert (capture.value("total"), capture.ocr_model) == ("1399.80", "")


def test_a_document_without_qr_code_is_read_by_openai_alone(
    company_a, finance_user, openai_on, fake, django_capture_on_commit_callbacks
):
    pdf = docs.plain_pdf("Total CHF 1'399.80")
    capture, run = read(company_a, finance_user, pdf, django_capture_on_commit_callbacks, fake, [ok(answer())])
    assert (run.status, capture.qr_found, capture.qr_problem) == (
        "succeeded", False, "No Swiss QR code was found on the document.")  # fmt: skip
    assert capture.fields["total"] == {"value": "1399.80", "confidence": 0.97, "source": "ocr", "doubt": ""}
    assert capture.fields["reference"]["value"] == "210000000003139471430009017"


def test_a_document_whose_pages_cannot_be_rendered_fails_the_run_with_the_reason(
    company_a, finance_user, openai_on, fake, django_capture_on_commit_callbacks
):
    capture, run = read(company_a, finance_user, docs.password_protected_pdf(), django_capture_on_commit_callbacks)
    reason = "The PDF is protected by a password; upload a copy without the password."
    assert (run.status, run.last_error) == ("failed", reason)
    assert (capture.status, capture.qr_problem, capture.ocr_problem, fake.requests) == ("to_check", reason, "", [])
    assert capture.doubtful()["total"] == "Not read: fill it in from the document."


def test_a_failed_read_is_read_again(
    company_a, finance_user, openai_on, fake, bill_pdf, no_retry_wait, django_capture_on_commit_callbacks
):
    capture, run = read(company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks, fake,
                        [httpx2.Response(200, json=responses_json("nope"))])  # fmt: skip
    assert run.status == "failed"
    with django_capture_on_commit_callbacks(execute=False):
        again = capture_service.capture_read_again(capture=capture, actor=finance_user)
    assert (again.pk, again.status, again.attempts) == (run.pk, "queued", 0)
    fake.answers.append(ok(answer()))
    actions.execute_action_run(run.pk)
    capture.refresh_from_db()
    assert (capture.ocr_problem, capture.ocr_model) == ("", "gpt-4.1-mini-2025-04-14")
    # A read that succeeded (OpenAI not configured then) is read again by a new run.
    with django_capture_on_commit_callbacks(execute=False):
        third = capture_service.capture_read_again(capture=capture, actor=finance_user)
    assert third.idempotency_key == f"capture.read:{capture.pk}:2"


# --- Supplier, duplicates, deviation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("supplier_kwargs", "match"),
    [
        ({"name": "Druckerei am See AG", "che_uid": "CHE-106.017.086"}, "uid"),
        ({"name": "Druckerei am See AG", "iban": "CH4431999123000889012"}, "iban"),
        ({"name": "imprimerie du lac sa"}, "name"),
    ],
)
def test_the_supplier_is_found_by_uid_then_iban_then_name(
    company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks, supplier_kwargs, match
):
    supplier = SupplierFactory(company=company_a, **supplier_kwargs)
    capture, _run = read(company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks)
    assert (capture.supplier, capture.supplier_match) == (supplier, match)
    assert "supplier_name" not in capture.doubtful()
    if match != "iban":
        assert capture.doubtful()["iban"] == (
            f"Not the IBAN on file for {supplier.name} (CH56 0483 5012 3456 7800 9): check before paying."
        )


def test_an_invoice_entered_already_is_flagged_with_a_link(
    company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks
):
    supplier = SupplierFactory(company=company_a, che_uid="CHE-106.017.086", iban="CH4431999123000889012")
    existing = purchases.supplier_invoice_create(
        supplier=supplier, created_by=finance_user, supplier_number="2026-0815", invoice_date=dt.date(2026, 11, 20),
        due_date=dt.date(2026, 12, 20), reference_type="QRR", payment_reference="210000000003139471430009017",
        lines=[purchases.SupplierLineInput(net_amount=Decimal("1300.00"), vat_code="standard")],
    )  # fmt: skip
    capture, _run = read(company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks)
    duplicate = next(check for check in capture.checks if check["code"] == "duplicate")
    assert duplicate == {
        "code": "duplicate", "ok": False, "url": existing.get_absolute_url(),
        "message": f"Entered already: {supplier.name} 2026-0815 of 20.11.2026, CHF 1405.30.",
    }  # fmt: skip
    assert capture.doubtful()["invoice_number"] == duplicate["message"]


def test_the_deviation_from_the_providers_quote_is_measured(
    company_a, finance_user, openai_on, fake, bill_pdf, django_capture_on_commit_callbacks
):
    supplier = SupplierFactory(company=company_a, che_uid="CHE-106.017.086", iban="CH4431999123000889012")
    project = Project.objects.create(company=company_a, client=ClientFactory(company=company_a), name="Stand Expo",
                                     status=Project.Status.ORDERING, created_by=finance_user)  # fmt: skip
    ProviderAssignment.objects.create(project=project, supplier=supplier, agreed_amount=Decimal("1200.00"))
    capture, _run = read(company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks, fake, [ok(answer())])
    deviation = next(check for check in capture.checks if check["code"] == "deviation")
    assert deviation["ok"] is False
    assert deviation["message"] == (
        f"8.33 % against the accepted quote of {supplier.name} on Stand Expo (1200.00 agreed, 1300.00 invoiced "
        "with this one)."
    )
    assert "Over the provider's accepted quote by 8.33 %." in capture.doubtful()["total"]
    assert capture_service.review_initial(capture)[0]["project"] == project.pk


# --- Receiving ----------------------------------------------------------------------------------------------


def test_the_same_file_twice_opens_the_first_capture(
    company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks
):
    first, _run = receive(company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks)
    again, created = capture_service.capture_receive(company=company_a, data=bill_pdf, filename="copy.pdf",
                                                     received_by=finance_user)  # fmt: skip
    assert (again, created) == (first, False)
    assert ActionRun.objects.filter(action="capture.read").count() == 1


def test_the_upload_takes_several_files_and_refuses_by_content(
    client, company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks
):
    client.force_login(finance_user)
    files = [
        SimpleUploadedFile("a.pdf", bill_pdf, content_type="application/pdf"),
        SimpleUploadedFile("b.png", docs.photo(bill_pdf, format="PNG"), content_type="image/png"),
        SimpleUploadedFile("virus.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf"),
        SimpleUploadedFile("x\x00.txt", b"\x00\xff\xfe", content_type="text/plain"),
    ]
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("finance:capture-upload"),
                               {"capture-company": company_a.pk, "documents": files}, follow=True)  # fmt: skip
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("finance:capture-list")
    page = response.content.decode()
    assert "2 documents received: they are being read." in page
    assert "virus.pdf: Only PDF, JPEG, PNG and HEIC documents are accepted; this file is none of them." in page
    captures = SupplierInvoiceCapture.objects.order_by("id")
    assert [(c.filename, c.kind, c.status, c.created_by) for c in captures] == [
        ("a.pdf", "pdf", "reading", finance_user), ("b.png", "png", "reading", finance_user)]  # fmt: skip
    assert captures[0].document.read() == bill_pdf
    assert ActionRun.objects.filter(action="capture.read", status="queued").count() == 2


def test_one_file_opens_its_review_and_nothing_uploaded_is_said(client, company_a, finance_user, bill_pdf):
    client.force_login(finance_user)
    one = {"capture-company": company_a.pk, "documents": SimpleUploadedFile("a.pdf", bill_pdf)}
    response = client.post(reverse("finance:capture-upload"), one)
    capture = SupplierInvoiceCapture.objects.get()
    assert response.status_code == 302
    assert response["Location"] == capture.get_absolute_url()
    empty = client.post(reverse("finance:capture-upload"), {"capture-company": company_a.pk}, follow=True)
    assert "Choose at least one file." in empty.content.decode()


def test_read_only_members_and_other_companies_cannot_upload_or_see(
    client, company_a, company_b, finance_user, member_of, bill_pdf, django_capture_on_commit_callbacks
):
    capture, _run = receive(company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks)
    client.force_login(member_of(company_a, Role.VIEWER))
    assert client.post(reverse("finance:capture-upload"), {"capture-company": company_a.pk}).status_code == 403
    assert client.post(reverse("finance:capture-discard", args=[capture.pk])).status_code == 403
    client.force_login(member_of(company_b, Role.FINANCE))
    assert client.get(capture.get_absolute_url()).status_code == 404
    assert client.get(reverse("finance:capture-document", args=[capture.pk])).status_code == 404
    other = {"capture-company": company_a.pk, "documents": SimpleUploadedFile("a.pdf", bill_pdf)}
    upload = client.post(reverse("finance:capture-upload"), other)
    assert upload.status_code == 302
    assert SupplierInvoiceCapture.objects.count() == 1


# --- The review page and the saved draft --------------------------------------------------------------------


def test_the_review_page_shows_the_document_beside_the_filled_form_with_doubts_marked(
    client, company_a, finance_user, openai_on, fake, django_capture_on_commit_callbacks
):
    pdf = docs.qr_bill_pdf(amount=TOTAL, billing=BILLING)
    wrong = answer(invoice_date=field("2026-11-20", 0.5))
    capture, _run = read(company_a, finance_user, pdf, django_capture_on_commit_callbacks, fake, [ok(wrong)])
    client.force_login(finance_user)
    page = client.get(capture.get_absolute_url()).content.decode()
    assert f'src="{reverse("finance:capture-page", args=[capture.pk, 1])}"' in page
    assert 'name="supplier_number" value="2026-0815"' in page
    assert 'name="creditor_iban" value="CH44 3199 9123 0008 8901 2"' in page
    assert 'name="payment_reference" value="210000000003139471430009017"' in page
    assert 'name="new_supplier-name" value="Imprimerie du Lac SA"' in page
    assert 'name="lines-0-net_amount" value="1200.00"' in page
    assert 'data-doubt-field="name"' in page
    assert 'data-doubt-field="invoice_number"' not in page
    # The invoice date comes from the QR billing information (exact): only the new supplier is to check.
    assert "1 field to check, marked in orange" in page
    image = client.get(reverse("finance:capture-page", args=[capture.pk, 1]))
    assert (image.status_code, image["Content-Type"], image.content[:8]) == (200, "image/png", b"\x89PNG\r\n\x1a\n")
    assert client.get(reverse("finance:capture-page", args=[capture.pk, 2])).status_code == 404
    original = client.get(reverse("finance:capture-document", args=[capture.pk]))
    assert (original["Content-Type"], original["X-Content-Type-Options"]) == ("application/pdf", "nosniff")
    assert b"".join(original.streaming_content) == pdf


def review_post(capture, **changes) -> dict:
    data = {
        "supplier": "", "create_supplier": "on", "supplier_number": "2026-0815", "currency": "CHF",
        "invoice_date": "2026-11-20", "due_date": "2026-12-20", "project": "",
        "creditor_iban": "CH44 3199 9123 0008 8901 2", "reference_type": "QRR",
        "payment_reference": "210000000003139471430009017",
        "new_supplier-name": "Imprimerie du Lac SA", "new_supplier-street": "Route de la Glâne",
        "new_supplier-building_number": "21", "new_supplier-postal_code": "1700", "new_supplier-town": "Fribourg",
        "new_supplier-country": "CH", "new_supplier-che_uid": "CHE-106.017.086",
        "new_supplier-iban": "CH4431999123000889012", "new_supplier-currency": "CHF",
        "lines-TOTAL_FORMS": "3", "lines-INITIAL_FORMS": "0", "lines-MIN_NUM_FORMS": "0", "lines-MAX_NUM_FORMS": "20",
        "lines-0-net_amount": "1200.00", "lines-0-vat_code": "standard", "lines-0-input_vat_recoverable": "on",
        "lines-1-net_amount": "100.00", "lines-1-vat_code": "reduced", "lines-1-input_vat_recoverable": "on",
        "lines-2-vat_code": "standard", "lines-2-input_vat_recoverable": "on",
        "submit": "",
    }  # fmt: skip
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_saving_the_checked_draft_creates_the_supplier_and_the_invoice_and_submits_it(
    client, company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks
):
    capture, _run = read(company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks)
    client.force_login(finance_user)
    response = client.post(capture.get_absolute_url(), review_post(capture, supplier_number="2026-0815-A"))
    invoice = SupplierInvoice.objects.get()
    assert response["Location"] == invoice.get_absolute_url()
    assert (invoice.status, invoice.created_by, invoice.gross_total, invoice.vat_total) == (
        "to_approve", finance_user, TOTAL, Decimal("99.80"))  # fmt: skip
    assert (invoice.creditor_iban, invoice.payment_reference, invoice.supplier_number) == (
        "CH4431999123000889012", "210000000003139471430009017", "2026-0815-A")  # fmt: skip
    assert invoice.source_document.name == capture.document.name
    supplier = Supplier.objects.get()
    assert (supplier.name, supplier.che_uid, supplier.postal_code, supplier.company) == (
        "Imprimerie du Lac SA", "CHE-106.017.086", "1700", company_a)  # fmt: skip
    capture.refresh_from_db()
    assert (capture.status, capture.supplier_invoice) == ("saved", invoice)
    saved = AuditEvent.objects.get(action="capture.saved")
    assert saved.changes["corrected"] == {"invoice_number": {"from": "2026-0815", "to": "2026-0815-A"}}
    # Saved once: posting again changes nothing.
    client.post(capture.get_absolute_url(), review_post(capture))
    assert SupplierInvoice.objects.count() == 1


def test_a_wrong_field_shows_its_error_and_saves_nothing(
    client, company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks
):
    capture, _run = read(company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks)
    client.force_login(finance_user)
    page = client.post(
        capture.get_absolute_url(), review_post(capture, payment_reference="210000000003139471430009018")
    )
    assert page.status_code == 200
    assert "A QR reference has 27 digits with a valid check digit." in page.content.decode()
    no_supplier = client.post(capture.get_absolute_url(), review_post(capture, create_supplier=None))
    assert "Choose the supplier, or tick the box to create the one proposed." in no_supplier.content.decode()
    assert (SupplierInvoice.objects.count(), Supplier.objects.count()) == (0, 0)
    capture.refresh_from_db()
    assert capture.status == "to_check"


def test_an_existing_supplier_is_used_and_the_draft_stays_a_draft(
    client, company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks
):
    supplier = SupplierFactory(company=company_a, che_uid="CHE-106.017.086", iban="CH4431999123000889012")
    capture, _run = read(company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks)
    client.force_login(finance_user)
    page = client.get(capture.get_absolute_url()).content.decode()
    assert f'<option value="{supplier.pk}" selected>' in page
    draft = review_post(capture, supplier=str(supplier.pk), create_supplier=None, submit=None, save="")
    client.post(capture.get_absolute_url(), draft)
    invoice = SupplierInvoice.objects.get()
    assert (invoice.supplier, invoice.status) == (supplier, "draft")
    assert Supplier.objects.count() == 1


def test_the_inbox_reads_the_runs_of_a_page_in_one_query(
    client, company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks
):
    client.force_login(finance_user)
    receive(company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks)
    client.get(reverse("finance:capture-list"))  # the first request renews the session, a write the next skip
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("finance:capture-list"))
    for copy in (b"1", b"2"):
        receive(company_a, finance_user, bill_pdf + copy, django_capture_on_commit_callbacks, filename=f"{copy}.pdf")
    with CaptureQueriesContext(connection) as three:
        page = client.get(reverse("finance:capture-list")).content.decode()
    assert page.count('data-run-status="queued"') == 3
    assert len(three.captured_queries) == len(one.captured_queries)


def test_a_discarded_document_leaves_the_inbox(
    client, company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks
):
    capture, _run = read(company_a, finance_user, bill_pdf, django_capture_on_commit_callbacks)
    client.force_login(finance_user)
    inbox = client.get(reverse("finance:capture-list")).content.decode()
    assert f'data-capture="{capture.pk}"' in inbox
    client.post(reverse("finance:capture-discard", args=[capture.pk]), {"reason": "Sent twice"})
    capture.refresh_from_db()
    assert capture.status == "discarded"
    assert f'data-capture="{capture.pk}"' not in client.get(reverse("finance:capture-list")).content.decode()
    assert f'data-capture="{capture.pk}"' in client.get(reverse("finance:capture-list") + "?all=1").content.decode()


# --- The demo: documents received and read against the OpenAI sandbox ---------------------------------------


@pytest.fixture
def sandbox():
    for key in redis_client().scan_iter("hv:sandbox:openai:*"):
        redis_client().delete(key)
    # In English: the sandbox's requests go through Django's test client, whose LocaleMiddleware leaves the
    # language of the request active in this thread, where the read's messages are worded.
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def test_the_demo_documents_are_received_and_read_against_the_sandbox(
    sandbox, company_a, member_of, monkeypatch, django_capture_on_commit_callbacks
):
    company_a.code = "HV"
    company_a.save()
    member_of(company_a, Role.CEO)
    clerk = member_of(company_a, Role.FINANCE)
    known = SupplierFactory(company=company_a, name="Électro-Gruyère Installations SA", iban="CH4431999123000889012",
                            che_uid="CHE-526.018.151")  # fmt: skip
    SupplierFactory(company=company_a, name="Transports Sarine Express SA", che_uid="CHE-390.996.037")
    SupplierFactory(company=company_a, name="Mediaplay Software GmbH", iban="CH9300762011623852957")
    monkeypatch.setattr(openai_connection, "http_client_factory",
                        lambda: httpx2.Client(transport=django_transport(sandbox)))  # fmt: skip
    call_command("openai_connect_sandbox", stdout=StringIO())
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=False):
        call_command("capture_demo_seed", stdout=out)
    assert out.getvalue() == "  HV: 3 supplier documents received, to be read by the worker\n"
    for run in ActionRun.objects.filter(action="capture.read").order_by("pk"):
        actions.execute_action_run(run.pk)
    pdf_known, pdf_new, photo = SupplierInvoiceCapture.objects.order_by("pk")
    assert [c.kind for c in (pdf_known, pdf_new, photo)] == ["pdf", "pdf", "jpeg"]
    assert {c.created_by for c in (pdf_known, pdf_new, photo)} == {clerk}
    assert ActionRun.objects.filter(action="capture.read", status="succeeded").count() == 3
    # The known provider: found by UID, QR reference, both VAT lines read from the PDF by the sandbox.
    assert (pdf_known.supplier, pdf_known.supplier_match, pdf_known.value("total")) == (known, "uid", "2779.08")
    assert [(line["rate"], line["net"], line["vat"], line["vat_code"]) for line in pdf_known.vat_lines] == [
        ("2.6", "180.00", "4.68", "reduced"), ("8.1", "2400.00", "194.40", "standard")]  # fmt: skip
    assert pdf_known.doubtful() == {}
    assert pdf_known.ocr_model == "gpt-4.1-mini"
    # The new supplier is proposed from what was read.
    assert (pdf_new.supplier_match, pdf_new.value("supplier_name"), pdf_new.value("supplier_uid")) == (
        "new", "Imprimerie du Lac SA", "CHE-106.017.086")  # fmt: skip
    assert pdf_new.value("reference").startswith("RF")
    # The photo: the QR part read exactly; the sandbox reads no photos, so the VAT lines are the person's.
    assert (photo.qr_found, photo.value("total"), photo.value("invoice_number")) == (True, "691.84", "")
    assert photo.doubtful()["invoice_number"] == "Not read: fill it in from the document."
    again = StringIO()
    call_command("capture_demo_seed", stdout=again)
    assert again.getvalue() == "  HV: documents received already\n"
