"""Dunning: each company's policy, each invoice's state derived from facts, reminders asked for by hand or daily.

A reminder is a row per invoice and level that is unique while not failed, created under a lock of the
invoice's state: two runs at once, or a run and a click, create it once; the Mautic e-mail then goes out
as an action run (finance.services.mautic). The daily run sends what `dunning_plan` finds due, one level
per invoice; the preview page shows the same plan without sending.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from finance import dunning
from finance.models import (
    Company,
    DunningLevel,
    DunningPolicy,
    DunningText,
    Invoice,
    InvoiceDunning,
    PaymentAllocation,
    Reminder,
)
from finance.models.actions import REMINDER_ACTION
from finance.models.dunning import DEFAULT_LEVELS
from finance.services.audit import audit_record, field_changes
from finance.services.documents import invoice_balance_due
from integrations.actions import action_run_start
from integrations.models import ActionRun, Provider
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


def _reductions(invoice: Invoice) -> list[dunning.Reduction]:
    payments = PaymentAllocation.objects.filter(invoice=invoice, payment__undone_at__isnull=True).values_list(
        "payment__received_on", "amount"
    )
    credit_notes = invoice.credit_notes.exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.CANCELLED])
    return [dunning.Reduction(on=on, amount=amount) for on, amount in payments] + [
        dunning.Reduction(on=note.issue_date, amount=note.payable_total) for note in credit_notes
    ]


def _last_partial_payment(invoice: Invoice) -> date | None:
    return PaymentAllocation.objects.filter(invoice=invoice, payment__undone_at__isnull=True).aggregate(
        last=Max("payment__received_on")
    )["last"]


def dunning_situation(
    invoice: Invoice, *, today: date, policy: DunningPolicy | None = None, rules: list[dunning.LevelRule] | None = None
) -> Situation:
    policy = policy or dunning_policy_ensure(invoice.company)
    rules = rules if rules is not None else level_rules(policy)
    balance = invoice_balance_due(invoice)
    days_late = max((today - invoice.due_date).days, 0) if invoice.due_date else 0
    reminders = invoice.reminders.exclude(status=Reminder.Status.FAILED)
    summary = reminders.aggregate(level=Max("level"), last=Max("dunning_date"))
    reached, last_sent_on = summary["level"] or 0, summary["last"]
    next_rule = dunning.next_level(rules, reached=reached)
    next_on = (
        dunning.level_due_on(rules, next_rule, due_date=invoice.due_date, last_sent_on=last_sent_on)
        if next_rule and invoice.due_date
        else None
    )
    fees = dunning.fees_through(rules, next_rule.level if next_rule else reached, fees_allowed=policy.terms_allow_fees)
    interest = (
        dunning.late_interest(
            principal=invoice.payable_total,
            due_date=invoice.due_date,
            on=today,
            annual_rate_percent=policy.interest_rate,
            reductions=_reductions(invoice),
        )  # fmt: skip
        if invoice.due_date and balance > ZERO
        else ZERO
    )
    return Situation(
        invoice=invoice, today=today, balance_due=balance, days_late=days_late, level_reached=reached,
        last_sent_on=last_sent_on, next_rule=next_rule, next_on=next_on,
        paused_reason=_paused_reason(invoice, policy=policy, today=today, balance=balance), fees_total=fees,
        interest=interest,
    )  # fmt: skip


def _paused_reason(invoice: Invoice, *, policy: DunningPolicy, today: date, balance: Decimal) -> str:
    state = InvoiceDunning.objects.filter(invoice=invoice).first()
    hold = state.hold if state else ""
    if hold == InvoiceDunning.Hold.DISPUTED and policy.pause_when_disputed:
        return InvoiceDunning.Pause.DISPUTED
    in_plan = hold == InvoiceDunning.Hold.PAYMENT_PLAN and (state.hold_until is None or state.hold_until >= today)
    if in_plan and policy.pause_during_payment_plan:
        return InvoiceDunning.Pause.PAYMENT_PLAN
    if policy.partial_payment_pause_days:
        last_payment = _last_partial_payment(invoice)
        if last_payment and (today - last_payment).days < policy.partial_payment_pause_days and balance > ZERO:
            return InvoiceDunning.Pause.PARTIAL_PAYMENT
    if ZERO < balance < policy.minimum_amount:
        return InvoiceDunning.Pause.BELOW_MINIMUM
    return InvoiceDunning.Pause.NONE


def _state_locked(invoice: Invoice) -> InvoiceDunning:
    InvoiceDunning.objects.get_or_create(invoice=invoice, defaults={"company_id": invoice.company_id})
    return InvoiceDunning.objects.select_for_update().get(invoice=invoice)


def invoice_dunning_refresh(
    *, invoice: Invoice, today: date, actor: AbstractBaseUser | None = None, situation: Situation | None = None
) -> InvoiceDunning:
    """Store what the facts say (level, last and next reminder, pause) and audit each change of level or pause."""
    with transaction.atomic():
        state = _state_locked(invoice)
        situation = situation or dunning_situation(invoice, today=today)
        before_level, before_pause = state.level, state.paused_reason
        state.level, state.last_sent_on = situation.level_reached, situation.last_sent_on
        state.next_level_on = situation.next_on if situation.balance_due > ZERO else None
        state.paused_reason = situation.paused_reason if situation.balance_due > ZERO else ""
        state.save(update_fields=["level", "last_sent_on", "next_level_on", "paused_reason", "updated_at"])
        if state.level != before_level:
            audit_record(actor=actor, company=invoice.company, action="dunning.level_changed", target=invoice,
                         changes={"summary": f"{before_level} → {state.level}"})  # fmt: skip
        if state.paused_reason != before_pause:
            if state.paused_reason:
                audit_record(actor=actor, company=invoice.company, action="dunning.paused", target=invoice,
                             changes={"pause": state.paused_reason})  # fmt: skip
            elif situation.balance_due > ZERO:
                audit_record(actor=actor, company=invoice.company, action="dunning.resumed", target=invoice,
                             changes={"pause": before_pause})  # fmt: skip
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
    invoice = situation.invoice
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
    if usable_connection(invoice.company, Provider.MAUTIC) is None:
        return _("Mautic is not connected for %(company)s.") % {"company": invoice.company.name}
    if _text_for(invoice, situation.next_rule.level) is None:
        return _("No Mautic e-mail is set for level %(level)s in %(language)s (dunning settings).") % {
            "level": situation.next_rule.level, "language": invoice.client.get_language_display().lower(),
        }  # fmt: skip
    return ""


def reminder_blocker(situation: Situation) -> str:
    """Why "Envoyer relance Mautic" cannot send now; empty when it can."""
    return _blocker(situation, by_hand=True)


def _text_for(invoice: Invoice, level: int) -> DunningText | None:
    return DunningText.objects.filter(
        level__policy__company=invoice.company, level__level=level, language=invoice.client.language
    ).first()


def reminder_send_start(
    *, invoice: Invoice, today: date, requested_by: AbstractBaseUser | None, trigger: str
) -> Reminder:
    """Create the next level's reminder and start its Mautic e-mail; refused with the reason when it cannot go.

    The invoice's state row is locked first: a click and the daily run, or two runs, wait for each other,
    and the second finds the level already taken.
    """
    with transaction.atomic():
        _state_locked(invoice)
        policy = dunning_policy_ensure(invoice.company)
        situation = dunning_situation(invoice, today=today, policy=policy)
        blocker = _blocker(situation, by_hand=trigger == Reminder.Trigger.MANUAL)
        if blocker:
            raise ValidationError(blocker, code="not_due")
        rule = situation.next_rule
        text = _text_for(invoice, rule.level)
        try:
            with transaction.atomic():
                reminder = Reminder.objects.create(
                    company=invoice.company, invoice=invoice, level=rule.level, level_name=rule.name,
                    dunning_date=today, days_late=situation.days_late, balance_due=situation.balance_due,
                    fee=rule.fee if policy.terms_allow_fees else ZERO, fees_total=situation.fees_total,
                    interest=situation.interest, amount_due=situation.amount_due, currency=invoice.currency,
                    recipient=invoice.client.email, language=invoice.client.language, trigger=trigger,
                    requested_by=requested_by, mautic_email_id=text.mautic_email_id,
                )  # fmt: skip
        except IntegrityError:
            raise ValidationError(
                _("Level %(level)s has already been sent for this invoice.") % {"level": rule.level},
                code="already_sent",
            ) from None
        invoice_dunning_refresh(invoice=invoice, today=today, actor=requested_by)
        action_run_start(action=REMINDER_ACTION, target=reminder, company=invoice.company, actor=requested_by,
                         idempotency_key=f"{REMINDER_ACTION}:{reminder.pk}")  # fmt: skip
    return reminder


@dataclass(frozen=True)
class PlanEntry:
    situation: Situation
    blocker: str  # empty: the daily run sends it


def _candidates(company: Company, *, today: date) -> QuerySet[Invoice]:
    return (
        Invoice.objects.filter(company=company, status__in=OPEN_STATUSES, due_date__lt=today)
        .exclude(kind=Invoice.Kind.CREDIT_NOTE)
        .select_related("company", "client")
        .order_by("due_date", "pk")
    )


def dunning_plan(company: Company, *, today: date) -> list[PlanEntry]:
    """Every overdue invoice of the company, with what the daily run does with it today and why."""
    policy = dunning_policy_ensure(company)
    rules = level_rules(policy)
    entries = []
    for invoice in _candidates(company, today=today):
        situation = dunning_situation(invoice, today=today, policy=policy, rules=rules)
        if situation.balance_due <= ZERO:
            continue
        entries.append(PlanEntry(situation=situation, blocker=_blocker(situation, by_hand=False)))
    return entries


@dataclass(frozen=True)
class RunResult:
    sent: list[Reminder]
    skipped: int


def dunning_run(*, company: Company, today: date, actor: AbstractBaseUser | None) -> RunResult:
    """The daily run of one company: states refreshed, and the reminders due today started, once each."""
    sent, skipped = [], 0
    for entry in dunning_plan(company, today=today):
        invoice = entry.situation.invoice
        invoice_dunning_refresh(invoice=invoice, today=today, actor=actor, situation=entry.situation)
        if entry.blocker:
            skipped += 1
            continue
        try:
            reminder = reminder_send_start(
                invoice=invoice, today=today, requested_by=actor, trigger=Reminder.Trigger.DAILY_RUN
            )
            sent.append(reminder)
        except ValidationError as error:
            # Another run or a click took it meanwhile, or a fact changed: the plan is read again tomorrow.
            logger.info("dunning run %s: %s not reminded: %s", company.code, invoice.number, error.messages)
            skipped += 1
    DunningPolicy.objects.filter(company=company).update(last_run_on=today)
    return RunResult(sent=sent, skipped=skipped)


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
