"""BaseClient: retries and backoff, timeouts, error mapping, the circuit breaker, outcome reports and the log line."""

import logging
from datetime import timedelta
from uuid import uuid4

import pytest
import requests
import responses
from django.conf import settings
from django.utils import timezone, translation

from integrations import resilience
from integrations.clients import base
from integrations.clients.base import AuthorizationError, BaseClient, PermanentProviderError, TransientProviderError

API = "https://api.example.test/v1"
THINGS = f"{API}/things"
BEARER_TOKEN = "tok_secret_bearer_123"


@pytest.fixture(autouse=True)
def _english():
    """The circuit's message is asserted in its source language."""
    with translation.override("en"):
        yield


class ExampleClient(BaseClient):
    provider = "example"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {BEARER_TOKEN}"}


@pytest.fixture
def scope():
    # A circuit of its own per test, so no test sees another's failures.
    return f"test-{uuid4().hex}"


@pytest.fixture
def outcomes():
    return []


@pytest.fixture
def client(scope, outcomes):
    return ExampleClient(API, scope=scope, on_outcome=lambda ok, detail: outcomes.append((ok, detail)))


def open_circuit(client, http):
    http.get(THINGS, status=503)
    for _ in range(resilience.FAILURE_THRESHOLD):
        with pytest.raises(TransientProviderError):
            client.request("GET", "things")
    assert client.breaker.state().state == "open"


@pytest.fixture
def after_the_pause(monkeypatch):
    """Move the clock past the open circuit's pause."""

    def move():
        later = timezone.now() + timedelta(seconds=settings.HV_CIRCUIT_OPEN_SECONDS + 1)
        monkeypatch.setattr(resilience.timezone, "now", lambda: later)

    return move


def test_success_returns_the_decoded_body_and_sends_auth_and_accept_headers(client, http):
    http.get(THINGS, json={"id": 7}, headers={"X-Request-Id": "r1"})

    response = client.request("GET", "things")

    assert (response.status, response.data, response.headers["X-Request-Id"]) == (200, {"id": 7}, "r1")
    sent = http.calls[0].request.headers
    assert (sent["Authorization"], sent["Accept"]) == (f"Bearer {BEARER_TOKEN}", "application/json")


def test_unauthenticated_requests_carry_no_auth_header(client, http):
    http.post(THINGS, json={})

    client.request("POST", "things", data={"a": "1"}, authenticated=False)

    assert "Authorization" not in http.calls[0].request.headers


def test_timeouts_are_passed_as_connect_and_read(client, http):
    http.get(THINGS, json={})

    client.request("GET", "things")

    assert http.calls[0].request.req_kwargs["timeout"] == (5.0, 30.0)


def test_503_on_a_get_is_retried_with_exponential_backoff_then_transient(client, http, waits):
    http.get(THINGS, status=503, json={"message": "down for maintenance"})

    with pytest.raises(TransientProviderError) as raised:
        client.request("GET", "things")

    assert len(http.calls) == base.MAX_ATTEMPTS == 3
    assert waits == [0.5, 1.0]
    assert (raised.value.status, raised.value.message) == (503, "down for maintenance")


def test_a_retry_that_succeeds_returns_the_answer(client, http, waits):
    http.get(THINGS, status=502)
    http.get(THINGS, json={"ok": True})

    assert client.request("GET", "things").data == {"ok": True}
    assert len(http.calls) == 2


def test_retry_after_of_a_429_is_honoured(client, http, waits):
    http.get(THINGS, status=429, headers={"Retry-After": "2"})
    http.get(THINGS, json={})

    client.request("GET", "things")

    assert waits == [2.0]


def test_a_retry_after_longer_than_the_maximum_fails_at_once(client, http, waits):
    http.get(THINGS, status=429, headers={"Retry-After": str(base.MAX_RETRY_AFTER_SECONDS + 50)})

    with pytest.raises(TransientProviderError) as raised:
        client.request("GET", "things")

    assert (raised.value.status, len(http.calls), waits) == (429, 1, [])


def test_a_post_is_not_retried(client, http, waits):
    http.post(THINGS, status=503)

    with pytest.raises(TransientProviderError):
        client.request("POST", "things", json={})

    assert (len(http.calls), waits) == (1, [])


def test_a_post_the_caller_vouches_is_idempotent_is_retried(client, http, waits):
    http.post(THINGS, status=503)

    with pytest.raises(TransientProviderError):
        client.request("POST", "things", json={}, idempotent=True)

    assert len(http.calls) == 3


def test_a_connection_error_is_transient_and_retried(client, http, waits):
    http.get(THINGS, body=requests.ConnectionError("connection refused"))

    with pytest.raises(TransientProviderError) as raised:
        client.request("GET", "things")

    assert len(http.calls) == 3
    assert raised.value.message == "ConnectionError: no answer from api.example.test"
    assert raised.value.status is None


def test_a_read_timeout_is_transient_and_a_post_is_not_resent(client, http, waits):
    http.post(THINGS, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(TransientProviderError, match="ReadTimeout"):
        client.request("POST", "things", json={})

    assert len(http.calls) == 1


def test_a_4xx_is_permanent_with_the_provider_message_and_code_and_not_retried(client, http, waits):
    http.get(THINGS, status=422, json={"message": "amount must be positive", "code": 3001})

    with pytest.raises(PermanentProviderError) as raised:
        client.request("GET", "things")

    assert not isinstance(raised.value, AuthorizationError)
    assert (raised.value.status, raised.value.code, raised.value.message) == (422, 3001, "amount must be positive")
    assert (raised.value.transient, len(http.calls), waits) == (False, 1, [])


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_authorization_errors(client, http, status):
    http.get(THINGS, status=status, json={"message": "The request should be authorized."})

    with pytest.raises(AuthorizationError, match="The request should be authorized."):
        client.request("GET", "things")


def test_a_non_json_error_body_becomes_the_message(client, http):
    http.get(THINGS, status=404, body="no such thing")

    with pytest.raises(PermanentProviderError) as raised:
        client.request("GET", "things")

    assert (raised.value.message, raised.value.code) == ("no such thing", None)


def test_refusals_of_the_request_do_not_count_against_the_circuit(client, http):
    http.get(THINGS, status=400)

    for _ in range(resilience.FAILURE_THRESHOLD + 1):
        with pytest.raises(PermanentProviderError):
            client.request("GET", "things")

    assert client.breaker.state().state == "closed"


def test_the_circuit_opens_after_the_threshold_and_then_fails_fast_without_http(client, http, waits):
    open_circuit(client, http)
    calls_before = len(http.calls)

    with pytest.raises(TransientProviderError, match="calls are paused"):
        client.request("GET", "things")

    assert len(http.calls) == calls_before == resilience.FAILURE_THRESHOLD * base.MAX_ATTEMPTS


def test_the_circuit_is_shared_by_clients_of_the_same_provider_and_scope_only(client, http, waits, scope):
    open_circuit(client, http)
    http.get(f"{API}/other", json={})

    with pytest.raises(TransientProviderError, match="calls are paused"):
        ExampleClient(API, scope=scope).request("GET", "other")
    ExampleClient(API, scope=f"{scope}-elsewhere").request("GET", "other")


def test_half_open_lets_exactly_one_trial_through_and_its_success_closes_the_circuit(
    client, http, waits, scope, after_the_pause
):
    open_circuit(client, http)
    after_the_pause()
    concurrent_errors = []

    def trial_answer(request):
        # While the trial is in flight, any other call still fails fast.
        try:
            ExampleClient(API, scope=scope).request("GET", "things")
        except TransientProviderError as error:
            concurrent_errors.append(error)
        return 200, {}, '{"trial": "ok"}'

    http.add_callback(responses.GET, f"{API}/trial", callback=trial_answer)

    assert client.request("GET", "trial").data == {"trial": "ok"}
    assert [error.status for error in concurrent_errors] == [None]
    assert client.breaker.state().state == "closed"
    assert client.request("GET", "trial").data == {"trial": "ok"}


def test_a_failed_trial_opens_the_circuit_again(client, http, waits, after_the_pause):
    open_circuit(client, http)
    after_the_pause()
    assert client.breaker.state().state == "half_open"

    with pytest.raises(TransientProviderError, match="HTTP 503"):
        client.request("GET", "things")

    assert client.breaker.state().state == "open"


def test_on_outcome_hears_every_result(client, http, waits, outcomes):
    http.get(THINGS, json={})
    http.post(THINGS, status=422, json={"message": "bad amount"})
    http.put(THINGS, status=500)

    client.request("GET", "things")
    with pytest.raises(PermanentProviderError):
        client.request("POST", "things", json={})
    with pytest.raises(TransientProviderError):
        client.request("PUT", "things", json={})

    assert outcomes == [
        (True, "HTTP 200"),
        (False, "example: bad amount (HTTP 422)"),
        (False, "example: Internal Server Error (HTTP 500)"),
    ]


def test_the_log_line_names_the_path_but_carries_no_token_or_query_string(client, http, caplog):
    http.get(THINGS, json={})

    with caplog.at_level(logging.INFO, logger="integrations.http"):
        client.request("GET", "things", params={"access_token": "qs_secret_456", "iban": "CH5604835012345678009"})

    assert len(caplog.records) == 1
    line = caplog.records[0].getMessage()
    assert line.startswith("provider=example method=GET path=/v1/things attempt=1 status=200 outcome=ok ms=")
    assert BEARER_TOKEN not in caplog.text
    assert "qs_secret_456" not in caplog.text
    assert "CH5604835012345678009" not in caplog.text
