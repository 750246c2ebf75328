"""Mautic 5 REST API: OAuth2 client credentials, contacts, template e-mails, webhooks and their signatures.

Contract: research/api-contracts.md §3 (mautic/mautic ApiBundle, LeadBundle, EmailBundle and WebhookBundle;
mautic/developer-documentation `_api_endpoint_*.md`). Calls carry `Authorization: Bearer <token>` (OAuth2) or
`Authorization: Basic …` of a Mautic user; paths are `/api/...` under the site root. Lists answer
`{"total": …, "<entities>": …}` where the entities are an array or an object keyed by id (`[]` when empty)
and `total` may be a string; errors answer `{"errors": [{"code", "message", "details", "type"}]}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import requests

from integrations.clients.base import BaseClient, PermanentProviderError

API_PREFIX = "/api"
TOKEN_PATH = "/oauth/v2/token"  # noqa: S105 - a path, not a secret
# Items per page of the list calls: a few calls for every template e-mail or webhook of an instance
# (Mautic's own default is 30).
PAGE_SIZE = 100
# Contacts asked for when looking one up by e-mail: Mautic keeps duplicates, and the oldest (lowest id) is
# kept; the lookup is ordered by id, so the oldest is on this first page however many there are.
FIND_LIMIT = 10
# Activity events read when looking for a send whose answer was lost: a contact gets few e-mails a day.
ACTIVITY_LIMIT = 50


class WebhookEvent(StrEnum):
    """Event types of Mautic webhooks (*/EventListener/WebhookSubscriber.php), also the payload's top-level keys."""

    EMAIL_ON_SEND = "mautic.email_on_send"
    EMAIL_ON_OPEN = "mautic.email_on_open"
    LEAD_POST_SAVE_NEW = "mautic.lead_post_save_new"
    LEAD_POST_SAVE_UPDATE = "mautic.lead_post_save_update"


# Results -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    expires_in: int  # seconds (Mautic's default lifetime is 60 minutes)
    token_type: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> TokenGrant:
        return cls(access_token=data["access_token"], expires_in=int(data.get("expires_in") or 0),
                   token_type=data.get("token_type") or "bearer")  # fmt: skip


@dataclass(frozen=True)
class Contact:
    """A Mautic contact; its values are read from `fields.all` (alias → value), as the contract says."""

    id: int
    email: str
    firstname: str
    lastname: str
    company: str
    date_modified: datetime | None
    fields: dict[str, Any]  # `fields.all`, custom field aliases included

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Contact:
        values = (data.get("fields") or {}).get("all") or {}
        return cls(
            id=int(data["id"]), email=values.get("email") or "", firstname=values.get("firstname") or "",
            lastname=values.get("lastname") or "", company=values.get("company") or "",
            date_modified=_datetime(data.get("dateModified")), fields=dict(values),
        )  # fmt: skip


@dataclass(frozen=True)
class Email:
    id: int
    name: str
    subject: str
    email_type: str  # template (sent one by one), list (segment e-mail)
    is_published: bool
    language: str  # e.g. "fr"

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Email:
        return cls(
            id=int(data["id"]), name=data.get("name") or "", subject=data.get("subject") or "",
            email_type=data.get("emailType") or "", is_published=bool(data.get("isPublished")),
            language=data.get("language") or "",
        )  # fmt: skip


@dataclass(frozen=True)
class Hook:
    id: int
    name: str
    webhook_url: str
    secret: str  # "" when the answer leaves it out
    triggers: tuple[str, ...]
    is_published: bool

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Hook:
        return cls(
            id=int(data["id"]), name=data.get("name") or "", webhook_url=data.get("webhookUrl") or "",
            secret=data.get("secret") or "", triggers=tuple(data.get("triggers") or ()),
            is_published=bool(data.get("isPublished")),
        )  # fmt: skip


# The client ------------------------------------------------------------------------------------------


class MauticClient(BaseClient):
    provider = "mautic"

    def __init__(
        self, base_url: str, *, scope: str, username: str = "", password: str = "", access_token: str = "",
        session: requests.Session | None = None, on_outcome: Callable[[bool, str], None] | None = None,
    ) -> None:  # fmt: skip
        """`base_url` is the Mautic site root (https://mautic.example.ch); paths add /api or /oauth/v2.

        An `access_token` (OAuth2) is sent as a bearer; without one, `username`/`password` go as Basic auth
        (which the instance must enable: api_enable_basic_auth).
        """
        super().__init__(base_url, scope=scope, session=session, on_outcome=on_outcome)
        if self.base_url.endswith(API_PREFIX):
            raise ValueError(f"Mautic base_url must be the site root, without /api: {base_url!r}")
        self.username, self.password, self.access_token = username, password, access_token

    def auth_headers(self) -> dict[str, str]:
        if self.access_token:
            return {"Authorization": f"Bearer {self.access_token}"}
        if self.username:
            credentials = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return {"Authorization": f"Basic {credentials}"}
        return {}

    def error_message(self, response: requests.Response) -> str:
        """Mautic's `{"errors": [{"message"…}]}` (messages joined) or OAuth's `{"error", "error_description"}`."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            errors = body.get("errors") if isinstance(body.get("errors"), list) else []
            messages = [str(error["message"]) for error in errors if isinstance(error, dict) and error.get("message")]
            if messages:
                return "; ".join(messages)[:300]
            error = body.get("error")
            if isinstance(error, dict) and error.get("message"):  # the single-error form of Mautic 2
                return str(error["message"])[:300]
            if isinstance(error, str) and error:
                description = body.get("error_description")
                return (f"{description} ({error})" if description else error)[:300]
        return super().error_message(response)

    def _item(self, method: str, path: str, key: str, **kwargs) -> dict:
        response = self.request(method, API_PREFIX + path, **kwargs)
        item = response.data.get(key) if isinstance(response.data, dict) else None
        if not isinstance(item, dict):
            raise PermanentProviderError(self.provider, f"{method} {path}: answer without a {key!r} object",
                                         status=response.status)  # fmt: skip
        return item

    def _page(self, path: str, key: str, params: Mapping[str, Any]) -> tuple[list[dict], int]:
        """One list page: its items (from an array or an object keyed by id) and the total Mautic counts."""
        response = self.request("GET", API_PREFIX + path, params=params)
        body = response.data if isinstance(response.data, dict) else {}
        items = body.get(key)
        if isinstance(items, dict):
            items = list(items.values())
        if not isinstance(items, list):
            raise PermanentProviderError(self.provider, f"GET {path}: answer without {key!r}", status=response.status)
        return items, int(body.get("total") or len(items))

    def _each(self, path: str, key: str, **filters: Any) -> list[dict]:
        """Every item of a list, paged with start/limit until Mautic's `total` is reached (or a page is empty)."""
        params = {name: value for name, value in filters.items() if value not in (None, "")}
        found: list[dict] = []
        while True:
            items, total = self._page(path, key, {**params, "start": len(found), "limit": PAGE_SIZE})
            found.extend(items)
            if not items or len(found) >= total:
                return found

    # OAuth2

    def token_client_credentials(self, client_id: str, client_secret: str) -> TokenGrant:
        """Get an access token for the API credentials; no refresh token comes with this grant."""
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        # Asking twice only yields a second valid token, so a lost answer may be asked again.
        response = self.request("POST", TOKEN_PATH, data=form, authenticated=False, idempotent=True)
        return TokenGrant.from_api(response.data)

    # Contacts

    def contact_find_by_email(self, email: str) -> Contact | None:
        """The contact with exactly this e-mail; of duplicates the oldest (lowest id), never a new one."""
        params = {
            "where[0][col]": "email", "where[0][expr]": "eq", "where[0][val]": email,
            "orderBy": "id", "orderByDir": "asc", "limit": FIND_LIMIT,
        }  # fmt: skip
        items, _total = self._page("/contacts", "contacts", params)
        found = [Contact.from_api(item) for item in items]
        return min(found, key=lambda contact: contact.id) if found else None

    def contact_get(self, contact_id: int) -> Contact:
        return Contact.from_api(self._item("GET", f"/contacts/{int(contact_id)}", "contact"))

    def contact_create(self, fields: Mapping[str, Any]) -> Contact:
        """Create a contact from field aliases (and `tags`); blank values never overwrite what Mautic holds.

        Not retried: a repeat could create a second contact.
        """
        body = {**fields, "overwriteWithBlank": False}
        return Contact.from_api(self._item("POST", "/contacts/new", "contact", json=body, idempotent=False))

    def contact_update(self, contact_id: int, fields: Mapping[str, Any]) -> Contact:
        """Change the given fields only (PATCH: 404 if the contact is gone)."""
        # Setting the same values twice leaves the same contact, so a lost answer may be asked again.
        path = f"/contacts/{int(contact_id)}/edit"
        return Contact.from_api(self._item("PATCH", path, "contact", json=dict(fields), idempotent=True))

    # Template e-mails

    def emails(self, *, search: str = "") -> list[Email]:
        return [Email.from_api(item) for item in self._each("/emails", "emails", search=search)]

    def email_get(self, email_id: int) -> Email:
        return Email.from_api(self._item("GET", f"/emails/{int(email_id)}", "email"))

    def email_send_to_contact(self, email_id: int, contact_id: int, *, tokens: Mapping[str, str]) -> None:
        """Send a template e-mail to one contact, `{token}`s replaced (Mautic sends it as transactional).

        Raises PermanentProviderError when Mautic answers that it did not send. Never retried: a repeat
        sends the e-mail twice.
        """
        body = {"tokens": {_token(name): value for name, value in tokens.items()}}
        path = f"/emails/{int(email_id)}/contact/{int(contact_id)}/send"
        response = self.request("POST", API_PREFIX + path, json=body, idempotent=False)
        answer = response.data if isinstance(response.data, dict) else {}
        # EmailApiController::sendLeadAction answers {"success": true}; the documentation shows {"success": 1}.
        if answer.get("success") in (True, 1):
            return
        failure = _failure_text(answer.get("failed")) or "Mautic did not confirm the send"
        raise PermanentProviderError(self.provider, f"e-mail {email_id} to contact {contact_id} not sent: {failure}",
                                     status=response.status)  # fmt: skip

    def email_sent_to_contact_since(self, email_id: int, contact_id: int, *, since: datetime) -> bool:
        """Whether the contact's activity shows this e-mail sent at or after `since`: a send whose answer was lost.

        GET /api/contacts/{id}/activity filtered on `email.sent` events from `since` (`Y-m-d H:i:s`, UTC). An event's
        `details.stat.email_id` names the e-mail [UNCONFIRMED shape]; an event without it counts as this e-mail,
        since sending twice is the failure to avoid.
        """
        params = {
            "filters[includeEvents][]": "email.sent",
            "filters[dateFrom]": since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "limit": ACTIVITY_LIMIT,
        }
        response = self.request("GET", f"{API_PREFIX}/contacts/{int(contact_id)}/activity", params=params)
        events = (response.data or {}).get("events") if isinstance(response.data, dict) else None
        for event in events or []:
            if not isinstance(event, Mapping) or event.get("event") != "email.sent":
                continue
            stat = (event.get("details") or {}).get("stat") or {}
            sent_email = stat.get("email_id") if isinstance(stat, Mapping) else None
            if sent_email in (None, "") or int(sent_email) == int(email_id):
                return True
        return False

    # Webhooks
    #
    # Field names and keys, from mautic/mautic WebhookBundle: Entity/Webhook.php::loadApiMetadata serialises
    # id, name, description, webhookUrl, secret, eventsOrderbyDir, category and triggers (plus isPublished
    # from publishDetails); Controller/Api/WebhookApiController.php answers under "hook" / "hooks" (a list
    # keyed by id) and builds the subscribed events from `triggers`. Its preSaveEntity removes the events
    # missing from `triggers` only on PUT: a PATCH adds triggers and never drops one, so an update is a PUT
    # with every field (PUT clears what it does not carry, hence isPublished is always sent).

    def hooks(self) -> list[Hook]:
        return [Hook.from_api(item) for item in self._each("/hooks", "hooks")]

    def hook_create(self, *, name: str, webhook_url: str, secret: str, triggers: Iterable[str]) -> Hook:
        """Subscribe `webhook_url` to `triggers`, signed with `secret`. Not retried: it would add a second hook."""
        body = hook_payload(name=name, webhook_url=webhook_url, secret=secret, triggers=triggers)
        return Hook.from_api(self._item("POST", "/hooks/new", "hook", json=body, idempotent=False))

    def hook_update(self, hook_id: int, *, name: str, webhook_url: str, secret: str, triggers: Iterable[str]) -> Hook:
        """Replace the hook (PUT): exactly these triggers afterwards. Mautic creates it anew (new id) if it is gone."""
        body = hook_payload(name=name, webhook_url=webhook_url, secret=secret, triggers=triggers)
        return Hook.from_api(self._item("PUT", f"/hooks/{int(hook_id)}/edit", "hook", json=body))

    def hook_delete(self, hook_id: int) -> None:
        try:
            self.request("DELETE", f"{API_PREFIX}/hooks/{int(hook_id)}/delete")
        except PermanentProviderError as error:
            # A retried delete whose first attempt went through finds nothing: the hook is gone either way.
            if error.status != 404:
                raise


def hook_payload(*, name: str, webhook_url: str, secret: str, triggers: Iterable[str]) -> dict[str, Any]:
    return {"name": name, "webhookUrl": webhook_url, "secret": secret, "triggers": [str(t) for t in triggers],
            "isPublished": True}  # fmt: skip


# Webhook signatures ---------------------------------------------------------------------------------


def webhook_signature(raw_body: bytes, secret: str) -> str:
    """The Webhook-Signature Mautic sends: base64 of HMAC-SHA256(secret, raw body), with no timestamp signed."""
    return base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()


def signature_valid(raw_body: bytes, presented: str, secret: str) -> bool:
    """Whether the Webhook-Signature header matches the body; an empty secret or header never does."""
    if not secret or not presented:
        return False
    return hmac.compare_digest(webhook_signature(raw_body, secret).encode(), presented.encode())


# Parsing -------------------------------------------------------------------------------------------------


def _token(name: str) -> str:
    """`invoice_number` → `{invoice_number}`; a name already in braces stays as it is."""
    return name if name.startswith("{") and name.endswith("}") else f"{{{name}}}"


def _failure_text(failed: Any) -> str:
    if isinstance(failed, Mapping):
        return "; ".join(str(value) for value in failed.values() if value)[:300]
    if isinstance(failed, list | tuple):
        return "; ".join(str(value) for value in failed if value)[:300]
    return str(failed)[:300] if failed else ""


def _datetime(value: Any) -> datetime | None:
    """Mautic's ISO 8601 timestamps (`2024-05-10T09:15:03+00:00`); null or empty is None."""
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None
