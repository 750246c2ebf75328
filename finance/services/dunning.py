"""Dunning: each company's policy, each invoice's state derived from facts, reminders asked for by hand or daily.

A reminder is a row per invoice and level that is unique while not failed, created under a lock of the
invoice's state: two runs at once, or a run and a click, create it once; the Mautic e-mail then goes out
as an action run (finance.services.mautic). The daily run sends what `dunning_plan` finds due, one level
per invoice; the preview page shows the same plan without sending. Both read and write a company's invoices
together, in a number of queries that does not grow with the number of invoices.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from operator import attrgetter

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from finance import dunning, selectors
from finance.models import (
    Company,
    DunningLevel,
    DunningPolicy,
    DunningText,
    Invoice,
    InvoiceDunning,
    Reminder,
)
from finance.models.actions import REMINDER_ACTION
from finance.models.dunning import DEFAULT_LEVELS
from finance.services.audit import audit_record, audit_records, audit_row, field_changes
from finance.services.documents import invoice_balance_from
from hypervisual.bulk import cycle_collection_paused, values_insert
from hypervisual.lookups import AnyOf
from integrations.actions import action_run_start, action_runs_start
from integrations.models import ActionRun, Connection, Provider
from integrations.selectors import usable_connection

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
OPEN_STATUSES = (Invoice.Status.ISSUED, Invoice.Status.PARTIALLY_PAID)


# --- Policy ---------------------------------------------------------------------------------------------


def dunning_policy_ensure(company: Company) -> DunningPolicy:
    """The company's policy; the group's default one (three levels) is created the first time it is needed."""
    policy = DunningPolicy.objects.filter(company=company).first()
    if policy is not None:
        return policy
    with transaction.atomic():
        policy, created = DunningPolicy.objects.get_or_create(company=company)
        if created:
            DunningLevel.objects.bulk_create(
                DunningLevel(policy=policy, level=level, name=name, days_after_due=days, fee=fee)
                for level, name, days, fee in DEFAULT_LEVELS
            )
    return policy


def level_rules(policy: DunningPolicy) -> list[dunning.LevelRule]:
    return [
        dunning.LevelRule(level=level.level, name=level.name, days_after_due=level.days_after_due, fee=level.fee)
        for level in policy.levels.order_by("level")
    ]


@dataclass(frozen=True)
class LevelInput:
    level: int
    name: str
    days_after_due: int
    fee: Decimal
    mautic_emails: dict[str, int | None]  # language → Mautic template e-mail id


POLICY_FIELDS = (
    "daily_run_enabled", "run_at", "terms_allow_fees", "interest_rate", "minimum_amount", "pause_when_disputed",
    "pause_during_payment_plan", "partial_payment_pause_days",
)  # fmt: skip


@transaction.atomic
def dunning_policy_save(
    *, company: Company, levels: list[LevelInput], saved_by: AbstractBaseUser, **fields
) -> DunningPolicy:
    """Replace the policy's settings, levels and texts; levels must escalate (later levels, later days)."""
    ordered = sorted(levels, key=lambda level: level.level)
    if not ordered:
        raise ValidationError(_("Keep at least one level."))
    for previous, following in zip(ordered, ordered[1:], strict=False):
        if following.days_after_due <= previous.days_after_due:
            raise ValidationError(
                _("Level %(level)s must come later after the due date than level %(previous)s.")
                % {"level": following.level, "previous": previous.level}
            )
    policy = DunningPolicy.objects.select_for_update().get(pk=dunning_policy_ensure(company).pk)
    before = {name: getattr(policy, name) for name in POLICY_FIELDS}
    before_levels = _levels_summary(policy)
    for name in POLICY_FIELDS:
        setattr(policy, name, fields[name])
    policy.full_clean()
    policy.save()
    policy.levels.exclude(level__in=[level.level for level in ordered]).delete()
    for level in ordered:
        row, _created = DunningLevel.objects.update_or_create(
            policy=policy, level=level.level,
            defaults={"name": level.name, "days_after_due": level.days_after_due, "fee": level.fee},
        )  # fmt: skip
        for language, email_id in level.mautic_emails.items():
            if email_id:
                DunningText.objects.update_or_create(level=row, language=language,
                                                     defaults={"mautic_email_id": email_id})  # fmt: skip
            else:
                DunningText.objects.filter(level=row, language=language).delete()
    changes = field_changes(before, {name: getattr(policy, name) for name in POLICY_FIELDS})
    after_levels = _levels_summary(policy)
    if after_levels != before_levels:
        changes["levels"] = {"from": before_levels, "to": after_levels}
    if changes:
        audit_record(actor=saved_by, company=company, action="dunning_policy.saved", target=policy, changes=changes)
    return policy


def _levels_summary(policy: DunningPolicy) -> str:
    parts = []
    for level in policy.levels.order_by("level").prefetch_related("texts"):
        emails = ",".join(f"{text.language}#{text.mautic_email_id}" for text in level.texts.all())
        parts.append(f"{level.level}:{level.name}:+{level.days_after_due}:{level.fee}:{emails}")
    return " | ".join(parts)


# --- State of an invoice ------------------------------------------------------------------------------------


class DunningTerms:
    """A company's dunning terms, each read at most once however many of its invoices are looked at: the policy
    and its levels, the Mautic e-mail of each level and language, and the Mautic connection."""

    def __init__(self, company: Company) -> None:
        self.company = company
        # First, as before any invoice is looked at: a company without a policy gets the group's default one.
        self.policy = dunning_policy_ensure(company)

    @cached_property
    def rules(self) -> list[dunning.LevelRule]:
        return level_rules(self.policy)

    @cached_property
    def mautic(self) -> Connection | None:
        return usable_connection(self.company, Provider.MAUTIC)

    @cached_property
    def _texts(self) -> dict[tuple[int, str], DunningText]:
        texts = DunningText.objects.filter(level__policy__company=self.company).select_related("level")
        return {(text.level.level, text.language): text for text in texts}

    def text_for(self, invoice: Invoice, level: int) -> DunningText | None:
        """The Mautic e-mail of `level` in the language of the invoice's client."""
        return self._texts.get((level, invoice.client.language))


@dataclass(frozen=True)
class Situation:
    """What the facts say about an invoice's dunning on a given day."""

    invoice: Invoice
    today: date
    balance_due: Decimal
    days_late: int
    level_reached: int
    last_sent_on: date | None
    next_rule: dunning.LevelRule | None
    next_on: date | None
    paused_reason: str
    fees_total: Decimal  # the fees claimed if the next level is sent today
    interest: Decimal  # late interest to today
    terms: DunningTerms = field(compare=False, repr=False)  # what it was judged against, for its blocker

    @property
    def amount_due(self) -> Decimal:
        return self.balance_due + self.fees_total + self.interest

    @property
    def overdue(self) -> bool:
        return self.days_late > 0 and self.balance_due > ZERO

    @property
    def level_due(self) -> bool:
        """The next level may go out today (pauses aside)."""
        return self.overdue and self.next_rule is not None and self.next_on is not None and self.next_on <= self.today


def dunning_situation(invoice: Invoice, *, today: date, terms: DunningTerms | None = None) -> Situation:
    """One invoice's situation; the plan and the daily run read the facts of all their invoices at once."""
    facts = selectors.dunning_facts(invoice_ids=[invoice.pk])
    return _situation(invoice, today=today, terms=terms or DunningTerms(invoice.company), facts=facts)


def _situation(invoice: Invoice, *, today: date, terms: DunningTerms, facts: selectors.DunningFacts) -> Situation:
    payments = facts.payments.get(invoice.pk, [])
    credit_notes = facts.credit_notes.get(invoice.pk, [])
    balance = invoice_balance_from(invoice, paid=sum((amount for _on, amount in payments), ZERO),
                                   credited=sum((amount for _on, amount in credit_notes), ZERO))  # fmt: skip
    reached, last_sent_on = facts.reminders.get(invoice.pk, (0, None))
    next_rule, next_on, fees = _progress(invoice, terms=terms, reached=reached, last_sent_on=last_sent_on)
    interest = (
        dunning.late_interest(
            principal=invoice.payable_total,
            due_date=invoice.due_date,
            on=today,
            annual_rate_percent=terms.policy.interest_rate,
            reductions=[dunning.Reduction(on=on, amount=amount) for on, amount in payments + credit_notes],
        )  # fmt: skip
        if invoice.due_date and balance > ZERO
        else ZERO
    )
    last_payment = max((received_on for received_on, _amount in payments), default=None)
    paused = _paused_reason(state=facts.states.get(invoice.pk), policy=terms.policy, today=today, balance=balance,
                            last_payment=last_payment)  # fmt: skip
    return Situation(
        invoice=invoice, today=today, balance_due=balance,
        days_late=max((today - invoice.due_date).days, 0) if invoice.due_date else 0, level_reached=reached,
        last_sent_on=last_sent_on, next_rule=next_rule, next_on=next_on, paused_reason=paused, fees_total=fees,
        interest=interest, terms=terms,
    )  # fmt: skip


def _progress(
    invoice: Invoice, *, terms: DunningTerms, reached: int, last_sent_on: date | None
) -> tuple[dunning.LevelRule | None, date | None, Decimal]:
    """The next level after `reached`, the day it may go, and the fees claimed once it is sent."""
    rules = terms.rules
    next_rule = dunning.next_level(rules, reached=reached)
    next_on = (
        dunning.level_due_on(rules, next_rule, due_date=invoice.due_date, last_sent_on=last_sent_on)
        if next_rule and invoice.due_date
        else None
    )
    fees = dunning.fees_through(rules, next_rule.level if next_rule else reached,
                                fees_allowed=terms.policy.terms_allow_fees)  # fmt: skip
    return next_rule, next_on, fees


def _after_sending(situation: Situation) -> Situation:
    """The situation once its next level went out today: what the state records after the reminder."""
    reached = situation.next_rule.level
    last_sent_on = max(situation.last_sent_on or situation.today, situation.today)
    next_rule, next_on, fees = _progress(situation.invoice, terms=situation.terms, reached=reached,
                                         last_sent_on=last_sent_on)  # fmt: skip
    return replace(situation, level_reached=reached, last_sent_on=last_sent_on, next_rule=next_rule, next_on=next_on,
                   fees_total=fees)  # fmt: skip


def _paused_reason(
    *, state: InvoiceDunning | None, policy: DunningPolicy, today: date, balance: Decimal, last_payment: date | None
) -> str:
    hold = state.hold if state else ""
    if hold == InvoiceDunning.Hold.DISPUTED and policy.pause_when_disputed:
        return InvoiceDunning.Pause.DISPUTED
    in_plan = hold == InvoiceDunning.Hold.PAYMENT_PLAN and (state.hold_until is None or state.hold_until >= today)
    if in_plan and policy.pause_during_payment_plan:
        return InvoiceDunning.Pause.PAYMENT_PLAN
    recently_paid = last_payment is not None and (today - last_payment).days < policy.partial_payment_pause_days
    if policy.partial_payment_pause_days and recently_paid and balance > ZERO:
        return InvoiceDunning.Pause.PARTIAL_PAYMENT
    if ZERO < balance < policy.minimum_amount:
        return InvoiceDunning.Pause.BELOW_MINIMUM
    return InvoiceDunning.Pause.NONE


def _state_locked(invoice: Invoice) -> InvoiceDunning:
    InvoiceDunning.objects.get_or_create(invoice=invoice, defaults={"company_id": invoice.company_id})
    return InvoiceDunning.objects.select_for_update().get(invoice=invoice)


STATE_FIELDS = ("level", "last_sent_on", "next_level_on", "paused_reason")


def _state_update(state: InvoiceDunning, situation: Situation) -> list[tuple[str, dict]]:
    """Put what the situation says in the state; the audit events (action, changes) each change calls for."""
    owes = situation.balance_due > ZERO
    before_level, before_pause = state.level, state.paused_reason
    state.level, state.last_sent_on = situation.level_reached, situation.last_sent_on
    state.next_level_on = situation.next_on if owes else None
    state.paused_reason = situation.paused_reason if owes else ""
    events = []
    if state.level != before_level:
        events.append(("dunning.level_changed", {"summary": f"{before_level} → {state.level}"}))
    if state.paused_reason != before_pause:
        if state.paused_reason:
            events.append(("dunning.paused", {"pause": state.paused_reason}))
        elif owes:
            events.append(("dunning.resumed", {"pause": before_pause}))
    return events


def invoice_dunning_refresh(
    *, invoice: Invoice, today: date, actor: AbstractBaseUser | None = None, situation: Situation | None = None
) -> InvoiceDunning:
    """Store what the facts say (level, last and next reminder, pause) and audit each change of level or pause."""
    with transaction.atomic():
        state = _state_locked(invoice)
        situation = situation or dunning_situation(invoice, today=today)
        events = _state_update(state, situation)
        state.save(update_fields=[*STATE_FIELDS, "updated_at"])
        for action, changes in events:
            audit_record(actor=actor, company=invoice.company, action=action, target=invoice, changes=changes)
    return state


@transaction.atomic
def dunning_hold_set(
    *, invoice: Invoice, hold: str, until: date | None, note: str, set_by: AbstractBaseUser, today: date
) -> InvoiceDunning:
    """Say the client disputes the invoice or follows a payment plan (or neither any more)."""
    state = _state_locked(invoice)
    if hold == InvoiceDunning.Hold.PAYMENT_PLAN and until is not None and until < today:
        raise ValidationError({"until": _("A payment plan ends today or later.")})
    before = {"hold": state.hold, "hold_until": state.hold_until, "hold_note": state.hold_note}
    state.hold, state.hold_note = hold, note
    state.hold_until = until if hold == InvoiceDunning.Hold.PAYMENT_PLAN else None
    state.save(update_fields=["hold", "hold_until", "hold_note", "updated_at"])
    after = {"hold": state.hold, "hold_until": state.hold_until, "hold_note": state.hold_note}
    if before != after:
        until = f"{state.hold_until:%d.%m.%Y}" if state.hold_until else ""
        audit_record(actor=set_by, company=invoice.company, action="dunning.hold_changed", target=invoice,
                     changes={"hold": state.hold, "until": until, "note": note})  # fmt: skip
    return invoice_dunning_refresh(invoice=invoice, today=today, actor=set_by)


# --- Reminders ---------------------------------------------------------------------------------------------


def _blocker(situation: Situation, *, by_hand: bool) -> str:
    """Why no reminder can go out for this invoice now; empty when one can."""
    invoice, terms = situation.invoice, situation.terms
    if invoice.kind == Invoice.Kind.CREDIT_NOTE or invoice.status not in OPEN_STATUSES:
        return _("Only an issued, unpaid invoice is reminded.")
    if not situation.overdue:
        return _("The invoice is not overdue.")
    if situation.next_rule is None:
        return _("Every level has been sent (last: level %(level)s).") % {"level": situation.level_reached}
    if situation.paused_reason:
        return _("Paused: %(reason)s.") % {"reason": InvoiceDunning.Pause(situation.paused_reason).label}
    # By hand, the first reminder may go before its day; a later level always keeps its gap after the previous
    # one, so a second click never sends the next level minutes after the first.
    if not situation.level_due and (not by_hand or situation.level_reached > 0):
        return _("Level %(level)s is due on %(date)s.") % {
            "level": situation.next_rule.level, "date": f"{situation.next_on:%d.%m.%Y}",
        }  # fmt: skip
    if not invoice.client.email:
        return _("The client has no e-mail address.")
    if terms.mautic is None:
        return _("Mautic is not connected for %(company)s.") % {"company": invoice.company.name}
    if terms.text_for(invoice, situation.next_rule.level) is None:
        return _("No Mautic e-mail is set for level %(level)s in %(language)s (dunning settings).") % {
            "level": situation.next_rule.level, "language": invoice.client.get_language_display().lower(),
        }  # fmt: skip
    return ""


def reminder_blocker(situation: Situation) -> str:
    """Why "Envoyer relance Mautic" cannot send now; empty when it can."""
    return _blocker(situation, by_hand=True)


def _reminder_values(situation: Situation, *, trigger: str, requested_by: AbstractBaseUser | None) -> dict:
    """The fields of the reminder of the situation's next level, with the amounts it claims today."""
    invoice, rule, terms = situation.invoice, situation.next_rule, situation.terms
    return {
        "company_id": invoice.company_id, "invoice_id": invoice.pk, "level": rule.level, "level_name": rule.name,
        "dunning_date": situation.today, "days_late": situation.days_late, "balance_due": situation.balance_due,
        "fee": rule.fee if terms.policy.terms_allow_fees else ZERO, "fees_total": situation.fees_total,
        "interest": situation.interest, "amount_due": situation.amount_due, "currency": invoice.currency,
        "recipient": invoice.client.email, "language": invoice.client.language, "trigger": trigger,
        "requested_by_id": requested_by.pk if requested_by else None,
        "mautic_email_id": terms.text_for(invoice, rule.level).mautic_email_id,
    }  # fmt: skip


def _reminder(situation: Situation, *, trigger: str, requested_by: AbstractBaseUser | None) -> Reminder:
    """The reminder of the situation's next level, unsaved, holding the invoice object the caller has."""
    reminder = Reminder(**_reminder_values(situation, trigger=trigger, requested_by=requested_by))
    reminder.invoice = situation.invoice
    return reminder


def _run_key(reminder_id: int) -> str:
    return f"{REMINDER_ACTION}:{reminder_id}"


def reminder_send_start(
    *, invoice: Invoice, today: date, requested_by: AbstractBaseUser | None, trigger: str
) -> Reminder:
    """Create the next level's reminder and start its Mautic e-mail; refused with the reason when it cannot go.

    The invoice's state row is locked first: a click and the daily run, or two runs, wait for each other,
    and the second finds the level already taken.
    """
    with transaction.atomic():
        _state_locked(invoice)
        situation = dunning_situation(invoice, today=today)
        blocker = _blocker(situation, by_hand=trigger == Reminder.Trigger.MANUAL)
        if blocker:
            raise ValidationError(blocker, code="not_due")
        try:
            with transaction.atomic():
                reminder = _reminder(situation, trigger=trigger, requested_by=requested_by)
                reminder.save()
        except IntegrityError:
            raise ValidationError(
                _("Level %(level)s has already been sent for this invoice.") % {"level": situation.next_rule.level},
                code="already_sent",
            ) from None
        invoice_dunning_refresh(invoice=invoice, today=today, actor=requested_by)
        action_run_start(action=REMINDER_ACTION, target=reminder, company=invoice.company, actor=requested_by,
                         idempotency_key=_run_key(reminder.pk))  # fmt: skip
    return reminder


@dataclass(frozen=True)
class PlanEntry:
    situation: Situation
    blocker: str  # empty: the daily run sends it


@cycle_collection_paused()
def dunning_plan(company: Company, *, today: date) -> list[PlanEntry]:
    """Every overdue invoice of the company, with what the daily run does with it today and why.

    A fixed number of queries however many invoices: the terms, the invoices, then their facts all at once.
    """
    terms = DunningTerms(company)
    invoices = _candidates(terms, today=today)
    return _plan(invoices, terms=terms, today=today,
                 facts=selectors.dunning_facts(invoice_ids=[invoice.pk for invoice in invoices]))  # fmt: skip


def _candidates(terms: DunningTerms, *, today: date) -> list[Invoice]:
    invoices = list(selectors.dunning_candidates(company=terms.company, today=today))
    for invoice in invoices:
        invoice.company = terms.company  # not joined: every invoice shares the one object the caller has
    return invoices


def _plan(
    invoices: list[Invoice], *, terms: DunningTerms, today: date, facts: selectors.DunningFacts
) -> list[PlanEntry]:
    entries = []
    for invoice in invoices:
        situation = _situation(invoice, today=today, terms=terms, facts=facts)
        if situation.balance_due <= ZERO:
            continue
        entries.append(PlanEntry(situation=situation, blocker=_blocker(situation, by_hand=False)))
    return entries


@dataclass(frozen=True)
class RunResult:
    reminder_ids: list[int]  # the reminders started
    skipped: int


@cycle_collection_paused()
def dunning_run(*, company: Company, today: date, actor: AbstractBaseUser | None) -> RunResult:
    """The daily run of one company: states refreshed, and the reminders due today started, once each.

    One transaction and a fixed number of queries for the whole company: the state rows of its overdue invoices
    are locked before their facts are read (a click or a second run waits, then finds the level taken); states,
    reminders, their action runs and the audit events are written in bulk; each e-mail is queued at the commit.
    """
    with transaction.atomic():
        terms = DunningTerms(company)
        invoices = _candidates(terms, today=today)
        _states_locked(invoices)
        facts = selectors.dunning_facts(invoice_ids=[invoice.pk for invoice in invoices])
        entries = _plan(invoices, terms=terms, today=today, facts=facts)
        states = facts.states
        before = {invoice_id: _state_values(state) for invoice_id, state in states.items()}
        events = {
            entry.situation.invoice.pk: _state_update(states[entry.situation.invoice.pk], entry.situation)
            for entry in entries
        }
        sent = _reminders_start([entry.situation for entry in entries if not entry.blocker], actor=actor)
        for situation, _reminder_id in sent:
            events[situation.invoice.pk] += _state_update(states[situation.invoice.pk], _after_sending(situation))
        _states_save([state for invoice_id, state in states.items() if _state_values(state) != before[invoice_id]])
        audit_records(
            audit_row(actor=actor, company=company, action=action, target=entry.situation.invoice, changes=changes)
            for entry in entries
            for action, changes in events[entry.situation.invoice.pk]
        )
        DunningPolicy.objects.filter(company=company).update(last_run_on=today)
    return RunResult(reminder_ids=[reminder_id for _situation, reminder_id in sent], skipped=len(entries) - len(sent))


def _states_locked(invoices: list[Invoice]) -> None:
    """Lock the state row of every invoice, creating those no run made yet, always in the same order.

    The batch form of `_state_locked`: a row another transaction created meanwhile is locked once it committed.
    """
    ids = sorted(invoice.pk for invoice in invoices)
    existing = set(
        InvoiceDunning.objects.select_for_update().filter(AnyOf(F("invoice_id"), ids)).order_by("invoice_id")
        .values_list("invoice_id", flat=True)
    )  # fmt: skip
    missing = [invoice_id for invoice_id in ids if invoice_id not in existing]
    if missing:
        # Every other column has its database default; one array of ids rather than a model per row.
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO finance_invoicedunning (invoice_id, company_id) SELECT unnest(%s::bigint[]), %s "
                "ON CONFLICT (invoice_id) DO NOTHING",
                [missing, invoices[0].company_id],
            )
        list(
            InvoiceDunning.objects.select_for_update()
            .filter(AnyOf(F("invoice_id"), missing))
            .values_list("pk", flat=True)
        )


# The state's values that a run may change, as one tuple (read for every overdue invoice, twice).
_state_values = attrgetter(*STATE_FIELDS)


def _states_save(states: list[InvoiceDunning]) -> None:
    """Write the changed states in one UPDATE joined to their new values.

    Not `bulk_update`: its CASE lists every row for every row, so its cost grows with the square of the rows.
    """
    if not states:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE finance_invoicedunning AS state SET level = new.level, last_sent_on = new.last_sent_on, "
            "next_level_on = new.next_level_on, paused_reason = new.paused_reason "
            "FROM unnest(%s::bigint[], %s::integer[], %s::date[], %s::date[], %s::text[]) "
            "AS new (id, level, last_sent_on, next_level_on, paused_reason) WHERE state.id = new.id",
            [
                [state.pk for state in states],
                [state.level for state in states],
                [state.last_sent_on for state in states],
                [state.next_level_on for state in states],
                [str(state.paused_reason) for state in states],
            ],
        )


def _reminders_start(situations: list[Situation], *, actor: AbstractBaseUser | None) -> list[tuple[Situation, int]]:
    """Create the reminders of these situations and their action runs in bulk; those that could not start are left.
    Each situation that started comes back with its reminder's id.

    The task queue down leaves them all for the next run. A level taken meanwhile outside the state lock (Mautic
    reopening a failed reminder) makes the batch fail: each is then tried alone, and only the one concerned is left.
    """
    if not situations:
        return []
    company = situations[0].invoice.company
    try:
        with transaction.atomic():
            reminder_ids = values_insert(
                Reminder,
                [_reminder_values(situation, trigger=Reminder.Trigger.DAILY_RUN, requested_by=actor)
                 for situation in situations],
            )  # fmt: skip
            action_runs_start(action=REMINDER_ACTION, target_type=Reminder, target_ids=reminder_ids, company=company,
                              actor=actor, idempotency_key=_run_key)  # fmt: skip
        return list(zip(situations, reminder_ids, strict=True))
    except ValidationError as error:
        logger.info("dunning run %s: %d reminder(s) not started: %s", company.code, len(situations), error.messages)
        return []
    except IntegrityError:
        return [pair for situation in situations if (pair := _reminder_start_alone(situation, actor=actor))]


def _reminder_start_alone(situation: Situation, *, actor: AbstractBaseUser | None) -> tuple[Situation, int] | None:
    invoice = situation.invoice
    try:
        with transaction.atomic():
            reminder = _reminder(situation, trigger=Reminder.Trigger.DAILY_RUN, requested_by=actor)
            reminder.save()
            action_run_start(action=REMINDER_ACTION, target=reminder, company=invoice.company, actor=actor,
                             idempotency_key=_run_key(reminder.pk))  # fmt: skip
    except (IntegrityError, ValidationError) as error:
        # Another run or a click took it meanwhile, or a fact changed: the plan is read again tomorrow.
        logger.info("dunning run %s: %s not reminded: %s", invoice.company.code, invoice.number, error)
        return None
    return situation, reminder.pk


def companies_due_for_run(*, now: datetime) -> list[Company]:
    """Companies whose daily run time has come today and that have not run today yet."""
    local = timezone.localtime(now)
    due = DunningPolicy.objects.filter(daily_run_enabled=True, run_at__lte=local.time()).filter(
        Q(last_run_on__isnull=True) | Q(last_run_on__lt=local.date())
    )
    return [policy.company for policy in due.select_related("company").order_by("company__code")]


def invoice_dunning_panel(*, invoice: Invoice, today: date) -> dict | None:
    """What the invoice page shows of dunning: the facts of today, the state, every reminder with its run."""
    if invoice.kind == Invoice.Kind.CREDIT_NOTE or invoice.status in (Invoice.Status.DRAFT, Invoice.Status.CANCELLED):
        return None
    reminders = list(invoice.reminders.select_related("requested_by").order_by("level", "pk"))
    runs = {
        run.target_id: run
        for run in ActionRun.objects.filter(
            action=REMINDER_ACTION, target_type=ContentType.objects.get_for_model(Reminder),
            target_id__in=[reminder.pk for reminder in reminders],
        )
    }  # fmt: skip
    return {
        "situation": dunning_situation(invoice, today=today),
        "state": InvoiceDunning.objects.filter(invoice=invoice).first(),
        "reminders": [(reminder, runs.get(reminder.pk)) for reminder in reminders],
    }
