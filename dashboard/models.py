"""What the dashboard keeps of its own: snoozed urgent items, and daily figures that leave no history elsewhere."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _


class UrgentSnooze(models.Model):
    """A user hid one urgent item until a time; it comes back afterwards if it still needs doing."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(_("item"), max_length=120)
    until = models.DateTimeField(_("snoozed until"))
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)

    class Meta:
        verbose_name = _("snoozed urgent item")
        verbose_name_plural = _("snoozed urgent items")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="urgentsnooze_one_per_user_and_item")]

    def __str__(self) -> str:
        return f"{self.key} until {self.until:%d.%m.%Y %H:%M}"


class FigureSnapshot(models.Model):
    """A figure as it stood at the end of a day, for the figures whose past the documents do not keep.

    Quotes and projects keep no history of their statuses, so the pipeline and the number of active
    projects a year ago can only be known if they were written down then: a beat task does it daily.
    """

    class Metric(models.TextChoices):
        PIPELINE = "pipeline", _("Pipeline")
        PROJECTS_ACTIVE = "projects_active", _("Active projects")
        PROJECTS_LATE = "projects_late", _("Late projects")

    company = models.ForeignKey("finance.Company", on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("day"))
    metric = models.CharField(_("figure"), max_length=24, choices=Metric.choices)
    currency = models.CharField(_("currency"), max_length=3, blank=True, default="", db_default="")
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("figure snapshot")
        verbose_name_plural = _("figure snapshots")
        constraints = [
            models.UniqueConstraint(fields=["company", "day", "metric", "currency"], name="figuresnapshot_once"),
            models.CheckConstraint(
                condition=Q(metric__in=["pipeline", "projects_active", "projects_late"]), name="figuresnapshot_metric"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.metric} {self.currency} {self.value}"


class OpenInvoice(models.Model):
    """An invoice that still owes money, with its balance: kept by database triggers, never written by Django.

    The triggers (migration 0003) recompute an invoice's row whenever it, one of its payment
    allocations, a payment's undo or one of its credit notes changes — Directus edits included — with
    the invoice list's rules. The dashboard then sums balances without recomputing them per invoice.
    """

    invoice = models.OneToOneField(
        "finance.Invoice", primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    company = models.ForeignKey("finance.Company", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    currency = models.CharField(max_length=3)
    kind = models.CharField(max_length=16)
    due_date = models.DateField(null=True)
    balance_due = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("open invoice")
        verbose_name_plural = _("open invoices")
        indexes = [
            models.Index(fields=["company", "due_date"], name="openinvoice_company_due"),
            # The open deposits the urgent card counts: a few among thousands of open invoices.
            models.Index(fields=["company"], condition=Q(kind="deposit"), name="openinvoice_deposit_company"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.balance_due} {self.currency}"
