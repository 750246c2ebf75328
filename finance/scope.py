"""Which companies a request may see: the user's memberships, narrowed by the navbar switcher."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from finance.models import Company, Membership, Role

# Session key holding the switcher's choice: a company code, or absent for the whole group.
SESSION_KEY = "hv_company"


@dataclass
class CompanyScope:
    """The companies visible to a user, and the one the switcher narrows pages to (None = group)."""

    user: AbstractBaseUser | AnonymousUser
    selected_code: str | None = None

    @cached_property
    def is_group_wide(self) -> bool:
        if not self.user.is_authenticated:
            return False
        return self.user.is_superuser or Membership.objects.filter(user=self.user, role=Role.CEO).exists()

    @cached_property
    def visible(self) -> list[Company]:
        """Every company the user may open, whatever the switcher says.

        Written out: every request reads it, and the ORM took longer to build the statement than PostgreSQL to
        answer it (a few rows)."""
        if not self.user.is_authenticated:
            return []
        companies = Company._meta.db_table
        if self.is_group_wide:
            return list(Company.objects.raw(f"SELECT * FROM {companies} ORDER BY code"))  # noqa: S608 - the model's table
        return list(Company.objects.raw(
            f"SELECT * FROM {companies} WHERE id IN (SELECT company_id FROM {Membership._meta.db_table} "  # noqa: S608
            "WHERE user_id = %s) ORDER BY code",
            [self.user.pk],
        ))  # fmt: skip

    @cached_property
    def visible_ids(self) -> list[int]:
        return [company.pk for company in self.visible]

    @cached_property
    def selected(self) -> Company | None:
        """The switcher's company, if it is still visible; otherwise the whole group."""
        return next((company for company in self.visible if company.code == self.selected_code), None)

    @cached_property
    def companies(self) -> list[Company]:
        """The companies list pages show: the selected one, or every visible one."""
        return [self.selected] if self.selected else self.visible

    @cached_property
    def company_ids(self) -> list[int]:
        return [company.pk for company in self.companies]

    @cached_property
    def roles(self) -> dict[int, str]:
        """The user's role per visible company id; a group-wide user is CEO everywhere."""
        if not self.user.is_authenticated:
            return {}
        if self.is_group_wide:
            return {company.pk: Role.CEO for company in self.visible}
        memberships = Membership.objects.filter(user=self.user).values_list("company_id", "role")
        return dict(memberships)

    def role_for(self, company: Company) -> str | None:
        return self.roles.get(company.pk)

    def has_role(self, company: Company, *roles: str) -> bool:
        return self.role_for(company) in roles
