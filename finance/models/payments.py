from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from hypervisual.constraints import ChecksInOneQuery


class Payment(ChecksInOneQuery):
    """Money received from a client; allocations say which invoices it settles, the rest is credit."""

    class Method(models.TextChoices):
        BANK_TRANSFER = "bank_transfer", _("Bank transfer")
        CARD = "card", _("Card")
        CASH = "cash", _("Cash")
        OTHER = "other", _("Other")

    company = models.ForeignKey("finance.Company", on_delete=models.PROTECT, related_name="payments")
    client = models.ForeignKey("finance.Client", on_delete=models.PROTECT, related_name="payments")
    received_on = models.DateField(_("received on"))
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CHF", db_default="CHF")
    method = models.CharField(_("method"), max_length=16, choices=Method.choices, default=Method.BANK_TRANSFER)
    reference = models.CharField(_("reference"), max_length=140, blank=True)
    # The same payment at Invoice Ninja, whichever side recorded it first: at most one Hub payment per id.
    invoice_ninja_id = models.CharField(_("Invoice Ninja id"), max_length=40, blank=True, default="", db_default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("recorded"), db_default=Now(), editable=False)
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-received_on", "-id"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.UniqueConstraint(
                fields=["company", "invoice_ninja_id"],
                condition=~Q(invoice_ninja_id=""),
                name="payment_invoice_ninja_once",
            ),
            models.CheckConstraint(condition=Q(currency__in=["CHF", "EUR"]), name="payment_currency_known"),
            models.CheckConstraint(
                condition=Q(undone_at__isnull=True, undone_by__isnull=True)
                | Q(undone_at__isnull=False, undone_by__isnull=False),
                name="payment_undo_has_author",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} {self.received_on:%d.%m.%Y}"

    def get_absolute_url(self) -> str:
        return self.client.get_absolute_url()


class PaymentAllocation(models.Model):
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="allocations")
    invoice = models.ForeignKey("finance.Invoice", on_delete=models.PROTECT, related_name="allocations")
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("payment allocation")
        verbose_name_plural = _("payment allocations")
        constraints = [
            models.UniqueConstraint(fields=["payment", "invoice"], name="allocation_one_per_payment_and_invoice"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} → {self.invoice}"
