"""What the services refuse, PostgreSQL refuses too (finance migration 0025), shown through psql itself:
the statements a Directus super-admin or a script could run, on a connection that is not the Hub's."""

import datetime
import subprocess
from decimal import Decimal

import pytest
from django.db import connection, transaction

from finance.models import AuditEvent, DocumentSequence, Invoice, InvoiceLine, Payment, PaymentAllocation
from finance.services import documents, numbering, payments
from tests.factories import ClientFactory, CompanyFactory, InvoiceFactory, UserFactory

# Committed rows: psql runs on a connection of its own and must see them.
pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


def psql(statement: str, **variables: int) -> subprocess.CompletedProcess:
    """Run one statement with the psql client against the test database, as a person at a terminal would;
    `:name` in the statement is psql's variable `name`."""
    db = connection.settings_dict
    command = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db["NAME"], "-U", db["USER"] or "postgres"]
    if db["HOST"]:
        command += ["-h", db["HOST"], "-p", str(db["PORT"] or 5432)]
    for name, value in variables.items():
        command += ["-v", f"{name}={value}"]
    return subprocess.run(command, input=statement, capture_output=True, text=True, timeout=30, check=False)  # noqa: S603


def refused(statement: str, reason: str, **variables: int) -> None:
    answer = psql(statement, **variables)
    assert answer.returncode == 3, answer  # psql's code for a statement the server refused (ON_ERROR_STOP)
    assert reason in answer.stderr, answer.stderr


@pytest.fixture
def user():
    return UserFactory()


def issued_invoice(client, user, price="1000.00"):
    invoice = InvoiceFactory(company=client.company, client=client)
    InvoiceLine.objects.create(
        invoice=invoice, position=1, description="Prestation", quantity=1, unit_price=D(price), vat_rate=D("8.10")
    )
    return documents.invoice_issue(invoice=invoice, issued_by=user, issue_date=datetime.date(2026, 11, 10))


def pay(invoice, user, amount):
    return payments.payment_record(
        client=invoice.client,
        received_on=datetime.date(2026, 11, 20),
        amount=D(amount),
        method="bank_transfer",
        reference="Virement",
        allocations=[(invoice, D(amount))],
        recorded_by=user,
    )


@pytest.fixture(autouse=True)
def _rates_for_issuing(vat_rates):
    """Issuing an invoice reads the VAT rates of its supply date."""


@pytest.fixture
def client_of_company():
    return ClientFactory(company=CompanyFactory(code="QG"))


def test_an_issued_invoice_cannot_be_cancelled_by_sql(client_of_company, user):
    invoice = issued_invoice(client_of_company, user)

    refused(
        "UPDATE finance_invoice SET status = 'cancelled' WHERE id = :id",
        f"invoice {invoice.number} cannot be cancelled: its payments and credit notes make it issued",
        id=invoice.pk,
    )

    assert Invoice.objects.get(pk=invoice.pk).status == "issued"


def test_a_paid_invoice_cannot_be_set_back_to_issued_by_sql(client_of_company, user):
    invoice = issued_invoice(client_of_company, user)
    pay(invoice, user, "1081.00")
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"

    refused(
        "UPDATE finance_invoice SET status = 'issued' WHERE id = :id",
        f"invoice {invoice.number} cannot be issued: its payments and credit notes make it paid",
        id=invoice.pk,
    )
    refused("UPDATE finance_invoice SET status = 'partially_paid' WHERE id = :id", "make it paid", id=invoice.pk)

    assert Invoice.objects.get(pk=invoice.pk).status == "paid"


def test_a_draft_cannot_jump_to_paid_but_can_be_cancelled(client_of_company, user):
    draft = InvoiceFactory(company=client_of_company.company, client=client_of_company)

    refused(
        "UPDATE finance_invoice SET status = 'paid' WHERE id = :id",
        f"invoice {draft.pk} is a draft: it can be issued or cancelled, not set paid",
        id=draft.pk,
    )
    assert psql("UPDATE finance_invoice SET status = 'cancelled' WHERE id = :id", id=draft.pk).returncode == 0

    assert Invoice.objects.get(pk=draft.pk).status == "cancelled"


def test_the_status_follows_the_facts_the_services_record(client_of_company, user):
    """The guard lets through every move the Hub makes: part payment, full payment, undo, full credit note."""
    invoice = issued_invoice(client_of_company, user)
    first = pay(invoice, user, "81.00")
    assert Invoice.objects.get(pk=invoice.pk).status == "partially_paid"
    pay(invoice, user, "1000.00")
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"
    payments.payment_undo(payment=first, undone_by=user)
    assert Invoice.objects.get(pk=invoice.pk).status == "partially_paid"

    unpaid = issued_invoice(client_of_company, user, price="200.00")
    credit_note = documents.credit_note_create(invoice=unpaid, created_by=user, reason="Annulée")
    documents.invoice_issue(invoice=credit_note, issued_by=user, issue_date=datetime.date(2026, 11, 12))
    assert Invoice.objects.get(pk=unpaid.pk).status == "cancelled"
    refused("UPDATE finance_invoice SET status = 'issued' WHERE id = :id", "make it cancelled", id=unpaid.pk)
    refused(
        "UPDATE finance_invoice SET status = 'cancelled' WHERE id = :id",
        f"credit note {Invoice.objects.get(pk=credit_note.pk).number} is issued: its status cannot change",
        id=credit_note.pk,
    )


def test_a_document_sequence_only_grows(client_of_company, user):
    issued_invoice(client_of_company, user)
    issued_invoice(client_of_company, user)
    sequence = DocumentSequence.objects.get(company=client_of_company.company, family="invoice", year=2026)
    assert sequence.last_number == 2

    refused(
        "UPDATE finance_documentsequence SET last_number = 1 WHERE id = :id",
        "only grows: 1 refused after 2",
        id=sequence.pk,
    )
    refused("UPDATE finance_documentsequence SET year = 2025 WHERE id = :id", "only grows", id=sequence.pk)
    refused(
        "DELETE FROM finance_documentsequence WHERE id = :id",
        "cannot be deleted: its numbers would be given again",
        id=sequence.pk,
    )
    assert psql("UPDATE finance_documentsequence SET last_number = 5 WHERE id = :id", id=sequence.pk).returncode == 0

    with transaction.atomic():
        taken = numbering.document_number_take(company=client_of_company.company, family="invoice", year=2026)
    assert taken.endswith("-2026-0006")


def test_the_audit_log_refuses_truncate_update_and_delete(client_of_company, user):
    issued_invoice(client_of_company, user)
    count = AuditEvent.objects.count()
    assert count > 0

    refused("TRUNCATE finance_auditevent", "finance_auditevent is append-only: TRUNCATE refused")
    refused("TRUNCATE finance_auditevent CASCADE", "finance_auditevent is append-only: TRUNCATE refused")
    refused("UPDATE finance_auditevent SET action = 'x'", "finance_auditevent is append-only: UPDATE refused")
    refused("DELETE FROM finance_auditevent", "finance_auditevent is append-only: DELETE refused")

    assert AuditEvent.objects.count() == count


def test_recorded_payments_and_allocations_are_never_deleted(client_of_company, user):
    invoice = issued_invoice(client_of_company, user)
    payment = pay(invoice, user, "500.00")

    refused(
        "DELETE FROM finance_paymentallocation WHERE payment_id = :id",
        "finance_paymentallocation is never deleted: undo the payment instead",
        id=payment.pk,
    )
    refused(
        "DELETE FROM finance_payment WHERE id = :id",
        "finance_payment is never deleted: undo the payment instead",
        id=payment.pk,
    )
    refused("TRUNCATE finance_paymentallocation", "finance_paymentallocation is never deleted")
    refused("TRUNCATE finance_payment CASCADE", "is never deleted")

    assert (Payment.objects.count(), PaymentAllocation.objects.count()) == (1, 1)
    assert Invoice.objects.get(pk=invoice.pk).status == "partially_paid"
