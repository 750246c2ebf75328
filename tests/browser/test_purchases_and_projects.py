"""W3 up to the approval, and W4, in Chromium and in French: each step checked in PostgreSQL and screenshotted."""

import re
from decimal import Decimal

import pytest
from django.conf import settings

from finance.models import AuditEvent, Project, Supplier, SupplierInvoice
from tests.browser.conftest import screenshot, sign_in

pytestmark = pytest.mark.browser

D = Decimal
# A minimal valid PDF: the upload is stored as is, through Django's storage API.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def test_supplier_invoice_entered_then_approved_by_another_person(page, demo_group, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    sign_in(page, "hv.finance", settings.HV_DEMO_PASSWORD)
    page.wait_for_url(f"{page.base_url}/")

    # 1. A new supplier, IBAN typed with spaces.
    page.click('aside >> text="Fournisseurs"')
    page.click("a[href$='/suppliers/new/']")
    page.fill("#id_name", "Montage Sarine Sàrl")
    page.fill("#id_street", "Route des Arsenaux")
    page.fill("#id_building_number", "9")
    page.fill("#id_postal_code", "1700")
    page.fill("#id_town", "Fribourg")
    page.fill("#id_iban", "CH56 0483 5012 3456 7800 9")
    page.check("input[name=categories][value=installation]")
    page.click(".page-body form button[type=submit]")
    page.wait_for_url(re.compile(r"/suppliers/\d+/$"))
    supplier = Supplier.objects.get(name="Montage Sarine Sàrl")
    assert (supplier.company.code, supplier.iban, supplier.bank_country) == ("HV", "CH5604835012345678009", "CH")

    # 2. Its invoice: two VAT lines and the PDF as received.
    page.click(".page-header a[href*='/supplier-invoices/new/']")
    page.fill("#id_supplier_number", "MS-2026-118")
    page.fill("#id_invoice_date", "2026-11-12")
    page.fill("#id_due_date", "2026-12-12")
    page.fill("[name=lines-0-description]", "Pose de 4 écrans")
    page.fill("[name=lines-0-net_amount]", "2400")
    page.fill("[name=lines-1-description]", "Repas équipe")
    page.select_option("[name=lines-1-vat_code]", "reduced")
    page.fill("[name=lines-1-net_amount]", "120.50")
    page.set_input_files(
        "#id_source_document", files=[{"name": "MS-2026-118.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.click(".page-body form:not([data-dropzone]) button[type=submit]")
    page.wait_for_url(re.compile(r"/supplier-invoices/\d+/$"))
    invoice = SupplierInvoice.objects.get(supplier=supplier)
    assert (invoice.net_total, invoice.vat_total, invoice.gross_total) == (D("2520.50"), D("197.53"), D("2718.03"))
    assert invoice.source_document.read() == PDF
    with page.expect_navigation():
        page.click(".page-header form[action$='/submit/'] button")
    invoice.refresh_from_db()
    assert invoice.status == "to_approve"
    screenshot(page, "w3-1-supplier-invoice")

    # 3. In the queue, its preparer cannot approve it.
    page.click('aside >> text="À approuver"')
    row = page.locator(f"#queue-row-{invoice.pk}")
    assert row.locator("button.btn-success").is_disabled()
    assert "principe des quatre yeux" in row.inner_text()

    # 4. The CEO approves it with one click; the row changes in place.
    page.context.clear_cookies()
    sign_in(page, "ceo", settings.HV_DEMO_PASSWORD)
    page.wait_for_url(f"{page.base_url}/")
    page.click('aside >> text="À approuver"')
    screenshot(page, "w3-2-approval-queue")
    queue_url = page.url
    page.locator(f"#queue-row-{invoice.pk} button.btn-success").click()
    page.locator(f"#queue-row-{invoice.pk} [role=status]").wait_for()
    assert page.url == queue_url
    assert page.locator(f"#queue-row-{invoice.pk} [role=status]").inner_text() == "Approuvée"
    invoice.refresh_from_db()
    assert (invoice.status, invoice.approved_by.username, invoice.created_by.username) == (
        "approved",
        "ceo",
        "hv.finance",
    )
    assert AuditEvent.objects.filter(action="supplier_invoice.approved", object_id=str(invoice.pk)).count() == 1

    # 5. The invoice over its provider's quote by more than 5 % cannot be approved without a reason.
    blocked = SupplierInvoice.objects.filter(status="to_approve", deviation_percent__gt=5).order_by("pk").first()
    blocked_row = page.locator(f"#queue-row-{blocked.pk}")
    blocked_row.locator("button.btn-success").click()
    blocked_row.locator(".invalid-feedback").wait_for()
    assert "motif écrit" in page.locator(f"#queue-row-{blocked.pk} .invalid-feedback").inner_text()
    assert SupplierInvoice.objects.get(pk=blocked.pk).status == "to_approve"
    screenshot(page, "w3-3-deviation-blocked")
    assert page.broken == []


def test_ceo_reads_where_every_project_stands(page, demo_group):
    sign_in(page, "ceo", settings.HV_DEMO_PASSWORD)
    page.wait_for_url(f"{page.base_url}/")

    page.click('aside >> text="Projets"')
    page.wait_for_selector("#projects")
    rows = page.locator("#projects tbody tr[data-project]")
    open_projects = Project.objects.exclude(status__in=["closed", "cancelled"]).count()
    assert rows.count() == open_projects
    late_rows = page.locator("#projects td[data-cell=late] .badge.bg-red")
    assert late_rows.count() >= 1
    assert page.locator("[data-figure=late]").inner_text() == str(late_rows.count())
    assert page.locator("#projects td[data-cell=next-action] a").count() == open_projects
    screenshot(page, "w4-1-projects")

    # The detail of a project with a late milestone: its next action is on top.
    page.locator("#projects td[data-cell=late] .badge.bg-red").first.locator("xpath=ancestor::tr//td[1]//a").click()
    page.wait_for_url(re.compile(r"/projects/\d+/$"))
    project = Project.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))
    assert page.locator("#next-action").is_visible()
    assert page.locator("text=En retard").count() >= 1
    assert project.milestones.exclude(status__in=["done", "cancelled"]).exists()
    screenshot(page, "w4-2-project-detail")
    assert page.broken == []
