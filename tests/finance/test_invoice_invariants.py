"""Issued invoices resist raw SQL: PostgreSQL enforces what the services promise."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from finance.models import Invoice, InvoiceLine
from tests.factories import InvoiceFactory, PaymentFactory

pytestmark = pytest.mark.django_db


def add_line(invoice, **fields):
    values = {"position": 1, "description": "Écran", "quantity": 1, "unit_price": Decimal("100.00"), "vat_rate": 8.1}
    return InvoiceLine.objects.create(invoice=invoice, **{**values, **fields})


@pytest.fixture
def issued_invoice():
    invoice = InvoiceFactory()
    add_line(invoice)
    Invoice.objects.filter(pk=invoice.pk).update(
        status="issued",
        number=f"{invoice.company.code}-2026-0001",
        issue_date=datetime.date(2026, 11, 2),
        due_date=datetime.date(2026, 12, 2),
        net_total=Decimal("100.00"),
        vat_total=Decimal("8.10"),
        gross_total=Decimal("108.10"),
        payable_total=Decimal("108.10"),
    )
    invoice.refresh_from_db()
    return invoice


def sql(statement, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("number", "XX-2026-0099"),
        ("payable_total", "1.00"),
        ("due_date", "2027-01-31"),
        ("issue_date", "2026-11-03"),
        ("qr_reference", "210000000003139471430009017"),
        ("title", "Autre chose"),
        ("status", "draft"),
    ],
)
def test_raw_sql_cannot_change_what_was_issued(issued_invoice, column, value):
    with pytest.raises(IntegrityError, match="is issued: only its status may change"):
        sql(f"UPDATE finance_invoice SET {column} = %s WHERE id = %s", [value, issued_invoice.pk])  # noqa: S608

    issued_invoice.refresh_from_db()
    assert (issued_invoice.number, issued_invoice.payable_total) == (
        f"{issued_invoice.company.code}-2026-0001",
        Decimal("108.10"),
    )


def test_raw_sql_cannot_change_the_client_of_an_issued_invoice(issued_invoice):
    other = InvoiceFactory(company=issued_invoice.company).client
    with pytest.raises(IntegrityError, match="only its status may change"):
        sql("UPDATE finance_invoice SET client_id = %s WHERE id = %s", [other.pk, issued_invoice.pk])


def test_the_status_of_an_issued_invoice_moves(issued_invoice):
    payment = PaymentFactory(company=issued_invoice.company, client=issued_invoice.client, amount=Decimal("108.10"))
    payment.allocations.create(invoice=issued_invoice, amount=Decimal("108.10"))
    sql("UPDATE finance_invoice SET status = 'paid' WHERE id = %s", [issued_invoice.pk])

    issued_invoice.refresh_from_db()
    assert issued_invoice.status == "paid"


def test_raw_sql_cannot_delete_an_issued_invoice(issued_invoice):
    with pytest.raises(IntegrityError, match="cannot be deleted, issue a credit note"):
        sql("DELETE FROM finance_invoice WHERE id = %s", [issued_invoice.pk])


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE finance_invoiceline SET unit_price = 1 WHERE invoice_id = %s",
        "DELETE FROM finance_invoiceline WHERE invoice_id = %s",
        "INSERT INTO finance_invoiceline (invoice_id, position, description, quantity, unit, unit_price,"
        " discount_percent, vat_code, vat_rate) VALUES (%s, 2, 'Ajout', 1, '', 5, 0, 'standard', 8.1)",
    ],
    ids=["update", "delete", "insert"],
)
def test_raw_sql_cannot_touch_the_lines_of_an_issued_invoice(issued_invoice, statement):
    with pytest.raises(IntegrityError, match="its lines cannot change"):
        sql(statement, [issued_invoice.pk])

    assert list(issued_invoice.lines.values_list("unit_price", flat=True)) == [Decimal("100.00")]


def test_a_draft_and_its_lines_stay_editable():
    draft = InvoiceFactory()
    line = add_line(draft)

    sql("UPDATE finance_invoiceline SET unit_price = 90 WHERE id = %s", [line.pk])
    sql("UPDATE finance_invoice SET title = 'Corrigé' WHERE id = %s", [draft.pk])
    sql("DELETE FROM finance_invoiceline WHERE invoice_id = %s", [draft.pk])
    sql("DELETE FROM finance_invoice WHERE id = %s", [draft.pk])

    assert not Invoice.objects.filter(pk=draft.pk).exists()


@pytest.mark.parametrize(
    ("assignments", "constraint"),
    [
        ("status = 'issued'", "invoice_issued_is_numbered_and_dated"),
        ("gross_total = 5", "invoice_gross_sum"),
        ("rounding = 0.05", "invoice_payable"),
        ("currency = 'USD'", "invoice_currency_known"),
        ("kind = 'credit_note'", "invoice_credit_note_has_original"),
        ("net_total = -1, gross_total = -1, payable_total = -1", "invoice_totals_positive"),
    ],
)
def test_check_constraints_refuse_inconsistent_invoices(assignments, constraint):
    draft = InvoiceFactory()

    with pytest.raises(IntegrityError, match=constraint):
        sql(f"UPDATE finance_invoice SET {assignments} WHERE id = %s", [draft.pk])  # noqa: S608


def test_invoice_numbers_are_unique_per_company(issued_invoice):
    duplicate = InvoiceFactory(company=issued_invoice.company)
    with pytest.raises(IntegrityError, match="invoice_number_unique_per_company"):
        sql(
            "UPDATE finance_invoice SET status = 'issued', number = %s, issue_date = '2026-11-02',"
            " due_date = '2026-12-02' WHERE id = %s",
            [issued_invoice.number, duplicate.pk],
        )
