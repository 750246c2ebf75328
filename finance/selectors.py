"""Reads of finance data. Every query goes through `scoped()`, so no page sees another company's rows."""

from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404

from finance.models import (
    AuditEvent,
    Client,
    Company,
    Contact,
    DepositRule,
    DocumentSequence,
    Invoice,
    Membership,
    Payment,
    Quote,
)
from finance.scope import CompanyScope


def scoped(
    queryset: QuerySet, *, scope: CompanyScope, company_field: str = "company", narrowed: bool = True
) -> QuerySet:
    """Restrict a queryset to the scope's companies: the switcher's choice, or every visible one.

    `narrowed=False` ignores the switcher and keeps every company the user belongs to; detail
    pages use it so that a link to another of the user's companies still opens.
    """
    company_ids = scope.company_ids if narrowed else scope.visible_ids
    lookup = "pk__in" if queryset.model is Company else f"{company_field}__in"
    return queryset.filter(**{lookup: company_ids})


def scoped_get(queryset: QuerySet, *, scope: CompanyScope, company_field: str = "company", **lookup) -> Model:
    """Return one object of the user's companies, or raise Http404 (never 403: no existence leak)."""
    return get_object_or_404(scoped(queryset, scope=scope, company_field=company_field, narrowed=False), **lookup)


def company_list(*, scope: CompanyScope) -> QuerySet[Company]:
    return scoped(Company.objects.all(), scope=scope).order_by("code")


def company_get(*, scope: CompanyScope, code: str) -> Company:
    return scoped_get(Company.objects.all(), scope=scope, code=code)


def membership_list(*, scope: CompanyScope, company: Company | None = None) -> QuerySet[Membership]:
    memberships = scoped(Membership.objects.select_related("user", "company"), scope=scope, narrowed=company is None)
    if company is not None:
        memberships = memberships.filter(company=company)
    return memberships.order_by("company__code", "user__username")


def membership_get(*, scope: CompanyScope, pk: int) -> Membership:
    return scoped_get(Membership.objects.select_related("user", "company"), scope=scope, pk=pk)


def audit_event_list(*, scope: CompanyScope, company: Company | None = None, limit: int = 20) -> QuerySet[AuditEvent]:
    events = scoped(AuditEvent.objects.select_related("actor"), scope=scope, narrowed=company is None)
    if company is not None:
        events = events.filter(company=company)
    return events[:limit]


def audit_event_get(*, scope: CompanyScope, pk: int) -> AuditEvent:
    return scoped_get(AuditEvent.objects.select_related("actor", "company"), scope=scope, pk=pk)


def client_get(*, scope: CompanyScope, pk: int) -> Client:
    return scoped_get(Client.objects.select_related("company"), scope=scope, pk=pk)


def contact_get(*, scope: CompanyScope, pk: int) -> Contact:
    return scoped_get(Contact.objects.select_related("client"), scope=scope, company_field="client__company", pk=pk)


def quote_get(*, scope: CompanyScope, pk: int) -> Quote:
    return scoped_get(Quote.objects.select_related("company", "client"), scope=scope, pk=pk)


def invoice_get(*, scope: CompanyScope, pk: int) -> Invoice:
    return scoped_get(Invoice.objects.select_related("company", "client"), scope=scope, pk=pk)


def payment_get(*, scope: CompanyScope, pk: int) -> Payment:
    return scoped_get(Payment.objects.select_related("company", "client"), scope=scope, pk=pk)


def deposit_rule_get(*, scope: CompanyScope, pk: int) -> DepositRule:
    return scoped_get(DepositRule.objects.all(), scope=scope, pk=pk)


def document_sequence_get(*, scope: CompanyScope, pk: int) -> DocumentSequence:
    return scoped_get(DocumentSequence.objects.all(), scope=scope, pk=pk)
