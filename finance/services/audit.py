from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Model

from finance.models import AuditEvent, Company
from hypervisual.bulk import values_insert

# The username of the account the Hub's own automatic writes are recorded by (see `system_user`).
SYSTEM_USERNAME = "system"


def audit_record(
    *, actor: AbstractBaseUser | None, company: Company | None, action: str, target: Model, changes: dict | None = None
) -> AuditEvent:
    """Append one event to the audit log."""
    event = AuditEvent(**audit_row(actor=actor, company=company, action=action, target=target, changes=changes))
    event.save()
    return event


def audit_row(
    *, actor: AbstractBaseUser | None, company: Company | None, action: str, target: Model, changes: dict | None = None,
) -> dict:  # fmt: skip
    """An event's fields: `audit_record` saves one; a service writing many rows appends their events in one INSERT
    (`audit_records`), without a model instance per event."""
    return {
        "actor_id": actor.pk if actor else None, "company_id": company.pk if company else None, "action": action,
        "object_type": target._meta.label_lower, "object_id": str(target.pk), "changes": changes or {},
    }  # fmt: skip


def audit_records(rows: Iterable[dict]) -> None:
    """Append many events (from `audit_row`) in one INSERT, dated by the database as `audit_record` dates one."""
    values_insert(AuditEvent, list(rows))


def field_changes(before: dict, after: dict) -> dict:
    """The fields whose value differs, as {name: {"from": …, "to": …}} for the audit log."""
    return {name: {"from": str(before[name]), "to": str(after[name])} for name in before if before[name] != after[name]}


def system_user() -> AbstractBaseUser:
    """The account automatic payments are recorded by.

    A payment needs the user who recorded it (`Payment.created_by`), and no person recorded an automatic
    match. This account makes such payments recognisable in every list and log; it is inactive and has
    no usable password, so nobody can sign in with it.
    """
    user, created = get_user_model().objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"is_active": False, "first_name": "Hub", "last_name": "(automatic)"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user
