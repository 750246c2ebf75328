"""Who may do what in a company: roles checked by every view that writes."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from finance.models import Company, Role
from finance.scope import CompanyScope

# Clients and quotes are the sales team's; invoices and money are finance's. The CEO does everything.
SALES_ROLES = (Role.CEO, Role.FINANCE, Role.SALES)
BILLING_ROLES = (Role.CEO, Role.FINANCE)


def can_sell(scope: CompanyScope, company: Company) -> bool:
    return scope.has_role(company, *SALES_ROLES)


def can_bill(scope: CompanyScope, company: Company) -> bool:
    return scope.has_role(company, *BILLING_ROLES)


def require_sales(scope: CompanyScope, company: Company) -> None:
    if not can_sell(scope, company):
        raise PermissionDenied(_("Only the CEO, finance and sales can change clients and quotes."))


def require_billing(scope: CompanyScope, company: Company) -> None:
    if not can_bill(scope, company):
        raise PermissionDenied(_("Only the CEO and finance can change invoices and payments."))


# Supplier invoices are entered by finance and operations; only the CEO and finance approve them.
PURCHASE_ROLES = (Role.CEO, Role.FINANCE, Role.OPERATIONS)
APPROVER_ROLES = (Role.CEO, Role.FINANCE)
# Everyone but read-only users runs projects.
PROJECT_ROLES = (Role.CEO, Role.FINANCE, Role.SALES, Role.OPERATIONS)


def can_purchase(scope: CompanyScope, company: Company) -> bool:
    return scope.has_role(company, *PURCHASE_ROLES)


def can_approve(scope: CompanyScope, company: Company) -> bool:
    return scope.has_role(company, *APPROVER_ROLES)


def can_run_projects(scope: CompanyScope, company: Company) -> bool:
    return scope.has_role(company, *PROJECT_ROLES)


def require_purchase(scope: CompanyScope, company: Company) -> None:
    if not can_purchase(scope, company):
        raise PermissionDenied(_("Only the CEO, finance and operations can change suppliers and their invoices."))


def require_approver(scope: CompanyScope, company: Company) -> None:
    if not can_approve(scope, company):
        raise PermissionDenied(_("Only the CEO and finance approve, reject or pay supplier invoices."))


def require_projects(scope: CompanyScope, company: Company) -> None:
    if not can_run_projects(scope, company):
        raise PermissionDenied(_("Your role does not allow changing projects."))
