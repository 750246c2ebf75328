"""W3 from its intake, in Chromium and in French, with a real Celery worker and the sandboxes over HTTP:

group.finance drops a supplier's PDF on Achats → Factures fournisseurs → the worker reads its QR payment part
and has the OpenAI sandbox read the rest → the review page shows the document beside the filled form, the
doubtful fields in orange → the person fills in the due date the document does not give, creates the proposed
supplier and submits → the CEO approves → "Payer via Revolut" pays it in the sandbox.
"""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from finance.capture_demo import DemoLine, DemoSupplierInvoice, supplier_invoice_pdf
from finance.models import AuditEvent, Company, OutgoingPayment, Supplier, SupplierInvoice, SupplierInvoiceCapture
from finance.qrbill import Address, qr_reference
from finance.services.revolut import transactions_sync
from integrations import selectors as integration_selectors
from integrations.models import ActionRun, Provider
from sandbox import revolut as sandbox_revolut
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import start_celery_worker
from tests.integrations.test_revolut_end_to_end import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

D = Decimal
SUPPLIER = Address("Atelier Lumière Sàrl", "Rue du Simplon", "14", "1800", "Vevey", "CH")
QR_IBAN = "CH4431999123000889012"


@pytest.fixture
def worker(demo_group, live_server, tmp_path, settings):
    """A real worker, calling the sandboxes on the live server and storing files where it reads them."""
    settings.MEDIA_ROOT = str(tmp_path)
    settings.HV_PUBLIC_URL = live_server.url
    process = start_celery_worker(HV_PUBLIC_URL=live_server.url, HV_MEDIA_ROOT=str(tmp_path))
    for command in ("revolut_connect_sandbox", "openai_connect_sandbox"):
        call_command(command, stdout=io.StringIO())
    yield process
    process.terminate()
    process.wait(timeout=30)


def invoice_document(company: Company) -> tuple[DemoSupplierInvoice, bytes]:
    """A supplier the company does not know yet, paid by QR-IBAN; payment terms printed, no due date."""
    invoice = DemoSupplierInvoice(
        supplier=SUPPLIER, uid="CHE-116.281.710", number="AL-2026-0342", invoice_date=dt.date(2026, 11, 27),
        due_date=None, iban=QR_IBAN, reference=qr_reference("20260342"),
        debtor=Address(company.legal_name[:70], company.street, company.building_number, company.postal_code,
                       company.town, "CH"),
        lines=(DemoLine("Éclairage du stand, montage et démontage", D("1850.00"), D("8.1")),
               DemoLine("Catalogues imprimés", D("120.00"), D("2.6"))),
    )  # fmt: skip
    return invoice, supplier_invoice_pdf(invoice)


def both_widths(page, name: str) -> None:
    screenshot(page, f"{name}-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, f"{name}-390")
    page.set_viewport_size({"width": 1440, "height": 900})


def test_a_dropped_pdf_is_read_checked_submitted_approved_and_paid(page, worker, settings, tmp_path):
    company = Company.objects.get(code="ER")
    document, pdf = invoice_document(company)
    path = tmp_path / "AL-2026-0342.pdf"
    path.write_bytes(pdf)
    page.on("dialog", lambda dialog: dialog.accept())

    # 1. group.finance drops the PDF on the supplier invoices page, for Eventrent.
    sign_in(page, "group.finance", settings.HV_DEMO_PASSWORD)
    page.wait_for_url(f"{page.base_url}/")
    page.click('aside >> text="Factures fournisseurs"')
    page.select_option("#id_capture-company", str(company.pk))
    page.set_input_files("[data-dropzone-input]", str(path))
    with page.expect_navigation():
        page.click("[data-dropzone] button[type=submit]")
    capture = SupplierInvoiceCapture.objects.get()
    assert page.url == f"{page.base_url}{capture.get_absolute_url()}"

    # 2. The worker reads it; the page updates by itself when the reading is done.
    page.wait_for_selector("[data-capture-form]", timeout=60_000)
    capture.refresh_from_db()
    run = ActionRun.objects.get(action="capture.read")
    assert (run.status, run.worker != "eager") == ("succeeded", True)
    assert (capture.status, capture.qr_found, capture.ocr_model, capture.supplier_match) == (
        "to_check", True, "gpt-4.1-mini", "new")  # fmt: skip
    assert page.input_value("#id_supplier_number") == "AL-2026-0342"
    assert page.input_value("#id_invoice_date") == "2026-11-27"
    assert page.input_value("#id_due_date") == ""
    assert page.input_value("#id_creditor_iban") == "CH44 3199 9123 0008 8901 2"
    assert page.input_value("#id_payment_reference") == document.reference
    assert page.input_value("#id_new_supplier-name") == "Atelier Lumière Sàrl"
    assert page.input_value("#id_new_supplier-che_uid") == "CHE-116.281.710"
    assert page.input_value("[name=lines-0-net_amount]") == "120.00"
    assert page.input_value("[name=lines-1-net_amount]") == "1850.00"
    doubtful = page.eval_on_selector_all(
        "[data-capture-form] [data-doubt-field]", "els => els.map(e => e.dataset.doubtField)"
    )
    assert sorted(doubtful) == ["due_date", "name"]
    assert page.locator("[data-doubt-field=due_date] .form-control.is-doubtful").count() == 1
    assert page.locator("[data-check=vat_sum][data-ok='1']").count() == 1
    assert page.locator("img[src$='/pages/1/']").evaluate("img => img.naturalWidth") > 800
    both_widths(page, "w3-capture-review")

    # 3. The person fills in the due date, creates the supplier proposed and submits.
    page.fill("#id_due_date", "2026-12-27")
    page.check("#id_create_supplier")
    with page.expect_navigation():
        page.click("[data-capture-form] button[name=submit]")
    invoice = SupplierInvoice.objects.get(supplier_number="AL-2026-0342")
    assert page.url == f"{page.base_url}{invoice.get_absolute_url()}"
    assert (invoice.status, invoice.created_by.username, invoice.company) == ("to_approve", "group.finance", company)
    assert (invoice.net_total, invoice.vat_total, invoice.gross_total) == (D("1970.00"), D("152.97"), D("2122.97"))
    assert (invoice.creditor_iban, invoice.reference_type, invoice.due_date) == (QR_IBAN, "QRR", dt.date(2026, 12, 27))
    assert invoice.source_document.read() == pdf
    supplier = Supplier.objects.get(name="Atelier Lumière Sàrl")
    assert (supplier.company, supplier.che_uid, supplier.iban, supplier.town) == (
        company, "CHE-116.281.710", QR_IBAN, "Vevey")  # fmt: skip
    capture.refresh_from_db()
    assert (capture.status, capture.supplier_invoice) == ("saved", invoice)
    corrected = AuditEvent.objects.get(action="capture.saved").changes["corrected"]
    assert corrected == {}  # the due date was not read: filled in, not corrected
    screenshot(page, "w3-capture-submitted")

    # 4. The CEO approves it from the queue.
    page.context.clear_cookies()
    sign_in(page, "ceo", settings.HV_DEMO_PASSWORD)
    page.wait_for_url(f"{page.base_url}/")
    page.click('aside >> text="À approuver"')
    page.locator(f"#queue-row-{invoice.pk} button.btn-success").click()
    page.locator(f"#queue-row-{invoice.pk} [role=status]").wait_for()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.approved_by.username) == ("approved", "ceo")

    # 5. "Payer via Revolut": the worker pays it in the sandbox; settled, the invoice is paid.
    page.goto(f"{page.base_url}{invoice.get_absolute_url()}")
    page.click("[data-testid=pay-revolut]")
    page.wait_for_selector("[data-testid=payout-row]")
    payment = wait_until(lambda: OutgoingPayment.objects.filter(supplier_invoice=invoice, state="pending").first(),
                         what="the payout at Revolut")  # fmt: skip
    assert (payment.amount, payment.currency, payment.reference) == (D("2122.97"), "CHF", document.reference)
    connection = integration_selectors.connection_get(company, Provider.REVOLUT)
    sandbox_revolut.settle_transaction(client_id=connection.config["client_id"],
                                       transaction_id=payment.provider_transaction_id)  # fmt: skip
    transactions_sync(connection)
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    page.reload()
    assert page.inner_text("[data-testid=payout-state]") == "Exécuté"
    screenshot(page, "w3-capture-paid")

    # 6. The inbox is empty again; the saved document is listed with all of them.
    page.goto(f"{page.base_url}/captures/")
    assert page.locator("[data-capture]").count() == 0
    page.goto(f"{page.base_url}/captures/?all=1")
    assert page.locator(f"[data-capture='{capture.pk}']").count() == 1
    both_widths(page, "w3-capture-inbox")
    assert page.broken == []
