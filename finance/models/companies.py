from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from finance import identifiers
from hypervisual.constraints import ChecksInOneQuery


class Currency(models.TextChoices):
    """The currencies a Swiss QR-bill can carry, and so those of the group's documents."""

    CHF = "CHF", "CHF"
    EUR = "EUR", "EUR"


class Company(ChecksInOneQuery):
    """One company of the group, with the identity printed on its documents and QR-bills."""

    class SignatureChannel(models.TextChoices):
        DOCUSEAL = "docuseal", "DocuSeal"
        INVOICE_NINJA = "invoice_ninja", _("Invoice Ninja client portal")

    class VatMethod(models.TextChoices):
        EFFECTIVE = "effective", _("Effective method")
        NET_RATE = "net_rate", _("Net tax rate method")

    class VatPeriod(models.TextChoices):
        QUARTER = "quarter", _("Quarterly")
        SEMESTER = "semester", _("Half-yearly")

    class VatBasis(models.TextChoices):
        AGREED = "agreed", _("Agreed consideration (invoices issued)")
        RECEIVED = "received", _("Received consideration (payments received)")

    code = models.CharField(_("code"), max_length=2, unique=True, help_text=_("Two capital letters, e.g. HV."))
    name = models.CharField(_("name"), max_length=80, help_text=_("Short name shown in the Hub."))
    legal_name = models.CharField(_("legal name"), max_length=140)
    che_uid = models.CharField(_("UID"), max_length=15, unique=True, help_text=_("CHE-123.456.789"))
    vat_number = models.CharField(
        _("VAT number"), max_length=20, blank=True, help_text=_("CHE-123.456.789 MWST, empty if not VAT-registered.")
    )
    street = models.CharField(_("street"), max_length=70)
    building_number = models.CharField(_("building number"), max_length=16, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=16)
    town = models.CharField(_("town"), max_length=35)
    country = models.CharField(_("country"), max_length=2, default="CH", db_default="CH")
    iban = models.CharField(_("IBAN"), max_length=34)
    qr_iban = models.CharField(_("QR-IBAN"), max_length=34, blank=True)
    currency = models.CharField(
        _("currency"), max_length=3, choices=Currency.choices, default=Currency.CHF, db_default=Currency.CHF
    )
    vat_method = models.CharField(
        _("VAT method"),
        max_length=16,
        choices=VatMethod.choices,
        default=VatMethod.EFFECTIVE,
        db_default=VatMethod.EFFECTIVE,
    )
    vat_period = models.CharField(
        _("VAT return period"), max_length=8, choices=VatPeriod.choices, default=VatPeriod.QUARTER,
        db_default=VatPeriod.QUARTER, help_text=_("The effective method files quarterly, the net tax rate method "
                                                  "half-yearly."),
    )  # fmt: skip
    vat_basis = models.CharField(
        _("VAT accounting basis"), max_length=8, choices=VatBasis.choices, default=VatBasis.AGREED,
        db_default=VatBasis.AGREED,
    )  # fmt: skip
    net_tax_rate_1 = models.DecimalField(
        _("net tax rate 1 (%)"), max_digits=4, decimal_places=2, null=True, blank=True,
        help_text=_("Net tax rate method: the rate the ESTV approved for the main activity."),
    )  # fmt: skip
    net_tax_rate_2 = models.DecimalField(
        _("net tax rate 2 (%)"), max_digits=4, decimal_places=2, null=True, blank=True,
        help_text=_("A second approved rate, for the project types chosen below."),
    )  # fmt: skip
    net_tax_rate_2_project_types = ArrayField(
        models.CharField(max_length=32), verbose_name=_("project types at net tax rate 2"), default=list,
        db_default=[], blank=True,
    )  # fmt: skip
    rounds_to_five_centimes = models.BooleanField(
        _("round totals to 0.05"), default=True, db_default=True, help_text=_("Payable totals rounded to 5 centimes.")
    )
    payment_terms_days = models.PositiveSmallIntegerField(_("payment terms (days)"), default=30, db_default=30)
    ceo_approval_threshold = models.DecimalField(
        _("CEO approval from"), max_digits=12, decimal_places=2, default=Decimal("5000.00"),
        db_default=Decimal("5000.00"),
        help_text=_("Supplier invoices with a total above this amount must be approved by the CEO."),
    )  # fmt: skip
    payment_match_threshold = models.PositiveSmallIntegerField(
        _("automatic payment matching from (score)"), default=85, db_default=85,
        help_text=_("An incoming bank transfer scoring at least this much (0–100) against one invoice is "
                    "recorded as its payment without a person confirming it."),
    )  # fmt: skip
    signature_channel = models.CharField(
        _("quotes are signed in"), max_length=16, choices=SignatureChannel.choices,
        default=SignatureChannel.DOCUSEAL, db_default=SignatureChannel.DOCUSEAL,
        help_text=_("A quote accepted in Invoice Ninja's client portal counts as signed only with Invoice Ninja here."),
    )  # fmt: skip
    deposit_auto_issue = models.BooleanField(
        _("issue deposit invoices automatically"), default=True, db_default=True,
        help_text=_("When a quote is signed, its deposit invoice (or its invoice, when no deposit is asked) is "
                    "created at once; with this on it is also issued and sent, otherwise it waits as a draft."),
    )  # fmt: skip
    colour = models.CharField(_("colour"), max_length=7, default="#206bc4", db_default="#206bc4")
    logo = models.FileField(_("logo"), upload_to="company-logos/", blank=True)
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)
    updated_at = models.DateTimeField(_("updated"), db_default=Now(), editable=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=r"^[A-Z]{2}$"), name="company_code_two_capitals"),
            models.CheckConstraint(condition=Q(che_uid__regex=r"^CHE-\d{3}\.\d{3}\.\d{3}$"), name="company_uid_format"),
            models.CheckConstraint(
                condition=Q(vat_number="") | Q(vat_number__regex=r"^CHE-\d{3}\.\d{3}\.\d{3} (MWST|TVA|IVA)$"),
                name="company_vat_number_format",
            ),
            models.CheckConstraint(
                condition=Q(iban__regex=r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$"), name="company_iban_compact"
            ),
            models.CheckConstraint(
                condition=Q(qr_iban="") | Q(qr_iban__regex=r"^(CH|LI)\d{2}3[01]\d{3}[A-Z0-9]{12}$"),
                name="company_qr_iban_range",
            ),
            models.CheckConstraint(condition=Q(currency__in=Currency.values), name="company_currency_known"),
            models.CheckConstraint(
                condition=Q(vat_period__in=["quarter", "semester"]), name="company_vat_period_known"
            ),
            models.CheckConstraint(condition=Q(vat_basis__in=["agreed", "received"]), name="company_vat_basis_known"),
            models.CheckConstraint(
                condition=~Q(vat_method="net_rate") | Q(net_tax_rate_1__gt=0), name="company_net_rate_has_rate"
            ),
            models.CheckConstraint(
                condition=Q(vat_method__in=["effective", "net_rate"]), name="company_vat_method_known"
            ),
            models.CheckConstraint(condition=Q(ceo_approval_threshold__gte=0), name="company_threshold_positive"),
            # From 30 (reconciliation.SUGGESTION_MIN_SCORE): matching reads only invoices that can score that much.
            models.CheckConstraint(
                condition=Q(payment_match_threshold__gte=30, payment_match_threshold__lte=100),
                name="company_match_threshold_range",
                violation_error_message=_("Automatic payment matching starts between 30 and 100 points."),
            ),
            models.CheckConstraint(condition=Q(colour__regex=r"^#[0-9a-fA-F]{6}$"), name="company_colour_hex"),
            models.CheckConstraint(condition=Q(country__regex=r"^[A-Z]{2}$"), name="company_country_iso"),
            models.CheckConstraint(
                condition=Q(signature_channel__in=["docuseal", "invoice_ninja"]), name="company_signature_channel_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("finance:company-detail", kwargs={"code": self.code})

    def clean(self) -> None:
        errors: dict[str, ValidationError] = {}
        self.code = self.code.strip().upper()
        for field, normalize in (
            ("che_uid", identifiers.normalize_che_uid),
            ("vat_number", identifiers.normalize_vat_number),
            ("iban", identifiers.normalize_account_iban),
            ("qr_iban", identifiers.normalize_qr_iban),
        ):
            value = getattr(self, field).strip()
            if not value:
                continue
            try:
                setattr(self, field, normalize(value))
            except ValidationError as error:
                errors[field] = error
        vat_number_checkable = self.vat_number and "che_uid" not in errors and "vat_number" not in errors
        if vat_number_checkable and self.vat_number.split(" ")[0] != self.che_uid:
            errors["vat_number"] = ValidationError(
                _("The VAT number must be the company's UID (%(uid)s) followed by MWST, TVA or IVA."),
                code="vat_number_uid_mismatch",
                params={"uid": self.che_uid},
            )
        if self.vat_method == self.VatMethod.NET_RATE and not self.net_tax_rate_1:
            errors["net_tax_rate_1"] = ValidationError(_("The net tax rate method needs the rate the ESTV approved."))
        if errors:
            raise ValidationError(errors)

    @property
    def iban_display(self) -> str:
        return identifiers.format_iban(self.iban)

    @property
    def qr_iban_display(self) -> str:
        return identifiers.format_iban(self.qr_iban)


class Role(models.TextChoices):
    CEO = "ceo", _("CEO")
    FINANCE = "finance", _("Finance")
    SALES = "sales", _("Sales")
    OPERATIONS = "operations", _("Operations")
    VIEWER = "viewer", _("Read-only")


class Membership(models.Model):
    """A user's role in one company. A CEO membership opens every company of the group."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("company")
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)

    class Meta:
        ordering = ["company__code", "user__username"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "company"], name="membership_one_per_user_and_company"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_known"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.company.code} · {self.get_role_display()}"
