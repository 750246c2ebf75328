"""Dunning (relances): each company's policy and levels, each invoice's state, and every reminder sent.

The state of an invoice is derived from facts (its due date, payments, holds and the reminders that were
not refused), so that a run skipped for days still sends the right level once; a reminder is a row per
level, unique while it is not failed, so that two runs at once cannot send the same level twice.
"""

import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from finance.models.parties import Language
from hypervisual.constraints import ChecksInOneQuery

ZERO = Decimal("0.00")
# The group's default policy (workflow W5): J+7 courteous, J+14 firm, J+30 formal notice, fees 0 / 20 / 30 CHF.
# Level names are the company's own words (editable), in the group's working language.
DEFAULT_LEVELS = (
    (1, "Rappel courtois", 7, Decimal("0.00")),
    (2, "Rappel ferme", 14, Decimal("20.00")),
    (3, "Mise en demeure", 30, Decimal("30.00")),
)


class DunningPolicy(ChecksInOneQuery):
    company = models.OneToOneField("finance.Company", on_delete=models.CASCADE, related_name="dunning_policy")
    daily_run_enabled = models.BooleanField(
        _("send reminders every day"), default=True, db_default=True,
        help_text=_("Off: reminders are sent only when someone clicks “Send Mautic reminder”."),
    )  # fmt: skip
    run_at = models.TimeField(
        _("daily run at"), default=datetime.time(9, 0), db_default=datetime.time(9, 0),
        help_text=_("Swiss time. A day missed is caught up at the next run, one level at a time."),
    )  # fmt: skip
    terms_allow_fees = models.BooleanField(
        _("our general terms (CGV) provide for reminder fees"), default=False, db_default=False,
        help_text=_("Without it, no fee is charged whatever the levels say."),
    )  # fmt: skip
    interest_rate = models.DecimalField(
        _("late interest (% a year)"), max_digits=5, decimal_places=2, default=Decimal("5.00"),
        db_default=Decimal("5.00"), help_text=_("From the due date; 5 % unless agreed otherwise (art. 104 CO)."),
    )  # fmt: skip
    minimum_amount = models.DecimalField(
        _("no reminder below"), max_digits=12, decimal_places=2, default=Decimal("10.00"),
        db_default=Decimal("10.00"), help_text=_("An invoice owing less than this is not reminded."),
    )  # fmt: skip
    pause_when_disputed = models.BooleanField(_("pause disputed invoices"), default=True, db_default=True)
    pause_during_payment_plan = models.BooleanField(
        _("pause invoices under a payment plan"), default=True, db_default=True
    )
    partial_payment_pause_days = models.PositiveSmallIntegerField(
        _("pause after a partial payment (days)"), default=10, db_default=10,
        help_text=_("A payment received this recently postpones the next reminder; 0 = no pause."),
    )  # fmt: skip
    last_run_on = models.DateField(_("last daily run"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), db_default=Now(), editable=False)

    class Meta:
        verbose_name = _("dunning policy")
        verbose_name_plural = _("dunning policies")
        constraints = [
            models.CheckConstraint(
                condition=Q(interest_rate__gte=0) & Q(interest_rate__lte=Decimal("15.00")),
                name="dunningpolicy_interest_rate_range",
            ),
            models.CheckConstraint(condition=Q(minimum_amount__gte=0), name="dunningpolicy_minimum_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.company.code} dunning policy"


class DunningLevel(ChecksInOneQuery):
    policy = models.ForeignKey(DunningPolicy, on_delete=models.CASCADE, related_name="levels")
    level = models.PositiveSmallIntegerField(_("level"))
    name = models.CharField(_("name"), max_length=80)
    days_after_due = models.PositiveSmallIntegerField(_("days after the due date"))
    fee = models.DecimalField(_("fee"), max_digits=8, decimal_places=2, default=ZERO, db_default=ZERO)

    class Meta:
        ordering = ["level"]
        verbose_name = _("dunning level")
        verbose_name_plural = _("dunning levels")
        constraints = [
            models.UniqueConstraint(fields=["policy", "level"], name="dunninglevel_one_per_number"),
            models.UniqueConstraint(fields=["policy", "days_after_due"], name="dunninglevel_one_per_day"),
            models.CheckConstraint(condition=Q(level__gte=1), name="dunninglevel_number_positive"),
            models.CheckConstraint(condition=Q(days_after_due__gte=1), name="dunninglevel_after_due_date"),
            models.CheckConstraint(condition=Q(fee__gte=0), name="dunninglevel_fee_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.level}. {self.name} (+{self.days_after_due})"


class DunningText(models.Model):
    """The Mautic template e-mail a level is sent with, per client language."""

    level = models.ForeignKey(DunningLevel, on_delete=models.CASCADE, related_name="texts")
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    mautic_email_id = models.PositiveIntegerField(_("Mautic template e-mail id"))

    class Meta:
        ordering = ["level", "language"]
        verbose_name = _("dunning text")
        verbose_name_plural = _("dunning texts")
        constraints = [
            models.UniqueConstraint(fields=["level", "language"], name="dunningtext_one_per_language"),
            models.CheckConstraint(condition=Q(language__in=Language.values), name="dunningtext_language_known"),
        ]

    def __str__(self) -> str:
        return f"{self.level} {self.language}: #{self.mautic_email_id}"


class InvoiceDunning(ChecksInOneQuery):
    """Where an invoice stands in dunning: stored for lists and the dashboard, recomputed from the facts."""

    class Hold(models.TextChoices):
        NONE = "", _("None")
        DISPUTED = "disputed", _("Disputed by the client")
        PAYMENT_PLAN = "payment_plan", _("Payment plan agreed")

    class Pause(models.TextChoices):
        NONE = "", _("Not paused")
        DISPUTED = "disputed", _("Disputed by the client")
        PAYMENT_PLAN = "payment_plan", _("Payment plan agreed")
        PARTIAL_PAYMENT = "partial_payment", _("Recent partial payment")
        BELOW_MINIMUM = "below_minimum", _("Below the minimum amount")

    invoice = models.OneToOneField("finance.Invoice", on_delete=models.CASCADE, related_name="dunning")
    company = models.ForeignKey("finance.Company", on_delete=models.PROTECT, related_name="+")
    level = models.PositiveSmallIntegerField(_("level reached"), default=0, db_default=0)
    last_sent_on = models.DateField(_("last reminder"), null=True, blank=True)
    next_level_on = models.DateField(_("next reminder due"), null=True, blank=True)
    paused_reason = models.CharField(
        _("paused"), max_length=16, choices=Pause.choices, blank=True, default="", db_default=""
    )
    # Facts a person states: the client disputes the invoice, or a payment plan runs until a date.
    hold = models.CharField(_("hold"), max_length=16, choices=Hold.choices, blank=True, default="", db_default="")
    hold_until = models.DateField(_("until"), null=True, blank=True)
    hold_note = models.CharField(_("note"), max_length=200, blank=True, default="", db_default="")
    updated_at = models.DateTimeField(_("updated"), db_default=Now(), editable=False)

    class Meta:
        verbose_name = _("invoice dunning state")
        verbose_name_plural = _("invoice dunning states")
        indexes = [models.Index(fields=["company", "next_level_on"], name="dunning_company_next")]
        constraints = [
            models.CheckConstraint(
                condition=Q(paused_reason__in=["", "disputed", "payment_plan", "partial_payment", "below_minimum"]),
                name="invoicedunning_pause_known",
            ),
            models.CheckConstraint(condition=Q(hold__in=["", "disputed", "payment_plan"]), name="invoicedunning_hold"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice} level {self.level}"


class Reminder(ChecksInOneQuery):
    """One reminder of one level for one invoice, with the amounts it claimed and its trace at Mautic."""

    class Status(models.TextChoices):
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    class Trigger(models.TextChoices):
        MANUAL = "manual", _("By hand")
        DAILY_RUN = "daily_run", _("Daily run")

    company = models.ForeignKey("finance.Company", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey("finance.Invoice", on_delete=models.PROTECT, related_name="reminders")
    level = models.PositiveSmallIntegerField(_("level"))
    level_name = models.CharField(_("level name"), max_length=80)
    dunning_date = models.DateField(_("date"))
    days_late = models.PositiveIntegerField(_("days late"))
    balance_due = models.DecimalField(_("balance due"), max_digits=12, decimal_places=2)
    fee = models.DecimalField(_("fee of this reminder"), max_digits=8, decimal_places=2, default=ZERO)
    fees_total = models.DecimalField(_("fees"), max_digits=10, decimal_places=2, default=ZERO)
    interest = models.DecimalField(_("late interest"), max_digits=10, decimal_places=2, default=ZERO)
    amount_due = models.DecimalField(_("amount claimed"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    recipient = models.EmailField(_("sent to"))
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.SENDING, db_default=Status.SENDING
    )
    mautic_email_id = models.PositiveIntegerField(_("Mautic e-mail id"), null=True, blank=True)
    mautic_contact_id = models.PositiveIntegerField(_("Mautic contact id"), null=True, blank=True)
    # Mautic's tracking hash of this send (idHash of email_on_send, trackingHash of the stat when opened).
    mautic_tracking_hash = models.CharField(_("Mautic tracking hash"), max_length=64, blank=True, default="")
    send_attempted_at = models.DateTimeField(_("send attempted"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("confirmed by Mautic"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    open_count = models.PositiveIntegerField(_("opens"), default=0, db_default=0)
    error = models.TextField(_("error"), blank=True, default="", db_default="")
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)

    class Meta:
        ordering = ["-dunning_date", "-id"]
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        constraints = [
            # Never the same level twice: a failed reminder leaves room for another try, nothing else does.
            models.UniqueConstraint(
                fields=["invoice", "level"], condition=~Q(status="failed"), name="reminder_one_per_level"
            ),
            models.CheckConstraint(condition=Q(status__in=["sending", "sent", "failed"]), name="reminder_status"),
            models.CheckConstraint(condition=Q(trigger__in=["manual", "daily_run"]), name="reminder_trigger"),
            models.CheckConstraint(
                condition=Q(amount_due=models.F("balance_due") + models.F("fees_total") + models.F("interest")),
                name="reminder_amount_sum",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice} · {self.level}. {self.level_name}"

    @property
    def reference(self) -> str:
        """The token that ties Mautic's webhooks back to this reminder."""
        return f"HUB-R{self.pk}"
