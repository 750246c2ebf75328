import base64
import hashlib
import hmac
import json
import re
from urllib.parse import urlencode

import pytest
import requests
from django.conf import settings
from django.urls import reverse

from sandbox import mautic, tasks
from tests.factories import UserFactory
from tests.integrations.conftest import Enqueued, run_all, take_all

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued")]

USERNAME = "hub-api"
PASSWORD = "correct horse battery staple"
CLIENT_ID = "1_3bcbxd9e24g0gk4swg0kwgcwg4o8k8g4g888kwc44gcc0gwwk4"
CLIENT_SECRET = "4ok2x70rlfokc8g0wws8c8kwcokw80k44sg48goc0ok4w0so0k"
HUB_HOOK = "https://hub.example/webhooks/mautic/QA/"
HOOK_SECRET = "mySuperWebhookSecretKey"
DELIVERY_TASK = tasks.deliver_mautic_webhook.name
MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$")
TRACKING_HASH = re.compile(r"^[0-9a-f]{13}\d{9}$")
INVOICE_BODY = (
    "<p>Grüezi {contactfield=firstname|Kunde},</p><p>Rechnung {invoice_number} über {amount}: "
    '<a href="{payment_link}">bezahlen</a></p>'
)
# The contract's test vector (research/api-contracts.md §3.3).
VECTOR_BODY = (
    b'{"mautic.lead_post_save_new":[{"contact":{"id":47,"points":0,"fields":{"all":{"id":47,"firstname":"Anna",'
    b'"lastname":"Muster","email":"anna@example.ch"}}},"timestamp":"2024-05-10T09:15:03+00:00"}]}'
)
VECTOR_SIGNATURE = "JUbxpsIDSE6+GEPSL3ykQbqhz6AfbzOka228HI9BfzE="


@pytest.fixture(autouse=True)
def _clean_sandbox():
    """Each test starts and ends without any Mautic sandbox key in Redis."""
    mautic.clear()
    yield
    mautic.clear()


@pytest.fixture
def instance() -> dict:
    return mautic.ensure_instance(
        USERNAME, PASSWORD, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, name="Muster Treuhand Mautic"
    )


def basic(username=USERNAME, password=PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


class Api:
    """The sandbox API as the Hub's client sees it, signed in with Basic auth unless told otherwise."""

    def __init__(self, client, authorization: str):
        self.client = client
        self.headers = {"HTTP_AUTHORIZATION": authorization}

    def url(self, name: str, params=None, **url_kwargs) -> str:
        url = reverse(f"sandbox:mautic-{name}", kwargs=url_kwargs)
        return f"{url}?{urlencode(params)}" if params else url

    def get(self, name: str, params=None, **url_kwargs):
        return self.client.get(self.url(name, params, **url_kwargs), **self.headers)

    def send(self, method: str, name: str, body=None, **url_kwargs):
        return getattr(self.client, method)(
            self.url(name, **url_kwargs), json.dumps(body or {}), "application/json", **self.headers
        )

    def post(self, name: str, body=None, **url_kwargs):
        return self.send("post", name, body, **url_kwargs)

    def patch(self, name: str, body=None, **url_kwargs):
        return self.send("patch", name, body, **url_kwargs)

    def put(self, name: str, body=None, **url_kwargs):
        return self.send("put", name, body, **url_kwargs)

    def delete(self, name: str, **url_kwargs):
        return self.client.delete(self.url(name, **url_kwargs), **self.headers)


@pytest.fixture
def api(client, instance) -> Api:
    return Api(client, basic())


def add_contact(api: Api, **fields) -> dict:
    body = {"firstname": "Anna", "lastname": "Muster", "email": "anna@example.ch", "company": "Muster AG", **fields}
    response = api.post("contact-new", body)
    assert response.status_code == 201, response.content
    return response.json()["contact"]


def add_email(**overrides) -> int:
    fields = {"name": "Rechnung DE", "subject": "Rechnung {invoice_number}", "body": INVOICE_BODY, "language": "de"}
    return mautic.ensure_template_email(USERNAME, **{**fields, **overrides})


def subscribe(api: Api, *triggers: str, url=HUB_HOOK, secret=HOOK_SECRET) -> dict:
    body = {"name": "HYPERVISUAL Hub", "webhookUrl": url, "secret": secret, "triggers": list(triggers),
            "isPublished": True}  # fmt: skip
    response = api.post("hook-new", body)
    assert response.status_code == 201, response.content
    return response.json()["hook"]


def fired(enqueued: list[Enqueued]) -> list[tuple[str, dict]]:
    """(event type, decoded body) of each enqueued delivery, taken off the queue."""
    return [(sent.args[2], json.loads(sent.args[3])) for sent in take_all(enqueued, DELIVERY_TASK)]


def error(code: int, message: str, details=None) -> dict:
    return {"errors": [{"code": code, "message": message, "details": [] if details is None else details,
                        "type": None}]}  # fmt: skip


def signature(raw_body: bytes, secret: str = HOOK_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()


# Instances and authentication


def test_ensure_instance_is_idempotent_and_keeps_or_generates_credentials():
    first = mautic.ensure_instance("other-api", "pw-1")

    again = mautic.ensure_instance("other-api", "pw-2", name="Andere AG")

    assert first["client_id"].startswith("1_")
    assert len(first["client_secret"]) == 50
    assert (again["client_id"], again["client_secret"]) == (first["client_id"], first["client_secret"])
    assert again["name"] == "Andere AG"
    assert again["site_url"] == f"{settings.HV_PUBLIC_URL}/sandbox/mautic"
    assert "password" not in again
    assert mautic.usernames() == ["other-api"]
    assert mautic.authenticate(basic("other-api", "pw-2")) == "other-api"
    with pytest.raises(mautic.ApiError):
        mautic.authenticate(basic("other-api", "pw-1"))
    with pytest.raises(ValueError, match="another Mautic"):
        mautic.ensure_instance("third-api", "pw", client_id=first["client_id"])


@pytest.mark.parametrize(
    "authorization",
    ["", basic(password="wrong"), basic(username="nobody"), "Basic not-base64!", "Digest abc", "Bearer"],
)
def test_missing_or_wrong_credentials_are_refused(client, instance, authorization):
    response = Api(client, authorization).get("contacts")

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "API authorization denied.", "code": 401,
                                           "type": "access_denied"}]}  # fmt: skip


def test_basic_auth_opens_the_users_instance(api):
    response = api.get("contacts")

    assert response.status_code == 200
    assert response["Mautic-Version"] == mautic.MAUTIC_VERSION
    assert response.json() == {"total": "0", "contacts": []}


def test_oauth2_client_credentials_grant_a_bearer_token(client, instance):
    response = client.post(
        reverse("sandbox:mautic-token"),
        {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )

    assert response.status_code == 200
    grant = response.json()
    assert set(grant) == {"access_token", "expires_in", "token_type", "scope"}
    assert (grant["expires_in"], grant["token_type"], grant["scope"]) == (3600, "bearer", None)
    assert re.fullmatch(r"[A-Za-z0-9]{86}", grant["access_token"])
    assert Api(client, f"Bearer {grant['access_token']}").get("contacts").status_code == 200


def test_the_token_endpoint_accepts_client_authentication_by_basic_header(client, instance):
    response = client.post(
        reverse("sandbox:mautic-token"), {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(CLIENT_ID, CLIENT_SECRET),
    )  # fmt: skip

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("form", "body"),
    [
        ({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "wrong"},
         {"error": "invalid_client", "error_description": "The client credentials are invalid"}),
        ({"grant_type": "client_credentials", "client_id": "1_unknown", "client_secret": CLIENT_SECRET},
         {"error": "invalid_client", "error_description": "The client credentials are invalid"}),
        ({"grant_type": "client_credentials"},
         {"error": "invalid_client", "error_description": "Client id was not found in the headers or body"}),
        ({"grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
         {"error": "invalid_request", "error_description": "Invalid grant_type parameter or parameter missing"}),
    ],
)  # fmt: skip
def test_a_wrong_token_request_is_refused_by_the_oauth2_server(client, instance, form, body):
    response = client.post(reverse("sandbox:mautic-token"), form)

    assert (response.status_code, response.json()) == (400, body)


def test_expired_and_unknown_bearer_tokens_are_refused(client, instance):
    grant = mautic.issue_token("client_credentials", CLIENT_ID, CLIENT_SECRET)
    mautic.expire_token(grant["access_token"])

    expired = Api(client, f"Bearer {grant['access_token']}").get("contacts")
    unknown = Api(client, "Bearer not-a-token").get("contacts")

    assert expired.status_code == 401
    assert expired.json() == {"errors": [{"message": "The access token provided has expired.", "code": 401,
                                          "type": "invalid_grant"}]}  # fmt: skip
    assert unknown.status_code == 401
    assert unknown.json()["errors"][0]["message"] == "The access token provided is invalid."


def test_instances_do_not_see_each_other(client, api):
    add_contact(api)
    mautic.ensure_instance("other-api", "other-password")

    other = Api(client, basic("other-api", "other-password"))

    assert other.get("contacts").json() == {"total": "0", "contacts": []}
    assert other.get("contact", contact_id=1).status_code == 404


# Contacts


def test_a_contact_is_created_in_the_contract_shape(api):
    response = api.post(
        "contact-new",
        {"firstname": "Anna", "lastname": "Muster", "email": "anna@example.ch", "company": "Muster AG",
         "tags": ["finance-hub"], "overwriteWithBlank": False},
    )  # fmt: skip

    assert response.status_code == 201
    contact = response.json()["contact"]
    assert MOMENT.match(contact["dateAdded"])
    assert contact["dateIdentified"] == contact["dateAdded"]
    assert {key: value for key, value in contact.items() if key != "fields"} == {
        "id": 1, "isPublished": True, "dateAdded": contact["dateAdded"], "dateModified": None, "createdBy": 1,
        "createdByUser": USERNAME, "owner": None, "points": 0, "color": None, "lastActive": None,
        "dateIdentified": contact["dateAdded"], "ipAddresses": [], "tags": [{"tag": "finance-hub"}], "utmtags": [],
        "doNotContact": [],
    }  # fmt: skip
    fields = contact["fields"]
    assert list(fields) == ["core", "social", "personal", "professional", "all"]
    assert (fields["personal"], fields["professional"]) == ([], [])
    assert fields["core"]["firstname"] == {
        "id": "2", "label": "First Name", "alias": "firstname", "type": "text", "group": "core", "value": "Anna",
    }  # fmt: skip
    assert fields["core"]["email"] == {
        "id": "6", "label": "Email", "alias": "email", "type": "email", "group": "core", "value": "anna@example.ch",
    }  # fmt: skip
    assert fields["social"]["twitter"]["value"] is None
    assert {k: fields["all"][k] for k in ("id", "firstname", "lastname", "email", "company", "phone")} == {
        "id": 1, "firstname": "Anna", "lastname": "Muster", "email": "anna@example.ch", "company": "Muster AG",
        "phone": None,
    }  # fmt: skip
    assert api.get("contact", contact_id=1).json() == {"contact": contact}


def test_a_new_contact_with_a_known_email_is_merged_into_it(api):
    anna = add_contact(api)

    response = api.post("contact-new", {"email": "ANNA@example.ch", "phone": "+41 44 000 00 00", "firstname": ""})

    assert response.status_code == 200
    merged = response.json()["contact"]
    assert merged["id"] == anna["id"]
    assert merged["fields"]["all"]["phone"] == "+41 44 000 00 00"
    # A blank value does not overwrite unless overwriteWithBlank says so.
    assert merged["fields"]["all"]["firstname"] == "Anna"
    assert api.get("contacts").json()["total"] == "1"


def test_an_invalid_email_is_refused_with_422(api):
    response = api.post("contact-new", {"email": "not-an-address"})

    assert response.status_code == 422
    assert response.json() == error(422, "email: A valid email is required.", {"email": ["A valid email is required."]})
    assert api.get("contacts").json()["total"] == "0"


def test_contacts_are_found_by_search_command_and_by_where_both_case_insensitive(api):
    anna = add_contact(api)
    add_contact(api, firstname="Beat", email="beat@example.ch")

    by_search = api.get("contacts", {"search": "email:Anna@Example.ch"}).json()
    by_where = api.get(
        "contacts", {"where[0][col]": "email", "where[0][expr]": "eq", "where[0][val]": "anna@example.ch"}
    ).json()

    assert by_search == by_where == {"total": "1", "contacts": {str(anna["id"]): anna}}
    none = {"where[0][col]": "email", "where[0][expr]": "eq", "where[0][val]": "nobody@example.ch"}
    assert api.get("contacts", none).json() == {"total": "0", "contacts": []}
    assert api.get("contacts", {"search": "email:nobody@example.ch"}).json() == {"total": "0", "contacts": []}
    assert api.get("contacts", {"search": "email:*@example.ch"}).json()["total"] == "2"
    assert api.get("contacts", {"search": "beat"}).json()["total"] == "1"
    assert api.get("contacts", {"search": "tag:finance-hub"}).json()["total"] == "0"
    bad = {"where[0][col]": "email", "where[0][expr]": "between", "where[0][val]": "x"}
    assert api.get("contacts", bad).status_code == 400


def test_contact_lists_are_paged_with_start_and_limit_and_ordered(api):
    ids = [add_contact(api, email=f"c{n}@example.ch")["id"] for n in range(4)]

    page = api.get("contacts", {"start": 1, "limit": 2}).json()
    newest_first = api.get("contacts", {"orderBy": "id", "orderByDir": "desc", "limit": 1}).json()

    assert page["total"] == "4"
    assert list(page["contacts"]) == [str(ids[1]), str(ids[2])]
    assert list(newest_first["contacts"]) == [str(ids[3])]


def test_a_contact_is_edited_with_patch_and_a_missing_one_is_404(api):
    anna = add_contact(api)

    response = api.patch("contact-edit", {"phone": "+41 44 111 11 11", "tags": ["-finance-hub", "vip"]},
                         contact_id=anna["id"])  # fmt: skip

    assert response.status_code == 200
    edited = response.json()["contact"]
    assert edited["fields"]["all"]["phone"] == "+41 44 111 11 11"
    assert edited["fields"]["all"]["email"] == "anna@example.ch"
    assert MOMENT.match(edited["dateModified"])
    assert api.patch("contact-edit", {"phone": "1"}, contact_id=99).json() == error(404, "Item was not found.")
    assert api.get("contact", contact_id=99).status_code == 404


def test_put_replaces_a_contact_and_creates_an_unknown_one(api):
    anna = add_contact(api, phone="+41 44 000 00 00")

    replaced = api.put("contact-edit", {"email": "anna@muster.ch"}, contact_id=anna["id"])
    created = api.put("contact-edit", {"email": "new@example.ch"}, contact_id=99)

    assert replaced.status_code == 200
    assert replaced.json()["contact"]["fields"]["all"]["phone"] is None
    assert created.status_code == 201
    assert created.json()["contact"]["id"] == anna["id"] + 1


def test_saving_a_contact_fires_new_or_update_only_when_something_changed(api, enqueued):
    subscribe(api, mautic.LEAD_POST_SAVE_NEW, mautic.LEAD_POST_SAVE_UPDATE)
    anonymous = api.post("contact-new", {"tags": ["web"]}).json()["contact"]
    assert fired(enqueued) == []

    api.patch("contact-edit", {"email": "anon@example.ch"}, contact_id=anonymous["id"])
    anna = add_contact(api)
    api.patch("contact-edit", {"email": "anna@example.ch"}, contact_id=anna["id"])
    api.patch("contact-edit", {"city": "Zürich"}, contact_id=anna["id"])

    events = fired(enqueued)
    assert [event for event, _body in events] == [
        mautic.LEAD_POST_SAVE_NEW, mautic.LEAD_POST_SAVE_NEW, mautic.LEAD_POST_SAVE_UPDATE,
    ]  # fmt: skip
    event, body = events[-1]
    [payload] = body[event]
    assert payload["contact"]["fields"]["all"]["city"] == "Zürich"
    assert MOMENT.match(payload["timestamp"])


# Template e-mails


def test_template_emails_are_provisioned_by_name_and_listed(api):
    email_id = add_email()

    assert add_email(subject="Ihre Rechnung {invoice_number}") == email_id
    other_id = add_email(name="Facture FR", subject="Facture {invoice_number}", language="fr")
    listed = api.get("emails").json()

    assert listed["total"] == 2
    first, second = listed["emails"]
    assert {k: first[k] for k in ("id", "name", "subject", "emailType", "isPublished", "language", "readCount",
                                  "sentCount", "revision")} == {
        "id": email_id, "name": "Rechnung DE", "subject": "Ihre Rechnung {invoice_number}", "emailType": "template",
        "isPublished": True, "language": "de", "readCount": 0, "sentCount": 0, "revision": 2,
    }  # fmt: skip
    assert second["id"] == other_id
    assert api.get("emails", {"search": "facture"}).json()["total"] == 1
    assert api.get("email", email_id=email_id).json() == {"email": first}
    assert api.get("email", email_id=99).json() == error(404, "Item was not found.")


# Sending


def test_sending_renders_the_tokens_and_logs_the_email(api):
    anna = add_contact(api)
    email_id = add_email()

    response = api.post(
        "email-send",
        {"tokens": {"invoice_number": "2024-0042", "{amount}": "CHF 1'297.20",
                    "payment_link": "https://pay.example.ch/i/42"}},
        email_id=email_id, contact_id=anna["id"],
    )  # fmt: skip

    assert (response.status_code, response.json()) == (200, {"success": True})
    [entry] = mautic.sent_log(USERNAME)
    assert entry["subject"] == "Rechnung 2024-0042"
    assert entry["body"] == (
        "<p>Grüezi Anna,</p><p>Rechnung 2024-0042 über CHF 1'297.20: "
        '<a href="https://pay.example.ch/i/42">bezahlen</a></p>'
    )
    assert entry["tokens"] == {"{invoice_number}": "2024-0042", "{amount}": "CHF 1'297.20",
                               "{payment_link}": "https://pay.example.ch/i/42"}  # fmt: skip
    assert (entry["email_id"], entry["email_name"], entry["contact_id"], entry["contact_email"]) == (
        email_id, "Rechnung DE", anna["id"], "anna@example.ch",
    )  # fmt: skip
    assert TRACKING_HASH.match(entry["trackingHash"])
    assert entry["idHash"] == entry["trackingHash"]
    assert MOMENT.match(entry["dateSent"])
    assert (entry["isRead"], entry["dateRead"], entry["openCount"]) == (False, None, 0)
    assert api.get("email", email_id=email_id).json()["email"]["sentCount"] == 1


def test_token_values_are_sanitised_as_mautic_cleans_html(api):
    anna = add_contact(api, firstname="")
    email_id = add_email(subject="{x}", body="{contactfield=firstname|Kunde}: {x}")

    api.post(
        "email-send",
        {"tokens": {"x": '<b onclick="steal()">fett</b><iframe src="https://evil.example"></iframe>'
                         '<a href="javascript:alert(1)" title="t">link</a> & Co'}},
        email_id=email_id, contact_id=anna["id"],
    )  # fmt: skip

    [entry] = mautic.sent_log(USERNAME)
    assert entry["body"] == 'Kunde: <b>fett</b><a title="t">link</a> & Co'


def test_the_contact_activity_lists_the_emails_sent_from_a_moment(api):
    anna = add_contact(api)
    email_id = add_email()
    api.post("email-send", {"tokens": {}}, email_id=email_id, contact_id=anna["id"])
    [entry] = mautic.sent_log(USERNAME)
    params = {"filters[includeEvents][]": "email.sent", "filters[dateFrom]": "2000-01-01 00:00:00"}

    activity = api.get("contact-activity", params, contact_id=anna["id"]).json()

    assert [(e["event"], e["timestamp"], e["details"]["stat"]["email_id"]) for e in activity["events"]] == [
        ("email.sent", entry["dateSent"], email_id)
    ]
    later = {**params, "filters[dateFrom]": "2999-01-01 00:00:00"}
    assert api.get("contact-activity", later, contact_id=anna["id"]).json()["events"] == []
    assert api.get("contact-activity", params, contact_id=99).status_code == 404


def test_sending_refuses_unknown_emails_contacts_and_segment_emails(api):
    anna = add_contact(api)
    email_id = add_email()
    segment_id = add_email(name="Newsletter", email_type=mautic.EMAIL_LIST)
    nameless = api.post("contact-new", {"firstname": "Ohne", "lastname": "Mail"}).json()["contact"]

    assert api.post("email-send", {}, email_id=99, contact_id=anna["id"]).json() == error(404, "Item was not found.")
    assert api.post("email-send", {}, email_id=email_id, contact_id=99).status_code == 404
    assert api.post("email-send", {}, email_id=segment_id, contact_id=anna["id"]).status_code == 400
    no_address = api.post("email-send", {}, email_id=email_id, contact_id=nameless["id"])
    assert no_address.status_code == 200
    assert no_address.json() == {"success": False, "failed": [f"Contact {nameless['id']} has no e-mail address."]}
    assert mautic.sent_log(USERNAME) == []


def test_email_on_send_is_delivered_signed_as_mautic_sends_it(api, enqueued, http):
    anna = add_contact(api)
    email_id = add_email()
    hook = subscribe(api, mautic.EMAIL_ON_SEND)
    http.post(HUB_HOOK, status=200)

    api.post(
        "email-send", {"tokens": {"invoice_number": "2024-0042", "amount": "CHF 1'297.20",
                                  "payment_link": "https://pay.example.ch/i/42"}},
        email_id=email_id, contact_id=anna["id"],
    )  # fmt: skip
    assert len(run_all(enqueued, DELIVERY_TASK)) == 1

    [call] = http.calls
    request = call.request
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Origin-Base-URL"] == f"{settings.HV_PUBLIC_URL}/sandbox/mautic"
    assert request.headers["Webhook-Signature"] == signature(request.body)
    # PHP's json_encode: compact, slashes escaped, non-ASCII as \uXXXX.
    assert b"https:\\/\\/pay.example.ch\\/i\\/42" in request.body
    assert b"\\u00fc" in request.body
    body = json.loads(request.body)
    assert list(body) == [mautic.EMAIL_ON_SEND]
    [payload] = body[mautic.EMAIL_ON_SEND]
    [entry] = mautic.sent_log(USERNAME)
    assert list(payload) == ["email", "contact", "contentHash", "idHash", "subject", "source", "headers", "content",
                             "tokens", "timestamp"]  # fmt: skip
    assert payload["email"]["id"] == email_id
    assert payload["email"]["customHtml"] == INVOICE_BODY
    assert payload["contact"] == api.get("contact", contact_id=anna["id"]).json()["contact"]
    assert re.fullmatch(r"[0-9a-f]{32}", payload["contentHash"])
    assert (payload["idHash"], payload["subject"], payload["content"]) == (
        entry["idHash"], "Rechnung 2024-0042", entry["body"],
    )  # fmt: skip
    assert (payload["source"], payload["headers"]) == (["api", 0], [])
    assert payload["tokens"] == entry["tokens"]
    assert MOMENT.match(payload["timestamp"])
    [delivery] = mautic.delivery_log(USERNAME)
    assert delivery == {
        "event": mautic.EMAIL_ON_SEND, "hook_id": hook["id"], "webhookUrl": HUB_HOOK, "status_code": 200,
        "error": "", "outcome": "delivered", "sent_at": delivery["sent_at"],
    }  # fmt: skip


def test_a_send_without_tokens_writes_them_as_php_writes_an_empty_array(api, enqueued):
    anna = add_contact(api)
    email_id = add_email()
    subscribe(api, mautic.EMAIL_ON_SEND)

    api.post("email-send", {}, email_id=email_id, contact_id=anna["id"])

    [(event, body)] = fired(enqueued)
    assert body[event][0]["tokens"] == []
    assert body[event][0]["subject"] == "Rechnung {invoice_number}"


def test_the_signature_matches_the_contracts_test_vector():
    document = json.loads(VECTOR_BODY)

    assert mautic.php_json(document) == VECTOR_BODY
    assert mautic.webhook_signature(VECTOR_BODY, HOOK_SECRET) == VECTOR_SIGNATURE
    assert mautic.webhook_headers(VECTOR_BODY, HOOK_SECRET)["Webhook-Signature"] == VECTOR_SIGNATURE


def test_opening_marks_the_stat_read_and_fires_email_on_open(api, enqueued, http):
    anna = add_contact(api)
    email_id = add_email()
    subscribe(api, mautic.EMAIL_ON_OPEN)
    api.post("email-send", {"tokens": {"invoice_number": "2024-0042"}}, email_id=email_id, contact_id=anna["id"])
    [sent] = mautic.sent_log(USERNAME)
    assert fired(enqueued) == []
    http.post(HUB_HOOK, status=200)

    opened = mautic.open_email(USERNAME, sent["id"])
    run_all(enqueued, DELIVERY_TASK)

    assert (opened["isRead"], opened["openCount"]) == (True, 1)
    assert MOMENT.match(opened["dateRead"])
    [call] = http.calls
    assert call.request.headers["Webhook-Signature"] == signature(call.request.body)
    [payload] = json.loads(call.request.body)[mautic.EMAIL_ON_OPEN]
    assert list(payload) == ["stat", "timestamp"]
    stat = payload["stat"]
    assert {k: v for k, v in stat.items() if k not in ("lead", "email")} == {
        "id": sent["id"], "emailAddress": "anna@example.ch", "ipAddress": None, "dateSent": sent["dateSent"],
        "isRead": True, "isFailed": False, "dateRead": opened["dateRead"], "retryCount": 0, "source": "api",
        "openCount": 1, "lastOpened": opened["dateRead"], "sourceId": 0, "trackingHash": sent["trackingHash"],
        "viewedInBrowser": False,
    }  # fmt: skip
    assert list(stat["lead"]) == ["id", "points", "color", "fields"]
    assert stat["lead"]["fields"]["all"]["email"] == "anna@example.ch"
    assert {k: stat["email"][k] for k in ("id", "name", "subject", "readCount")} == {
        "id": email_id, "name": "Rechnung DE", "subject": "Rechnung {invoice_number}", "readCount": 1,
    }  # fmt: skip

    again = mautic.open_email(USERNAME, sent["id"])

    assert (again["openCount"], again["dateRead"]) == (2, opened["dateRead"])
    assert api.get("email", email_id=email_id).json()["email"]["readCount"] == 1
    [(_event, body)] = fired(enqueued)
    assert body[mautic.EMAIL_ON_OPEN][0]["stat"]["openCount"] == 2
    with pytest.raises(mautic.ApiError):
        mautic.open_email(USERNAME, 99)


def test_a_changed_contact_email_fires_lead_post_save_update(api, enqueued, http):
    anna = add_contact(api)
    subscribe(api, mautic.LEAD_POST_SAVE_UPDATE)
    http.post(HUB_HOOK, status=200)

    changed = mautic.contact_change_email(USERNAME, anna["id"], "anna@muster.ch")
    run_all(enqueued, DELIVERY_TASK)

    assert changed["fields"]["all"]["email"] == "anna@muster.ch"
    [call] = http.calls
    [payload] = json.loads(call.request.body)[mautic.LEAD_POST_SAVE_UPDATE]
    assert payload["contact"] == changed
    assert [c["fields"]["all"]["email"] for c in mautic.contacts(USERNAME)] == ["anna@muster.ch"]


# Webhook registrations


def test_hooks_are_created_listed_edited_and_deleted(api):
    response = api.post("hook-new", {"name": "Hub", "webhookUrl": HUB_HOOK,
                                     "triggers": [mautic.EMAIL_ON_SEND]})  # fmt: skip

    assert response.status_code == 201
    hook = response.json()["hook"]
    assert re.fullmatch(r"[0-9a-f]{64}", hook["secret"])
    assert hook == {
        "isPublished": True, "dateAdded": hook["dateAdded"], "dateModified": None, "createdBy": 1,
        "createdByUser": USERNAME, "modifiedBy": None, "modifiedByUser": None, "id": 1, "name": "Hub",
        "description": None, "webhookUrl": HUB_HOOK, "secret": hook["secret"], "eventsOrderbyDir": None,
        "category": None, "triggers": [mautic.EMAIL_ON_SEND],
    }  # fmt: skip
    assert api.get("hooks").json() == {"total": 1, "hooks": [hook]}
    assert api.get("hook", hook_id=hook["id"]).json() == {"hook": hook}

    patched = api.patch("hook-edit", {"triggers": [mautic.EMAIL_ON_OPEN], "secret": HOOK_SECRET}, hook_id=hook["id"])
    assert patched.status_code == 200
    assert patched.json()["hook"]["triggers"] == [mautic.EMAIL_ON_SEND, mautic.EMAIL_ON_OPEN]
    assert patched.json()["hook"]["secret"] == HOOK_SECRET

    put = api.put("hook-edit", {"name": "Hub", "webhookUrl": HUB_HOOK, "secret": HOOK_SECRET,
                                "triggers": [mautic.LEAD_POST_SAVE_UPDATE], "isPublished": True},
                  hook_id=hook["id"])  # fmt: skip
    assert put.status_code == 200
    assert put.json()["hook"]["triggers"] == [mautic.LEAD_POST_SAVE_UPDATE]

    created = api.put("hook-edit", {"name": "Neu", "webhookUrl": HUB_HOOK}, hook_id=99)
    assert (created.status_code, created.json()["hook"]["id"]) == (201, 2)

    deleted = api.delete("hook-delete", hook_id=hook["id"])
    assert deleted.status_code == 200
    assert deleted.json()["hook"]["id"] is None
    assert deleted.json()["hook"]["name"] == "Hub"
    assert api.get("hook", hook_id=hook["id"]).json() == error(404, "Item was not found.")
    assert api.patch("hook-edit", {"name": "x"}, hook_id=hook["id"]).status_code == 404
    assert [h["id"] for h in api.get("hooks").json()["hooks"]] == [2]
    assert mautic.EMAIL_ON_OPEN in api.get("hook-triggers").json()["triggers"]


def test_a_faulty_hook_is_refused(api):
    response = api.post("hook-new", {"name": "", "webhookUrl": "not a url"})

    assert response.status_code == 400
    assert response.json() == error(
        400, "name: A name is required., webhookUrl: A valid URL is required.",
        {"name": ["A name is required."], "webhookUrl": ["A valid URL is required."]},
    )  # fmt: skip
    assert api.get("hooks").json() == {"total": 0, "hooks": []}


def test_a_410_answer_unpublishes_the_hook(api, enqueued, http):
    hook = subscribe(api, mautic.LEAD_POST_SAVE_UPDATE)
    anna = add_contact(api)
    http.post(HUB_HOOK, status=410)

    mautic.contact_change_email(USERNAME, anna["id"], "anna@muster.ch")
    run_all(enqueued, DELIVERY_TASK)

    assert api.get("hook", hook_id=hook["id"]).json()["hook"]["isPublished"] is False
    [delivery] = mautic.delivery_log(USERNAME)
    assert (delivery["status_code"], delivery["outcome"]) == (410, "unpublished")
    # An unpublished hook is sent nothing.
    mautic.contact_change_email(USERNAME, anna["id"], "anna@example.ch")
    assert fired(enqueued) == []


def test_other_failures_are_logged_and_not_retried(api, enqueued, http):
    subscribe(api, mautic.LEAD_POST_SAVE_UPDATE)
    anna = add_contact(api)
    http.post(HUB_HOOK, status=500)
    http.post(HUB_HOOK, body=requests.ConnectionError("refused"))

    mautic.contact_change_email(USERNAME, anna["id"], "anna@muster.ch")
    mautic.contact_change_email(USERNAME, anna["id"], "anna@example.ch")
    run_all(enqueued, DELIVERY_TASK)

    refused, failed = mautic.delivery_log(USERNAME)
    assert (failed["status_code"], failed["outcome"]) == (500, "failed")
    assert (refused["status_code"], refused["outcome"]) == (None, "failed")
    assert "ConnectionError" in refused["error"]
    assert len(http.calls) == 2
    assert mautic.hooks(USERNAME)[0]["isPublished"] is True


def test_a_hook_deleted_before_its_delivery_runs_gets_nothing(api, enqueued):
    hook = subscribe(api, mautic.LEAD_POST_SAVE_UPDATE)
    anna = add_contact(api)
    mautic.contact_change_email(USERNAME, anna["id"], "anna@muster.ch")
    api.delete("hook-delete", hook_id=hook["id"])

    run_all(enqueued, DELIVERY_TASK)

    assert mautic.delivery_log(USERNAME) == []


def test_the_delivery_log_is_bounded(api, monkeypatch):
    hook = mautic.find_hook(USERNAME, subscribe(api, mautic.EMAIL_ON_SEND)["id"])
    monkeypatch.setattr(mautic, "MAX_DELIVERY_RECORDS", 3)

    for status in (500, 501, 502, 503, 504):
        mautic.settle_delivery(USERNAME, hook, event=mautic.EMAIL_ON_SEND, status=status)

    assert [d["status_code"] for d in mautic.delivery_log(USERNAME)] == [504, 503, 502]


# The sandbox's page


def test_sandbox_page_needs_a_signed_in_user(client):
    response = client.get(reverse("sandbox:mautic-dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_sandbox_page_shows_the_instance_and_its_sent_emails(client, api, enqueued):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(UserFactory())
    anna = add_contact(api)
    email_id = add_email()
    subscribe(api, mautic.EMAIL_ON_OPEN)
    api.post("email-send", {"tokens": {"invoice_number": "2024-0042"}}, email_id=email_id, contact_id=anna["id"])
    [sent] = mautic.sent_log(USERNAME)

    page = client.get(reverse("sandbox:mautic-dashboard"))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Muster Treuhand Mautic" in html
    assert "Rechnung 2024-0042" in html
    assert "anna@example.ch" in html
    assert "Simulate the opening" in html
    assert f'name="stat_id" value="{sent["id"]}"' in html
    assert HUB_HOOK in html
    assert PASSWORD not in html
    assert CLIENT_SECRET not in html


def test_sandbox_page_opens_an_email_and_changes_a_contacts_address(client, api, enqueued):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(UserFactory())
    anna = add_contact(api)
    email_id = add_email()
    subscribe(api, mautic.EMAIL_ON_OPEN, mautic.LEAD_POST_SAVE_UPDATE)
    api.post("email-send", {"tokens": {"invoice_number": "2024-0042"}}, email_id=email_id, contact_id=anna["id"])
    [sent] = mautic.sent_log(USERNAME)

    opened = client.post(reverse("sandbox:mautic-open-email"), {"username": USERNAME, "stat_id": sent["id"]})
    changed = client.post(
        reverse("sandbox:mautic-change-email"),
        {"username": USERNAME, "contact_id": anna["id"], "email": "anna@muster.ch"},
    )
    refused = client.post(
        reverse("sandbox:mautic-change-email"), {"username": USERNAME, "contact_id": anna["id"], "email": "nope"}
    )

    assert (opened.status_code, changed.status_code, refused.status_code) == (302, 302, 302)
    assert mautic.sent_log(USERNAME)[0]["isRead"] is True
    assert mautic.contacts(USERNAME)[0]["fields"]["all"]["email"] == "anna@muster.ch"
    assert [event for event, _body in fired(enqueued)] == [mautic.EMAIL_ON_OPEN, mautic.LEAD_POST_SAVE_UPDATE]
    page = client.get(reverse("sandbox:mautic-dashboard")).content.decode()
    assert "Give a valid e-mail address." in page
