"""Projects: what a signed quote turns into, with its milestones and the providers working on it."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from finance.models.companies import Currency
from finance.models.sales import ProjectType
from hypervisual.constraints import ChecksInOneQuery

ZERO = Decimal("0.00")
PROJECT_STATUSES = [
    "quote_sent", "signed", "deposit_received", "in_preparation", "ordering", "installing", "delivered", "closed",
    "on_hold", "cancelled",
]  # fmt: skip


class Project(ChecksInOneQuery):
    """A piece of work for a client. Every figure shown about it is derived from its documents."""

    class Status(models.TextChoices):
        QUOTE_SENT = "quote_sent", _("Quote sent")
        SIGNED = "signed", _("Signed")
        DEPOSIT_RECEIVED = "deposit_received", _("Deposit received")
        IN_PREPARATION = "in_preparation", _("In preparation")
        ORDERING = "ordering", _("Ordering")
        INSTALLING = "installing", _("Installing")
        DELIVERED = "delivered", _("Delivered")
        CLOSED = "closed", _("Closed")
        ON_HOLD = "on_hold", _("On hold")
        CANCELLED = "cancelled", _("Cancelled")

    company = models.ForeignKey("finance.Company", on_delete=models.PROTECT, related_name="projects")
    client = models.ForeignKey("finance.Client", on_delete=models.PROTECT, related_name="projects")
    quote = models.OneToOneField(
        "finance.Quote", on_delete=models.PROTECT, null=True, blank=True, related_name="project"
    )
    name = models.CharField(_("name"), max_length=200)
    project_type = models.CharField(
        _("project type"),
        max_length=32,
        choices=ProjectType.choices,
        default=ProjectType.OTHER,
        db_default=ProjectType.OTHER,
    )
    currency = models.CharField(
        _("currency"), max_length=3, choices=Currency.choices, default=Currency.CHF, db_default=Currency.CHF
    )
    budget = models.DecimalField(
        _("budget (net)"), max_digits=12, decimal_places=2, default=ZERO, db_default=ZERO,
        help_text=_("The signed quote's net total; for a project without a quote, the agreed net amount."),
    )  # fmt: skip
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.QUOTE_SENT, db_default=Status.QUOTE_SENT
    )
    # The status a project on hold goes back to when it resumes.
    status_before_hold = models.CharField(
        _("status before the hold"), max_length=20, blank=True, default="", db_default=""
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("project manager"),
    )  # fmt: skip
    activated_at = models.DateTimeField(_("activated"), null=True, blank=True)
    # The "project started" e-mail to the client (Mautic): when a send was last tried, and when it went out.
    acknowledgement_attempted_at = models.DateTimeField(_("acknowledgement tried"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("client told the project started"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)
    updated_at = models.DateTimeField(_("updated"), db_default=Now(), editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        indexes = [models.Index(fields=["company", "status"], name="project_company_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PROJECT_STATUSES)
                & (Q(status_before_hold="") | Q(status_before_hold__in=PROJECT_STATUSES)),
                name="project_status_known",
            ),
            models.CheckConstraint(condition=Q(budget__gte=0), name="project_budget_positive"),
            models.CheckConstraint(condition=Q(currency__in=Currency.values), name="project_currency_known"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("finance:project-detail", kwargs={"pk": self.pk})


class Milestone(ChecksInOneQuery):
    """A step or deliverable of a project; late when its due date passed before it was done."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="milestones")
    position = models.PositiveSmallIntegerField(_("position"), default=0, db_default=0)
    title = models.CharField(_("title"), max_length=200)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PLANNED, db_default=Status.PLANNED
    )
    done_on = models.DateField(_("done on"), null=True, blank=True)
    billable_amount = models.DecimalField(
        _("billable amount (net)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    invoice = models.ForeignKey(
        "finance.Invoice", on_delete=models.SET_NULL, null=True, blank=True, related_name="milestones",
        verbose_name=_("invoice"),
    )  # fmt: skip

    class Meta:
        ordering = ["position", "due_date", "id"]
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")
        # The milestones that can still be late, by due date: the dashboard counts the projects with one past its
        # date (dashboard.selectors.projects_now) from a few hundred entries rather than every milestone.
        indexes = [
            models.Index(
                fields=["due_date"], include=["project"], condition=Q(status__in=["planned", "in_progress"]),
                name="milestone_unfinished_due",
            ),
        ]  # fmt: skip
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["planned", "in_progress", "done", "cancelled"]), name="milestone_status_known"
            ),
            models.CheckConstraint(condition=~Q(status="done") | Q(done_on__isnull=False), name="milestone_done_dated"),
            models.CheckConstraint(
                condition=Q(billable_amount__isnull=True) | Q(billable_amount__gte=0),
                name="milestone_billable_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return self.project.get_absolute_url()


class ProviderAssignment(models.Model):
    """A supplier working on a project, for an agreed net amount from their accepted quote.

    Their invoices on the project are checked against `agreed_amount`: over 3 % warns, over 5 % blocks.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assignments")
    supplier = models.ForeignKey("finance.Supplier", on_delete=models.PROTECT, related_name="assignments")
    role = models.CharField(_("role"), max_length=120)
    agreed_amount = models.DecimalField(_("agreed amount (net)"), max_digits=12, decimal_places=2)
    quote_reference = models.CharField(_("their quote number"), max_length=64, blank=True)
    quote_document = models.FileField(_("their accepted quote"), upload_to="provider-quotes/%Y/", blank=True)
    accepted_on = models.DateField(_("quote accepted on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)

    class Meta:
        ordering = ["supplier__name", "id"]
        verbose_name = _("provider assignment")
        verbose_name_plural = _("provider assignments")
        constraints = [
            models.UniqueConstraint(fields=["project", "supplier"], name="assignment_one_per_supplier"),
            models.CheckConstraint(condition=Q(agreed_amount__gte=0), name="assignment_agreed_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.supplier} · {self.role}"
