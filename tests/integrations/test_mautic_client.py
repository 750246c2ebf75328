"""Mautic 5 client: OAuth, contacts, template e-mails, webhooks, error mapping and webhook signatures.

The answers are the contract's examples (research/api-contracts.md §3.4) and the shapes of §3.2; the webhook
answers follow Mautic's own documentation (`_api_endpoint_webhooks.md`). Requests are checked field by field.
"""

import json
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit
from uuid import uuid4

import pytest
from responses import matchers

from integrations.clients import base
from integrations.clients.base import AuthorizationError, PermanentProviderError, TransientProviderError
from integrations.clients.mautic import (
    Contact,
    Email,
    Hook,
    MauticClient,
    TokenGrant,
    WebhookEvent,
    signature_valid,
    webhook_signature,
)

BASE = "https://mautic.example.ch"
API = f"{BASE}/api"
ACCESS_TOKEN = "NmM4ZTQ0YjJiOTM1ZGQ3NWQzNmQ0YjU0"
USERNAME = "hub-api"
PASSWORD = "Grüezi-2026!"
# base64("hub-api:Grüezi-2026!") with the password in UTF-8, as a Mautic user's password is stored.
BASIC = "Basic aHViLWFwaTpHcsO8ZXppLTIwMjYh"
JSON = "application/json"
FORM_ENCODED = "application/x-www-form-urlencoded"

HOOK_URL = "https://hub.example.ch/integrations/webhooks/mautic/QA/"
HOOK_SECRET = "mySuperWebhookSecretKey"

# Webhook signature test vector (research/api-contracts.md §3.3): these exact bytes, this secret.
VECTOR_BODY = (
    b'{"mautic.lead_post_save_new":[{"contact":{"id":47,"points":0,"fields":{"all":{"id":47,"firstname":"Anna",'
    b'"lastname":"Muster","email":"anna@example.ch"}}},"timestamp":"2024-05-10T09:15:03+00:00"}]}'
)
VECTOR_SIGNATURE = "JUbxpsIDSE6+GEPSL3ykQbqhz6AfbzOka228HI9BfzE="


# Answers -------------------------------------------------------------------------------------------


def contact_data(**changes) -> dict:
    """The contract's `POST /api/contacts/new` answer (§3.4), field for field."""
    data = {
        "id": 47, "isPublished": True, "dateAdded": "2024-05-10T09:15:03+00:00", "dateModified": None,
        "createdBy": 1, "createdByUser": "API User", "owner": None, "points": 0, "color": None, "lastActive": None,
        "dateIdentified": "2024-05-10T09:15:03+00:00", "ipAddresses": [],
        "fields": {"core": {"firstname": {"id": "2", "label": "First Name", "alias": "firstname", "type": "text",
                                          "group": "core", "value": "Anna"},
                            "email": {"id": "6", "label": "Email", "alias": "email", "type": "email", "group": "core",
                                      "value": "anna@example.ch"}},
                   "social": [], "personal": [], "professional": [],
                   "all": {"id": 47, "firstname": "Anna", "lastname": "Muster", "email": "anna@example.ch",
                           "company": "Muster AG"}},
        "tags": [{"tag": "finance-hub"}], "utmtags": [], "doNotContact": [],
    }  # fmt: skip
    return {**data, **changes}


def contact_with(contact_id: int, **values) -> dict:
    """The same contact under another id, with other `fields.all` values."""
    data = contact_data(id=contact_id)
    data["fields"] = {**data["fields"], "all": {**data["fields"]["all"], "id": contact_id, **values}}
    return data


def email_data(**changes) -> dict:
    """An e-mail of `GET /api/emails` (§3.2): id, name, subject, emailType, isPublished, language, counts, lists."""
    data = {
        "id": 12, "isPublished": True, "dateAdded": "2024-05-01T08:00:00+00:00", "name": "Facture — rappel",
        "subject": "Votre facture {invoice_number}", "language": "fr", "category": None, "emailType": "template",
        "readCount": 3, "sentCount": 5, "lists": [],
    }  # fmt: skip
    return {**data, **changes}


def hook_data(**changes) -> dict:
    """A webhook as WebhookApiController writes it (`hookDetails` and `publishDetails` groups)."""
    data = {
        "isPublished": True, "dateAdded": "2024-05-10T09:00:00+00:00", "dateModified": None, "createdBy": 1,
        "createdByUser": "API User", "modifiedBy": None, "modifiedByUser": None, "id": 31,
        "name": "HYPERVISUAL Hub QA", "description": None, "webhookUrl": HOOK_URL, "secret": HOOK_SECRET,
        "eventsOrderbyDir": None, "category": None,
        "triggers": ["mautic.email_on_send", "mautic.email_on_open", "mautic.lead_post_save_update"],
    }  # fmt: skip
    return {**data, **changes}


def errors(code: int, message: str, details=None) -> dict:
    """Mautic's error envelope (FetchCommonApiController::returnError)."""
    return {"errors": [{"code": code, "message": message, "details": details or [], "type": None}]}


# What the client reads from them.

ANNA = Contact(
    id=47, email="anna@example.ch", firstname="Anna", lastname="Muster", company="Muster AG", date_modified=None,
    fields={"id": 47, "firstname": "Anna", "lastname": "Muster", "email": "anna@example.ch", "company": "Muster AG"},
)  # fmt: skip
REMINDER = Email(id=12, name="Facture — rappel", subject="Votre facture {invoice_number}", email_type="template",
                 is_published=True, language="fr")  # fmt: skip
HUB_HOOK = Hook(
    id=31, name="HYPERVISUAL Hub QA", webhook_url=HOOK_URL, secret=HOOK_SECRET,
    triggers=("mautic.email_on_send", "mautic.email_on_open", "mautic.lead_post_save_update"), is_published=True,
)  # fmt: skip
TRIGGERS = [WebhookEvent.EMAIL_ON_SEND, WebhookEvent.EMAIL_ON_OPEN, WebhookEvent.LEAD_POST_SAVE_UPDATE]


# Fixtures and helpers ----------------------------------------------------------------------------------


@pytest.fixture
def api():
    # A circuit of its own per test, so no test sees another's failures.
    return MauticClient(BASE, scope=f"test-{uuid4().hex}", access_token=ACCESS_TOKEN)


@pytest.fixture
def basic_api():
    return MauticClient(f"{BASE}/", scope=f"test-{uuid4().hex}", username=USERNAME, password=PASSWORD)


def sent(call) -> tuple[str, str, dict[str, str], object]:
    """(method, path, query, JSON body) of a request; a parameter sent twice fails."""
    url = urlsplit(call.request.url)
    pairs = parse_qsl(url.query, keep_blank_values=True)
    assert len(pairs) == len(dict(pairs)), pairs
    body = json.loads(call.request.body) if call.request.body else None
    return call.request.method, url.path, dict(pairs), body


def assert_headers(call, *, authorization: str = f"Bearer {ACCESS_TOKEN}", body: bool = False) -> None:
    headers = call.request.headers
    assert (headers["Authorization"], headers["Accept"]) == (authorization, JSON)
    if body:
        assert headers["Content-Type"] == JSON
    else:
        assert "Content-Type" not in headers


# OAuth and authentication --------------------------------------------------------------------------------


def test_token_client_credentials_posts_the_form_without_authorization(http):
    form = {"grant_type": "client_credentials", "client_id": "1_3bcbxd9e24g0gk4swg0kwgcwg4o8k8g4g888kwc44gcc0gwwk4",
            "client_secret": "4ok2x70rlfokc8g0wws8c8kwcokw80k44sg48goc0ok4w0so0k"}  # fmt: skip
    answer = {"access_token": "NmM4ZTQ0YjJiOTM1ZGQ3NWQzNmQ0YjU0", "expires_in": 3600, "token_type": "bearer",
              "scope": None}  # fmt: skip
    http.post(f"{BASE}/oauth/v2/token", json=answer, match=[matchers.urlencoded_params_matcher(form)])
    anonymous = MauticClient(BASE, scope=f"test-{uuid4().hex}")

    grant = anonymous.token_client_credentials(form["client_id"], form["client_secret"])

    assert grant == TokenGrant(access_token="NmM4ZTQ0YjJiOTM1ZGQ3NWQzNmQ0YjU0", expires_in=3600, token_type="bearer")
    assert http.calls[0].request.method == "POST"
    assert http.calls[0].request.headers["Content-Type"] == FORM_ENCODED
    assert "Authorization" not in http.calls[0].request.headers


def test_the_token_call_never_sends_the_api_credentials(api, basic_api, http):
    http.post(f"{BASE}/oauth/v2/token", json={"access_token": "t", "expires_in": 3600, "token_type": "bearer"})
    http.post(f"{BASE}/oauth/v2/token", json={"access_token": "t", "expires_in": 3600, "token_type": "bearer"})

    api.token_client_credentials("id", "secret")
    basic_api.token_client_credentials("id", "secret")

    assert ["Authorization" in call.request.headers for call in http.calls] == [False, False]


def test_a_refused_client_keeps_the_oauth_description_and_error(api, http, waits):
    http.post(f"{BASE}/oauth/v2/token", status=400,
              json={"error": "invalid_client", "error_description": "The client credentials are invalid"})  # fmt: skip

    with pytest.raises(PermanentProviderError) as raised:
        api.token_client_credentials("id", "wrong")

    assert (raised.value.status, raised.value.message) == (400, "The client credentials are invalid (invalid_client)")
    assert (len(http.calls), waits) == (1, [])


def test_asking_for_a_token_is_retried_as_it_is_harmless(api, http, waits):
    http.post(f"{BASE}/oauth/v2/token", status=503)

    with pytest.raises(TransientProviderError):
        api.token_client_credentials("id", "secret")

    assert (len(http.calls), waits) == (base.MAX_ATTEMPTS, [0.5, 1.0])


def test_basic_auth_is_base64_of_username_and_password(basic_api, http):
    http.get(f"{API}/contacts/47", json={"contact": contact_data()})

    basic_api.contact_get(47)

    assert http.calls[0].request.url == f"{API}/contacts/47"
    assert_headers(http.calls[0], authorization=BASIC)


def test_an_access_token_wins_over_basic_credentials(http):
    http.get(f"{API}/contacts/47", json={"contact": contact_data()})
    both = MauticClient(BASE, scope=f"test-{uuid4().hex}", username=USERNAME, password=PASSWORD,
                        access_token=ACCESS_TOKEN)  # fmt: skip

    both.contact_get(47)

    assert_headers(http.calls[0])


def test_no_authorization_is_sent_without_credentials(http):
    http.get(f"{API}/contacts/47", json={"contact": contact_data()})

    MauticClient(BASE, scope=f"test-{uuid4().hex}").contact_get(47)

    assert "Authorization" not in http.calls[0].request.headers


def test_a_sandbox_root_with_a_path_keeps_it():
    client = MauticClient("http://127.0.0.1:8000/sandbox/mautic/", scope="QA")

    assert client.url("/api/contacts") == "http://127.0.0.1:8000/sandbox/mautic/api/contacts"


def test_the_base_url_is_the_site_root_not_the_api():
    with pytest.raises(ValueError, match="site root"):
        MauticClient(f"{BASE}/api/", scope="QA")


# Contacts ------------------------------------------------------------------------------------------


FIND_QUERY = {
    "where[0][col]": "email", "where[0][expr]": "eq", "where[0][val]": "anna@example.ch", "orderBy": "id",
    "orderByDir": "asc", "limit": "10",
}  # fmt: skip


def test_find_by_email_is_an_exact_where_and_reads_the_object_keyed_by_id(api, http):
    http.get(f"{API}/contacts", json={"total": "1", "contacts": {"47": contact_data()}})

    assert api.contact_find_by_email("anna@example.ch") == ANNA
    assert sent(http.calls[0]) == ("GET", "/api/contacts", FIND_QUERY, None)
    assert_headers(http.calls[0])


@pytest.mark.parametrize("empty", [[], {}], ids=["array", "object"])
def test_find_by_email_without_a_match_is_none(api, http, empty):
    http.get(f"{API}/contacts", json={"total": "0", "contacts": empty})

    assert api.contact_find_by_email("anna@example.ch") is None
    assert len(http.calls) == 1


def test_find_by_email_with_duplicates_keeps_the_oldest(api, http):
    newer = contact_with(52, firstname="Anna Maria", dateModified="2024-06-01T10:00:00+00:00")
    http.get(f"{API}/contacts", json={"total": "2", "contacts": {"52": newer, "47": contact_data()}})

    found = api.contact_find_by_email("anna@example.ch")

    assert found == ANNA
    assert len(http.calls) == 1  # found, never created


def test_contact_get_reads_fields_all_and_the_modification_time(api, http):
    http.get(f"{API}/contacts/47", json={"contact": contact_with(47, city="Zürich", company=None) | {
        "dateModified": "2024-05-11T14:30:00+00:00"}})  # fmt: skip

    found = api.contact_get(47)

    assert (found.company, found.date_modified, found.fields["city"]) == (
        "", datetime(2024, 5, 11, 14, 30, tzinfo=UTC), "Zürich",
    )  # fmt: skip
    assert sent(http.calls[0]) == ("GET", "/api/contacts/47", {}, None)
    assert_headers(http.calls[0])


def test_contact_create_posts_the_fields_and_never_overwrites_with_blanks(api, http):
    fields = {"firstname": "Anna", "lastname": "Muster", "email": "anna@example.ch", "company": "Muster AG",
              "tags": ["finance-hub"]}  # fmt: skip
    http.post(f"{API}/contacts/new", status=201, json={"contact": contact_data()})

    assert api.contact_create(fields) == ANNA
    # The contract's request (§3.4), field for field.
    assert sent(http.calls[0]) == ("POST", "/api/contacts/new", {}, {
        "firstname": "Anna", "lastname": "Muster", "email": "anna@example.ch", "company": "Muster AG",
        "tags": ["finance-hub"], "overwriteWithBlank": False,
    })  # fmt: skip
    assert_headers(http.calls[0], body=True)


def test_contact_update_patches_only_the_given_fields(api, http):
    changed = contact_with(47, company="Muster Holding AG") | {"dateModified": "2024-05-12T07:00:00+00:00"}
    http.patch(f"{API}/contacts/47/edit", json={"contact": changed})

    updated = api.contact_update(47, {"company": "Muster Holding AG", "tags": ["finance-hub", "-prospect"]})

    assert updated == replace(
        ANNA, company="Muster Holding AG", date_modified=datetime(2024, 5, 12, 7, 0, tzinfo=UTC),
        fields={**ANNA.fields, "company": "Muster Holding AG"},
    )  # fmt: skip
    assert sent(http.calls[0]) == (
        "PATCH", "/api/contacts/47/edit", {}, {"company": "Muster Holding AG", "tags": ["finance-hub", "-prospect"]},
    )  # fmt: skip
    assert_headers(http.calls[0], body=True)


def test_contact_create_is_not_retried(api, http, waits):
    http.post(f"{API}/contacts/new", status=503, json=errors(503, "Service Unavailable"))

    with pytest.raises(TransientProviderError) as raised:
        api.contact_create({"email": "anna@example.ch"})

    assert (raised.value.status, raised.value.message) == (503, "Service Unavailable")
    assert (len(http.calls), waits) == (1, [])


def test_contact_update_is_retried_as_it_sets_values(api, http, waits):
    http.patch(f"{API}/contacts/47/edit", status=502)
    http.patch(f"{API}/contacts/47/edit", json={"contact": contact_data()})

    assert api.contact_update(47, {"company": "Muster AG"}) == ANNA
    assert (len(http.calls), waits) == (2, [0.5])


def test_an_answer_without_the_contact_object_is_permanent(api, http):
    http.get(f"{API}/contacts/47", json=contact_data())

    with pytest.raises(PermanentProviderError) as raised:
        api.contact_get(47)

    assert (raised.value.status, raised.value.message) == (200, "GET /contacts/47: answer without a 'contact' object")


# Template e-mails --------------------------------------------------------------------------------


def test_emails_are_paged_with_start_and_limit_until_the_total(api, http, monkeypatch):
    monkeypatch.setattr("integrations.clients.mautic.PAGE_SIZE", 2)
    first = [email_data(), email_data(id=13, name="Rechnung — Erinnerung", language="de", emailType="template")]
    second = [email_data(id=14, name="Newsletter", emailType="list", isPublished=False, language="")]
    for start, items in ((0, first), (2, second)):
        query = {"search": "is:published", "start": str(start), "limit": "2"}
        http.get(f"{API}/emails", json={"total": 3, "emails": items}, match=[matchers.query_param_matcher(query)])

    found = api.emails(search="is:published")

    assert found == [
        REMINDER,
        replace(REMINDER, id=13, name="Rechnung — Erinnerung", language="de"),
        Email(id=14, name="Newsletter", subject="Votre facture {invoice_number}", email_type="list",
              is_published=False, language=""),
    ]  # fmt: skip
    assert [sent(call)[:3] for call in http.calls] == [
        ("GET", "/api/emails", {"search": "is:published", "start": "0", "limit": "2"}),
        ("GET", "/api/emails", {"search": "is:published", "start": "2", "limit": "2"}),
    ]
    for call in http.calls:
        assert_headers(call)


def test_emails_keyed_by_id_with_a_string_total_and_no_search(api, http):
    http.get(f"{API}/emails", json={"total": "1", "emails": {"12": email_data()}},
             match=[matchers.query_param_matcher({"start": "0", "limit": "100"})])  # fmt: skip

    assert api.emails() == [REMINDER]


def test_emails_stop_at_an_empty_page_whatever_the_total_claims(api, http):
    http.get(f"{API}/emails", json={"total": 40, "emails": []})

    assert api.emails() == []
    assert len(http.calls) == 1


def test_email_get(api, http):
    http.get(f"{API}/emails/12", json={"email": email_data()})

    assert api.email_get(12) == REMINDER
    assert sent(http.calls[0]) == ("GET", "/api/emails/12", {}, None)
    assert_headers(http.calls[0])


@pytest.mark.parametrize("success", [True, 1], ids=["true", "one"])
def test_send_to_contact_wraps_every_token_in_braces(api, http, success):
    http.post(f"{API}/emails/12/contact/47/send", json={"success": success})

    result = api.email_send_to_contact(12, 47, tokens={"invoice_number": "2024-0042", "{amount}": "CHF 1'297.20"})

    assert result is None
    assert sent(http.calls[0]) == ("POST", "/api/emails/12/contact/47/send", {}, {
        "tokens": {"{invoice_number}": "2024-0042", "{amount}": "CHF 1'297.20"},
    })  # fmt: skip
    assert_headers(http.calls[0], body=True)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"success": False, "failed": {"47": "Contact has no email address"}},
         "e-mail 12 to contact 47 not sent: Contact has no email address"),
        ({"failed": ["Transport failure"]}, "e-mail 12 to contact 47 not sent: Transport failure"),
        ({"success": False}, "e-mail 12 to contact 47 not sent: Mautic did not confirm the send"),
        ({}, "e-mail 12 to contact 47 not sent: Mautic did not confirm the send"),
    ],
    ids=["failed-object", "failed-list", "false", "no-success"],
)  # fmt: skip
def test_a_send_mautic_does_not_confirm_is_permanent(api, http, waits, answer, message):
    http.post(f"{API}/emails/12/contact/47/send", json=answer)

    with pytest.raises(PermanentProviderError) as raised:
        api.email_send_to_contact(12, 47, tokens={"invoice_number": "2024-0042"})

    assert (raised.value.status, raised.value.message) == (200, message)
    assert (len(http.calls), waits) == (1, [])


def test_a_send_failing_with_500_is_not_retried(api, http, waits):
    http.post(f"{API}/emails/12/contact/47/send", status=500, json=errors(500, "Internal Server Error"))

    with pytest.raises(TransientProviderError):
        api.email_send_to_contact(12, 47, tokens={})

    assert (len(http.calls), waits) == (1, [])


# Errors ------------------------------------------------------------------------------------------


def test_a_404_is_permanent_with_mautics_message(api, http, waits):
    http.get(f"{API}/contacts/999", status=404, json=errors(404, "Item was not found."))

    with pytest.raises(PermanentProviderError) as raised:
        api.contact_get(999)

    assert type(raised.value) is PermanentProviderError
    assert (raised.value.status, raised.value.message, raised.value.provider) == (404, "Item was not found.", "mautic")
    assert (len(http.calls), waits) == (1, [])


def test_a_401_is_an_authorization_error(api, http, waits):
    http.get(f"{API}/emails/12", status=401, json={
        "errors": [{"message": "API authorization denied.", "code": 401, "type": "access_denied"}],
    })  # fmt: skip

    with pytest.raises(AuthorizationError) as raised:
        api.email_get(12)

    assert (raised.value.status, raised.value.message) == (401, "API authorization denied.")
    assert (len(http.calls), waits) == (1, [])


def test_a_422_joins_every_message(api, http):
    http.post(f"{API}/contacts/new", status=422, json={"errors": [
        {"code": 422, "message": "email: A valid email is required.",
         "details": {"email": ["A valid email is required."]}, "type": None},
        {"code": 422, "message": "firstname: This value is too long.",
         "details": {"firstname": ["This value is too long."]}, "type": None},
    ]})  # fmt: skip

    with pytest.raises(PermanentProviderError) as raised:
        api.contact_create({"email": "not-an-address", "firstname": "A" * 300})

    assert (raised.value.status, raised.value.message) == (
        422, "email: A valid email is required.; firstname: This value is too long.",
    )  # fmt: skip


def test_an_error_without_the_envelope_falls_back_to_the_body(api, http):
    http.get(f"{API}/contacts/47", status=400, body="Bad Request")

    with pytest.raises(PermanentProviderError) as raised:
        api.contact_get(47)

    assert raised.value.message == "Bad Request"


def test_a_get_failing_with_500_is_tried_three_times_then_transient(api, http, waits):
    http.get(f"{API}/contacts", status=500, json=errors(500, "Internal Server Error"))

    with pytest.raises(TransientProviderError) as raised:
        api.contact_find_by_email("anna@example.ch")

    assert (raised.value.status, raised.value.message) == (500, "Internal Server Error")
    assert (len(http.calls), waits) == (3, [0.5, 1.0])


# Webhooks ----------------------------------------------------------------------------------------


def test_hooks_read_the_list_keyed_by_id(api, http):
    other = hook_data(id=32, name="Zapier", webhookUrl="https://hooks.zapier.com/x", triggers=[],
                      isPublished=False)  # fmt: skip
    del other["secret"]
    http.get(f"{API}/hooks", json={"total": 2, "hooks": {"31": hook_data(), "32": other}},
             match=[matchers.query_param_matcher({"start": "0", "limit": "100"})])  # fmt: skip

    assert api.hooks() == [
        HUB_HOOK,
        Hook(id=32, name="Zapier", webhook_url="https://hooks.zapier.com/x", secret="", triggers=(),
             is_published=False),
    ]  # fmt: skip
    assert_headers(http.calls[0])


def test_hook_create_posts_mautics_field_names(api, http):
    http.post(f"{API}/hooks/new", status=201, json={"hook": hook_data()})

    created = api.hook_create(name="HYPERVISUAL Hub QA", webhook_url=HOOK_URL, secret=HOOK_SECRET, triggers=TRIGGERS)

    assert created == HUB_HOOK
    assert sent(http.calls[0]) == ("POST", "/api/hooks/new", {}, {
        "name": "HYPERVISUAL Hub QA", "webhookUrl": HOOK_URL, "secret": HOOK_SECRET,
        "triggers": ["mautic.email_on_send", "mautic.email_on_open", "mautic.lead_post_save_update"],
        "isPublished": True,
    })  # fmt: skip
    assert_headers(http.calls[0], body=True)


def test_hook_create_is_not_retried(api, http, waits):
    http.post(f"{API}/hooks/new", status=503)

    with pytest.raises(TransientProviderError):
        api.hook_create(name="Hub", webhook_url=HOOK_URL, secret=HOOK_SECRET, triggers=TRIGGERS)

    assert (len(http.calls), waits) == (1, [])


def test_hook_update_puts_the_whole_hook_so_dropped_triggers_go(api, http):
    # Mautic removes the events missing from `triggers` only on PUT (WebhookApiController::preSaveEntity).
    http.put(f"{API}/hooks/31/edit", json={"hook": hook_data(secret="rotated", triggers=["mautic.email_on_open"])})

    updated = api.hook_update(31, name="HYPERVISUAL Hub QA", webhook_url=HOOK_URL, secret="rotated",
                              triggers=[WebhookEvent.EMAIL_ON_OPEN])  # fmt: skip

    assert updated == replace(HUB_HOOK, secret="rotated", triggers=("mautic.email_on_open",))
    assert sent(http.calls[0]) == ("PUT", "/api/hooks/31/edit", {}, {
        "name": "HYPERVISUAL Hub QA", "webhookUrl": HOOK_URL, "secret": "rotated",
        "triggers": ["mautic.email_on_open"], "isPublished": True,
    })  # fmt: skip
    assert_headers(http.calls[0], body=True)


@pytest.mark.parametrize(
    ("status", "body"), [(200, {"hook": hook_data()}), (404, errors(404, "Item was not found."))],
    ids=["deleted", "gone"],
)  # fmt: skip
def test_hook_delete(api, http, status, body):
    http.delete(f"{API}/hooks/31/delete", status=status, json=body)

    assert api.hook_delete(31) is None
    assert sent(http.calls[0]) == ("DELETE", "/api/hooks/31/delete", {}, None)
    assert_headers(http.calls[0])


def test_hook_delete_refused_otherwise_is_an_error(api, http):
    refusal = errors(403, "You do not have access to the requested area/action.")
    http.delete(f"{API}/hooks/31/delete", status=403, json=refusal)

    with pytest.raises(AuthorizationError, match="You do not have access"):
        api.hook_delete(31)


def test_webhook_events_are_mautics_names():
    assert [(event.name, event.value) for event in WebhookEvent] == [
        ("EMAIL_ON_SEND", "mautic.email_on_send"),
        ("EMAIL_ON_OPEN", "mautic.email_on_open"),
        ("LEAD_POST_SAVE_NEW", "mautic.lead_post_save_new"),
        ("LEAD_POST_SAVE_UPDATE", "mautic.lead_post_save_update"),
    ]


# Webhook signatures --------------------------------------------------------------------------------


def test_the_documented_test_vector_signs_and_verifies():
    assert webhook_signature(VECTOR_BODY, HOOK_SECRET) == VECTOR_SIGNATURE
    assert signature_valid(VECTOR_BODY, VECTOR_SIGNATURE, HOOK_SECRET) is True


@pytest.mark.parametrize(
    ("raw_body", "presented", "secret"),
    [
        (VECTOR_BODY.replace(b'"points":0', b'"points":1'), VECTOR_SIGNATURE, HOOK_SECRET),
        (VECTOR_BODY + b"\n", VECTOR_SIGNATURE, HOOK_SECRET),
        (VECTOR_BODY, VECTOR_SIGNATURE, "myOtherWebhookSecretKey"),
        (VECTOR_BODY, VECTOR_SIGNATURE, ""),
        (VECTOR_BODY, "", HOOK_SECRET),
        (VECTOR_BODY, VECTOR_SIGNATURE.rstrip("="), HOOK_SECRET),
        (VECTOR_BODY, "Grüezi", HOOK_SECRET),
    ],
    ids=["tampered", "trailing-newline", "wrong-secret", "empty-secret", "empty-header", "unpadded", "non-ascii"],
)
def test_a_tampered_body_a_wrong_secret_or_a_bad_header_fails(raw_body, presented, secret):
    assert signature_valid(raw_body, presented, secret) is False
