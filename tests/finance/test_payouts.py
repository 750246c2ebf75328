"""'Pay via Revolut' (W3): who may pay, the outgoing payment stored first, /pay sent once, states followed, the page."""

import datetime as dt
import json
import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from finance.models import AuditEvent, BankTransaction, OutgoingPayment, Role, SupplierInvoice
from finance.services import purchases
from finance.services import revolut as revolut_service
from finance.services.purchases import SupplierLineInput
from integrations import actions
from integrations.actions import execute_action_run
from integrations.clients import base, revolut
from integrations.models import ActionRun
from integrations.selectors import action_runs_for
from tests.factories import BankAccountFactory, SupplierFactory
from tests.finance.test_banking_sync import CHF_ACCOUNT, leg_json, transaction_json
from tests.integrations.test_connections import BASE, revolut_connection

pytestmark = pytest.mark.django_db

D = Decimal
IBAN = "CH5604835012345678009"
COUNTERPARTY = "173e6a6b-d955-465f-8f31-7f6f7c03927c"
COUNTERPARTY_ACCOUNT = "b3cc43e8-f141-459b-9bd5-3505cf9797f8"
PAYMENT_ID = "630f9a62-e488-a9ce-a2d3-a30f5e03f0aa"
NET = D("1234.55")


def counterparty_json(*, counterparty_id=COUNTERPARTY, account_id=COUNTERPARTY_ACCOUNT, iban=IBAN, state="created"):
    return {
        "id": counterparty_id, "name": "Affichage Léman Sàrl", "profile_type": "business", "state": state,
        "created_at": "2026-11-20T09:00:00.000000Z", "updated_at": "2026-11-20T09:00:00.000000Z",
        "accounts": [{"iban": iban, "bic": "UBSWCHZH80A", "id": account_id, "name": "Affichage Léman Sàrl",
                      "bank_country": "CH", "currency": "CHF", "type": "external"}],
    }  # fmt: skip


def pay_json(state="pending"):
    result = {"id": PAYMENT_ID, "state": state, "created_at": "2026-11-20T10:00:00.000000Z"}
    if state == "completed":
        result["completed_at"] = "2026-11-20T10:00:01.000000Z"
    return result


def body_of(call) -> dict:
    return json.loads(call.request.body)


def calls_to(http, path: str) -> list:
    return [call for call in http.calls if urlsplit(call.request.url).path == f"/api/1.0/{path}"]


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def sent(monkeypatch):
    """Runs sent to the worker (run id, countdown), instead of the broker."""
    messages: list[tuple] = []
    monkeypatch.setattr(
        execute_action_run, "apply_async",
        lambda args, countdown=0, **_options: messages.append((args[0], countdown)),
    )  # fmt: skip
    monkeypatch.setattr(execute_action_run, "delay", lambda run_id: messages.append((run_id, 0)))
    return messages


@pytest.fixture
def clerk(company_a, member_of):
    return member_of(company_a, Role.FINANCE, "pay-clerk")


@pytest.fixture
def controller(company_a, member_of):
    return member_of(company_a, Role.FINANCE, "pay-controller")


@pytest.fixture
def connection(company_a):
    return revolut_connection(company_a)


@pytest.fixture
def source(connection):
    return BankAccountFactory(
        company=connection.company, connection=connection, provider_account_id=CHF_ACCOUNT, name="Main CHF",
        currency="CHF", balance=D("50000.00"), is_payout_source=True,
    )  # fmt: skip


@pytest.fixture
def supplier(company_a):
    return SupplierFactory(company=company_a, name="Affichage Léman Sàrl", iban=IBAN)


def approved(supplier, clerk, controller, *, number="F-100", net=NET) -> SupplierInvoice:
    """Entered by the clerk, approved by the controller: 1234.55 + 8.1 % VAT = CHF 1334.55."""
    invoice = purchases.supplier_invoice_create(
        supplier=supplier, created_by=clerk, supplier_number=number, invoice_date=dt.date(2026, 11, 3),
        due_date=dt.date(2026, 12, 3), lines=[SupplierLineInput(net_amount=net, vat_code="standard")],
    )  # fmt: skip
    invoice = purchases.supplier_invoice_submit(invoice=invoice, submitted_by=clerk)
    return purchases.supplier_invoice_approve(invoice=invoice, approved_by=controller)


@pytest.fixture
def invoice(supplier, clerk, controller):
    return approved(supplier, clerk, controller)


def pay(invoice, user, capture) -> OutgoingPayment:
    with capture(execute=True):
        return revolut_service.supplier_invoice_pay_revolut(invoice=invoice, requested_by=user)


def run_of(payment) -> ActionRun:
    return action_runs_for(payment).get()


def reloaded(instance):
    return type(instance).objects.get(pk=instance.pk)


# --- Who may pay ----------------------------------------------------------------------------------


def test_an_approved_invoice_can_be_paid_by_another_approver(invoice, controller, source):
    assert invoice.gross_total == D("1334.55")
    assert revolut_service.payout_refusal(invoice, user=controller) == ""


def test_an_invoice_not_approved_cannot_be_paid(supplier, clerk, controller, source):
    draft = purchases.supplier_invoice_create(
        supplier=supplier, created_by=clerk, supplier_number="F-9", invoice_date=dt.date(2026, 11, 3),
        due_date=dt.date(2026, 12, 3), lines=[SupplierLineInput(net_amount=D("10.00"), vat_code="standard")],
    )  # fmt: skip
    waiting = purchases.supplier_invoice_submit(invoice=draft, submitted_by=clerk)

    assert revolut_service.payout_refusal(waiting, user=controller) == (
        "Only an approved invoice can be paid; this one is to approve."
    )


def test_four_eyes_and_roles_apply_to_paying(invoice, clerk, member_of, company_a, source):
    operations = member_of(company_a, Role.OPERATIONS, "pay-ops")

    assert revolut_service.payout_refusal(invoice, user=clerk) == (
        "You entered this invoice: another person must approve it (four-eyes rule)."
    )
    assert revolut_service.payout_refusal(invoice, user=operations) == (
        "Only the CEO or finance of Alpha approve supplier invoices."
    )


def test_payment_details_changed_since_the_approval_block_the_payout(invoice, controller, source):
    invoice.creditor_iban = "CH9300762011623852957"  # not saved: as another writer would have it

    assert revolut_service.payout_refusal(invoice, user=controller) == (
        "The payment details changed since the approval: it must be approved again."
    )


def test_revolut_must_be_usable(invoice, controller, company_a):
    assert (
        revolut_service.payout_refusal(invoice, user=controller) == "Revolut is not usable for Alpha: not configured."
    )
    connection = revolut_connection(company_a, consent_required=True)
    assert (
        revolut_service.payout_refusal(invoice, user=controller) == "Revolut is not usable for Alpha: consent required."
    )
    connection.consent_required, connection.last_failure_at = False, timezone.now()
    connection.save()
    assert revolut_service.payout_refusal(invoice, user=controller) == "Revolut is not usable for Alpha: down."


def test_an_active_account_in_the_invoice_currency_is_needed(invoice, controller, connection):
    assert revolut_service.payout_refusal(invoice, user=controller) == "Alpha has no active Revolut account in CHF."
    BankAccountFactory(company=connection.company, connection=connection, currency="EUR", is_payout_source=True)
    closed = BankAccountFactory(company=connection.company, connection=connection, currency="CHF", is_active=False)
    assert revolut_service.payout_refusal(invoice, user=controller) == "Alpha has no active Revolut account in CHF."
    closed.is_active = True
    closed.save()
    assert revolut_service.payout_refusal(invoice, user=controller) == ""


# --- Asking for the payout ------------------------------------------------------------------------


def test_paying_stores_the_payment_schedules_the_invoice_and_enqueues_the_run(
    invoice, controller, source, sent, django_capture_on_commit_callbacks
):
    payment = pay(invoice, controller, django_capture_on_commit_callbacks)

    assert (payment.request_id, payment.amount, payment.currency, payment.reference, payment.state) == (
        f"hv-si{invoice.pk}-1", D("1334.55"), "CHF", "F-100", "initiated",
    )  # fmt: skip
    assert (payment.company, payment.account, payment.created_by, payment.supplier_invoice) == (
        invoice.company, source, controller, invoice,
    )  # fmt: skip
    assert reloaded(invoice).status == "scheduled"
    run = run_of(payment)
    assert (run.action, run.idempotency_key, run.status, run.actor, run.company) == (
        "revolut.payout", f"revolut.payout:hv-si{invoice.pk}-1", "queued", controller, invoice.company,
    )  # fmt: skip
    assert sent == [(run.pk, 0)]
    requested = AuditEvent.objects.get(action="payout.requested")
    assert requested.changes == {
        "request_id": f"hv-si{invoice.pk}-1", "amount": "1334.55", "currency": "CHF", "account": "Main CHF",
    }  # fmt: skip


def test_paying_is_refused_with_the_reason_and_nothing_is_stored(invoice, clerk, source, sent):
    with pytest.raises(ValidationError) as refused:
        revolut_service.supplier_invoice_pay_revolut(invoice=invoice, requested_by=clerk)

    assert refused.value.messages == ["You entered this invoice: another person must approve it (four-eyes rule)."]
    assert (OutgoingPayment.objects.count(), ActionRun.objects.count(), reloaded(invoice).status) == (0, 0, "approved")


def test_an_invoice_is_not_paid_twice(invoice, controller, source, sent, django_capture_on_commit_callbacks):
    pay(invoice, controller, django_capture_on_commit_callbacks)

    with pytest.raises(ValidationError) as refused:
        pay(invoice, controller, django_capture_on_commit_callbacks)

    assert refused.value.messages == ["Only an approved invoice can be paid; this one is payment scheduled."]
    assert OutgoingPayment.objects.count() == 1


# --- Executing the payout -------------------------------------------------------------------------


def test_the_first_payout_creates_the_counterparty_and_pays_the_exact_amount(
    invoice, controller, source, sent, http, django_capture_on_commit_callbacks
):
    payment = pay(invoice, controller, django_capture_on_commit_callbacks)
    http.get(f"{BASE}/counterparties", json=[])
    http.post(f"{BASE}/counterparty", json=counterparty_json())
    http.post(f"{BASE}/pay", json=pay_json("pending"))

    execute_action_run(run_of(payment).pk)

    lookup = calls_to(http, "counterparties")[0]
    assert parse_qs(urlsplit(lookup.request.url).query) == {"iban": [IBAN], "limit": ["1000"]}
    assert body_of(calls_to(http, "counterparty")[0]) == {
        "company_name": "Affichage Léman Sàrl", "bank_country": "CH", "currency": "CHF", "iban": IBAN,
        "address": {"street_line1": "Route de la Gare 12", "city": "Lausanne", "country": "CH", "postcode": "1003"},
    }  # fmt: skip
    pay_call = calls_to(http, "pay")[0]
    assert body_of(pay_call) == {
        "request_id": f"hv-si{invoice.pk}-1", "account_id": CHF_ACCOUNT,
        "receiver": {"counterparty_id": COUNTERPARTY, "account_id": COUNTERPARTY_ACCOUNT},
        "amount": 1334.55, "currency": "CHF", "reference": "F-100",
    }  # fmt: skip
    assert b'"amount": 1334.55' in pay_call.request.body
    assert pay_call.request.headers["Authorization"] == "Bearer tok"
    payment = reloaded(payment)
    assert (payment.state, payment.provider_transaction_id) == ("pending", PAYMENT_ID)
    assert (payment.counterparty_id, payment.counterparty_account_id) == (COUNTERPARTY, COUNTERPARTY_ACCOUNT)
    supplier = reloaded(invoice.supplier)
    assert (supplier.revolut_counterparty_id, supplier.revolut_counterparty_account_id,
            supplier.revolut_counterparty_iban) == (COUNTERPARTY, COUNTERPARTY_ACCOUNT, IBAN)  # fmt: skip
    run = run_of(payment)
    assert (run.status, run.attempts, run.result) == (
        "succeeded",
        1,
        {"state": "pending", "transaction_id": PAYMENT_ID},
    )
    assert reloaded(invoice).status == "scheduled"


def test_the_stored_counterparty_is_reused(
    supplier, invoice, clerk, controller, source, sent, http, django_capture_on_commit_callbacks
):
    http.get(f"{BASE}/counterparties", json=[])
    http.post(f"{BASE}/counterparty", json=counterparty_json())
    http.post(f"{BASE}/pay", json=pay_json("pending"))
    execute_action_run(run_of(pay(invoice, controller, django_capture_on_commit_callbacks)).pk)
    second = approved(supplier, clerk, controller, number="F-101", net=D("100.00"))

    payment = pay(second, controller, django_capture_on_commit_callbacks)
    execute_action_run(run_of(payment).pk)

    assert [len(calls_to(http, path)) for path in ("counterparties", "counterparty", "pay")] == [1, 1, 2]
    assert body_of(calls_to(http, "pay")[1])["receiver"] == {
        "counterparty_id": COUNTERPARTY, "account_id": COUNTERPARTY_ACCOUNT,
    }  # fmt: skip
    assert body_of(calls_to(http, "pay")[1])["request_id"] == f"hv-si{second.pk}-1"
    assert body_of(calls_to(http, "pay")[1])["amount"] == 108.1


def test_an_existing_counterparty_is_found_by_iban(
    invoice, controller, source, sent, http, django_capture_on_commit_callbacks
):
    http.get(f"{BASE}/counterparties", json=[
        counterparty_json(counterparty_id="deleted-one", account_id="deleted-account", state="deleted"),
        counterparty_json(counterparty_id="existing", account_id="existing-account"),
    ])  # fmt: skip
    http.post(f"{BASE}/pay", json=pay_json("pending"))

    execute_action_run(run_of(pay(invoice, controller, django_capture_on_commit_callbacks)).pk)

    assert calls_to(http, "counterparty") == []
    assert body_of(calls_to(http, "pay")[0])["receiver"] == {
        "counterparty_id": "existing",
        "account_id": "existing-account",
    }
    assert reloaded(invoice.supplier).revolut_counterparty_id == "existing"


def test_a_new_iban_needs_a_new_counterparty(invoice, supplier, controller, source, sent, http,
                                             django_capture_on_commit_callbacks):  # fmt: skip
    supplier.revolut_counterparty_id, supplier.revolut_counterparty_account_id = "old", "old-account"
    supplier.revolut_counterparty_iban = "CH9300762011623852957"
    supplier.save()
    http.get(f"{BASE}/counterparties", json=[counterparty_json()])
    http.post(f"{BASE}/pay", json=pay_json("pending"))

    execute_action_run(run_of(pay(invoice, controller, django_capture_on_commit_callbacks)).pk)

    assert body_of(calls_to(http, "pay")[0])["receiver"]["counterparty_id"] == COUNTERPARTY
    assert reloaded(supplier).revolut_counterparty_iban == IBAN


def test_a_completed_payout_pays_the_invoice(
    invoice, controller, source, sent, http, django_capture_on_commit_callbacks
):
    http.get(f"{BASE}/counterparties", json=[counterparty_json()])
    http.post(f"{BASE}/pay", json=pay_json("completed"))

    payment = pay(invoice, controller, django_capture_on_commit_callbacks)
    execute_action_run(run_of(payment).pk)

    payment = reloaded(payment)
    assert (payment.state, payment.completed_at is not None) == ("completed", True)
    invoice = reloaded(invoice)
    assert (invoice.status, invoice.paid_on) == ("paid", timezone.localdate())
    change = AuditEvent.objects.get(action="payout.state_changed")
    assert (change.changes["state_from"], change.changes["state_to"]) == ("initiated", "completed")


def test_a_declined_payout_puts_the_invoice_back_with_the_reason_and_a_new_one_can_be_sent(
    invoice, controller, source, sent, http, django_capture_on_commit_callbacks
):
    http.get(f"{BASE}/counterparties", json=[counterparty_json()])
    http.post(f"{BASE}/pay", json=pay_json("declined"))
    http.get(f"{BASE}/transaction/{PAYMENT_ID}", json=transaction_json(
        [leg_json(CHF_ACCOUNT, -1334.55)], transaction_id=PAYMENT_ID, state="declined",
        request_id=f"hv-si{invoice.pk}-1", reason_code="insufficient_balance",
    ))  # fmt: skip

    first = pay(invoice, controller, django_capture_on_commit_callbacks)
    execute_action_run(run_of(first).pk)

    first = reloaded(first)
    assert (first.state, first.reason) == ("declined", "insufficient_balance")
    assert (reloaded(invoice).status, run_of(first).status) == ("approved", "succeeded")
    assert AuditEvent.objects.filter(action="supplier_invoice.payout_failed").count() == 1
    assert revolut_service.payout_refusal(reloaded(invoice), user=controller) == ""
    second = pay(reloaded(invoice), controller, django_capture_on_commit_callbacks)
    assert (second.request_id, second.state) == (f"hv-si{invoice.pk}-2", "initiated")


def test_a_retry_after_a_network_failure_sends_the_same_request_id(
    invoice, controller, source, sent, http, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(base.time, "sleep", lambda seconds: None)
    http.get(f"{BASE}/counterparties", json=[counterparty_json()])
    http.post(f"{BASE}/pay", body=requests.ConnectionError("connection reset"))
    payment = pay(invoice, controller, django_capture_on_commit_callbacks)
    run = run_of(payment)

    execute_action_run(run.pk)

    assert (reloaded(run).status, reloaded(run).attempts, sent[-1]) == ("queued", 1, (run.pk, 15))
    assert reloaded(payment).state == "initiated"
    http.replace(responses.POST, f"{BASE}/pay", json=pay_json("pending"))
    execute_action_run(run.pk)

    pay_calls = calls_to(http, "pay")
    assert len(pay_calls) == 4  # three tries in the first attempt, one in the second
    assert {body_of(call)["request_id"] for call in pay_calls} == {f"hv-si{invoice.pk}-1"}
    assert {body_of(call)["amount"] for call in pay_calls} == {1334.55}
    assert (reloaded(run).status, reloaded(payment).state) == ("succeeded", "pending")


def killed_after_sending(invoice, controller, capture) -> tuple[OutgoingPayment, ActionRun]:
    """The worker sent /pay, Revolut took it, and the worker died before storing the answer."""
    payment = pay(invoice, controller, capture)
    run = run_of(payment)
    supplier = invoice.supplier
    supplier.revolut_counterparty_id, supplier.revolut_counterparty_account_id = COUNTERPARTY, COUNTERPARTY_ACCOUNT
    supplier.revolut_counterparty_iban = IBAN
    supplier.save()
    ActionRun.objects.filter(pk=run.pk).update(status="running", worker="celery@w1", attempts=1,
                                               started_at=timezone.now())  # fmt: skip
    return payment, run


def the_payout_transaction(invoice, state="completed") -> dict:
    return transaction_json(
        [leg_json(CHF_ACCOUNT, -1334.55, description="To Affichage Léman Sàrl")], transaction_id=PAYMENT_ID,
        state=state, request_id=f"hv-si{invoice.pk}-1", reference="F-100",
    )  # fmt: skip


def test_a_worker_killed_after_revolut_accepted_the_payout_never_pays_twice(
    invoice, controller, source, sent, http, django_capture_on_commit_callbacks
):
    """Revolut answers a repeated request_id with 400 "Duplicate request" (code 3020, business.json /pay)."""
    payment, run = killed_after_sending(invoice, controller, django_capture_on_commit_callbacks)
    http.post(f"{BASE}/pay", status=400, json={"code": 3020, "message": f"Duplicate request: hv-si{invoice.pk}-1"})
    lookup = http.get(f"{BASE}/transactions", json=[the_payout_transaction(invoice)])

    with django_capture_on_commit_callbacks(execute=True):
        actions.action_runs_resume(worker="celery@w1")
    execute_action_run(run.pk)

    run = reloaded(run)
    assert (run.status, run.attempts, run.result) == (
        "succeeded",
        2,
        {"state": "completed", "transaction_id": PAYMENT_ID},
    )
    assert [body_of(call)["request_id"] for call in calls_to(http, "pay")] == [f"hv-si{invoice.pk}-1"]
    assert parse_qs(urlsplit(lookup.calls[0].request.url).query)["request_id"] == [f"hv-si{invoice.pk}-1"]
    assert (reloaded(payment).state, reloaded(payment).provider_transaction_id) == ("completed", PAYMENT_ID)
    assert reloaded(invoice).status == "paid"


def test_a_duplicate_request_not_yet_listed_is_followed_by_webhook(
    invoice, controller, source, connection, sent, http, django_capture_on_commit_callbacks
):
    payment, run = killed_after_sending(invoice, controller, django_capture_on_commit_callbacks)
    http.post(f"{BASE}/pay", status=400, json={"code": 3020, "message": f"Duplicate request: hv-si{invoice.pk}-1"})
    http.get(f"{BASE}/transactions", json=[])

    with django_capture_on_commit_callbacks(execute=True):
        actions.action_runs_resume(worker="celery@w1")
    execute_action_run(run.pk)

    run = reloaded(run)
    assert (run.status, run.last_error) == ("succeeded", "")
    assert run.result == {"state": "initiated", "transaction_id": "", "duplicate_request": True}
    assert (len(calls_to(http, "pay")), reloaded(payment).state) == (1, "initiated")
    # The payout's transaction then arrives (webhook or sync) and is followed.
    revolut_service.bank_transaction_upsert(connection, revolut.Transaction.from_api(the_payout_transaction(invoice)))
    assert (reloaded(payment).state, reloaded(payment).provider_transaction_id) == ("completed", PAYMENT_ID)
    assert reloaded(invoice).status == "paid"


def test_a_payout_already_acknowledged_is_not_sent_again(
    invoice, controller, source, sent, http, django_capture_on_commit_callbacks
):
    payment = pay(invoice, controller, django_capture_on_commit_callbacks)
    OutgoingPayment.objects.filter(pk=payment.pk).update(state="pending", provider_transaction_id=PAYMENT_ID)

    execute_action_run(run_of(payment).pk)

    assert len(http.calls) == 0
    assert run_of(payment).result == {"state": "pending", "transaction_id": PAYMENT_ID}


def test_a_permanent_refusal_fails_the_run_with_the_reason_and_a_retry_resends_the_same_request(
    invoice, controller, source, sent, http, django_capture_on_commit_callbacks
):
    http.get(f"{BASE}/counterparties", json=[])
    http.post(f"{BASE}/counterparty", status=422, json={"message": "Recipient can't be added", "code": 2101})
    payment = pay(invoice, controller, django_capture_on_commit_callbacks)
    run = run_of(payment)

    execute_action_run(run.pk)

    run = reloaded(run)
    assert (run.status, run.attempts, run.last_error) == ("failed", 1, "revolut: Recipient can't be added (HTTP 422)")
    assert (reloaded(payment).state, reloaded(invoice).status) == ("initiated", "scheduled")
    http.replace(responses.POST, f"{BASE}/counterparty", json=counterparty_json())
    http.post(f"{BASE}/pay", json=pay_json("pending"))
    with django_capture_on_commit_callbacks(execute=True):
        actions.action_run_retry(run=run, actor=controller)
    execute_action_run(run.pk)

    assert (reloaded(run).status, reloaded(payment).state) == ("succeeded", "pending")
    assert body_of(calls_to(http, "pay")[0])["request_id"] == f"hv-si{invoice.pk}-1"


def test_a_lost_consent_fails_the_payout_before_anything_is_sent(
    invoice, controller, source, connection, sent, http, django_capture_on_commit_callbacks
):
    payment = pay(invoice, controller, django_capture_on_commit_callbacks)
    connection.consent_required = True
    connection.save()

    execute_action_run(run_of(payment).pk)

    assert run_of(payment).status == "failed"
    assert run_of(payment).last_error == "revolut: Revolut is not authorised for Alpha."
    assert len(http.calls) == 0


# --- Following the payout -------------------------------------------------------------------------


def payout_transaction(invoice, state, *, updated_at=None, reason_code=""):
    return revolut.Transaction.from_api(transaction_json(
        [leg_json(CHF_ACCOUNT, -1334.55, description="To Affichage Léman Sàrl")], transaction_id=PAYMENT_ID,
        state=state, request_id=f"hv-si{invoice.pk}-1", reference="F-100", reason_code=reason_code,
        created_at=dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC), updated_at=updated_at,
    ))  # fmt: skip


def test_the_payouts_transaction_moves_the_payment_and_the_invoice(
    invoice, controller, source, connection, sent, django_capture_on_commit_callbacks
):
    payment = pay(invoice, controller, django_capture_on_commit_callbacks)
    later = dt.datetime(2026, 11, 20, 11, 0, tzinfo=dt.UTC)

    revolut_service.bank_transaction_upsert(connection, payout_transaction(invoice, "pending"))
    assert (reloaded(payment).state, reloaded(invoice).status) == ("pending", "scheduled")
    revolut_service.bank_transaction_upsert(connection, payout_transaction(invoice, "completed", updated_at=later))
    # A late "pending" (a retried TransactionCreated) changes nothing any more.
    revolut_service.bank_transaction_upsert(connection, payout_transaction(invoice, "pending"))

    payment = reloaded(payment)
    assert (payment.state, payment.provider_transaction_id) == ("completed", PAYMENT_ID)
    assert reloaded(invoice).status == "paid"
    row = BankTransaction.objects.get()
    assert (row.amount, row.request_id, row.state, row.match_status) == (D("-1334.55"), payment.request_id,
                                                                         "completed", "n/a")  # fmt: skip
    states = AuditEvent.objects.filter(action="payout.state_changed").order_by("pk")
    assert [(event.changes["state_from"], event.changes["state_to"]) for event in states] == [
        ("initiated", "pending"), ("pending", "completed"),
    ]  # fmt: skip


def test_a_reverted_payout_reopens_the_paid_invoice(
    invoice, controller, source, connection, sent, django_capture_on_commit_callbacks
):
    payment = pay(invoice, controller, django_capture_on_commit_callbacks)
    revolut_service.outgoing_payment_follow(
        request_id=payment.request_id, transaction=payout_transaction(invoice, "completed")
    )
    assert reloaded(invoice).status == "paid"

    revolut_service.outgoing_payment_follow(
        request_id=payment.request_id, transaction=payout_transaction(invoice, "reverted", reason_code="")
    )

    payment = reloaded(payment)
    assert (payment.state, payment.reason) == ("reverted", "Revolut reported the payment reverted.")
    invoice = reloaded(invoice)
    assert (invoice.status, invoice.paid_on) == ("approved", None)


def test_a_transaction_of_no_payout_changes_no_payment(invoice, controller, source, connection, sent,
                                                       django_capture_on_commit_callbacks):  # fmt: skip
    payment = pay(invoice, controller, django_capture_on_commit_callbacks)

    revolut_service.outgoing_payment_follow(
        request_id="somebody-else", transaction=payout_transaction(invoice, "completed")
    )

    assert reloaded(payment).state == "initiated"


# --- The supplier invoice page --------------------------------------------------------------------


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def pay_button(html: str) -> str:
    found = re.search(r'<button[^>]*data-testid="pay-revolut"[^>]*>', html)
    assert found, "no Pay via Revolut button"
    return found.group(0)


def test_the_page_offers_pay_via_revolut_when_it_can_be_paid(invoice, controller, source):
    html = signed_in(controller).get(invoice.get_absolute_url()).content.decode()

    assert "Pay via Revolut" in html
    assert " disabled" not in pay_button(html)
    assert 'data-testid="payout-refusal"' not in html
    assert reverse("finance:supplier-invoice-pay", kwargs={"pk": invoice.pk}) in html


def test_the_page_disables_pay_via_revolut_with_the_reason(invoice, controller, clerk):
    for_controller = signed_in(controller).get(invoice.get_absolute_url()).content.decode()
    for_clerk = signed_in(clerk).get(invoice.get_absolute_url()).content.decode()

    assert " disabled" in pay_button(for_controller)
    assert "Revolut is not usable for Alpha: not configured." in for_controller
    assert " disabled" in pay_button(for_clerk)
    assert "You entered this invoice: another person must approve it (four-eyes rule)." in for_clerk


def test_the_pay_view_starts_the_payout(invoice, controller, source, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(controller).post(reverse("finance:supplier-invoice-pay", kwargs={"pk": invoice.pk}),
                                              follow=True)  # fmt: skip

    assert response.redirect_chain == [(invoice.get_absolute_url(), 302)]
    html = response.content.decode()
    assert "Payment sent to Revolut; its status follows below." in html
    payment = OutgoingPayment.objects.get()
    assert (payment.request_id, reloaded(invoice).status) == (f"hv-si{invoice.pk}-1", "scheduled")
    assert sent == [(run_of(payment).pk, 0)]
    row = re.search(r'<tr data-testid="payout-row">.*?</tr>', html, re.S).group(0)
    assert payment.request_id in row
    assert "CHF 1&#x27;334.55" in row or "CHF 1'334.55" in row
    assert "Main CHF" in row
    assert re.search(r'data-testid="payout-state">Sending to the bank<', row)
    assert "Queued" in row
    assert f"/actions/{run_of(payment).pk}/?polling=1" in row


def test_the_pay_view_refuses_with_the_reason(invoice, clerk, source, sent):
    response = signed_in(clerk).post(reverse("finance:supplier-invoice-pay", kwargs={"pk": invoice.pk}), follow=True)

    assert "You entered this invoice: another person must approve it (four-eyes rule)." in response.content.decode()
    assert (OutgoingPayment.objects.count(), reloaded(invoice).status, sent) == (0, "approved", [])


def test_the_pay_view_is_for_approvers_of_the_company(invoice, company_a, company_b, member_of, source, sent):
    operations = member_of(company_a, Role.OPERATIONS, "pay-view-ops")
    outsider = member_of(company_b, Role.FINANCE, "pay-view-outsider")
    url = reverse("finance:supplier-invoice-pay", kwargs={"pk": invoice.pk})

    assert signed_in(operations).post(url).status_code == 403
    assert signed_in(outsider).post(url).status_code == 404
    assert signed_in(outsider).get(invoice.get_absolute_url()).status_code == 404
    assert OutgoingPayment.objects.count() == 0


def test_the_page_shows_a_declined_payout_with_its_reason(
    invoice, controller, source, connection, sent, django_capture_on_commit_callbacks
):
    payment = pay(invoice, controller, django_capture_on_commit_callbacks)
    revolut_service.outgoing_payment_follow(
        request_id=payment.request_id,
        transaction=payout_transaction(invoice, "declined", reason_code="insufficient_balance"),
    )

    html = signed_in(controller).get(invoice.get_absolute_url()).content.decode()

    assert re.search(r'data-testid="payout-state">Declined<', html)
    assert "insufficient_balance" in html
    assert " disabled" not in pay_button(html)
