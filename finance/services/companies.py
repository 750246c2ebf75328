from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Now
from django.utils.translation import gettext as _

from finance.models import AccountMap, AuditEvent, Company, Membership, Role
from finance.services.audit import audit_record, field_changes
from finance.services.dunning import dunning_policy_ensure

User = get_user_model()

# Identity fields a company form may change; `code` is fixed once documents carry it.
EDITABLE_FIELDS = (
    "name",
    "legal_name",
    "che_uid",
    "vat_number",
    "street",
    "building_number",
    "postal_code",
    "town",
    "country",
    "iban",
    "qr_iban",
    "currency",
    "vat_method",
    "vat_period",
    "vat_basis",
    "net_tax_rate_1",
    "net_tax_rate_2",
    "net_tax_rate_2_project_types",
    "rounds_to_five_centimes",
    "payment_terms_days",
    "ceo_approval_threshold",
    "deposit_auto_issue",
    "colour",
)


@transaction.atomic
def company_create(*, created_by: AbstractBaseUser | None, **fields: Any) -> Company:
    """Validate and create a company, and log its creation."""
    company = Company(**fields)
    company.full_clean()
    company.save()
    company.refresh_from_db()
    dunning_policy_ensure(company)
    audit_record(
        actor=created_by,
        company=company,
        action=AuditEvent.Action.COMPANY_CREATED,
        target=company,
        changes={name: str(getattr(company, name)) for name in EDITABLE_FIELDS},
    )
    return company


@transaction.atomic
def company_update(*, company: Company, updated_by: AbstractBaseUser, **fields: Any) -> Company:
    """Change a company's identity; every changed field is logged with its old and new value."""
    company = Company.objects.select_for_update().get(pk=company.pk)
    before = {name: getattr(company, name) for name in EDITABLE_FIELDS}
    for name, value in fields.items():
        if name not in EDITABLE_FIELDS:
            raise ValueError(f"{name} is not an editable company field")
        setattr(company, name, value)
    company.full_clean()
    changes = {
        name: {"from": str(before[name]), "to": str(getattr(company, name))}
        for name in EDITABLE_FIELDS
        if before[name] != getattr(company, name)
    }
    if not changes:
        return company
    company.updated_at = Now()
    company.save()
    company.refresh_from_db()
    audit_record(
        actor=updated_by, company=company, action=AuditEvent.Action.COMPANY_UPDATED, target=company, changes=changes
    )
    return company


@transaction.atomic
def membership_grant(
    *, user: AbstractBaseUser, company: Company, role: str, granted_by: AbstractBaseUser | None
) -> Membership:
    """Give a user a role in a company, replacing any role they had there."""
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role: %(role)s.") % {"role": role}})
    membership, _created = Membership.objects.update_or_create(user=user, company=company, defaults={"role": role})
    audit_record(
        actor=granted_by,
        company=company,
        action=AuditEvent.Action.MEMBERSHIP_GRANTED,
        target=membership,
        changes={"user": user.get_username(), "role": role},
    )
    return membership


def user_create(
    *, username: str, password: str, first_name: str = "", last_name: str = "", email: str = ""
) -> AbstractBaseUser:
    """Create an active user with a hashed password."""
    user = User(username=username, first_name=first_name, last_name=last_name, email=email)
    user.set_password(password)
    user.full_clean()
    user.save()
    return user


ACCOUNT_MAP_FIELDS = (
    "bank", "debtors", "input_vat_material", "input_vat_investments", "creditors", "vat_owed", "sales", "purchases",
)  # fmt: skip


@transaction.atomic
def account_map_save(*, company: Company, saved_by: AbstractBaseUser, **fields: Any) -> AccountMap:
    """The accounts the accountant's journal books to, for this company."""
    accounts = AccountMap.objects.select_for_update().filter(company=company).first() or AccountMap(company=company)
    before = {name: getattr(accounts, name) for name in ACCOUNT_MAP_FIELDS}
    for name, value in fields.items():
        if name not in ACCOUNT_MAP_FIELDS:
            raise ValueError(f"{name} is not an account of the map")
        setattr(accounts, name, value.strip())
    accounts.full_clean()
    accounts.save()
    after = {name: getattr(accounts, name) for name in ACCOUNT_MAP_FIELDS}
    audit_record(actor=saved_by, company=company, action="account_map.saved", target=accounts,
                 changes=field_changes(before, after))  # fmt: skip
    return accounts
