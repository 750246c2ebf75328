from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from hypervisual.constraints import ChecksInOneQuery


class VatCode(models.TextChoices):
    STANDARD = "standard", _("Standard rate")
    REDUCED = "reduced", _("Reduced rate")
    ACCOMMODATION = "accommodation", _("Accommodation rate")
    EXEMPT = "exempt", _("Exempt")


class VatRate(ChecksInOneQuery):
    """A Swiss VAT rate in force from `valid_from` up to and including `valid_to` (open-ended if null)."""

    code = models.CharField(_("VAT code"), max_length=16, choices=VatCode.choices)
    rate = models.DecimalField(_("rate (%)"), max_digits=5, decimal_places=2)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)

    class Meta:
        ordering = ["code", "-valid_from"]
        verbose_name = _("VAT rate")
        verbose_name_plural = _("VAT rates")
        constraints = [
            models.UniqueConstraint(fields=["code", "valid_from"], name="vatrate_one_per_code_and_start"),
            models.CheckConstraint(condition=Q(rate__gte=0) & Q(rate__lt=100), name="vatrate_rate_percent"),
            models.CheckConstraint(condition=Q(code__in=VatCode.values), name="vatrate_code_known"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")), name="vatrate_period_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_code_display()} {self.rate} % ({self.valid_from:%d.%m.%Y})"


class VatReturn(models.Model):
    """A company's VAT return for one period, once its figures are marked filed with the ESTV.

    The figures are kept as filed; documents dated in a filed period can no longer be issued.
    """

    company = models.ForeignKey("finance.Company", on_delete=models.PROTECT, related_name="vat_returns")
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))
    method = models.CharField(_("method"), max_length=16)
    basis = models.CharField(_("basis"), max_length=8)
    # {code: {"label", "amount", "tax"}} as computed when filed, amounts as strings.
    figures = models.JSONField(_("figures"), default=dict, db_default={})
    payable = models.DecimalField(_("tax payable (credit if negative)"), max_digits=14, decimal_places=2)
    filed_at = models.DateTimeField(_("filed"), db_default=Now(), editable=False)
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["company", "-period_start"]
        verbose_name = _("VAT return")
        verbose_name_plural = _("VAT returns")
        constraints = [
            models.UniqueConstraint(fields=["company", "period_start"], name="vatreturn_one_per_period"),
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="vatreturn_period_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.company_id} {self.period_start}–{self.period_end}"


class AccountMap(models.Model):
    """Which account of the company's chart each booking of the accountant's journal uses.

    Seeded with the Swiss SME chart of accounts (Käfer), which most Swiss fiduciaries use.
    """

    company = models.OneToOneField("finance.Company", on_delete=models.CASCADE, related_name="account_map")
    bank = models.CharField(_("bank"), max_length=10, default="1020", db_default="1020")
    debtors = models.CharField(_("debtors"), max_length=10, default="1100", db_default="1100")
    input_vat_material = models.CharField(_("input VAT on material and services"), max_length=10, default="1170",
                                          db_default="1170")  # fmt: skip
    input_vat_investments = models.CharField(_("input VAT on investments"), max_length=10, default="1171",
                                             db_default="1171")  # fmt: skip
    creditors = models.CharField(_("creditors"), max_length=10, default="2000", db_default="2000")
    vat_owed = models.CharField(_("VAT owed"), max_length=10, default="2200", db_default="2200")
    sales = models.CharField(_("sales of services"), max_length=10, default="3200", db_default="3200")
    purchases = models.CharField(_("purchases of material and services"), max_length=10, default="4000",
                                 db_default="4000")  # fmt: skip

    class Meta:
        verbose_name = _("account map")
        verbose_name_plural = _("account maps")
        constraints = [
            models.CheckConstraint(
                condition=Q(bank__regex=r"^\d{4,10}$") & Q(debtors__regex=r"^\d{4,10}$")
                & Q(input_vat_material__regex=r"^\d{4,10}$") & Q(input_vat_investments__regex=r"^\d{4,10}$")
                & Q(creditors__regex=r"^\d{4,10}$") & Q(vat_owed__regex=r"^\d{4,10}$")
                & Q(sales__regex=r"^\d{4,10}$") & Q(purchases__regex=r"^\d{4,10}$"),
                name="accountmap_numbers",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.company_id} accounts"
