"""Leads: people who asked the group for something, before there is a client or a quote."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from finance.models.companies import Currency
from finance.models.parties import Language
from finance.models.sales import ProjectType
from hypervisual.constraints import ChecksInOneQuery


class Lead(ChecksInOneQuery):
    """One enquiry: contact data, what is asked for, its scores and how far sales took it."""

    class Source(models.TextChoices):
        WEBSITE = "website", _("Website form")
        MANUAL = "manual", _("Entered by hand")
        PHONE = "phone", _("Phone call")
        EMAIL = "email", _("E-mail")
        REFERRAL = "referral", _("Referral")
        EVENT = "event", _("Event or fair")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        QUALIFIED = "qualified", _("Qualified")
        QUOTE = "quote", _("Quote made")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    class Action(models.TextChoices):
        """What the AI qualification recommends doing next."""

        CALL_TODAY = "call_today", _("Call today")
        SEND_QUOTE = "send_quote", _("Send a quote")
        SEND_INFORMATION = "send_information", _("Send information")
        NURTURE = "nurture", _("Keep in touch")
        DISQUALIFY = "disqualify", _("Not a fit")

    OPEN_STATUSES = (Status.NEW, Status.QUALIFIED, Status.QUOTE)

    company = models.ForeignKey("finance.Company", on_delete=models.PROTECT, related_name="leads")
    first_name = models.CharField(_("first name"), max_length=80, blank=True, default="", db_default="")
    last_name = models.CharField(_("last name"), max_length=80, blank=True, default="", db_default="")
    organisation = models.CharField(_("organisation"), max_length=120, blank=True, default="", db_default="")
    email = models.EmailField(_("e-mail"), blank=True, default="", db_default="")
    # E.164 (+41791234567), normalised by the services so that the same number always compares equal.
    phone = models.CharField(_("phone"), max_length=16, blank=True, default="", db_default="")
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.FRENCH, db_default=Language.FRENCH
    )
    town = models.CharField(_("town"), max_length=35, blank=True, default="", db_default="")
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    project_type = models.CharField(
        _("project type"), max_length=32, choices=ProjectType.choices, default=ProjectType.OTHER,
        db_default=ProjectType.OTHER,
    )  # fmt: skip
    budget = models.DecimalField(
        _("budget"), max_digits=12, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    currency = models.CharField(
        _("currency"), max_length=3, choices=Currency.choices, default=Currency.CHF, db_default=Currency.CHF
    )
    event_date = models.DateField(_("event or desired date"), null=True, blank=True)
    message = models.TextField(_("message"), blank=True, default="", db_default="")
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.NEW, db_default=Status.NEW
    )
    lost_reason = models.CharField(_("reason lost"), max_length=300, blank=True, default="", db_default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("owner"),
    )  # fmt: skip
    # Submissions merged into this lead (same e-mail or phone within the merge window), this one included.
    received_count = models.PositiveIntegerField(_("submissions"), default=1, db_default=1)
    received_at = models.DateTimeField(_("received"), db_default=Now())
    last_received_at = models.DateTimeField(_("last received"), db_default=Now())
    # When someone first acted on it (answered, changed its status, made a quote): the response time's end.
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    # The webhook deliveries already taken in, so that replaying one changes nothing.
    delivery_ids = ArrayField(models.BigIntegerField(), default=list, blank=True, db_default=[])
    rule_score = models.PositiveSmallIntegerField(_("rule score"), default=0, db_default=0)
    # [{"code": "budget", "points": 20, "value": "CHF 12000.00"}, …]: why the rule score is what it is.
    rule_reasons = models.JSONField(_("rule score reasons"), default=list, db_default=[], blank=True)
    ai_score = models.PositiveSmallIntegerField(_("AI score"), null=True, blank=True)
    ai_language = models.CharField(
        _("language (AI)"), max_length=2, choices=Language.choices, blank=True, default="", db_default=""
    )
    ai_summary = models.TextField(_("summary (AI)"), blank=True, default="", db_default="")
    ai_action = models.CharField(
        _("recommended action"), max_length=20, choices=Action.choices, blank=True, default="", db_default=""
    )
    ai_model = models.CharField(_("AI model"), max_length=80, blank=True, default="", db_default="")
    ai_prompt_version = models.CharField(_("prompt version"), max_length=20, blank=True, default="", db_default="")
    qualified_at = models.DateTimeField(_("qualified by AI"), null=True, blank=True)
    client = models.ForeignKey(
        "finance.Client", on_delete=models.PROTECT, null=True, blank=True, related_name="leads",
        verbose_name=_("client"),
    )  # fmt: skip
    quote = models.ForeignKey(
        "finance.Quote", on_delete=models.PROTECT, null=True, blank=True, related_name="leads",
        verbose_name=_("quote"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)
    updated_at = models.DateTimeField(_("updated"), db_default=Now(), editable=False)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [
            models.Index(fields=["company", "status", "received_at"], name="lead_company_status_received"),
            models.Index(fields=["company", "email"], name="lead_company_email"),
            models.Index(fields=["company", "phone"], name="lead_company_phone"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["new", "qualified", "quote", "won", "lost"]), name="lead_status_known"
            ),
            models.CheckConstraint(
                condition=Q(source__in=["website", "manual", "phone", "email", "referral", "event"]),
                name="lead_source_known",
            ),
            models.CheckConstraint(condition=~Q(email="") | ~Q(phone=""), name="lead_email_or_phone"),
            models.CheckConstraint(condition=Q(phone="") | Q(phone__regex=r"^\+[0-9]{8,15}$"), name="lead_phone_e164"),
            models.CheckConstraint(condition=Q(language__in=Language.values), name="lead_language_known"),
            models.CheckConstraint(condition=Q(currency__in=Currency.values), name="lead_currency_known"),
            models.CheckConstraint(condition=Q(project_type__in=ProjectType.values), name="lead_project_type_known"),
            models.CheckConstraint(condition=Q(budget__isnull=True) | Q(budget__gte=0), name="lead_budget_positive"),
            models.CheckConstraint(condition=Q(received_count__gte=1), name="lead_received_count_positive"),
            models.CheckConstraint(condition=Q(rule_score__lte=100), name="lead_rule_score_range"),
            models.CheckConstraint(
                condition=Q(ai_score__isnull=True) | (Q(ai_score__gte=1) & Q(ai_score__lte=10)),
                name="lead_ai_score_range",
            ),
            models.CheckConstraint(
                condition=Q(ai_action="")
                | Q(ai_action__in=["call_today", "send_quote", "send_information", "nurture", "disqualify"]),
                name="lead_ai_action_known",
            ),  # fmt: skip
            models.CheckConstraint(condition=~Q(status="lost") | ~Q(lost_reason=""), name="lead_lost_has_reason"),
            models.CheckConstraint(
                condition=~Q(status__in=["quote", "won"]) | Q(quote__isnull=False), name="lead_quote_stage_has_quote"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    def get_absolute_url(self) -> str:
        return reverse("finance:lead-detail", kwargs={"pk": self.pk})

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.organisation or self.email or self.phone

    @property
    def phone_display(self) -> str:
        """A Swiss number grouped as people write it (+41 79 123 45 67); others as stored."""
        digits = self.phone.removeprefix("+41")
        if self.phone.startswith("+41") and len(digits) == 9:
            return f"+41 {digits[:2]} {digits[2:5]} {digits[5:7]} {digits[7:]}"
        return self.phone

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def rule_reason_lines(self) -> list[tuple[str, int, str]]:
        """The rule score's reasons as (label, points, value), labelled in the reader's language."""
        labels = dict(RULE_REASON_LABELS)
        return [(str(labels.get(r["code"], r["code"])), r["points"], r.get("value", "")) for r in self.rule_reasons]


RULE_REASON_LABELS = (
    ("budget", _("Budget")),
    ("no_budget", _("No budget given")),
    ("event_soon", _("Date within 30 days")),
    ("event_quarter", _("Date within 90 days")),
    ("event_later", _("Date later than 90 days")),
    ("event_past", _("Date already past")),
    ("no_event", _("No date given")),
    ("email", _("E-mail given")),
    ("phone", _("Phone given")),
    ("organisation", _("Organisation given")),
    ("full_name", _("First and last name given")),
    ("project_type", _("Project type")),
)
