"""Groupe → TVA: the pages, the PDF, CSV and XLSX of a quarter, marking it filed, and the period closed
afterwards — by the Hub's service and by PostgreSQL for any other writer."""

import datetime
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.utils import translation
from openpyxl import load_workbook

from finance.models import AuditEvent, InvoiceLine, Role, VatReturn
from finance.models.sales import DocumentStateError
from finance.services import documents, vat_returns
from tests.factories import ClientFactory, CompanyFactory, InvoiceFactory
from tests.finance.test_database_guards import refused

D = Decimal
day = datetime.date


@pytest.fixture
def company():
    return CompanyFactory(code="QT", name="Taxe SA", rounds_to_five_centimes=False)


@pytest.fixture
def ceo(company, member_of):
    return member_of(company, Role.CEO)


@pytest.fixture
def browser(ceo):
    client = Client()
    client.force_login(ceo)
    return client


def draft(company, net="1000.00", code="standard"):
    invoice = InvoiceFactory(company=company, client=ClientFactory(company=company))
    InvoiceLine.objects.create(invoice=invoice, position=1, description="Prestation", quantity=1, unit_price=D(net),
                               vat_code=code, vat_rate=D("0"))  # fmt: skip
    return invoice


@pytest.fixture
def quarter(company, ceo):
    documents.invoice_issue(invoice=draft(company), issued_by=ceo, issue_date=day(2024, 2, 1))
    documents.invoice_issue(invoice=draft(company, "200.00", "reduced"), issued_by=ceo, issue_date=day(2024, 3, 1))


@pytest.mark.django_db
def test_the_quarter_page_shows_the_form_figures_with_their_documents(browser, quarter):
    listing = browser.get("/vat/?year=2024").content.decode()
    assert 'href="/vat/QT/2024-01-01/"' in listing
    page = browser.get("/vat/QT/2024-01-01/").content.decode()
    assert 'data-code="303"' in page
    assert "CHF 81.00" in page  # 1'000.00 × 8.1 %
    assert "CHF 5.20" in page  # 200.00 × 2.6 %
    assert 'href="#figure-303"' in page
    assert "QT-2024-0001" in page
    assert browser.get("/vat/QT/2024-02-01/").status_code == 404  # not the start of a period
    assert browser.get("/vat/QT/nonsense/").status_code == 404


@pytest.mark.django_db
def test_pdf_csv_and_xlsx_hold_the_same_figures(browser, quarter):
    with translation.override("en"):
        pdf = browser.get("/vat/QT/2024-01-01/pdf/")
        assert pdf["Content-Type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-")
        # Named in the reader's language: the Hub speaks French to its users (T1, "trimestre").
        assert pdf["Content-Disposition"] == 'attachment; filename="tva-QT-T1-2024.pdf"'
        csv = browser.get("/vat/QT/2024-01-01/csv/", HTTP_ACCEPT_LANGUAGE="en")
    text = csv.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = [line.split(";") for line in text.lstrip("\ufeff").splitlines()]
    by_code = {row[0]: row for row in rows[1:]}
    assert by_code["303"][2:] == ["1000.00", "8.10", "81.00"]
    assert by_code["313"][2:] == ["200.00", "2.60", "5.20"]
    assert by_code["500"][2] == "86.20"
    workbook = load_workbook(io.BytesIO(browser.get("/vat/QT/2024-01-01/xlsx/").content))
    sheet = workbook.active
    values = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert values["303"][2:] == (1000.0, 8.1, 81.0)
    assert values["500"][2] == 86.2


@pytest.mark.django_db
def test_filing_closes_the_period_to_new_invoices(browser, company, ceo, quarter):
    response = browser.post("/vat/QT/2024-01-01/file/")
    assert response.status_code == 302
    filed = VatReturn.objects.get(company=company)
    assert (filed.period_start, filed.period_end, filed.payable) == (day(2024, 1, 1), day(2024, 3, 31), D("86.20"))
    assert filed.figures["303"] == {"label": filed.figures["303"]["label"], "amount": "1000.00", "tax": "81.00"}
    assert AuditEvent.objects.filter(action="vat_return.filed").count() == 1
    assert 'data-testid="filed"' in browser.get("/vat/QT/2024-01-01/").content.decode()

    with translation.override("en"), pytest.raises(DocumentStateError) as refusal:
        documents.invoice_issue(invoice=draft(company), issued_by=ceo, issue_date=day(2024, 3, 31))
    assert refusal.value.messages == [
        "The VAT return Q1 2024 is filed: no invoice dated in it can be issued any more (31.03.2024)."
    ]
    assert documents.invoice_issue(invoice=draft(company), issued_by=ceo, issue_date=day(2024, 4, 1)).number
    with translation.override("en"), pytest.raises(DocumentStateError, match="already filed"):
        vat_returns.vat_return_file(company=company, start=day(2024, 1, 1), end=day(2024, 3, 31), filed_by=ceo,
                                    today=day(2024, 5, 1))  # fmt: skip


@pytest.mark.django_db
def test_a_period_not_over_cannot_be_filed(company, ceo):
    with translation.override("en"), pytest.raises(DocumentStateError, match="can be filed from 01.04.2024"):
        vat_returns.vat_return_file(company=company, start=day(2024, 1, 1), end=day(2024, 3, 31), filed_by=ceo,
                                    today=day(2024, 3, 31))  # fmt: skip


@pytest.mark.django_db
def test_sales_and_other_companies_see_no_vat_return(company, member_of):
    seller = Client()
    seller.force_login(member_of(company, Role.SALES))
    assert seller.get("/vat/QT/2024-01-01/").status_code == 404
    assert 'data-company="QT"' not in seller.get("/vat/?year=2024").content.decode()
    outsider = Client()
    outsider.force_login(member_of(CompanyFactory(code="QO"), Role.FINANCE))
    assert outsider.get("/vat/QT/2024-01-01/pdf/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_postgresql_refuses_an_issue_in_a_filed_period_and_any_change_of_the_return(vat_rates, company, ceo):
    documents.invoice_issue(invoice=draft(company), issued_by=ceo, issue_date=day(2024, 2, 1))
    vat_returns.vat_return_file(company=company, start=day(2024, 1, 1), end=day(2024, 3, 31), filed_by=ceo,
                                today=day(2024, 5, 1))  # fmt: skip
    waiting = draft(company)
    connection.close()
    refused("UPDATE finance_invoice SET status = 'issued', number = 'QT-X', issue_date = '2024-03-15', "
            "due_date = '2024-04-15' WHERE id = :id", "lies in a filed VAT period", id=waiting.pk)  # fmt: skip
    refused("UPDATE finance_vatreturn SET payable = 0", "a filed VAT return is kept as filed")
    refused("DELETE FROM finance_vatreturn", "a filed VAT return is kept as filed")
