"""The DocuSeal sandbox: the API subset shaped as the spec says, the signing page and the webhooks it sends."""

import base64
import json
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from integrations.clients.docuseal import webhook_refusal
from sandbox import docuseal as sandbox
from sandbox import tasks
from tests.integrations.conftest import run_all

SPEC = Path(django_settings.BASE_DIR).parent / "shared" / "specs" / "docuseal-openapi.json"
KEY = "sandbox-key-qa"
HOOK = "https://hub.example.ch/webhooks/docuseal/QA/"
PDF = b"%PDF-1.4\n% quote QA-2026-0001\n"
TERMS = b"%PDF-1.4\n% terms\n"
DELIVERY_TASK = tasks.deliver_docuseal_webhook.name


@pytest.fixture(autouse=True)
def _empty_sandbox():
    sandbox.clear()
    yield
    sandbox.clear()


@pytest.fixture
def template_id():
    sandbox.ensure_account(KEY, name="Alpha")
    sandbox.configure_webhook(KEY, url=HOOK, secret_name="X-Webhook-Secret", secret_value="s3cret",
                              hmac_secret="whsec_sandbox")  # fmt: skip
    return sandbox.ensure_template(KEY, name="Offre")


def api(method, path, body=None, key=KEY):
    client = Client()
    headers = {"HTTP_X_AUTH_TOKEN": key} if key else {}
    url = f"/sandbox/docuseal/api{path}"
    if method == "GET":
        return client.get(url, **headers)
    return getattr(client, method.lower())(url, json.dumps(body), content_type="application/json", **headers)


def create(template_id, external_id="quote-QA-1"):
    return api("POST", "/submissions/pdf", {
        "name": "QA-2026-0001", "send_email": True, "template_ids": [template_id],
        "documents": [{"name": "qa-2026-0001", "file": base64.b64encode(PDF).decode()},
                      {"name": "CGV 2026-01", "file": base64.b64encode(TERMS).decode()}],
        "submitters": [{"role": "First Party", "email": "anna@example.ch", "name": "Anna Muster",
                        "external_id": external_id}],
    })  # fmt: skip


def required(path: str, method: str) -> set[str]:
    spec = json.loads(SPEC.read_text())
    return set(spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]["required"])


def test_an_unknown_key_gets_docuseals_error(template_id):
    assert (api("GET", "/templates", key="").status_code, api("GET", "/templates", key="nope").json()) == (
        401, {"error": "Not authenticated"},
    )  # fmt: skip


def test_a_submission_from_pdf_is_shaped_as_the_spec_says_and_found_by_external_id(template_id):
    created = create(template_id)

    assert created.status_code == 200
    submission = created.json()
    assert required("/submissions/pdf", "post") <= set(submission)
    [submitter] = submission["submitters"]
    assert (submitter["status"], submitter["external_id"], submitter["role"]) == ("sent", "quote-QA-1", "First Party")
    assert submitter["embed_src"].endswith(f"/sandbox/docuseal/s/{submitter['slug']}")
    found = api("GET", "/submitters?external_id=quote-QA-1").json()
    assert [item["id"] for item in found["data"]] == [submitter["id"]]
    assert api("GET", "/submitters?external_id=quote-QA-2").json()["data"] == []
    assert required("/submissions/{id}", "get") <= set(api("GET", f"/submissions/{submission['id']}").json())
    assert api("GET", f"/templates/{template_id}").json()["submitters"][0]["name"] == "First Party"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"submitters": [{"email": "a@b.ch"}]}, "documents are required"),
        ({"documents": [{"name": "x", "file": "bm90IGEgcGRm"}], "submitters": [{"email": "a@b.ch"}]},
         "Invalid PDF file"),
        ({"documents": [{"name": "x", "file": base64.b64encode(PDF).decode()}], "submitters": [{"name": "A"}]},
         "Submitter email is required"),
    ],
)  # fmt: skip
def test_invalid_submissions_are_refused_with_422(template_id, body, message):
    response = api("POST", "/submissions/pdf", body)

    assert (response.status_code, response.json()) == (422, {"error": message})


def test_signing_sends_viewed_completed_and_submission_completed_signed_with_the_hmac(template_id, enqueued, http):
    submitter = create(template_id).json()["submitters"][0]
    signer = Client()

    page = signer.get(f"/sandbox/docuseal/s/{submitter['slug']}")
    refused = signer.post(f"/sandbox/docuseal/s/{submitter['slug']}", {"action": "sign", "name": "Anna Muster"})
    signature = {"action": "sign", "name": "Anna Muster", "accept_terms": "on"}
    signed = signer.post(f"/sandbox/docuseal/s/{submitter['slug']}", signature, HTTP_USER_AGENT="Test/1.0")

    assert "qa-2026-0001" in page.content.decode()
    assert "CGV 2026-01" in page.content.decode()
    assert "Accept the general terms and type your name to sign" in refused.content.decode()
    assert signed.status_code == 302
    http.post(HOOK, json={"status": "accepted"})
    http.post(HOOK, json={"status": "accepted"})
    http.post(HOOK, json={"status": "accepted"})
    # The queued deliveries name the account by a reference, never by its API key (worker logs show args).
    assert {sandbox.store.dereference(sent.args[0]) for sent in enqueued if sent.task.name == DELIVERY_TASK} == {KEY}
    assert not [sent for sent in enqueued if KEY in json.dumps(sent.args)]
    run_all(enqueued, DELIVERY_TASK)
    bodies = [json.loads(call.request.body) for call in http.calls]
    assert [body["event_type"] for body in bodies] == ["form.viewed", "form.completed", "submission.completed"]
    for call in http.calls:
        assert webhook_refusal(call.request.body, call.request.headers, secret_name="X-Webhook-Secret",
                               secret_value="s3cret", hmac_secret="whsec_sandbox") == ""  # fmt: skip
    completed = bodies[1]["data"]
    assert (completed["status"], completed["ua"], completed["external_id"]) == ("completed", "Test/1.0", "quote-QA-1")
    [quote_document, terms_document] = completed["documents"]
    assert Client().get(quote_document["url"].removeprefix(django_settings.HV_PUBLIC_URL)).content == PDF
    audit = Client().get(completed["audit_log_url"].removeprefix(django_settings.HV_PUBLIC_URL)).content
    assert audit.startswith(b"%PDF-1.4")
    assert b"Anna Muster" in audit
    assert bodies[2]["data"]["status"] == "completed"


def test_declining_sends_the_reason(template_id, enqueued, http):
    submitter = create(template_id).json()["submitters"][0]
    http.post(HOOK, json={})

    Client().post(f"/sandbox/docuseal/s/{submitter['slug']}", {"action": "decline", "decline_reason": "Trop cher"})
    run_all(enqueued, DELIVERY_TASK)

    [call] = http.calls
    body = json.loads(call.request.body)
    assert (body["event_type"], body["data"]["decline_reason"], body["data"]["status"]) == (
        "form.declined", "Trop cher", "declined",
    )  # fmt: skip


def test_a_resend_is_logged_as_an_email(template_id):
    submitter = create(template_id).json()["submitters"][0]

    response = api("PUT", f"/submitters/{submitter['id']}", {"send_email": True})

    assert response.status_code == 200
    assert [email["to"] for email in sandbox.account(KEY)["emails"]] == ["anna@example.ch", "anna@example.ch"]


def test_a_failed_delivery_is_retried(template_id, enqueued, http):
    submitter = create(template_id).json()["submitters"][0]
    http.post(HOOK, status=503)
    Client().get(f"/sandbox/docuseal/s/{submitter['slug']}")

    [sent] = [item for item in enqueued if item.task.name == DELIVERY_TASK]
    enqueued.remove(sent)
    with pytest.raises(Exception, match="Retry"):
        sent.task.apply(args=sent.args, throw=True)

    assert [entry["status"] for entry in sandbox.account(KEY)["deliveries"]] == [503]


def test_the_minimal_pdf_is_well_formed():
    content = sandbox.minimal_pdf(["Hello (world)"])

    xref = int(content.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert content.startswith(b"%PDF-1.4")
    assert content[xref:].startswith(b"xref")
