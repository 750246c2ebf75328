"""Bank accounts and their transactions (from Revolut), how incoming ones match invoices, supplier payouts."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from hypervisual.constraints import ChecksInOneQuery

# How far along Revolut's life cycle a state is. Events can arrive out of order (a retried
# "created" after "completed"): a state never moves back to an earlier one.
STATE_PROGRESS = {
    "initiated": 0, "created": 1, "pending": 2, "completed": 3, "declined": 3, "failed": 3, "reverted": 4,
}  # fmt: skip


def state_moves_forward(current: str, new: str) -> bool:
    return STATE_PROGRESS.get(new, 0) > STATE_PROGRESS.get(current, 0)


class BankAccount(models.Model):
    """An account at the bank, one per currency at Revolut; its balance as the last sync read it."""

    company = models.ForeignKey("finance.Company", on_delete=models.PROTECT, related_name="bank_accounts")
    # The Revolut connection the account is read through; none for an account known from camt statements.
    connection = models.ForeignKey(
        "integrations.Connection", on_delete=models.PROTECT, null=True, blank=True, related_name="bank_accounts"
    )
    iban = models.CharField(_("IBAN"), max_length=34, blank=True, default="", db_default="")
    provider_account_id = models.CharField(_("bank's account id"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=120)
    currency = models.CharField(_("currency"), max_length=3)
    balance = models.DecimalField(_("balance"), max_digits=14, decimal_places=2)
    is_active = models.BooleanField(_("active"), default=True, db_default=True)
    # The account supplier payouts in its currency are paid from, when the company has several.
    is_payout_source = models.BooleanField(_("pays suppliers"), default=False, db_default=False)
    balance_updated_at = models.DateTimeField(_("balance as of"))
    synced_at = models.DateTimeField(_("synced"), db_default=Now())

    class Meta:
        ordering = ["company__code", "currency", "name"]
        verbose_name = _("bank account")
        verbose_name_plural = _("bank accounts")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "currency"],
                condition=Q(is_payout_source=True),
                name="bank_account_one_payout_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"


class FxRate(models.Model):
    """A currency's value in CHF on a day, as the bank quoted it; the group total shows which one it used."""

    currency = models.CharField(_("currency"), max_length=3)
    quote_currency = models.CharField(_("in"), max_length=3, default="CHF", db_default="CHF")
    rate = models.DecimalField(_("rate"), max_digits=18, decimal_places=8)
    rate_date = models.DateField(_("date"))
    source = models.CharField(_("source"), max_length=40)
    fetched_at = models.DateTimeField(_("fetched"), db_default=Now())

    class Meta:
        ordering = ["-rate_date", "currency"]
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        constraints = [
            models.UniqueConstraint(
                fields=["currency", "quote_currency", "rate_date", "source"], name="fx_rate_unique"
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="fx_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate} {self.quote_currency} ({self.rate_date})"


class BankTransaction(ChecksInOneQuery):
    """One movement on one of the company's bank accounts (our leg of a Revolut transaction)."""

    class State(models.TextChoices):
        CREATED = "created", _("Created")
        PENDING = "pending", _("Pending")
        COMPLETED = "completed", _("Completed")
        DECLINED = "declined", _("Declined")
        FAILED = "failed", _("Failed")
        REVERTED = "reverted", _("Reverted")

    class Match(models.TextChoices):
        NOT_APPLICABLE = "n/a", _("Not to match")
        UNMATCHED = "unmatched", _("Unmatched")
        SUGGESTED = "suggested", _("Suggestions")
        MATCHED = "matched", _("Matched")
        IGNORED = "ignored", _("Ignored")

    company = models.ForeignKey("finance.Company", on_delete=models.PROTECT, related_name="bank_transactions")
    account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="transactions")
    provider_id = models.CharField(_("bank's transaction id"), max_length=64, unique=True)
    type = models.CharField(_("type"), max_length=24)
    state = models.CharField(_("state"), max_length=16, choices=State.choices)
    request_id = models.CharField(_("request id"), max_length=64, blank=True, default="")
    reference = models.CharField(_("reference"), max_length=200, blank=True, default="")
    # Signed: money in is positive, money out negative.
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    counterparty_name = models.CharField(_("counterparty"), max_length=200, blank=True, default="")
    created_on_bank = models.DateTimeField(_("created at the bank"))
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    raw = models.JSONField(_("as the bank sent it"), default=dict)
    match_status = models.CharField(_("matching"), max_length=16, choices=Match.choices, default=Match.NOT_APPLICABLE)
    payment = models.OneToOneField(
        "finance.Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="bank_transaction"
    )
    matched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    matched_at = models.DateTimeField(_("matched"), null=True, blank=True)
    received_at = models.DateTimeField(_("received by the Hub"), db_default=Now(), editable=False)
    updated_at = models.DateTimeField(_("updated"), db_default=Now())

    class Meta:
        ordering = ["-created_on_bank", "-id"]
        verbose_name = _("bank transaction")
        verbose_name_plural = _("bank transactions")
        indexes = [models.Index(fields=["company", "match_status", "created_on_bank"], name="banktx_company_match")]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["created", "pending", "completed", "declined", "failed", "reverted"]),
                name="bank_transaction_state_known",
            ),
            models.CheckConstraint(
                condition=~Q(match_status="matched") | Q(payment__isnull=False),
                name="bank_transaction_match_has_payment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} {self.reference}"

    def get_absolute_url(self) -> str:
        return reverse("finance:reconciliation") + f"#tx-{self.pk}"


class MatchSuggestion(models.Model):
    """An open invoice an incoming transaction may pay, with the score and the reasons behind it."""

    transaction = models.ForeignKey(BankTransaction, on_delete=models.CASCADE, related_name="suggestions")
    invoice = models.ForeignKey("finance.Invoice", on_delete=models.CASCADE, related_name="match_suggestions")
    score = models.PositiveSmallIntegerField(_("score"))
    reasons = models.JSONField(_("reasons"), default=list)

    class Meta:
        ordering = ["-score", "invoice_id"]
        verbose_name = _("match suggestion")
        verbose_name_plural = _("match suggestions")
        constraints = [
            models.UniqueConstraint(fields=["transaction", "invoice"], name="match_suggestion_unique"),
            models.CheckConstraint(condition=Q(score__lte=100), name="match_suggestion_score_range"),
        ]

    def __str__(self) -> str:
        return f"{self.transaction} → {self.invoice} ({self.score})"


class OutgoingPayment(ChecksInOneQuery):
    """A supplier invoice paid through Revolut `/pay`; `request_id` makes every retry the same payment."""

    class State(models.TextChoices):
        # Ours: stored, not yet acknowledged by the bank (a retry sends the same request id).
        INITIATED = "initiated", _("Sending to the bank")
        CREATED = "created", _("Created")
        PENDING = "pending", _("Pending")
        COMPLETED = "completed", _("Completed")
        DECLINED = "declined", _("Declined")
        FAILED = "failed", _("Failed")
        REVERTED = "reverted", _("Reverted")

    OPEN_STATES = (State.INITIATED, State.CREATED, State.PENDING)
    UNSUCCESSFUL_STATES = (State.DECLINED, State.FAILED, State.REVERTED)

    company = models.ForeignKey("finance.Company", on_delete=models.PROTECT, related_name="outgoing_payments")
    supplier_invoice = models.ForeignKey(
        "finance.SupplierInvoice", on_delete=models.PROTECT, related_name="outgoing_payments"
    )
    account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="outgoing_payments")
    request_id = models.CharField(_("request id"), max_length=40, unique=True)
    counterparty_id = models.CharField(_("counterparty"), max_length=64)
    counterparty_account_id = models.CharField(_("counterparty account"), max_length=64)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    reference = models.CharField(_("reference"), max_length=140)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.INITIATED)
    provider_transaction_id = models.CharField(_("bank's transaction id"), max_length=64, blank=True, default="")
    reason = models.CharField(_("reason"), max_length=300, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)
    updated_at = models.DateTimeField(_("updated"), db_default=Now())
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("outgoing payment")
        verbose_name_plural = _("outgoing payments")
        constraints = [
            # One payout at a time per invoice, and never a second one after it was paid.
            models.UniqueConstraint(
                fields=["supplier_invoice"],
                condition=Q(state__in=["initiated", "created", "pending", "completed"]),
                name="outgoing_payment_one_live_per_invoice",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="outgoing_payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(
                    state__in=["initiated", "created", "pending", "completed", "declined", "failed", "reverted"]
                ),
                name="outgoing_payment_state_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} → {self.reference} ({self.state})"

    def get_absolute_url(self) -> str:
        return self.supplier_invoice.get_absolute_url()
