import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import translation

from finance.models import AuditEvent, Role, Supplier, SupplierInvoice
from finance.services import purchases
from finance.services.projects import assignment_save, project_create
from finance.services.purchases import SupplierLineInput
from tests.factories import ClientFactory, SupplierFactory

pytestmark = pytest.mark.django_db

D = Decimal
QR_IBAN = "CH4431999123000889012"
QR_REFERENCE = "210000000003139471430009017"
IBAN = "CH5604835012345678009"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def clerk(company_a, member_of):
    return member_of(company_a, Role.FINANCE, "clerk")


@pytest.fixture
def controller(company_a, member_of):
    return member_of(company_a, Role.FINANCE, "controller")


@pytest.fixture
def supplier(company_a):
    return SupplierFactory(company=company_a, name="Affichage Léman Sàrl", iban=IBAN)


def enter(supplier, clerk, *, number="F-100", lines=None, **fields):
    fields.setdefault("invoice_date", datetime.date(2026, 11, 3))
    fields.setdefault("due_date", datetime.date(2026, 12, 3))
    return purchases.supplier_invoice_create(
        supplier=supplier, created_by=clerk, supplier_number=number,
        lines=[SupplierLineInput(net_amount=D("1000.00"), vat_code="standard")] if lines is None else lines, **fields,
    )  # fmt: skip


def submitted(supplier, clerk, **kwargs):
    return purchases.supplier_invoice_submit(invoice=enter(supplier, clerk, **kwargs), submitted_by=clerk)


# --- Suppliers ----------------------------------------------------------------------------------


def test_supplier_iban_is_validated_and_gives_the_bank_country(company_a, clerk):
    supplier = purchases.supplier_create(
        company=company_a, created_by=clerk, name="Elektro Zürich AG", street="Bahnhofstrasse", postal_code="8001",
        town="Zürich", iban="ch56 0483 5012 3456 7800 9", che_uid="CHE-109.322.551", categories=["installation"],
    )  # fmt: skip

    assert (supplier.iban, supplier.bank_country, supplier.che_uid) == (IBAN, "CH", "CHE-109.322.551")
    assert supplier.has_qr_iban is False
    with pytest.raises(ValidationError) as refused:
        purchases.supplier_update(supplier=supplier, updated_by=clerk, iban="CH56 0483 5012 3456 7800 8")
    assert list(refused.value.message_dict) == ["iban"]


def test_supplier_with_a_qr_iban_is_recognised(company_a, clerk):
    supplier = SupplierFactory(company=company_a, iban=QR_IBAN)

    assert supplier.has_qr_iban is True


def test_directus_insert_gets_the_bank_country_from_the_trigger(company_a):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO finance_supplier (company_id, name, street, building_number, postal_code, town, country,"
            " che_uid, iban, bank_country, contact_name, email, phone, revolut_counterparty_id)"
            " VALUES (%s, 'Direct SA', 'Rue', '', '1000', 'Lausanne', 'CH', '', 'DE89370400440532013000', '',"
            " '', '', '', '') RETURNING bank_country, currency, categories",
            [company_a.pk],
        )
        assert cursor.fetchone() == ("DE", "CHF", [])


# --- Entry and VAT lines ------------------------------------------------------------------------


def test_vat_lines_take_the_rate_of_the_invoice_date(supplier, clerk):
    invoice = enter(
        supplier, clerk,
        lines=[
            SupplierLineInput(net_amount=D("1234.55"), vat_code="standard"),
            SupplierLineInput(net_amount=D("99.90"), vat_code="reduced", input_vat_recoverable=False),
            SupplierLineInput(net_amount=D("200.00"), vat_code="accommodation"),
            SupplierLineInput(net_amount=D("50.00"), vat_code="exempt"),
        ],
    )  # fmt: skip

    lines = list(invoice.lines.values_list("vat_rate", "vat_amount", "input_vat_recoverable"))
    assert lines == [
        (D("8.10"), D("100.00"), True),
        (D("2.60"), D("2.60"), False),
        (D("3.80"), D("7.60"), True),
        (D("0.00"), D("0.00"), True),
    ]
    assert (invoice.net_total, invoice.vat_total, invoice.gross_total) == (D("1584.45"), D("110.20"), D("1694.65"))
    assert (invoice.status, invoice.creditor_iban, invoice.currency) == ("draft", IBAN, "CHF")


def test_vat_before_2024_uses_the_old_rate(supplier, clerk):
    invoice = enter(supplier, clerk, invoice_date=datetime.date(2023, 12, 20), due_date=datetime.date(2024, 1, 20))

    assert (invoice.lines.get().vat_rate, invoice.vat_total, invoice.gross_total) == (
        D("7.70"),
        D("77.00"),
        D("1077.00"),
    )


def test_qr_reference_needs_a_qr_iban_and_a_valid_check_digit(supplier, clerk):
    with pytest.raises(ValidationError) as refused:
        enter(supplier, clerk, reference_type="QRR", payment_reference=QR_REFERENCE)
    assert refused.value.message_dict == {"creditor_iban": ["A QR reference is paid to a QR-IBAN only."]}

    with pytest.raises(ValidationError) as refused:
        enter(supplier, clerk, creditor_iban=QR_IBAN, reference_type="QRR", payment_reference=QR_REFERENCE[:-1] + "8")
    assert refused.value.message_dict == {
        "payment_reference": ["A QR reference has 27 digits with a valid check digit."]
    }

    invoice = enter(
        supplier,
        clerk,
        creditor_iban=QR_IBAN,
        reference_type="QRR",
        payment_reference="21 00000 00003 13947 14300 09017",
    )
    assert invoice.payment_reference == QR_REFERENCE
    assert SupplierInvoice.objects.count() == 1


def test_creditor_reference_is_checked_and_compacted(supplier, clerk):
    with pytest.raises(ValidationError) as refused:
        enter(supplier, clerk, reference_type="SCOR", payment_reference="RF19 5390 0754 7034")
    assert list(refused.value.message_dict) == ["payment_reference"]

    invoice = enter(supplier, clerk, reference_type="SCOR", payment_reference="rf18 5390 0754 7034")

    assert invoice.payment_reference == "RF18539007547034"


def test_an_invoice_without_a_vat_line_is_refused(supplier, clerk):
    with pytest.raises(ValidationError) as refused:
        enter(supplier, clerk, lines=[])

    assert refused.value.messages == ["A supplier invoice needs at least one VAT line."]
    assert SupplierInvoice.objects.count() == 0


# --- Duplicates ---------------------------------------------------------------------------------


def test_same_supplier_and_number_is_a_duplicate(supplier, clerk):
    first = enter(supplier, clerk, number="F-2026-77")

    with pytest.raises(purchases.DuplicateSupplierInvoice) as refused:
        enter(supplier, clerk, number="f-2026-77", lines=[SupplierLineInput(net_amount=D("5.00"), vat_code="standard")])

    assert refused.value.existing == first
    assert refused.value.messages == [
        "This invoice was entered already: Affichage Léman Sàrl F-2026-77 of 03.11.2026, CHF 1081.00."
    ]
    assert SupplierInvoice.objects.count() == 1


def test_same_iban_reference_and_amount_is_a_duplicate_even_from_another_supplier(supplier, clerk, company_a):
    first = enter(supplier, clerk, number="A-1", reference_type="SCOR", payment_reference="RF18539007547034")
    twin = SupplierFactory(company=company_a, name="Same Bank Account SA", iban=IBAN)

    with pytest.raises(purchases.DuplicateSupplierInvoice) as refused:
        enter(twin, clerk, number="B-9", reference_type="SCOR", payment_reference="RF18539007547034")
    assert refused.value.existing == first

    other_amount = enter(
        twin, clerk, number="B-9", reference_type="SCOR", payment_reference="RF18539007547034",
        lines=[SupplierLineInput(net_amount=D("1000.05"), vat_code="standard")],
    )  # fmt: skip
    assert other_amount.gross_total == D("1081.05")


def test_a_rejected_invoice_does_not_block_its_corrected_copy(supplier, clerk, controller):
    first = submitted(supplier, clerk, number="X-1", reference_type="SCOR", payment_reference="RF18539007547034")
    purchases.supplier_invoice_reject(invoice=first, rejected_by=controller, reason="Wrong amount")

    again = enter(supplier, clerk, number="X-1b", reference_type="SCOR", payment_reference="RF18539007547034")

    assert again.status == "draft"


# --- Four eyes ----------------------------------------------------------------------------------


def test_the_person_who_entered_it_cannot_approve_it(supplier, clerk):
    invoice = submitted(supplier, clerk)

    with pytest.raises(purchases.ApprovalRefused) as refused:
        purchases.supplier_invoice_approve(invoice=invoice, approved_by=clerk)

    assert refused.value.messages == ["You entered this invoice: another person must approve it (four-eyes rule)."]
    assert SupplierInvoice.objects.get(pk=invoice.pk).status == "to_approve"


@pytest.mark.parametrize("role", [Role.SALES, Role.OPERATIONS, Role.VIEWER])
def test_roles_other_than_ceo_and_finance_cannot_approve(supplier, clerk, member_of, company_a, role):
    invoice = submitted(supplier, clerk)

    with pytest.raises(purchases.ApprovalRefused) as refused:
        purchases.supplier_invoice_approve(invoice=invoice, approved_by=member_of(company_a, role))

    assert refused.value.messages == ["Only the CEO or finance of Alpha approve supplier invoices."]


def test_finance_of_another_company_cannot_approve(supplier, clerk, member_of, company_b):
    invoice = submitted(supplier, clerk)

    assert purchases.approval_refusal(invoice, user=member_of(company_b, Role.FINANCE)) == (
        "Only the CEO or finance of Alpha approve supplier invoices."
    )


def test_above_the_threshold_only_the_ceo_approves(supplier, clerk, controller, ceo, company_a):
    company_a.ceo_approval_threshold = D("5000.00")
    company_a.save()
    at_threshold = submitted(supplier, clerk, number="T-1", lines=[SupplierLineInput(D("4625.35"), "standard")])
    above = submitted(supplier, clerk, number="T-2", lines=[SupplierLineInput(D("4625.36"), "standard")])
    assert (at_threshold.gross_total, above.gross_total) == (D("5000.00"), D("5000.01"))

    approved = purchases.supplier_invoice_approve(invoice=at_threshold, approved_by=controller)
    with pytest.raises(purchases.ApprovalRefused) as refused:
        purchases.supplier_invoice_approve(invoice=above, approved_by=controller)
    by_ceo = purchases.supplier_invoice_approve(invoice=above, approved_by=ceo)

    assert refused.value.messages == ["Above CHF 5000.00, the CEO must approve."]
    assert (approved.status, approved.approved_by, by_ceo.status, by_ceo.approved_by) == (
        "approved", controller, "approved", ceo,
    )  # fmt: skip


def test_approval_is_audited_with_its_fingerprint(supplier, clerk, controller):
    invoice = purchases.supplier_invoice_approve(invoice=submitted(supplier, clerk), approved_by=controller)

    assert invoice.approval_fingerprint == purchases.approval_fingerprint(invoice)
    assert len(invoice.approval_fingerprint) == 64
    event = AuditEvent.objects.filter(object_id=str(invoice.pk), action="supplier_invoice.approved").get()
    assert (event.actor, event.changes) == (controller, {"status_from": "to_approve", "status_to": "approved"})


def test_database_refuses_an_approval_by_the_preparer(supplier, clerk):
    from django.db import IntegrityError, transaction

    invoice = submitted(supplier, clerk)
    with pytest.raises(IntegrityError), transaction.atomic():
        SupplierInvoice.objects.filter(pk=invoice.pk).update(
            status="approved", approved_by=clerk, approved_at=datetime.datetime(2026, 11, 20, tzinfo=datetime.UTC)
        )


# --- Fingerprint --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("creditor_iban", "CH9300762011623852957"),
        ("currency", "EUR"),
        ("payment_reference", "Facture F-100"),
    ],
)
def test_changing_what_was_approved_sends_it_back_to_approval(supplier, clerk, controller, field, value):
    invoice = purchases.supplier_invoice_approve(invoice=submitted(supplier, clerk), approved_by=controller)

    invoice = purchases.supplier_invoice_update(invoice=invoice, updated_by=clerk, **{field: value})

    assert (invoice.status, invoice.approved_by, invoice.approval_fingerprint) == ("to_approve", None, "")
    reset = AuditEvent.objects.get(object_id=str(invoice.pk), action="supplier_invoice.approval_reset")
    assert reset.changes == {"status_from": "approved", "status_to": "to_approve"}


def test_changing_the_amount_sends_it_back_to_approval(supplier, clerk, controller):
    invoice = purchases.supplier_invoice_approve(invoice=submitted(supplier, clerk), approved_by=controller)

    invoice = purchases.supplier_invoice_update(
        invoice=invoice, updated_by=clerk, lines=[SupplierLineInput(D("1000.01"), "standard")]
    )

    assert (invoice.gross_total, invoice.status) == (D("1081.01"), "to_approve")


def test_changes_outside_the_payment_keep_the_approval(supplier, clerk, controller):
    invoice = purchases.supplier_invoice_approve(invoice=submitted(supplier, clerk), approved_by=controller)

    invoice = purchases.supplier_invoice_update(
        invoice=invoice, updated_by=clerk, due_date=datetime.date(2026, 12, 31), supplier_number="F-100/A"
    )

    assert (invoice.status, invoice.approved_by) == ("approved", controller)


def test_a_direct_database_change_of_the_iban_drops_the_approval(supplier, clerk, controller):
    invoice = purchases.supplier_invoice_approve(invoice=submitted(supplier, clerk), approved_by=controller)

    SupplierInvoice.objects.filter(pk=invoice.pk).update(creditor_iban="CH9300762011623852957")

    invoice.refresh_from_db()
    assert (invoice.status, invoice.approved_by_id, invoice.approved_at) == ("to_approve", None, None)


def test_a_stale_approval_cannot_be_paid(supplier, clerk, controller):
    invoice = purchases.supplier_invoice_approve(invoice=submitted(supplier, clerk), approved_by=controller)
    # A fingerprint that no longer matches (e.g. a row restored from elsewhere) blocks the payout.
    SupplierInvoice.objects.filter(pk=invoice.pk).update(approval_fingerprint="0" * 64)

    with pytest.raises(purchases.SupplierInvoiceStateError) as refused:
        purchases.supplier_invoice_schedule(invoice=invoice, scheduled_by=controller)

    assert refused.value.messages == ["The payment details changed since the approval: it must be approved again."]


def test_full_lifecycle_to_paid(supplier, clerk, controller):
    invoice = purchases.supplier_invoice_approve(invoice=submitted(supplier, clerk), approved_by=controller)
    invoice = purchases.supplier_invoice_schedule(invoice=invoice, scheduled_by=controller)
    invoice = purchases.supplier_invoice_mark_paid(
        invoice=invoice, paid_by=controller, paid_on=datetime.date(2026, 11, 25)
    )

    assert (invoice.status, invoice.paid_on) == ("paid", datetime.date(2026, 11, 25))
    with pytest.raises(purchases.SupplierInvoiceStateError):
        purchases.supplier_invoice_update(invoice=invoice, updated_by=clerk, payment_reference="changed")


def test_rejection_needs_a_reason_and_dispute_returns_to_the_queue(supplier, clerk, controller):
    invoice = submitted(supplier, clerk)
    with pytest.raises(ValidationError):
        purchases.supplier_invoice_reject(invoice=invoice, rejected_by=controller, reason="  ")

    disputed = purchases.supplier_invoice_dispute(invoice=invoice, disputed_by=controller, reason="Two screens missing")
    again = purchases.supplier_invoice_submit(invoice=disputed, submitted_by=clerk)
    rejected = purchases.supplier_invoice_reject(invoice=again, rejected_by=controller, reason="Not ordered")

    assert (disputed.dispute_reason, again.status, rejected.status, rejected.rejection_reason) == (
        "Two screens missing", "to_approve", "rejected", "Not ordered",
    )  # fmt: skip
    event = AuditEvent.objects.get(object_id=str(invoice.pk), action="supplier_invoice.rejected")
    assert event.detail == "To approve → Rejected · Not ordered"


# --- Deviation from the provider's quote ---------------------------------------------------------


@pytest.fixture
def project_with_provider(company_a, supplier, clerk):
    company_a.ceo_approval_threshold = D("50000.00")
    company_a.save()
    project = project_create(
        client=ClientFactory(company=company_a), created_by=clerk, name="Écrans Gare", project_type="digital_signage",
        budget=D("20000.00"),
    )  # fmt: skip
    assignment_save(project=project, saved_by=clerk, supplier=supplier, role="Pose", agreed_amount=D("10000.00"))
    return project


@pytest.mark.parametrize(
    ("net", "percent", "warns", "blocks"),
    [
        (D("10300.00"), D("3.00"), False, False),
        (D("10300.10"), D("3.00"), False, False),  # 3.001 % rounds to 3.00: at the limit, not over it
        (D("10301.00"), D("3.01"), True, False),
        (D("10500.00"), D("5.00"), True, False),
        (D("10501.00"), D("5.01"), False, True),
    ],
)
def test_deviation_levels(project_with_provider, supplier, clerk, net, percent, warns, blocks):
    invoice = submitted(supplier, clerk, project=project_with_provider, lines=[SupplierLineInput(net, "standard")])

    deviation = purchases.supplier_invoice_deviation(invoice)

    assert (deviation.agreed, deviation.invoiced, deviation.percent) == (D("10000.00"), net, percent)
    assert (deviation.warns, deviation.blocks, invoice.deviation_percent) == (warns, blocks, percent)


def test_deviation_adds_up_the_providers_earlier_invoices(project_with_provider, supplier, clerk, controller):
    first = submitted(
        supplier, clerk, number="P-1", project=project_with_provider, lines=[SupplierLineInput(D("6000"), "standard")]
    )
    purchases.supplier_invoice_approve(invoice=first, approved_by=controller)
    enter(
        supplier,
        clerk,
        number="P-draft",
        project=project_with_provider,
        lines=[SupplierLineInput(D("9000"), "standard")],
    )
    second = submitted(
        supplier, clerk, number="P-2", project=project_with_provider, lines=[SupplierLineInput(D("4400"), "standard")]
    )

    assert purchases.supplier_invoice_deviation(second).percent == D("4.00")


def test_over_five_percent_blocks_without_a_written_reason(project_with_provider, supplier, clerk, controller):
    invoice = submitted(
        supplier, clerk, project=project_with_provider, lines=[SupplierLineInput(D("10600.00"), "standard")]
    )

    with pytest.raises(purchases.ApprovalRefused) as refused:
        purchases.supplier_invoice_approve(invoice=invoice, approved_by=controller, override_reason="   ")
    approved = purchases.supplier_invoice_approve(
        invoice=invoice, approved_by=controller, override_reason="Extra bracket ordered by the client on site"
    )

    assert refused.value.messages == [
        "6.00 % over the provider's accepted quote (10000.00 agreed, 10600.00 invoiced): "
        "approve only with a written reason."
    ]
    assert (approved.status, approved.deviation_override_reason) == (
        "approved",
        "Extra bracket ordered by the client on site",
    )
    event = AuditEvent.objects.get(object_id=str(invoice.pk), action="supplier_invoice.approved")
    assert event.changes["reason"] == "Extra bracket ordered by the client on site"


def test_no_assignment_means_no_deviation(company_a, supplier, clerk):
    invoice = submitted(supplier, clerk)

    assert (purchases.supplier_invoice_deviation(invoice), invoice.deviation_percent) == (None, None)


def test_an_invalid_supplier_is_refused_field_by_field_and_not_saved(company_a, clerk):
    with pytest.raises(ValidationError) as refused:
        purchases.supplier_create(
            company=company_a, created_by=clerk, name="X", street="R", postal_code="12", town="T", iban="CH00"
        )

    assert sorted(refused.value.message_dict) == ["iban", "postal_code"]
    assert Supplier.objects.count() == 0


def test_only_ceo_and_finance_dispute_an_invoice(supplier, clerk, controller, member_of, company_a):
    invoice = purchases.supplier_invoice_approve(invoice=submitted(supplier, clerk), approved_by=controller)

    with pytest.raises(purchases.ApprovalRefused) as refused:
        purchases.supplier_invoice_dispute(
            invoice=invoice, disputed_by=member_of(company_a, Role.OPERATIONS), reason="Wrong"
        )

    assert refused.value.messages == ["Only the CEO or finance dispute supplier invoices."]
    assert SupplierInvoice.objects.get(pk=invoice.pk).status == "approved"
