from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from finance.models.companies import Role


class AuditEvent(models.Model):
    """An append-only record of who changed what; PostgreSQL refuses updates and deletes."""

    class Action(models.TextChoices):
        COMPANY_CREATED = "company.created", _("Company created")
        COMPANY_UPDATED = "company.updated", _("Identity changed")
        MEMBERSHIP_GRANTED = "membership.granted", _("Role granted")

    company = models.ForeignKey(
        "finance.Company", on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    # PROTECT: the log is append-only, so a referenced user is deactivated, never deleted.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    action = models.CharField(_("action"), max_length=64, choices=Action.choices)
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=64)
    changes = models.JSONField(_("changes"), default=dict, db_default={}, blank=True)
    created_at = models.DateTimeField(_("at"), db_default=Now(), editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [models.Index(fields=["company", "-created_at"], name="audit_company_recent")]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}#{self.object_id}"

    @property
    def detail(self) -> str:
        """One line saying what the event changed, for the history lists."""
        if self.action == self.Action.MEMBERSHIP_GRANTED:
            role = self.changes.get("role", "")
            return f"{self.changes.get('user', '')} · {Role(role).label if role in Role.values else role}"
        return ", ".join(self.changed_field_labels)

    @property
    def changed_field_labels(self) -> list[str]:
        """Names of the fields an update changed, as their model labels them."""
        if self.action != self.Action.COMPANY_UPDATED:
            return []
        model = apps.get_model(self.object_type)
        return [str(model._meta.get_field(name).verbose_name) for name in self.changes]
