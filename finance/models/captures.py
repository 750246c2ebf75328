from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from finance.models.companies import Company
from finance.models.purchases import Supplier, SupplierInvoice
from hypervisual.constraints import ChecksInOneQuery


class SupplierInvoiceCapture(ChecksInOneQuery):
    """A supplier's document received by upload, read by the Hub (QR payment part, then OpenAI Vision) and
    waiting in "Documents reçus" until a person checks the proposed draft and saves it as a supplier invoice.

    `fields` holds what was read, per field: `{"value", "confidence" 0-1, "source" qr|ocr, "doubt"}` — a
    non-empty doubt is why the field is highlighted. `vat_lines` holds the VAT lines read, `checks` the
    cross-checks run before a person sees it.
    """

    class Status(models.TextChoices):
        READING = "reading", _("Being read")
        TO_CHECK = "to_check", _("To check")
        SAVED = "saved", _("Saved as supplier invoice")
        DISCARDED = "discarded", _("Discarded")

    class Kind(models.TextChoices):
        PDF = "pdf", "PDF"
        JPEG = "jpeg", "JPEG"
        PNG = "png", "PNG"
        HEIC = "heic", "HEIC"

    class SupplierMatch(models.TextChoices):
        UID = "uid", _("by UID")
        IBAN = "iban", _("by IBAN")
        NAME = "name", _("by name")
        NEW = "new", _("new supplier")
        NONE = "", _("not read")

    OPEN_STATUSES = (Status.READING, Status.TO_CHECK)

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="captures")
    document = models.FileField(_("document"), upload_to="supplier-invoices/captured/%Y/%m/")
    filename = models.CharField(_("file name"), max_length=200)
    kind = models.CharField(_("file type"), max_length=8, choices=Kind.choices)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    pages = models.PositiveSmallIntegerField(_("pages"), default=0, db_default=0)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.READING, db_default=Status.READING
    )
    fields = models.JSONField(_("fields read"), default=dict, db_default={}, blank=True)
    vat_lines = models.JSONField(_("VAT lines read"), default=list, db_default=[], blank=True)
    checks = models.JSONField(_("checks"), default=list, db_default=[], blank=True)
    qr_found = models.BooleanField(_("Swiss QR code found"), default=False, db_default=False)
    qr_problem = models.CharField(_("QR code problem"), max_length=300, blank=True, default="", db_default="")
    ocr_model = models.CharField(_("OCR model"), max_length=80, blank=True, default="", db_default="")
    ocr_prompt_version = models.CharField(_("OCR prompt version"), max_length=40, blank=True, default="", db_default="")
    # Why OpenAI did not read the rest (not configured, over quota, invalid answer…); empty when it did.
    ocr_problem = models.CharField(_("OCR problem"), max_length=500, blank=True, default="", db_default="")
    supplier = models.ForeignKey(
        Supplier, on_delete=models.PROTECT, null=True, blank=True, related_name="captures",
        verbose_name=_("supplier matched"),
    )  # fmt: skip
    supplier_match = models.CharField(
        _("supplier found"), max_length=8, choices=SupplierMatch.choices, blank=True, default="", db_default=""
    )
    supplier_invoice = models.OneToOneField(
        SupplierInvoice, on_delete=models.PROTECT, null=True, blank=True, related_name="capture"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    created_at = models.DateTimeField(_("received"), db_default=Now(), editable=False)
    updated_at = models.DateTimeField(_("updated"), db_default=Now(), editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("captured document")
        verbose_name_plural = _("captured documents")
        indexes = [models.Index(fields=["company", "status", "created_at"], name="capture_company_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["reading", "to_check", "saved", "discarded"]), name="capture_status_known"
            ),
            models.CheckConstraint(condition=Q(kind__in=["pdf", "jpeg", "png", "heic"]), name="capture_kind_known"),
            models.CheckConstraint(
                condition=Q(supplier_match__in=["uid", "iban", "name", "new", ""]), name="capture_match_known"
            ),
            models.CheckConstraint(condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="capture_sha256_hex"),
            models.CheckConstraint(
                condition=Q(size__gt=0) & Q(size__lte=15 * 1024 * 1024), name="capture_size_within_limit"
            ),
            # Saved means a supplier invoice exists for it, and only then.
            models.CheckConstraint(
                condition=Q(status="saved", supplier_invoice__isnull=False)
                | (~Q(status="saved") & Q(supplier_invoice__isnull=True)),
                name="capture_saved_has_invoice",
            ),
        ]

    def __str__(self) -> str:
        return self.filename

    def get_absolute_url(self) -> str:
        return reverse("finance:capture-detail", kwargs={"pk": self.pk})

    def doubtful(self) -> dict[str, str]:
        """The fields a person must look at, with why."""
        return {name: read["doubt"] for name, read in self.fields.items() if read.get("doubt")}

    def value(self, name: str) -> str:
        return (self.fields.get(name) or {}).get("value") or ""

    @property
    def total_read(self) -> Decimal | None:
        try:
            return Decimal(self.value("total")) if self.value("total") else None
        except InvalidOperation:
            return None
