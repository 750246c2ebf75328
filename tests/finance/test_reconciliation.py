"""W2 matching: the scoring by hand, then automatic and manual matches through the payment services."""

import datetime
import gc
import random
import re
import sys
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from finance import qrbill, selectors
from finance.models import (
    AuditEvent,
    BankTransaction,
    Client,
    DepositRule,
    Invoice,
    InvoiceLine,
    MatchSuggestion,
    Payment,
)
from finance.services import documents, payments, projects, reconciliation
from finance.services.documents import LineInput
from finance.services.reconciliation import Reason, score_candidates
from tests.factories import BankTransactionFactory, ClientFactory, CompanyFactory, InvoiceFactory, UserFactory

D = Decimal
UTC = datetime.UTC
ISSUE_DAY = datetime.date(2026, 11, 10)
# 10:00 in Zurich, ten days after the issue, twenty before the due date.
RECEIVED = datetime.datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
# Long after the due date: no points for the date.
LATE = datetime.datetime(2027, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in their source language; their French is tested with the pages."""
    with translation.override("en"):
        yield


# --- Scoring by hand (no database) ---------------------------------------------------------------

QRR = qrbill.qr_reference(f"{1:06d}{7:020d}")


def open_invoice(pk=7, *, number="QA-2026-0001", balance_due="1081.00", client="Boulangerie Favre SA", **fields):
    fields = {
        "company_id": 1, "currency": "CHF", "status": "issued", "kind": "standard", "qr_reference": QRR,
        "issue_date": ISSUE_DAY, "due_date": datetime.date(2026, 12, 10), **fields,
    }  # fmt: skip
    invoice = Invoice(pk=pk, number=number, client=Client(name=client), **fields)
    invoice.balance_due = D(balance_due)
    return invoice


def transfer(amount="1081.00", *, reference="", payer="", **fields):
    fields = {"company_id": 1, "currency": "CHF", "state": "completed", "completed_at": RECEIVED, **fields}
    return BankTransaction(amount=D(amount), reference=reference, counterparty_name=payer, **fields)


def scores(transaction, *invoices):
    return [(c.invoice.number, c.score, [r.code for r in c.reasons]) for c in score_candidates(transaction, invoices)]


def grouped(reference):
    """The reference as a person types it from the QR-bill: groups of five after the first two digits."""
    return " ".join([reference[:2]] + [reference[i : i + 5] for i in range(2, len(reference), 5)])


def test_the_qr_reference_typed_with_spaces_is_decisive_on_its_own():
    reference = grouped(QRR)
    assert reference.count(" ") == 5

    candidates = score_candidates(
        transfer("20.00", reference=f"Paiement {reference}", completed_at=LATE), [open_invoice()]
    )

    assert [(c.score, c.reasons) for c in candidates] == [(100, [Reason("qr_reference", 100)])]
    assert candidates[0].reasons[0].text == "QR reference of the invoice"


def test_a_reference_glued_to_other_digits_or_cut_short_is_not_the_invoices():
    assert scores(transfer("20.00", reference=f"9{QRR}", completed_at=LATE), open_invoice()) == []
    assert scores(transfer("20.00", reference=QRR[:-1], completed_at=LATE), open_invoice()) == []


def test_a_creditor_reference_counts_like_a_qr_reference():
    rf = qrbill.creditor_reference("10000000007")

    assert scores(transfer("20.00", reference=rf.lower(), completed_at=LATE), open_invoice(qr_reference=rf)) == [
        ("QA-2026-0001", 100, ["creditor_reference"])
    ]


def test_points_add_up_number_amount_payer_and_date():
    invoice = open_invoice()

    assert scores(transfer(reference="Facture qa-2026-0001, merci"), invoice) == [
        ("QA-2026-0001", 100, ["invoice_number", "amount", "date"])  # 60 + 35 + 5
    ]
    assert scores(transfer("500.00", reference="QA-2026-0001", completed_at=LATE), invoice) == [
        ("QA-2026-0001", 60, ["invoice_number"])
    ]
    assert scores(transfer(payer="FAVRE BOULANGERIE"), invoice) == [
        ("QA-2026-0001", 65, ["amount", "payer_name", "date"])  # 35 + 25 + 5
    ]
    assert scores(transfer("12.00", payer="Boulang. Favre"), invoice) == [
        ("QA-2026-0001", 15, ["payer_name_partial", "date"])  # 10 + 5
    ]


def test_the_invoice_number_counts_only_as_a_whole_word():
    invoice = open_invoice()

    assert scores(transfer("12.00", reference="QA-2026-00011"), invoice) == [("QA-2026-0001", 5, ["date"])]
    assert scores(transfer("12.00", reference="XQA-2026-0001"), invoice) == [("QA-2026-0001", 5, ["date"])]


def test_the_amount_matches_the_balance_due_within_five_centimes():
    invoice = open_invoice(balance_due="581.00")  # partly paid already

    assert scores(transfer("580.95", completed_at=LATE), invoice) == [("QA-2026-0001", 35, ["amount"])]
    assert scores(transfer("580.94", completed_at=LATE), invoice) == []
    assert scores(transfer("1081.00", completed_at=LATE), invoice) == []


def test_the_qr_reference_beats_an_equal_amount():
    quoted = open_invoice(7, number="QA-2026-0001", balance_due="1081.00")
    same_amount = open_invoice(8, number="QA-2026-0002", balance_due="540.50", qr_reference=QRR[:-1] + "0")

    assert scores(transfer("540.50", reference=QRR), quoted, same_amount) == [
        ("QA-2026-0001", 100, ["qr_reference", "date"]),
        ("QA-2026-0002", 40, ["amount", "date"]),
    ]


def test_only_open_invoices_of_the_same_company_and_currency_are_candidates():
    reference = f"QA-2026-0001 {QRR}"
    excluded = [
        open_invoice(company_id=2),
        open_invoice(currency="EUR"),
        open_invoice(status="paid", balance_due="0.00"),
        open_invoice(status="draft"),
        open_invoice(kind="credit_note"),
        open_invoice(balance_due="0.00"),
    ]

    assert scores(transfer(reference=reference), *excluded) == []
    assert scores(transfer(reference=reference, state="pending"), open_invoice()) == []
    assert scores(transfer("-1081.00", reference=reference), open_invoice()) == []
    assert scores(transfer(reference=reference), open_invoice(status="partially_paid"))[0][1] == 100


# --- Matching through the services ---------------------------------------------------------------


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def seller():
    """Invoices with QR references (QR-IBAN), 30 days to pay."""
    return CompanyFactory(code="QR", name="Seller", qr_iban="CH4431999123000889012")


@pytest.fixture
def favre(seller):
    return ClientFactory(company=seller, name="Boulangerie Favre SA")


def issued(client, user, net="1000.00", currency="CHF"):
    """Net 1000.00 + 8.1 % VAT: 1081.00 payable."""
    invoice = InvoiceFactory(company=client.company, client=client, currency=currency)
    InvoiceLine.objects.create(
        invoice=invoice, position=1, description="Prestation", quantity=1, unit_price=D(net), vat_rate=D("8.10")
    )
    return documents.invoice_issue(invoice=invoice, issued_by=user, issue_date=ISSUE_DAY)


def arrives(company, amount, *, reference="", payer="", currency="CHF", **fields):
    fields = {"created_on_bank": RECEIVED, "completed_at": RECEIVED, **fields}
    return BankTransactionFactory(
        company=company, amount=D(amount), reference=reference, counterparty_name=payer, currency=currency, **fields
    )


def reloaded(obj):
    return type(obj).objects.get(pk=obj.pk)


def suggestion_rows(transaction):
    return [(s.invoice.number, s.score, s.reasons) for s in MatchSuggestion.objects.filter(transaction=transaction)]


@pytest.mark.django_db
def test_an_exact_payment_with_the_qr_reference_pays_the_invoice_automatically(seller, favre, user):
    invoice = issued(favre, user)
    transaction = arrives(seller, "1081.00", reference=grouped(invoice.qr_reference), payer="Someone Else")

    reconciliation.transaction_match_auto(transaction)

    transaction, invoice = reloaded(transaction), reloaded(invoice)
    payment = transaction.payment
    assert (transaction.match_status, transaction.matched_by, invoice.status) == ("matched", None, "paid")
    assert transaction.matched_at is not None
    assert (payment.client, payment.amount, payment.currency, payment.received_on) == (
        favre, D("1081.00"), "CHF", datetime.date(2026, 11, 20),
    )  # fmt: skip
    assert (payment.method, payment.reference) == ("bank_transfer", transaction.reference)
    assert [(a.invoice, a.amount) for a in payment.allocations.all()] == [(invoice, D("1081.00"))]
    system = payment.created_by
    assert (system.username, system.is_active, system.has_usable_password()) == ("system", False, False)
    event = AuditEvent.objects.get(action="bank_transaction.matched")
    assert (event.actor, event.object_id, event.changes) == (
        None,
        str(transaction.pk),
        {"invoice": invoice.number, "automatic": True, "score": 100, "allocated": "1081.00", "credit": "0.00"},
    )
    assert not MatchSuggestion.objects.exists()


@pytest.mark.django_db
def test_an_under_payment_leaves_the_invoice_partially_paid(seller, favre, user):
    invoice = issued(favre, user)
    transaction = arrives(seller, "500.00", reference=invoice.qr_reference)

    reconciliation.transaction_match_auto(transaction)

    invoice = reloaded(invoice)
    assert (reloaded(transaction).match_status, invoice.status) == ("matched", "partially_paid")
    assert documents.invoice_balance_due(invoice) == D("581.00")


@pytest.mark.django_db
def test_an_over_payment_pays_the_invoice_and_keeps_the_rest_as_client_credit(seller, favre, user):
    invoice = issued(favre, user)
    transaction = arrives(seller, "1200.00", reference=invoice.qr_reference)

    reconciliation.transaction_match_auto(transaction)

    payment = reloaded(transaction).payment
    assert reloaded(invoice).status == "paid"
    assert (payment.amount, [a.amount for a in payment.allocations.all()]) == (D("1200.00"), [D("1081.00")])
    assert payments.client_credit(client=favre) == D("119.00")
    assert AuditEvent.objects.get(action="bank_transaction.matched").changes["credit"] == "119.00"


@pytest.mark.django_db
def test_the_invoice_number_and_the_amount_match_without_a_qr_reference(seller, favre, user):
    invoice = issued(favre, user)
    transaction = arrives(seller, "1081.00", reference=f"Facture {invoice.number}")

    reconciliation.transaction_match_auto(transaction)

    assert (reloaded(transaction).match_status, reloaded(invoice).status) == ("matched", "paid")


@pytest.mark.django_db
def test_the_qr_reference_beats_another_invoice_of_that_amount(seller, favre, user):
    quoted = issued(favre, user)  # 1081.00
    same_amount = issued(favre, user, net="500.00")  # 540.50
    transaction = arrives(seller, "540.50", reference=quoted.qr_reference, payer="Boulangerie Favre")

    reconciliation.transaction_match_auto(transaction)

    assert [a.invoice for a in reloaded(transaction).payment.allocations.all()] == [quoted]
    assert (reloaded(quoted).status, reloaded(same_amount).status) == ("partially_paid", "issued")


@pytest.mark.django_db
def test_amount_and_payer_alone_stay_a_suggestion_below_the_threshold(seller, favre, user):
    invoice = issued(favre, user)
    transaction = arrives(seller, "1081.00", payer="FAVRE BOULANGERIE", reference="Merci")

    reconciliation.transaction_match_auto(transaction)

    assert reloaded(transaction).match_status == "suggested"
    assert suggestion_rows(transaction) == [
        (invoice.number, 65, [
            {"code": "amount", "points": 35}, {"code": "payer_name", "points": 25}, {"code": "date", "points": 5},
        ]),
    ]  # fmt: skip
    assert reloaded(invoice).status == "issued"
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_two_invoices_with_the_same_score_are_suggested_never_matched(seller, favre, user):
    seller.payment_match_threshold = 60
    seller.save()
    first, second = issued(favre, user, net="500.00"), issued(favre, user, net="500.00")
    transaction = arrives(seller, "540.50", payer="Boulangerie Favre SA")

    reconciliation.transaction_match_auto(transaction)

    assert reloaded(transaction).match_status == "suggested"
    assert [(number, score) for number, score, _reasons in suggestion_rows(transaction)] == [
        (first.number, 65),
        (second.number, 65),
    ]
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_at_most_three_suggestions_above_the_minimum_are_kept(seller, favre, user):
    for _ in range(4):
        issued(favre, user, net="500.00")
    weak = issued(ClientFactory(company=seller, name="Garage du Lac"), user, net="500.00")
    transaction = arrives(seller, "12.00", payer="Boulangerie Favre")

    reconciliation.transaction_match_auto(transaction)

    kept = suggestion_rows(transaction)
    assert [score for _number, score, _reasons in kept] == [30, 30, 30]  # payer 25 + date 5; the amount differs
    assert weak.number not in [number for number, _score, _reasons in kept]


@pytest.mark.django_db
def test_nothing_resembling_leaves_the_transfer_unmatched(seller, favre, user):
    issued(favre, user)
    transaction = arrives(seller, "12.00", payer="Garage du Lac", reference="Loyer")

    reconciliation.transaction_match_auto(transaction)

    assert (reloaded(transaction).match_status, suggestion_rows(transaction)) == ("unmatched", [])


@pytest.mark.django_db
def test_another_companys_invoice_is_never_matched(seller, user, company_b):
    foreign = issued(ClientFactory(company=company_b, name="Boulangerie Favre SA"), user)
    transaction = arrives(seller, "1081.00", reference=f"{foreign.number} {foreign.qr_reference}", payer="Favre")

    reconciliation.transaction_match_auto(transaction)

    assert (reloaded(transaction).match_status, suggestion_rows(transaction)) == ("unmatched", [])
    assert reloaded(foreign).status == "issued"


@pytest.mark.django_db
def test_an_invoice_in_another_currency_is_never_matched(seller, favre, user):
    euros = issued(favre, user, currency="EUR")
    transaction = arrives(seller, "1081.00", reference=euros.qr_reference)

    reconciliation.transaction_match_auto(transaction)

    assert (reloaded(transaction).match_status, reloaded(euros).status) == ("unmatched", "issued")


@pytest.mark.django_db
def test_a_transfer_the_bank_has_not_completed_is_not_matched(seller, favre, user):
    invoice = issued(favre, user)
    transaction = arrives(seller, "1081.00", reference=invoice.qr_reference, state="pending", completed_at=None)

    reconciliation.transaction_match_auto(transaction)

    assert (reloaded(transaction).match_status, reloaded(invoice).status) == ("n/a", "issued")


@pytest.mark.django_db
def test_matching_twice_records_one_payment(seller, favre, user):
    invoice = issued(favre, user)
    transaction = arrives(seller, "1081.00", reference=invoice.qr_reference)

    reconciliation.transaction_match_auto(transaction)
    again = reconciliation.transaction_match_auto(transaction)

    assert (again.match_status, Payment.objects.count()) == ("matched", 1)
    assert AuditEvent.objects.filter(action="bank_transaction.matched").count() == 1


@pytest.mark.django_db
def test_transfers_of_one_statement_pay_an_invoice_in_their_order(seller, favre, user):
    invoice = issued(favre, user)
    first = arrives(seller, "600.00", reference=invoice.qr_reference)
    second = arrives(seller, "600.00", reference=invoice.qr_reference)

    reconciliation.transactions_match_auto([first, second])

    first, second, invoice = reloaded(first), reloaded(second), reloaded(invoice)
    assert (first.match_status, second.match_status, invoice.status) == ("matched", "matched", "paid")
    assert [a.amount for a in first.payment.allocations.all()] == [D("600.00")]
    assert [a.amount for a in second.payment.allocations.all()] == [D("481.00")]
    assert payments.client_credit(client=favre) == D("119.00")
    matched_events = AuditEvent.objects.filter(action="bank_transaction.matched").order_by("pk")
    assert [event.changes["allocated"] for event in matched_events] == ["600.00", "481.00"]


@pytest.mark.django_db
def test_a_statement_is_matched_with_the_cycle_collector_paused(seller, favre, user, monkeypatch):
    invoice = issued(favre, user)
    transaction = arrives(seller, "1081.00", reference=invoice.qr_reference)
    read_candidates = reconciliation.CandidateFinder.__init__
    collector_on = []

    def candidates_noting_the_collector(finder, *args, **kwargs):
        collector_on.append(gc.isenabled())
        read_candidates(finder, *args, **kwargs)

    monkeypatch.setattr(reconciliation.CandidateFinder, "__init__", candidates_noting_the_collector)

    reconciliation.transactions_match_auto([transaction])

    # Off while the candidates of thousands of transfers are read and judged, on again once they are written.
    assert (collector_on, reloaded(transaction).match_status, gc.isenabled()) == ([False], "matched", True)


@pytest.mark.django_db
def test_a_payment_arriving_while_the_candidates_are_judged_is_taken_into_account(seller, favre, user, monkeypatch):
    """Candidates are read without a lock: a payment recorded between that read and the lock makes the batch be
    judged again on what the invoice owes then, instead of allocating more than it owes."""
    invoice = issued(favre, user)
    transaction = arrives(seller, "1081.00", reference=invoice.qr_reference)
    read_candidates = reconciliation.CandidateFinder.__init__
    finders = []

    def candidates_then_a_payment(finder, *args, **kwargs):
        read_candidates(finder, *args, **kwargs)
        finders.append(finder)
        if len(finders) == 1:
            payments.payment_record(
                client=favre, received_on=ISSUE_DAY, amount=D("400.00"), method="cash", reference="Au guichet",
                allocations=[(invoice, D("400.00"))], recorded_by=user,
            )  # fmt: skip

    monkeypatch.setattr(reconciliation.CandidateFinder, "__init__", candidates_then_a_payment)

    reconciliation.transactions_match_auto([transaction])

    transaction, invoice = reloaded(transaction), reloaded(invoice)
    assert len(finders) == 2
    assert (transaction.match_status, invoice.status) == ("matched", "paid")
    assert [a.amount for a in transaction.payment.allocations.all()] == [D("681.00")]
    assert payments.client_credit(client=favre) == D("400.00")


@pytest.mark.django_db
@pytest.mark.parametrize("transfers", [2, 6])
def test_matching_many_transfers_takes_the_same_queries_as_matching_two(
    seller, favre, user, transfers, django_assert_num_queries
):
    invoices = [issued(favre, user) for _ in range(transfers)]
    waiting = [arrives(seller, "1081.00", reference=invoice.qr_reference) for invoice in invoices]
    reconciliation.system_user()

    # Savepoint, lock, clients, candidates, the invoices locked; payments recorded (13 queries, see test_payments),
    # suggestions deleted, transfers updated, their audit; release.
    with django_assert_num_queries(23):
        reconciliation.transactions_match_auto(waiting)

    assert [reloaded(invoice).status for invoice in invoices] == ["paid"] * transfers
    assert Payment.objects.count() == transfers


@pytest.mark.django_db
def test_a_deposit_paid_by_transfer_activates_the_project(user):
    company = CompanyFactory(code="QD", qr_iban="CH4431999123000889012")
    DepositRule.objects.create(company=company, project_type="", percent=D("30"), due_days=10)
    quote = documents.quote_create(
        client=ClientFactory(company=company, name="Hôtel du Lac SA"), title="Mur LED",
        quote_date=datetime.date(2026, 11, 2), valid_until=datetime.date(2026, 12, 2),
        project_type="digital_signage", currency="CHF", created_by=user,
    )  # fmt: skip
    screen = LineInput("Écran LED", quantity=D("1"), unit_price=D("1000.00"), vat_code="standard")
    quote = documents.quote_lines_replace(quote=quote, edited_by=user, lines=[screen])
    quote = documents.quote_send(quote=quote, sent_by=user)
    project = projects.project_create_from_quote(quote=quote, created_by=user)
    quote = documents.quote_mark_signed(quote=quote, actor=user)
    deposit = documents.invoice_create_deposit(quote=quote, created_by=user)
    deposit = documents.invoice_issue(invoice=deposit, issued_by=user, issue_date=ISSUE_DAY)
    assert deposit.payable_total == D("324.30")  # 30 % of 1081.00
    transaction = arrives(company, "324.30", reference=deposit.qr_reference)

    reconciliation.transaction_match_auto(transaction)

    assert reloaded(deposit).status == "paid"
    assert reloaded(project).status == "deposit_received"


# --- Manual match, undo, ignore ------------------------------------------------------------------


@pytest.fixture
def waiting(seller, favre, user):
    """A transfer from the client with neither reference nor exact amount: a suggestion of its invoice."""
    invoice = issued(favre, user)
    transaction = arrives(seller, "1000.00", payer="Boulangerie Favre SA")
    reconciliation.transaction_match_auto(transaction)
    assert reloaded(transaction).match_status == "suggested"
    return transaction, invoice


@pytest.mark.django_db
def test_a_person_matches_a_suggestion(waiting, user):
    transaction, invoice = waiting

    reconciliation.transaction_match_manual(transaction=transaction, invoice=invoice, matched_by=user)

    transaction = reloaded(transaction)
    assert (transaction.match_status, transaction.matched_by, transaction.payment.created_by) == ("matched", user, user)
    assert (reloaded(invoice).status, documents.invoice_balance_due(invoice)) == ("partially_paid", D("81.00"))
    event = AuditEvent.objects.get(action="bank_transaction.matched")
    assert (event.actor, event.changes["automatic"], event.changes["score"]) == (user, False, 30)
    assert suggestion_rows(transaction) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("foreign", "is another company's invoice."),
        ("euros", "is in EUR, the transfer in CHF."),
        ("paid", "owes nothing (paid): choose an issued invoice with a balance due."),
    ],
)
def test_a_manual_match_refuses_an_invoice_the_transfer_cannot_pay(waiting, user, company_b, which, message):
    transaction, invoice = waiting
    if which == "foreign":
        invoice = issued(ClientFactory(company=company_b), user)
    elif which == "euros":
        invoice = issued(invoice.client, user, currency="EUR")
    else:
        payments.payment_record(
            client=invoice.client, received_on=ISSUE_DAY, amount=D("1081.00"), method="cash", reference="",
            allocations=[(invoice, D("1081.00"))], recorded_by=user,
        )  # fmt: skip

    with pytest.raises(ValidationError) as refused:
        reconciliation.transaction_match_manual(transaction=transaction, invoice=invoice, matched_by=user)

    assert refused.value.messages == [f"{invoice.number} {message}"]
    assert reloaded(transaction).match_status == "suggested"


@pytest.mark.django_db
def test_a_matched_transfer_cannot_be_matched_again(waiting, user):
    transaction, invoice = waiting
    reconciliation.transaction_match_manual(transaction=transaction, invoice=invoice, matched_by=user)

    with pytest.raises(
        ValidationError, match="waiting to be reconciled can be matched or ignored; this one is matched"
    ):
        reconciliation.transaction_match_manual(transaction=transaction, invoice=invoice, matched_by=user)
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_undo_takes_the_payment_back_and_suggests_again(seller, favre, user):
    invoice = issued(favre, user)
    transaction = arrives(seller, "1081.00", reference=invoice.qr_reference)
    reconciliation.transaction_match_auto(transaction)
    payment = reloaded(transaction).payment

    reconciliation.transaction_match_undo(transaction=transaction, undone_by=user)

    transaction = reloaded(transaction)
    assert (transaction.match_status, transaction.payment, transaction.matched_at) == ("suggested", None, None)
    assert (reloaded(payment).undone_by, reloaded(invoice).status) == (user, "issued")
    assert [(number, score) for number, score, _reasons in suggestion_rows(transaction)] == [(invoice.number, 100)]
    event = AuditEvent.objects.get(action="bank_transaction.match_undone")
    assert (event.actor, event.changes) == (user, {"was": "matched", "payment": payment.pk})
    with pytest.raises(ValidationError, match="Only a matched or ignored transfer can be undone."):
        reconciliation.transaction_match_undo(transaction=transaction, undone_by=user)


@pytest.mark.django_db
def test_ignoring_needs_a_reason_and_can_be_undone(waiting, user):
    transaction, invoice = waiting

    with pytest.raises(ValidationError, match="Say why this transfer pays no invoice."):
        reconciliation.transaction_ignore(transaction=transaction, ignored_by=user, reason="  ")
    reconciliation.transaction_ignore(transaction=transaction, ignored_by=user, reason="Remboursement fournisseur")

    assert (reloaded(transaction).match_status, suggestion_rows(transaction)) == ("ignored", [])
    assert AuditEvent.objects.get(action="bank_transaction.ignored").changes == {"reason": "Remboursement fournisseur"}
    assert reconciliation.transaction_match_auto(transaction).match_status == "ignored"

    reconciliation.transaction_match_undo(transaction=transaction, undone_by=user)

    assert reloaded(transaction).match_status == "suggested"
    assert [number for number, _score, _reasons in suggestion_rows(transaction)] == [invoice.number]


# --- Alerts --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_unmatched_alerts_count_transfers_waiting_more_than_five_days_per_currency(seller, company_b):
    now = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    def days_ago(days, amount, **fields):
        at = now - datetime.timedelta(days=days)
        return arrives(fields.pop("company", seller), amount, created_on_bank=at, completed_at=at, **fields)

    days_ago(6, "100.00")
    days_ago(10, "250.50", match_status="suggested")
    days_ago(5, "1.00")  # exactly five days: not yet
    days_ago(9, "40.00", currency="EUR")
    days_ago(9, "999.00", match_status="ignored")
    days_ago(9, "-50.00", match_status="n/a")
    days_ago(9, "77.00", company=company_b)

    alerts = reconciliation.unmatched_alerts([seller], now=now)

    assert [(a.currency, a.count, a.total, a.oldest) for a in alerts] == [
        ("CHF", 2, D("350.50"), now - datetime.timedelta(days=10)),
        ("EUR", 1, D("40.00"), now - datetime.timedelta(days=9)),
    ]


# --- Candidates read by set queries ---------------------------------------------------------------


def test_the_case_aliases_are_every_other_character_ignorecase_takes_for_a_capital_or_digit():
    word = re.compile("[0-9A-Z]", re.IGNORECASE)
    others = {chr(code) for code in range(sys.maxunicode + 1) if word.fullmatch(chr(code)) and code > 127}

    assert others == set(reconciliation.CASE_ALIASES)
    assert all(re.fullmatch(capital, alias, re.IGNORECASE) for alias, capital in reconciliation.CASE_ALIASES.items())


@pytest.mark.parametrize("spaced", [True, False])
def test_quoting_a_word_is_what_the_whole_word_pattern_ignoring_case_finds(spaced):
    """`_quotes` against the patterns it replaces, on texts made of the word's pieces, spaces and neighbours."""
    rng = random.Random(7)  # noqa: S311 - reproducible texts, not a secret
    for word in ("QA-2026-0001", "RF18539007547034", QRR, "IKS-2026-0001"):
        between = r"\s*" if spaced else ""
        pattern = re.compile(rf"(?<![0-9A-Z]){between.join(re.escape(c) for c in word)}(?![0-9A-Z])", re.IGNORECASE)
        pieces = [*word, *word.lower(), " ", "  ", "\t", "-", "x", "9", "\u0131", "\u212a", "\u017f", ",", "é"]
        for _ in range(400):
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
            cut = rng.randrange(len(word) + 1)
            middle = word[:cut] + rng.choice(["", " ", "\n", "x"]) + word[cut:] if rng.random() < 0.5 else word
            text += "".join(c.lower() if rng.random() < 0.3 else c for c in middle)
            text += "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
            assert reconciliation._quotes(text, word, spaced=spaced) == bool(pattern.search(text)), text
            # Spaced, only a QR or creditor reference has tokens; unspaced, anything is a number's.
            if pattern.search(text) and (not spaced or word == QRR or word.startswith("RF")):
                tokens = reconciliation.reference_tokens(text) if spaced else reconciliation.number_tokens(text)
                assert word in tokens, text


def test_reference_and_number_tokens_include_what_the_scoring_finds():
    rf = qrbill.creditor_reference("10000000007")
    text = f"Paiement {grouped(QRR)}, facture qa-2026-0001; {rf[:4].lower()} {rf[4:]}"

    assert QRR in reconciliation.reference_tokens(text)
    assert rf in reconciliation.reference_tokens(text)
    assert "QA-2026-0001" in reconciliation.number_tokens(text)
    assert "QA-2026-000" not in reconciliation.number_tokens(text)
    assert reconciliation.amount_window(D("10.00")) == {D("9.95") + D("0.01") * step for step in range(11)}


def test_the_clients_a_payer_is_are_those_the_scoring_finds_alike():
    """The words and grams that narrow the comparison never lose a client `_names_similarity` finds alike."""
    rng = random.Random(24)  # noqa: S311 - reproducible names, not a secret
    words = ["boulangerie", "favre", "garage", "du", "lac", "zimmermannbau", "muller", "hotel", "beau", "rivage",
             "menuiserie", "dupont", "jean", "schreinerei", "bernasconi", "sa", "sarl", "ag"]  # fmt: skip
    names = [" ".join(rng.sample(words, rng.randint(1, 4))) for _ in range(300)]

    def typo(name):
        at = rng.randrange(len(name))
        return rng.choice([name[:at] + name[at + 1 :], name[:at] + "x" + name[at:], name[:at] + "e" + name[at + 1 :]])

    clients = reconciliation.ClientNames(enumerate(names))
    for payer in [*names[:60], *(typo(name) for name in names[60:200]), "Zimmermanbau", "Zimmermannbauu"]:
        expected = [
            pk for pk, name in enumerate(names)
            if reconciliation._names_similarity(payer, name) >= reconciliation.PAYER_NAME_SIMILARITY
        ]  # fmt: skip
        assert clients.paying(payer) == expected, payer
    assert clients.paying("Zimmermanbau") == [pk for pk, name in enumerate(names) if name == "zimmermannbau"] != []


@pytest.fixture
def mixed(seller, favre, user, company_b):
    """Open invoices a transfer may pay by reference, number, amount or name, and decoys it may not."""
    lac = ClientFactory(company=seller, name="Garage du Lac Sàrl")
    zimmer = ClientFactory(company=seller, name="Zimmermannbau AG")
    invoices = {
        "favre": issued(favre, user),  # 1081.00
        "favre_small": issued(favre, user, net="500.00"),  # 540.50
        "lac": issued(lac, user, net="500.00"),  # 540.50 too
        "zimmer": issued(zimmer, user, net="200.00"),  # 216.20
        "euros": issued(favre, user, currency="EUR"),
        "foreign": issued(ClientFactory(company=company_b, name="Boulangerie Favre SA"), user),
    }
    paid = issued(lac, user, net="100.00")
    payments.payment_record(
        client=lac, received_on=ISSUE_DAY, amount=paid.payable_total, method="cash", reference="",
        allocations=[(paid, paid.payable_total)], recorded_by=user,
    )  # fmt: skip
    invoices["paid"] = paid
    return invoices


def transfers_for(seller, invoices):
    favre, lac = invoices["favre"], invoices["lac"]
    return [
        arrives(seller, "20.00", reference=f"Paiement {grouped(favre.qr_reference)}"),
        arrives(seller, "20.00", reference=f"9{favre.qr_reference}"),  # glued: no reference
        arrives(seller, "540.50", reference=f"Facture {lac.number.lower()}, merci"),
        arrives(seller, "540.50", reference="Merci"),  # amount of two invoices
        arrives(seller, "540.45", payer="Boulangerie Favre"),
        arrives(seller, "12.00", payer="Zimmermanbau", completed_at=LATE),  # typo, late: 25 points only
        arrives(seller, "12.00", payer="Zimmermanbau"),
        arrives(seller, "12.00", payer="Boulang. Favre"),  # resembles: 15 points, no suggestion
        arrives(seller, "1081.00", reference=invoices["euros"].qr_reference),  # euros, paid in francs
        arrives(seller, "1081.00", reference=f"{invoices['foreign'].number} {invoices['foreign'].qr_reference}"),
        arrives(seller, str(invoices["paid"].payable_total), reference=invoices["paid"].number),  # paid already
        arrives(seller, "99.00", payer="Personne", reference="Loyer"),
        arrives(seller, "1081.00", currency="EUR", reference=f"{invoices['euros'].number}"),
    ]


def kept(candidates):
    return [(c.invoice.number, c.score, c.reasons) for c in reconciliation._kept(candidates)]


@pytest.mark.django_db
def test_the_set_queries_keep_the_suggestions_and_decisions_of_scoring_every_invoice(seller, mixed):
    transfers = transfers_for(seller, mixed)

    for currency in ("CHF", "EUR"):
        ours = [t for t in transfers if t.currency == currency]
        finder = reconciliation.CandidateFinder(seller, currency, ours)
        every = list(selectors.invoice_open_for_matching_list(company=seller, currency=currency))
        for transaction in ours:
            read, scored = finder.candidates(transaction), score_candidates(transaction, every)
            assert kept(read) == kept(scored), transaction.reference or transaction.counterparty_name
            assert reconciliation._decided(transaction, read) == reconciliation._decided(transaction, scored)
    assert [len(kept(reconciliation._candidates(t))) for t in transfers] == [1, 0, 2, 2, 3, 0, 1, 0, 1, 1, 0, 0, 1]


@pytest.mark.django_db
def test_matching_many_transfers_records_what_matching_them_one_by_one_does(seller, mixed, user):
    transfers = transfers_for(seller, mixed)
    # Its number and amount twice: the first pays the invoice, the second no longer sees it.
    transfers += [arrives(seller, "216.20", reference=mixed["zimmer"].number) for _ in range(2)]

    matched = reconciliation.transactions_match_auto(transfers)

    assert [t.match_status for t in matched] == [
        "matched", "unmatched", "matched", "suggested", "suggested", "unmatched", "suggested", "unmatched",
        "unmatched", "unmatched", "unmatched", "unmatched", "matched", "matched", "unmatched",
    ]  # fmt: skip
    assert [reloaded(t).match_status for t in transfers] == [t.match_status for t in matched]
    assert (reloaded(mixed["zimmer"]).status, reloaded(mixed["lac"]).status) == ("paid", "paid")
    # The invoice of Garage du Lac was paid by the third transfer: it is no longer suggested with the fifth.
    assert suggestion_rows(transfers[4]) == [
        (mixed["favre_small"].number, 65, [
            {"code": "amount", "points": 35}, {"code": "payer_name", "points": 25}, {"code": "date", "points": 5},
        ]),
        (mixed["favre"].number, 30, [{"code": "payer_name", "points": 25}, {"code": "date", "points": 5}]),
    ]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("open_invoices", [3, 12])
def test_candidates_are_read_in_two_queries_however_many_open_invoices(
    seller, favre, user, open_invoices, django_assert_num_queries
):
    invoices = [issued(favre, user, net=str(100 + n)) for n in range(open_invoices)]
    transfers = [
        arrives(seller, "20.00", reference=invoices[0].qr_reference),
        arrives(seller, "20.00", reference=invoices[1].number),
        arrives(seller, str(invoices[2].payable_total)),
        arrives(seller, "20.00", payer="Favre Boulangerie"),
    ]

    with django_assert_num_queries(2):  # the clients' names, the candidate invoices
        finder = reconciliation.CandidateFinder(seller, "CHF", transfers)

    assert [kept(finder.candidates(t))[0][0] for t in transfers[:3]] == [i.number for i in invoices[:3]]
    assert len(kept(finder.candidates(transfers[3]))) == 3


@pytest.mark.django_db
@pytest.mark.parametrize("transfers", [2, 6])
def test_suggesting_many_transfers_takes_the_same_queries_as_suggesting_two(
    seller, favre, user, transfers, django_assert_num_queries
):
    issued(favre, user)
    waiting = [arrives(seller, "1081.00", payer="Favre") for _ in range(transfers)]

    # Savepoint, lock, clients, candidates; the suggestions deleted and written, the statuses updated; release.
    with django_assert_num_queries(8):
        reconciliation.transactions_match_auto(waiting)

    assert MatchSuggestion.objects.count() == transfers


@pytest.mark.django_db
def test_the_automatic_matching_threshold_is_thirty_points_at_least(seller):
    seller.payment_match_threshold = 29

    with pytest.raises(ValidationError, match="Automatic payment matching starts between 30 and 100 points."):
        seller.full_clean()
