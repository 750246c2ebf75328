from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from finance.models.companies import Currency
from finance.models.vat import VatCode, VatRate
from hypervisual.constraints import ChecksInOneQuery

ZERO = Decimal("0.00")


class DocumentStateError(ValidationError):
    """The document is not in a state that allows this action."""


class ProjectType(models.TextChoices):
    DIGITAL_SIGNAGE = "digital_signage", _("Digital signage")
    SOFTWARE = "software", _("Software")
    CONSULTING = "consulting", _("Consulting")
    LEGAL = "legal", _("Legal services")
    REAL_ESTATE = "real_estate", _("Real estate")
    FOOD_SERVICE = "food_service", _("Food service")
    TRAINING = "training", _("Training")
    OTHER = "other", _("Other")


class DepositRule(ChecksInOneQuery):
    """How much deposit a signed quote asks for: per company and project type (blank = the default rule)."""

    company = models.ForeignKey("finance.Company", on_delete=models.CASCADE, related_name="deposit_rules")
    project_type = models.CharField(
        _("project type"), max_length=32, choices=ProjectType.choices, blank=True, default="", db_default=""
    )
    percent = models.DecimalField(_("deposit (%)"), max_digits=5, decimal_places=2)
    min_quote_total = models.DecimalField(
        _("from a quote total of"), max_digits=12, decimal_places=2, default=ZERO, db_default=ZERO
    )
    due_days = models.PositiveSmallIntegerField(_("deposit due in (days)"), default=10, db_default=10)

    class Meta:
        verbose_name = _("deposit rule")
        verbose_name_plural = _("deposit rules")
        constraints = [
            models.UniqueConstraint(fields=["company", "project_type"], name="depositrule_one_per_project_type"),
            models.CheckConstraint(condition=Q(percent__gte=0) & Q(percent__lte=100), name="depositrule_percent"),
            models.CheckConstraint(condition=Q(min_quote_total__gte=0), name="depositrule_min_total_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.company.code} {self.project_type or 'default'} {self.percent} %"


class DocumentLine(ChecksInOneQuery):
    """A line of a quote or an invoice; amounts are derived by finance.vat, never stored twice."""

    position = models.PositiveSmallIntegerField(_("position"))
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3)
    unit = models.CharField(_("unit"), max_length=16, blank=True, default="", db_default="")
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    discount_percent = models.DecimalField(
        _("discount (%)"), max_digits=5, decimal_places=2, default=ZERO, db_default=ZERO
    )
    vat_code = models.CharField(
        _("VAT"), max_length=16, choices=VatCode.choices, default=VatCode.STANDARD, db_default=VatCode.STANDARD
    )
    # The rate in force on the document's date, frozen with the line.
    vat_rate = models.DecimalField(_("VAT rate (%)"), max_digits=5, decimal_places=2)

    class Meta:
        abstract = True
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.description


def line_constraints(prefix: str, *, deductions_allowed: bool = False) -> list[models.BaseConstraint]:
    """`deductions_allowed`: a deposit correction line may deduct (a negative quantity), no other line."""
    positive = Q(quantity__gt=0) | Q(corrects_deposit=True) if deductions_allowed else Q(quantity__gt=0)
    return [
        models.CheckConstraint(condition=positive, name=f"{prefix}_quantity_positive"),
        models.CheckConstraint(condition=Q(unit_price__gte=0), name=f"{prefix}_unit_price_positive"),
        models.CheckConstraint(
            condition=Q(discount_percent__gte=0) & Q(discount_percent__lte=100), name=f"{prefix}_discount_percent"
        ),
        models.CheckConstraint(condition=Q(vat_rate__gte=0) & Q(vat_rate__lt=100), name=f"{prefix}_vat_rate_percent"),
        models.CheckConstraint(condition=Q(vat_code__in=VatCode.values), name=f"{prefix}_vat_code_known"),
    ]


def total_constraints(prefix: str) -> list[models.BaseConstraint]:
    return [
        models.CheckConstraint(
            condition=Q(supply_to__isnull=True) | (Q(supply_from__isnull=False) & Q(supply_to__gte=F("supply_from"))),
            name=f"{prefix}_supply_period_ordered",
        ),
        models.CheckConstraint(
            condition=Q(net_total__gte=0) & Q(vat_total__gte=0) & Q(gross_total__gte=0) & Q(payable_total__gte=0),
            name=f"{prefix}_totals_positive",
        ),
        models.CheckConstraint(condition=Q(gross_total=F("net_total") + F("vat_total")), name=f"{prefix}_gross_sum"),
        models.CheckConstraint(condition=Q(payable_total=F("gross_total") + F("rounding")), name=f"{prefix}_payable"),
        models.CheckConstraint(condition=Q(currency__in=Currency.values), name=f"{prefix}_currency_known"),
    ]


class SalesDocument(ChecksInOneQuery):
    """What quotes and invoices share: parties, number, text, authorship and totals.

    The totals are recomputed by the services from the lines (finance.vat), never typed in.
    """

    company = models.ForeignKey("finance.Company", on_delete=models.PROTECT, related_name="%(class)ss")
    client = models.ForeignKey("finance.Client", on_delete=models.PROTECT, related_name="%(class)ss")
    number = models.CharField(_("number"), max_length=32, blank=True, default="", db_default="")
    title = models.CharField(_("title"), max_length=200)
    notes = models.TextField(_("notes"), blank=True, default="", db_default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)
    updated_at = models.DateTimeField(_("updated"), db_default=Now(), editable=False)
    currency = models.CharField(
        _("currency"), max_length=3, choices=Currency.choices, default=Currency.CHF, db_default=Currency.CHF
    )
    net_total = models.DecimalField(_("net"), max_digits=12, decimal_places=2, default=ZERO, db_default=ZERO)
    vat_total = models.DecimalField(_("VAT"), max_digits=12, decimal_places=2, default=ZERO, db_default=ZERO)
    gross_total = models.DecimalField(_("total"), max_digits=12, decimal_places=2, default=ZERO, db_default=ZERO)
    rounding = models.DecimalField(_("rounding"), max_digits=4, decimal_places=2, default=ZERO, db_default=ZERO)
    payable_total = models.DecimalField(_("payable"), max_digits=12, decimal_places=2, default=ZERO, db_default=ZERO)
    # Where clients receive the document: its hashed id at Invoice Ninja, the status_id Invoice Ninja last
    # reported (its own enumeration, a string), the client portal link and when Invoice Ninja e-mailed it.
    invoice_ninja_id = models.CharField(_("Invoice Ninja id"), max_length=40, blank=True, default="", db_default="")
    invoice_ninja_status = models.CharField(
        _("Invoice Ninja status"), max_length=2, blank=True, default="", db_default=""
    )
    invoice_ninja_link = models.URLField(_("Invoice Ninja link"), max_length=500, blank=True, default="", db_default="")
    invoice_ninja_sent_at = models.DateTimeField(_("sent via Invoice Ninja"), null=True, blank=True)
    # When the goods are delivered or the service is rendered (art. 26 MWSTG): printed when it differs from the
    # document's date, and the date whose VAT rates apply. A period runs from `supply_from` to `supply_to`.
    supply_from = models.DateField(_("supply date"), null=True, blank=True)
    supply_to = models.DateField(_("supply until"), null=True, blank=True,
                                 help_text=_("For a supply over a period: its last day."))  # fmt: skip

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.number or f"{self.title} ({self.get_status_display()})"

    @property
    def document_date(self) -> date | None:
        """The quote's date, the invoice's issue date (None while it is a draft)."""
        return getattr(self, "quote_date", None) or getattr(self, "issue_date", None)

    @property
    def vat_date(self) -> date | None:
        """The day whose VAT rates apply: the (end of the) supply, else the document's own date."""
        return self.supply_to or self.supply_from or self.document_date

    @property
    def supply_differs(self) -> bool:
        """Whether the supply must be printed: it is given and is not simply the document's date."""
        return bool(self.supply_from) and (self.supply_to is not None or self.supply_from != self.document_date)

    def clean(self) -> None:
        """A period ends after it starts, and never straddles a VAT rate change (each side has its own rate)."""
        if self.supply_to and not self.supply_from:
            raise ValidationError({"supply_from": _("Give the first day of the supply period.")})
        if self.supply_to and self.supply_to < self.supply_from:
            raise ValidationError({"supply_to": _("The supply period ends before it starts.")})
        if self.supply_to:
            change = (VatRate.objects.filter(valid_from__gt=self.supply_from, valid_from__lte=self.supply_to)
                      .order_by("valid_from").first())  # fmt: skip
            if change:
                raise ValidationError({"supply_to": _(
                    "The VAT rates change on %(date)s: invoice the supply before and after that day separately."
                ) % {"date": change.valid_from.strftime("%d.%m.%Y")}})  # fmt: skip


class Quote(SalesDocument):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SENT = "sent", _("Sent")
        VIEWED = "viewed", _("Viewed")
        SIGNED = "signed", _("Signed")
        CONVERTED = "converted", _("Converted")
        REJECTED = "rejected", _("Rejected")
        EXPIRED = "expired", _("Expired")

    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_default=Status.DRAFT
    )
    quote_date = models.DateField(_("date"))
    valid_until = models.DateField(_("valid until"))
    project_type = models.CharField(
        _("project type"),
        max_length=32,
        choices=ProjectType.choices,
        default=ProjectType.OTHER,
        db_default=ProjectType.OTHER,
    )
    deposit_percent = models.DecimalField(
        _("deposit (%)"), max_digits=5, decimal_places=2, default=ZERO, db_default=ZERO
    )
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    signed_at = models.DateTimeField(_("signed"), null=True, blank=True)
    # Why the client declined (DocuSeal's decline reason, or what a person noted).
    rejection_reason = models.CharField(
        _("reason for rejection"), max_length=500, blank=True, default="", db_default=""
    )

    class Meta:
        ordering = ["-quote_date", "-id"]
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        # The pipeline and the quotes about to expire: open quotes by validity.
        indexes = [models.Index(fields=["company", "status", "valid_until"], name="quote_company_status_valid")]
        constraints = [
            *total_constraints("quote"),
            models.UniqueConstraint(
                fields=["company", "number"], condition=~Q(number=""), name="quote_number_unique_per_company"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "sent", "viewed", "signed", "converted", "rejected", "expired"]),
                name="quote_status_known",
            ),
            models.CheckConstraint(condition=Q(status="draft") | ~Q(number=""), name="quote_sent_has_number"),
            models.CheckConstraint(condition=Q(valid_until__gte=F("quote_date")), name="quote_validity_after_date"),
            models.CheckConstraint(
                condition=Q(deposit_percent__gte=0) & Q(deposit_percent__lte=100), name="quote_deposit_percent"
            ),
        ]

    def get_absolute_url(self) -> str:
        return reverse("finance:quote-detail", kwargs={"pk": self.pk})


class QuoteLine(DocumentLine):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")

    class Meta(DocumentLine.Meta):
        verbose_name = _("quote line")
        verbose_name_plural = _("quote lines")
        constraints = line_constraints("quoteline")


# The invoices still owed something: issued or partly paid, and not a credit note. Selectors read them by this
# condition, and the index `invoice_open_company_due` holds exactly these rows, so the two must stay one.
OPEN_INVOICE = Q(status__in=["issued", "partially_paid"]) & ~Q(kind="credit_note")


class Invoice(SalesDocument):
    class Kind(models.TextChoices):
        STANDARD = "standard", _("Invoice")
        DEPOSIT = "deposit", _("Deposit invoice")
        BALANCE = "balance", _("Balance invoice")
        CREDIT_NOTE = "credit_note", _("Credit note")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ISSUED = "issued", _("Issued")
        PARTIALLY_PAID = "partially_paid", _("Partially paid")
        PAID = "paid", _("Paid")
        CANCELLED = "cancelled", _("Cancelled")

    quote = models.ForeignKey(Quote, on_delete=models.PROTECT, null=True, blank=True, related_name="invoices")
    credited_invoice = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="credit_notes"
    )
    kind = models.CharField(
        _("kind"), max_length=16, choices=Kind.choices, default=Kind.STANDARD, db_default=Kind.STANDARD
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_default=Status.DRAFT
    )
    issue_date = models.DateField(_("issue date"), null=True, blank=True)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    qr_reference = models.CharField(_("QR reference"), max_length=27, blank=True, default="", db_default="")
    issued_at = models.DateTimeField(_("issued"), null=True, blank=True)

    class Meta:
        ordering = ["-issue_date", "-id"]
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        indexes = [
            models.Index(fields=["company", "status", "due_date"], name="invoice_company_status_due"),
            # The open invoices (about 2 % of them) by company and due date, with every column dunning reads
            # (`selectors.DUNNING_INVOICE_FIELDS`): its daily run finds a company's overdue invoices in the index,
            # in the order it sends them, instead of filtering out every paid invoice of the company.
            models.Index(
                fields=["company", "due_date", "id"],
                include=["client", "status", "kind", "number", "currency", "payable_total", "issue_date"],
                condition=OPEN_INVOICE,
                name="invoice_open_company_due",
            ),
        ]
        constraints = [
            *total_constraints("invoice"),
            models.UniqueConstraint(
                fields=["company", "number"], condition=~Q(number=""), name="invoice_number_unique_per_company"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["standard", "deposit", "balance", "credit_note"]), name="invoice_kind_known"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "issued", "partially_paid", "paid", "cancelled"]),
                name="invoice_status_known",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "cancelled"])
                | (~Q(number="") & Q(issue_date__isnull=False) & Q(due_date__isnull=False)),
                name="invoice_issued_is_numbered_and_dated",
            ),
            models.CheckConstraint(
                condition=Q(due_date__isnull=True) | Q(due_date__gte=F("issue_date")), name="invoice_due_after_issue"
            ),
            models.CheckConstraint(
                condition=Q(kind="credit_note", credited_invoice__isnull=False)
                | (~Q(kind="credit_note") & Q(credited_invoice__isnull=True)),
                name="invoice_credit_note_has_original",
            ),
        ]

    def get_absolute_url(self) -> str:
        return reverse("finance:invoice-detail", kwargs={"pk": self.pk})


class InvoiceLine(DocumentLine):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    # A final invoice's pair of lines re-taxing a deposit that was invoiced before a VAT rate change for a supply
    # after it (ESTV): the deposit again at the new rate, and deducted (quantity −1) at the rate it was taxed at.
    corrects_deposit = models.BooleanField(_("deposit VAT correction"), default=False, db_default=False)

    class Meta(DocumentLine.Meta):
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        constraints = line_constraints("invoiceline", deductions_allowed=True)


class DocumentSequence(models.Model):
    """The last number given per company, document family and year; taken under a row lock."""

    class Family(models.TextChoices):
        QUOTE = "quote", _("Quotes")
        INVOICE = "invoice", _("Invoices")
        CREDIT_NOTE = "credit_note", _("Credit notes")

    company = models.ForeignKey("finance.Company", on_delete=models.PROTECT, related_name="sequences")
    family = models.CharField(_("family"), max_length=16, choices=Family.choices)
    year = models.PositiveSmallIntegerField(_("year"))
    last_number = models.PositiveIntegerField(_("last number"), default=0, db_default=0)

    class Meta:
        verbose_name = _("document sequence")
        verbose_name_plural = _("document sequences")
        constraints = [
            models.UniqueConstraint(fields=["company", "family", "year"], name="sequence_one_per_family_and_year"),
            models.CheckConstraint(
                condition=Q(family__in=["quote", "invoice", "credit_note"]), name="sequence_family_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company.code} {self.family} {self.year}: {self.last_number}"
