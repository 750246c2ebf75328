"""OpenAI: the SDK client through an injected httpx2 transport, the lead qualification run, and the sandbox."""

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import httpx2
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from finance.models import AuditEvent, Lead, Role
from finance.services import leads
from integrations import actions, connections
from integrations import openai as openai_connection
from integrations import selectors as integration_selectors
from integrations.clients import openai as openai_client
from integrations.clients.base import AuthorizationError, PermanentProviderError, TransientProviderError
from integrations.health import redis_client
from integrations.models import ActionRun, Connection
from sandbox import openai as sandbox_openai

pytestmark = pytest.mark.django_db

BASE_URL = "https://api.openai.test/v1"
ANSWER = {
    "score": 8,
    "language": "de",
    "summary": "Hôtel prêt à équiper son lobby.",
    "recommended_action": "call_today",
}


def responses_json(text: str, *, model="gpt-4.1-mini-2025-04-14", content_type="output_text") -> dict:
    """A Responses API answer as the real API shapes it (research/api-contracts.md §6.3)."""
    part = ({"type": "output_text", "annotations": [], "text": text} if content_type == "output_text"
            else {"type": "refusal", "refusal": text})  # fmt: skip
    return {
        "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b", "object": "response", "created_at": 1741476542,
        "status": "completed", "error": None, "incomplete_details": None, "model": model,
        "output": [{"type": "message", "id": "msg_67ccd2bf17f0819081ff3bb2cf6508e6", "status": "completed",
                    "role": "assistant", "content": [part]}],
        "parallel_tool_calls": True, "previous_response_id": None, "store": True, "temperature": 1.0, "top_p": 1.0,
        "text": {"format": {"type": "json_schema", "name": "lead_qualification", "strict": True, "schema": {}}},
        "tool_choice": "auto", "tools": [], "truncation": "disabled", "metadata": {},
        "usage": {"input_tokens": 300, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 40,
                  "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 340},
    }  # fmt: skip


class FakeOpenAI:
    """Answers queued by a test, and the requests the SDK sent."""

    def __init__(self) -> None:
        self.answers: list = []
        self.requests: list[httpx2.Request] = []

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def client(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self.handler))


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def fake(monkeypatch) -> FakeOpenAI:
    fake = FakeOpenAI()
    monkeypatch.setattr(openai_connection, "http_client_factory", fake.client)
    return fake


def sdk_client(fake: FakeOpenAI, **kwargs) -> openai_client.OpenAIClient:
    return openai_client.OpenAIClient(api_key="sk-test", base_url=BASE_URL, model="gpt-4.1-mini",
                                      http_client=fake.client(), max_retries=0, **kwargs)  # fmt: skip


# --- The client ------------------------------------------------------------------------------------


def test_structured_output_sends_a_strict_schema_and_decodes_the_answer(fake):
    fake.answers.append(httpx2.Response(200, json=responses_json(json.dumps(ANSWER))))
    outcomes = []
    result = sdk_client(fake, on_outcome=lambda ok, detail: outcomes.append((ok, detail))).structured_output(
        instructions="Qualify.", content=[openai_client.text_part("Budget: CHF 12000.00")],
        schema_name="lead_qualification", schema=leads.QUALIFICATION_SCHEMA,
    )  # fmt: skip
    assert (result.data, result.model) == (ANSWER, "gpt-4.1-mini-2025-04-14")
    assert result.usage == {"input_tokens": 300, "output_tokens": 40}
    assert outcomes == [(True, "POST /responses")]
    request = fake.requests[0]
    assert (request.method, str(request.url)) == ("POST", f"{BASE_URL}/responses")
    assert request.headers["Authorization"] == "Bearer sk-test"
    assert json.loads(request.content) == {
        "model": "gpt-4.1-mini", "instructions": "Qualify.",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "Budget: CHF 12000.00"}]}],
        "text": {"format": {"type": "json_schema", "name": "lead_qualification", "strict": True,
                            "schema": leads.QUALIFICATION_SCHEMA}},
    }  # fmt: skip


def test_images_and_pdfs_are_content_parts():
    assert openai_client.image_part("data:image/png;base64,AA==") == {
        "type": "input_image", "image_url": "data:image/png;base64,AA==", "detail": "high"}  # fmt: skip
    assert openai_client.file_part("invoice.pdf", "data:application/pdf;base64,AA==") == {
        "type": "input_file", "filename": "invoice.pdf", "file_data": "data:application/pdf;base64,AA=="}  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "error_class", "message"),
    [
        (httpx2.Response(500, json={"error": {"message": "The server had an error", "type": "server_error"}}),
         TransientProviderError, "OpenAI: The server had an error (HTTP 500)"),
        (httpx2.Response(429, json={"error": {"message": "Rate limit reached", "type": "requests"}}),
         TransientProviderError, "OpenAI: Rate limit reached (HTTP 429)"),
        (httpx2.ConnectError("refused"), TransientProviderError, "OpenAI: no connection to the API"),
        (httpx2.ReadTimeout("slow"), TransientProviderError, "OpenAI: no answer within the time limit"),
        (httpx2.Response(401, json={"error": {"message": "Incorrect API key provided", "type": "invalid_request"}}),
         AuthorizationError, "OpenAI: Incorrect API key provided (HTTP 401)"),
        (httpx2.Response(400, json={"error": {"message": "Invalid schema", "type": "invalid_request_error"}}),
         PermanentProviderError, "OpenAI: Invalid schema (HTTP 400)"),
        (httpx2.Response(200, json=responses_json("not json")), PermanentProviderError,
         "OpenAI: the answer is not valid JSON: 'not json'"),
        (httpx2.Response(200, json=responses_json("[1]")), PermanentProviderError,
         "OpenAI: the answer is not a JSON object: '[1]'"),
        (httpx2.Response(200, json=responses_json("I cannot help", content_type="refusal")), PermanentProviderError,
         "OpenAI: the model refused: I cannot help"),
    ],
)  # fmt: skip
def test_errors_are_mapped(fake, answer, error_class, message):
    fake.answers.append(answer)
    with pytest.raises(error_class) as caught:
        sdk_client(fake).structured_output(instructions="x", content=[openai_client.text_part("x")],
                                           schema_name="s", schema={"type": "object"})  # fmt: skip
    assert type(caught.value) is error_class
    assert str(caught.value) == message


# --- The qualification run -------------------------------------------------------------------------


@pytest.fixture
def openai_qa(company_a) -> Connection:
    return openai_connection.settings_save(company=company_a, base_url=BASE_URL, api_key="sk-test",
                                           model="gpt-4.1-mini", updated_by=None)  # fmt: skip


@pytest.fixture
def no_retry_wait(monkeypatch):
    """A transient failure is re-enqueued by the run; here it is kept, and the attempts are limited to one."""
    monkeypatch.setattr(actions, "MAX_ATTEMPTS", 1)
    monkeypatch.setattr(actions.execute_action_run, "apply_async", lambda *args, **kwargs: None)


def new_lead(company, django_capture_on_commit_callbacks) -> tuple[Lead, ActionRun | None]:
    data = leads.LeadInput(source="website", first_name="Anna", last_name="Meier", email="anna@example.ch",
                           organisation="Hôtel du Lac SA", budget=Decimal("12000"), project_type="digital_signage",
                           message="Drei Bildschirme")  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False):
        lead, _created = leads.lead_receive(company=company, data=data, actor=None)
    return lead, ActionRun.objects.filter(action="lead.qualify").first()


def test_a_new_lead_is_qualified_when_openai_is_configured(openai_qa, fake, django_capture_on_commit_callbacks):
    lead, run = new_lead(openai_qa.company, django_capture_on_commit_callbacks)
    assert run is not None
    assert run.idempotency_key == f"lead.qualify:{lead.pk}:{leads.PROMPT_VERSION}:1"
    fake.answers.append(httpx2.Response(200, json=responses_json(json.dumps(ANSWER))))
    actions.execute_action_run(run.pk)
    run.refresh_from_db()
    lead.refresh_from_db()
    assert run.status == "succeeded"
    assert (lead.ai_score, lead.ai_language, lead.ai_action, lead.ai_summary) == (
        8, "de", "call_today", "Hôtel prêt à équiper son lobby.")  # fmt: skip
    assert (lead.ai_model, lead.ai_prompt_version) == ("gpt-4.1-mini-2025-04-14", leads.PROMPT_VERSION)
    assert lead.qualified_at is not None
    sent = json.loads(fake.requests[0].content)
    text = sent["input"][0]["content"][0]["text"]
    assert "Budget: CHF 12000.00" in text
    assert "anna@example.ch" not in text
    assert "Meier" not in text
    assert AuditEvent.objects.get(action="lead.ai_qualified").detail == "8/10 · Call today"
    # Run again (a worker resuming it): nothing changes, nothing is logged twice.
    fake.answers.append(httpx2.Response(200, json=responses_json(json.dumps(ANSWER))))
    leads._qualify(run)
    assert AuditEvent.objects.filter(action="lead.ai_qualified").count() == 1


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx2.Response(500, json={"error": {"message": "The server had an error", "type": "server_error"}}),
         "OpenAI: The server had an error (HTTP 500)"),
        (httpx2.ConnectError("refused"), "OpenAI: no connection to the API"),
        (httpx2.Response(200, json=responses_json("{score: 8")), "OpenAI: the answer is not valid JSON: '{score: 8'"),
        (httpx2.Response(200, json=responses_json(json.dumps({**ANSWER, "score": 11}))),
         "OpenAI: the answer does not fit the schema: score 11 is not an integer from 1 to 10"),
    ],
)  # fmt: skip
def test_a_failed_qualification_leaves_the_rule_score(
    openai_qa, fake, no_retry_wait, django_capture_on_commit_callbacks, answer, error
):
    lead, run = new_lead(openai_qa.company, django_capture_on_commit_callbacks)
    # The SDK retries once by itself (MAX_RETRIES) on server and connection errors.
    fake.answers += [answer, answer]
    actions.execute_action_run(run.pk)
    run.refresh_from_db()
    lead.refresh_from_db()
    assert (run.status, run.last_error) == ("failed", error)
    assert (lead.rule_score, lead.ai_score, lead.qualified_at) == (55, None, None)


def test_the_lead_page_shows_the_failed_run_and_retries_it(
    client, openai_qa, fake, no_retry_wait, member_of, django_capture_on_commit_callbacks
):
    lead, run = new_lead(openai_qa.company, django_capture_on_commit_callbacks)
    fake.answers += [httpx2.Response(200, json=responses_json("oops"))]
    actions.execute_action_run(run.pk)
    client.force_login(member_of(openai_qa.company, Role.SALES))
    page = client.get(lead.get_absolute_url(), headers={"Accept-Language": "en"}).content.decode()
    assert "OpenAI: the answer is not valid JSON: &#x27;oops&#x27;" in page
    assert "Qualify with AI" in page
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("finance:lead-qualify-ai", kwargs={"pk": lead.pk}))
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("queued", 0)


def test_unconfigured_ai_is_said_and_refused(client, company_a, member_of, django_capture_on_commit_callbacks):
    lead, run = new_lead(company_a, django_capture_on_commit_callbacks)
    assert run is None
    client.force_login(member_of(company_a, Role.SALES))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = client.post(reverse("finance:lead-qualify-ai", kwargs={"pk": lead.pk}), follow=True)
    assert "AI qualification is not configured for Alpha." in response.content.decode()
    assert ActionRun.objects.count() == 0


def test_the_connection_test_lists_the_models(openai_qa, fake):
    fake.answers.append(httpx2.Response(200, json={"object": "list", "data": [
        {"id": "gpt-4.1-mini", "object": "model", "created": 1, "owned_by": "system"},
        {"id": "gpt-4.1", "object": "model", "created": 1, "owned_by": "system"}]}))  # fmt: skip
    connection = connections.connection_probe(openai_qa)
    assert (connection.last_probe_ok, connection.last_probe_detail) == (
        True, "2 model(s) available, gpt-4.1-mini among them.")  # fmt: skip
    assert fake.requests[0].url.path == "/v1/models"
    assert integration_selectors.connection_status(connection).code == "connected"


def test_a_refused_key_fails_the_connection_test(openai_qa, fake):
    fake.answers += [httpx2.Response(401, json={"error": {"message": "Incorrect API key provided"}})]
    connection = connections.connection_probe(openai_qa)
    assert (connection.last_probe_ok, connection.last_probe_detail) == (False, "Incorrect API key provided")
    assert integration_selectors.connection_status(connection).code == "down"


def test_the_settings_page_saves_the_key_encrypted(client, company_a, member_of):
    client.force_login(member_of(company_a, Role.FINANCE))
    url = reverse("integrations:connection", kwargs={"provider": "openai", "company_code": "QA"})
    client.post(url, {"base_url": BASE_URL, "api_key": "sk-secret-key-123456", "model": "gpt-4.1"})
    connection = Connection.objects.get(company=company_a, provider="openai")
    assert (connection.base_url, connection.config["model"], connection.secret("api_key")) == (
        BASE_URL, "gpt-4.1", "sk-secret-key-123456")  # fmt: skip
    assert "sk-secret-key-123456" not in connection.secrets_encrypted
    assert "sk-secret-key-123456" not in client.get(url).content.decode()


# --- The sandbox, spoken to by the real SDK --------------------------------------------------------


@pytest.fixture
def sandbox():
    for key in redis_client().scan_iter("hv:sandbox:openai:*"):
        redis_client().delete(key)
    sandbox_openai.key_add("sk-sandbox-qa")
    return Client()


def django_transport(django_client: Client) -> httpx2.MockTransport:
    """Requests of the SDK answered by the Django test client (the sandbox's real views and URLs)."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        response = django_client.generic(
            request.method, request.url.path, data=request.content,
            content_type=request.headers.get("content-type", ""),
            HTTP_AUTHORIZATION=request.headers.get("authorization", ""),
        )  # fmt: skip
        return httpx2.Response(response.status_code, content=response.content,
                               headers={"content-type": response["Content-Type"]})  # fmt: skip

    return httpx2.MockTransport(handler)


def sandbox_client(django_client: Client, api_key="sk-sandbox-qa") -> openai_client.OpenAIClient:
    return openai_client.OpenAIClient(
        api_key=api_key, base_url="http://testserver/sandbox/openai/v1", model="gpt-4.1-mini",
        http_client=httpx2.Client(transport=django_transport(django_client)), max_retries=0,
    )  # fmt: skip


def test_the_sandbox_answers_the_sdk_with_json_of_the_schema(sandbox):
    client = sandbox_client(sandbox)
    assert "gpt-4.1-mini" in client.models()
    content = [openai_client.text_part("Budget: CHF 12000.00\nMessage: Drei Bildschirme")]
    first = client.structured_output(instructions="Qualify.", content=content, schema_name="lead_qualification",
                                     schema=leads.QUALIFICATION_SCHEMA)  # fmt: skip
    again = client.structured_output(instructions="Qualify.", content=content, schema_name="lead_qualification",
                                     schema=leads.QUALIFICATION_SCHEMA)  # fmt: skip
    assert first.data == again.data
    assert set(first.data) == {"score", "language", "summary", "recommended_action"}
    assert 1 <= first.data["score"] <= 10
    assert (first.data["language"], first.data["recommended_action"]) == ("fr", "call_today")
    assert first.data["summary"] == "Budget: CHF 12000.00 Message: Drei Bildschirme"
    assert leads.qualification_check(first.data)["score"] == first.data["score"]
    assert first.model == "gpt-4.1-mini"


def test_the_sandbox_checks_the_key_and_plays_scripted_failures(sandbox):
    with pytest.raises(AuthorizationError, match="Incorrect API key provided"):
        sandbox_client(sandbox, api_key="sk-wrong").models()
    sandbox_openai.script_push("sk-sandbox-qa", status=500)
    sandbox_openai.script_push("sk-sandbox-qa", output_text="not json")
    client = sandbox_client(sandbox)
    call = {"instructions": "x", "content": [openai_client.text_part("x")], "schema_name": "s",
            "schema": leads.QUALIFICATION_SCHEMA}  # fmt: skip
    with pytest.raises(TransientProviderError, match="HTTP 500"):
        client.structured_output(**call)
    with pytest.raises(PermanentProviderError, match="not valid JSON"):
        client.structured_output(**call)
    assert client.structured_output(**call).data["recommended_action"] == "call_today"


def test_openai_connect_sandbox_connects_every_company(sandbox, company_a, member_of, monkeypatch):
    member_of(company_a, Role.CEO)
    monkeypatch.setattr(openai_connection, "http_client_factory",
                        lambda: httpx2.Client(transport=django_transport(sandbox)))  # fmt: skip
    out = StringIO()
    call_command("openai_connect_sandbox", stdout=out)
    connection = Connection.objects.get(company=company_a, provider="openai")
    assert (connection.last_probe_ok, connection.base_url) == (True, "http://127.0.0.1:8000/sandbox/openai/v1")
    assert "QA: connected to the OpenAI sandbox (sk-hv-demo-qa)" in out.getvalue()


def test_a_lead_is_qualified_against_the_sandbox(
    sandbox, company_a, member_of, monkeypatch, django_capture_on_commit_callbacks
):
    member_of(company_a, Role.CEO)
    monkeypatch.setattr(openai_connection, "http_client_factory",
                        lambda: httpx2.Client(transport=django_transport(sandbox)))  # fmt: skip
    call_command("openai_connect_sandbox", stdout=StringIO())
    lead, run = new_lead(company_a, django_capture_on_commit_callbacks)
    actions.execute_action_run(run.pk)
    lead.refresh_from_db()
    assert ActionRun.objects.get().status == "succeeded"
    assert (lead.ai_language, lead.ai_action, lead.ai_model) == ("fr", "call_today", "gpt-4.1-mini")
    assert 1 <= lead.ai_score <= 10
    assert lead.qualified_at.date() >= dt.date(2026, 1, 1)
