"""Mautic 5 sandbox: a stateful stand-in for the API subset the Hub uses (DESIGN.md §7).

One emulated Mautic per API user (`ensure_instance` provisions one), kept as one JSON document: its
contacts, template e-mails, webhooks, the e-mails it "sent" (the sent log: Mautic's email stats) and
the webhook deliveries it attempted. Shapes follow research/api-contracts.md §3 and mautic/mautic 5.x:

- Auth (ApiBundle/EventListener/ApiSubscriber.php::onKernelResponse): a request without valid
  credentials answers 401 `{"errors": [{"message", "code", "type"}]}`; "API authorization denied."
  (translations en_US/messages.ini `mautic.api.auth.error.accessdenied`) with type "access_denied",
  or the OAuth2 server's error_description ("The access token provided is invalid." / "... has
  expired.") with type "invalid_grant". Other refusals are FetchCommonApiController::returnError's
  `{"errors": [{"code", "message", "details", "type": null}]}`, 404 "Item was not found."
  (CoreBundle flashes.ini `mautic.core.error.notfound`).
- Lists: contacts come from LeadRepository keyed by id, `total` a string (contract §3.2); e-mails and
  hooks come from a Paginator and are JSON arrays (ApiBundle/Helper/EntityResultHelper.php).
- Webhooks (WebhookBundle/Entity/Webhook.php::loadApiMetadata; Controller/Api/WebhookApiController.php):
  fields `id, name, description, webhookUrl, secret, eventsOrderbyDir, category, triggers` plus the
  publish details, answered under `hook` / `hooks`; a PATCH adds `triggers`, a PUT replaces them
  (preSaveEntity); WebhookModel::saveEntity generates a secret when none is given.
- Deliveries (WebhookBundle/Http/Client.php, Model/WebhookModel.php): `{"<event>": [payload + timestamp]}`
  as PHP's json_encode writes it (`\\/`, `\\uXXXX`), signed base64(HMAC-SHA256(secret, body)); sent at
  once (Mautic's default immediate_process queue mode), one Celery task per hook
  (`deliver_mautic_webhook`), never retried; a 410 unpublishes the hook.
- Payloads (EmailBundle/EventListener/WebhookSubscriber.php, LeadBundle/EventListener/WebhookSubscriber.php):
  email_on_send `{email, contact, contentHash, idHash, subject, source, headers, content, tokens}`
  (content and tokens because `webhook_email_details` defaults to true); email_on_open `{stat}` with
  the Stat's API properties (EmailBundle/Entity/Stat.php::loadApiMetadata: id, emailAddress, ipAddress,
  dateSent, isRead, isFailed, dateRead, retryCount, source, openCount, lastOpened, sourceId,
  trackingHash, viewedInBrowser, lead, email; `tokens` is not among them), the lead in its list group
  (Lead.php: id, points, color, fields); lead_post_save_new / _update `{contact}` when a save changed
  something, _new when that save identified the contact.
- Sending (EmailBundle/Controller/Api/EmailApiController.php::sendLeadAction): token names are wrapped
  in `{}` when bare and their values go through InputHelper::html, which keeps HTML but drops the tags
  and attributes of Joomla's filter block list (`_clean_token_value` emulates it).

Where the sandbox is narrower than Mautic it refuses instead of doing something else: a segment ("list")
e-mail cannot be sent to one contact, and search commands other than email/id/ids/tag/segment/name are
read as plain text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import string
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.urls import reverse

from integrations.clients.base import ProviderError
from integrations.health import redis_client
from sandbox.store import DocumentMissing, JsonStore
from sandbox.webhooks import post_webhook

KEY_PREFIX = "hv:sandbox:mautic"
store = JsonStore(KEY_PREFIX)
INSTANCES_SET = "instances"

# The version the sandbox claims in the Mautic-Version header every API answer carries.
MAUTIC_VERSION = "5.2.1"
# OAuth2 access tokens live 60 minutes (ApiBundle config api_oauth2_access_token_lifetime).
ACCESS_TOKEN_SECONDS = 3600
# A token document outlives its expiry by a day, so that an expired token is told apart from an unknown one.
TOKEN_KEEP_SECONDS = ACCESS_TOKEN_SECONDS + 86400
TOKEN_LENGTH = 86
TOKEN_ALPHABET = string.ascii_letters + string.digits
# The API user every emulated Mautic has (createdBy of what the API creates).
API_USER_ID = 1
DEFAULT_PAGE_LIMIT = 30
# Kept per instance for the sandbox page; older entries are dropped.
MAX_SENT_RECORDS = 500
MAX_DELIVERY_RECORDS = 200

# Webhook event types (LeadEvents, EmailEvents; contract §3.3).
LEAD_POST_SAVE_NEW = "mautic.lead_post_save_new"
LEAD_POST_SAVE_UPDATE = "mautic.lead_post_save_update"
EMAIL_ON_SEND = "mautic.email_on_send"
EMAIL_ON_OPEN = "mautic.email_on_open"
# What GET /api/hooks/triggers lists (label per WebhookSubscriber::onWebhookBuild); only the four above fire here.
TRIGGERS = {
    "mautic.company_post_delete": "Company Delete Event",
    "mautic.company_post_save": "Company Create/Update Event",
    "mautic.email_on_open": "Email Open Event",
    "mautic.email_on_send": "Email Send Event",
    "mautic.form_on_submit": "Form Submit Event",
    "mautic.lead_channel_subscription_changed": "Contact Channel Subscription Change Event",
    "mautic.lead_company_change": "Contact Company Subscription Change",
    "mautic.lead_list_change": "Contact Segment Membership Change",
    "mautic.lead_points_change": "Contact Point Change (Increase / Decrease) Event",
    "mautic.lead_post_delete": "Contact Delete Event",
    "mautic.lead_post_save_new": "Contact Identified Event",
    "mautic.lead_post_save_update": "Contact Updated Event",
    "mautic.page_on_hit": "Page Hit Event",
    "mautic.sms_on_send": "Send SMS Event",
}

# Outcomes of a delivery attempt (WebhookModel::processWebhook: non-2xx is logged, 410 unpublishes).
DELIVERED, FAILED, UNPUBLISHED = "delivered", "failed", "unpublished"
GONE_STATUS = 410

EMAIL_TEMPLATE, EMAIL_LIST = "template", "list"

# The contact fields of a fresh Mautic (InstallBundle LeadFieldData, in order): alias -> (id, label, type, group).
FIELDS: dict[str, tuple[str, str, str, str]] = {
    "title": ("1", "Title", "lookup", "core"),
    "firstname": ("2", "First Name", "text", "core"),
    "lastname": ("3", "Last Name", "text", "core"),
    "company": ("4", "Company", "text", "core"),
    "position": ("5", "Position", "text", "core"),
    "email": ("6", "Email", "email", "core"),
    "mobile": ("7", "Mobile", "tel", "core"),
    "phone": ("8", "Phone", "tel", "core"),
    "points": ("9", "Points", "number", "core"),
    "fax": ("10", "Fax", "tel", "core"),
    "address1": ("11", "Address Line 1", "text", "core"),
    "address2": ("12", "Address Line 2", "text", "core"),
    "city": ("13", "City", "text", "core"),
    "state": ("14", "State", "region", "core"),
    "zipcode": ("15", "Zip Code", "text", "core"),
    "country": ("16", "Country", "country", "core"),
    "preferred_locale": ("17", "Preferred Locale", "locale", "core"),
    "timezone": ("18", "Preferred Timezone", "timezone", "core"),
    "last_active": ("19", "Date Last Active", "datetime", "core"),
    "attribution_date": ("20", "Attribution Date", "datetime", "core"),
    "attribution": ("21", "Attribution", "number", "core"),
    "website": ("22", "Website", "url", "core"),
    "facebook": ("23", "Facebook", "text", "social"),
    "foursquare": ("24", "Foursquare", "text", "social"),
    "instagram": ("25", "Instagram", "text", "social"),
    "linkedin": ("26", "LinkedIn", "text", "social"),
    "skype": ("27", "Skype", "text", "social"),
    "twitter": ("28", "Twitter", "text", "social"),
}
# Fields whose value the API sets; points and last_active are the contact's own properties.
WRITABLE_FIELDS = tuple(alias for alias in FIELDS if alias not in ("points", "last_active"))
# A contact with none of these is anonymous (Lead::isAnonymous): it fires no webhook and has no dateIdentified.
IDENTIFYING_FIELDS = ("firstname", "lastname", "company", "email")
# Sortable properties besides the field aliases (orderBy takes snake_case columns).
ORDER_COLUMNS = {"id": "id", "date_added": "dateAdded", "date_modified": "dateModified", "points": "points"}
WHERE_EXPRESSIONS = ("eq", "neq", "like")

# Messages, as Mautic's translations word them.
NOT_FOUND = "Item was not found."
BAD_REQUEST = "This is a bad request."
ACCESS_DENIED = "API authorization denied."
INVALID_TOKEN = "The access token provided is invalid."  # noqa: S105 (a message, not a secret)
EXPIRED_TOKEN = "The access token provided has expired."  # noqa: S105
INVALID_EMAIL = "A valid email is required."
NAME_REQUIRED = "A name is required."
URL_REQUIRED = "A valid URL is required."
INVALID_JSON = "Invalid json message received"

# InputHelper::html cleans with Joomla's InputFilter in block-list mode: these tags and attributes go,
# their text stays. <script> is kept (InputHelper shields it from the filter), so it is not listed.
BLOCKED_TAGS = (
    "applet", "body", "bgsound", "base", "basefont", "embed", "frame", "frameset", "head", "html", "id", "iframe",
    "ilayer", "layer", "link", "meta", "name", "object", "style", "title", "xml",
)  # fmt: skip
BLOCKED_ATTRIBUTES = ("action", "background", "codebase", "dynsrc", "formaction", "lowsrc")
BLOCKED_TAG_PATTERN = re.compile(r"</?(?:" + "|".join(BLOCKED_TAGS) + r")\b[^>]*>", re.IGNORECASE)
TAG_PATTERN = re.compile(r"<([a-zA-Z][\w:-]*)(\s[^<>]*?)?(/?)>")
ATTRIBUTE_PATTERN = re.compile(r"""([^\s=/]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?""")
UNSAFE_URL = re.compile(r"^\s*(?:javascript|vbscript|data|behaviour):", re.IGNORECASE)
BRACED_TOKEN = re.compile(r"^{.*?}$", re.DOTALL)
CONTACT_FIELD_TOKEN = re.compile(r"{contactfield=([a-zA-Z0-9_]+)(?:\|([^}]*))?}")
WHERE_KEY = re.compile(r"^where\[(\d+)\]\[(col|expr|val)\]$")


class SendFailed(Exception):
    """Mautic did not send the e-mail; the API answers 200 {"success": false, "failed": [...]}."""


class ApiError(Exception):
    """A refusal of the emulated API, with the exact JSON body and status Mautic answers."""

    def __init__(self, status: int, body: dict) -> None:
        self.status = status
        self.body = body
        super().__init__(f"{status} {body}")


def _error(code: int, message: str, *, details: Any = None) -> ApiError:
    """FetchCommonApiController::returnError's envelope."""
    error = {"code": code, "message": message, "details": [] if details is None else details, "type": None}
    return ApiError(code, {"errors": [error]})


def _not_found() -> ApiError:
    return _error(404, NOT_FOUND)


def _bad_request(message: str = BAD_REQUEST) -> ApiError:
    return _error(400, message)


def _form_error(code: int, details: dict[str, list[str]]) -> ApiError:
    """A form that did not validate: "field: message" joined by ", " (FormErrorMessagesTrait), the details by field."""
    message = ", ".join(f"{field}: {' '.join(messages)}" for field, messages in details.items())
    return _error(code, message, details=details)


def _unauthorized(message: str, error_type: str) -> ApiError:
    """ApiSubscriber::onKernelResponse's rewrite of a 401 (no `details` in this envelope)."""
    return ApiError(401, {"errors": [{"message": message, "code": 401, "type": error_type}]})


def _oauth_error(status: int, error: str, description: str) -> ApiError:
    """The OAuth2 server's own answer on /oauth/v2/token (friendsofsymfony/oauth2-php)."""
    return ApiError(status, {"error": error, "error_description": description})


# Instances


def ensure_instance(
    username: str, password: str, *, client_id: str = "", client_secret: str = "", name: str = ""
) -> dict:
    """Provision the Mautic an API user signs in to (idempotent).

    Called again, it takes the new password, name and API credentials; credentials left blank are kept,
    or generated the first time. Returns {username, name, client_id, client_secret, site_url}.
    """
    if not username or not password:
        raise ValueError("A Mautic sandbox needs a user name and a password")
    if client_id and any(
        other != username and (instance(other) or {}).get("client_id") == client_id for other in usernames()
    ):
        raise ValueError(f"The client id {client_id!r} belongs to another Mautic sandbox instance")
    store.put_new(_instance_key(username), _new_instance(username))
    store.add_to_set(INSTANCES_SET, username)
    with store.update(_instance_key(username)) as document:
        profile = document["instance"]
        profile["password"] = password
        profile["name"] = name or profile["name"] or username
        profile["client_id"] = client_id or profile["client_id"] or f"1_{_random(50).lower()}"
        profile["client_secret"] = client_secret or profile["client_secret"] or _random(50).lower()
    return _profile(document)


def instance(username: str) -> dict | None:
    """{username, name, client_id, client_secret, site_url} of an instance, or None."""
    document = store.get(_instance_key(username)) if username else None
    return _profile(document) if document else None


def usernames() -> list[str]:
    return store.set_members(INSTANCES_SET)


def site_url() -> str:
    """The sandbox's site root as the Hub reaches it (Mautic's site_url, sent as X-Origin-Base-URL)."""
    return settings.HV_PUBLIC_URL + reverse("sandbox:mautic-dashboard").rstrip("/")


def _new_instance(username: str) -> dict:
    profile = {
        "username": username, "password": "", "name": "", "client_id": "", "client_secret": "",
        "created_at": _now(),
    }  # fmt: skip
    counters = {"contact": 0, "email": 0, "hook": 0, "stat": 0}
    return {"instance": profile, "counters": counters, "contacts": [], "emails": [], "hooks": [], "sent": [],
            "deliveries": []}  # fmt: skip


def _profile(document: dict) -> dict:
    profile = document["instance"]
    return {
        "username": profile["username"], "name": profile["name"], "client_id": profile["client_id"],
        "client_secret": profile["client_secret"], "site_url": site_url(),
    }  # fmt: skip


def _instance_key(username: str) -> str:
    return f"instance:{username}"


def _instance(username: str) -> dict:
    document = store.get(_instance_key(username)) if username else None
    if document is None:
        raise _unauthorized(ACCESS_DENIED, "access_denied")
    return document


@contextmanager
def _operation(username: str) -> Iterator[tuple[dict, list[tuple[str, dict]]]]:
    """Change an instance under its lock, then send the webhooks of the events the change appended.

    Yields the document and a list to append (event type, payload) to; each payload is rendered by the
    block from the state it leaves, as Mautic serialises it when queueing. A refusal leaves the store as it was.
    """
    events: list[tuple[str, dict]] = []
    try:
        with store.update(_instance_key(username)) as document:
            yield document, events
            deliveries = _deliveries(document, events)
    except DocumentMissing:
        raise _unauthorized(ACCESS_DENIED, "access_denied") from None
    _send(username, deliveries)


# Authentication


def authenticate(authorization: str) -> str:
    """The user name an Authorization header (Basic user:password or Bearer token) signs in as; else ApiError 401."""
    scheme, _space, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "basic" and credentials:
        try:
            username, separator, password = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise _unauthorized(ACCESS_DENIED, "access_denied") from None
        document = store.get(_instance_key(username)) if separator and username else None
        if document is None or not hmac.compare_digest(document["instance"]["password"].encode(), password.encode()):
            raise _unauthorized(ACCESS_DENIED, "access_denied")
        return username
    if scheme.lower() == "bearer" and credentials:
        token = store.get(_token_key(credentials))
        if token is None or store.get(_instance_key(token["username"])) is None:
            raise _unauthorized(INVALID_TOKEN, "invalid_grant")
        if time.time() >= token["issued_at"] + token["expires_in"]:
            raise _unauthorized(EXPIRED_TOKEN, "invalid_grant")
        return token["username"]
    raise _unauthorized(ACCESS_DENIED, "access_denied")


def issue_token(grant_type: str, client_id: str, client_secret: str) -> dict:
    """POST /oauth/v2/token with the client_credentials grant: a bearer token for 3600 s, no refresh token."""
    if grant_type != "client_credentials":
        # The sandbox knows no users to authorize, so only the machine-to-machine grant is offered.
        raise _oauth_error(400, "invalid_request", "Invalid grant_type parameter or parameter missing")
    if not client_id:
        raise _oauth_error(400, "invalid_client", "Client id was not found in the headers or body")
    owner = next(
        (username for username in usernames() if (store.get(_instance_key(username)) or {}).get("instance", {})
         .get("client_id") == client_id),
        None,
    )  # fmt: skip
    document = store.get(_instance_key(owner)) if owner else None
    if document is None or not hmac.compare_digest(
        document["instance"]["client_secret"].encode(), client_secret.encode()
    ):
        raise _oauth_error(400, "invalid_client", "The client credentials are invalid")
    access_token = _random(TOKEN_LENGTH)
    record = {"username": owner, "client_id": client_id, "issued_at": time.time(), "expires_in": ACCESS_TOKEN_SECONDS}
    store.put(_token_key(access_token), record, ttl_seconds=TOKEN_KEEP_SECONDS)
    return {"access_token": access_token, "expires_in": ACCESS_TOKEN_SECONDS, "token_type": "bearer", "scope": None}


def expire_token(access_token: str) -> None:
    """Test hook: make an access token one second past its lifetime."""
    record = store.get(_token_key(access_token))
    if record is None:
        raise KeyError(access_token)
    record["issued_at"] = time.time() - record["expires_in"] - 1
    store.put(_token_key(access_token), record, ttl_seconds=TOKEN_KEEP_SECONDS)


def _token_key(access_token: str) -> str:
    return f"token:{access_token}"


# Contacts


def contacts(username: str) -> list[dict]:
    """Every contact as the API writes it, oldest first."""
    document = _instance(username)
    return [_contact_out(document, contact) for contact in document["contacts"]]


def find_contacts(username: str, params: Mapping[str, Any]) -> tuple[int, list[dict]]:
    """GET /api/contacts: (total before paging, the page) for `search`, `where[n][...]`, orderBy, start, limit."""
    document = _instance(username)
    found = [contact for contact in document["contacts"] if _matches_search(contact, str(params.get("search", "")))]
    for col, expr, val in _where(params):
        found = [contact for contact in found if _matches_where(contact, col, expr, val)]
    found = _ordered(found, str(params.get("orderBy", "") or "id"), str(params.get("orderByDir", "") or "asc"))
    start = _non_negative(params.get("start"), 0)
    limit = _non_negative(params.get("limit"), DEFAULT_PAGE_LIMIT) or DEFAULT_PAGE_LIMIT
    return len(found), [_contact_out(document, contact) for contact in found[start : start + limit]]


def get_contact(username: str, contact_id: int) -> dict:
    document = _instance(username)
    return _contact_out(document, _find(document, "contacts", contact_id))


def contact_activity(username: str, contact_id: int, params: Mapping[str, Any]) -> dict:
    """GET /api/contacts/{id}/activity: the contact's e-mails sent, as `email.sent` timeline events.

    Only `email.sent` is kept (the Hub asks for it with filters[includeEvents][]); filters[dateFrom] (`Y-m-d H:i:s`,
    UTC) drops what was sent before. Each event carries the stat in details, with its `email_id` [UNCONFIRMED shape].
    """
    document = _instance(username)
    _find(document, "contacts", contact_id)
    included = params.getlist("filters[includeEvents][]") if hasattr(params, "getlist") else []
    date_from = str(params.get("filters[dateFrom]") or "")
    since = datetime.strptime(date_from, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) if date_from else None
    events = []
    if not included or "email.sent" in included:
        for stat in document["sent"]:
            sent_at = datetime.fromisoformat(stat["dateSent"])
            if stat["contact_id"] != contact_id or (since and sent_at < since):
                continue
            events.append({
                "event": "email.sent", "eventId": f"email.sent{stat['id']}", "eventLabel": stat["subject"],
                "eventType": "Email sent", "timestamp": stat["dateSent"],
                "details": {"stat": {"id": stat["id"], "email_id": stat["email_id"], "dateSent": stat["dateSent"],
                                     "subject": stat["subject"]}, "type": "sent"},
            })  # fmt: skip
    events.sort(key=lambda event: event["timestamp"], reverse=True)
    return {"events": events, "filters": {}, "order": ["timestamp", "DESC"], "types": {}, "total": len(events),
            "page": 1, "limit": len(events) or 25, "maxPages": 1}  # fmt: skip


def create_contact(username: str, payload: Any) -> tuple[int, dict]:
    """POST /api/contacts/new: (201, new contact), or (200, the contact with that e-mail, merged) like
    LeadModel::checkForDuplicateContact."""
    payload = _object(payload)
    _check_contact_payload(payload)
    with _operation(username) as (document, events):
        email = _text(payload.get("email") or "").strip().casefold()
        existing = next(
            (c for c in document["contacts"] if email and (c["fields"].get("email") or "").casefold() == email), None
        )
        if existing is not None:
            _save_contact(document, existing, payload, events=events, replace=False)
            return 200, _contact_out(document, existing)
        contact = _new_contact(document)
        _save_contact(document, contact, payload, events=events, replace=False, new=True)
        return 201, _contact_out(document, contact)


def edit_contact(username: str, contact_id: int, payload: Any, *, replace: bool) -> tuple[int, dict]:
    """PATCH (`replace` False: the fields sent change, 404 if missing) or PUT (every field replaced; a
    contact is created, under a new id, when none has this id) of /api/contacts/{id}/edit."""
    payload = _object(payload)
    _check_contact_payload(payload)
    with _operation(username) as (document, events):
        contact = next((c for c in document["contacts"] if c["id"] == contact_id), None)
        if contact is None:
            if not replace:
                raise _not_found()
            contact = _new_contact(document)
            _save_contact(document, contact, payload, events=events, replace=True, new=True)
            return 201, _contact_out(document, contact)
        _save_contact(document, contact, payload, events=events, replace=replace)
        return 200, _contact_out(document, contact)


def contact_change_email(username: str, contact_id: int, new_email: str) -> dict:
    """What a marketer does in Mautic's contact form: a new e-mail address; fires lead_post_save_update."""
    _status, contact = edit_contact(username, contact_id, {"email": new_email}, replace=False)
    return contact


def _new_contact(document: dict) -> dict:
    document["counters"]["contact"] += 1
    contact = {
        "id": document["counters"]["contact"], "dateAdded": _now(), "dateModified": None, "dateIdentified": None,
        "points": 0, "fields": dict.fromkeys(WRITABLE_FIELDS), "tags": [],
    }  # fmt: skip
    document["contacts"].append(contact)
    return contact


def _check_contact_payload(payload: dict) -> None:
    email = payload.get("email")
    if email not in (None, ""):
        try:
            validate_email(_text(email).strip())
        except ValidationError:
            # Mautic 5 answers 422 when a field constraint says so (CommonApiController::processForm).
            raise _form_error(422, {"email": [INVALID_EMAIL]}) from None


def _save_contact(
    document: dict, contact: dict, payload: dict, *, events: list[tuple[str, dict]], replace: bool, new: bool = False
) -> None:
    """Write the payload's fields and tags; record the webhook event when something changed (and not anonymous)."""
    before = json.dumps([contact["fields"], contact["tags"]])
    overwrite_with_blank = replace or _flag(payload.get("overwriteWithBlank", False))
    if replace:
        contact["fields"] = dict.fromkeys(WRITABLE_FIELDS)
        contact["tags"] = []
    for alias in WRITABLE_FIELDS:
        if alias not in payload:
            continue
        value = payload[alias]
        text = "" if value is None else _text(value).strip()
        if text or overwrite_with_blank:
            contact["fields"][alias] = text or None
    if "tags" in payload:
        _apply_tags(contact, payload["tags"])
    changed = new or before != json.dumps([contact["fields"], contact["tags"]])
    if not changed:
        return
    now = _now()
    if not new:
        contact["dateModified"] = now
    identified_now = contact["dateIdentified"] is None and any(contact["fields"].get(a) for a in IDENTIFYING_FIELDS)
    if identified_now:
        contact["dateIdentified"] = now
    if contact["dateIdentified"] is None:
        return
    event = LEAD_POST_SAVE_NEW if identified_now else LEAD_POST_SAVE_UPDATE
    events.append((event, {"contact": _contact_out(document, contact)}))


def _apply_tags(contact: dict, tags: Any) -> None:
    """`tags`: a list or a comma-separated text; a leading "-" removes the tag (contract §3.2)."""
    if isinstance(tags, str):
        tags = tags.split(",")
    if not isinstance(tags, list):
        raise _bad_request()
    for tag in (_text(tag).strip() for tag in tags):
        if tag.startswith("-"):
            contact["tags"] = [kept for kept in contact["tags"] if kept != tag[1:]]
        elif tag and tag not in contact["tags"]:
            contact["tags"].append(tag)


def _matches_search(contact: dict, search: str) -> bool:
    """Mautic's search string: a command (email:, id:, ids:, tag:, segment:, name:) or plain text."""
    search = search.strip()
    if not search:
        return True
    command, separator, value = search.partition(":")
    value = value.strip().strip('"').strip("'")
    command = command.strip().lower()
    fields = contact["fields"]
    if separator and command == "email":
        return _like(fields.get("email"), value) if "*" in value or "%" in value else _equal(fields.get("email"), value)
    if separator and command in ("id", "ids"):
        return str(contact["id"]) in [part.strip() for part in value.split(",")]
    if separator and command == "tag":
        return any(tag.casefold() == value.casefold() for tag in contact["tags"])
    if separator and command == "segment":
        return False  # the sandbox has no segments
    if separator and command == "name":
        return any(_like(fields.get(alias), f"*{value}*") for alias in ("firstname", "lastname"))
    return any(_like(fields.get(alias), f"*{search}*") for alias in ("firstname", "lastname", "email", "company"))


def _where(params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The `where[n][col|expr|val]` statements of a query, in order of n."""
    statements: dict[int, dict[str, str]] = {}
    for key in params:
        if match := WHERE_KEY.match(key):
            statements.setdefault(int(match[1]), {})[match[2]] = str(params[key])
    where = []
    for _index, statement in sorted(statements.items()):
        col = statement.get("col", "").removeprefix("l.")
        expr = statement.get("expr", "")
        if expr not in WHERE_EXPRESSIONS or (col != "id" and col not in FIELDS):
            raise _bad_request()
        where.append((col, expr, statement.get("val", "")))
    return where


def _matches_where(contact: dict, col: str, expr: str, val: str) -> bool:
    value = str(contact["id"]) if col == "id" else _value(contact, col)
    if expr == "like":
        return _like(value, val.replace("%", "*"))
    equal = _equal(value, val)
    return equal if expr == "eq" else not equal


def _ordered(found: list[dict], order_by: str, direction: str) -> list[dict]:
    column = order_by.removeprefix("l.")
    if direction.lower() not in ("asc", "desc") or (column not in ORDER_COLUMNS and column not in FIELDS):
        raise _bad_request()

    def key(contact: dict) -> tuple:
        value = contact[ORDER_COLUMNS[column]] if column in ORDER_COLUMNS else _value(contact, column)
        return (value is None, value if isinstance(value, int) else str(value or "").casefold(), contact["id"])

    return sorted(found, key=key, reverse=direction.lower() == "desc")


def _contact_out(document: dict, contact: dict) -> dict:
    """A contact as the API and the lead webhooks write it (contract §3.4)."""
    groups: dict[str, dict] = {"core": {}, "social": {}}
    for alias, (field_id, label, field_type, group) in FIELDS.items():
        groups[group][alias] = {
            "id": field_id, "label": label, "alias": alias, "type": field_type, "group": group,
            "value": _value(contact, alias),
        }  # fmt: skip
    return {
        "id": contact["id"], "isPublished": True, "dateAdded": contact["dateAdded"],
        "dateModified": contact["dateModified"], "createdBy": API_USER_ID,
        "createdByUser": document["instance"]["username"], "owner": None, "points": contact["points"], "color": None,
        "lastActive": None, "dateIdentified": contact["dateIdentified"], "ipAddresses": [],
        "fields": {
            "core": groups["core"], "social": groups["social"], "personal": [], "professional": [],
            "all": {"id": contact["id"], **{alias: _value(contact, alias) for alias in FIELDS}},
        },
        "tags": [{"tag": tag} for tag in contact["tags"]], "utmtags": [], "doNotContact": [],
    }  # fmt: skip


def _contact_in_list_group(document: dict, contact: dict) -> dict:
    """The contact of a stat in the `leadList` serialization group (Lead.php: id, points, color, fields)."""
    full = _contact_out(document, contact)
    return {"id": full["id"], "points": full["points"], "color": full["color"], "fields": full["fields"]}


def _value(contact: dict, alias: str) -> Any:
    if alias == "points":
        return contact["points"]
    return contact["fields"].get(alias)


# Template e-mails


def ensure_template_email(
    username: str, *, name: str, subject: str, body: str, language: str, email_type: str = EMAIL_TEMPLATE
) -> int:
    """Provision an e-mail by name (idempotent: the same name updates it) and return its id."""
    if email_type not in (EMAIL_TEMPLATE, EMAIL_LIST):
        raise ValueError(f"Unknown e-mail type {email_type!r}")
    with _operation(username) as (document, _events):
        email = next((e for e in document["emails"] if e["name"] == name), None)
        if email is None:
            document["counters"]["email"] += 1
            email = {
                "id": document["counters"]["email"], "name": name, "dateAdded": _now(), "dateModified": None,
                "readCount": 0, "sentCount": 0, "revision": 1,
            }  # fmt: skip
            document["emails"].append(email)
        elif (email["subject"], email["customHtml"], email["language"], email["emailType"]) != (
            subject, body, language, email_type,
        ):  # fmt: skip
            email["dateModified"] = _now()
            email["revision"] += 1
        email.update({"subject": subject, "customHtml": body, "language": language, "emailType": email_type})
        return email["id"]


def list_emails(username: str, params: Mapping[str, Any]) -> tuple[int, list[dict]]:
    """GET /api/emails: (total, page) for a plain-text `search` of name and subject, publishedOnly, start, limit."""
    document = _instance(username)
    text = str(params.get("search", "")).strip().casefold()
    found = [e for e in document["emails"] if not text or text in f"{e['name']}\n{e['subject']}".casefold()]
    start = _non_negative(params.get("start"), 0)
    limit = _non_negative(params.get("limit"), DEFAULT_PAGE_LIMIT) or DEFAULT_PAGE_LIMIT
    return len(found), [_email_out(document, email) for email in found[start : start + limit]]


def get_email(username: str, email_id: int) -> dict:
    document = _instance(username)
    return _email_out(document, _find(document, "emails", email_id))


def _email_out(document: dict, email: dict) -> dict:
    """An e-mail as the API (emailDetails) and the e-mail webhooks write it (developer docs, Email properties)."""
    return {
        "isPublished": True, "dateAdded": email["dateAdded"], "dateModified": email["dateModified"],
        "createdBy": API_USER_ID, "createdByUser": document["instance"]["username"], "modifiedBy": None,
        "modifiedByUser": None, "id": email["id"], "name": email["name"], "subject": email["subject"],
        "language": email["language"], "category": None, "fromAddress": None, "fromName": None,
        "replyToAddress": None, "bccAddress": None, "useOwnerAsMailer": False,
        "utmTags": {"utmSource": None, "utmMedium": None, "utmCampaign": None, "utmContent": None},
        "customHtml": email["customHtml"], "plainText": None, "template": "blank", "emailType": email["emailType"],
        "publishUp": None, "publishDown": None, "readCount": email["readCount"], "sentCount": email["sentCount"],
        "revision": email["revision"], "assetAttachments": [], "variantStartDate": None, "variantSentCount": 0,
        "variantReadCount": 0, "variantParent": None, "variantChildren": [], "translationParent": None,
        "translationChildren": [], "unsubscribeForm": None, "dynamicContent": [], "lists": [], "headers": [],
    }  # fmt: skip


# Sending and opening


def send_email(username: str, email_id: int, contact_id: int, payload: Any) -> dict:
    """POST /api/emails/{id}/contact/{contactId}/send: render, log the stat and fire email_on_send.

    Returns the sent-log entry. A list (segment) e-mail is refused with 400: the sandbox sends template e-mails
    only; a contact without an e-mail address raises SendFailed (nothing is logged or fired).
    """
    payload = _object(payload)
    tokens = _clean_tokens(payload.get("tokens") or {})
    with _operation(username) as (document, events):
        email = _find(document, "emails", email_id)
        contact = _find(document, "contacts", contact_id)
        if email["emailType"] != EMAIL_TEMPLATE:
            raise _bad_request("The sandbox sends only template e-mails to one contact; this is a segment e-mail.")
        if not contact["fields"].get("email"):
            raise SendFailed(f"Contact {contact['id']} has no e-mail address.")
        values = {"id": contact["id"], **contact["fields"], "points": contact["points"]}
        document["counters"]["stat"] += 1
        email["sentCount"] += 1
        entry = {
            "id": document["counters"]["stat"], "email_id": email["id"], "email_name": email["name"],
            "contact_id": contact["id"], "contact_email": contact["fields"].get("email") or "",
            "subject": _render(email["subject"], tokens, values), "body": _render(email["customHtml"], tokens, values),
            "tokens": tokens, "dateSent": _now(), "isRead": False, "dateRead": None, "openCount": 0,
            "lastOpened": None, "source": "api", "sourceId": 0,
            "contentHash": hashlib.md5(f"{email['customHtml']}{email['subject']}".encode(), usedforsecurity=False)
            .hexdigest(),
        }  # fmt: skip
        entry["idHash"] = entry["trackingHash"] = _uniqid()
        document["sent"] = [*document["sent"], entry][-MAX_SENT_RECORDS:]
        events.append((EMAIL_ON_SEND, {
            "email": _email_out(document, email), "contact": _contact_out(document, contact),
            "contentHash": entry["contentHash"], "idHash": entry["idHash"], "subject": entry["subject"],
            # PHP writes an empty array (no tokens) as [], not {}.
            "source": ["api", 0], "headers": [], "content": entry["body"], "tokens": tokens or [],
        }))  # fmt: skip
        return dict(entry)


def sent_log(username: str) -> list[dict]:
    """The e-mails sent, newest first: {id, idHash, trackingHash, email_id, email_name, contact_id, contact_email,
    subject, body, tokens, dateSent, isRead, dateRead, openCount, lastOpened, source, sourceId, contentHash}."""
    return _instance(username)["sent"][::-1]


def open_email(username: str, stat_id: int) -> dict:
    """What the recipient's mail client does when it loads the tracking pixel: fires email_on_open.

    The first open sets dateRead and counts a read on the e-mail; every open adds to openCount.
    Returns the updated sent-log entry; an unknown stat raises the 404 ApiError.
    """
    with _operation(username) as (document, events):
        entry = next((e for e in document["sent"] if e["id"] == stat_id), None)
        if entry is None:
            raise _not_found()
        now = _now()
        email = next((e for e in document["emails"] if e["id"] == entry["email_id"]), None)
        if not entry["isRead"]:
            entry["isRead"], entry["dateRead"] = True, now
            if email is not None:
                email["readCount"] += 1
        entry["openCount"] += 1
        entry["lastOpened"] = now
        events.append((EMAIL_ON_OPEN, {"stat": _stat_out(document, entry)}))
        return dict(entry)


def _stat_out(document: dict, entry: dict) -> dict:
    """A Stat in the statDetails/leadList/emailDetails groups (EmailBundle/Entity/Stat.php::loadApiMetadata)."""
    contact = next((c for c in document["contacts"] if c["id"] == entry["contact_id"]), None)
    email = next((e for e in document["emails"] if e["id"] == entry["email_id"]), None)
    return {
        "id": entry["id"], "emailAddress": entry["contact_email"], "ipAddress": None, "dateSent": entry["dateSent"],
        "isRead": entry["isRead"], "isFailed": False, "dateRead": entry["dateRead"], "retryCount": 0,
        "source": entry["source"], "openCount": entry["openCount"], "lastOpened": entry["lastOpened"],
        "sourceId": entry["sourceId"], "trackingHash": entry["trackingHash"], "viewedInBrowser": False,
        "lead": _contact_in_list_group(document, contact) if contact else None,
        "email": _email_out(document, email) if email else None,
    }  # fmt: skip


def _clean_tokens(tokens: Any) -> dict[str, str]:
    """EmailApiController::cleanTokens: bare names get braces, values go through InputHelper::html."""
    if not isinstance(tokens, dict):
        raise _bad_request()
    cleaned = {}
    for name, value in tokens.items():
        token = str(name) if BRACED_TOKEN.match(str(name)) else f"{{{name}}}"
        cleaned[token] = _clean_token_value(value)
    return cleaned


def _clean_token_value(value: Any) -> str:
    """InputHelper::html, emulated: blocked tags and event or script-URL attributes removed, other HTML kept."""
    if isinstance(value, bool):
        return "1" if value else ""
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        raise _bad_request()
    without_blocked = BLOCKED_TAG_PATTERN.sub("", value)
    return TAG_PATTERN.sub(_clean_tag, without_blocked)


def _clean_tag(match: re.Match) -> str:
    name, attributes, closing = match[1], match[2] or "", match[3]
    kept = []
    for attribute in ATTRIBUTE_PATTERN.finditer(attributes):
        attribute_name, raw_value = attribute[1].lower(), attribute[2] or ""
        value = raw_value.strip("\"'")
        if attribute_name.startswith("on") or attribute_name in BLOCKED_ATTRIBUTES or UNSAFE_URL.match(value):
            continue
        kept.append(attribute[0])
    return f"<{name}{''.join(f' {a}' for a in kept)}{closing}>"


def _render(text: str, tokens: Mapping[str, str], values: Mapping[str, Any]) -> str:
    """Replace {contactfield=alias|default} with the contact's values, then the API tokens (case-insensitive)."""

    def field(match: re.Match) -> str:
        value = values.get(match[1].lower())
        return str(value) if value not in (None, "") else (match[2] or "")

    rendered = CONTACT_FIELD_TOKEN.sub(field, text)
    for token, value in tokens.items():
        rendered = re.sub(re.escape(token), lambda _m, v=value: v, rendered, flags=re.IGNORECASE)
    return rendered


# Webhooks


def list_hooks(username: str, params: Mapping[str, Any] | None = None) -> tuple[int, list[dict]]:
    params = params or {}
    document = _instance(username)
    start = _non_negative(params.get("start"), 0)
    limit = _non_negative(params.get("limit"), DEFAULT_PAGE_LIMIT) or DEFAULT_PAGE_LIMIT
    hooks = document["hooks"]
    return len(hooks), [_hook_out(document, hook) for hook in hooks[start : start + limit]]


def hooks(username: str) -> list[dict]:
    """Every webhook as the API writes it, oldest first."""
    document = _instance(username)
    return [_hook_out(document, hook) for hook in document["hooks"]]


def get_hook(username: str, hook_id: int) -> dict:
    document = _instance(username)
    return _hook_out(document, _find(document, "hooks", hook_id))


def create_hook(username: str, payload: Any) -> dict:
    payload = _object(payload)
    with _operation(username) as (document, _events):
        hook = _new_hook(document)
        _write_hook(hook, payload, replace=True)
        document["hooks"].append(hook)
        return _hook_out(document, hook)


def edit_hook(username: str, hook_id: int, payload: Any, *, replace: bool) -> tuple[int, dict]:
    """PATCH (fields sent change, triggers are added; 404 if missing) or PUT (everything replaced, triggers
    exactly those sent; a missing hook is created under a new id, 201) of /api/hooks/{id}/edit."""
    payload = _object(payload)
    with _operation(username) as (document, _events):
        hook = next((h for h in document["hooks"] if h["id"] == hook_id), None)
        if hook is None:
            if not replace:
                raise _not_found()
            hook = _new_hook(document)
            _write_hook(hook, payload, replace=True)
            document["hooks"].append(hook)
            return 201, _hook_out(document, hook)
        _write_hook(hook, payload, replace=replace)
        hook["dateModified"] = _now()
        return 200, _hook_out(document, hook)


def delete_hook(username: str, hook_id: int) -> dict:
    """DELETE /api/hooks/{id}/delete: answers the hook as it was, its id null (Doctrine clears it on removal)."""
    with _operation(username) as (document, _events):
        hook = _find(document, "hooks", hook_id)
        document["hooks"].remove(hook)
        return {**_hook_out(document, hook), "id": None}


def find_hook(username: str, hook_id: int) -> dict | None:
    """A hook as a delivery reads it when it runs (None once deleted): stored fields, secret included."""
    document = store.get(_instance_key(username)) or {"hooks": []}
    return next((dict(hook) for hook in document["hooks"] if hook["id"] == hook_id), None)


def _new_hook(document: dict) -> dict:
    document["counters"]["hook"] += 1
    return {
        "id": document["counters"]["hook"], "name": "", "description": None, "webhookUrl": "", "secret": None,
        "eventsOrderbyDir": None, "isPublished": True, "triggers": [], "dateAdded": _now(), "dateModified": None,
    }  # fmt: skip


def _write_hook(hook: dict, payload: dict, *, replace: bool) -> None:
    """Validate like Webhook::loadValidatorMetadata (name NotBlank, webhookUrl NotBlank + Url), then write."""
    proposed = dict(hook)
    if replace:
        # A PUT clears what it does not carry; a cleared secret is generated anew below.
        proposed.update({"name": "", "description": None, "webhookUrl": "", "secret": None, "eventsOrderbyDir": None,
                         "triggers": [], "isPublished": True})  # fmt: skip
    for field in ("name", "webhookUrl"):
        if field in payload:
            proposed[field] = _text(payload[field]).strip()
    if "description" in payload:
        proposed["description"] = None if payload["description"] is None else _text(payload["description"])
    if payload.get("secret") not in (None, ""):
        proposed["secret"] = _text(payload["secret"])
    if "eventsOrderbyDir" in payload:
        direction = payload["eventsOrderbyDir"]
        if direction not in (None, "", "ASC", "DESC"):
            raise _form_error(400, {"eventsOrderbyDir": ["The selected choice is invalid."]})
        proposed["eventsOrderbyDir"] = direction or None
    if "isPublished" in payload:
        proposed["isPublished"] = _flag(payload["isPublished"])
    if isinstance(payload.get("triggers"), list):
        sent = [_text(trigger) for trigger in payload["triggers"]]
        kept = [] if replace else proposed["triggers"]
        proposed["triggers"] = list(dict.fromkeys([*kept, *sent]))
    errors: dict[str, list[str]] = {}
    if not proposed["name"]:
        errors["name"] = [NAME_REQUIRED]
    parts = urlsplit(proposed["webhookUrl"])
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors["webhookUrl"] = [URL_REQUIRED]
    if errors:
        raise _form_error(400, errors)
    # WebhookModel::saveEntity: a hook saved without a secret gets a generated one.
    proposed["secret"] = proposed["secret"] or secrets.token_hex(32)
    hook.update(proposed)


def _hook_out(document: dict, hook: dict) -> dict:
    return {
        "isPublished": hook["isPublished"], "dateAdded": hook["dateAdded"], "dateModified": hook["dateModified"],
        "createdBy": API_USER_ID, "createdByUser": document["instance"]["username"], "modifiedBy": None,
        "modifiedByUser": None, "id": hook["id"], "name": hook["name"], "description": hook["description"],
        "webhookUrl": hook["webhookUrl"], "secret": hook["secret"], "eventsOrderbyDir": hook["eventsOrderbyDir"],
        "category": None, "triggers": list(hook["triggers"]),
    }  # fmt: skip


def webhook_signature(raw_body: bytes, secret: str) -> str:
    """Webhook-Signature: base64_encode(hash_hmac('sha256', $jsonPayload, $secret, true))."""
    return base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()


def webhook_headers(raw_body: bytes, secret: str) -> dict[str, str]:
    """The headers WebhookBundle/Http/Client.php::post sends with a body."""
    return {
        "Content-Type": "application/json", "X-Origin-Base-URL": site_url(),
        "Webhook-Signature": webhook_signature(raw_body, secret),
    }  # fmt: skip


def php_json(document: Any) -> bytes:
    """A body as PHP's json_encode writes it with default flags: compact, "/" as "\\/", non-ASCII as \\uXXXX."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def settle_delivery(username: str, hook: dict, *, event: str, status: int | None, error: str = "") -> str:
    """Record one delivery attempt; a 410 unpublishes the hook (WebhookModel::killWebhook). Returns the outcome."""
    if status is not None and 200 <= status < 300:
        outcome = DELIVERED
    elif status == GONE_STATUS:
        outcome = UNPUBLISHED
    else:
        outcome = FAILED
    record = {
        "event": event, "hook_id": hook["id"], "webhookUrl": hook["webhookUrl"], "status_code": status,
        "error": error, "outcome": outcome, "sent_at": _now(),
    }  # fmt: skip
    with store.update(_instance_key(username)) as document:
        document["deliveries"] = [*document["deliveries"], record][-MAX_DELIVERY_RECORDS:]
        if outcome == UNPUBLISHED:
            for stored in document["hooks"]:
                if stored["id"] == hook["id"]:
                    stored["isPublished"] = False
    return outcome


def delivery_log(username: str) -> list[dict]:
    """The last MAX_DELIVERY_RECORDS delivery attempts, newest first:
    {event, hook_id, webhookUrl, status_code, error, outcome, sent_at}."""
    return _instance(username)["deliveries"][::-1]


def _deliveries(document: dict, events: list[tuple[str, dict]]) -> list[tuple[int, str, str]]:
    """(hook id, event type, body) for each published hook subscribed to each event; one body per event."""
    deliveries = []
    for event, payload in events:
        subscribers = [hook for hook in document["hooks"] if hook["isPublished"] and event in hook["triggers"]]
        if subscribers:
            body = php_json({event: [{**payload, "timestamp": _now()}]}).decode()
            deliveries += [(hook["id"], event, body) for hook in subscribers]
    return deliveries


def _send(username: str, deliveries: list[tuple[int, str, str]]) -> None:
    for hook_id, event, body in deliveries:
        deliver_mautic_webhook.delay(username, hook_id, event, body)


@shared_task(name="sandbox.tasks.deliver_mautic_webhook", ignore_result=True)
def deliver_mautic_webhook(username: str, hook_id: int, event: str, body: str) -> None:
    """POST one event's body to one hook, as Mautic's immediate queue mode does: once, never retried.

    The hook is read when the attempt runs: one deleted or unpublished meanwhile gets nothing, and the body
    is signed with the secret it has then. Non-2xx answers are logged; a 410 unpublishes the hook.
    """
    hook = find_hook(username, hook_id)
    if hook is None or not hook["isPublished"]:
        return
    raw_body = body.encode()
    try:
        response = post_webhook(hook["webhookUrl"], raw_body, webhook_headers(raw_body, hook["secret"]),
                                sandbox="mautic")  # fmt: skip
    except ProviderError as error:
        settle_delivery(username, hook, event=event, status=error.status, error=error.message)
        return
    settle_delivery(username, hook, event=event, status=response.status)


# Values


def _find(document: dict, collection: str, entity_id: int) -> dict:
    for entity in document[collection]:
        if entity["id"] == entity_id:
            return entity
    raise _not_found()


def _object(payload: Any) -> dict:
    if not isinstance(payload, dict):
        raise _bad_request()
    return payload


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None or not isinstance(value, int | float):
        raise _bad_request()
    return str(value)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1", "true", "false", ""):
        return value in (1, "1", "true")
    raise _bad_request()


def _non_negative(value: Any, default: int) -> int:
    text = str(value if value is not None else "").strip()
    return int(text) if text.isdigit() else default


def _equal(value: Any, expected: str) -> bool:
    return value is not None and str(value).casefold() == expected.casefold()


def _like(value: Any, pattern: str) -> bool:
    """SQL LIKE with `*` (or `%`) as wildcard, case-insensitive as MySQL's collation compares."""
    if value is None:
        return False
    regex = ".*".join(re.escape(part) for part in pattern.replace("%", "*").split("*"))
    return re.fullmatch(regex, str(value), flags=re.IGNORECASE | re.DOTALL) is not None


def _random(length: int) -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(length))


def _uniqid() -> str:
    """A tracking hash as Mautic makes it: str_replace('.', '', uniqid('', true)), 13 hex digits then 9 digits."""
    microseconds = time.time_ns() // 1000
    return f"{microseconds // 1_000_000:08x}{microseconds % 1_000_000:05x}{secrets.randbelow(10**9):09d}"


def _now() -> str:
    """An ISO 8601 moment as Mautic's serializer writes it: 2024-05-10T09:15:03+00:00."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def clear() -> None:
    """Delete every key of the Mautic sandbox (tests)."""
    client = redis_client()
    for key in client.scan_iter(match=f"{KEY_PREFIX}:*"):
        client.delete(key)
