"""The supply date (art. 26 MWSTG) decides the VAT rate, across the change of 31.12.2023 / 01.01.2024
(standard 7.7 % → 8.1 %), and a deposit taxed at the old rate is re-taxed on the final invoice (ESTV)."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from finance.models import DepositRule, Invoice
from finance.pdf import invoice_html
from finance.services import documents
from finance.services.documents import LineInput
from tests.factories import ClientFactory, CompanyFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal
day = datetime.date
TEN_THOUSAND = D("10000.00")


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def seller():
    company = CompanyFactory(code="QS", payment_terms_days=30, rounds_to_five_centimes=False)
    DepositRule.objects.create(
        company=company, project_type="", percent=D("30"), due_days=10, min_quote_total=D("5000")
    )
    return company


@pytest.fixture
def user():
    return UserFactory()


def quote_of(seller, user, *, quote_date, supply_from=None, supply_to=None, net=TEN_THOUSAND):
    quote = documents.quote_create(
        client=ClientFactory(company=seller), title="Mur LED", quote_date=quote_date,
        valid_until=quote_date + datetime.timedelta(days=60), project_type="digital_signage", currency="CHF",
        created_by=user, supply_from=supply_from, supply_to=supply_to,
    )  # fmt: skip
    return documents.quote_lines_replace(
        quote=quote,
        edited_by=user,
        lines=[LineInput("Installation", quantity=D("1"), unit_price=net, vat_code="standard")],
    )


def signed(quote, user):
    return documents.quote_mark_signed(quote=documents.quote_send(quote=quote, sent_by=user), actor=user)


def rates(document):
    return [(line.vat_rate, line.quantity, line.unit_price) for line in document.lines.order_by("position")]


def test_a_december_2023_quote_for_a_january_2024_supply_is_taxed_at_8_1(seller, user):
    quote = quote_of(seller, user, quote_date=day(2023, 12, 15), supply_from=day(2024, 1, 20))
    assert rates(quote) == [(D("8.10"), D("1.000"), D("10000.00"))]
    assert (quote.net_total, quote.vat_total, quote.gross_total) == (D("10000.00"), D("810.00"), D("10810.00"))
    assert quote.supply_differs is True


def test_a_quote_follows_its_supply_date_when_it_is_changed(seller, user):
    quote = quote_of(seller, user, quote_date=day(2023, 12, 15))
    assert (rates(quote)[0][0], quote.vat_total) == (D("7.70"), D("770.00"))
    quote = documents.quote_update(quote=quote, edited_by=user, supply_from=day(2024, 1, 2))
    assert (rates(quote)[0][0], quote.vat_total, quote.gross_total) == (D("8.10"), D("810.00"), D("10810.00"))
    quote = documents.quote_update(quote=quote, edited_by=user, supply_from=day(2023, 12, 31))
    assert (rates(quote)[0][0], quote.vat_total) == (D("7.70"), D("770.00"))


def test_a_supply_period_across_the_rate_change_is_refused(seller, user):
    with pytest.raises(ValidationError) as refused:
        quote_of(seller, user, quote_date=day(2023, 12, 1), supply_from=day(2023, 12, 20), supply_to=day(2024, 1, 10))
    assert refused.value.message_dict == {
        "supply_to": ["The VAT rates change on 01.01.2024: invoice the supply before and after that day separately."]
    }
    with pytest.raises(ValidationError, match="ends before it starts"):
        quote_of(seller, user, quote_date=day(2023, 12, 1), supply_from=day(2023, 12, 20), supply_to=day(2023, 12, 2))


def test_without_a_supply_date_the_invoice_date_decides(seller, user):
    quote = signed(quote_of(seller, user, quote_date=day(2023, 12, 10), net=D("1000.00")), user)
    invoice = documents.invoice_create_full(quote=quote, created_by=user)
    assert rates(invoice) == [(D("7.70"), D("1.000"), D("1000.00"))]  # a draft: the quote's rates until issued
    invoice = documents.invoice_issue(invoice=invoice, issued_by=user, issue_date=day(2024, 1, 5))
    assert rates(invoice) == [(D("8.10"), D("1.000"), D("1000.00"))]
    assert (invoice.vat_total, invoice.gross_total, invoice.supply_differs) == (D("81.00"), D("1081.00"), False)


def test_a_supply_before_the_change_invoiced_after_it_keeps_the_old_rate_and_is_printed(seller, user):
    quote = signed(quote_of(seller, user, quote_date=day(2023, 12, 10), net=D("1000.00")), user)
    invoice = documents.invoice_create_full(quote=quote, created_by=user)
    invoice = documents.invoice_issue(invoice=invoice, issued_by=user, issue_date=day(2024, 1, 5),
                                      supply_from=day(2023, 12, 28))  # fmt: skip
    assert rates(invoice) == [(D("7.70"), D("1.000"), D("1000.00"))]
    assert (invoice.vat_total, invoice.gross_total, invoice.supply_from) == (
        D("77.00"),
        D("1077.00"),
        day(2023, 12, 28),
    )
    assert invoice.supply_differs is True
    assert "28.12.2023" in printed_html(invoice)


def printed_html(invoice) -> str:
    """The invoice's printed HTML (what WeasyPrint renders to PDF)."""
    return invoice_html(invoice)


def test_a_deposit_taxed_at_7_7_is_re_taxed_at_8_1_on_the_final_invoice(seller, user):
    quote = signed(quote_of(seller, user, quote_date=day(2023, 11, 10)), user)
    deposit = documents.invoice_create_deposit(quote=quote, created_by=user)
    deposit = documents.invoice_issue(invoice=deposit, issued_by=user, issue_date=day(2023, 12, 1))
    # 30 % of 10'000.00 at the rate of 1 December 2023
    assert rates(deposit) == [(D("7.70"), D("1.000"), D("3000.00"))]
    assert (deposit.vat_total, deposit.gross_total) == (D("231.00"), D("3231.00"))

    balance = documents.invoice_create_balance(quote=quote, created_by=user)
    balance = documents.invoice_issue(invoice=balance, issued_by=user, issue_date=day(2024, 2, 15),
                                      supply_from=day(2024, 2, 10))  # fmt: skip
    # The balance at 8.1 %, the deposit again at 8.1 % and deducted at the 7.7 % it was taxed at.
    assert rates(balance) == [
        (D("8.10"), D("1.000"), D("7000.00")), (D("8.10"), D("1.000"), D("3000.00")),
        (D("7.70"), D("-1.000"), D("3000.00")),
    ]  # fmt: skip
    assert [line.corrects_deposit for line in balance.lines.order_by("position")] == [False, True, True]
    # 567.00 + 243.00 − 231.00: the whole supply bears 810.00 of VAT, the deposit paid 231.00 of it.
    assert (balance.net_total, balance.vat_total, balance.gross_total) == (D("7000.00"), D("579.00"), D("7579.00"))
    assert deposit.vat_total + balance.vat_total == D("810.00")
    text = printed_html(balance)
    assert "Deposit taxed again at the new rate of 8.1 %" in text
    assert "Deposit already taxed at 7.7 %, deducted" in text


def test_a_deposit_for_a_2024_supply_is_taxed_at_8_1_already_and_needs_no_correction(seller, user):
    quote = signed(quote_of(seller, user, quote_date=day(2023, 11, 10), supply_from=day(2024, 3, 1)), user)
    deposit = documents.invoice_create_deposit(quote=quote, created_by=user)
    deposit = documents.invoice_issue(invoice=deposit, issued_by=user, issue_date=day(2023, 12, 1))
    assert (rates(deposit), deposit.vat_total) == ([(D("8.10"), D("1.000"), D("3000.00"))], D("243.00"))
    balance = documents.invoice_create_balance(quote=quote, created_by=user)
    balance = documents.invoice_issue(invoice=balance, issued_by=user, issue_date=day(2024, 3, 5))
    assert rates(balance) == [(D("8.10"), D("1.000"), D("7000.00"))]
    assert balance.vat_total + deposit.vat_total == D("810.00")


def test_a_credit_note_keeps_the_rates_of_the_invoice_it_credits(seller, user):
    quote = signed(quote_of(seller, user, quote_date=day(2023, 12, 10), net=D("1000.00")), user)
    invoice = documents.invoice_create_full(quote=quote, created_by=user)
    invoice = documents.invoice_issue(invoice=invoice, issued_by=user, issue_date=day(2023, 12, 20))
    note = documents.credit_note_create(invoice=invoice, created_by=user, reason="Geste commercial",
                                        amount=D("107.70"))  # fmt: skip
    note = documents.invoice_issue(invoice=note, issued_by=user, issue_date=day(2024, 1, 15))
    assert (note.kind, rates(note)) == (Invoice.Kind.CREDIT_NOTE, [(D("7.70"), D("1.000"), D("100.00"))])
    assert note.vat_total == D("7.70")
