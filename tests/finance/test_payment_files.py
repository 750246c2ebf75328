"""pain.001.001.09 (Swiss Payment Standards 2022) of approved supplier invoices: valid against the ISO schema,
one payment group per currency, the QR reference, creditor reference or free text as the bill gave it."""

import datetime
from decimal import Decimal
from importlib.resources import files

import pytest
from django.test import Client
from django.utils import timezone
from lxml import etree

from finance import payment_files, qrbill
from finance.models import Role, SupplierInvoice
from tests.factories import CompanyFactory, SupplierFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal
NS = {"p": payment_files.NAMESPACE}
SCHEMA = etree.XMLSchema(etree.parse(str(files("sepaxml") / "schemas" / "pain.001.001.09.xsd")))


@pytest.fixture
def company():
    return CompanyFactory(code="QP", legal_name="Paiements Léman SA", iban="CH9300762011623852957")


def approved(company, *, gross, reference_type="NON", reference="", iban="CH5604835012345678009", currency="CHF",
             status=SupplierInvoice.Status.APPROVED, name="Swisscom (Schweiz) AG"):  # fmt: skip
    supplier = SupplierFactory(company=company, name=name, street="Alte Tiefenaustrasse", building_number="6",
                               postal_code="3048", town="Worblaufen", iban=iban, currency=currency)  # fmt: skip
    creator = UserFactory()
    approving = status != SupplierInvoice.Status.TO_APPROVE
    return SupplierInvoice.objects.create(
        company=company, supplier=supplier, supplier_number=f"R-{gross}", invoice_date=datetime.date(2026, 11, 20),
        due_date=datetime.date(2026, 12, 20), currency=currency, net_total=gross, vat_total=D("0.00"),
        gross_total=gross, creditor_iban=iban, reference_type=reference_type, payment_reference=reference,
        status=status, created_by=creator, approved_by=UserFactory() if approving else None,
        approved_at=timezone.now() if approving else None,
    )  # fmt: skip


@pytest.fixture
def invoices(company):
    qr = approved(company, gross=D("86.45"), reference_type="QRR", iban="CH4431999123000889012",
                  reference=qrbill.qr_reference("12345678901234567890123456"))  # fmt: skip
    scor = approved(company, gross=D("1297.20"), reference_type="SCOR", name="Lumière Technique SA",
                    reference=qrbill.creditor_reference("539007547034"))  # fmt: skip
    free = approved(company, gross=D("540.50"), reference="Facture 2026-118", name="Câbles & Co Sàrl")
    euro = approved(
        company, gross=D("1200.00"), iban="DE89370400440532013000", currency="EUR", name="Messe München GmbH"
    )
    approved(company, gross=D("999.00"), status=SupplierInvoice.Status.TO_APPROVE)  # not approved: not paid
    return qr, scor, free, euro


def test_the_file_validates_against_the_schema_and_pays_each_invoice_once(company, invoices):
    qr, scor, free, euro = invoices
    chosen = payment_files.payable_invoices(company=company)
    assert {invoice.pk for invoice in chosen} == {qr.pk, scor.pk, free.pk, euro.pk}
    content = payment_files.pain001(company=company, invoices=chosen, execution_date=datetime.date(2026, 12, 7),
                                    message_id="HV-QP-TEST-1")  # fmt: skip
    document = etree.fromstring(content)
    SCHEMA.assertValid(document)
    assert document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "4"
    assert document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) == "3124.15"
    groups = document.findall("p:CstmrCdtTrfInitn/p:PmtInf", namespaces=NS)
    assert [
        (
            g.findtext("p:CtrlSum", namespaces=NS),
            g.findtext("p:ReqdExctnDt/p:Dt", namespaces=NS),
            g.findtext("p:DbtrAcct/p:Id/p:IBAN", namespaces=NS),
        )
        for g in groups
    ] == [("1924.15", "2026-12-07", "CH9300762011623852957"), ("1200.00", "2026-12-07", "CH9300762011623852957")]
    transactions = {t.findtext("p:PmtId/p:EndToEndId", namespaces=NS): t for t in
                    document.iterfind(".//p:CdtTrfTxInf", namespaces=NS)}  # fmt: skip
    paid_qr = transactions[f"HV-SI-{qr.pk}"]
    assert paid_qr.find("p:Amt/p:InstdAmt", namespaces=NS).attrib == {"Ccy": "CHF"}
    assert paid_qr.findtext("p:Amt/p:InstdAmt", namespaces=NS) == "86.45"
    assert paid_qr.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=NS) == "CH4431999123000889012"
    assert paid_qr.findtext("p:RmtInf/p:Strd/p:CdtrRefInf/p:Tp/p:CdOrPrtry/p:Prtry", namespaces=NS) == "QRR"
    assert paid_qr.findtext("p:RmtInf/p:Strd/p:CdtrRefInf/p:Ref", namespaces=NS) == qr.payment_reference
    assert paid_qr.findtext("p:Cdtr/p:PstlAdr/p:TwnNm", namespaces=NS) == "Worblaufen"
    paid_scor = transactions[f"HV-SI-{scor.pk}"]
    assert paid_scor.findtext("p:RmtInf/p:Strd/p:CdtrRefInf/p:Tp/p:CdOrPrtry/p:Cd", namespaces=NS) == "SCOR"
    assert transactions[f"HV-SI-{free.pk}"].findtext("p:RmtInf/p:Ustrd", namespaces=NS) == "Facture 2026-118"
    assert transactions[f"HV-SI-{euro.pk}"].find("p:Amt/p:InstdAmt", namespaces=NS).attrib == {"Ccy": "EUR"}


def test_a_file_the_schema_refuses_is_caught_by_the_check(company, invoices):
    content = payment_files.pain001(company=company, invoices=list(invoices), execution_date=datetime.date(2026, 12, 7))
    document = etree.fromstring(content)
    document.find(".//p:CdtrAcct/p:Id/p:IBAN", namespaces=NS).text = "CH44 3199 9123"  # grouped: not an IBAN field
    assert not SCHEMA.validate(document)


def test_finance_downloads_the_file_and_sales_cannot(company, invoices, member_of):
    browser = Client()
    browser.force_login(member_of(company, Role.FINANCE))
    assert 'data-testid="payment-file"' in browser.get("/supplier-invoices/").content.decode()
    response = browser.get("/supplier-invoices/pain001/", {"company": "QP", "date": "2026-12-07"})
    assert response["Content-Type"] == "application/xml"
    assert response["Content-Disposition"] == 'attachment; filename="pain001-QP-2026-12-07.xml"'
    SCHEMA.assertValid(etree.fromstring(response.content))
    seller = Client()
    seller.force_login(member_of(company, Role.SALES))
    assert seller.get("/supplier-invoices/pain001/", {"company": "QP", "date": "2026-12-07"}).status_code == 302
    assert browser.get("/supplier-invoices/pain001/", {"company": "QP", "date": "nonsense"}).status_code == 302
