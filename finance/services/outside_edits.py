"""Edits made outside the Hub (Directus, psql) to the shared tables, processed as the Hub's own edits are.

PostgreSQL notes each such write (integrations.models.OutsideEdit). The Hub re-reads the row — the
database is the truth, not the event — and runs what a UI edit runs: validation, derived values (a
line's VAT rate, a document's totals and deposit), follow-up actions (Invoice Ninja), and an audit event
"Edited in Directus" naming who edited. An edit that breaks a rule the database cannot hold (a Swiss
postal code, an IBAN, a sent quote's content) is not silently accepted: it is audited as such and stays on
the dashboard's urgent list (a SyncDrift) until a later edit of the row puts it right.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from finance import events, vat
from finance.models import (
    Client,
    Company,
    Contact,
    DepositRule,
    DunningText,
    Invoice,
    InvoiceLine,
    Milestone,
    Project,
    Quote,
    QuoteLine,
    Supplier,
    VatCode,
)  # fmt: skip
from finance.services.audit import audit_record
from finance.services.documents import document_totals_refresh
from integrations.models import OutsideEdit, Provider, SyncDrift, WebhookDelivery

logger = logging.getLogger("finance.outside_edits")

RULE_BROKEN = "rule_broken"
# Columns the Hub derives or keeps itself; a change to them alone is not worth an audit line of its own.
BOOKKEEPING_COLUMNS = frozenset({"updated_at"})


@dataclass
class Outcome:
    """What processing a row found: the row (or its document), its company, and the rules it breaks."""

    target: models.Model
    company: Company | None
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RowEdits:
    """The pending edits of one row, oldest first, and what they add up to."""

    model: type[models.Model]
    row_id: str
    edits: list[OutsideEdit]

    @property
    def deleted(self) -> bool:
        return self.edits[-1].operation == OutsideEdit.Operation.DELETE

    @property
    def created(self) -> bool:
        return self.edits[0].operation == OutsideEdit.Operation.INSERT

    @property
    def operation(self) -> str:
        return "delete" if self.deleted else "create" if self.created else "update"

    def changed_columns(self) -> dict[str, dict[str, str]]:
        """Column → {"from", "to"} over all the pending updates (a creation or deletion names no columns)."""
        changes: dict[str, dict[str, str]] = {}
        for edit in self.edits:
            if edit.operation != OutsideEdit.Operation.UPDATE:
                continue
            for column, (before, after) in edit.changes.items():
                if column in BOOKKEEPING_COLUMNS:
                    continue
                first = changes.get(column, {}).get("from", _text(before))
                changes[column] = {"from": first, "to": _text(after)}
        return {column: change for column, change in changes.items() if change["from"] != change["to"]}

    def last_row_data(self) -> dict:
        """The row as the newest INSERT or DELETE recorded it (for a deleted row, the parent it had)."""
        for edit in reversed(self.edits):
            if edit.operation != OutsideEdit.Operation.UPDATE:
                return edit.changes
        return {}


def _text(value) -> str:
    return "" if value is None else str(value)


def _problems_of(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [f"{name}: {message}" for name, messages in error.message_dict.items() for message in messages]
    return list(error.messages)


def _validated(instance: models.Model, *, exclude: list[str] | None = None) -> list[str]:
    """Run the model's validation as a form would; values it normalises (a UID, an IBAN) are saved back."""
    before = {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}
    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as error:
        return _problems_of(error)
    normalised = [name for name, value in before.items() if getattr(instance, name) != value]
    if normalised:
        instance.save(update_fields=normalised)
    return []


# --- Per table: what a UI edit of that row runs -------------------------------------------------------------


def _client(row: RowEdits) -> Outcome:
    client = Client.objects.select_related("company").filter(pk=row.row_id).first()
    if client is None:
        return Outcome(Client(pk=row.row_id), _company(row.last_row_data()))
    problems = _validated(client)
    if not problems:
        events.client_changed.send(sender=Client, client=client, actor=None)
    return Outcome(client, client.company, problems)


def _contact(row: RowEdits) -> Outcome:
    contact = Contact.objects.select_related("client__company").filter(pk=row.row_id).first()
    if contact is None:
        client = Client.objects.select_related("company").filter(pk=row.last_row_data().get("client_id")).first()
        if client is not None:
            events.client_changed.send(sender=Client, client=client, actor=None)
        return Outcome(Contact(pk=row.row_id), client.company if client else None)
    problems = _validated(contact)
    if not problems:
        events.client_changed.send(sender=Client, client=contact.client, actor=None)
    return Outcome(contact, contact.client.company, problems)


def _simple(model: type[models.Model], company_of: Callable[[models.Model], Company | None]) -> Callable:
    """Master data whose rules are all in the model's validation."""

    def process(row: RowEdits) -> Outcome:
        instance = model._default_manager.filter(pk=row.row_id).first()
        if instance is None:
            return Outcome(model(pk=row.row_id), _company(row.last_row_data()))
        return Outcome(instance, company_of(instance), _validated(instance))

    return process


def _project(row: RowEdits) -> Outcome:
    project = Project.objects.select_related("company").filter(pk=row.row_id).first()
    if project is None:
        return Outcome(Project(pk=row.row_id), _company(row.last_row_data()))
    problems = _validated(project)
    if "status" in row.changed_columns():
        problems.append(_("A project's status follows its quote, deposit and milestones: change it in the Hub."))
    return Outcome(project, project.company, problems)


def _document_changed(document: Quote | Invoice) -> list[str]:
    """A sent quote or an issued invoice is a document the client has: its content does not change."""
    if document.status == "draft":
        return []
    if isinstance(document, Invoice):
        return [_("Invoice %(number)s is issued: its status follows payments and credit notes in the Hub.")
                % {"number": document.number}]  # fmt: skip
    return [_("Quote %(number)s is %(status)s: its content cannot change; make a new quote in the Hub.")
            % {"number": document.number, "status": document.get_status_display().lower()}]  # fmt: skip


def _document(model: type[Quote] | type[Invoice]) -> Callable:
    def process(row: RowEdits) -> Outcome:
        document = model.objects.select_for_update().select_related("company").filter(pk=row.row_id).first()
        if document is None:
            return Outcome(model(pk=row.row_id), _company(row.last_row_data()))
        if document.status != "draft":
            return Outcome(document, document.company, _document_changed(document))
        problems = _validated(document)
        if not problems:
            document_totals_refresh(document)
        return Outcome(document, document.company, problems)

    return process


def _line(model: type[QuoteLine] | type[InvoiceLine], parent: str) -> Callable:
    document_model = model._meta.get_field(parent).related_model

    def process(row: RowEdits) -> Outcome:
        line = model.objects.filter(pk=row.row_id).first()
        parent_id = getattr(line, f"{parent}_id") if line else row.last_row_data().get(f"{parent}_id")
        document = document_model.objects.select_for_update().select_related("company").filter(pk=parent_id).first()
        if document is None:
            return Outcome(model(pk=row.row_id), None)
        if document.status != "draft":
            return Outcome(document, document.company, _document_changed(document))
        if line is not None:
            on = document.quote_date if isinstance(document, Quote) else document.issue_date or timezone.localdate()
            # The rate is the one in force on the document's date for the line's VAT code, as in the Hub's editor.
            if line.vat_code in VatCode.values:
                line.vat_rate = vat.vat_rate_on(code=line.vat_code, on=on).rate
            problems = _validated(line, exclude=[parent])
            if problems:
                return Outcome(document, document.company, problems)
            line.save(update_fields=["vat_rate"])
        document_totals_refresh(document)
        return Outcome(document, document.company)

    return process


def _company(row_data: dict) -> Company | None:
    company_id = row_data.get("company_id")
    return Company.objects.filter(pk=company_id).first() if company_id else None


HANDLERS: dict[str, tuple[type[models.Model], Callable[[RowEdits], Outcome]]] = {
    "finance_client": (Client, _client),
    "finance_contact": (Contact, _contact),
    "finance_supplier": (Supplier, _simple(Supplier, lambda supplier: supplier.company)),
    "finance_depositrule": (DepositRule, _simple(DepositRule, lambda rule: rule.company)),
    "finance_dunningtext": (DunningText, _simple(DunningText, lambda text: text.level.policy.company)),
    "finance_project": (Project, _project),
    "finance_milestone": (Milestone, _simple(Milestone, lambda milestone: milestone.project.company)),
    "finance_quote": (Quote, _document(Quote)),
    "finance_quoteline": (QuoteLine, _line(QuoteLine, "quote")),
    "finance_invoice": (Invoice, _document(Invoice)),
    "finance_invoiceline": (InvoiceLine, _line(InvoiceLine, "invoice")),
}
SHARED_TABLES = tuple(HANDLERS)


# --- Who edited ---------------------------------------------------------------------------------------------


def _directus_table_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


def directus_user_label(user_id: str | None) -> str:
    """The Directus user's e-mail (or name), read from Directus' own table in the shared database."""
    if not user_id or not _directus_table_exists("directus_users"):
        return ""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(email, concat_ws(' ', first_name, last_name)) FROM directus_users WHERE id::text = %s",
            [str(user_id)],
        )
        found = cursor.fetchone()
    return found[0] if found else ""


def directus_last_editor(table: str, row_id: str) -> str:
    """Who last wrote the row through Directus, from its activity log (for edits whose event was lost)."""
    if not _directus_table_exists("directus_activity"):
        return ""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.user::text FROM directus_activity a WHERE a.collection = %s AND a.item = %s"
            " AND a.action IN ('create', 'update', 'delete') ORDER BY a.timestamp DESC, a.id DESC LIMIT 1",
            [table, str(row_id)],
        )
        found = cursor.fetchone()
    return directus_user_label(found[0]) if found else ""


# --- Processing ---------------------------------------------------------------------------------------------


def _record(row: RowEdits, outcome: Outcome, *, editor: str, source: str) -> None:
    target = outcome.target
    fields = row.changed_columns()
    # Stored as facts; AuditEvent.detail words them in the reader's language.
    changes = {"user": editor, "operation": row.operation, "model": row.model._meta.label_lower, "row": row.row_id,
               "fields": fields, "source": source}  # fmt: skip
    audit_record(actor=None, company=outcome.company, action="directus.edited", target=target, changes=changes)
    target_type = ContentType.objects.get_for_model(type(target))
    open_drifts = SyncDrift.objects.filter(
        provider=Provider.DIRECTUS, kind=RULE_BROKEN, target_type=target_type, target_id=target.pk,
        resolved_at__isnull=True,
    )  # fmt: skip
    if not outcome.problems:
        open_drifts.update(resolved_at=timezone.now())
        return
    detail = "; ".join(outcome.problems)
    audit_record(
        actor=None, company=outcome.company, action="directus.rule_broken", target=target,
        changes={**changes, "problems": outcome.problems, "summary": detail[:500]},
    )  # fmt: skip
    logger.warning("outside edit breaks a rule table=%s row=%s: %s", row.model._meta.db_table, row.row_id, detail)
    if outcome.company is None:
        return
    text = (_("Edit by %(user)s breaks a rule: %(detail)s") % {"user": editor or _("Directus"), "detail": detail})[:300]
    if not open_drifts.update(detail=text):
        SyncDrift.objects.create(
            company=outcome.company, provider=Provider.DIRECTUS, kind=RULE_BROKEN, target_type=target_type,
            target_id=target.pk, detail=text,
        )  # fmt: skip


def outside_edit_process(
    *, table: str, row_id: str, editor: str = "", delivery: WebhookDelivery | None = None
) -> Outcome | None:
    """Process the pending outside edits of one row; None when there were none (already processed)."""
    if table not in HANDLERS:
        return None
    model, handler = HANDLERS[table]
    with transaction.atomic():
        edits = list(
            OutsideEdit.objects.select_for_update()
            .filter(table_name=table, row_id=str(row_id), processed_at__isnull=True)
            .order_by("changed_at", "id")
        )
        if not edits:
            return None
        row = RowEdits(model, str(row_id), edits)
        editor = editor or directus_last_editor(table, row.row_id) or f"{edits[-1].database_user} (SQL)"
        # A rule broken half-way (a follow-up failing) leaves nothing of the follow-ups behind.
        with transaction.atomic():
            outcome = handler(row)
            if outcome.problems:
                transaction.set_rollback(True)
        _record(row, outcome, editor=editor, source="event" if delivery else "safety_net")
        OutsideEdit.objects.filter(pk__in=[edit.pk for edit in edits]).update(
            processed_at=timezone.now(), delivery=delivery
        )
    return outcome


def outside_edits_sweep(*, grace: timedelta) -> int:
    """The safety net: process rows edited outside the Hub whose event has not arrived within `grace`."""
    pending = (
        OutsideEdit.objects.filter(processed_at__isnull=True, changed_at__lt=timezone.now() - grace)
        .values_list("table_name", "row_id")
        .distinct()
    )
    processed = 0
    for table, row_id in list(pending):
        if outside_edit_process(table=table, row_id=row_id) is not None:
            processed += 1
    return processed
