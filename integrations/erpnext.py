"""A company's ERPNext connection (site, API key and secret, which ERPNext company it is), its probe, and the
snapshot: ERPNext's stock, purchase orders, leave and suppliers, read on a schedule into local tables.

The Hub only reads ERPNext (the client has no write method). A sync reads everything first and then replaces
the company's snapshot rows in one transaction, so a page always shows one complete read with its age, and a
failed read keeps the previous one (research/api-contracts.md §5).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from finance.models import Company
from finance.services.audit import audit_record
from integrations.clients import erpnext as erpnext_client
from integrations.clients.base import PermanentProviderError, ProviderError
from integrations.connections import connection_for_update, outcome_recorder, status_probe
from integrations.models import (
    OPEN_ORDER_STATUSES,
    Connection,
    ErpnextLeave,
    ErpnextPurchaseOrder,
    ErpnextSnapshot,
    ErpnextStockShortage,
    ErpnextSupplier,
    Provider,
    week_of,
)

CENT = Decimal("0.01")


@transaction.atomic
def settings_save(
    *, company: Company, base_url: str, api_key: str, api_secret: str, erpnext_company: str,
    updated_by: AbstractBaseUser | None,
) -> Connection:  # fmt: skip
    """Store the ERPNext settings; a blank key or secret keeps the stored one."""
    connection = connection_for_update(company, Provider.ERPNEXT)
    connection.base_url = base_url.strip().rstrip("/")
    connection.config = {**connection.config, "erpnext_company": erpnext_company.strip()}
    if api_key.strip():
        connection.set_secrets(api_key=api_key.strip())
    if api_secret.strip():
        connection.set_secrets(api_secret=api_secret.strip())
    missing = {
        name: _("Generate the keys in ERPNext → User → Settings → API Access, then paste them here.")
        for name in ("api_key", "api_secret") if not connection.secret(name)
    }  # fmt: skip
    if missing:
        raise ValidationError(missing)
    connection.full_clean()
    connection.save()
    audit_record(
        actor=updated_by, company=company, action="connection.updated", target=connection,
        changes={"provider": Provider.ERPNEXT, "base_url": connection.base_url,
                 "erpnext_company": connection.config["erpnext_company"],
                 "secret_replaced": bool(api_key.strip() or api_secret.strip())},
    )  # fmt: skip
    return connection


def client_for(connection: Connection) -> erpnext_client.ERPNextClient:
    return erpnext_client.ERPNextClient(
        connection.base_url, scope=connection.company.code, api_key=connection.secret("api_key"),
        api_secret=connection.secret("api_secret"), on_outcome=outcome_recorder(connection),
    )  # fmt: skip


def _erpnext_company(client: erpnext_client.ERPNextClient, name: str) -> dict:
    rows = client.resource_list("Company", fields=["name", "default_currency"], filters=[["name", "=", name]])
    if not rows:
        raise PermanentProviderError(
            Provider.ERPNEXT, _("ERPNext has no company named “%(name)s”.") % {"name": name}, status=404
        )
    return rows[0]


@status_probe(Provider.ERPNEXT)
def probe(connection: Connection) -> tuple[bool, str]:
    """Two real calls: who the key belongs to, and whether the mapped ERPNext company exists."""
    client = client_for(connection)
    try:
        user = client.logged_user()
        company = _erpnext_company(client, connection.config.get("erpnext_company", ""))
    except ProviderError as error:
        return False, error.message
    return True, _("Signed in as %(user)s; company “%(company)s” (%(currency)s).") % {
        "user": user, "company": company["name"], "currency": company.get("default_currency") or "—"}  # fmt: skip


# --- The snapshot ---------------------------------------------------------------------------------


@dataclass
class ErpnextRead:
    """Everything one sync read, before it replaces the stored snapshot."""

    shortages: list[ErpnextStockShortage]
    orders: list[ErpnextPurchaseOrder]
    leave: list[ErpnextLeave]
    suppliers: list[ErpnextSupplier]


def _decimal(row: dict, key: str) -> Decimal:
    value = row.get(key)
    try:
        return Decimal(str(value if value is not None else 0))
    except (InvalidOperation, ValueError):
        raise PermanentProviderError(Provider.ERPNEXT, f"{key}: {value!r} is not a number") from None


def _date(row: dict, key: str, *, required: bool = True) -> dt.date | None:
    value = row.get(key)
    if not value and not required:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise PermanentProviderError(Provider.ERPNEXT, f"{key}: {value!r} is not a date") from None


def _text(row: dict, key: str, limit: int) -> str:
    value = row.get(key)
    return ("" if value is None else str(value)).replace("\x00", "")[:limit]


def _in(values) -> list:
    return sorted(set(values))


def _stock_shortages(client, company: Company, erpnext_company: str, currency: str) -> list[ErpnextStockShortage]:
    warehouses = [row["name"] for row in client.resource_list(
        "Warehouse", fields=["name"], filters=[["company", "=", erpnext_company], ["is_group", "=", 0]])]  # fmt: skip
    if not warehouses:
        return []
    reorders = client.resource_list(
        "Item Reorder", parent="Item", filters=[["warehouse", "in", warehouses]],
        fields=["parent", "warehouse", "warehouse_reorder_level", "warehouse_reorder_qty"],
    )  # fmt: skip
    reorders = [row for row in reorders if _decimal(row, "warehouse_reorder_level") > 0]
    if not reorders:
        return []
    bins = {
        (row.get("item_code"), row.get("warehouse")): row
        for row in client.resource_list("Bin", fields=["item_code", "warehouse", "actual_qty", "valuation_rate"],
                                        filters=[["warehouse", "in", warehouses]])
    }  # fmt: skip
    items = {
        row.get("name"): row
        for row in client.resource_list("Item", fields=["name", "item_name", "stock_uom", "valuation_rate"],
                                        filters=[["name", "in", _in(row["parent"] for row in reorders)]])
    }  # fmt: skip
    shortages = []
    for reorder in reorders:
        item_code, warehouse = _text(reorder, "parent", 140), _text(reorder, "warehouse", 140)
        stock = bins.get((item_code, warehouse), {})  # no Bin yet: nothing ever entered that warehouse
        item = items.get(item_code, {})
        actual, level = _decimal(stock, "actual_qty"), _decimal(reorder, "warehouse_reorder_level")
        if actual > level:
            continue
        rate = _decimal(stock, "valuation_rate") or _decimal(item, "valuation_rate")
        quantity = _decimal(reorder, "warehouse_reorder_qty")
        shortages.append(ErpnextStockShortage(
            company=company, item_code=item_code, item_name=_text(item, "item_name", 200) or item_code,
            warehouse=warehouse, stock_uom=_text(item, "stock_uom", 40), actual_qty=actual, reorder_level=level,
            reorder_qty=quantity, reorder_value=(quantity * rate).quantize(CENT, ROUND_HALF_UP), currency=currency,
        ))  # fmt: skip
    return shortages


def _purchase_orders(client, company: Company, erpnext_company: str, currency: str) -> list[ErpnextPurchaseOrder]:
    rows = client.resource_list(
        "Purchase Order", order_by="schedule_date asc",
        fields=["name", "supplier_name", "transaction_date", "schedule_date", "grand_total", "currency", "status",
                "per_received"],
        filters=[["company", "=", erpnext_company], ["docstatus", "=", 1], ["status", "in", list(OPEN_ORDER_STATUSES)]],
    )  # fmt: skip
    return [
        ErpnextPurchaseOrder(
            company=company,
            name=_text(row, "name", 140),
            supplier_name=_text(row, "supplier_name", 200),
            transaction_date=_date(row, "transaction_date"),
            schedule_date=_date(row, "schedule_date", required=False),
            grand_total=_decimal(row, "grand_total").quantize(CENT, ROUND_HALF_UP),
            currency=_text(row, "currency", 3) or currency,
            status=_text(row, "status", 40),
            per_received=_decimal(row, "per_received").quantize(CENT, ROUND_HALF_UP),
        )  # fmt: skip
        for row in rows
    ]


def _leave(client, company: Company, erpnext_company: str, today: dt.date) -> list[ErpnextLeave]:
    monday, sunday = week_of(today)
    rows = client.resource_list(
        "Leave Application", order_by="from_date asc",
        fields=["name", "employee_name", "leave_type", "from_date", "to_date", "half_day"],
        filters=[["company", "=", erpnext_company], ["docstatus", "=", 1], ["status", "=", "Approved"],
                 ["from_date", "<=", sunday.isoformat()], ["to_date", ">=", monday.isoformat()]],
    )  # fmt: skip
    return [
        ErpnextLeave(
            company=company,
            name=_text(row, "name", 140),
            employee_name=_text(row, "employee_name", 200),
            leave_type=_text(row, "leave_type", 140),
            from_date=_date(row, "from_date"),
            to_date=_date(row, "to_date"),
            half_day=bool(row.get("half_day")),
        )  # fmt: skip
        for row in rows
    ]


def _suppliers(client, company: Company) -> list[ErpnextSupplier]:
    rows = client.resource_list(
        "Supplier", order_by="supplier_name asc", filters=[["disabled", "=", 0]],
        fields=["name", "supplier_name", "tax_id", "default_currency", "supplier_primary_address"],
    )  # fmt: skip
    ibans = {
        row.get("party"): row.get("iban")
        for row in client.resource_list("Bank Account", fields=["party", "iban"],
                                        filters=[["party_type", "=", "Supplier"], ["iban", "is", "set"]])
    }  # fmt: skip
    address_names = _in(row["supplier_primary_address"] for row in rows if row.get("supplier_primary_address"))
    addresses = {
        row.get("name"): row
        for row in (client.resource_list("Address", fields=["name", "address_line1", "pincode", "city", "country"],
                                         filters=[["name", "in", address_names]]) if address_names else [])
    }  # fmt: skip
    country_names = _in(row.get("country") for row in addresses.values() if row.get("country"))
    countries = {
        row.get("name"): str(row.get("code") or "").upper()
        for row in (client.resource_list("Country", fields=["name", "code"], filters=[["name", "in", country_names]])
                    if country_names else [])
    }  # fmt: skip
    suppliers = []
    for row in rows:
        address = addresses.get(row.get("supplier_primary_address"), {})
        suppliers.append(ErpnextSupplier(
            company=company, name=_text(row, "name", 140), supplier_name=_text(row, "supplier_name", 200),
            tax_id=_text(row, "tax_id", 40), iban=str(ibans.get(row.get("name")) or "").replace(" ", "")[:40],
            street=_text(address, "address_line1", 140), postal_code=_text(address, "pincode", 16),
            town=_text(address, "city", 140), country=countries.get(address.get("country"), "")[:2],
            currency=_text(row, "default_currency", 3),
        ))  # fmt: skip
    return suppliers


def erpnext_read(connection: Connection, *, today: dt.date) -> ErpnextRead:
    """Read what the hub shows from ERPNext, every list to its end; raises ProviderError on any failure."""
    client = client_for(connection)
    company = connection.company
    erpnext_company = connection.config.get("erpnext_company", "")
    currency = str(_erpnext_company(client, erpnext_company).get("default_currency") or "CHF")[:3]
    return ErpnextRead(
        shortages=_stock_shortages(client, company, erpnext_company, currency),
        orders=_purchase_orders(client, company, erpnext_company, currency),
        leave=_leave(client, company, erpnext_company, today),
        suppliers=_suppliers(client, company),
    )


def snapshot_refresh(connection: Connection, *, now: dt.datetime | None = None) -> ErpnextSnapshot:
    """Read ERPNext and replace the company's snapshot; a failed read is recorded and the old snapshot kept."""
    now = now or timezone.now()
    company = connection.company
    try:
        read = erpnext_read(connection, today=timezone.localdate(now))
    except ProviderError as error:
        ErpnextSnapshot.objects.update_or_create(
            company=company, defaults={"attempted_at": now, "last_error": error.message[:300]}
        )
        raise
    with transaction.atomic():
        snapshot, _created = ErpnextSnapshot.objects.select_for_update().get_or_create(company=company)
        for model, rows in ((ErpnextStockShortage, read.shortages), (ErpnextPurchaseOrder, read.orders),
                            (ErpnextLeave, read.leave), (ErpnextSupplier, read.suppliers)):  # fmt: skip
            model.objects.filter(company=company).delete()
            # A name listed twice by ERPNext would break the unique key: the first one stands.
            model.objects.bulk_create(rows, ignore_conflicts=True)
        snapshot.taken_at = snapshot.attempted_at = now
        snapshot.last_error = ""
        snapshot.save()
    return snapshot


def connections_to_sync() -> list[int]:
    return [c.pk for c in Connection.objects.filter(provider=Provider.ERPNEXT).select_related("company") if c.is_usable]
