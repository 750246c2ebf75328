"""DocuSeal client: every call the Hub makes, checked field by field and against the official OpenAPI spec;
errors, results and the webhook verification (with the test vector of research/api-contracts.md §4.3)."""

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from django.conf import settings
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest
from openapi_core.validation.request.exceptions import InvalidRequestBody, SecurityValidationError

from integrations.clients.base import AuthorizationError, PermanentProviderError, TransientProviderError
from integrations.clients.docuseal import DocuSealClient, PdfDocument, webhook_hmac, webhook_refusal

BASE = "https://api.docuseal.com"
SPEC = Path(settings.BASE_DIR).parent / "shared" / "specs" / "docuseal-openapi.json"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "docuseal"
KEY = "ds-api-key-QA"
PDF = b"%PDF-1.4\n% quote\n"
TERMS = b"%PDF-1.4\n% terms\n"
SUBMITTER = {"role": "First Party", "email": "anna@example.ch", "name": "Anna Muster", "external_id": "quote-QA-1",
             "metadata": {"quote_id": 1}}  # fmt: skip

# research/api-contracts.md §4.3
VECTOR_SECRET = "whsec_4xW3k1b9Zq8mN2pL7vR5tY0uI6oP3aS1"  # noqa: S105 - the contract's test vector
VECTOR_TS = 1715339703
VECTOR_BODY = (
    b'{"event_type":"form.completed","timestamp":"2024-05-10T11:15:03.123Z","data":{"id":101,"email":"anna@example.ch",'
    b'"status":"completed","submission":{"id":55,"status":"completed"}}}'
)
VECTOR_SIGNATURE = "1715339703.eafed9001a9a00d4bcb15963751e4210741b4fcd1019c07c3549710b2891bb77"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def api():
    return DocuSealClient(BASE, scope="QA", api_key=KEY)


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(json.loads(SPEC.read_text()), config=Config(spec_validator_cls=None))


def test_template_get_reads_the_roles(api, http):
    http.get(f"{BASE}/templates/1000001", json=fixture("template"))

    template = api.template_get(1000001)

    assert (template.id, template.name, template.roles) == (1000001, "Offre", ("First Party",))
    assert http.calls[0].request.headers["X-Auth-Token"] == KEY


def test_submission_create_from_pdf_sends_both_documents_base64_with_the_template(api, http):
    http.post(f"{BASE}/submissions/pdf", json=fixture("submission_created"))

    submission = api.submission_create_from_pdf(
        name="2024-0042 · Offre", documents=[PdfDocument("2024-0042", PDF), PdfDocument("CGV 2026-01", TERMS)],
        submitter=SUBMITTER, template_ids=[1000001], message={"subject": "S", "body": "B {{submitter.link}}"},
    )  # fmt: skip

    body = json.loads(http.calls[0].request.body)
    assert body == {
        "name": "2024-0042 · Offre", "send_email": True, "order": "preserved",
        "documents": [{"name": "2024-0042", "file": base64.b64encode(PDF).decode()},
                      {"name": "CGV 2026-01", "file": base64.b64encode(TERMS).decode()}],
        "submitters": [SUBMITTER], "template_ids": [1000001],
        "message": {"subject": "S", "body": "B {{submitter.link}}"},
    }  # fmt: skip
    [submitter] = submission.submitters
    assert (submission.id, submission.status, submitter.id, submitter.slug, submitter.external_id) == (
        55, "pending", 101, "pAMimKcyrLjqVt", "quote-QA-1",
    )  # fmt: skip
    assert submitter.embed_src == "https://docuseal.com/s/pAMimKcyrLjqVt"
    assert submitter.sent_at == datetime(2024, 5, 10, 9, 20, 0, 252000, tzinfo=UTC)


def test_a_lost_creation_is_not_retried_by_the_transport(api, http, waits):
    http.post(f"{BASE}/submissions/pdf", body=requests.ConnectionError("reset"))

    with pytest.raises(TransientProviderError):
        api.submission_create_from_pdf(name="x", documents=[PdfDocument("x", PDF)], submitter=SUBMITTER)

    assert (len(http.calls), waits) == (1, [])


def test_submitter_find_asks_by_external_id_and_keeps_the_oldest(api, http):
    listing = fixture("submitters")
    newer = {**listing["data"][0], "id": 150, "slug": "newer"}
    http.get(f"{BASE}/submitters", json={**listing, "data": [newer, listing["data"][0]]})

    found = api.submitter_find("quote-QA-1")

    assert (found.id, found.submission_id, found.slug) == (101, 55, "pAMimKcyrLjqVt")
    assert http.calls[0].request.url == f"{BASE}/submitters?external_id=quote-QA-1&limit=10"


def test_submitter_find_answers_none_when_docuseal_has_nothing(api, http):
    http.get(f"{BASE}/submitters", json=fixture("submitters_empty"))

    assert api.submitter_find("quote-QA-1") is None


def test_submitter_resend_puts_send_email(api, http):
    http.put(f"{BASE}/submitters/101", json=fixture("submitters")["data"][0])

    assert api.submitter_resend(101).id == 101
    assert json.loads(http.calls[0].request.body) == {"send_email": True}


def test_download_fetches_the_absolute_url_without_the_api_key(api, http):
    http.get("https://docuseal.com/file/hash/audit.pdf", body=PDF, content_type="application/pdf")

    assert api.download("https://docuseal.com/file/hash/audit.pdf") == PDF
    assert "X-Auth-Token" not in http.calls[0].request.headers


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [(403, AuthorizationError, "Not authorized"), (422, PermanentProviderError, "Template not found")],
)
def test_docuseal_errors_become_their_message(api, http, status, error, expected):
    http.get(f"{BASE}/templates/9", json={"error": expected}, status=status)

    with pytest.raises(error) as raised:
        api.template_get(9)

    assert (raised.value.message, raised.value.status) == (expected, status)


def test_every_request_conforms_to_the_official_spec(api, http, openapi):
    http.get(f"{BASE}/templates", json={"data": [fixture("template")], "pagination": {"count": 1}})
    http.get(f"{BASE}/templates/1000001", json=fixture("template"))
    http.post(f"{BASE}/submissions/pdf", json=fixture("submission_created"))
    http.get(f"{BASE}/submissions/55", json=fixture("submission_created"))
    http.get(f"{BASE}/submissions", json={"data": [fixture("submission_created")], "pagination": {"count": 1}})
    http.get(f"{BASE}/submitters", json=fixture("submitters"))
    http.get(f"{BASE}/submitters/101", json=fixture("submitters")["data"][0])
    http.put(f"{BASE}/submitters/101", json=fixture("submitters")["data"][0])

    api.templates()
    api.template_get(1000001)
    api.submission_create_from_pdf(
        name="2024-0042", documents=[PdfDocument("2024-0042", PDF), PdfDocument("CGV", TERMS)], submitter=SUBMITTER,
        template_ids=[1000001], message={"subject": "S", "body": "B"},
    )  # fmt: skip
    api.submission_get(55)
    api.submissions(template_id=1000001)
    api.submitter_find("quote-QA-1")
    api.submitter_get(101)
    api.submitter_resend(101)

    for call in http.calls:
        openapi.validate_request(RequestsOpenAPIRequest(call.request))
    assert [f"{call.request.method} {call.request.path_url.split('?')[0]}" for call in http.calls] == [
        "GET /templates", "GET /templates/1000001", "POST /submissions/pdf", "GET /submissions/55",
        "GET /submissions", "GET /submitters", "GET /submitters/101", "PUT /submitters/101",
    ]  # fmt: skip


def test_the_spec_check_catches_a_missing_token_and_a_submission_without_documents(openapi):
    no_token = requests.Request("GET", f"{BASE}/templates/1")
    no_documents = requests.Request("POST", f"{BASE}/submissions/pdf", headers={"X-Auth-Token": KEY},
                                    json={"submitters": [SUBMITTER]})  # fmt: skip

    with pytest.raises(SecurityValidationError):
        openapi.validate_request(RequestsOpenAPIRequest(no_token.prepare()))
    with pytest.raises(InvalidRequestBody):
        openapi.validate_request(RequestsOpenAPIRequest(no_documents.prepare()))


# Webhook verification ---------------------------------------------------------------------------------------


def test_the_contract_test_vector_signs_as_docuseal_does():
    assert webhook_hmac(VECTOR_BODY, VECTOR_SECRET, VECTOR_TS) == VECTOR_SIGNATURE


def headers(**extra) -> dict:
    return {"X-Webhook-Secret": "hub-secret", **extra}


def refusal(raw_body=VECTOR_BODY, presented=None, *, hmac_secret=VECTOR_SECRET, now=VECTOR_TS + 10) -> str:
    return webhook_refusal(raw_body, presented if presented is not None else headers(), secret_name="X-Webhook-Secret",
                           secret_value="hub-secret", hmac_secret=hmac_secret, now=now)  # fmt: skip


def test_the_secret_header_alone_is_enough_when_docuseal_does_not_sign():
    assert refusal() == ""


def test_a_valid_hmac_within_300_seconds_passes():
    assert refusal(presented=headers(**{"X-Docuseal-Signature": VECTOR_SIGNATURE}), now=VECTOR_TS + 299) == ""


@pytest.mark.parametrize(
    ("presented", "now", "expected"),
    [
        ({}, VECTOR_TS, "missing or wrong X-Webhook-Secret"),
        ({"X-Webhook-Secret": "hub-secreT"}, VECTOR_TS, "missing or wrong X-Webhook-Secret"),
        (headers(**{"X-Docuseal-Signature": VECTOR_SIGNATURE}), VECTOR_TS + 301,
         "X-Docuseal-Signature too old or in the future"),
        (headers(**{"X-Docuseal-Signature": VECTOR_SIGNATURE}), VECTOR_TS - 301,
         "X-Docuseal-Signature too old or in the future"),
        (headers(**{"X-Docuseal-Signature": VECTOR_SIGNATURE[:-1] + "0"}), VECTOR_TS, "wrong X-Docuseal-Signature"),
        (headers(**{"X-Docuseal-Signature": "abc.def"}), VECTOR_TS, "malformed X-Docuseal-Signature"),
    ],
)  # fmt: skip
def test_forged_or_stale_deliveries_are_refused(presented, now, expected):
    assert refusal(presented=presented, now=now) == expected


def test_a_changed_body_breaks_the_hmac():
    presented = headers(**{"X-Docuseal-Signature": VECTOR_SIGNATURE})
    assert refusal(VECTOR_BODY.replace(b"101", b"102"), presented, now=VECTOR_TS) == "wrong X-Docuseal-Signature"


def test_without_a_configured_secret_nothing_is_accepted():
    assert webhook_refusal(VECTOR_BODY, {}, secret_name="X-Webhook-Secret", secret_value="") == (
        "no webhook secret configured"
    )
