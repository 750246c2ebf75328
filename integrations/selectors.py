"""Reads of the integration pages, scoped to the companies the request may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from finance.models import Company
from finance.scope import CompanyScope
from integrations.models import ActionRun, Connection, Provider, WebhookDelivery
from integrations.resilience import CircuitBreaker

if TYPE_CHECKING:
    from finance.selectors import DocumentFilters

# A consent ending within this many days is announced by a banner (Freelancer plans: 90-day grants).
CONSENT_WARNING_DAYS = 7


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


# --- Status ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionStatus:
    code: str  # connected, degraded, down, consent_required, not_configured
    label: str
    detail: str

    @property
    def usable(self) -> bool:
        return self.code in ("connected", "degraded")


def connection_status(connection: Connection | None) -> ConnectionStatus:
    """What the pages say about a connection: from its last real probe and calls, never from settings alone."""
    if connection is None or not connection.secrets_encrypted:
        return ConnectionStatus("not_configured", _("Not configured"), _("Enter the credentials and test them."))
    if connection.provider == Provider.WEB_FORM:
        # Nothing to call: the websites call the Hub. A secret is all it takes.
        return ConnectionStatus("connected", _("Ready"), _("Websites sign their posts with this company's secret."))
    if connection.provider == Provider.REVOLUT and (
        connection.consent_required or connection.consent_granted_at is None
    ):
        return ConnectionStatus(
            "consent_required", _("Consent required"), _("Authorise the Hub at Revolut to use this account.")
        )
    circuit = CircuitBreaker(connection.provider, connection.company.code).state()
    if circuit.is_open:
        return ConnectionStatus(
            "degraded", _("Degraded"), _("Calls paused until %(time)s after repeated failures.")
            % {"time": timezone.localtime(circuit.open_until).strftime("%H:%M")},
        )  # fmt: skip
    probe_ok_at = connection.last_probe_at if connection.last_probe_ok else None
    last_ok = max(filter(None, [connection.last_success_at, probe_ok_at]), default=None)
    if connection.last_failure_at and (last_ok is None or connection.last_failure_at > last_ok):
        return ConnectionStatus("down", _("Down"), connection.last_failure_detail)
    if last_ok is None:
        return ConnectionStatus("down", _("Not tested"), _("Run the connection test."))
    expiring = connection.consent_expires_at
    if expiring and expiring - timezone.now() < dt.timedelta(days=CONSENT_WARNING_DAYS):
        return ConnectionStatus(
            "degraded", _("Consent expiring"), _("Renew the consent before %(date)s.")
            % {"date": timezone.localtime(expiring).strftime("%d.%m.%Y")},
        )  # fmt: skip
    return ConnectionStatus("connected", _("Connected"), _("Last successful call %(time)s.")
                            % {"time": timezone.localtime(last_ok).strftime("%d.%m.%Y %H:%M")})  # fmt: skip


def connection_get(company: Company, provider: str) -> Connection | None:
    return Connection.objects.select_related("company").filter(company=company, provider=provider).first()


def usable_connection(company: Company, provider: str) -> Connection | None:
    """The company's connection to the provider if its settings are complete; None means the feature is off."""
    connection = connection_get(company, provider)
    return connection if connection is not None and connection.is_usable else None


def action_runs_for(target: models.Model) -> models.QuerySet[ActionRun]:
    return ActionRun.objects.filter(target_type=ContentType.objects.get_for_model(target), target_id=target.pk)
