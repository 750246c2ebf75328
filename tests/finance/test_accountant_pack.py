"""The accountant's pack of Q1 2024: a journal that balances and re-adds to the VAT return, the open items at the
period's end, every table as CSV and XLSX, the documents as PDF — and a journal that does not balance refused."""

import io
import zipfile
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.utils import translation
from openpyxl import load_workbook

from finance import accounting, export_pack, vat_return
from finance.models import Role, SupplierInvoice
from finance.services import payments
from tests.finance.test_vat_return import Q1, abroad, company, day, home, quarter, user  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def paid_quarter(quarter, home, user):  # noqa: F811
    payments.payment_record(client=home, received_on=day(2024, 3, 25), amount=D("5000.00"), method="bank_transfer",
                            reference="CAMT-1", allocations=[(quarter, D("5000.00"))], recorded_by=user)  # fmt: skip
    SupplierInvoice.objects.filter(invoice_date=day(2024, 1, 20)).update(status="paid", paid_on=day(2024, 2, 19))
    return quarter


def lines_of(bookings, reference):
    return [line for booking in bookings if booking.reference == reference for line in booking.lines]


def test_the_journal_balances_and_re_adds_to_the_vat_return(company, paid_quarter):  # noqa: F811
    bookings = accounting.journal_balanced(accounting.journal(company=company, start=Q1[0], end=Q1[1]))
    assert lines_of(bookings, "QV-2024-0001") == [
        ("1100", D("11836.00"), D("0")),
        ("3200", D("0"), D("11000.00")),
        ("2200", D("0"), D("836.00")),
    ]
    assert lines_of(bookings, "QV-NC-2024-0001") == [
        ("1100", D("0"), D("1183.60")),
        ("3200", D("1100.00"), D("0")),
        ("2200", D("83.60"), D("0")),
    ]
    assert lines_of(bookings, "CAMT-1") == [("1020", D("5000.00"), D("0")), ("1100", D("0"), D("5000.00"))]
    # 1'000.00 + 81.00 recoverable, 200.00 + 16.20 not: the purchase bears the VAT it cannot recover.
    purchase = [line for line in lines_of(bookings, "R-0120-2") if line[0] != "2000" or line[2]]
    assert purchase[:4] == [("4000", D("1000.00"), D("0")), ("1170", D("81.00"), D("0")),
                            ("4000", D("216.20"), D("0")), ("2000", D("0"), D("1297.20"))]  # fmt: skip
    result = vat_return.vat_return_compute(company=company, start=Q1[0], end=Q1[1])
    assert accounting.account_movement(bookings, "2200") == result.figures["399"].amount == D("1485.40")
    assert -accounting.account_movement(bookings, "1170") - accounting.account_movement(bookings, "1171") == (
        result.figures["479"].amount
    )
    assert sum(line[1] for booking in bookings for line in booking.lines) == sum(
        line[2] for booking in bookings for line in booking.lines
    )


def test_open_items_at_the_end_of_the_period(company, paid_quarter):  # noqa: F811
    debtors = {item.reference: item.open_amount for item in accounting.open_debtors(company=company, on=Q1[1])}
    # 11'836.00 less the credit note of 1'183.60 and 5'000.00 received
    assert debtors["QV-2024-0001"] == D("5652.40")
    assert "QV-2023-0001" in debtors  # the deposit of December 2023 was never paid
    creditors = [item.reference for item in accounting.open_creditors(company=company, on=Q1[1])]
    assert creditors == ["R-0205-1"]  # the January one was paid on 19.02.2024


def test_the_pack_holds_every_table_as_csv_and_xlsx_and_the_documents(company, paid_quarter):  # noqa: F811
    archive = zipfile.ZipFile(io.BytesIO(export_pack.accountant_pack(company=company, start=Q1[0], end=Q1[1],
                                                                     label="Q1 2024")))  # fmt: skip
    names = set(archive.namelist())
    for table in ("journal", "open-debtors", "open-creditors", "vat-return"):
        assert {f"{table}.csv", f"{table}.xlsx"} <= names
    assert "vat-return.pdf" in names
    assert {"documents/QV-2024-0001.pdf", "documents/QV-NC-2024-0001.pdf"} <= names
    assert archive.read("documents/QV-2024-0001.pdf").startswith(b"%PDF-")
    journal = archive.read("journal.csv").decode("utf-8")
    assert journal.startswith("\ufeffDate;Document;Text;Account;Currency;Debit;Credit\r\n")
    assert "2024-01-15;QV-2024-0001;" in journal
    sheet = load_workbook(io.BytesIO(archive.read("journal.xlsx"))).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert sum(row[5] or 0 for row in rows) == pytest.approx(sum(row[6] or 0 for row in rows))


def test_a_journal_that_does_not_balance_is_refused_with_the_reason(company, paid_quarter, member_of):  # noqa: F811
    # A line changed behind every guard (a restore, a script run with triggers off): the invoice's totals no
    # longer match its lines, which the journal must not hide.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE finance_supplierinvoiceline SET net_amount = 5100.00 WHERE vat_amount = 405.00")
        cursor.execute("SET LOCAL session_replication_role = origin")
    with pytest.raises(ValidationError) as refusal:
        export_pack.accountant_pack(company=company, start=Q1[0], end=Q1[1], label="Q1 2024")
    assert refusal.value.messages == ["The journal does not balance: R-0205-1 (05.02.2024)."]
    browser = Client()
    browser.force_login(member_of(company, Role.FINANCE))
    response = browser.get("/vat/QV/2024-01-01/zip/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert response["Location"] == "/vat/?year=2024"


def test_the_year_pack_downloads_as_a_zip(company, paid_quarter, member_of):  # noqa: F811
    browser = Client()
    browser.force_login(member_of(company, Role.CEO))
    response = browser.get("/vat/QV/year/2024/pack/")
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="comptabilite-QV-2024.zip"'
    assert "journal.csv" in zipfile.ZipFile(io.BytesIO(response.content)).namelist()
