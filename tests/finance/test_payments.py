import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from finance.models import AuditEvent, Invoice, InvoiceLine, Payment
from finance.services import documents, payments
from tests.factories import ClientFactory, CompanyFactory, InvoiceFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in their source language; their French is tested with the pages."""
    with translation.override("en"):
        yield


@pytest.fixture
def user():
    return UserFactory()


def issued_invoice(client, user, price):
    invoice = InvoiceFactory(company=client.company, client=client)
    InvoiceLine.objects.create(
        invoice=invoice, position=1, description="Prestation", quantity=1, unit_price=price, vat_rate=D("8.10")
    )
    return documents.invoice_issue(invoice=invoice, issued_by=user, issue_date=datetime.date(2026, 11, 10))


@pytest.fixture
def client_with_invoices(user):
    client = ClientFactory(company=CompanyFactory(code="QP"))
    first = issued_invoice(client, user, D("1000.00"))  # 1081.00
    second = issued_invoice(client, user, D("500.00"))  # 540.50
    return client, first, second


def pay(client, user, amount, allocations):
    return payments.payment_record(
        client=client, received_on=datetime.date(2026, 11, 20), amount=amount, method="bank_transfer",
        reference="Virement", allocations=allocations, recorded_by=user,
    )  # fmt: skip


def test_partial_payment_leaves_the_rest_due(client_with_invoices, user):
    client, first, _second = client_with_invoices

    pay(client, user, D("400.00"), [(first, D("400.00"))])

    first = Invoice.objects.get(pk=first.pk)
    assert (first.status, documents.invoice_balance_due(first)) == ("partially_paid", D("681.00"))


def test_one_payment_settles_two_invoices_and_keeps_the_over_payment_as_credit(client_with_invoices, user):
    client, first, second = client_with_invoices

    pay(client, user, D("1700.00"), [(first, D("1081.00")), (second, D("540.50"))])

    assert Invoice.objects.get(pk=first.pk).status == "paid"
    assert Invoice.objects.get(pk=second.pk).status == "paid"
    assert payments.client_credit(client=client) == D("78.50")


def test_allocating_more_than_the_balance_due_is_refused_and_nothing_is_recorded(client_with_invoices, user):
    client, first, _second = client_with_invoices

    with pytest.raises(ValidationError) as refused:
        pay(client, user, D("2000.00"), [(first, D("1081.05"))])

    assert refused.value.messages == [f"{first.number}: allocate more than 0 and at most its balance due of 1081.00."]
    assert client.payments.count() == 0


def test_allocations_beyond_the_payment_are_refused(client_with_invoices, user):
    client, first, second = client_with_invoices

    with pytest.raises(ValidationError, match="add up to more than the payment"):
        pay(client, user, D("100.00"), [(first, D("60.00")), (second, D("60.00"))])


def test_another_clients_invoice_is_refused(client_with_invoices, user):
    client, first, _second = client_with_invoices
    stranger = ClientFactory(company=client.company)

    with pytest.raises(ValidationError, match="another client's invoice"):
        pay(stranger, user, D("100.00"), [(first, D("100.00"))])


def entry(client, amount, allocations, **fields):
    return payments.PaymentEntry(
        client=client, received_on=datetime.date(2026, 11, 20), amount=amount, method="bank_transfer",
        reference="Virement", allocations=allocations, **fields,
    )  # fmt: skip


def test_payments_recorded_together_settle_an_invoice_in_their_order(client_with_invoices, user):
    client, first, second = client_with_invoices

    recorded = payments.payments_record(
        [entry(client, D("600.00"), [(first, D("600.00"))]), entry(client, D("600.00"), [(first, D("481.00"))]),
         entry(client, D("540.50"), [(second, D("540.50"))])],
        recorded_by=user,
    )  # fmt: skip

    assert [(p.amount, [a.amount for a in p.allocations.all()]) for p in recorded] == [
        (D("600.00"), [D("600.00")]), (D("600.00"), [D("481.00")]), (D("540.50"), [D("540.50")]),
    ]  # fmt: skip
    assert Invoice.objects.get(pk=first.pk).status == "paid"
    assert Invoice.objects.get(pk=second.pk).status == "paid"
    assert payments.client_credit(client=client) == D("119.00")
    assert AuditEvent.objects.filter(action="payment.recorded").count() == 3
    paid_events = AuditEvent.objects.filter(action="invoice.paid").order_by("pk")
    assert [event.object_id for event in paid_events] == [str(first.pk), str(second.pk)]


def test_a_later_payment_cannot_take_what_an_earlier_one_settled_and_none_is_recorded(client_with_invoices, user):
    client, first, _second = client_with_invoices

    with pytest.raises(ValidationError) as refused:
        payments.payments_record(
            [entry(client, D("1000.00"), [(first, D("1000.00"))]), entry(client, D("100.00"), [(first, D("100.00"))])],
            recorded_by=user,
        )  # fmt: skip

    assert refused.value.messages == [f"{first.number}: allocate more than 0 and at most its balance due of 81.00."]
    assert (client.payments.count(), Invoice.objects.get(pk=first.pk).status) == (0, "issued")


def test_a_payment_the_database_refuses_is_explained_as_full_clean_would(client_with_invoices, user):
    client, first, _second = client_with_invoices
    imported = pay(client, user, D("10.00"), [(first, D("10.00"))])
    Payment.objects.filter(pk=imported.pk).update(invoice_ninja_id="IN-7")

    with pytest.raises(ValidationError) as refused:
        payments.payments_record([entry(client, D("20.00"), [(first, D("20.00"))], invoice_ninja_id="IN-7")],
                                 recorded_by=user)  # fmt: skip

    assert refused.value.message_dict == {"__all__": ["Constraint “payment_invoice_ninja_once” is violated."]}
    assert client.payments.count() == 1


@pytest.mark.parametrize("count", [2, 8])
def test_recording_many_payments_takes_the_same_queries_as_recording_two(
    client_with_invoices, user, count, django_assert_num_queries
):
    client, first, _second = client_with_invoices
    entries = [entry(client, D("100.00"), [(first, D("100.00"))]) for _ in range(count)]

    # Savepoint, invoices locked with balances, companies, payments (in a savepoint), allocations, invoices locked
    # again, status updated, its audit, the payments' audit, Invoice Ninja's look, release.
    with django_assert_num_queries(13):
        payments.payments_record(entries, recorded_by=user)

    first = Invoice.objects.get(pk=first.pk)
    assert (first.status, documents.invoice_balance_due(first)) == ("partially_paid", D("1081.00") - 100 * count)


def test_undo_makes_the_invoice_due_again(client_with_invoices, user):
    client, first, _second = client_with_invoices
    payment = pay(client, user, D("1081.00"), [(first, D("1081.00"))])
    assert Invoice.objects.get(pk=first.pk).status == "paid"

    payments.payment_undo(payment=payment, undone_by=user)

    first = Invoice.objects.get(pk=first.pk)
    assert (first.status, documents.invoice_balance_due(first)) == ("issued", D("1081.00"))
    with pytest.raises(ValidationError, match="already undone"):
        payments.payment_undo(payment=payment, undone_by=user)


def test_overdue_is_derived_from_the_due_date_and_the_balance(client_with_invoices, user):
    client, first, _second = client_with_invoices

    assert first.due_date == datetime.date(2026, 12, 10)
    assert documents.invoice_is_overdue(first, today=datetime.date(2026, 12, 10)) is False
    assert documents.invoice_is_overdue(first, today=datetime.date(2026, 12, 11)) is True
    pay(client, user, D("1081.00"), [(first, D("1081.00"))])
    assert documents.invoice_is_overdue(Invoice.objects.get(pk=first.pk), today=datetime.date(2026, 12, 11)) is False
