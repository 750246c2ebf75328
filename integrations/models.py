"""What the Hub keeps about its providers: connections, inbound webhooks, outbound action runs, sync cursors."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from urllib.parse import quote

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from hypervisual.constraints import ChecksInOneQuery
from integrations import secrets


class Provider(models.TextChoices):
    REVOLUT = "revolut", "Revolut Business"
    INVOICE_NINJA = "invoice_ninja", "Invoice Ninja"
    MAUTIC = "mautic", "Mautic"
    DOCUSEAL = "docuseal", "DocuSeal"
    DIRECTUS = "directus", "Directus"
    OPENAI = "openai", "OpenAI"
    ERPNEXT = "erpnext", "ERPNext"
    # The group's websites post their contact forms (leads) to the Hub, signed with the company's secret.
    WEB_FORM = "web_form", _("Website form")


# How the Hub signs in to a Mautic instance (a Mautic user, or an OAuth2 API client).
MAUTIC_AUTH_BASIC = "basic"
MAUTIC_AUTH_OAUTH2 = "oauth2"


class Connection(models.Model):
    """One company's link to one provider: where it is, how to authenticate, and how it last answered."""

    company = models.ForeignKey("finance.Company", on_delete=models.PROTECT, related_name="connections")
    provider = models.CharField(_("provider"), max_length=24, choices=Provider.choices)
    base_url = models.URLField(_("API base URL"), max_length=300)
    # Non-secret settings (client id, webhook id, …); secrets live encrypted in `secrets_encrypted`.
    config = models.JSONField(_("configuration"), default=dict, db_default={}, blank=True)
    secrets_encrypted = models.TextField(_("encrypted secrets"), blank=True, default="", db_default="")
    # Provider consent (Revolut OAuth): when the current grant must be renewed, if the provider says.
    consent_granted_at = models.DateTimeField(_("consent granted"), null=True, blank=True)
    consent_expires_at = models.DateTimeField(_("consent expires"), null=True, blank=True)
    consent_required = models.BooleanField(_("consent must be renewed"), default=False, db_default=False)
    last_probe_at = models.DateTimeField(_("last test"), null=True, blank=True)
    last_probe_ok = models.BooleanField(_("last test succeeded"), null=True, blank=True)
    last_probe_detail = models.CharField(_("last test result"), max_length=300, blank=True, default="")
    last_success_at = models.DateTimeField(_("last successful call"), null=True, blank=True)
    last_failure_at = models.DateTimeField(_("last failed call"), null=True, blank=True)
    last_failure_detail = models.CharField(_("last failure"), max_length=300, blank=True, default="")
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)
    updated_at = models.DateTimeField(_("updated"), db_default=Now(), editable=False)

    class Meta:
        ordering = ["company__code", "provider"]
        verbose_name = _("connection")
        verbose_name_plural = _("connections")
        constraints = [
            models.UniqueConstraint(fields=["company", "provider"], name="connection_one_per_company_and_provider"),
            models.CheckConstraint(
                condition=Q(provider__in=[value for value, _label in Provider.choices]),
                name="connection_provider_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company.code} · {self.get_provider_display()}"

    def get_absolute_url(self) -> str:
        return reverse("integrations:connection", kwargs={"provider": self.provider, "company_code": self.company.code})

    def secrets(self) -> dict[str, str]:
        return json.loads(secrets.decrypt(self.secrets_encrypted)) if self.secrets_encrypted else {}

    def secret(self, name: str) -> str:
        return self.secrets().get(name, "")

    def set_secrets(self, **values: str | None) -> None:
        """Merge secrets in (None removes one); the caller saves."""
        current = self.secrets()
        for name, value in values.items():
            if value is None:
                current.pop(name, None)
            else:
                current[name] = value
        self.secrets_encrypted = secrets.encrypt(json.dumps(current, sort_keys=True)) if current else ""

    def document_url(self, doctype: str, name: str) -> str:
        """Where the provider's own app shows a document; ERPNext's desk: /app/<doctype as a slug>/<name>."""
        return f"{self.base_url}/app/{doctype.lower().replace(' ', '-')}/{quote(name, safe='')}"

    def secret_hint(self, name: str) -> str:
        """A secret as the page may show it: its first and last characters only."""
        return secrets.hint(self.secret(name))

    @property
    def is_usable(self) -> bool:
        """Whether the settings are complete enough for the Hub to call the provider with them."""
        if self.provider == Provider.MAUTIC:
            return bool(self.secret("client_secret" if self.config.get("auth_method") == MAUTIC_AUTH_OAUTH2
                                    else "password"))  # fmt: skip
        if self.provider == Provider.DOCUSEAL:
            return bool(self.secret("api_key") and self.config.get("template_id") and self.config.get("cgv_path"))
        if self.provider == Provider.INVOICE_NINJA:
            return bool(self.secret("api_token"))
        if self.provider == Provider.OPENAI:
            return bool(self.secret("api_key"))
        if self.provider == Provider.WEB_FORM:
            return bool(self.secret("signing_secret"))
        if self.provider == Provider.ERPNEXT:
            return bool(self.secret("api_key") and self.secret("api_secret") and self.config.get("erpnext_company"))
        return bool(self.secrets_encrypted)


class WebhookDelivery(ChecksInOneQuery):
    """One request a provider posted to the Hub, kept whether it was accepted or refused."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed")
        REJECTED = "rejected", _("Rejected")

    provider = models.CharField(_("provider"), max_length=24, choices=Provider.choices)
    company = models.ForeignKey(
        "finance.Company", on_delete=models.PROTECT, null=True, blank=True, related_name="webhook_deliveries"
    )
    # What makes a delivery the same event again (the provider's event id, or what stands for it).
    event_key = models.CharField(_("event key"), max_length=200, null=True, blank=True)
    event_type = models.CharField(_("event"), max_length=80, blank=True, default="")
    headers = models.JSONField(_("headers"), default=dict, db_default={})
    body = models.TextField(_("body"), blank=True, default="")
    verified = models.BooleanField(_("signature valid"), default=False, db_default=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(_("error"), blank=True, default="", db_default="")
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0, db_default=0)
    duplicates = models.PositiveIntegerField(_("duplicates received"), default=0, db_default=0)
    received_at = models.DateTimeField(_("received"), db_default=Now(), editable=False)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            models.Index(fields=["status", "received_at"], name="webhook_status_received"),
            # The refused requests of a provider and company in the last hour (the cap of `delivery_reject`).
            models.Index(
                fields=["provider", "company", "-received_at"],
                condition=Q(status="rejected"),
                name="webhook_refused_recent",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_key"], condition=Q(event_key__isnull=False), name="webhook_event_once"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["received", "processed", "failed", "rejected"]), name="webhook_status_known"
            ),
            models.CheckConstraint(
                condition=Q(verified=True) | Q(status="rejected"), name="webhook_unverified_rejected"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.event_type} #{self.pk}"


class ActionRun(ChecksInOneQuery):
    """One contextual action the Hub performs at a provider, run by Celery and shown to the user."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    FINAL_STATUSES = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    action = models.CharField(_("action"), max_length=60)
    company = models.ForeignKey("finance.Company", on_delete=models.PROTECT, related_name="action_runs")
    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    target_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("target_type", "target_id")
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0, db_default=0)
    last_error = models.TextField(_("last error"), blank=True, default="", db_default="")
    result = models.JSONField(_("result"), default=dict, db_default={}, blank=True)
    # The Celery worker (node name) executing it: a worker that restarts resumes the runs it lost.
    worker = models.CharField(_("worker"), max_length=200, blank=True, default="", db_default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("action run")
        verbose_name_plural = _("action runs")
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="actionrun_target"),
            models.Index(fields=["status", "created_at"], name="actionrun_status_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "succeeded", "failed", "cancelled"]),
                name="actionrun_status_known",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running"]) | Q(finished_at__isnull=False),
                name="actionrun_final_has_finish",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} #{self.pk} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES


class SyncCursor(models.Model):
    """How far a periodic sync has read a provider's data, so the next run starts there."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="cursors")
    name = models.CharField(_("name"), max_length=60)
    value = models.CharField(_("value"), max_length=200, blank=True, default="")
    updated_at = models.DateTimeField(_("updated"), db_default=Now())

    class Meta:
        verbose_name = _("sync cursor")
        verbose_name_plural = _("sync cursors")
        constraints = [models.UniqueConstraint(fields=["connection", "name"], name="sync_cursor_unique")]

    def __str__(self) -> str:
        return f"{self.connection} {self.name}={self.value}"


class SyncDrift(models.Model):
    """A difference between the Hub and a provider that a sync found and could not repair on its own.

    Open drifts are urgent: the dashboard lists them until a later sync finds both sides equal again.
    """

    company = models.ForeignKey("finance.Company", on_delete=models.PROTECT, related_name="sync_drifts")
    provider = models.CharField(_("provider"), max_length=24, choices=Provider.choices)
    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    target_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("target_type", "target_id")
    kind = models.CharField(_("kind"), max_length=40)
    detail = models.CharField(_("detail"), max_length=300)
    detected_at = models.DateTimeField(_("detected"), db_default=Now(), editable=False)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        verbose_name = _("sync difference")
        verbose_name_plural = _("sync differences")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "target_type", "target_id", "kind"],
                condition=Q(resolved_at__isnull=True),
                name="sync_drift_open_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.kind}: {self.detail}"


class DecimalDecoder(json.JSONDecoder):
    """Numbers with a fraction read as Decimal: amounts keep their exact digits and scale ("1.000", not 1.0)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, parse_float=Decimal, **kwargs)


class OutsideEdit(models.Model):
    """A write to a shared table by another writer than the Hub (Directus, psql), noted by PostgreSQL itself.

    A trigger on each shared table appends one row per written row whenever the connection is not the
    Hub's (`application_name`, settings.DATABASE_APPLICATION_NAME). The Hub processes it when Directus'
    event arrives, or, if the event was lost, when the safety-net job finds it still pending.
    """

    class Operation(models.TextChoices):
        INSERT = "INSERT", _("Created")
        UPDATE = "UPDATE", _("Changed")
        DELETE = "DELETE", _("Deleted")

    table_name = models.CharField(_("table"), max_length=63)
    row_id = models.CharField(_("row"), max_length=64)
    operation = models.CharField(_("operation"), max_length=6, choices=Operation.choices)
    # UPDATE: {column: [before, after]} of the columns that changed; INSERT: the new row; DELETE: the old row.
    changes = models.JSONField(_("changes"), default=dict, db_default={}, decoder=DecimalDecoder)
    database_user = models.CharField(_("database user"), max_length=63)
    application_name = models.CharField(_("application"), max_length=64, blank=True)
    changed_at = models.DateTimeField(_("changed"), db_default=Now(), editable=False)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    # The Directus event that covered it; empty when the safety net processed it.
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="outside_edits"
    )

    class Meta:
        ordering = ["changed_at", "id"]
        verbose_name = _("edit outside the Hub")
        verbose_name_plural = _("edits outside the Hub")
        indexes = [
            models.Index(fields=["table_name", "row_id"], name="outside_edit_row"),
            models.Index(fields=["changed_at"], condition=Q(processed_at__isnull=True), name="outside_edit_pending"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(operation__in=["INSERT", "UPDATE", "DELETE"]), name="outside_edit_op")
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.table_name}#{self.row_id}"


# --- ERPNext, read only: the last read of each company's stock, purchase orders, leave and suppliers -------


class ErpnextSnapshot(models.Model):
    """When a company's ERPNext data was last read in full, and how the last attempt went.

    A sync replaces every row of the company's snapshot tables in one transaction, or none: the pages
    always show one consistent read, with its age.
    """

    company = models.OneToOneField("finance.Company", on_delete=models.CASCADE, related_name="erpnext_snapshot")
    taken_at = models.DateTimeField(_("read at"), null=True, blank=True)
    attempted_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True, default="", db_default="")

    class Meta:
        verbose_name = _("ERPNext snapshot")
        verbose_name_plural = _("ERPNext snapshots")

    def __str__(self) -> str:
        return f"ERPNext {self.company_id} @ {self.taken_at}"

    @staticmethod
    def stale_after() -> dt.timedelta:
        """A snapshot older than its schedule (plus the minutes a sync itself takes) is stale."""
        return dt.timedelta(seconds=settings.HV_ERPNEXT_SYNC_SECONDS + settings.HV_ERPNEXT_SYNC_GRACE_SECONDS)


class ErpnextStockShortage(models.Model):
    """An item whose stock in a warehouse is at or below its reorder level ("stock critique")."""

    company = models.ForeignKey("finance.Company", on_delete=models.CASCADE, related_name="+")
    item_code = models.CharField(_("item"), max_length=140)
    item_name = models.CharField(_("item name"), max_length=200, blank=True, default="")
    warehouse = models.CharField(_("warehouse"), max_length=140)
    stock_uom = models.CharField(_("unit"), max_length=40, blank=True, default="")
    actual_qty = models.DecimalField(_("in stock"), max_digits=18, decimal_places=3)
    reorder_level = models.DecimalField(_("reorder level"), max_digits=18, decimal_places=3)
    reorder_qty = models.DecimalField(_("reorder quantity"), max_digits=18, decimal_places=3)
    # What the reorder quantity costs at the item's valuation rate, in the ERPNext company's currency.
    reorder_value = models.DecimalField(_("value to reorder"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)

    class Meta:
        ordering = ["company", "warehouse", "item_code"]
        verbose_name = _("critical stock")
        verbose_name_plural = _("critical stock")
        constraints = [
            models.UniqueConstraint(fields=["company", "item_code", "warehouse"], name="erpnext_shortage_once")
        ]

    def __str__(self) -> str:
        return f"{self.item_code} @ {self.warehouse}"


# ERPNext purchase orders still waiting for goods or a bill (submitted; neither completed, closed nor cancelled),
# and of those the ones waiting for goods: late once their expected date has passed.
OPEN_ORDER_STATUSES = ("To Receive and Bill", "To Receive", "To Bill")
AWAITING_GOODS_STATUSES = ("To Receive and Bill", "To Receive")


class ErpnextPurchaseOrder(models.Model):
    """A submitted purchase order still to be received or billed."""

    company = models.ForeignKey("finance.Company", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("number"), max_length=140)
    supplier_name = models.CharField(_("supplier"), max_length=200)
    transaction_date = models.DateField(_("ordered"))
    schedule_date = models.DateField(_("expected"), null=True, blank=True)
    grand_total = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=40)
    per_received = models.DecimalField(_("received %"), max_digits=6, decimal_places=2, default=0)

    class Meta:
        ordering = ["company", "schedule_date", "name"]
        verbose_name = _("ERPNext purchase order")
        verbose_name_plural = _("ERPNext purchase orders")
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="erpnext_po_once")]

    def __str__(self) -> str:
        return self.name

    def is_late(self, today: dt.date) -> bool:
        """Goods still awaited after the expected date."""
        return bool(self.schedule_date and self.schedule_date < today and self.status in AWAITING_GOODS_STATUSES)


def week_of(today: dt.date) -> tuple[dt.date, dt.date]:
    """Monday to Sunday of the week holding `today`."""
    monday = today - dt.timedelta(days=today.weekday())
    return monday, monday + dt.timedelta(days=6)


class ErpnextLeave(models.Model):
    """An approved leave application that covers part of this week."""

    company = models.ForeignKey("finance.Company", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("number"), max_length=140)
    employee_name = models.CharField(_("employee"), max_length=200)
    leave_type = models.CharField(_("leave type"), max_length=140)
    from_date = models.DateField(_("from"))
    to_date = models.DateField(_("to"))
    half_day = models.BooleanField(_("half day"), default=False)

    class Meta:
        ordering = ["company", "from_date", "employee_name"]
        verbose_name = _("ERPNext leave")
        verbose_name_plural = _("ERPNext leave")
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="erpnext_leave_once")]

    def __str__(self) -> str:
        return f"{self.employee_name} {self.from_date}–{self.to_date}"


class ErpnextSupplier(models.Model):
    """A supplier as ERPNext knows it, with what the Hub needs to match or create it (UID, IBAN, address)."""

    company = models.ForeignKey("finance.Company", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("ERPNext ID"), max_length=140)
    supplier_name = models.CharField(_("name"), max_length=200)
    tax_id = models.CharField(_("UID / tax ID"), max_length=40, blank=True, default="")
    iban = models.CharField(_("IBAN"), max_length=40, blank=True, default="")
    street = models.CharField(_("street"), max_length=140, blank=True, default="")
    postal_code = models.CharField(_("postal code"), max_length=16, blank=True, default="")
    town = models.CharField(_("town"), max_length=140, blank=True, default="")
    country = models.CharField(_("country"), max_length=2, blank=True, default="")
    currency = models.CharField(_("currency"), max_length=3, blank=True, default="")

    class Meta:
        ordering = ["company", "supplier_name"]
        verbose_name = _("ERPNext supplier")
        verbose_name_plural = _("ERPNext suppliers")
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="erpnext_supplier_once")]

    def __str__(self) -> str:
        return self.supplier_name
