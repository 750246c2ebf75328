"""Leads: taken in from every source (merged when the same person asks twice), scored, qualified, quoted.

Every change is logged to the audit trail, which the lead page shows as its timeline. The rule score is
always computed; the AI qualification runs as an action run when the company has an OpenAI connection,
and a failure there leaves the lead with its rule score and the run showing why.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.dispatch import receiver
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from finance import events
from finance.identifiers import normalize_phone
from finance.models import Client, Company, Language, Lead, ProjectType, Quote, VatCode
from finance.models.actions import QUALIFY_ACTION
from finance.services import documents, parties
from finance.services.audit import audit_record, field_changes
from integrations import actions
from integrations import openai as openai_connection
from integrations.clients import openai as openai_client
from integrations.clients.base import PermanentProviderError
from integrations.models import ActionRun, Provider
from integrations.selectors import usable_connection

logger = logging.getLogger(__name__)

# Submissions with the same e-mail or phone this close to a lead's last one are merged into it.
MERGE_WINDOW = dt.timedelta(minutes=30)
# First key of the advisory lock that serialises a company's lead intake (second key: the company id).
INTAKE_LOCK_NAMESPACE = 7301
# Days a quote made from a lead stays valid (as on the quote form).
QUOTE_VALIDITY_DAYS = 30
# Changes whenever the instructions or the schema change: a lead may be qualified again under a new version.
PROMPT_VERSION = "lead-2026-12-v1"

EDITABLE_FIELDS = (
    "first_name", "last_name", "organisation", "email", "phone", "language", "town", "source", "project_type",
    "budget", "currency", "event_date", "message",
)  # fmt: skip


@dataclass(frozen=True)
class LeadInput:
    """What a form, a website or a person says about an enquiry (unnormalised)."""

    source: str
    first_name: str = ""
    last_name: str = ""
    organisation: str = ""
    email: str = ""
    phone: str = ""
    language: str = Language.FRENCH
    town: str = ""
    project_type: str = ProjectType.OTHER
    budget: Decimal | None = None
    currency: str = "CHF"
    event_date: dt.date | None = None
    message: str = ""

    def cleaned(self) -> dict[str, Any]:
        """The values as stored: trimmed, e-mail in lower case, phone as E.164; ValidationError per field."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in values.items():
            if isinstance(value, str):
                values[name] = value.strip()
        values["email"] = values["email"].lower()
        if values["phone"]:
            try:
                values["phone"] = normalize_phone(values["phone"])
            except ValidationError as error:
                raise ValidationError({"phone": error.messages}) from None
        if not values["email"] and not values["phone"]:
            raise ValidationError(_("Give at least an e-mail address or a phone number."), code="no_contact")
        return values


# --- Rule score ------------------------------------------------------------------------------------

# Points of the rule score (at most 100): budget 30, date 25, contact data 30, project type 15.
BUDGET_POINTS = ((Decimal("50000"), 30), (Decimal("10000"), 20), (Decimal("3000"), 10), (Decimal("0"), 5))
EVENT_SOON_DAYS, EVENT_QUARTER_DAYS = 30, 90
EVENT_POINTS = {"event_soon": 25, "event_quarter": 15, "event_later": 5, "event_past": 0, "no_event": 0}
CONTACT_POINTS = {"email": 10, "phone": 10, "organisation": 5, "full_name": 5}
PROJECT_TYPE_POINTS = 15


def lead_rule_score(lead: Lead, *, today: dt.date) -> tuple[int, list[dict]]:
    """The rule score (0–100) and its reasons; the same lead on the same day always scores the same."""
    reasons: list[dict] = []
    if lead.budget is None:
        reasons.append({"code": "no_budget", "points": 0, "value": ""})
    else:
        points = next(points for floor, points in BUDGET_POINTS if lead.budget >= floor)
        reasons.append({"code": "budget", "points": points, "value": f"{lead.currency} {lead.budget:.2f}"})
    if lead.event_date is None:
        code = "no_event"
    else:
        days = (lead.event_date - today).days
        code = ("event_past" if days < 0 else "event_soon" if days <= EVENT_SOON_DAYS
                else "event_quarter" if days <= EVENT_QUARTER_DAYS else "event_later")  # fmt: skip
    reasons.append({"code": code, "points": EVENT_POINTS[code],
                    "value": lead.event_date.strftime("%d.%m.%Y") if lead.event_date else ""})  # fmt: skip
    present = {"email": bool(lead.email), "phone": bool(lead.phone), "organisation": bool(lead.organisation),
               "full_name": bool(lead.first_name and lead.last_name)}  # fmt: skip
    reasons += [{"code": code, "points": CONTACT_POINTS[code], "value": ""} for code, given in present.items() if given]
    if lead.project_type != ProjectType.OTHER:
        reasons.append({"code": "project_type", "points": PROJECT_TYPE_POINTS,
                        "value": str(ProjectType(lead.project_type).label)})  # fmt: skip
    return sum(reason["points"] for reason in reasons), reasons


def _rescore(lead: Lead, *, actor: AbstractBaseUser | None, today: dt.date) -> None:
    score, reasons = lead_rule_score(lead, today=today)
    if score == lead.rule_score and reasons == lead.rule_reasons:
        return
    lead.rule_score, lead.rule_reasons = score, reasons
    lead.save(update_fields=["rule_score", "rule_reasons"])
    audit_record(actor=actor, company=lead.company, action="lead.scored", target=lead,
                 changes={"summary": f"{score}/100", "score": score})  # fmt: skip


# --- Intake ----------------------------------------------------------------------------------------


def _lock_intake(company: Company) -> None:
    """Serialise this company's intake until the transaction ends: two posts of one person make one lead."""
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [INTAKE_LOCK_NAMESPACE, company.pk])


def lead_merge_candidate(*, company: Company, email: str, phone: str, now: dt.datetime) -> Lead | None:
    """The lead this submission belongs to: same e-mail or phone, last submitted within MERGE_WINDOW."""
    same_person = Q(pk__in=[])
    if email:
        same_person |= Q(email__iexact=email)
    if phone:
        same_person |= Q(phone=phone)
    candidates = Lead.objects.filter(same_person, company=company, last_received_at__gte=now - MERGE_WINDOW)
    return candidates.select_for_update().order_by("-last_received_at", "-pk").first()


@transaction.atomic
def lead_receive(
    *, company: Company, data: LeadInput, actor: AbstractBaseUser | None, delivery_id: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[Lead, bool]:  # fmt: skip
    """Take in one submission: a new lead, or merged into the same person's lead of the last 30 minutes.

    Returns (lead, created). A webhook delivery already taken in (a replay) changes nothing.
    A new lead is qualified by AI at once when the company has an OpenAI connection.
    """
    now = now or timezone.now()
    values = data.cleaned()
    _lock_intake(company)
    if delivery_id is not None:
        done = Lead.objects.filter(company=company, delivery_ids__contains=[delivery_id]).first()
        if done is not None:
            return done, False
    lead = lead_merge_candidate(company=company, email=values["email"], phone=values["phone"], now=now)
    if lead is not None:
        _merge(lead, values, actor=actor, delivery_id=delivery_id, now=now)
        return lead, False
    lead = Lead(company=company, received_at=now, last_received_at=now, **values)
    if delivery_id is not None:
        lead.delivery_ids = [delivery_id]
    lead.full_clean(exclude=["received_at", "last_received_at"])
    lead.save()
    lead.refresh_from_db()
    audit_record(actor=actor, company=company, action="lead.created", target=lead,
                 changes={"summary": str(Lead.Source(lead.source).label)})  # fmt: skip
    _rescore(lead, actor=actor, today=timezone.localdate(now))
    if usable_connection(company, Provider.OPENAI) is not None:
        lead_qualify_start(lead=lead, actor=actor)
    return lead, True


def _merge(lead: Lead, values: dict, *, actor, delivery_id: int | None, now: dt.datetime) -> None:
    for name in ("first_name", "last_name", "organisation", "email", "phone", "town", "budget", "event_date"):
        if values[name] and not getattr(lead, name):
            setattr(lead, name, values[name])
    if lead.project_type == ProjectType.OTHER and values["project_type"] != ProjectType.OTHER:
        lead.project_type = values["project_type"]
    message = values["message"]
    if message and message not in lead.message:
        stamp = timezone.localtime(now).strftime("%d.%m.%Y %H:%M")
        header = f"— {stamp} · {Lead.Source(values['source']).label} —"
        lead.message = f"{lead.message}\n\n{header}\n{message}" if lead.message else message
    lead.received_count += 1
    lead.last_received_at = now
    if delivery_id is not None:
        lead.delivery_ids = [*lead.delivery_ids, delivery_id]
    lead.updated_at = Now()
    lead.full_clean(exclude=["received_at", "last_received_at", "updated_at"])
    lead.save()
    lead.refresh_from_db()
    audit_record(
        actor=actor, company=lead.company, action="lead.merged", target=lead,
        changes={"summary": _("Submission %(count)s · %(source)s")
                 % {"count": lead.received_count, "source": Lead.Source(values["source"]).label},
                 "count": lead.received_count, "source": values["source"]},
    )  # fmt: skip
    _rescore(lead, actor=actor, today=timezone.localdate(now))


@transaction.atomic
def lead_update(*, lead: Lead, updated_by: AbstractBaseUser, **changes: Any) -> Lead:
    """Change a lead's contact data or request; the score follows."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    before = {name: getattr(lead, name) for name in EDITABLE_FIELDS}
    data = LeadInput(**{**before, **changes})
    for name, value in data.cleaned().items():
        setattr(lead, name, value)
    lead.full_clean()
    diff = field_changes(before, {name: getattr(lead, name) for name in EDITABLE_FIELDS})
    if not diff:
        return lead
    lead.updated_at = Now()
    lead.save()
    lead.refresh_from_db()
    audit_record(actor=updated_by, company=lead.company, action="lead.updated", target=lead, changes=diff)
    _rescore(lead, actor=updated_by, today=timezone.localdate())
    return lead


# --- Follow-up -------------------------------------------------------------------------------------


def _responded(lead: Lead) -> None:
    if lead.first_response_at is None:
        lead.first_response_at = timezone.now()


def _transition(lead: Lead, *, to: str, action: str, actor, responded: bool = True, **values) -> Lead:
    before = lead.status
    lead.status = to
    for name, value in values.items():
        setattr(lead, name, value)
    if responded:
        _responded(lead)
    lead.updated_at = Now()
    lead.full_clean(exclude=["updated_at"])
    lead.save()
    lead.refresh_from_db()
    reason = {"reason": lead.lost_reason} if to == Lead.Status.LOST else {}
    audit_record(actor=actor, company=lead.company, action=action, target=lead,
                 changes={"status_from": before, "status_to": to, **reason})  # fmt: skip
    return lead


def _locked(lead: Lead) -> Lead:
    return Lead.objects.select_for_update().select_related("company").get(pk=lead.pk)


def _require_open(lead: Lead) -> None:
    if not lead.is_open:
        raise ValidationError(
            _("This lead is %(status)s: nothing more to do.") % {"status": lead.get_status_display().lower()}
        )


@transaction.atomic
def lead_owner_set(*, lead: Lead, owner: AbstractBaseUser | None, actor: AbstractBaseUser) -> Lead:
    lead = _locked(lead)
    if lead.owner_id == (owner.pk if owner else None):
        return lead
    lead.owner = owner
    lead.save(update_fields=["owner"])
    name = (owner.get_full_name() or owner.get_username()) if owner else _("nobody")
    audit_record(actor=actor, company=lead.company, action="lead.owner_set", target=lead,
                 changes={"summary": name, "owner": owner.pk if owner else None})  # fmt: skip
    return lead


@transaction.atomic
def lead_mark_answered(*, lead: Lead, actor: AbstractBaseUser) -> Lead:
    """Someone answered the person (call, e-mail): the response time stops here."""
    lead = _locked(lead)
    if lead.first_response_at is not None:
        return lead
    lead.first_response_at = timezone.now()
    lead.save(update_fields=["first_response_at"])
    audit_record(actor=actor, company=lead.company, action="lead.answered", target=lead)
    return lead


@transaction.atomic
def lead_mark_qualified(*, lead: Lead, actor: AbstractBaseUser) -> Lead:
    lead = _locked(lead)
    if lead.status != Lead.Status.NEW:
        raise ValidationError(_("Only a new lead can be marked qualified."))
    return _transition(lead, to=Lead.Status.QUALIFIED, action="lead.status_changed", actor=actor)


@transaction.atomic
def lead_mark_lost(*, lead: Lead, actor: AbstractBaseUser | None, reason: str) -> Lead:
    lead = _locked(lead)
    _require_open(lead)
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the lead is lost.")})
    return _transition(lead, to=Lead.Status.LOST, action="lead.lost", actor=actor, lost_reason=reason.strip()[:300])


def lead_client_match(*, lead: Lead) -> Client | None:
    """The company's client this lead is: same e-mail (client or contact), else same organisation name."""
    clients = Client.objects.filter(company=lead.company)
    if lead.email:
        found = clients.filter(Q(email__iexact=lead.email) | Q(contacts__email__iexact=lead.email)).first()
        if found:
            return found
    if lead.organisation:
        return clients.filter(name__iexact=lead.organisation).first()
    return None


def _quote_title(lead: Lead) -> str:
    with translation.override(lead.language):
        kind = str(ProjectType(lead.project_type).label)
    who = lead.organisation or lead.display_name
    return f"{kind} – {who}"[:200]


@transaction.atomic
def lead_quote_create(
    *, lead: Lead, created_by: AbstractBaseUser, client_fields: dict[str, Any] | None = None
) -> Quote:
    """Make the draft quote of a lead: its client found (e-mail, organisation) or created, the lead at `quote`.

    Without a matching client, `client_fields` (name, kind, address…) create it, with the person as its
    contact. The budget becomes the first line, to be replaced in the editor by the real offer.
    """
    lead = _locked(lead)
    if lead.status not in (Lead.Status.NEW, Lead.Status.QUALIFIED):
        raise ValidationError(_("A quote is made from a new or qualified lead; this one is %(status)s.")
                              % {"status": lead.get_status_display().lower()})  # fmt: skip
    client = lead.client or lead_client_match(lead=lead)
    if client is None:
        if not client_fields:
            raise ValidationError(_("No client matches this lead: give the client's name and address."))
        client = parties.client_create(company=lead.company, created_by=created_by, **client_fields)
        if lead.first_name or lead.last_name:
            parties.contact_create(client=client, created_by=created_by, name=f"{lead.first_name} {lead.last_name}"
                                   .strip(), email=lead.email, phone=lead.phone)  # fmt: skip
    today = timezone.localdate()
    quote = documents.quote_create(
        client=client, title=_quote_title(lead), quote_date=today, valid_until=today + dt.timedelta(
            days=QUOTE_VALIDITY_DAYS), project_type=lead.project_type, currency=lead.currency, created_by=created_by,
    )  # fmt: skip
    if lead.budget:
        with translation.override(lead.language):
            description = str(ProjectType(lead.project_type).label)
        line = documents.LineInput(description=description, quantity=Decimal("1"), unit_price=lead.budget,
                                   vat_code=VatCode.STANDARD)  # fmt: skip
        documents.quote_lines_replace(quote=quote, lines=[line], edited_by=created_by)
    _transition(lead, to=Lead.Status.QUOTE, action="lead.quote_created", actor=created_by, client=client, quote=quote)
    return quote


@receiver(events.quote_signed, dispatch_uid="leads_follow_quote_signed")
def _quote_signed(sender, quote: Quote, actor=None, **_kwargs) -> None:
    for lead in Lead.objects.select_for_update().filter(quote=quote, status=Lead.Status.QUOTE):
        _transition(lead, to=Lead.Status.WON, action="lead.won", actor=actor, responded=False)


@receiver(events.quote_rejected, dispatch_uid="leads_follow_quote_rejected")
def _quote_rejected(sender, quote: Quote, actor=None, reason: str = "", **_kwargs) -> None:
    why = reason or quote.rejection_reason or _("Quote %(number)s rejected.") % {"number": quote.number}
    for lead in Lead.objects.select_for_update().filter(quote=quote, status=Lead.Status.QUOTE):
        _transition(lead, to=Lead.Status.LOST, action="lead.lost", actor=actor, responded=False,
                    lost_reason=why[:300])  # fmt: skip


# --- AI qualification ------------------------------------------------------------------------------

QUALIFICATION_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "minimum": 1, "maximum": 10,
                  "description": "1 = not a fit, 10 = ready to buy soon with a matching budget"},
        "language": {"type": "string", "enum": Language.values,
                     "description": "Language the person wrote in (ISO 639-1)"},
        "summary": {"type": "string", "description": "Two sentences for the sales team, in French"},
        "recommended_action": {"type": "string", "enum": Lead.Action.values},
    },
    "required": ["score", "language", "summary", "recommended_action"],
    "additionalProperties": False,
}  # fmt: skip
QUALIFICATION_INSTRUCTIONS = (
    "You qualify sales leads for {company}, a Swiss company (digital signage, software, consulting, training, "
    "events). Judge how likely and how soon this enquiry becomes a profitable project, from what it asks, "
    "its budget and its date. Answer only with the JSON object of the schema; the summary is in French."
)


def _lead_prompt(lead: Lead) -> str:
    """What the model reads: the request only (no name, e-mail or phone leaves the Hub)."""
    lines = [
        f"Source: {lead.source}", f"Project type: {lead.project_type}",
        f"Organisation: {lead.organisation or '-'}", f"Town: {lead.town or '-'}",
        f"Budget: {f'{lead.currency} {lead.budget:.2f}' if lead.budget is not None else '-'}",
        f"Event or desired date: {lead.event_date.isoformat() if lead.event_date else '-'}",
        f"Today: {timezone.localdate().isoformat()}", f"Form language: {lead.language}",
        "Message:", lead.message or "-",
    ]  # fmt: skip
    return "\n".join(lines)


def qualify_idempotency_key(lead: Lead) -> str:
    # A new submission merged in is new information: it may be qualified again.
    return f"{QUALIFY_ACTION}:{lead.pk}:{PROMPT_VERSION}:{lead.received_count}"


def lead_qualify_start(*, lead: Lead, actor: AbstractBaseUser | None, retry_failed: bool = False) -> ActionRun:
    """Queue the AI qualification (once per lead, prompt version and submission count).

    Asked again, the same run is returned; with `retry_failed`, a failed one runs again.
    """
    if usable_connection(lead.company, Provider.OPENAI) is None:
        raise ValidationError(ai_unconfigured_text(lead.company))
    run = actions.action_run_start(
        action=QUALIFY_ACTION, target=lead, company=lead.company, actor=actor,
        idempotency_key=qualify_idempotency_key(lead),
    )  # fmt: skip
    if retry_failed and run.status == ActionRun.Status.FAILED and actor is not None:
        run = actions.action_run_retry(run=run, actor=actor)
    return run


def ai_unconfigured_text(company: Company) -> str:
    return _("AI qualification is not configured for %(company)s.") % {"company": company.name}


def qualification_check(data: dict) -> dict:
    """The answer's fields, checked against the schema; PermanentProviderError names what is wrong."""
    score, language = data.get("score"), data.get("language")
    summary, action = data.get("summary"), data.get("recommended_action")
    problems = []
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 10:
        problems.append(f"score {score!r} is not an integer from 1 to 10")
    if language not in Language.values:
        problems.append(f"language {language!r} is not one of {', '.join(Language.values)}")
    if not isinstance(summary, str) or not summary.strip():
        problems.append("summary is empty")
    if action not in Lead.Action.values:
        problems.append(f"recommended_action {action!r} is unknown")
    if problems:
        detail = "; ".join(problems)
        raise PermanentProviderError(openai_client.PROVIDER, f"the answer does not fit the schema: {detail}")
    return {"score": score, "language": language, "summary": summary.strip()[:2000], "action": action}


@transaction.atomic
def lead_qualification_apply(*, lead: Lead, answer: dict, model: str, actor=None) -> Lead:
    """Store a checked AI answer on the lead (the same answer twice changes nothing)."""
    lead = _locked(lead)
    before = (lead.ai_score, lead.ai_language, lead.ai_summary, lead.ai_action, lead.ai_model, lead.ai_prompt_version)
    after = (answer["score"], answer["language"], answer["summary"], answer["action"], model[:80], PROMPT_VERSION)
    if before == after:
        return lead
    (lead.ai_score, lead.ai_language, lead.ai_summary, lead.ai_action, lead.ai_model,
     lead.ai_prompt_version) = after  # fmt: skip
    lead.qualified_at = timezone.now()
    lead.full_clean()
    lead.save()
    audit_record(
        actor=actor, company=lead.company, action="lead.ai_qualified", target=lead,
        changes={"summary": f"{answer['score']}/10 · {Lead.Action(answer['action']).label}", "model": model,
                 "prompt_version": PROMPT_VERSION},
    )  # fmt: skip
    return lead


@actions.action_handler(QUALIFY_ACTION)
def _qualify(run: ActionRun) -> dict:
    lead = Lead.objects.select_related("company").get(pk=run.target_id)
    connection = usable_connection(lead.company, Provider.OPENAI)
    if connection is None:
        raise PermanentProviderError(openai_client.PROVIDER, ai_unconfigured_text(lead.company))
    result = openai_connection.client_for(connection).structured_output(
        instructions=QUALIFICATION_INSTRUCTIONS.format(company=lead.company.name),
        content=[openai_client.text_part(_lead_prompt(lead))], schema_name="lead_qualification",
        schema=QUALIFICATION_SCHEMA,
    )  # fmt: skip
    answer = qualification_check(result.data)
    lead_qualification_apply(lead=lead, answer=answer, model=result.model, actor=run.actor)
    return {"score": answer["score"], "action": answer["action"], "model": result.model,
            "prompt_version": PROMPT_VERSION, "response_id": result.response_id}  # fmt: skip
