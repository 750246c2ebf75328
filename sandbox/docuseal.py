"""DocuSeal sandbox: a stateful stand-in for the API subset the Hub uses (DESIGN.md §7), with a signing page.

One emulated DocuSeal account per API key (`ensure_account`), its templates, submissions and submitters kept
as JSON documents in Redis. Shapes follow research/api-contracts.md §4 and docs/openapi.json:

- Auth: `X-Auth-Token`; a missing or unknown key answers 401 `{"error": "Not authenticated"}`.
- `POST /submissions/pdf` answers the Submission (with its submitters); `GET /submissions`, `GET /submitters`
  answer `{"data": [...], "pagination": {"count", "next", "prev"}}`; refusals are `{"error": "..."}` (422).
- `PUT /submitters/{id}` with `send_email: true` e-mails the request again (kept in the account's e-mail log).
- The signing page `/sandbox/docuseal/s/<slug>` is what the signer sees: opening it sends `form.viewed`,
  signing sends `form.completed` then `submission.completed` (documents[].url and audit_log_url point at
  files this sandbox serves), declining sends `form.declined` with the reason.
- Webhooks go to the URL configured for the account (DocuSeal → Settings → Webhooks, set here by
  `configure_webhook` as a person would), with the custom secret header and, when an HMAC secret is set,
  `X-Docuseal-Signature: <ts>.<hex>`; failed deliveries are retried a few times, seconds apart.

The sandbox checks what DocuSeal checks and stores what it returns: no product logic lives here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from celery import shared_task
from django.conf import settings
from django.urls import reverse

from integrations.clients.base import ProviderError
from integrations.clients.docuseal import webhook_hmac
from integrations.health import redis_client
from sandbox.store import JsonStore
from sandbox.webhooks import post_webhook

KEY_PREFIX = "hv:sandbox:docuseal"
store = JsonStore(KEY_PREFIX)
# Set by an end-to-end test only: seconds POST /submissions/pdf waits after storing, before answering.
CREATE_DELAY_KEY = f"{KEY_PREFIX}:create_delay_seconds"
ACCOUNTS_SET = "accounts"
# DocuSeal's ids are large integers; the sandbox counts from here so they look like real ones.
FIRST_ID = 1_000_001
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
# Deliveries and e-mails kept per account for the sandbox page; older ones are dropped.
MAX_LOG = 200
USER_AGENT = "DocuSeal.com Webhook"
# DocuSeal retries a failed delivery for 48 h, 2^attempt minutes apart; the sandbox a few times, seconds apart.
DOCUSEAL_WEBHOOK_RETRIES = 4
DOCUSEAL_WEBHOOK_RETRY_SECONDS = 3


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.body = status, {"error": message}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _next_id(kind: str) -> int:
    return FIRST_ID + int(redis_client().incr(f"{KEY_PREFIX}:seq:{kind}")) - 1


def public_url(name: str, **kwargs) -> str:
    return settings.HV_PUBLIC_URL + reverse(f"sandbox:{name}", kwargs=kwargs)


def api_base_url() -> str:
    """What a person types into the Hub: the self-hosted form `https://<host>/api`."""
    return settings.HV_PUBLIC_URL + "/sandbox/docuseal/api"


# --- Accounts and templates ---------------------------------------------------------------------------------


def ensure_account(api_key: str, *, name: str) -> dict:
    store.put_new(f"account:{api_key}", {"api_key": api_key, "name": name, "templates": [], "submissions": [],
                                          "webhook": {}, "deliveries": [], "emails": []})  # fmt: skip
    store.add_to_set(ACCOUNTS_SET, api_key)
    return store.get(f"account:{api_key}")


def account(api_key: str) -> dict | None:
    return store.get(f"account:{api_key}")


def api_keys() -> list[str]:
    return store.set_members(ACCOUNTS_SET)


def authenticate(token: str) -> str:
    if not token or account(token) is None:
        raise ApiError(401, "Not authenticated")
    return token


def ensure_template(api_key: str, *, name: str, role: str = "First Party") -> int:
    """A template with a signature field and a "terms accepted" box for `role`; found by name if it exists."""
    with store.update(f"account:{api_key}") as document:
        for template in document["templates"]:
            if template["name"] == name:
                return template["id"]
        created = _now()
        submitter_uuid = str(uuid.uuid4())
        template = {
            "id": _next_id("template"), "slug": secrets.token_urlsafe(10), "name": name,
            "preferences": {}, "schema": [], "submitters": [{"name": role, "uuid": submitter_uuid}],
            "fields": [
                {"uuid": str(uuid.uuid4()), "submitter_uuid": submitter_uuid, "name": "Signature",
                 "type": "signature", "required": True, "areas": []},
                {"uuid": str(uuid.uuid4()), "submitter_uuid": submitter_uuid, "name": "CGV",
                 "type": "checkbox", "required": True, "areas": []},
            ],
            "author_id": 1, "archived_at": None, "created_at": created, "updated_at": created, "source": "native",
            "external_id": None, "folder_id": 1, "folder_name": "Default", "shared_link": False,
            "author": {"id": 1, "first_name": "Sandbox", "last_name": "Admin", "email": "admin@docuseal.test"},
            "documents": [],
        }  # fmt: skip
        document["templates"].append(template)
        return template["id"]


def configure_webhook(api_key: str, *, url: str, secret_name: str, secret_value: str, hmac_secret: str = "") -> None:
    """DocuSeal → Settings → Webhooks: the address, the secret (key/value) and the optional HMAC secret."""
    with store.update(f"account:{api_key}") as document:
        document["webhook"] = {"url": url, "secret_name": secret_name, "secret_value": secret_value,
                               "hmac_secret": hmac_secret}  # fmt: skip


def templates(api_key: str) -> list[dict]:
    return account(api_key)["templates"]


def get_template(api_key: str, template_id: int) -> dict:
    found = next((t for t in templates(api_key) if t["id"] == template_id and not t["archived_at"]), None)
    if found is None:
        raise ApiError(404, "Not found")
    return found


def set_create_delay(seconds: float) -> None:
    """End-to-end test hook: make POST /submissions/pdf wait after storing, before answering (0 ends it)."""
    if seconds > 0:
        redis_client().set(CREATE_DELAY_KEY, str(seconds))
    else:
        redis_client().delete(CREATE_DELAY_KEY)


def create_delay_seconds() -> float:
    raw = redis_client().get(CREATE_DELAY_KEY)
    return float(raw) if raw else 0.0


# --- Files ---------------------------------------------------------------------------------------------------


def _blob_put(name: str, content: bytes) -> str:
    key = hashlib.sha256(content + name.encode()).hexdigest()[:40]
    store.put(f"blob:{key}", {"name": name, "b64": base64.b64encode(content).decode()})
    return key


def blob(key: str) -> tuple[str, bytes] | None:
    found = store.get(f"blob:{key}")
    return (found["name"], base64.b64decode(found["b64"])) if found else None


def _file_url(key: str, name: str) -> str:
    return public_url("docuseal-file", key=key, filename=f"{name}.pdf")


def minimal_pdf(lines: list[str]) -> bytes:
    """A small valid one-page PDF with these lines of text (Helvetica), for the audit log and demo terms."""

    def escape(text: str) -> str:
        return text.encode("latin-1", "replace").decode("latin-1").replace("\\", "\\\\").replace("(", "\\(") \
            .replace(")", "\\)")  # fmt: skip

    text = "BT /F1 11 Tf 50 790 Td 14 TL " + " ".join(f"({escape(line)}) '" for line in lines) + " ET"
    stream = text.encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


# --- Submissions ------------------------------------------------------------------------------------------------


def _submission(submission_id: int) -> dict | None:
    return store.get(f"submission:{submission_id}")


def _owned(api_key: str, submission_id: int) -> dict:
    found = _submission(submission_id)
    if found is None or found["api_key"] != api_key:
        raise ApiError(404, "Not found")
    return found


def _object(payload: Any) -> dict:
    if not isinstance(payload, dict):
        raise ApiError(422, "Invalid request body")
    return payload


def create_submission_from_pdf(api_key: str, payload: Any) -> dict:
    """POST /submissions/pdf: the documents (base64 PDFs) and the templates' documents, one submitter each."""
    payload = _object(payload)
    documents = payload.get("documents")
    submitters = payload.get("submitters")
    if not isinstance(documents, list) or not documents:
        raise ApiError(422, "documents are required")
    if not isinstance(submitters, list) or not submitters:
        raise ApiError(422, "submitters are required")
    files = []
    for position, item in enumerate(documents):
        if not isinstance(item, dict) or not item.get("name") or not isinstance(item.get("file"), str):
            raise ApiError(422, "Each document needs a name and a file")
        try:
            content = base64.b64decode(item["file"], validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(422, "Unable to download the file") from None
        if not content.startswith(b"%PDF-"):
            raise ApiError(422, "Invalid PDF file")
        files.append({"name": str(item["name"]), "key": _blob_put(str(item["name"]), content),
                      "position": position})  # fmt: skip
    template_ids = payload.get("template_ids") or []
    used = [get_template(api_key, int(template_id)) for template_id in template_ids]
    roles = [role["name"] for template in used for role in template["submitters"]] or ["First Party"]
    submission_id = _next_id("submission")
    created = _now()
    people = []
    for item in submitters:
        if not isinstance(item, dict) or not item.get("email"):
            raise ApiError(422, "Submitter email is required")
        role = item.get("role") or roles[0]
        if role not in roles:
            raise ApiError(422, f"Role {role!r} is not in the template")
        send_email = item.get("send_email", payload.get("send_email", True)) is not False
        people.append({
            "id": _next_id("submitter"), "submission_id": submission_id, "uuid": str(uuid.uuid4()),
            "email": str(item["email"]), "slug": secrets.token_urlsafe(10), "sent_at": created if send_email else None,
            "opened_at": None, "completed_at": None, "declined_at": None, "created_at": created,
            "updated_at": created, "name": item.get("name"), "phone": item.get("phone"),
            "external_id": item.get("external_id"), "metadata": item.get("metadata") or {},
            "status": "sent" if send_email else "awaiting", "values": [], "role": role,
            "preferences": {"send_email": send_email, "send_sms": False}, "decline_reason": None,
            "ip": None, "ua": None,
        })  # fmt: skip
    submission = {
        "id": submission_id, "api_key": api_key, "name": payload.get("name") or files[0]["name"],
        "slug": secrets.token_urlsafe(10), "source": "api", "submitters_order": payload.get("order") or "preserved",
        "audit_log_url": None, "combined_document_url": None, "created_at": created, "updated_at": created,
        "archived_at": None, "completed_at": None, "expire_at": payload.get("expire_at"), "status": "pending",
        "metadata": {}, "template": {"id": used[0]["id"], "name": used[0]["name"], "external_id": None,
                                     "folder_name": "Default"} if used else None,
        "files": files, "signed": [], "events": [], "submitters": people,
        "message": payload.get("message") or {},
    }  # fmt: skip
    store.put(f"submission:{submission_id}", submission)
    for person in people:
        store.put(f"slug:{person['slug']}", {"submission_id": submission_id, "submitter_id": person["id"]})
        store.put(f"submitter:{person['id']}", {"submission_id": submission_id})
    with store.update(f"account:{api_key}") as document:
        document["submissions"].append(submission_id)
        for person in people:
            if person["preferences"]["send_email"]:
                _log(document, "emails", {"to": person["email"], "subject": submission["message"].get("subject", ""),
                                          "link": signing_url(person["slug"]), "at": created})  # fmt: skip
    return submission_out(submission)


def signing_url(slug: str) -> str:
    return public_url("docuseal-signing", slug=slug)


def _submitter_out(submission: dict, person: dict, *, with_documents: bool = False) -> dict:
    out = {key: value for key, value in person.items() if key not in ("decline_reason", "ip", "ua")}
    out["embed_src"] = signing_url(person["slug"])
    if with_documents:
        out["documents"] = _documents_out(submission)
    return out


def _documents_out(submission: dict) -> list[dict]:
    return [{"name": item["name"], "url": _file_url(item["key"], item["name"])} for item in submission["signed"]]


def submission_out(submission: dict) -> dict:
    return {
        **{key: value for key, value in submission.items() if key not in ("api_key", "files", "signed", "events",
                                                                             "message")},
        "submitters": [_submitter_out(submission, person) for person in submission["submitters"]],
        "created_by_user": {"id": 1, "first_name": "Sandbox", "last_name": "Admin", "email": "admin@docuseal.test"},
        "submission_events": submission["events"], "documents": _documents_out(submission),
    }  # fmt: skip


def get_submission(api_key: str, submission_id: int) -> dict:
    return submission_out(_owned(api_key, submission_id))


def _page(items: list[dict], params: Mapping[str, str]) -> dict:
    try:
        limit = min(max(int(params.get("limit") or DEFAULT_LIMIT), 1), MAX_LIMIT)
    except ValueError:
        limit = DEFAULT_LIMIT
    items = sorted(items, key=lambda item: -item["id"])
    after, before = params.get("after"), params.get("before")
    if after and after.isdigit():
        items = [item for item in items if item["id"] > int(after)]
    if before and before.isdigit():
        items = [item for item in items if item["id"] < int(before)]
    page = items[:limit]
    return {"data": page, "pagination": {"count": len(page), "next": page[-1]["id"] if page else None,
                                         "prev": page[0]["id"] if page else None}}  # fmt: skip


def _submissions(api_key: str) -> list[dict]:
    return [found for sid in account(api_key)["submissions"] if (found := _submission(sid)) is not None]


def list_submissions(api_key: str, params: Mapping[str, str]) -> dict:
    found = _submissions(api_key)
    if params.get("template_id"):
        found = [s for s in found if s["template"] and str(s["template"]["id"]) == params["template_id"]]
    if params.get("status"):
        found = [s for s in found if s["status"] == params["status"]]
    if params.get("q"):
        query = params["q"].lower()
        found = [s for s in found if query in (s["name"] or "").lower()
                 or any(query in (p["email"] or "").lower() or query in (p["name"] or "").lower()
                        for p in s["submitters"])]  # fmt: skip
    return _page([submission_out(s) for s in found], params)


def list_submitters(api_key: str, params: Mapping[str, str]) -> dict:
    people = [_submitter_out(s, p, with_documents=True) for s in _submissions(api_key) for p in s["submitters"]]
    if params.get("external_id"):
        people = [p for p in people if p["external_id"] == params["external_id"]]
    if params.get("submission_id"):
        people = [p for p in people if str(p["submission_id"]) == params["submission_id"]]
    if params.get("slug"):
        people = [p for p in people if p["slug"] == params["slug"]]
    return _page(people, params)


def _locate(submitter_id: int) -> tuple[int, dict] | None:
    index = store.get(f"submitter:{submitter_id}")
    return (index["submission_id"], index) if index else None


def get_submitter(api_key: str, submitter_id: int) -> dict:
    located = _locate(submitter_id)
    if located is None:
        raise ApiError(404, "Not found")
    submission = _owned(api_key, located[0])
    person = next(p for p in submission["submitters"] if p["id"] == submitter_id)
    return _submitter_out(submission, person, with_documents=True)


def update_submitter(api_key: str, submitter_id: int, payload: Any) -> dict:
    """PUT /submitters/{id}: name, email, external_id, metadata; `send_email: true` sends the request again."""
    payload = _object(payload)
    located = _locate(submitter_id)
    if located is None:
        raise ApiError(404, "Not found")
    _owned(api_key, located[0])
    with store.update(f"submission:{located[0]}") as submission:
        person = next(p for p in submission["submitters"] if p["id"] == submitter_id)
        if person["completed_at"] or person["declined_at"]:
            raise ApiError(422, "Submitter has already completed or declined the submission")
        for field in ("name", "email", "phone", "external_id", "metadata"):
            if field in payload:
                person[field] = payload[field]
        person["updated_at"] = _now()
        resend = payload.get("send_email") is True
        if resend:
            person["sent_at"] = person["updated_at"]
            person["status"] = "sent" if person["status"] == "awaiting" else person["status"]
        out = _submitter_out(submission, person, with_documents=True)
    if resend:
        with store.update(f"account:{api_key}") as document:
            _log(document, "emails", {"to": person["email"], "subject": "reminder", "at": person["updated_at"],
                                      "link": signing_url(person["slug"])})  # fmt: skip
    return out


# --- The signing page ----------------------------------------------------------------------------------------------


def form(slug: str) -> tuple[dict, dict] | None:
    """(submission, submitter) of a signing link, or None."""
    index = store.get(f"slug:{slug}")
    if index is None:
        return None
    submission = _submission(index["submission_id"])
    person = next(p for p in submission["submitters"] if p["id"] == index["submitter_id"])
    return submission, person


def form_open(slug: str) -> None:
    """The signer opens the link: opened (the first time) and `form.viewed`."""
    index = store.get(f"slug:{slug}")
    with store.update(f"submission:{index['submission_id']}") as submission:
        person = next(p for p in submission["submitters"] if p["id"] == index["submitter_id"])
        if person["completed_at"] or person["declined_at"]:
            return
        now = _now()
        if not person["opened_at"]:
            person["opened_at"], person["status"] = now, "opened"
        person["updated_at"] = now
        _event(submission, person, "view_form", now)
        body = _form_event("form.viewed", submission, person, now)
    _send(submission["api_key"], body)


def form_sign(slug: str, *, name: str, accepted_terms: bool, ip: str, user_agent: str) -> None:
    """The signer ticks the terms, types a name and signs: completed, signed files, then the two webhooks."""
    if not accepted_terms or not name.strip():
        raise ApiError(422, "Accept the general terms and type your name to sign")
    index = store.get(f"slug:{slug}")
    with store.update(f"submission:{index['submission_id']}") as submission:
        person = next(p for p in submission["submitters"] if p["id"] == index["submitter_id"])
        if person["completed_at"] or person["declined_at"]:
            raise ApiError(422, "Form has been completed already")
        now = _now()
        person.update(opened_at=person["opened_at"] or now, completed_at=now, updated_at=now, status="completed",
                      name=name.strip(), ip=ip, ua=user_agent)  # fmt: skip
        person["values"] = [{"field": "Signature", "value": name.strip()}, {"field": "CGV", "value": True}]
        signed = []
        for item in submission["files"]:
            found = blob(item["key"])
            signed.append({"name": item["name"], "key": _blob_put(item["name"] + "-signed", found[1])})
        submission["signed"] = signed
        audit = minimal_pdf([
            "DocuSeal sandbox - audit log", f"Submission {submission['id']}: {submission['name']}",
            f"Signer: {person['name']} <{person['email']}> ({person['role']})", f"Sent: {person['sent_at']}",
            f"Opened: {person['opened_at']}", f"Completed: {now}", f"IP: {ip}", f"Browser: {user_agent[:80]}",
            *[f"{item['name']}: SHA-256 {hashlib.sha256(blob(item['key'])[1]).hexdigest()}" for item in signed],
        ])  # fmt: skip
        submission["audit_log_url"] = _file_url(_blob_put("audit-log", audit), "audit-log")
        _event(submission, person, "complete_form", now)
        if all(p["completed_at"] for p in submission["submitters"]):
            submission.update(status="completed", completed_at=now, updated_at=now)
        form_body = _form_event("form.completed", submission, person, now)
        submission_body = (_submission_event("submission.completed", submission, now)
                           if submission["status"] == "completed" else None)  # fmt: skip
    _send(submission["api_key"], form_body)
    if submission_body:
        _send(submission["api_key"], submission_body)


def form_decline(slug: str, *, reason: str) -> None:
    index = store.get(f"slug:{slug}")
    with store.update(f"submission:{index['submission_id']}") as submission:
        person = next(p for p in submission["submitters"] if p["id"] == index["submitter_id"])
        if person["completed_at"] or person["declined_at"]:
            raise ApiError(422, "Form has been completed already")
        now = _now()
        person.update(declined_at=now, updated_at=now, status="declined", decline_reason=reason.strip())
        submission.update(status="declined", updated_at=now)
        _event(submission, person, "decline_form", now)
        body = _form_event("form.declined", submission, person, now)
    _send(submission["api_key"], body)


def _event(submission: dict, person: dict, event_type: str, at: str) -> None:
    submission["events"].append({"id": len(submission["events"]) + 1, "submitter_id": person["id"],
                                 "event_type": event_type, "event_timestamp": at, "data": {}})  # fmt: skip


def _form_event(event_type: str, submission: dict, person: dict, at: str) -> str:
    data = {
        **_submitter_out(submission, person), "decline_reason": person["decline_reason"], "ip": person["ip"],
        "ua": person["ua"], "documents": _documents_out(submission), "audit_log_url": submission["audit_log_url"],
        "submission_url": public_url("docuseal-dashboard"), "template": submission["template"],
        "submission": {"id": submission["id"], "status": submission["status"],
                       "audit_log_url": submission["audit_log_url"], "combined_document_url": None,
                       "url": public_url("docuseal-dashboard"), "variables": {},
                       "created_at": submission["created_at"]},
    }  # fmt: skip
    return json.dumps({"event_type": event_type, "timestamp": at, "data": data})


def _submission_event(event_type: str, submission: dict, at: str) -> str:
    return json.dumps({"event_type": event_type, "timestamp": at, "data": submission_out(submission)})


# --- Webhook deliveries ------------------------------------------------------------------------------------------


def webhook_headers(api_key: str, raw_body: bytes) -> tuple[str, dict[str, str]] | None:
    """(url, headers) of the account's webhook as configured now, or None when none is configured."""
    hook = (account(api_key) or {}).get("webhook") or {}
    if not hook.get("url"):
        return None
    headers = {"User-Agent": USER_AGENT}
    if hook.get("secret_name"):
        headers[hook["secret_name"]] = hook["secret_value"]
    if hook.get("hmac_secret"):
        headers["X-Docuseal-Signature"] = webhook_hmac(raw_body, hook["hmac_secret"], int(time.time()))
    return hook["url"], headers


def _send(api_key: str, body: str) -> None:
    deliver_docuseal_webhook.delay(store.reference(api_key), body)


@shared_task(
    name="sandbox.tasks.deliver_docuseal_webhook", bind=True, ignore_result=True, max_retries=DOCUSEAL_WEBHOOK_RETRIES
)
def deliver_docuseal_webhook(self, account_reference: str, body: str) -> None:
    """POST one event to the account's webhook as configured when the attempt runs, signed afresh each time."""
    api_key = store.dereference(account_reference)
    if api_key is None:
        return
    raw_body = body.encode()
    target = webhook_headers(api_key, raw_body)
    if target is None:
        return
    url, headers = target
    event_type = json.loads(body).get("event_type", "")
    try:
        response = post_webhook(url, raw_body, headers, sandbox="docuseal")
    except ProviderError as error:
        record_delivery(api_key, event_type=event_type, status=error.status, error=error.message)
        raise self.retry(exc=error, countdown=DOCUSEAL_WEBHOOK_RETRY_SECONDS) from error
    record_delivery(api_key, event_type=event_type, status=response.status)


def record_delivery(api_key: str, *, event_type: str, status: int | None, error: str = "") -> None:
    with store.update(f"account:{api_key}") as document:
        _log(document, "deliveries", {"event": event_type, "status": status, "error": error[:200], "at": _now()})


def _log(document: dict, name: str, entry: dict) -> None:
    document[name] = [*document.get(name, []), entry][-MAX_LOG:]


def submissions_for_page(api_key: str) -> list[dict]:
    return [submission_out(s) | {"signers": s["submitters"]} for s in reversed(_submissions(api_key))]


def clear() -> None:
    client = redis_client()
    for key in client.scan_iter(f"{KEY_PREFIX}:*"):
        client.delete(key)
