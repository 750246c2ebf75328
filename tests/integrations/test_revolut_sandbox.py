import hashlib
import hmac
import json
import re
import time
import uuid
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import responses
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import CommandError, call_command
from django.urls import reverse
from schwifty import IBAN

from integrations.health import redis_client
from sandbox import revolut, tasks
from tests.factories import UserFactory
from tests.integrations.conftest import run_all, take_all

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued")]

REDIRECT_URI = "https://hub.example/integrations/revolut/oauth/callback/"
HUB_WEBHOOK_URL = "https://hub.example/webhooks/revolut/QA/"
SUPPLIER_IBAN = "CH5604835012345678009"
UNAUTHORIZED = {"message": "The request should be authorized.", "code": 1000}


def decoded(response) -> object:
    # Decimal for floats: amounts are compared to the centime, never through a float.
    return json.loads(response.content, parse_float=Decimal)


@pytest.fixture(scope="module")
def private_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def client_id():
    return f"sandbox-test-{uuid.uuid4()}"


@pytest.fixture
def make_assertion(private_key):
    def make(client_id: str, *, algorithm="RS256", key=None, **claims) -> str:
        payload = {"iss": "hub.example", "sub": client_id, "aud": "https://revolut.com", "exp": int(time.time()) + 60}
        return jwt.encode(payload | claims, key or private_key, algorithm=algorithm)

    return make


def consent(client, client_id: str, *, state: str = "csrf-state-1") -> str:
    """Authorise on the consent page and return the code the redirect carries."""
    params = {"client_id": client_id, "redirect_uri": REDIRECT_URI, "response_type": "code", "state": state}
    response = client.post(reverse("sandbox:revolut-app-confirm"), params)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return query["code"][0]


def exchange(client, form: dict):
    return client.post(reverse("sandbox:revolut-token"), form)


@pytest.fixture
def tokens(client, client_id, make_assertion) -> dict:
    code = consent(client, client_id)
    response = exchange(
        client,
        {
            "grant_type": "authorization_code", "code": code, "client_assertion": make_assertion(client_id),
            "client_assertion_type": revolut.CLIENT_ASSERTION_TYPE,
        },
    )  # fmt: skip
    assert response.status_code == 200
    return response.json()


class Api:
    """The sandbox API as a client holding an access token sees it."""

    def __init__(self, client, access_token: str):
        self.client, self.auth = client, {"HTTP_AUTHORIZATION": f"Bearer {access_token}"}

    def get(self, name: str, params=None, **url_kwargs):
        return self.client.get(reverse(f"sandbox:{name}", kwargs=url_kwargs), params or {}, **self.auth)

    def post(self, name: str, body=None, **url_kwargs):
        return self.client.post(
            reverse(f"sandbox:{name}", kwargs=url_kwargs), json.dumps(body or {}), "application/json", **self.auth
        )

    def delete(self, name: str, **url_kwargs):
        return self.client.delete(reverse(f"sandbox:{name}", kwargs=url_kwargs), **self.auth)


@pytest.fixture
def api(client, tokens) -> Api:
    return Api(client, tokens["access_token"])


def account(api: Api, currency: str) -> dict:
    return next(a for a in decoded(api.get("revolut-accounts")) if a["currency"] == currency)


def add_counterparty(api: Api, iban: str = SUPPLIER_IBAN, name: str = "Edelweiss Handel GmbH") -> dict:
    response = api.post(
        "revolut-counterparty-create", {"company_name": name, "bank_country": "CH", "currency": "CHF", "iban": iban}
    )
    assert response.status_code == 200
    return response.json()


def pay(api: Api, counterparty: dict, amount: str, *, request_id: str = "payout-1", currency: str = "CHF"):
    body = {
        "request_id": request_id, "account_id": account(api, currency)["id"],
        "receiver": {"counterparty_id": counterparty["id"], "account_id": counterparty["accounts"][0]["id"]},
        "amount": float(amount), "currency": currency, "reference": "Facture F-2026-0042",
    }  # fmt: skip
    return api.client.post(reverse("sandbox:revolut-pay"), json.dumps(body), "application/json", **api.auth)


def iban_ending_in(digits: str) -> str:
    return str(IBAN.generate("CH", bank_code="00762", account_code=f"01162385{digits}"))


# OAuth


def test_consent_page_shows_the_client_and_an_authorise_button(client, client_id):
    params = {"client_id": client_id, "redirect_uri": REDIRECT_URI, "response_type": "code", "state": "s1"}

    response = client.get(reverse("sandbox:revolut-app-confirm"), params)

    assert response.status_code == 200
    page = response.content.decode()
    assert client_id in page
    assert '<button type="submit"' in page
    assert f'name="redirect_uri" value="{REDIRECT_URI}"' in page


def test_consent_page_refuses_a_request_without_response_type_code(client, client_id):
    params = {"client_id": client_id, "redirect_uri": REDIRECT_URI, "response_type": "token"}

    response = client.get(reverse("sandbox:revolut-app-confirm"), params)

    assert response.status_code == 400
    assert "response_type" in response.content.decode()


def test_first_consent_creates_the_business_with_its_seed_accounts_and_a_two_minute_code(client, client_id):
    code = consent(client, client_id)

    assert code.startswith("oa_sand_")
    assert 118 <= redis_client().ttl(f"hv:sandbox:revolut:code:{code}") <= 120
    assert client_id in revolut.client_ids()
    stored = revolut.get_business(client_id)
    assert [(a["name"], a["currency"], a["balance"], a["state"]) for a in stored["accounts"]] == [
        ("Main CHF", "CHF", "250000.00", "active"),
        ("EUR", "EUR", "40000.00", "active"),
    ]


def test_code_exchange_answers_the_documented_token_response_and_the_token_reads_accounts(client, tokens):
    assert set(tokens) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 2399
    assert tokens["access_token"].startswith("oa_sand_")
    assert tokens["refresh_token"].startswith("oa_sand_")
    assert 2398 <= redis_client().ttl(f"hv:sandbox:revolut:access:{tokens['access_token']}") <= 2400

    response = Api(client, tokens["access_token"]).get("revolut-accounts")

    assert response.status_code == 200
    accounts = decoded(response)
    assert [(a["name"], a["balance"], a["currency"], a["state"], a["public"]) for a in accounts] == [
        ("Main CHF", Decimal(250000), "CHF", "active", False),
        ("EUR", Decimal(40000), "EUR", "active", False),
    ]
    assert all(uuid.UUID(a["id"]) and a["created_at"].endswith("Z") for a in accounts)
    # Amounts are JSON numbers, never strings.
    assert b'"balance":250000' in response.content.replace(b" ", b"")


def test_a_code_is_used_once(client, client_id, make_assertion):
    code = consent(client, client_id)
    form = {
        "grant_type": "authorization_code", "code": code, "client_assertion": make_assertion(client_id),
        "client_assertion_type": revolut.CLIENT_ASSERTION_TYPE,
    }  # fmt: skip
    assert exchange(client, form).status_code == 200

    response = exchange(client, form)

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "The authorization code is invalid or has expired",
    }


@pytest.mark.parametrize(
    ("assertion_kwargs", "description"),
    [
        ({"algorithm": "HS256", "key": "a-shared-secret-of-at-least-32-bytes!"}, "must be signed with RS256"),
        ({"aud": "https://example.com"}, "audience must be https://revolut.com"),
        ({"sub": "another-client"}, "subject is not the client id"),
        ({"iss": ""}, "has no issuer"),
        ({"exp": int(time.time()) - 10}, "The Token has expired on "),
    ],
)
def test_token_request_with_a_faulty_client_assertion_is_refused(
    client, client_id, make_assertion, assertion_kwargs, description
):
    code = consent(client, client_id)
    form = {
        "grant_type": "authorization_code", "code": code, "client_assertion_type": revolut.CLIENT_ASSERTION_TYPE,
        "client_assertion": make_assertion(client_id, **assertion_kwargs),
    }  # fmt: skip

    response = exchange(client, form)

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_request"
    assert description in body["error_description"]
    # A refused assertion does not burn the code.
    assert exchange(client, form | {"client_assertion": make_assertion(client_id)}).status_code == 200


def test_token_request_needs_the_jwt_bearer_assertion_type(client, client_id, make_assertion):
    form = {
        "grant_type": "authorization_code", "code": consent(client, client_id),
        "client_assertion": make_assertion(client_id), "client_assertion_type": "password",
    }  # fmt: skip

    response = exchange(client, form)

    assert response.status_code == 400
    assert response.json()["error_description"] == f"client_assertion_type must be {revolut.CLIENT_ASSERTION_TYPE}"


def test_refresh_gives_a_new_access_token_without_refresh_token_and_ends_the_previous_one(
    client, client_id, tokens, make_assertion
):
    response = exchange(
        client,
        {
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
            "client_assertion": make_assertion(client_id), "client_assertion_type": revolut.CLIENT_ASSERTION_TYPE,
        },
    )  # fmt: skip

    assert response.status_code == 200
    refreshed = response.json()
    assert set(refreshed) == {"access_token", "token_type", "expires_in"}
    assert (refreshed["token_type"], refreshed["expires_in"]) == ("bearer", 2399)
    assert refreshed["access_token"] != tokens["access_token"]
    old = Api(client, tokens["access_token"]).get("revolut-accounts")
    assert (old.status_code, old.json()) == (401, UNAUTHORIZED)
    assert Api(client, refreshed["access_token"]).get("revolut-accounts").status_code == 200


def test_api_without_a_valid_bearer_token_answers_401(client):
    missing = client.get(reverse("sandbox:revolut-accounts"))
    unknown = Api(client, "oa_sand_unknown").get("revolut-accounts")

    assert (missing.status_code, missing.json()) == (401, UNAUTHORIZED)
    assert (unknown.status_code, unknown.json()) == (401, UNAUTHORIZED)


def test_an_access_token_expires_after_2400_seconds(client, tokens):
    # Redis expires the key: removing it is what the 2400th second does.
    redis_client().delete(f"hv:sandbox:revolut:access:{tokens['access_token']}")

    response = Api(client, tokens["access_token"]).get("revolut-accounts")

    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


# Counterparties


def test_counterparty_is_created_in_the_documented_shape_and_found_by_iban(api):
    response = api.post(
        "revolut-counterparty-create",
        {
            "company_name": "Edelweiss Handel GmbH", "bank_country": "CH", "currency": "CHF",
            "iban": "CH56 0483 5012 3456 7800 9", "bic": "CRESCHZZ80A",
            "address": {"street_line1": "Bahnhofstrasse 4a/8", "city": "Zurich", "country": "CH", "postcode": "8001"},
        },
    )  # fmt: skip

    assert response.status_code == 200
    created = response.json()
    assert set(created) == {"id", "name", "profile_type", "state", "created_at", "updated_at", "accounts"}
    assert created["name"] == "Edelweiss Handel GmbH"
    assert (created["profile_type"], created["state"]) == ("business", "created")
    [bank_account] = created["accounts"]
    assert bank_account == {
        "id": bank_account["id"], "name": "Edelweiss Handel GmbH", "bank_country": "CH", "currency": "CHF",
        "type": "external", "iban": SUPPLIER_IBAN, "bic": "CRESCHZZ80A",
        "address": {"street_line1": "Bahnhofstrasse 4a/8", "city": "Zurich", "country": "CH", "postcode": "8001"},
    }  # fmt: skip
    assert api.get("revolut-counterparties", {"iban": SUPPLIER_IBAN}).json() == [created]
    assert api.get("revolut-counterparties", {"iban": iban_ending_in("0000")}).json() == []
    assert api.get("revolut-counterparty", counterparty_id=created["id"]).json() == created


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"iban": "CH5604835012345678000"}, "CH5604835012345678000 is not a valid IBAN"),
        ({"company_name": "12"}, "company_name must contain at least 2 letters"),
        ({"company_name": None}, "Required 'company_name' or 'individual_name' is missing"),
        ({"bank_country": "Switzerland"}, "'Switzerland' is not a valid bank_country"),
        ({"currency": ""}, "Required 'currency' is missing"),
    ],
)
def test_counterparty_with_a_faulty_field_is_refused(api, change, message):
    body = {"company_name": "Edelweiss Handel GmbH", "bank_country": "CH", "currency": "CHF", "iban": SUPPLIER_IBAN}

    response = api.post("revolut-counterparty-create", body | change)

    assert (response.status_code, response.json()) == (400, {"message": message, "code": 3000})


def test_the_same_iban_cannot_be_added_twice(api):
    first = add_counterparty(api)

    response = api.post(
        "revolut-counterparty-create",
        {"company_name": "Edelweiss", "bank_country": "CH", "currency": "CHF", "iban": SUPPLIER_IBAN},
    )

    assert response.status_code == 422
    assert response.json() == {
        "message": "This counterparty already exists",
        "code": 3012,
        "params": {"counterparty_id": first["id"]},
    }


# Payments


def test_pay_answers_pending_debits_at_once_and_settles_to_completed(api, client_id, enqueued):
    counterparty = add_counterparty(api)

    response = pay(api, counterparty, "1234.55")

    assert response.status_code == 200
    payment = response.json()
    assert set(payment) == {"id", "state", "created_at"}
    assert payment["state"] == "pending"
    assert account(api, "CHF")["balance"] == Decimal("248765.45")
    [settle] = [sent for sent in enqueued if sent.task.name == tasks.settle_revolut_transaction.name]
    assert settle.args == (client_id, payment["id"])
    assert settle.options == {"countdown": revolut.SETTLE_SECONDS}

    run_all(enqueued, tasks.settle_revolut_transaction.name)

    transaction = decoded(api.get("revolut-transaction", transaction_id=payment["id"]))
    assert transaction["state"] == "completed"
    assert transaction["completed_at"] >= transaction["created_at"]
    assert {key: transaction[key] for key in ("id", "type", "request_id", "reference")} == {
        "id": payment["id"], "type": "transfer", "request_id": "payout-1", "reference": "Facture F-2026-0042"
    }  # fmt: skip
    assert transaction["legs"] == [
        {
            "leg_id": transaction["legs"][0]["leg_id"], "account_id": account(api, "CHF")["id"],
            "counterparty": {
                "id": counterparty["id"], "account_type": "external", "account_id": counterparty["accounts"][0]["id"],
            },
            "amount": Decimal("-1234.55"), "currency": "CHF", "description": "To Edelweiss Handel GmbH",
            "balance": Decimal("248765.45"),
        }
    ]  # fmt: skip
    assert account(api, "CHF")["balance"] == Decimal("248765.45")
    assert account(api, "EUR")["balance"] == Decimal("40000.00")


def test_the_same_request_id_pays_once(api, enqueued):
    counterparty = add_counterparty(api)

    first = pay(api, counterparty, "500.00", request_id="payout-7").json()
    second = pay(api, counterparty, "500.00", request_id="payout-7").json()

    assert second == first
    assert [t["id"] for t in decoded(api.get("revolut-transactions"))] == [first["id"]]
    assert account(api, "CHF")["balance"] == Decimal("249500.00")
    assert len([sent for sent in enqueued if sent.task.name == tasks.settle_revolut_transaction.name]) == 1


def test_a_payment_above_the_balance_is_recorded_declined(api, enqueued):
    counterparty = add_counterparty(api)

    payment = pay(api, counterparty, "250000.01").json()

    assert payment["state"] == "declined"
    transaction = api.get("revolut-transaction", transaction_id=payment["id"]).json()
    assert (transaction["state"], transaction["reason_code"]) == ("declined", "insufficient_balance")
    assert account(api, "CHF")["balance"] == Decimal("250000.00")
    assert not [sent for sent in enqueued if sent.task.name == tasks.settle_revolut_transaction.name]


@pytest.mark.parametrize(
    ("digits", "settled", "reason_code"), [("0000", "reverted", None), ("0001", "failed", "failed_by_sandbox")]
)
def test_a_payment_to_a_magic_iban_settles_bounced_and_refunds(api, enqueued, digits, settled, reason_code):
    counterparty = add_counterparty(api, iban=iban_ending_in(digits))
    payment = pay(api, counterparty, "99.95").json()
    assert account(api, "CHF")["balance"] == Decimal("249900.05")

    run_all(enqueued, tasks.settle_revolut_transaction.name)

    transaction = api.get("revolut-transaction", transaction_id=payment["id"]).json()
    assert (transaction["state"], transaction.get("reason_code")) == (settled, reason_code)
    assert "completed_at" not in transaction
    assert account(api, "CHF")["balance"] == Decimal("250000.00")


@pytest.mark.parametrize(
    ("change", "status", "body"),
    [
        ({"request_id": "r" * 41}, 400, {"message": "request_id must be at most 40 characters", "code": 3000}),
        ({"request_id": ""}, 400, {"message": "Required 'request_id' is missing", "code": 3000}),
        ({"amount": 0}, 400, {"message": "amount must be positive", "code": 3000}),
        ({"amount": "10"}, 400, {"message": "Required 'amount' is missing or not a number", "code": 3000}),
        ({"amount": Decimal("1.005")}, 400, {"message": "amount must have at most 2 decimals", "code": 3000}),
        ({"receiver": {}}, 400, {"message": "Required 'receiver.counterparty_id' is missing", "code": 3000}),
        ({"receiver": {"counterparty_id": "nope"}}, 404, {"message": "Counterparty nope not found", "code": 3006}),
        ({"account_id": "nope"}, 404, {"message": "Account nope not found", "code": 3006}),
    ],
)
def test_pay_refuses_a_faulty_request(api, change, status, body):
    counterparty = add_counterparty(api)
    request = {
        "request_id": "payout-1", "account_id": account(api, "CHF")["id"],
        "receiver": {"counterparty_id": counterparty["id"]}, "amount": 10, "currency": "CHF",
    }  # fmt: skip

    response = api.client.post(
        reverse("sandbox:revolut-pay"), json.dumps(request | change, default=float), "application/json", **api.auth
    )

    assert (response.status_code, response.json()) == (status, body)
    assert decoded(api.get("revolut-transactions")) == []


def test_pay_refuses_a_currency_other_than_the_account_currency(api):
    counterparty = add_counterparty(api)
    body = {
        "request_id": "payout-1", "account_id": account(api, "CHF")["id"],
        "receiver": {"counterparty_id": counterparty["id"]}, "amount": 10, "currency": "EUR",
    }  # fmt: skip

    response = api.client.post(reverse("sandbox:revolut-pay"), json.dumps(body), "application/json", **api.auth)

    assert response.status_code == 400
    assert response.json()["message"] == f"The currency EUR is not the currency of account {body['account_id']}"


def test_pay_waits_the_test_delay_after_recording_the_payment(api):
    counterparty = add_counterparty(api)
    redis_client().set(revolut.PAY_DELAY_KEY, "0.3")
    started = time.monotonic()

    response = pay(api, counterparty, "10.00")

    assert time.monotonic() - started >= 0.3
    assert response.json()["state"] == "pending"


# Transactions


def test_sandbox_actions_drive_the_state_and_the_balance(api, enqueued):
    counterparty = add_counterparty(api)
    declined = pay(api, counterparty, "100.00", request_id="payout-a").json()
    completed = pay(api, counterparty, "200.00", request_id="payout-b").json()
    assert account(api, "CHF")["balance"] == Decimal("249700.00")

    decline = api.post("revolut-sandbox-transaction-action", transaction_id=declined["id"], action="decline")
    complete = api.post("revolut-sandbox-transaction-action", transaction_id=completed["id"], action="complete")

    assert decline.json() == {"id": declined["id"], "state": "declined", "created_at": declined["created_at"]}
    assert complete.json()["state"] == "completed"
    assert set(complete.json()) == {"id", "state", "created_at", "completed_at"}
    assert account(api, "CHF")["balance"] == Decimal("249800.00")
    again = api.post("revolut-sandbox-transaction-action", transaction_id=declined["id"], action="complete")
    assert (again.status_code, again.json()) == (
        400,
        {"message": "A declined transaction cannot be changed with 'complete'", "code": 3000},
    )

    revert = api.post("revolut-sandbox-transaction-action", transaction_id=completed["id"], action="revert")

    assert revert.json()["state"] == "reverted"
    assert account(api, "CHF")["balance"] == Decimal("250000.00")
    # The settle task finds both moved by hand and leaves them.
    run_all(enqueued, tasks.settle_revolut_transaction.name)
    states = {t["id"]: t["state"] for t in api.get("revolut-transactions").json()}
    assert states == {declined["id"]: "declined", completed["id"]: "reverted"}


def test_sandbox_action_on_an_unknown_transaction_or_action(api):
    unknown = api.post("revolut-sandbox-transaction-action", transaction_id=str(uuid.uuid4()), action="complete")
    payment = pay(api, add_counterparty(api), "1.00").json()
    bad_action = api.post("revolut-sandbox-transaction-action", transaction_id=payment["id"], action="explode")

    assert (unknown.status_code, unknown.json()) == (404, {"message": "Transaction not found", "code": 3006})
    assert bad_action.status_code == 400
    assert bad_action.json()["message"] == "Unknown action 'explode': use one of complete, decline, fail, revert"


def test_transactions_are_listed_newest_first_with_from_to_count_and_account(api):
    counterparty = add_counterparty(api)
    ids = [pay(api, counterparty, "10.00", request_id=f"payout-{n}").json()["id"] for n in range(3)]
    listed = api.get("revolut-transactions").json()
    newest = listed[0]

    assert [t["id"] for t in listed] == ids[::-1]
    assert [t["id"] for t in api.get("revolut-transactions", {"count": 2}).json()] == ids[:0:-1]
    # `to` is exclusive.
    assert [t["id"] for t in api.get("revolut-transactions", {"to": newest["created_at"]}).json()] == ids[1::-1]
    assert [t["id"] for t in api.get("revolut-transactions", {"from": newest["created_at"]}).json()] == [ids[2]]
    assert api.get("revolut-transactions", {"account": account(api, "EUR")["id"]}).json() == []
    assert len(api.get("revolut-transactions", {"account": account(api, "CHF")["id"]}).json()) == 3
    assert [t["id"] for t in api.get("revolut-transactions", {"request_id": "payout-1"}).json()] == [ids[1]]
    by_request_id = api.get("revolut-transaction", {"id_type": "request_id"}, transaction_id="payout-0")
    assert by_request_id.json()["id"] == ids[0]
    bad_count = api.get("revolut-transactions", {"count": 1001})
    assert bad_count.status_code == 400
    assert bad_count.json() == {"message": "count must be between 1 and 1000", "code": 2101}


def test_rate_is_the_documented_fixed_rate(api):
    response = api.get("revolut-rate", {"from": "EUR", "to": "CHF", "amount": "1000"})

    body = decoded(response)
    assert body["rate_date"].endswith("Z")
    del body["rate_date"]
    assert body == {
        "from": {"amount": Decimal(1000), "currency": "EUR"},
        "to": {"amount": Decimal("937.20"), "currency": "CHF"},
        "rate": Decimal("0.9372"),
        "fee": {"amount": Decimal(0), "currency": "EUR"},
    }
    unknown = api.get("revolut-rate", {"from": "EUR", "to": "JPY"})
    assert (unknown.status_code, unknown.json()) == (404, {"message": "Exchange rate unknown", "code": 3472})


# Webhooks


def test_webhooks_are_registered_listed_limited_to_ten_and_deleted(api):
    created = api.post("revolut-webhooks", {"url": HUB_WEBHOOK_URL})

    assert created.status_code == 201
    webhook = created.json()
    assert set(webhook) == {"id", "url", "events", "signing_secret"}
    assert (webhook["url"], webhook["events"]) == (HUB_WEBHOOK_URL, ["TransactionCreated", "TransactionStateChanged"])
    assert re.fullmatch(r"wsk_[A-Za-z0-9]{32}", webhook["signing_secret"])
    listed = {"id": webhook["id"], "url": HUB_WEBHOOK_URL, "events": webhook["events"]}
    assert api.get("revolut-webhooks").json() == [listed]
    assert api.get("revolut-webhook", webhook_id=webhook["id"]).json() == webhook

    for n in range(9):
        more = api.post("revolut-webhooks", {"url": f"{HUB_WEBHOOK_URL}{n}/", "events": ["TransactionCreated"]})
        assert more.status_code == 201
    eleventh = api.post("revolut-webhooks", {"url": HUB_WEBHOOK_URL})
    assert eleventh.status_code == 422
    assert eleventh.json()["code"] == 3352

    assert api.delete("revolut-webhook", webhook_id=webhook["id"]).status_code == 204
    gone = api.delete("revolut-webhook", webhook_id=webhook["id"])
    assert (gone.status_code, gone.json()) == (404, {"message": "Webhook not found", "code": 3040})
    assert len(api.get("revolut-webhooks").json()) == 9


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Required 'url' is missing"),
        ({"url": "ftp://hub.example/"}, "ftp://hub.example/ is not a valid webhook URL"),
        ({"url": HUB_WEBHOOK_URL, "events": ["PaymentMade"]}, "events must be a list of TransactionCreated, "
         "TransactionStateChanged, PayoutLinkCreated, PayoutLinkStateChanged"),
    ],
)  # fmt: skip
def test_webhook_registration_refuses_faulty_requests(api, body, message):
    response = api.post("revolut-webhooks", body)

    assert (response.status_code, response.json()) == (400, {"message": message, "code": 3000})


def signature_of(raw_body: bytes, timestamp: str, secret: str) -> str:
    return "v1=" + hmac.new(secret.encode(), f"v1.{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()


def assert_signed(call: responses.Call, secret: str) -> None:
    timestamp = call.request.headers["Revolut-Request-Timestamp"]
    assert re.fullmatch(r"\d{13}", timestamp)
    assert abs(int(timestamp) - time.time() * 1000) < 60_000
    assert call.request.headers["Revolut-Signature"] == signature_of(call.request.body, timestamp, secret)
    assert call.request.headers["Content-Type"] == "application/json"


@responses.activate
def test_transaction_webhooks_are_posted_compact_and_signed_like_revolut(api, enqueued):
    secret = api.post("revolut-webhooks", {"url": HUB_WEBHOOK_URL}).json()["signing_secret"]
    responses.post(HUB_WEBHOOK_URL, status=204)
    counterparty = add_counterparty(api)
    payment = pay(api, counterparty, "1234.50").json()
    created = api.get("revolut-transaction", transaction_id=payment["id"]).json()

    assert len(run_all(enqueued, tasks.deliver_revolut_webhook.name)) == 1
    run_all(enqueued, tasks.settle_revolut_transaction.name)
    assert len(run_all(enqueued, tasks.deliver_revolut_webhook.name)) == 1

    created_call, changed_call = responses.calls
    for call in responses.calls:
        assert_signed(call, secret)
    created_event = json.loads(created_call.request.body)
    assert list(created_event) == ["event", "timestamp", "data"]
    assert created_event["event"] == "TransactionCreated"
    assert created_event["data"] == created
    assert b'"amount":-1234.5,' in created_call.request.body
    # Compact: the exact bytes a compact serialisation of the same document gives.
    compact = json.dumps(created_event, separators=(",", ":"), ensure_ascii=False).encode()
    assert created_call.request.body == compact
    stamp = json.loads(changed_call.request.body)["timestamp"]
    expected = (
        '{"data":{"id":"' + payment["id"] + '","new_state":"completed","old_state":"pending","request_id":"payout-1"},'
        '"event":"TransactionStateChanged","timestamp":"' + stamp + '"}'
    )
    assert changed_call.request.body == expected.encode()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp)


@responses.activate
def test_webhooks_go_only_to_the_subscribed_events(api, enqueued):
    api.post("revolut-webhooks", {"url": HUB_WEBHOOK_URL, "events": ["TransactionStateChanged"]})
    responses.post(HUB_WEBHOOK_URL, status=200)

    pay(api, add_counterparty(api), "10.00")

    assert not [sent for sent in enqueued if sent.task.name == tasks.deliver_revolut_webhook.name]


@responses.activate
def test_a_failed_delivery_is_retried_three_times_each_freshly_signed(api, client_id):
    webhook = api.post("revolut-webhooks", {"url": HUB_WEBHOOK_URL}).json()
    secret = webhook["signing_secret"]
    responses.post(HUB_WEBHOOK_URL, status=500)
    body = '{"data":{"id":"1","new_state":"completed","old_state":"pending"},"event":"TransactionStateChanged"}'

    # apply() runs the task and its retries here, one after the other, ignoring the countdown.
    result = tasks.deliver_revolut_webhook.apply((client_id, webhook["id"], body))

    assert result.failed()
    assert len(responses.calls) == 1 + tasks.REVOLUT_WEBHOOK_RETRIES
    for call in responses.calls:
        assert call.request.body == body.encode()
        assert_signed(call, secret)


def test_webhook_headers_match_the_documented_test_vector(monkeypatch):
    body = (
        b'{"data":{"id":"645a7696-1234-aa47-1234-cbae0449cc46","new_state":"completed","old_state":"pending",'
        b'"request_id":"app_charges-9f5d5eb3-1234-1234-1234-3914763e0bcb"},"event":"TransactionStateChanged",'
        b'"timestamp":"2023-05-09T16:36:38.028960Z"}'
    )
    # Half a millisecond past the documented time: the header truncates to whole milliseconds.
    monkeypatch.setattr(revolut.time, "time", lambda: 1683650202.3605)

    headers = revolut.webhook_headers(body, "wsk_r59a4HfWVAKycbCaNO1RvgCJec02gRd8")

    assert headers == {
        "Revolut-Request-Timestamp": "1683650202360",
        "Revolut-Signature": "v1=e0081c3c3d4019449671648596e1868a168d337d5ae711282f32eba42e02eeab",
    }


# Incoming transfers


def test_an_injected_transfer_is_pending_then_completes_and_credits_the_account(api, client_id, enqueued):
    api.post("revolut-webhooks", {"url": HUB_WEBHOOK_URL})

    transfer = revolut.inject_incoming_transfer(
        client_id=client_id, currency="CHF", amount=Decimal("1234.50"), reference="RF18 5390 0754 7034",
        payer_name="Alpine Digital SA", payer_iban="CH9300762011623852957",
    )  # fmt: skip

    assert transfer["state"] == "pending"
    assert "request_id" not in transfer
    assert transfer["reference"] == "RF18 5390 0754 7034"
    assert transfer["legs"] == [
        {
            "leg_id": transfer["legs"][0]["leg_id"], "account_id": account(api, "CHF")["id"],
            "counterparty": {"account_type": "external"}, "amount": Decimal("1234.50"), "currency": "CHF",
            "description": "Payment from Alpine Digital SA", "balance": Decimal("250000.00"),
        }
    ]  # fmt: skip
    assert account(api, "CHF")["balance"] == Decimal("250000.00")
    [created] = take_all(enqueued, tasks.deliver_revolut_webhook.name)
    assert json.loads(created.args[2])["event"] == "TransactionCreated"

    run_all(enqueued, tasks.settle_revolut_transaction.name)

    assert account(api, "CHF")["balance"] == Decimal("251234.50")
    settled = decoded(api.get("revolut-transaction", transaction_id=transfer["id"]))
    assert (settled["state"], settled["legs"][0]["balance"]) == ("completed", Decimal("251234.50"))
    [changed] = take_all(enqueued, tasks.deliver_revolut_webhook.name)
    state_change = {"id": transfer["id"], "new_state": "completed", "old_state": "pending"}
    assert json.loads(changed.args[2])["data"] == state_change


def test_an_injected_transfer_left_pending_is_not_settled(api, client_id, enqueued):
    transfer = revolut.inject_incoming_transfer(
        client_id=client_id, currency="EUR", amount=Decimal(80), reference="INV-1", payer_name="Payer", state="pending"
    )

    assert not [sent for sent in enqueued if sent.task.name == tasks.settle_revolut_transaction.name]
    api.post("revolut-sandbox-transaction-action", transaction_id=transfer["id"], action="complete")
    assert account(api, "EUR")["balance"] == Decimal("40080.00")


def test_an_injected_transfer_needs_a_known_business_and_an_account_in_its_currency(api, client_id):
    with pytest.raises(ValueError, match="give consent to it first"):
        revolut.inject_incoming_transfer(
            client_id="nobody", currency="CHF", amount=Decimal(1), reference="x", payer_name="y"
        )
    with pytest.raises(ValueError, match="has no GBP account"):
        revolut.inject_incoming_transfer(
            client_id=client_id, currency="GBP", amount=Decimal(1), reference="x", payer_name="y"
        )


def test_management_command_injects_an_incoming_transfer(api, client_id, enqueued, capsys):
    call_command(
        "sandbox_revolut_incoming", "--client-id", client_id, "--amount", "1234.50", "--currency", "CHF",
        "--reference", "F-2026-0042", "--payer", "Alpine Digital SA",
    )  # fmt: skip

    [transfer] = api.get("revolut-transactions").json()
    assert capsys.readouterr().out.strip() == (
        f"Transaction {transfer['id']}: 1234.50 CHF from Alpine Digital SA, pending → completed in 2 s"
    )
    run_all(enqueued, tasks.settle_revolut_transaction.name)
    assert account(api, "CHF")["balance"] == Decimal("251234.50")
    with pytest.raises(CommandError, match="give consent to it first"):
        call_command(
            "sandbox_revolut_incoming", "--client-id", "nobody", "--amount", "1", "--currency", "CHF",
            "--reference", "x", "--payer", "y",
        )  # fmt: skip


# The sandbox's page


def test_sandbox_page_needs_a_signed_in_user(client):
    response = client.get(reverse("sandbox:revolut-dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_sandbox_page_lists_businesses_and_sends_an_incoming_transfer(client, api, client_id, enqueued):
    client.force_login(UserFactory())
    api.post("revolut-webhooks", {"url": HUB_WEBHOOK_URL})

    page = client.get(reverse("sandbox:revolut-dashboard"))

    assert page.status_code == 200
    html = page.content.decode()
    assert client_id in html
    assert "250000.00" in html
    assert HUB_WEBHOOK_URL in html

    response = client.post(
        reverse("sandbox:revolut-dashboard"),
        {
            "client_id": client_id, "currency": "EUR", "amount": "640.00", "reference": "INV-9",
            "payer_name": "Bleu Blanc Conseil SARL", "payer_iban": "", "state": "completed",
        },
    )  # fmt: skip

    assert response.status_code == 302
    [transfer] = api.get("revolut-transactions").json()
    assert transfer["legs"][0]["description"] == "Payment from Bleu Blanc Conseil SARL"
    assert transfer["reference"] == "INV-9"
    run_all(enqueued, tasks.settle_revolut_transaction.name)
    assert "40640.00" in client.get(reverse("sandbox:revolut-dashboard")).content.decode()
