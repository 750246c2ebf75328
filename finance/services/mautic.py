"""Mautic as the channel of reminders: the action run that e-mails one, and the webhooks that trace it.

"Envoyer relance Mautic" (and the daily run) start `mautic.reminder` for a stored Reminder. The run upserts
the client's Mautic contact (the stored id, else a search by e-mail, else a new contact: never a second
one), then sends the level's existing template e-mail to it with the reminder's tokens, among them a link
to the QR-bill PDF of the amount claimed. A send whose answer was lost is looked up in the contact's
activity before it is tried again, so the client never gets the same reminder twice.

Mautic's webhooks come back signed: `email_on_send` confirms the e-mail (matched on the reference token),
`email_on_open` says the client opened it (matched on the tracking hash), `lead_post_save_update` brings
an address changed in Mautic back to the client.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from finance import events
from finance.models import Client, Company, Contact, Milestone, Project, Reminder
from finance.models.actions import ACKNOWLEDGEMENT_ACTION, REMINDER_ACTION
from finance.services.audit import audit_record, system_user
from finance.services.documents import invoice_amount_paid
from finance.services.dunning import invoice_dunning_refresh
from finance.services.parties import client_update, contact_update
from finance.services.projects import deposit_invoice_of
from finance.templatetags.money import chf, number
from integrations import actions
from integrations.clients import mautic as mautic_api
from integrations.clients.base import PermanentProviderError, ProviderError
from integrations.mautic import acknowledgement_email_for, mautic_client
from integrations.models import ActionRun, Connection, Provider
from integrations.selectors import action_runs_for, usable_connection

logger = logging.getLogger(__name__)

REMINDER_REFERENCE = re.compile(r"^HUB-R(\d+)$")
# The link in the e-mail opens the reminder's PDF without signing in: signed, and valid this long.
PDF_LINK_SALT = "finance.reminder.pdf"
PDF_LINK_MAX_AGE = timedelta(days=180)


def reminder_pdf_url(reminder: Reminder) -> str:
    token = signing.dumps(reminder.pk, salt=PDF_LINK_SALT)
    return settings.HV_PUBLIC_URL + reverse("finance:reminder-pdf-public", kwargs={"token": token})


def reminder_for_pdf_token(token: str) -> Reminder:
    """The reminder a link was made for; raises Reminder.DoesNotExist for a forged or expired link."""
    try:
        pk = signing.loads(token, salt=PDF_LINK_SALT, max_age=PDF_LINK_MAX_AGE)
    except signing.BadSignature:
        raise Reminder.DoesNotExist from None
    return Reminder.objects.select_related("invoice__company", "invoice__client").get(pk=pk)


def _amount(reminder: Reminder, value) -> str:
    return f"{reminder.currency} {chf(value)}"


def reminder_tokens(reminder: Reminder) -> dict[str, str]:
    """What the template e-mail can say, as `{name}` tokens: amounts to the day of the reminder."""
    invoice, company = reminder.invoice, reminder.company
    policy = company.dunning_policy
    address = f"{company.street} {company.building_number}".strip() + f", {company.postal_code} {company.town}"
    return {
        "reminder_reference": reminder.reference,
        "reminder_level": str(reminder.level),
        "reminder_name": reminder.level_name,
        "invoice_number": invoice.number,
        "invoice_date": f"{invoice.issue_date:%d.%m.%Y}",
        "due_date": f"{invoice.due_date:%d.%m.%Y}",
        "days_late": str(reminder.days_late),
        "balance_due": _amount(reminder, reminder.balance_due),
        "fees": _amount(reminder, reminder.fees_total),
        "interest": _amount(reminder, reminder.interest),
        "interest_rate": f"{number(policy.interest_rate)} %",
        "amount_due": _amount(reminder, reminder.amount_due),
        "client_name": invoice.client.name,
        "company_name": company.legal_name,
        "company_address": address,
        "company_uid": company.che_uid,
        "company_iban": company.iban_display,
        "qr_bill_url": reminder_pdf_url(reminder),
    }


def _contact(client_api: mautic_api.MauticClient, client: Client) -> mautic_api.Contact:
    """The client's Mautic contact: the one stored (its address brought up to date), found by e-mail, or new."""
    contact = None
    if client.mautic_id:
        try:
            contact = client_api.contact_get(int(client.mautic_id))
        except PermanentProviderError as error:
            if error.status != 404:
                raise
    if contact is None:
        contact = client_api.contact_find_by_email(client.email)
    if contact is None:
        contact = client_api.contact_create({"email": client.email, "company": client.name, "tags": ["finance-hub"]})
    elif contact.email.lower() != client.email.lower():
        contact = client_api.contact_update(contact.id, {"email": client.email})
    if client.mautic_id != str(contact.id):
        Client.objects.filter(pk=client.pk).update(mautic_id=str(contact.id))
    return contact


def _reminder_failed(reminder: Reminder, error: str) -> None:
    with transaction.atomic():
        updated = Reminder.objects.filter(pk=reminder.pk, status=Reminder.Status.SENDING).update(
            status=Reminder.Status.FAILED, error=error[:2000]
        )
        if updated:
            audit_record(actor=None, company=reminder.company, action="dunning.reminder_failed",
                         target=reminder.invoice, changes={"summary": f"{reminder.level}. {reminder.level_name} · "
                                                                      f"{error[:200]}"})  # fmt: skip
            invoice_dunning_refresh(invoice=reminder.invoice, today=timezone.localdate())


def _reminder_sent(reminder: Reminder, *, contact_id: int) -> None:
    with transaction.atomic():
        updated = Reminder.objects.filter(pk=reminder.pk, status=Reminder.Status.SENDING).update(
            status=Reminder.Status.SENT, sent_at=timezone.now(), mautic_contact_id=contact_id, error=""
        )
        if updated:
            amount = _amount(reminder, reminder.amount_due)
            summary = f"{reminder.level}. {reminder.level_name} · {amount} → {reminder.recipient}"
            audit_record(actor=reminder.requested_by, company=reminder.company, action="dunning.reminder_sent",
                         target=reminder.invoice, changes={"summary": summary})  # fmt: skip


def _reopen(reminder: Reminder) -> bool:
    """A failed reminder run again (Réessayer): back to sending, unless its level was sent meanwhile."""
    try:
        with transaction.atomic():
            return bool(Reminder.objects.filter(pk=reminder.pk, status=Reminder.Status.FAILED)
                        .update(status=Reminder.Status.SENDING, error=""))  # fmt: skip
    except IntegrityError:
        return False


@actions.action_handler(REMINDER_ACTION)
def reminder_send(run: ActionRun) -> dict:
    reminder = Reminder.objects.select_related("invoice__client", "company", "requested_by").get(pk=run.target_id)
    if reminder.status == Reminder.Status.SENT:
        return {"reminder": reminder.pk, "already_sent": True}
    if reminder.status == Reminder.Status.FAILED:
        if not _reopen(reminder):
            raise ValidationError(_("Level %(level)s was sent meanwhile by another reminder.")
                                  % {"level": reminder.level})  # fmt: skip
        reminder.refresh_from_db()
        invoice_dunning_refresh(invoice=reminder.invoice, today=timezone.localdate())
    try:
        return _send(reminder)
    except ProviderError as error:
        if not error.transient or run.attempts >= actions.MAX_ATTEMPTS:
            _reminder_failed(reminder, str(error))
        raise
    except ValidationError as error:
        _reminder_failed(reminder, " ".join(error.messages))
        raise


def _connected_client(company: Company) -> mautic_api.MauticClient:
    connection = usable_connection(company, Provider.MAUTIC)
    if connection is None:
        raise PermanentProviderError(Provider.MAUTIC, _("Mautic is not connected for %(company)s.")
                                     % {"company": company.name})  # fmt: skip
    return mautic_client(connection)


def _template_send_once(
    client_api: mautic_api.MauticClient, *, email_id: int, contact_id: int, attempted_at, mark_attempted,
    tokens: dict[str, str],
) -> bool:  # fmt: skip
    """Send the template e-mail unless an earlier attempt (at `attempted_at`) reached Mautic and only its answer
    was lost: then the contact's activity shows it sent, and it is not sent again. True when found sent."""
    if attempted_at and client_api.email_sent_to_contact_since(email_id, contact_id, since=attempted_at):
        return True
    mark_attempted()
    client_api.email_send_to_contact(email_id, contact_id, tokens=tokens)
    return False


def _send(reminder: Reminder) -> dict:
    client_api = _connected_client(reminder.company)
    contact = _contact(client_api, reminder.invoice.client)
    found_sent = _template_send_once(
        client_api, email_id=reminder.mautic_email_id, contact_id=contact.id, attempted_at=reminder.send_attempted_at,
        mark_attempted=lambda: Reminder.objects.filter(pk=reminder.pk).update(
            send_attempted_at=timezone.now(), mautic_contact_id=contact.id),
        tokens=reminder_tokens(reminder),
    )  # fmt: skip
    _reminder_sent(reminder, contact_id=contact.id)
    if found_sent:
        return {"reminder": reminder.pk, "contact": contact.id, "found_sent": True}
    return {"reminder": reminder.pk, "contact": contact.id, "email": reminder.mautic_email_id}


# --- Acknowledgement: "your project has started" -------------------------------------------------------


@receiver(events.project_activated, dispatch_uid="mautic_acknowledgement")
def on_project_activated(sender, *, project: Project, actor, **_kwargs) -> None:
    """Signed and deposit paid: the client hears that work starts, once per project."""
    actions.action_run_start(
        action=ACKNOWLEDGEMENT_ACTION, target=project, company=project.company,
        actor=actor if actor and actor.is_active else None, idempotency_key=f"{ACKNOWLEDGEMENT_ACTION}:{project.pk}",
    )  # fmt: skip


def acknowledgement_run(project: Project) -> ActionRun | None:
    return action_runs_for(project).filter(action=ACKNOWLEDGEMENT_ACTION).first()


def _person(user) -> str:
    if user is None or not user.is_active:
        return ""
    name = user.get_full_name() or user.get_username()
    return f"{name} <{user.email}>" if user.email else name


def acknowledgement_tokens(project: Project) -> dict[str, str]:
    """What the "project started" template can say, as `{name}` tokens."""
    quote = project.quote
    deposit = deposit_invoice_of(quote) if quote else None
    received = invoice_amount_paid(deposit) if deposit else Decimal("0.00")
    milestone = (
        Milestone.objects.filter(project=project)
        .exclude(status=Milestone.Status.DONE)
        .order_by("due_date", "pk")
        .first()
    )
    return {
        "project_reference": f"HUB-A{project.pk}",
        "project": project.name,
        "quote_number": quote.number if quote else "",
        "amount_received": f"{project.currency} {chf(received)}",
        "next_milestone": f"{milestone.title} ({milestone.due_date:%d.%m.%Y})" if milestone else "",
        "contact_person": _person(project.manager) or _person(quote.created_by if quote else None),
        "client_name": project.client.name,
        "company_name": project.company.legal_name,
    }


def _acknowledged(project: Project, *, contact_id: int, email_id: int) -> None:
    with transaction.atomic():
        if Project.objects.filter(pk=project.pk, acknowledged_at__isnull=True).update(acknowledged_at=timezone.now()):
            summary = f"{project.client.email} · Mautic #{email_id}"
            audit_record(actor=None, company=project.company, action="project.acknowledged", target=project,
                         changes={"summary": summary, "contact": contact_id})  # fmt: skip


@actions.action_handler(ACKNOWLEDGEMENT_ACTION)
def acknowledgement_send(run: ActionRun) -> dict:
    project = Project.objects.select_related("company", "client", "quote__created_by", "manager").get(pk=run.target_id)
    if project.acknowledged_at is not None:
        return {"project": project.pk, "already_sent": True}
    try:
        return _acknowledge(project)
    except (ProviderError, ValidationError) as error:
        transient = isinstance(error, ProviderError) and error.transient
        if not transient or run.attempts >= actions.MAX_ATTEMPTS:
            reason = error.message if isinstance(error, ProviderError) else " ".join(error.messages)
            audit_record(actor=None, company=project.company, action="project.acknowledgement_failed",
                         target=project, changes={"summary": reason[:200]})  # fmt: skip
        raise


def _acknowledge(project: Project) -> dict:
    client_api = _connected_client(project.company)
    email_id = acknowledgement_email_for(usable_connection(project.company, Provider.MAUTIC), project.client.language)
    if email_id is None:
        raise PermanentProviderError(Provider.MAUTIC, _("No “project started” template e-mail is chosen in the "
                                                        "Mautic settings of %(company)s.")
                                     % {"company": project.company.name})  # fmt: skip
    if not project.client.email:
        raise ValidationError(_("%(client)s has no e-mail address.") % {"client": project.client.name})
    contact = _contact(client_api, project.client)
    found_sent = _template_send_once(
        client_api, email_id=email_id, contact_id=contact.id, attempted_at=project.acknowledgement_attempted_at,
        mark_attempted=lambda: Project.objects.filter(pk=project.pk).update(
            acknowledgement_attempted_at=timezone.now()),
        tokens=acknowledgement_tokens(project),
    )  # fmt: skip
    _acknowledged(project, contact_id=contact.id, email_id=email_id)
    if found_sent:
        return {"project": project.pk, "contact": contact.id, "found_sent": True}
    return {"project": project.pk, "contact": contact.id, "email": email_id}


# --- Webhooks -----------------------------------------------------------------------------------------------


def event_process(connection: Connection, payload: dict) -> None:
    """One verified delivery: each event of each type it batches, in order; safe to run again."""
    handlers = {
        mautic_api.WebhookEvent.EMAIL_ON_SEND: _on_send,
        mautic_api.WebhookEvent.EMAIL_ON_OPEN: _on_open,
        mautic_api.WebhookEvent.LEAD_POST_SAVE_UPDATE: _on_contact_update,
    }
    for event_type, items in payload.items():
        handler = handlers.get(event_type)
        # A test payload carries a top-level timestamp; events the Hub did not subscribe to are ignored.
        if handler is None or not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, dict):
                handler(connection.company, item)


def _reminder_by_reference(company: Company, tokens) -> Reminder | None:
    if not isinstance(tokens, dict):
        return None
    reference = str(tokens.get("{reminder_reference}") or "")  # Mautic writes token names in braces
    match = REMINDER_REFERENCE.match(reference)
    if not match:
        return None
    return Reminder.objects.select_related("invoice", "company").filter(company=company, pk=match[1]).first()


def _on_send(company: Company, item: dict) -> None:
    reminder = _reminder_by_reference(company, item.get("tokens"))
    if reminder is None:
        return  # an e-mail Mautic sent for something else (a campaign, an acknowledgement)
    contact_id = (item.get("contact") or {}).get("id")
    with transaction.atomic():
        reminder = Reminder.objects.select_for_update().select_related("invoice", "company").get(pk=reminder.pk)
        if reminder.status == Reminder.Status.FAILED and _reopen(reminder):
            # Given up after its answers were lost, yet Mautic sent it: it counts, so its level is not sent again.
            reminder.status = Reminder.Status.SENDING
        if reminder.status == Reminder.Status.SENDING:
            # Mautic sent it although the run never heard back: it is sent, whatever the run says next.
            _reminder_sent(reminder, contact_id=contact_id or reminder.mautic_contact_id)
            invoice_dunning_refresh(invoice=reminder.invoice, today=timezone.localdate())
        if reminder.delivered_at is not None:
            return
        reminder.delivered_at = timezone.now()
        reminder.mautic_tracking_hash = str(item.get("idHash") or "")[:64]
        reminder.save(update_fields=["delivered_at", "mautic_tracking_hash"])
        summary = f"{reminder.level}. {reminder.level_name} · {item.get('subject', '')}"
        audit_record(actor=None, company=company, action="dunning.reminder_delivered", target=reminder.invoice,
                     changes={"summary": summary})  # fmt: skip


def _on_open(company: Company, item: dict) -> None:
    stat = item.get("stat") or {}
    tracking_hash = str(stat.get("trackingHash") or "")
    reminder = None
    if tracking_hash:
        reminder = Reminder.objects.filter(company=company, mautic_tracking_hash=tracking_hash).first()
    reminder = reminder or _reminder_by_reference(company, stat.get("tokens"))
    if reminder is None:
        return
    opened_at = parse_datetime(str(stat.get("dateRead") or "")) or timezone.now()
    with transaction.atomic():
        reminder = Reminder.objects.select_for_update().select_related("invoice").get(pk=reminder.pk)
        # Mautic's own count when it gives one: a replayed delivery then counts no second opening.
        counted = int(stat.get("openCount") or 0)
        reminder.open_count = max(reminder.open_count, counted) if counted else reminder.open_count + 1
        first = reminder.opened_at is None
        if first:
            reminder.opened_at = opened_at
        reminder.save(update_fields=["open_count", "opened_at"])
        if first:
            summary = f"{reminder.level}. {reminder.level_name} · {reminder.recipient}"
            audit_record(actor=None, company=company, action="dunning.reminder_opened", target=reminder.invoice,
                         changes={"summary": summary})  # fmt: skip


def _contact_email(contact: dict) -> str:
    fields = contact.get("fields") or {}
    email = (fields.get("all") or {}).get("email") if isinstance(fields, dict) else None
    if not email and isinstance(fields, dict):
        email = ((fields.get("core") or {}).get("email") or {}).get("value")
    return str(email or "").strip()


def _on_contact_update(company: Company, item: dict) -> None:
    """An address changed in Mautic replaces the client's (and contact person's) address in the Hub."""
    contact = item.get("contact") or {}
    contact_id, email = contact.get("id"), _contact_email(contact)
    if not contact_id or not email:
        return
    actor = system_user()
    for client in Client.objects.filter(company=company, mautic_id=str(contact_id)).exclude(email__iexact=email):
        try:
            client_update(client=client, updated_by=actor, email=email)
        except ValidationError as error:
            logger.warning("Mautic contact %s: address %r refused for client %s: %s", contact_id, email, client.pk,
                           error.messages)  # fmt: skip
    people = Contact.objects.filter(client__company=company, mautic_id=str(contact_id)).exclude(email__iexact=email)
    for person in people:
        contact_update(contact=person, updated_by=actor, email=email)
