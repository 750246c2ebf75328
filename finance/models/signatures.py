from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from finance.models.companies import Company
from finance.models.sales import Quote
from hypervisual.constraints import ChecksInOneQuery


class QuoteSignature(ChecksInOneQuery):
    """A quote sent for e-signature at DocuSeal: its progress, the signed files and the terms accepted."""

    class Status(models.TextChoices):
        SENT = "sent", _("Sent for signature")
        OPENED = "opened", _("Opened by the client")
        STARTED = "started", _("Signing started")
        COMPLETED = "completed", _("Signed")
        DECLINED = "declined", _("Declined")
        EXPIRED = "expired", _("Expired")

    # A signature in one of these states is over: another may be asked for the same quote.
    ENDED = (Status.DECLINED, Status.EXPIRED)
    FINAL = (Status.COMPLETED, Status.DECLINED, Status.EXPIRED)

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="quote_signatures")
    quote = models.ForeignKey(Quote, on_delete=models.PROTECT, related_name="signatures")
    submission_id = models.PositiveBigIntegerField(_("DocuSeal submission"))
    submitter_id = models.PositiveBigIntegerField(_("DocuSeal submitter"))
    external_id = models.CharField(_("key at DocuSeal"), max_length=100)
    slug = models.CharField(_("signing slug"), max_length=100, blank=True, default="", db_default="")
    signing_url = models.URLField(_("signing link"), max_length=500, blank=True, default="", db_default="")
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.SENT, db_default=Status.SENT
    )
    sent_at = models.DateTimeField(_("sent"), db_default=Now())
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    completed_at = models.DateTimeField(_("signed"), null=True, blank=True)
    declined_at = models.DateTimeField(_("declined"), null=True, blank=True)
    expired_at = models.DateTimeField(_("expired"), null=True, blank=True)
    decline_reason = models.CharField(_("reason for declining"), max_length=500, blank=True, default="", db_default="")
    reminders_sent = models.PositiveSmallIntegerField(_("reminders sent"), default=0, db_default=0)
    last_reminder_at = models.DateTimeField(_("last reminder"), null=True, blank=True)
    signed_pdf = models.FileField(_("signed PDF"), upload_to="signatures/%Y/", blank=True)
    audit_trail = models.FileField(_("audit trail"), upload_to="signatures/%Y/", blank=True)
    # The general terms sent with the quote; accepted when the signature completes.
    cgv_version = models.CharField(_("terms version"), max_length=60, blank=True, default="", db_default="")
    cgv_sha256 = models.CharField(_("terms SHA-256"), max_length=64, blank=True, default="", db_default="")
    cgv_accepted_at = models.DateTimeField(_("terms accepted"), null=True, blank=True)
    signer_name = models.CharField(_("signer"), max_length=200, blank=True, default="", db_default="")
    signer_email = models.EmailField(_("signer's e-mail"), blank=True, default="", db_default="")
    signer_ip = models.CharField(_("signer's IP address"), max_length=64, blank=True, default="", db_default="")
    signer_user_agent = models.CharField(_("signer's browser"), max_length=500, blank=True, default="", db_default="")
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("quote signature")
        verbose_name_plural = _("quote signatures")
        constraints = [
            models.UniqueConstraint(
                fields=["quote"], condition=~Q(status__in=["declined", "expired"]), name="quote_signature_one_live"
            ),
            models.UniqueConstraint(fields=["company", "submitter_id"], name="quote_signature_submitter_once"),
            models.CheckConstraint(
                condition=Q(status__in=["sent", "opened", "started", "completed", "declined", "expired"]),
                name="quote_signature_status_known",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(completed_at__isnull=False),
                name="quote_signature_completed_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="declined") | Q(declined_at__isnull=False),
                name="quote_signature_declined_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quote} · {self.get_status_display()}"

    @property
    def is_live(self) -> bool:
        return self.status not in self.ENDED
