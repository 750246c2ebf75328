from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Model

from finance.models import AuditEvent, Company


def audit_record(
    *, actor: AbstractBaseUser | None, company: Company | None, action: str, target: Model, changes: dict | None = None
) -> AuditEvent:
    """Append one event to the audit log."""
    return AuditEvent.objects.create(
        actor=actor,
        company=company,
        action=action,
        object_type=target._meta.label_lower,
        object_id=str(target.pk),
        changes=changes or {},
    )


def field_changes(before: dict, after: dict) -> dict:
    """The fields whose value differs, as {name: {"from": …, "to": …}} for the audit log."""
    return {name: {"from": str(before[name]), "to": str(after[name])} for name in before if before[name] != after[name]}
