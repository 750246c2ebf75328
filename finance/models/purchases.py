"""The purchase side: suppliers, the invoices they send, and the four-eyes approval of each one."""

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from finance import identifiers
from finance.models.companies import Currency
from finance.models.vat import VatCode
from hypervisual.constraints import ChecksInOneQuery

ZERO = Decimal("0.00")

# Over the provider's accepted quote by more than this, approving a supplier invoice needs a written reason …
DEVIATION_BLOCK_PERCENT = Decimal("5")
# … and by more than this, the approver is warned.
DEVIATION_WARN_PERCENT = Decimal("3")


class SupplierCategory(models.TextChoices):
    HARDWARE = "hardware", _("Hardware")
    INSTALLATION = "installation", _("Installation")
    SUBCONTRACTING = "subcontracting", _("Subcontracting")
    SOFTWARE = "software", _("Software and licences")
    TRANSPORT = "transport", _("Transport")
    PREMISES = "premises", _("Premises")
    SERVICES = "services", _("Professional services")
    OTHER = "other", _("Other")


class Supplier(ChecksInOneQuery):
    """Someone a company buys from: a provider on projects or a general supplier, paid by bank transfer."""

    company = models.ForeignKey("finance.Company", on_delete=models.PROTECT, related_name="suppliers")
    name = models.CharField(_("legal name"), max_length=70, help_text=_("As on their invoices and bank account."))
    street = models.CharField(_("street"), max_length=70)
    building_number = models.CharField(_("building number"), max_length=16, blank=True, default="", db_default="")
    postal_code = models.CharField(_("postal code"), max_length=16)
    town = models.CharField(_("town"), max_length=35)
    country = models.CharField(_("country"), max_length=2, default="CH", db_default="CH")
    che_uid = models.CharField(_("UID"), max_length=15, blank=True, default="", db_default="")
    iban = models.CharField(
        _("IBAN"), max_length=34, help_text=_("Their account for transfers; a QR-IBAN is accepted for QR-bills.")
    )
    # Set from the IBAN, by clean() and by a PostgreSQL trigger for rows Directus writes.
    bank_country = models.CharField(_("bank country"), max_length=2, editable=False, default="", db_default="")
    currency = models.CharField(
        _("currency"), max_length=3, choices=Currency.choices, default=Currency.CHF, db_default=Currency.CHF
    )
    contact_name = models.CharField(_("contact"), max_length=120, blank=True, default="", db_default="")
    email = models.EmailField(_("e-mail"), blank=True, default="", db_default="")
    phone = models.CharField(_("phone"), max_length=32, blank=True, default="", db_default="")
    categories = ArrayField(
        models.CharField(max_length=32, choices=SupplierCategory.choices),
        verbose_name=_("categories"), default=list, db_default=[], blank=True,
    )  # fmt: skip
    revolut_counterparty_id = models.CharField(
        _("Revolut counterparty id"),
        max_length=64,
        blank=True,
        default="",
        db_default="",
        help_text=_("Filled in when paid via Revolut."),
    )
    # The counterparty's bank account at Revolut and the IBAN it was created for: a new IBAN needs a new one.
    revolut_counterparty_account_id = models.CharField(max_length=64, blank=True, default="", db_default="")
    revolut_counterparty_iban = models.CharField(max_length=34, blank=True, default="", db_default="")
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)
    updated_at = models.DateTimeField(_("updated"), db_default=Now(), editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("supplier")
        verbose_name_plural = _("suppliers")
        indexes = [models.Index(fields=["company", "name"], name="supplier_company_name")]
        constraints = [
            models.CheckConstraint(condition=Q(country__regex=r"^[A-Z]{2}$"), name="supplier_country_iso"),
            models.CheckConstraint(
                condition=Q(iban__regex=r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$"), name="supplier_iban_compact"
            ),
            models.CheckConstraint(
                condition=Q(che_uid="") | Q(che_uid__regex=r"^CHE-\d{3}\.\d{3}\.\d{3}$"), name="supplier_uid_format"
            ),
            models.CheckConstraint(condition=Q(currency__in=Currency.values), name="supplier_currency_known"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("finance:supplier-detail", kwargs={"pk": self.pk})

    def clean(self) -> None:
        """Normalise UID and IBAN; the bank country is the IBAN's; a Swiss address has a four-digit code."""
        errors = {}
        self.country = self.country.strip().upper()
        if self.che_uid:
            try:
                self.che_uid = identifiers.normalize_che_uid(self.che_uid)
            except ValidationError as error:
                errors["che_uid"] = error
        if self.iban:
            try:
                self.iban = identifiers.parse_iban(self.iban).compact
                self.bank_country = self.iban[:2]
            except ValidationError as error:
                errors["iban"] = error
        if self.country == "CH" and not (len(self.postal_code) == 4 and self.postal_code.isdigit()):
            errors["postal_code"] = ValidationError(_("A Swiss postal code has four digits, e.g. 1700."))
        unknown = sorted(set(self.categories) - set(SupplierCategory.values))
        if unknown:
            errors["categories"] = ValidationError(_("Unknown categories: %(names)s.") % {"names": ", ".join(unknown)})
        if errors:
            raise ValidationError(errors)

    @property
    def iban_display(self) -> str:
        return identifiers.format_iban(self.iban)

    @property
    def has_qr_iban(self) -> bool:
        return bool(self.iban) and identifiers.is_qr_iban(identifiers.parse_iban(self.iban))

    def get_categories_display(self) -> list[str]:
        labels = dict(SupplierCategory.choices)
        return [str(labels.get(code, code)) for code in self.categories]


class SupplierInvoice(ChecksInOneQuery):
    """An invoice a supplier sent: entered by one person, approved by another, then paid.

    The approval covers exactly who is paid how much: `approval_fingerprint` hashes payee IBAN,
    amount, currency and reference, and a change to any of them sends the invoice back to approval
    (in the service, and by a PostgreSQL trigger for writes from Directus).
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        TO_APPROVE = "to_approve", _("To approve")
        APPROVED = "approved", _("Approved")
        SCHEDULED = "scheduled", _("Payment scheduled")
        PAID = "paid", _("Paid")
        REJECTED = "rejected", _("Rejected")
        DISPUTED = "disputed", _("Disputed")

    class ReferenceType(models.TextChoices):
        QRR = "QRR", _("QR reference")
        SCOR = "SCOR", _("Creditor reference (RF)")
        NON = "NON", _("Free text or none")

    company = models.ForeignKey("finance.Company", on_delete=models.PROTECT, related_name="supplier_invoices")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="invoices")
    project = models.ForeignKey(
        "finance.Project", on_delete=models.PROTECT, null=True, blank=True, related_name="supplier_invoices"
    )
    supplier_number = models.CharField(_("their invoice number"), max_length=64)
    invoice_date = models.DateField(_("invoice date"))
    due_date = models.DateField(_("due date"))
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.CHF)
    net_total = models.DecimalField(_("net"), max_digits=12, decimal_places=2, default=ZERO, db_default=ZERO)
    vat_total = models.DecimalField(_("VAT"), max_digits=12, decimal_places=2, default=ZERO, db_default=ZERO)
    gross_total = models.DecimalField(_("total"), max_digits=12, decimal_places=2, default=ZERO, db_default=ZERO)
    creditor_iban = models.CharField(_("creditor IBAN"), max_length=34)
    reference_type = models.CharField(
        _("reference type"), max_length=4, choices=ReferenceType.choices, default=ReferenceType.NON,
        db_default=ReferenceType.NON,
    )  # fmt: skip
    payment_reference = models.CharField(_("payment reference"), max_length=140, blank=True)
    source_document = models.FileField(_("source document"), upload_to="supplier-invoices/%Y/%m/", blank=True)
    # What OCR read from the source document, kept for the reviewer (filled by the OCR task).
    ocr_result = models.JSONField(_("OCR result"), default=dict, db_default={}, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_default=Status.DRAFT
    )
    # The deviation from the provider's accepted quote, measured when submitted and approved.
    deviation_percent = models.DecimalField(
        _("deviation from the quote (%)"), max_digits=7, decimal_places=2, null=True, blank=True
    )
    deviation_override_reason = models.TextField(_("reason for paying over the quote"), blank=True)
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    dispute_reason = models.TextField(_("reason for dispute"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    approval_fingerprint = models.CharField(_("approval fingerprint"), max_length=64, blank=True)
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)
    updated_at = models.DateTimeField(_("updated"), db_default=Now(), editable=False)

    class Meta:
        ordering = ["due_date", "id"]
        verbose_name = _("supplier invoice")
        verbose_name_plural = _("supplier invoices")
        indexes = [models.Index(fields=["company", "status", "due_date"], name="supplierinv_company_status_due")]
        constraints = [
            models.UniqueConstraint(fields=["supplier", "supplier_number"], name="supplierinv_number_per_supplier"),
            models.CheckConstraint(
                condition=Q(
                    status__in=["draft", "to_approve", "approved", "scheduled", "paid", "rejected", "disputed"]
                ),
                name="supplierinv_status_known",
            ),
            models.CheckConstraint(condition=Q(reference_type__in=["QRR", "SCOR", "NON"]), name="supplierinv_ref_type"),
            models.CheckConstraint(condition=Q(currency__in=Currency.values), name="supplierinv_currency_known"),
            models.CheckConstraint(
                condition=Q(net_total__gte=0) & Q(vat_total__gte=0) & Q(gross_total=F("net_total") + F("vat_total")),
                name="supplierinv_totals_add_up",
            ),
            models.CheckConstraint(condition=Q(due_date__gte=F("invoice_date")), name="supplierinv_due_after_date"),
            # Four eyes, also for writes that bypass Django: approved means approved by someone else.
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "scheduled", "paid"])
                | (Q(approved_by__isnull=False) & Q(approved_at__isnull=False) & ~Q(approved_by=F("created_by"))),
                name="supplierinv_approved_by_another",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(rejection_reason=""), name="supplierinv_rejection_has_reason"
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_on__isnull=False), name="supplierinv_paid_dated"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.supplier.name} {self.supplier_number}"

    def get_absolute_url(self) -> str:
        return reverse("finance:supplier-invoice-detail", kwargs={"pk": self.pk})

    @property
    def creditor_iban_display(self) -> str:
        return identifiers.format_iban(self.creditor_iban)


class SupplierInvoiceLine(ChecksInOneQuery):
    """One VAT line of a supplier invoice: a net amount at one rate, as the supplier printed it."""

    invoice = models.ForeignKey(SupplierInvoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(_("position"))
    description = models.CharField(_("description"), max_length=200, blank=True)
    net_amount = models.DecimalField(_("net"), max_digits=12, decimal_places=2)
    vat_code = models.CharField(_("VAT"), max_length=16, choices=VatCode.choices, default=VatCode.STANDARD)
    vat_rate = models.DecimalField(_("VAT rate (%)"), max_digits=5, decimal_places=2)
    vat_amount = models.DecimalField(_("VAT amount"), max_digits=12, decimal_places=2)
    input_vat_recoverable = models.BooleanField(_("input VAT recoverable"), default=True, db_default=True)
    # Input tax on investments and other operating costs goes to box 405 of the VAT return, the rest to 400.
    is_investment = models.BooleanField(_("investment or operating cost"), default=False, db_default=False)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("supplier invoice line")
        verbose_name_plural = _("supplier invoice lines")
        constraints = [
            models.CheckConstraint(condition=Q(net_amount__gte=0) & Q(vat_amount__gte=0), name="supplierline_positive"),
            models.CheckConstraint(condition=Q(vat_code__in=VatCode.values), name="supplierline_vat_code_known"),
            models.CheckConstraint(
                condition=Q(vat_rate__gte=0) & Q(vat_rate__lt=100), name="supplierline_vat_rate_percent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.net_amount} @ {self.vat_rate} %"
