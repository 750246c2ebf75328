"""Reads of the integration pages, scoped to the companies the request may see."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from finance.scope import CompanyScope
from finance.selectors import DocumentFilters
from integrations.models import Connection, WebhookDelivery


def webhook_delivery_list(*, scope: CompanyScope, filters: DocumentFilters) -> QuerySet[WebhookDelivery]:
    deliveries = WebhookDelivery.objects.filter(company_id__in=scope.company_ids).select_related("company")
    if filters.company_code:
        deliveries = deliveries.filter(company__code=filters.company_code)
    if filters.status:
        deliveries = deliveries.filter(status=filters.status)
    if filters.date_from:
        deliveries = deliveries.filter(received_at__date__gte=filters.date_from)
    if filters.date_to:
        deliveries = deliveries.filter(received_at__date__lte=filters.date_to)
    if filters.search:
        term = filters.search
        deliveries = deliveries.filter(
            Q(event_type__icontains=term) | Q(event_key__icontains=term) | Q(provider__icontains=term)
            | Q(error__icontains=term)
        )  # fmt: skip
    return deliveries.order_by("-received_at", "-pk")


def connections_by_company(*, scope: CompanyScope) -> dict[int, dict[str, Connection]]:
    """Every connection of the visible companies, as {company id: {provider: connection}}."""
    found: dict[int, dict[str, Connection]] = {}
    for connection in Connection.objects.filter(company_id__in=scope.company_ids).select_related("company"):
        found.setdefault(connection.company_id, {})[connection.provider] = connection
    return found
