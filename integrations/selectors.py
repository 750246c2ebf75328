"""Reads of the integration pages, scoped to the companies the request may see."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from finance.models import Company, Supplier
from finance.scope import CompanyScope
from integrations.health import DIRECTUS_HEALTH_KEY, redis_client
from integrations.models import (
    ActionRun,
    Connection,
    ErpnextLeave,
    ErpnextPurchaseOrder,
    ErpnextSnapshot,
    ErpnextStockShortage,
    ErpnextSupplier,
    Provider,
    WebhookDelivery,
    week_of,
)
from integrations.resilience import CircuitBreaker, CircuitState, circuit_states

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
    return connection_statuses([connection])[0]


def connection_statuses(connections: list[Connection | None]) -> list[ConnectionStatus]:
    """connection_status of each connection, the circuits of those that call their provider read from Redis in one
    round trip (the dashboard's status bar shows thirty)."""
    # One translated status for every connection not set up (the status bar has dozens of them).
    not_configured = ConnectionStatus("not_configured", _("Not configured"), _("Enter the credentials and test them."))
    settled = [_status_before_any_call(connection, not_configured) for connection in connections]
    calling = [connection for connection, status in zip(connections, settled, strict=True) if status is None]
    circuits = iter(circuit_states([CircuitBreaker(c.provider, c.company.code) for c in calling]))
    return [status or _status_of_calls(connection, next(circuits))
            for connection, status in zip(connections, settled, strict=True)]  # fmt: skip


def _status_before_any_call(connection: Connection | None, not_configured: ConnectionStatus) -> ConnectionStatus | None:
    """The status that no call to the provider decides (not configured, a web form, a consent to give), or None."""
    if connection is None or not connection.secrets_encrypted:
        return not_configured
    if connection.provider == Provider.WEB_FORM:
        # Nothing to call: the websites call the Hub. A secret is all it takes.
        return ConnectionStatus("connected", _("Ready"), _("Websites sign their posts with this company's secret."))
    if connection.provider == Provider.REVOLUT and (
        connection.consent_required or connection.consent_granted_at is None
    ):
        return ConnectionStatus(
            "consent_required", _("Consent required"), _("Authorise the Hub at Revolut to use this account.")
        )
    return None


def _status_of_calls(connection: Connection, circuit: CircuitState) -> ConnectionStatus:
    """From its circuit, its last probe and its last calls."""
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


def directus_status() -> ConnectionStatus:
    """Directus' last answer to /server/health, as the beat task kept it (the page never waits for Directus)."""
    if not settings.HV_DIRECTUS_URL:
        return ConnectionStatus("not_configured", _("Not configured"), _("HV_DIRECTUS_URL is not set."))
    try:
        raw = redis_client().get(DIRECTUS_HEALTH_KEY)
    except RedisError:
        raw = None
    if raw is None:
        return ConnectionStatus("down", _("Not tested"), _("No health answer from Directus in the last minutes."))
    answer = json.loads(raw)
    labels = {"connected": _("Connected"), "degraded": _("Degraded"), "down": _("Down")}
    at = timezone.localtime(dt.datetime.fromisoformat(answer["at"])).strftime("%H:%M")
    return ConnectionStatus(answer["state"], labels[answer["state"]], f"{answer['detail']} ({at})")


# --- ERPNext (read-only hub) --------------------------------------------------------------------------

ERPNEXT_PARTS = ("stock", "orders", "leave", "suppliers")


@dataclass(frozen=True)
class SnapshotAge:
    company: Company
    connection: Connection | None
    snapshot: ErpnextSnapshot | None
    status: ConnectionStatus
    now: dt.datetime

    @property
    def age(self) -> dt.timedelta | None:
        return self.now - self.snapshot.taken_at if self.snapshot and self.snapshot.taken_at else None

    @property
    def stale(self) -> bool:
        """Never read, or read longer ago than the schedule allows."""
        return self.connection is not None and (self.age is None or self.age > ErpnextSnapshot.stale_after())

    @property
    def last_error(self) -> str:
        snapshot = self.snapshot
        failed_last = snapshot and snapshot.attempted_at and snapshot.attempted_at != snapshot.taken_at
        return snapshot.last_error if failed_last else ""


@dataclass(frozen=True)
class SupplierMatch:
    erpnext: ErpnextSupplier
    hub: Supplier | None
    basis: str  # "uid", "iban", "name" or ""
    url: str


@dataclass(frozen=True)
class ErpnextOverview:
    companies: list[SnapshotAge]
    shortages: list[tuple[ErpnextStockShortage, str]]
    orders: list[tuple[ErpnextPurchaseOrder, str, bool]]  # the order, its ERPNext link, late
    leave_today: list[tuple[ErpnextLeave, str]]
    leave_week: list[tuple[ErpnextLeave, str]]
    suppliers: list[SupplierMatch]


def _name_key(name: str) -> str:
    return " ".join(name.casefold().split())


def _uid_digits(value: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit())
    return digits if len(digits) == 9 else ""


def _supplier_matches(rows: list[ErpnextSupplier], links: dict[int, Connection]) -> list[SupplierMatch]:
    """Each ERPNext supplier with the Hub supplier of the same company it is: same UID, else IBAN, else name."""
    by_key: dict[tuple[int, str, str], Supplier] = {}
    for supplier in Supplier.objects.filter(company_id__in={row.company_id for row in rows}).order_by("pk"):
        for basis, key in (("uid", _uid_digits(supplier.che_uid)), ("iban", supplier.iban),
                           ("name", _name_key(supplier.name))):  # fmt: skip
            if key:
                by_key.setdefault((supplier.company_id, basis, key), supplier)
    matches = []
    for row in rows:
        found, basis = None, ""
        for basis_tried, key in (("uid", _uid_digits(row.tax_id)), ("iban", row.iban.upper()),
                                 ("name", _name_key(row.supplier_name))):  # fmt: skip
            found = by_key.get((row.company_id, basis_tried, key)) if key else None
            if found:
                basis = basis_tried
                break
        matches.append(SupplierMatch(row, found, basis, links[row.company_id].document_url("Supplier", row.name)))
    return matches


def erpnext_overview(*, companies: list[Company], today: dt.date, now: dt.datetime) -> ErpnextOverview:
    """What the ERPNext page shows for these companies, from the snapshot tables only (ERPNext is never called)."""
    ids = [c.pk for c in companies]
    links = {c.company_id: c for c in Connection.objects.filter(company_id__in=ids, provider=Provider.ERPNEXT)
             .select_related("company")}  # fmt: skip
    snapshots = {s.company_id: s for s in ErpnextSnapshot.objects.filter(company_id__in=ids)}
    statuses = connection_statuses([links.get(c.pk) for c in companies])
    ages = [SnapshotAge(c, links.get(c.pk), snapshots.get(c.pk), status, now)
            for c, status in zip(companies, statuses, strict=True)]  # fmt: skip
    shown = [c for c in ids if c in links]  # a removed link's rows are not shown
    monday, sunday = week_of(today)

    def link(row, doctype: str) -> str:
        return links[row.company_id].document_url(doctype, row.name if doctype != "Item" else row.item_code)

    leave = list(ErpnextLeave.objects.filter(company_id__in=shown, from_date__lte=sunday, to_date__gte=monday)
                 .select_related("company").order_by("from_date", "employee_name"))  # fmt: skip
    orders = ErpnextPurchaseOrder.objects.filter(company_id__in=shown).select_related("company")
    return ErpnextOverview(
        companies=ages,
        shortages=[(row, link(row, "Item")) for row in ErpnextStockShortage.objects.filter(company_id__in=shown)
                   .select_related("company").order_by("company__code", "warehouse", "item_code")],
        orders=[(row, link(row, "Purchase Order"), row.is_late(today))
                for row in orders.order_by(F("schedule_date").asc(nulls_last=True), "name")],
        leave_today=[(row, link(row, "Leave Application")) for row in leave if row.from_date <= today <= row.to_date],
        leave_week=[(row, link(row, "Leave Application")) for row in leave],
        suppliers=_supplier_matches(
            list(ErpnextSupplier.objects.filter(company_id__in=shown).select_related("company")
                 .order_by("company__code", "supplier_name")), links),
    )  # fmt: skip


def erpnext_supplier_get(*, company_ids: list[int], pk: int) -> ErpnextSupplier | None:
    return ErpnextSupplier.objects.select_related("company").filter(pk=pk, company_id__in=company_ids).first()
