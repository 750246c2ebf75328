"""DocuSeal as the channel clients sign quotes through: "Envoyer pour signature", reminders and DocuSeal's events.

"Envoyer pour signature" is an action run: the quote (numbered and marked sent first if it was a draft) is
printed, sent with the company's general terms (CGV) as one DocuSeal submission, and the signing link kept.
The submitter carries our key (`external_id`); before creating anything the run looks that key up at
DocuSeal, so an attempt whose answer was lost is found by the next one and never sent twice.
DocuSeal's webhooks move the signature forward only (sent → opened → started → signed / declined / expired):
a replayed or repeated event changes nothing twice. A completed signature stores the signed PDF and the
audit trail, records the accepted CGV (version and SHA-256), then marks the quote signed once, which
announces `finance.events.quote_signed`. A declined one rejects the quote with the client's reason.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from finance import pdf
from finance.models import Company, Quote, QuoteSignature
from finance.models.actions import REMIND_ACTION, SIGN_ACTION
from finance.selectors import REMINDABLE, live_signature, remind_refusal
from finance.services.audit import audit_record
from finance.services.documents import quote_mark_signed, quote_mark_viewed, quote_reject, quote_send
from integrations import actions
from integrations.clients import docuseal
from integrations.clients.base import PermanentProviderError
from integrations.docuseal import DEFAULT_ROLE, cgv_content, docuseal_client
from integrations.models import ActionRun, Connection, Provider
from integrations.selectors import usable_connection

logger = logging.getLogger(__name__)

# How far each status is along the way; a signature only ever moves to a higher rank.
RANKS = {
    QuoteSignature.Status.SENT: 0,
    QuoteSignature.Status.OPENED: 1,
    QuoteSignature.Status.STARTED: 2,
    QuoteSignature.Status.COMPLETED: 3,
    QuoteSignature.Status.DECLINED: 3,
    QuoteSignature.Status.EXPIRED: 3,
}


# --- Reads the page needs ----------------------------------------------------------------------------------


def _ended_count(quote: Quote) -> int:
    return QuoteSignature.objects.filter(quote=quote, status__in=QuoteSignature.ENDED).count()


def external_id_for(quote: Quote, *, attempt: int = 0) -> str:
    """Our key at DocuSeal: `quote-<company>-<pk>`, then `-2`, `-3` for a new request after a decline or expiry."""
    key = f"quote-{quote.company.code}-{quote.pk}"
    return f"{key}-{attempt + 1}" if attempt else key


def signature_refusal(quote: Quote) -> str:
    """Why the quote cannot be sent for signature now, or "" if it can (roles are checked by the caller)."""
    company = quote.company
    if company.signature_channel != Company.SignatureChannel.DOCUSEAL:
        return _("%(company)s has its quotes signed in %(channel)s, not DocuSeal.") % {
            "company": company.name, "channel": company.get_signature_channel_display()
        }  # fmt: skip
    if usable_connection(company, Provider.DOCUSEAL) is None:
        return _("DocuSeal is not set up for %(company)s (API key, template and general terms).") % {
            "company": company.name
        }  # fmt: skip
    if quote.status not in (Quote.Status.DRAFT, Quote.Status.SENT, Quote.Status.VIEWED):
        return _("Only a draft or sent quote is sent for signature; this one is %(status)s.") % {
            "status": quote.get_status_display().lower()
        }  # fmt: skip
    if quote.status == Quote.Status.DRAFT and quote.payable_total <= 0:
        return _("Add at least one line with an amount first.")
    if live_signature(quote) is not None:
        return _("The quote is already with DocuSeal: see the signature card.")
    if ActionRun.objects.filter(idempotency_key=_sign_key(quote)).exists():
        # A failed run is retried from its badge on the page, never asked for a second time.
        return _("Sending for signature was asked already: see its progress on the page.")
    if not quote.client.email:
        return _("%(client)s has no e-mail address.") % {"client": quote.client.name}
    return ""


# --- Envoyer pour signature ---------------------------------------------------------------------------------


def _sign_key(quote: Quote) -> str:
    """One run per signature request: a new one only after the previous request was declined or expired."""
    return f"docuseal-sign:quote:{quote.pk}:{_ended_count(quote)}"


@transaction.atomic
def signature_request_start(*, quote: Quote, requested_by: AbstractBaseUser) -> ActionRun:
    """Ask for "Envoyer pour signature": a draft is numbered and marked sent first (its lines freeze)."""
    quote = Quote.objects.select_for_update().select_related("company", "client").get(pk=quote.pk)
    refusal = signature_refusal(quote)
    if refusal:
        raise ValidationError(refusal)
    if quote.status == Quote.Status.DRAFT:
        quote = quote_send(quote=quote, sent_by=requested_by)
    return actions.action_run_start(
        action=SIGN_ACTION, target=quote, company=quote.company, actor=requested_by,
        idempotency_key=_sign_key(quote),
    )  # fmt: skip


def _connection(company: Company) -> Connection:
    connection = usable_connection(company, Provider.DOCUSEAL)
    if connection is None:
        raise PermanentProviderError(Provider.DOCUSEAL, _("DocuSeal is not set up for %(company)s.")
                                     % {"company": company.name})  # fmt: skip
    return connection


def _documents(quote: Quote, connection: Connection) -> list[docuseal.PdfDocument]:
    with translation.override(quote.client.language):
        terms = _("General terms %(version)s") % {"version": connection.config.get("cgv_version", "")}
    return [
        docuseal.PdfDocument(name=slugify(quote.number) or "quote", content=pdf.quote_pdf(quote)),
        docuseal.PdfDocument(name=terms.strip(), content=cgv_content(connection)),
    ]  # fmt: skip


def _message(quote: Quote) -> dict[str, str]:
    with translation.override(quote.client.language):
        values = {"number": quote.number, "company": quote.company.name}
        return {
            "subject": _("Quote %(number)s from %(company)s: your signature") % values,
            "body": _("Hello,\n\nPlease read and sign our quote %(number)s and our general terms here: "
                      "{{submitter.link}}\n\n%(company)s") % values,
        }  # fmt: skip


@actions.action_handler(SIGN_ACTION)
def signature_request_execute(run: ActionRun) -> dict:
    """Create the submission once (found by our key if an earlier attempt made it) and keep the signing link."""
    quote = Quote.objects.select_related("company", "client").get(pk=run.target_id)
    existing = live_signature(quote)
    if existing is not None:
        return _result(existing)
    if quote.status not in (Quote.Status.SENT, Quote.Status.VIEWED):
        raise ValidationError(_("The quote is %(status)s: it is no longer sent for signature.")
                              % {"status": quote.get_status_display().lower()})  # fmt: skip
    connection = _connection(quote.company)
    api = docuseal_client(connection)
    external_id = external_id_for(quote, attempt=_ended_count(quote))
    submitter = api.submitter_find(external_id)
    if submitter is None:
        config = connection.config
        submission = api.submission_create_from_pdf(
            name=f"{quote.number} · {quote.title}"[:200], documents=_documents(quote, connection),
            template_ids=[int(config["template_id"])], message=_message(quote),
            submitter={
                "role": config.get("template_role") or DEFAULT_ROLE, "email": quote.client.email,
                "name": quote.client.name, "external_id": external_id,
                "metadata": {"quote_id": quote.pk, "quote_number": quote.number, "company": quote.company.code,
                             "cgv_version": config.get("cgv_version", ""), "cgv_sha256": config.get("cgv_sha256", "")},
            },
        )  # fmt: skip
        submitter = next((item for item in submission.submitters if item.external_id == external_id), None)
        if submitter is None:
            raise PermanentProviderError(Provider.DOCUSEAL, _("DocuSeal's answer does not name our signer."))
    signature = _signature_store(quote, connection, submitter, external_id=external_id, actor=run.actor)
    return _result(signature)


def _signing_url(connection: Connection, submitter: docuseal.Submitter) -> str:
    if submitter.embed_src:
        return submitter.embed_src
    # Self-hosted: the API is https://<host>/api and forms are https://<host>/s/<slug>.
    return f"{connection.base_url.removesuffix('/api')}/s/{submitter.slug}"


@transaction.atomic
def _signature_store(
    quote: Quote, connection: Connection, submitter: docuseal.Submitter, *, external_id: str, actor
) -> QuoteSignature:  # fmt: skip
    config = connection.config
    signature, created = QuoteSignature.objects.get_or_create(
        company=quote.company, submitter_id=submitter.id,
        defaults={
            "quote": quote, "submission_id": submitter.submission_id, "external_id": external_id,
            "slug": submitter.slug, "signing_url": _signing_url(connection, submitter),
            "sent_at": submitter.sent_at or timezone.now(), "cgv_version": config.get("cgv_version", ""),
            "cgv_sha256": config.get("cgv_sha256", ""), "signer_email": submitter.email[:254],
            "signer_name": submitter.name[:200],
        },
    )  # fmt: skip
    if created:
        audit_record(
            actor=actor, company=quote.company, action="signature.requested", target=quote,
            changes={"summary": _("%(email)s · terms %(version)s") % {"email": submitter.email,
                                                                      "version": signature.cgv_version},
                     "submission_id": submitter.submission_id},
        )  # fmt: skip
    return signature


def _result(signature: QuoteSignature) -> dict:
    return {"signature_id": signature.pk, "submission_id": signature.submission_id,
            "submitter_id": signature.submitter_id, "signing_url": signature.signing_url}  # fmt: skip


# --- Relancer -------------------------------------------------------------------------------------------------


@transaction.atomic
def signature_remind_start(*, signature: QuoteSignature, requested_by: AbstractBaseUser) -> ActionRun:
    """Ask DocuSeal to e-mail the signature request again (one run per reminder)."""
    signature = QuoteSignature.objects.select_for_update().select_related("company").get(pk=signature.pk)
    refusal = remind_refusal(signature)
    if refusal:
        raise ValidationError(refusal)
    return actions.action_run_start(
        action=REMIND_ACTION, target=signature, company=signature.company, actor=requested_by,
        idempotency_key=f"docuseal-remind:signature:{signature.pk}:{signature.reminders_sent + 1}",
    )  # fmt: skip


@actions.action_handler(REMIND_ACTION)
def signature_remind_execute(run: ActionRun) -> dict:
    signature = QuoteSignature.objects.select_related("company", "quote").get(pk=run.target_id)
    if signature.status not in REMINDABLE:
        return {"skipped": signature.status}
    docuseal_client(_connection(signature.company)).submitter_resend(signature.submitter_id)
    with transaction.atomic():
        QuoteSignature.objects.filter(pk=signature.pk).update(
            reminders_sent=F("reminders_sent") + 1, last_reminder_at=timezone.now()
        )
        signature.refresh_from_db()
        audit_record(actor=run.actor, company=signature.company, action="signature.reminded", target=signature.quote,
                     changes={"summary": _("Reminder %(count)s to %(email)s")
                              % {"count": signature.reminders_sent, "email": signature.signer_email}})  # fmt: skip
    return {"reminders_sent": signature.reminders_sent}


# --- DocuSeal's events ------------------------------------------------------------------------------------------


def event_process(connection: Connection, payload: dict[str, Any]) -> str:
    """Apply one webhook event; returns what was done (a no-op note for unknown submissions and events)."""
    event_type = str(payload.get("event_type") or "")
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    at = docuseal.parse_datetime(payload.get("timestamp")) or timezone.now()
    company = connection.company
    if event_type.startswith("form."):
        submitter = docuseal.Submitter.from_api(data)
        signature = (
            QuoteSignature.objects.filter(company=company, submitter_id=submitter.id).first()
            or QuoteSignature.objects.filter(company=company, external_id=submitter.external_id)
            .exclude(external_id="").first()
        )  # fmt: skip
        submission = None
    elif event_type.startswith("submission."):
        submission = docuseal.Submission.from_api(data)
        signature = QuoteSignature.objects.filter(company=company, submission_id=submission.id).first()
        submitter = submission.submitters[0] if submission.submitters else None
    else:
        return f"ignored event {event_type!r}"
    if signature is None:
        logger.info("docuseal event %s for an unknown submission (company %s)", event_type, company.code)
        return f"no signature of {company.code} for this {event_type} event: nothing to do"
    if event_type == docuseal.WebhookEvent.FORM_VIEWED:
        return _opened(signature, at=submitter.opened_at or at)
    if event_type == docuseal.WebhookEvent.FORM_STARTED:
        return _advance(signature, QuoteSignature.Status.STARTED, "started_at", at, action="signature.started")
    if event_type == docuseal.WebhookEvent.FORM_COMPLETED:
        audit_log_url = str(data.get("audit_log_url") or (data.get("submission") or {}).get("audit_log_url") or "")
        return _completed(connection, signature, submitter, documents=submitter.documents,
                          audit_log_url=audit_log_url, at=submitter.completed_at or at)  # fmt: skip
    if event_type == docuseal.WebhookEvent.SUBMISSION_COMPLETED:
        return _completed(connection, signature, submitter, documents=submission.documents,
                          audit_log_url=submission.audit_log_url, at=submission.completed_at or at)  # fmt: skip
    if event_type == docuseal.WebhookEvent.FORM_DECLINED:
        return _declined(signature, reason=submitter.decline_reason, at=submitter.declined_at or at)
    if event_type == docuseal.WebhookEvent.SUBMISSION_EXPIRED:
        return _advance(signature, QuoteSignature.Status.EXPIRED, "expired_at", at, action="signature.expired")
    return f"ignored event {event_type!r}"


def _advance(signature: QuoteSignature, status: str, stamp: str, at: datetime, *, action: str) -> str:
    """Move the signature forward to `status` (never back), stamping when it happened; audited once."""
    with transaction.atomic():
        locked = QuoteSignature.objects.select_for_update().select_related("quote").get(pk=signature.pk)
        if RANKS[locked.status] >= RANKS[status]:
            if getattr(locked, stamp) is None and locked.status not in QuoteSignature.FINAL:
                setattr(locked, stamp, at)
                locked.save(update_fields=[stamp])
            return f"already {locked.status}"
        before = locked.status
        locked.status = status
        setattr(locked, stamp, getattr(locked, stamp) or at)
        locked.save(update_fields=["status", stamp])
        audit_record(actor=None, company=locked.company, action=action, target=locked.quote,
                     changes={"summary": locked.get_status_display(), "signature_status_from": before})  # fmt: skip
    signature.refresh_from_db()
    return f"{before} → {status}"


def _opened(signature: QuoteSignature, *, at: datetime) -> str:
    done = _advance(signature, QuoteSignature.Status.OPENED, "opened_at", at, action="signature.opened")
    with transaction.atomic():
        quote = Quote.objects.select_for_update().get(pk=signature.quote_id)
        if quote.status == Quote.Status.SENT:
            quote_mark_viewed(quote=quote, actor=None)
            done += "; quote viewed"
    return done


def _declined(signature: QuoteSignature, *, reason: str, at: datetime) -> str:
    with transaction.atomic():
        locked = QuoteSignature.objects.select_for_update().select_related("quote").get(pk=signature.pk)
        if locked.status in QuoteSignature.FINAL:
            return f"already {locked.status}"
        locked.status, locked.declined_at, locked.decline_reason = QuoteSignature.Status.DECLINED, at, reason[:500]
        locked.save(update_fields=["status", "declined_at", "decline_reason"])
        audit_record(actor=None, company=locked.company, action="signature.declined", target=locked.quote,
                     changes={"summary": reason[:300] or _("No reason given")})  # fmt: skip
        quote = Quote.objects.select_for_update().get(pk=locked.quote_id)
        if quote.status in (Quote.Status.SENT, Quote.Status.VIEWED):
            quote_reject(quote=quote, actor=None, reason=reason)
            return "declined; quote rejected"
    return f"declined; quote left {quote.status}"


def _pick_signed(documents: tuple[docuseal.Document, ...], quote: Quote) -> docuseal.Document | None:
    """The signed quote among the signed documents (named after its number), else the first one."""
    key = slugify(quote.number)
    return next((document for document in documents if key and key in slugify(document.name)),
                documents[0] if documents else None)  # fmt: skip


def _completed(
    connection: Connection, signature: QuoteSignature, submitter: docuseal.Submitter | None, *,
    documents: tuple[docuseal.Document, ...], audit_log_url: str, at: datetime,
) -> str:  # fmt: skip
    signature.refresh_from_db()
    quote = signature.quote
    files: dict[str, bytes] = {}
    if not signature.signed_pdf:
        api = docuseal_client(connection)
        if not documents or not audit_log_url:
            submission = api.submission_get(signature.submission_id)
            documents = documents or submission.documents
            audit_log_url = audit_log_url or submission.audit_log_url
        chosen = _pick_signed(documents, quote)
        if chosen is None:
            raise PermanentProviderError(Provider.DOCUSEAL, _("DocuSeal names no signed document."))
        files["signed_pdf"] = api.download(chosen.url)
        if audit_log_url:
            files["audit_trail"] = api.download(audit_log_url)
    with transaction.atomic():
        locked = QuoteSignature.objects.select_for_update().select_related("quote", "company").get(pk=signature.pk)
        first_time = locked.status != QuoteSignature.Status.COMPLETED
        fields = []
        for name, content in files.items():
            if not getattr(locked, name):
                kind = "signed" if name == "signed_pdf" else "audit"
                getattr(locked, name).save(f"{slugify(quote.number) or quote.pk}-{kind}.pdf", ContentFile(content),
                                           save=False)  # fmt: skip
                fields.append(name)
        if first_time:
            locked.status, locked.completed_at = QuoteSignature.Status.COMPLETED, locked.completed_at or at
            locked.cgv_accepted_at = locked.cgv_accepted_at or at
            fields += ["status", "completed_at", "cgv_accepted_at"]
            if submitter is not None:
                locked.signer_name = submitter.name[:200] or locked.signer_name
                locked.signer_email = submitter.email[:254] or locked.signer_email
                locked.signer_ip = submitter.ip[:64] or locked.signer_ip
                locked.signer_user_agent = submitter.user_agent[:500] or locked.signer_user_agent
                fields += ["signer_name", "signer_email", "signer_ip", "signer_user_agent"]
        if fields:
            locked.save(update_fields=fields)
        if first_time:
            audit_record(
                actor=None, company=locked.company, action="signature.completed", target=locked.quote,
                changes={"summary": _("%(name)s · terms %(version)s accepted") % {
                    "name": locked.signer_name or locked.signer_email, "version": locked.cgv_version},
                    "cgv_sha256": locked.cgv_sha256, "ip": locked.signer_ip},
            )  # fmt: skip
        quote = Quote.objects.select_for_update().get(pk=locked.quote_id)
        if quote.status in (Quote.Status.SENT, Quote.Status.VIEWED):
            quote_mark_signed(quote=quote, actor=None)
            return "completed; quote signed"
    return f"completed; quote left {quote.status}"
