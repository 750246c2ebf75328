"""camt.053 / camt.054 statements of an account not on Revolut: imported into the bank transactions, the QR-bill
payment matched to its invoice by its QRR reference, nothing doubled on a second import, bad files refused."""

import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation

from finance.models import BankAccount, BankTransaction, Invoice, InvoiceLine, Role
from finance.services import bank_files, documents
from tests.factories import ClientFactory, CompanyFactory, InvoiceFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal
SAMPLE = (Path(__file__).parent.parent / "fixtures" / "camt" / "camt053-swiss.xml").read_text()


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def company():
    return CompanyFactory(code="QC", qr_iban="CH4431999123000889012", rounds_to_five_centimes=False)


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def invoice(company, user):
    draft = InvoiceFactory(company=company, client=ClientFactory(company=company, name="Hôtel du Lac SA"))
    InvoiceLine.objects.create(invoice=draft, position=1, description="Écran", quantity=1, unit_price=D("1000.00"),
                               vat_code="standard", vat_rate=D("0"))  # fmt: skip
    return documents.invoice_issue(invoice=draft, issued_by=user, issue_date=datetime.date(2026, 11, 10))


def statement(invoice, text=SAMPLE) -> bytes:
    return text.replace("QRR_REFERENCE", invoice.qr_reference).encode()


def test_a_camt_053_is_imported_and_its_qr_bill_payment_matched(company, invoice, user):
    assert invoice.payable_total == D("1081.00")
    result = bank_files.camt_import(company=company, content=statement(invoice), imported_by=user)
    assert (result.new, result.known, result.matched) == (3, 0, 1)
    account = BankAccount.objects.get(company=company)
    assert (account.iban, account.connection, account.balance, account.currency) == (
        "CH4431999123000889012",
        None,
        D("11244.55"),
        "CHF",
    )
    rows = {row.amount: row for row in BankTransaction.objects.filter(account=account)}
    assert set(rows) == {D("1081.00"), D("250.00"), D("-86.45")}
    paid = rows[D("1081.00")]
    assert (paid.reference, paid.counterparty_name, paid.match_status) == (
        invoice.qr_reference,
        "Hôtel du Lac SA",
        BankTransaction.Match.MATCHED,
    )
    assert paid.payment.allocations.get().invoice == invoice
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    assert rows[D("250.00")].match_status in (BankTransaction.Match.UNMATCHED, BankTransaction.Match.SUGGESTED)
    assert rows[D("-86.45")].match_status == BankTransaction.Match.NOT_APPLICABLE
    assert rows[D("-86.45")].counterparty_name == "Swisscom (Schweiz) AG"

    again = bank_files.camt_import(company=company, content=statement(invoice), imported_by=user)
    assert (again.new, again.known, again.matched) == (0, 3, 0)
    assert BankTransaction.objects.count() == 3


def test_a_camt_054_notification_is_read_the_same_way(company, invoice, user):
    notification = SAMPLE.replace("camt.053.001.08", "camt.054.001.08")
    notification = notification.replace("BkToCstmrStmt", "BkToCstmrDbtCdtNtfctn")
    notification = notification.replace("<Stmt>", "<Ntfctn>").replace("</Stmt>", "</Ntfctn>")
    result = bank_files.camt_import(company=company, content=statement(invoice, notification), imported_by=user)
    assert (result.new, result.matched) == (3, 1)


@pytest.mark.parametrize(("content", "message"), [
    (b"%PDF-1.7 not a statement", "This file is not XML: export the statement as camt.053 or camt.054."),
    (b"<Document><Other/></Document>", "This XML file holds no camt.053 statement nor camt.054 notification."),
    (b"\x00\xff\xfe", "This file is not XML: export the statement as camt.053 or camt.054."),
])  # fmt: skip
def test_a_file_that_is_no_statement_is_refused_and_nothing_saved(company, user, content, message):
    with pytest.raises(ValidationError) as refusal:
        bank_files.camt_import(company=company, content=content, imported_by=user)
    assert refusal.value.messages == [message]
    assert not BankAccount.objects.exists()


def test_an_external_entity_is_never_read(company, invoice, user):
    hostile = (
        statement(invoice)
        .decode()
        .replace(
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE Document [<!ENTITY leak SYSTEM "file:///etc/passwd">]>',
        )
        .replace("Spende Sommerfest", "&leak;")
    )
    try:
        bank_files.camt_import(company=company, content=hostile.encode(), imported_by=user)
    except ValidationError:
        return  # refused outright: nothing read
    assert not BankTransaction.objects.filter(reference__contains="root:").exists()


def test_an_account_of_another_company_is_refused(company, invoice, user):
    bank_files.camt_import(company=company, content=statement(invoice), imported_by=user)
    with pytest.raises(ValidationError, match="belongs to another company"):
        bank_files.camt_import(company=CompanyFactory(code="QX"), content=statement(invoice), imported_by=user)


def test_finance_imports_from_the_bank_accounts_page(company, invoice, member_of):
    browser = Client()
    browser.force_login(member_of(company, Role.FINANCE))
    assert 'data-testid="statement-import"' in browser.get("/bank/accounts/").content.decode()
    upload = SimpleUploadedFile("statement.xml", statement(invoice), content_type="application/xml")
    response = browser.post("/bank/statements/import/", {"company": "QC", "statement": upload})
    assert (response.status_code, response["Location"]) == (302, "/bank/reconciliation/")
    assert BankTransaction.objects.filter(company=company).count() == 3
    seller = Client()
    seller.force_login(member_of(company, Role.SALES))
    upload = SimpleUploadedFile("statement.xml", statement(invoice), content_type="application/xml")
    assert seller.post("/bank/statements/import/", {"company": "QC", "statement": upload}).status_code == 302
    assert BankTransaction.objects.filter(company=company).count() == 3
