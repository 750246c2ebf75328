"""Revolut into the Hub: accounts and payout sources, exchange rates, transactions upserted once, sync, webhook events.

The builders at the top make Revolut objects shaped as the API returns them (revolut-business-openapi.json);
the webhook and payout tests use them too.
"""

import datetime as dt
import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import pytest
import responses

from finance.models import BankAccount, BankTransaction, FxRate
from finance.services import revolut as revolut_service
from integrations.clients import revolut
from integrations.models import SyncCursor
from tests.factories import BankAccountFactory
from tests.integrations.test_connections import BASE, revolut_connection

pytestmark = pytest.mark.django_db

D = Decimal
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
CHF_ACCOUNT = "7c1f02a5-5a3e-4c59-9a0e-3d0b8f0c1a01"
EUR_ACCOUNT = "7c1f02a5-5a3e-4c59-9a0e-3d0b8f0c1a02"


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def account_json(account_id, *, name="Main", currency="CHF", balance=12500.5, state="active", updated_at=NOW):
    return {
        "id": account_id, "name": name, "balance": balance, "currency": currency, "state": state, "public": False,
        "created_at": "2026-01-05T08:00:00.000000Z", "updated_at": iso(updated_at),
    }  # fmt: skip


def leg_json(account_id, amount, *, currency="CHF", description="", counterparty=None, balance=None):
    leg = {"leg_id": str(uuid4()), "account_id": account_id, "amount": amount, "currency": currency,
           "description": description}  # fmt: skip
    if counterparty:
        leg["counterparty"] = counterparty
    if balance is not None:
        leg["balance"] = balance
    return leg


def transaction_json(
    legs, *, transaction_id=None, type="transfer", state="completed", request_id="", reference="",
    created_at=NOW, updated_at=None, reason_code="",
):  # fmt: skip
    """A Revolut transaction (GET /transaction/{id}, or the `data` of a TransactionCreated webhook)."""
    updated_at = updated_at or created_at
    data = {
        "id": transaction_id or str(uuid4()), "type": type, "state": state, "created_at": iso(created_at),
        "updated_at": iso(updated_at), "reference": reference, "legs": legs,
    }  # fmt: skip
    if request_id:
        data["request_id"] = request_id
    if state == "completed":
        data["completed_at"] = iso(updated_at)
    if reason_code:
        data["reason_code"] = reason_code
    return data


def incoming_json(amount=1500, *, account_id=CHF_ACCOUNT, currency="CHF", state="completed", **fields):
    """A transfer a client sent to one of our accounts."""
    fields.setdefault("reference", "RF18539007547034")
    leg = leg_json(account_id, amount, currency=currency, description="Payment from Client Léman SA")
    return transaction_json([leg], state=state, **fields)


def query_of(call) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(call.request.url).query).items()}


@pytest.fixture
def connection(company_a):
    return revolut_connection(company_a)


@pytest.fixture
def chf_account(connection):
    return BankAccountFactory(
        company=connection.company, connection=connection, provider_account_id=CHF_ACCOUNT, name="Main",
        currency="CHF", balance=D("1000.00"), is_payout_source=True,
    )  # fmt: skip


@pytest.fixture
def matched(monkeypatch):
    """The transactions handed to automatic matching (reconciliation has its own tests)."""
    calls = []
    monkeypatch.setattr(revolut_service.reconciliation, "transaction_match_auto", calls.append)
    return calls


def upsert(connection, data):
    return revolut_service.bank_transaction_upsert(connection, revolut.Transaction.from_api(data))


# --- Accounts and rates ---------------------------------------------------------------------------


def test_accounts_sync_stores_balances_and_one_payout_source_per_currency(connection, http):
    http.get(f"{BASE}/accounts", json=[
        account_json(CHF_ACCOUNT, name="Main", balance=12500.5),
        account_json("acc-chf-reserve", name="Reserve", balance=3000),
        account_json(EUR_ACCOUNT, name="Euro", currency="EUR", balance=800.25),
        account_json("acc-usd-old", name="Dollars", currency="USD", balance=0, state="inactive"),
    ])  # fmt: skip

    synced = revolut_service.bank_accounts_sync(connection)

    assert [account.provider_account_id for account in synced] == [
        CHF_ACCOUNT, "acc-chf-reserve", EUR_ACCOUNT, "acc-usd-old",
    ]  # fmt: skip
    rows = {
        account.name: (account.company_id, account.connection_id, account.currency, account.balance, account.is_active,
                       account.is_payout_source, account.balance_updated_at)
        for account in BankAccount.objects.all()
    }  # fmt: skip
    company, conn = connection.company_id, connection.pk
    assert rows == {
        "Main": (company, conn, "CHF", D("12500.50"), True, True, NOW),
        "Reserve": (company, conn, "CHF", D("3000.00"), True, False, NOW),
        "Euro": (company, conn, "EUR", D("800.25"), True, True, NOW),
        "Dollars": (company, conn, "USD", D("0.00"), False, True, NOW),
    }
    assert http.calls[0].request.headers["Authorization"] == "Bearer tok"


def test_a_second_sync_updates_balances_and_keeps_the_chosen_payout_source(connection, http):
    http.get(f"{BASE}/accounts", json=[account_json(CHF_ACCOUNT, name="Main", balance=100),
                                       account_json("acc-chf-reserve", name="Reserve", balance=200)])  # fmt: skip
    revolut_service.bank_accounts_sync(connection)
    # Finance chose the reserve to pay suppliers.
    BankAccount.objects.filter(provider_account_id=CHF_ACCOUNT).update(is_payout_source=False)
    BankAccount.objects.filter(provider_account_id="acc-chf-reserve").update(is_payout_source=True)
    later = NOW + dt.timedelta(hours=1)
    http.replace(responses.GET, f"{BASE}/accounts", json=[
        account_json(CHF_ACCOUNT, name="Main CHF", balance=99.95, updated_at=later),
        account_json("acc-chf-reserve", name="Reserve", balance=200, updated_at=later),
    ])  # fmt: skip

    revolut_service.bank_accounts_sync(connection)

    assert list(BankAccount.objects.order_by("provider_account_id").values_list(
        "provider_account_id", "name", "balance", "is_payout_source", "balance_updated_at"
    )) == [
        (CHF_ACCOUNT, "Main CHF", D("99.95"), False, later),
        ("acc-chf-reserve", "Reserve", D("200.00"), True, later),
    ]  # fmt: skip


def test_rates_to_chf_are_stored_once_per_day_and_currency(connection, http):
    quotes = {"EUR": (0.9412, "2026-11-20T10:15:00Z"), "USD": (0.88123456, "2026-11-20T10:15:01Z")}

    def rate(request):
        query = parse_qs(urlsplit(request.url).query)
        currency, to = query["from"][0], query["to"][0]
        value, at = quotes[currency]
        return 200, {}, json.dumps({
            "from": {"amount": 1, "currency": currency}, "to": {"amount": value, "currency": to}, "rate": value,
            "fee": {"amount": 0, "currency": currency}, "rate_date": at,
        })  # fmt: skip

    http.add_callback(responses.GET, f"{BASE}/rate", callback=rate)

    revolut_service.fx_rates_sync(connection, {"CHF", "EUR", "USD"})
    quotes["EUR"] = (0.9415, "2026-11-20T16:00:00Z")
    revolut_service.fx_rates_sync(connection, {"EUR", "USD"})

    rates = FxRate.objects.order_by("currency").values_list("currency", "quote_currency", "rate", "rate_date", "source")
    assert list(rates) == [
        ("EUR", "CHF", D("0.94150000"), dt.date(2026, 11, 20), "revolut"),
        ("USD", "CHF", D("0.88123456"), dt.date(2026, 11, 20), "revolut"),
    ]
    # CHF itself is never asked for.
    assert [query_of(call) for call in http.calls] == [
        {"from": "EUR", "to": "CHF"}, {"from": "USD", "to": "CHF"}, {"from": "EUR", "to": "CHF"},
        {"from": "USD", "to": "CHF"},
    ]  # fmt: skip


# --- Transactions ---------------------------------------------------------------------------------


def test_an_incoming_transfer_is_stored_once_under_the_connections_company(connection, chf_account, matched):
    data = incoming_json(1500.35, transaction_id="5f2b1e44-0f0c-4a4b-9a63-1d2e3f4a5b6c", reference="RF18539007547034")

    first = upsert(connection, data)
    again = upsert(connection, data)

    row = BankTransaction.objects.get()
    assert [first[0].pk, again[0].pk] == [row.pk, row.pk]
    assert (row.provider_id, row.company, row.account, row.type, row.state, row.amount, row.currency) == (
        "5f2b1e44-0f0c-4a4b-9a63-1d2e3f4a5b6c", connection.company, chf_account, "transfer", "completed",
        D("1500.35"), "CHF",
    )  # fmt: skip
    assert (row.reference, row.counterparty_name, row.created_on_bank, row.completed_at) == (
        "RF18539007547034", "Payment from Client Léman SA", NOW, NOW,
    )  # fmt: skip
    assert (row.match_status, row.raw) == ("unmatched", data)
    assert [transaction.pk for transaction in matched] == [row.pk, row.pk]


def test_an_incoming_transfer_is_matched_once_it_completes(connection, chf_account, matched):
    created = NOW - dt.timedelta(minutes=3)
    pending = incoming_json(200, state="pending", created_at=created)

    upsert(connection, pending)
    assert (BankTransaction.objects.get().state, BankTransaction.objects.get().match_status, matched) == (
        "pending", "n/a", [],
    )  # fmt: skip
    upsert(connection, {**pending, "state": "completed", "updated_at": iso(NOW), "completed_at": iso(NOW)})

    row = BankTransaction.objects.get()
    assert (row.state, row.completed_at, row.created_on_bank, row.match_status) == (
        "completed",
        NOW,
        created,
        "unmatched",
    )
    assert matched == [row]


def test_an_older_event_arriving_late_does_not_move_the_state_back(connection, chf_account, matched):
    pending = incoming_json(200, state="pending", created_at=NOW - dt.timedelta(minutes=3))
    completed = {**pending, "state": "completed", "updated_at": iso(NOW), "completed_at": iso(NOW)}

    upsert(connection, completed)
    upsert(connection, pending)

    row = BankTransaction.objects.get()
    assert (row.state, row.completed_at, row.match_status, row.raw["state"]) == (
        "completed",
        NOW,
        "unmatched",
        "completed",
    )


def test_money_out_and_card_payments_are_not_to_match(connection, chf_account, matched):
    upsert(connection, transaction_json([leg_json(CHF_ACCOUNT, -250.4, description="To Pose Express Sàrl")]))
    upsert(connection, transaction_json([leg_json(CHF_ACCOUNT, -12.9, description="Coop")], type="card_payment"))

    assert sorted(BankTransaction.objects.values_list("amount", "match_status")) == [
        (D("-250.40"), "n/a"), (D("-12.90"), "n/a"),
    ]  # fmt: skip
    assert matched == []


def test_an_exchange_between_our_accounts_keeps_both_legs_and_matches_neither(connection, chf_account, matched):
    euro = BankAccountFactory(company=connection.company, connection=connection, provider_account_id=EUR_ACCOUNT,
                              name="Euro", currency="EUR")  # fmt: skip
    data = transaction_json(
        [leg_json(CHF_ACCOUNT, -100, description="Exchanged to EUR"),
         leg_json(EUR_ACCOUNT, 106.38, currency="EUR", description="Exchanged from CHF Main")],
        type="exchange", transaction_id="640dc0b7-1234-aaaa-1234-92ac4de1dacd",
    )  # fmt: skip

    upsert(connection, data)
    upsert(connection, data)

    rows = list(BankTransaction.objects.order_by("amount").values_list("provider_id", "account", "amount",
                                                                        "currency", "match_status"))  # fmt: skip
    assert rows == [
        ("640dc0b7-1234-aaaa-1234-92ac4de1dacd", chf_account.pk, D("-100.00"), "CHF", "n/a"),
        (f"640dc0b7-1234-aaaa-1234-92ac4de1dacd:{euro.pk}", euro.pk, D("106.38"), "EUR", "n/a"),
    ]
    assert matched == []


def test_an_unknown_account_is_synced_first_and_a_foreign_one_ignored(connection, chf_account, matched, http):
    http.get(f"{BASE}/accounts", json=[account_json(CHF_ACCOUNT, balance=1000),
                                       account_json(EUR_ACCOUNT, name="Euro", currency="EUR", balance=50)])  # fmt: skip
    euro_in = transaction_json([leg_json(EUR_ACCOUNT, 50, currency="EUR")], state="pending")
    foreign = transaction_json([leg_json("someone-elses-account", 75)])

    upsert(connection, euro_in)
    upsert(connection, foreign)

    row = BankTransaction.objects.get()
    assert (row.account.provider_account_id, row.account.currency, row.company) == (
        EUR_ACCOUNT, "EUR", connection.company,
    )  # fmt: skip
    assert [call.request.url for call in http.calls] == [f"{BASE}/accounts", f"{BASE}/accounts"]


def test_an_account_of_another_connection_is_not_ours(connection, chf_account, company_b, matched, http):
    other = revolut_connection(company_b)
    BankAccountFactory(company=company_b, connection=other, provider_account_id="acc-of-b")
    http.get(f"{BASE}/accounts", json=[account_json(CHF_ACCOUNT)])

    assert upsert(connection, transaction_json([leg_json("acc-of-b", 75)])) == []
    assert BankTransaction.objects.count() == 0


# --- Fallback sync --------------------------------------------------------------------------------


def test_the_first_sync_reads_thirty_days_and_sets_the_cursor(connection, chf_account, matched, http):
    newest = incoming_json(300, created_at=NOW - dt.timedelta(hours=2))
    oldest = transaction_json([leg_json(CHF_ACCOUNT, -40)], created_at=NOW - dt.timedelta(days=3))
    http.get(f"{BASE}/transactions", json=[newest, oldest])

    count = revolut_service.transactions_sync(connection, now=NOW)

    assert count == 2
    assert query_of(http.calls[0]) == {
        "from": "2026-10-21T10:00:00.000000Z", "to": "2026-11-20T10:00:00.000000Z", "count": "1000",
    }  # fmt: skip
    assert sorted(BankTransaction.objects.values_list("provider_id", flat=True)) == sorted([newest["id"], oldest["id"]])
    assert SyncCursor.objects.get(connection=connection, name="transactions_since").value == NOW.isoformat()


def test_the_next_sync_reads_from_the_cursor_with_an_hour_of_overlap(connection, chf_account, matched, http):
    SyncCursor.objects.create(connection=connection, name="transactions_since", value=NOW.isoformat())
    http.get(f"{BASE}/transactions", json=[])
    later = NOW + dt.timedelta(minutes=1)

    assert revolut_service.transactions_sync(connection, now=later) == 0

    assert query_of(http.calls[0]) == {
        "from": "2026-11-20T09:00:00.000000Z", "to": "2026-11-20T10:01:00.000000Z", "count": "1000",
    }  # fmt: skip
    assert SyncCursor.objects.get(connection=connection).value == later.isoformat()


def test_the_sync_reads_back_to_the_oldest_transaction_still_open(connection, chf_account, matched, http):
    SyncCursor.objects.create(connection=connection, name="transactions_since", value=NOW.isoformat())
    open_since = NOW - dt.timedelta(days=2, hours=3)
    pending = incoming_json(80, state="pending", created_at=open_since)
    upsert(connection, pending)
    completed = {**pending, "state": "completed", "updated_at": iso(NOW), "completed_at": iso(NOW)}
    http.get(f"{BASE}/transactions", json=[completed])

    revolut_service.transactions_sync(connection, now=NOW + dt.timedelta(minutes=1))

    assert query_of(http.calls[0])["from"] == "2026-11-18T07:00:00.000000Z"
    assert BankTransaction.objects.get().state == "completed"


def test_revolut_sync_reads_accounts_rates_and_transactions(connection, matched, http):
    euro = account_json(EUR_ACCOUNT, name="Euro", currency="EUR", balance=10)
    http.get(f"{BASE}/accounts", json=[account_json(CHF_ACCOUNT), euro])
    http.get(f"{BASE}/rate", json={"from": {"amount": 1, "currency": "EUR"}, "to": {"amount": 0.94, "currency": "CHF"},
                                   "rate": 0.94, "fee": {"amount": 0, "currency": "EUR"},
                                   "rate_date": "2026-11-20T10:00:00Z"})  # fmt: skip
    http.get(f"{BASE}/transactions", json=[incoming_json(10, account_id=EUR_ACCOUNT, currency="EUR")])

    revolut_service.revolut_sync(connection)

    assert [urlsplit(call.request.url).path for call in http.calls] == [
        "/api/1.0/accounts", "/api/1.0/rate", "/api/1.0/transactions",
    ]  # fmt: skip
    assert (BankAccount.objects.count(), FxRate.objects.get().rate, BankTransaction.objects.get().currency) == (
        2, D("0.94000000"), "EUR",
    )  # fmt: skip


# --- Webhook events -------------------------------------------------------------------------------


def test_transaction_created_is_stored_without_calling_revolut(connection, chf_account, matched, http):
    data = incoming_json(420, state="pending")

    revolut_service.revolut_event_process(connection=connection, payload={
        "event": "TransactionCreated", "timestamp": iso(NOW), "data": data,
    })  # fmt: skip

    row = BankTransaction.objects.get()
    assert (row.provider_id, row.state, row.amount) == (data["id"], "pending", D("420.00"))
    assert len(http.calls) == 0


def test_transaction_state_changed_reads_the_transaction_back(connection, chf_account, matched, http):
    data = incoming_json(420, state="pending", created_at=NOW - dt.timedelta(minutes=5))
    upsert(connection, data)
    completed = {**data, "state": "completed", "updated_at": iso(NOW), "completed_at": iso(NOW)}
    http.get(f"{BASE}/transaction/{data['id']}", json=completed)

    revolut_service.revolut_event_process(connection=connection, payload={
        "event": "TransactionStateChanged", "timestamp": iso(NOW),
        "data": {"id": data["id"], "old_state": "pending", "new_state": "completed"},
    })  # fmt: skip

    row = BankTransaction.objects.get()
    assert (row.state, row.completed_at, row.match_status) == ("completed", NOW, "unmatched")
    assert matched == [row]
    assert json.loads(json.dumps(row.raw)) == completed


def test_other_events_are_ignored(connection, chf_account, matched, http):
    revolut_service.revolut_event_process(
        connection=connection, payload={"event": "PayoutLinkCreated", "data": {"id": "x"}}
    )

    assert (BankTransaction.objects.count(), len(http.calls)) == (0, 0)
