"""Quote to cash through the services, with exact centimes."""

import datetime
from decimal import Decimal

import pytest
from django.utils import translation

from finance.models import AuditEvent, DepositRule, Invoice, Quote
from finance.services import documents
from finance.services.documents import DocumentStateError, LineInput
from tests.factories import ClientFactory, CompanyFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal
ISSUE_DAY = datetime.date(2026, 11, 10)


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in their source language; their French is tested with the pages."""
    with translation.override("en"):
        yield


@pytest.fixture
def seller():
    company = CompanyFactory(code="QS", qr_iban="CH4431999123000889012", payment_terms_days=30)
    DepositRule.objects.create(company=company, project_type="", percent=D("30"), due_days=10)
    return company


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def quote(seller, user):
    quote = documents.quote_create(
        client=ClientFactory(company=seller), title="Mur LED", quote_date=datetime.date(2026, 11, 2),
        valid_until=datetime.date(2026, 12, 2), project_type="digital_signage", currency="CHF", created_by=user,
    )  # fmt: skip
    return documents.quote_lines_replace(
        quote=quote,
        edited_by=user,
        lines=[
            LineInput("Écran LED 55 pouces", quantity=D("3"), unit_price=D("333.33"), vat_code="standard"),
            LineInput(
                "Repas équipe", quantity=D("1.5"), unit_price=D("99.90"), vat_code="reduced", discount_percent=D("10")
            ),  # fmt: skip
            LineInput("Câble", quantity=D("1"), unit_price=D("0.35"), vat_code="standard", unit="pce"),
        ],
    )


def signed(quote, user):
    quote = documents.quote_send(quote=quote, sent_by=user)
    return documents.quote_mark_signed(quote=quote, actor=user)


def test_quote_totals_use_the_rates_of_its_date_per_line(quote):
    assert [(line.vat_code, line.vat_rate) for line in quote.lines.all()] == [
        ("standard", D("8.10")),
        ("reduced", D("2.60")),
        ("standard", D("8.10")),
    ]
    assert (quote.net_total, quote.vat_total, quote.gross_total) == (D("1135.21"), D("84.54"), D("1219.75"))
    assert (quote.rounding, quote.payable_total, quote.deposit_percent) == (D("0.00"), D("1219.75"), D("30.00"))


def test_sending_numbers_the_quote_and_freezes_its_lines(quote, user):
    quote = documents.quote_send(quote=quote, sent_by=user)

    assert (quote.status, quote.number) == ("sent", "QS-DEV-2026-0001")
    with pytest.raises(DocumentStateError, match="cannot be edited"):
        documents.quote_lines_replace(quote=quote, lines=[], edited_by=user)


@pytest.mark.parametrize(
    ("action", "status"),
    [
        (lambda q, u: documents.quote_mark_signed(quote=q, actor=u), "draft"),
        (lambda q, u: documents.quote_reject(quote=q, actor=u), "draft"),
        (lambda q, u: documents.invoice_create_deposit(quote=q, created_by=u), "draft"),
    ],
)
def test_refused_quote_transitions_say_why(quote, user, action, status):
    with pytest.raises(DocumentStateError) as refused:
        action(quote, user)
    assert refused.value.code == "wrong_state"
    assert Quote.objects.get(pk=quote.pk).status == status


def test_the_daily_job_expires_quotes_past_validity_only(quote, user, seller):
    sent = documents.quote_send(quote=quote, sent_by=user)

    assert documents.quotes_expire(today=datetime.date(2026, 12, 2)) == 0
    assert documents.quotes_expire(today=datetime.date(2026, 12, 3)) == 1
    assert Quote.objects.get(pk=sent.pk).status == "expired"
    assert AuditEvent.objects.filter(object_id=str(sent.pk), action="quote.expired").count() == 1


def test_deposit_then_balance_invoice_amounts(quote, user):
    quote = signed(quote, user)

    deposit = documents.invoice_create_deposit(quote=quote, created_by=user)
    # 30 % of each rate's net base: 1000.34 → 300.10, 134.87 → 40.46
    assert [(line.vat_rate, line.unit_price) for line in deposit.lines.all()] == [
        (D("8.10"), D("300.10")),
        (D("2.60"), D("40.46")),
    ]
    assert (deposit.net_total, deposit.vat_total, deposit.gross_total) == (D("340.56"), D("25.36"), D("365.92"))
    assert (deposit.rounding, deposit.payable_total) == (D("-0.02"), D("365.90"))

    with pytest.raises(DocumentStateError, match="Issue the deposit invoice first"):
        documents.invoice_create_balance(quote=quote, created_by=user)
    deposit = documents.invoice_issue(invoice=deposit, issued_by=user, issue_date=ISSUE_DAY)
    assert (deposit.number, deposit.due_date) == ("QS-2026-0001", datetime.date(2026, 11, 20))

    balance = documents.invoice_create_balance(quote=quote, created_by=user)
    assert [(line.vat_rate, line.unit_price) for line in balance.lines.all()] == [
        (D("8.10"), D("700.24")),
        (D("2.60"), D("94.41")),
    ]
    assert (balance.net_total + deposit.net_total) == quote.net_total
    assert Quote.objects.get(pk=quote.pk).status == "converted"


def test_issuing_freezes_numbers_dates_and_reference(quote, user, seller):
    deposit = documents.invoice_create_deposit(quote=signed(quote, user), created_by=user)

    issued = documents.invoice_issue(invoice=deposit, issued_by=user, issue_date=ISSUE_DAY)

    assert issued.status == "issued"
    assert len(issued.qr_reference) == 27
    assert issued.qr_reference.startswith(f"{seller.pk:06d}")
    with pytest.raises(DocumentStateError, match="cannot be issued"):
        documents.invoice_issue(invoice=issued, issued_by=user, issue_date=ISSUE_DAY)
    with pytest.raises(DocumentStateError, match="cancel it with a credit note"):
        documents.invoice_cancel_draft(invoice=issued, cancelled_by=user)


def test_a_company_without_qr_iban_gets_a_creditor_reference(user):
    company = CompanyFactory(code="QC")
    quote = documents.quote_create(
        client=ClientFactory(company=company), title="Conseil", quote_date=datetime.date(2026, 11, 2),
        valid_until=datetime.date(2026, 12, 2), project_type="consulting", currency="CHF", created_by=user,
    )  # fmt: skip
    quote = documents.quote_lines_replace(
        quote=quote, edited_by=user, lines=[LineInput("Conseil", D("2"), D("150"), "standard")]
    )
    deposit = documents.invoice_create_deposit(quote=signed(quote, user), created_by=user)

    issued = documents.invoice_issue(invoice=deposit, issued_by=user, issue_date=ISSUE_DAY)

    assert issued.qr_reference.startswith("RF")
    assert issued.payable_total == D("97.30")  # 30 % of 300.00 = 90.00 + 7.29 VAT = 97.29 → 97.30


def test_full_credit_note_settles_the_original_without_changing_it(quote, user):
    deposit = documents.invoice_create_deposit(quote=signed(quote, user), created_by=user)
    deposit = documents.invoice_issue(invoice=deposit, issued_by=user, issue_date=ISSUE_DAY)

    note = documents.credit_note_create(invoice=deposit, created_by=user, reason="Projet annulé")
    note = documents.invoice_issue(invoice=note, issued_by=user, issue_date=ISSUE_DAY)

    assert (note.number, note.payable_total, note.qr_reference) == ("QS-NC-2026-0001", D("365.90"), "")
    original = Invoice.objects.get(pk=deposit.pk)
    assert (original.status, original.payable_total, original.number) == ("cancelled", D("365.90"), "QS-2026-0001")
    assert documents.invoice_balance_due(original) == D("0.00")


def test_partial_credit_note_reduces_the_balance_due(quote, user):
    deposit = documents.invoice_create_deposit(quote=signed(quote, user), created_by=user)
    deposit = documents.invoice_issue(invoice=deposit, issued_by=user, issue_date=ISSUE_DAY)

    note = documents.credit_note_create(invoice=deposit, created_by=user, reason="Geste commercial", amount=D("100"))
    note = documents.invoice_issue(invoice=note, issued_by=user, issue_date=ISSUE_DAY)

    assert note.payable_total == D("100.00")
    assert documents.invoice_balance_due(Invoice.objects.get(pk=deposit.pk)) == D("265.90")
    assert Invoice.objects.get(pk=deposit.pk).status == "issued"


def test_beat_runs_the_expiry_job_daily_and_it_expires_through_the_service(quote, user, settings):
    from finance import tasks

    entry = settings.CELERY_BEAT_SCHEDULE["quotes-expire"]
    assert entry["task"] == tasks.quotes_expire_daily.name == "finance.tasks.quotes_expire_daily"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({0}, {15})
    documents.quote_send(quote=quote, sent_by=user)
    Quote.objects.filter(pk=quote.pk).update(
        valid_until=datetime.date(2026, 1, 5), quote_date=datetime.date(2026, 1, 1)
    )

    assert tasks.quotes_expire_daily() == 1
    assert tasks.quotes_expire_daily() == 0
    assert Quote.objects.get(pk=quote.pk).status == "expired"
