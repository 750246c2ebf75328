"""The purchase and project pages: suppliers, supplier invoices, the approval queue, payables, W4."""

import datetime
import io
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from finance.models import AuditEvent, Invoice, Project, Role, Supplier, SupplierInvoice
from finance.services import documents, payments, projects, purchases
from finance.services.purchases import SupplierLineInput
from tests.factories import ClientFactory, CompanyFactory, QuoteFactory, SupplierFactory

pytestmark = pytest.mark.django_db

D = Decimal
IBAN = "CH5604835012345678009"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def buyer():
    return CompanyFactory(code="QP", name="Buyer")


@pytest.fixture
def clerk(buyer, member_of):
    return member_of(buyer, Role.FINANCE, "clerk")


@pytest.fixture
def controller(buyer, member_of):
    return member_of(buyer, Role.FINANCE, "controller")


def signed_in(client, user):
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def supplier(buyer):
    return SupplierFactory(company=buyer, name="Pose Express Sàrl", iban=IBAN)


def enter(supplier, user, number="F-1", net=None, **fields):
    fields.setdefault("invoice_date", datetime.date(2026, 11, 3))
    fields.setdefault("due_date", datetime.date(2026, 12, 3))
    invoice = purchases.supplier_invoice_create(
        supplier=supplier,
        created_by=user,
        supplier_number=number,
        lines=[SupplierLineInput(net or D("1000.00"), "standard")],
        **fields,
    )
    return purchases.supplier_invoice_submit(invoice=invoice, submitted_by=user)


# --- Suppliers ----------------------------------------------------------------------------------


def test_supplier_form_validates_the_iban_and_saves(client, buyer, clerk):
    web = signed_in(client, clerk)
    data = {
        "company": buyer.pk, "name": "Elektro Bern AG", "street": "Bahnhofplatz", "building_number": "1",
        "postal_code": "3011", "town": "Bern", "country": "CH", "iban": "CH56 0483 5012 3456 7800 8",
        "currency": "CHF", "categories": ["installation", "hardware"],
    }  # fmt: skip

    refused = web.post(reverse("finance:supplier-new"), data)
    data["iban"] = "CH56 0483 5012 3456 7800 9"
    saved = web.post(reverse("finance:supplier-new"), data)

    assert refused.status_code == 200
    assert "is not a valid IBAN" in refused.content.decode()
    supplier = Supplier.objects.get()
    assert saved["Location"] == supplier.get_absolute_url()
    assert (supplier.iban, supplier.bank_country, supplier.categories) == (IBAN, "CH", ["installation", "hardware"])
    detail = web.get(supplier.get_absolute_url()).content.decode()
    assert "CH56 0483 5012 3456 7800 9" in detail


def test_supplier_csv_lists_the_bank_details(client, clerk, supplier):
    response = signed_in(client, clerk).get(reverse("finance:supplier-list") + "?export=csv")

    rows = response.content.decode("utf-8-sig").splitlines()
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert rows[1].split(";")[:2] == ["QP", "Pose Express Sàrl"]
    assert rows[1].split(";")[8:11] == [IBAN, "CH", "CHF"]


def test_a_viewer_cannot_create_a_supplier(client, buyer, member_of):
    viewer = member_of(buyer, Role.VIEWER)

    assert signed_in(client, viewer).get(reverse("finance:supplier-new")).status_code == 403


# --- Supplier invoice entry ---------------------------------------------------------------------


def invoice_post(supplier, number="F-77", nets=("1000.00",), **fields):
    data = {
        "supplier": supplier.pk, "supplier_number": number, "invoice_date": "2026-11-03", "due_date": "2026-12-03",
        "currency": "CHF", "creditor_iban": "", "reference_type": "NON", "payment_reference": "", "project": "",
        "lines-TOTAL_FORMS": "3", "lines-INITIAL_FORMS": "0", "lines-MIN_NUM_FORMS": "0", "lines-MAX_NUM_FORMS": "20",
    }  # fmt: skip
    for index in range(3):
        data[f"lines-{index}-vat_code"] = "standard"
        data[f"lines-{index}-input_vat_recoverable"] = "on"
    for index, net in enumerate(nets):
        data[f"lines-{index}-net_amount"] = net
    return {**data, **fields}


def test_entering_an_invoice_with_an_uploaded_pdf(client, clerk, supplier, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    web = signed_in(client, clerk)
    pdf = SimpleUploadedFile("facture.pdf", b"%PDF-1.4 test", content_type="application/pdf")

    response = web.post(
        reverse("finance:supplier-invoice-new"),
        {**invoice_post(supplier, nets=("1000", "99.90")), "source_document": pdf},
    )

    invoice = SupplierInvoice.objects.get()
    assert response["Location"] == invoice.get_absolute_url()
    assert (invoice.gross_total, invoice.creditor_iban, invoice.status) == (D("1188.99"), IBAN, "draft")
    assert invoice.source_document.name.startswith("supplier-invoices/")
    assert invoice.source_document.read() == b"%PDF-1.4 test"


def test_a_duplicate_is_refused_with_a_link_to_the_first(client, clerk, supplier):
    first = enter(supplier, clerk, number="F-77")

    response = signed_in(client, clerk).post(
        reverse("finance:supplier-invoice-new"), invoice_post(supplier, number="F-77")
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "This invoice was entered already: Pose Express Sàrl F-77 of 03.11.2026, CHF 1081.00." in page
    assert f'href="{first.get_absolute_url()}" class="alert-link" data-duplicate-link' in page
    assert SupplierInvoice.objects.count() == 1


def test_an_executable_upload_is_refused(client, clerk, supplier):
    upload = SimpleUploadedFile("facture.exe", b"MZ", content_type="application/x-msdownload")

    response = signed_in(client, clerk).post(
        reverse("finance:supplier-invoice-new"), {**invoice_post(supplier), "source_document": upload}
    )

    assert "Upload a PDF, JPEG or PNG file." in response.content.decode()
    assert SupplierInvoice.objects.count() == 0


# --- Approval queue -----------------------------------------------------------------------------


def test_queue_lists_oldest_first_and_the_preparer_cannot_approve(client, clerk, supplier):
    first = enter(supplier, clerk, number="A")
    second = enter(supplier, clerk, number="B")

    page = signed_in(client, clerk).get(reverse("finance:approval-queue")).content.decode()

    assert page.index(f'data-invoice="{first.pk}"') < page.index(f'data-invoice="{second.pk}"')
    assert "You entered this invoice: another person must approve it (four-eyes rule)." in page
    assert "disabled title=" in page


def test_one_click_approve_with_htmx_answers_the_row_and_audits(client, clerk, controller, supplier):
    invoice = enter(supplier, clerk)

    response = signed_in(client, controller).post(
        reverse("finance:approval-approve", kwargs={"pk": invoice.pk}), {"reason": ""}, HTTP_HX_REQUEST="true"
    )

    row = response.content.decode()
    assert row.strip().startswith(f'<tr id="queue-row-{invoice.pk}"')
    assert ">Approved</span>" in row
    invoice.refresh_from_db()
    assert (invoice.status, invoice.approved_by) == ("approved", controller)
    assert AuditEvent.objects.filter(action="supplier_invoice.approved", actor=controller).count() == 1


def test_reject_without_a_reason_shows_the_error_and_keeps_the_invoice(client, clerk, controller, supplier):
    invoice = enter(supplier, clerk)
    web = signed_in(client, controller)
    url = reverse("finance:approval-reject", kwargs={"pk": invoice.pk})

    refused = web.post(url, {"reason": ""}, HTTP_HX_REQUEST="true").content.decode()
    rejected = web.post(url, {"reason": "Already paid by card"}, HTTP_HX_REQUEST="true").content.decode()

    assert "Say why the invoice is rejected; the supplier will be told." in refused
    assert ">Rejected</span>" in rejected
    invoice.refresh_from_db()
    assert (invoice.status, invoice.rejection_reason) == ("rejected", "Already paid by card")


def test_a_sales_user_cannot_approve(client, buyer, clerk, member_of, supplier):
    invoice = enter(supplier, clerk)
    seller = member_of(buyer, Role.SALES)

    response = signed_in(client, seller).post(reverse("finance:approval-approve", kwargs={"pk": invoice.pk}))

    assert response.status_code == 403
    assert SupplierInvoice.objects.get(pk=invoice.pk).status == "to_approve"


def test_another_companys_invoice_is_not_found(client, company_b, member_of, clerk, supplier):
    invoice = enter(supplier, clerk)
    outsider = member_of(company_b, Role.FINANCE)

    response = signed_in(client, outsider).post(reverse("finance:approval-approve", kwargs={"pk": invoice.pk}))

    assert response.status_code == 404


# --- Payables -----------------------------------------------------------------------------------


def test_payables_ageing_buckets_and_csv(client, clerk, supplier):
    today = timezone.localdate()
    for number, days_late, net in (
        ("N", -5, "100"),
        ("A", 1, "200"),
        ("B", 30, "300"),
        ("C", 31, "400"),
        ("D", 91, "500"),
    ):
        due = today - datetime.timedelta(days=days_late)
        enter(supplier, clerk, number=number, net=D(net), invoice_date=due - datetime.timedelta(days=30), due_date=due)
    web = signed_in(client, clerk)

    page = web.get(reverse("finance:supplier-invoice-list")).content.decode()
    bucket = web.get(reverse("finance:supplier-invoice-list") + "?bucket=1_30").content.decode()
    rows = (
        web.get(reverse("finance:supplier-invoice-list") + "?export=csv&sort=due")
        .content.decode("utf-8-sig")
        .splitlines()
    )

    assert [row.totals[0].total if row.totals else None for row in response_ageing(web)] == [
        D("108.10"), D("540.50"), D("432.40"), None, D("540.50"),
    ]  # fmt: skip
    assert page.count('data-bucket="') == 5
    assert ">A</a>" in bucket
    assert ">B</a>" in bucket
    assert ">C</a>" not in bucket
    assert [row.split(";")[2] for row in rows[1:]] == ["D", "C", "B", "A", "N"]
    assert [row.split(";")[5] for row in rows[1:]] == ["91", "31", "30", "1", "0"]


def response_ageing(web):
    return web.get(reverse("finance:supplier-invoice-list")).context["ageing"]


# --- Projects (W4) ------------------------------------------------------------------------------


def build_project(company, user, *, supplier):
    """A signed quote of 10'000.00 net with a 30 % deposit paid, a provider at 4'000.00 and an approved invoice."""
    quote = QuoteFactory(company=company, client=ClientFactory(company=company), deposit_percent=D("30"))
    documents.quote_lines_replace(
        quote=quote, lines=[documents.LineInput("Travaux", D("1"), D("10000.00"), "standard")], edited_by=user
    )
    documents.quote_send(quote=quote, sent_by=user)
    project = projects.project_create_from_quote(quote=quote, created_by=user)
    documents.quote_mark_signed(quote=quote, actor=user)
    deposit = documents.invoice_create_deposit(quote=quote, created_by=user)
    deposit = documents.invoice_issue(invoice=deposit, issued_by=user, issue_date=datetime.date(2026, 11, 5))
    payments.payment_record(
        client=quote.client, received_on=datetime.date(2026, 11, 10), amount=deposit.payable_total,
        method="bank_transfer", reference="", allocations=[(deposit, deposit.payable_total)], recorded_by=user,
    )  # fmt: skip
    projects.assignment_save(project=project, saved_by=user, supplier=supplier, role="Pose", agreed_amount=D("4000.00"))
    return project, deposit


def test_project_view_query_count_does_not_grow_with_projects(client, buyer, clerk, controller, member_of):
    ceo = member_of(buyer, Role.CEO, "boss")
    web = signed_in(client, ceo)
    url = reverse("finance:project-list")

    def queries_for_page():
        web.get(url)  # warm the session and the scope
        with CaptureQueriesContext(connection) as captured:
            response = web.get(url)
        assert response.status_code == 200
        return len(captured)

    build_project(buyer, clerk, supplier=SupplierFactory(company=buyer))
    with_one = queries_for_page()
    for number in range(2, 6):
        project, _deposit = build_project(buyer, clerk, supplier=SupplierFactory(company=buyer))
        invoice = enter(project.assignments.get().supplier, clerk, number=f"P{number}", project=project)
        purchases.supplier_invoice_approve(invoice=invoice, approved_by=controller)
    with_five = queries_for_page()

    assert with_one == with_five
    assert with_five <= 12


def test_project_row_shows_exact_figures(client, buyer, clerk, controller, member_of):
    ceo = member_of(buyer, Role.CEO, "boss")
    supplier = SupplierFactory(company=buyer, name="Pose Express Sàrl")
    project, deposit = build_project(buyer, clerk, supplier=supplier)
    approved = enter(supplier, clerk, number="P-1", net=D("2500.00"), project=project)
    purchases.supplier_invoice_approve(invoice=approved, approved_by=controller)
    enter(supplier, clerk, number="P-2", net=D("1800.00"), project=project)  # waiting: 4300 > 4000 → +7.5 %

    overview = signed_in(client, ceo).get(reverse("finance:project-list")).context["overviews"][0]

    assert (overview.project, overview.project.status) == (project, "deposit_received")
    assert (overview.costs, overview.costs_to_approve) == (D("2500.00"), D("1800.00"))
    assert (overview.invoiced, overview.collected, overview.revenue) == (D("3243.00"), D("3243.00"), D("3000.00"))
    assert (overview.margin, overview.margin_percent) == (D("500.00"), D("16.7"))
    assert overview.next_action.label == "Approve the supplier invoice of Pose Express Sàrl"
    assert deposit.payable_total == D("3243.00")
    assert Project.objects.get().supplier_invoices.get(supplier_number="P-2").deviation_percent == D("7.50")


def test_project_detail_renders_with_ticking_a_milestone(client, buyer, clerk, member_of):
    ceo = member_of(buyer, Role.CEO, "boss")
    project, _deposit = build_project(buyer, clerk, supplier=SupplierFactory(company=buyer))
    milestone = project.milestones.first()
    web = signed_in(client, ceo)

    page = web.get(project.get_absolute_url()).content.decode()
    row = web.post(
        reverse("finance:milestone-done", kwargs={"pk": milestone.pk}), HTTP_HX_REQUEST="true"
    ).content.decode()

    assert "Next action" in page
    assert row.strip().startswith(f'<tr id="milestone-{milestone.pk}"')
    milestone.refresh_from_db()
    assert (milestone.status, milestone.done_on) == ("done", timezone.localdate())


def test_open_a_project_from_a_sent_quote(client, buyer, clerk):
    quote = QuoteFactory(company=buyer, client=ClientFactory(company=buyer))
    documents.quote_lines_replace(
        quote=quote, lines=[documents.LineInput("Conseil", D("2"), D("150.00"), "standard")], edited_by=clerk
    )
    documents.quote_send(quote=quote, sent_by=clerk)

    response = signed_in(client, clerk).post(reverse("finance:quote-project", kwargs={"quote_pk": quote.pk}))

    project = Project.objects.get()
    assert response["Location"] == project.get_absolute_url()
    assert (project.status, project.budget, project.client) == ("quote_sent", D("300.00"), quote.client)
    assert Invoice.objects.count() == 0


def test_benchmark_command_prints_time_and_query_count(buyer, clerk, member_of):
    member_of(buyer, Role.CEO, "boss")
    build_project(buyer, clerk, supplier=SupplierFactory(company=buyer))
    output = io.StringIO()

    call_command("benchmark_project_view", user="boss", runs=2, stdout=output)

    lines = output.getvalue().splitlines()
    assert re.fullmatch(
        r"Project view \(/projects/\) as boss: 1 open projects shown, 1 in the database, \d+ SQL queries per request",
        lines[0],
    )
    assert re.fullmatch(r"Server time over 2 requests: median \d+\.\d ms, slowest \d+\.\d ms", lines[1])
