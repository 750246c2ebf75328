"""Clients and their contacts: created and changed only here, every change logged."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models.functions import Now

from finance import events
from finance.models import Client, Company, Contact, DepositRule
from finance.services.audit import audit_record, field_changes

CLIENT_FIELDS = (
    "kind",
    "name",
    "street",
    "building_number",
    "postal_code",
    "town",
    "country",
    "che_uid",
    "email",
    "language",
    "payment_terms_days",
)
CONTACT_FIELDS = ("name", "email", "phone", "role")
DEPOSIT_RULE_FIELDS = ("project_type", "percent", "min_quote_total", "due_days")


@transaction.atomic
def client_create(*, company: Company, created_by: AbstractBaseUser | None, **fields: Any) -> Client:
    client = Client(company=company, **fields)
    client.full_clean()
    client.save()
    client.refresh_from_db()
    audit_record(
        actor=created_by, company=company, action="client.created", target=client, changes={"name": client.name}
    )
    return client


@transaction.atomic
def client_update(*, client: Client, updated_by: AbstractBaseUser, **fields: Any) -> Client:
    client = Client.objects.select_for_update().get(pk=client.pk)
    before = {name: getattr(client, name) for name in CLIENT_FIELDS}
    for name, value in fields.items():
        if name not in CLIENT_FIELDS:
            raise ValueError(f"{name} is not an editable client field")
        setattr(client, name, value)
    client.full_clean()
    changes = field_changes(before, {name: getattr(client, name) for name in CLIENT_FIELDS})
    if not changes:
        return client
    client.updated_at = Now()
    client.save()
    client.refresh_from_db()
    audit_record(actor=updated_by, company=client.company, action="client.updated", target=client, changes=changes)
    events.client_changed.send(sender=Client, client=client, actor=updated_by)
    return client


@transaction.atomic
def contact_create(*, client: Client, created_by: AbstractBaseUser | None, **fields: Any) -> Contact:
    contact = Contact(client=client, **fields)
    contact.full_clean()
    contact.save()
    audit_record(
        actor=created_by, company=client.company, action="contact.created", target=contact,
        changes={"client": client.name, "name": contact.name},
    )  # fmt: skip
    events.client_changed.send(sender=Client, client=client, actor=created_by)
    return contact


@transaction.atomic
def contact_update(*, contact: Contact, updated_by: AbstractBaseUser, **fields: Any) -> Contact:
    contact = Contact.objects.select_for_update().select_related("client__company").get(pk=contact.pk)
    before = {name: getattr(contact, name) for name in CONTACT_FIELDS}
    for name, value in fields.items():
        if name not in CONTACT_FIELDS:
            raise ValueError(f"{name} is not an editable contact field")
        setattr(contact, name, value)
    contact.full_clean()
    changes = field_changes(before, {name: getattr(contact, name) for name in CONTACT_FIELDS})
    if changes:
        contact.save()
        audit_record(
            actor=updated_by, company=contact.client.company, action="contact.updated", target=contact,
            changes=changes,
        )  # fmt: skip
        events.client_changed.send(sender=Client, client=contact.client, actor=updated_by)
    return contact


@transaction.atomic
def deposit_rule_save(
    *, company: Company, saved_by: AbstractBaseUser | None, rule: DepositRule | None = None, **fields: Any
) -> DepositRule:
    """Create a company's deposit rule, or change one; quotes already sent keep the percentage they had."""
    rule = DepositRule(company=company) if rule is None else DepositRule.objects.select_for_update().get(pk=rule.pk)
    before = {name: getattr(rule, name) for name in DEPOSIT_RULE_FIELDS}
    for name, value in fields.items():
        if name not in DEPOSIT_RULE_FIELDS:
            raise ValueError(f"{name} is not a deposit rule field")
        setattr(rule, name, value)
    rule.full_clean()
    rule.save()
    audit_record(
        actor=saved_by, company=company, action="deposit_rule.saved", target=rule,
        changes=field_changes(before, {name: getattr(rule, name) for name in DEPOSIT_RULE_FIELDS}),
    )  # fmt: skip
    return rule


@transaction.atomic
def deposit_rule_delete(*, rule: DepositRule, deleted_by: AbstractBaseUser) -> None:
    audit_record(
        actor=deleted_by, company=rule.company, action="deposit_rule.deleted", target=rule,
        changes={"project_type": rule.project_type, "percent": str(rule.percent)},
    )  # fmt: skip
    rule.delete()
