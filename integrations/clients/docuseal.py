"""DocuSeal REST API: templates, submissions from PDF documents, submitters, signed files and webhook checks.

Contract: research/api-contracts.md §4 and the official spec (docusealco/docuseal docs/openapi.json). Calls
carry `X-Auth-Token: <API key>`; the base URL is https://api.docuseal.com, https://api.docuseal.eu or a
self-hosted `https://<host>/api`. Errors answer `{"error": "..."}` (403 "Not authorized", 422, 429).

How a quote is sent: `POST /submissions/pdf` (createSubmissionFromPdf) with two documents, the quote as the
Hub prints it and the company's general terms (CGV) as stored, both base64, plus `template_ids` naming the
company's "quote" template, whose fields (signature, "I accept the CGV" box) the signer fills. The Hub's
PDF is what the client signs, to the centime, and the terms travel with it: `POST /submissions` alone would
only send the template's fixed documents. Each submitter carries our `external_id` (`quote-<company>-<pk>`):
`submitter_find` looks it up before anything is created, so a creation whose answer was lost is found,
never made twice (POSTs are never retried by the transport).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import requests

from integrations.clients.base import BaseClient, PermanentProviderError

# Submitters asked for when looking one up by our external id: one is expected, a few tolerate duplicates.
FIND_LIMIT = 10
# DocuSeal's signature header carries a Unix time: one further than this from now is refused (its verifier's 300 s).
SIGNATURE_TOLERANCE_SECONDS = 300
# A Unix time in seconds has 10 digits until the year 2286; more is not a timestamp.
TIMESTAMP_DIGITS = 12
SIGNATURE_HEADER = "X-Docuseal-Signature"


class WebhookEvent(StrEnum):
    """Event types (app/models/webhook_url.rb::EVENTS) the Hub acts on."""

    FORM_VIEWED = "form.viewed"
    FORM_STARTED = "form.started"
    FORM_COMPLETED = "form.completed"
    FORM_DECLINED = "form.declined"
    SUBMISSION_CREATED = "submission.created"
    SUBMISSION_COMPLETED = "submission.completed"
    SUBMISSION_EXPIRED = "submission.expired"
    SUBMISSION_ARCHIVED = "submission.archived"


# Results -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    name: str
    url: str  # absolute; DocuSeal's file links need no token

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Document:
        return cls(name=str(data.get("name") or ""), url=str(data.get("url") or ""))


@dataclass(frozen=True)
class Template:
    id: int
    name: str
    roles: tuple[str, ...]  # the submitters' role names, in order ("First Party")
    external_id: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Template:
        roles = tuple(str(item.get("name") or "") for item in data.get("submitters") or () if isinstance(item, Mapping))
        return cls(id=int(data["id"]), name=str(data.get("name") or ""), roles=roles,
                   external_id=str(data.get("external_id") or ""))  # fmt: skip


@dataclass(frozen=True)
class Submitter:
    id: int
    submission_id: int
    slug: str
    email: str
    name: str
    role: str
    status: str  # awaiting, sent, opened, completed, declined
    external_id: str
    embed_src: str  # the signing link (https://docuseal.com/s/<slug>)
    sent_at: datetime | None
    opened_at: datetime | None
    completed_at: datetime | None
    declined_at: datetime | None
    decline_reason: str
    ip: str
    user_agent: str
    values: dict[str, Any]
    documents: tuple[Document, ...]

    @classmethod
    def from_api(cls, data: Mapping[str, Any], *, submission_id: int | None = None) -> Submitter:
        values = {str(item.get("field")): item.get("value") for item in data.get("values") or ()
                  if isinstance(item, Mapping)}  # fmt: skip
        submission = data.get("submission") if isinstance(data.get("submission"), Mapping) else {}
        return cls(
            id=int(data["id"]),
            submission_id=int(data.get("submission_id") or submission.get("id") or submission_id or 0),
            slug=str(data.get("slug") or ""), email=str(data.get("email") or ""), name=str(data.get("name") or ""),
            role=str(data.get("role") or ""), status=str(data.get("status") or ""),
            external_id=str(data.get("external_id") or ""), embed_src=str(data.get("embed_src") or ""),
            sent_at=parse_datetime(data.get("sent_at")), opened_at=parse_datetime(data.get("opened_at")),
            completed_at=parse_datetime(data.get("completed_at")), declined_at=parse_datetime(data.get("declined_at")),
            decline_reason=str(data.get("decline_reason") or ""), ip=str(data.get("ip") or ""),
            user_agent=str(data.get("ua") or ""), values=values,
            documents=_documents(data.get("documents")),
        )  # fmt: skip


@dataclass(frozen=True)
class Submission:
    id: int
    slug: str
    status: str  # pending, completed, declined, expired
    audit_log_url: str
    combined_document_url: str
    submitters: tuple[Submitter, ...]
    documents: tuple[Document, ...]
    completed_at: datetime | None
    expire_at: datetime | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Submission:
        submission_id = int(data["id"])
        return cls(
            id=submission_id, slug=str(data.get("slug") or ""), status=str(data.get("status") or ""),
            audit_log_url=str(data.get("audit_log_url") or ""),
            combined_document_url=str(data.get("combined_document_url") or ""),
            submitters=tuple(Submitter.from_api(item, submission_id=submission_id)
                             for item in data.get("submitters") or () if isinstance(item, Mapping)),
            documents=_documents(data.get("documents")),
            completed_at=parse_datetime(data.get("completed_at")), expire_at=parse_datetime(data.get("expire_at")),
        )  # fmt: skip


@dataclass(frozen=True)
class PdfDocument:
    """A document to sign, as bytes; sent base64."""

    name: str
    content: bytes


# The client ------------------------------------------------------------------------------------------


class DocuSealClient(BaseClient):
    provider = "docuseal"

    def __init__(
        self, base_url: str, *, scope: str, api_key: str, session: requests.Session | None = None,
        on_outcome: Callable[[bool, str], None] | None = None,
    ) -> None:  # fmt: skip
        """`base_url` is the API root: https://api.docuseal.com, https://api.docuseal.eu or https://<host>/api."""
        super().__init__(base_url, scope=scope, session=session, on_outcome=on_outcome)
        self.api_key = api_key

    def auth_headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.api_key}

    def error_message(self, response: requests.Response) -> str:
        """DocuSeal words every refusal as `{"error": "..."}`."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]:
            return body["error"][:300]
        return super().error_message(response)

    def _object(self, method: str, path: str, **kwargs) -> dict:
        response = self.request(method, path, **kwargs)
        if not isinstance(response.data, dict):
            raise PermanentProviderError(self.provider, f"{method} {path}: the answer is not an object",
                                         status=response.status)  # fmt: skip
        return response.data

    def _data(self, path: str, params: Mapping[str, Any]) -> list[dict]:
        body = self._object("GET", path, params={k: v for k, v in params.items() if v not in (None, "")})
        items = body.get("data")
        if not isinstance(items, list):
            raise PermanentProviderError(self.provider, f"GET {path}: answer without a data array")
        return [item for item in items if isinstance(item, dict)]

    # Templates

    def templates(self, *, limit: int = 100) -> list[Template]:
        return [Template.from_api(item) for item in self._data("/templates", {"limit": limit})]

    def template_get(self, template_id: int) -> Template:
        return Template.from_api(self._object("GET", f"/templates/{int(template_id)}"))

    # Submissions

    def submission_create_from_pdf(
        self, *, name: str, documents: Sequence[PdfDocument], submitter: Mapping[str, Any],
        template_ids: Sequence[int] = (), send_email: bool = True, message: Mapping[str, str] | None = None,
    ) -> Submission:  # fmt: skip
        """Create one submission signing `documents` (plus the templates' documents and fields) for one submitter.

        Never retried: a repeat would send a second signature request. Look it up with `submitter_find` first.
        """
        body: dict[str, Any] = {
            "name": name, "send_email": send_email, "order": "preserved",
            "documents": [{"name": document.name, "file": base64.b64encode(document.content).decode()}
                          for document in documents],
            "submitters": [dict(submitter)],
        }  # fmt: skip
        if template_ids:
            body["template_ids"] = [int(template_id) for template_id in template_ids]
        if message:
            body["message"] = dict(message)
        return Submission.from_api(self._object("POST", "/submissions/pdf", json=body, idempotent=False))

    def submission_get(self, submission_id: int) -> Submission:
        return Submission.from_api(self._object("GET", f"/submissions/{int(submission_id)}"))

    def submissions(self, *, template_id: int | None = None, q: str = "", limit: int = FIND_LIMIT) -> list[Submission]:
        params = {"template_id": template_id, "q": q, "limit": limit}
        return [Submission.from_api(item) for item in self._data("/submissions", params)]

    # Submitters

    def submitter_get(self, submitter_id: int) -> Submitter:
        return Submitter.from_api(self._object("GET", f"/submitters/{int(submitter_id)}"))

    def submitters(self, *, external_id: str = "", submission_id: int | None = None) -> list[Submitter]:
        params = {"external_id": external_id, "submission_id": submission_id, "limit": FIND_LIMIT}
        return [Submitter.from_api(item) for item in self._data("/submitters", params)]

    def submitter_find(self, external_id: str) -> Submitter | None:
        """The submitter carrying our key, the oldest if DocuSeal holds several; None if there is none."""
        found = [item for item in self.submitters(external_id=external_id) if item.external_id == external_id]
        return min(found, key=lambda item: item.id) if found else None

    def submitter_resend(self, submitter_id: int) -> Submitter:
        """E-mail the signature request again (PUT /submitters/{id} with send_email: the reminder)."""
        # Not retried either: a repeat would e-mail the client twice.
        path = f"/submitters/{int(submitter_id)}"
        return Submitter.from_api(self._object("PUT", path, json={"send_email": True}, idempotent=False))

    # Files

    def download(self, url: str) -> bytes:
        """A file DocuSeal links to (signed document, audit log): an absolute URL, fetched without the API key."""
        if not url.startswith(("https://", "http://")):
            raise PermanentProviderError(self.provider, f"not a file address: {url[:80]!r}")
        response = self.request("GET", url, headers={"Accept": "application/pdf"}, authenticated=False)
        if not response.content:
            raise PermanentProviderError(self.provider, "the file is empty", status=response.status)
        return response.content


# Webhook verification ----------------------------------------------------------------------------------


def webhook_hmac(raw_body: bytes, secret: str, timestamp: int) -> str:
    """The X-Docuseal-Signature value: `<unix ts>.<hex HMAC-SHA256(secret, "<ts>.<raw body>")>`."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + raw_body, hashlib.sha256).hexdigest()
    return f"{timestamp}.{digest}"


def webhook_refusal(
    raw_body: bytes, headers: Mapping[str, str], *, secret_name: str, secret_value: str, hmac_secret: str = "",
    now: float | None = None,
) -> str:  # fmt: skip
    """Why a delivery is not DocuSeal's, or "" when it is: the custom secret header must match (constant time);
    `X-Docuseal-Signature`, when present and an HMAC secret is configured, must sign the body within 300 s."""
    if not secret_name or not secret_value:
        return "no webhook secret configured"
    presented = headers.get(secret_name) or ""
    if not hmac.compare_digest(presented.encode(), secret_value.encode()):
        return f"missing or wrong {secret_name}"
    signature = headers.get(SIGNATURE_HEADER) or ""
    if hmac_secret and signature:
        timestamp, _dot, digest = signature.partition(".")
        # ASCII digits, and few of them: "²" is a digit to Python, and int() refuses 4,300 digits and more.
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= TIMESTAMP_DIGITS):
            return f"malformed {SIGNATURE_HEADER}"
        if abs((time.time() if now is None else now) - int(timestamp)) > SIGNATURE_TOLERANCE_SECONDS:
            return f"{SIGNATURE_HEADER} too old or in the future"
        expected = webhook_hmac(raw_body, hmac_secret, int(timestamp)).partition(".")[2]
        if not hmac.compare_digest(expected.encode(), digest.encode()):
            return f"wrong {SIGNATURE_HEADER}"
    return ""


# Parsing -------------------------------------------------------------------------------------------------


def _documents(items: Any) -> tuple[Document, ...]:
    return tuple(Document.from_api(item) for item in items or () if isinstance(item, Mapping))


def parse_datetime(value: Any) -> datetime | None:
    """DocuSeal's ISO 8601 timestamps (`2024-05-10T09:20:00.252Z`); null or empty is None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
