"""The ERPNext sandbox: Frappe's REST list API over a few DocTypes, one emulated site per demo company.

What it answers follows research/api-contracts.md §5: `GET /api/resource/<DocType>` with JSON-encoded
`fields` and `filters` (a list of `[field, op, value]` or `[doctype, field, op, value]`, or a dict),
`order_by`, `limit_start` and `limit_page_length` (20 by default, 0 for all), wrapped as `{"data": [...]}`;
a child table (`Item Reorder`) only with its `parent`; `GET /api/method/frappe.auth.get_logged_user` as
`{"message": user}`; `Authorization: token <key>:<secret>`. Errors carry Frappe's `exc_type`, `exception`
and `_server_messages` with its HTTP codes (401, 403, 404, 417). The sandbox's page changes stock levels.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

from integrations.health import redis_client
from sandbox.store import JsonStore

store = JsonStore("hv:sandbox:erpnext")
DEFAULT_PAGE_LENGTH = 20

# DocType → the fields its rows carry (what `fields` may ask for); the child table names its parent.
DOCTYPES: dict[str, tuple[str, ...]] = {
    "Company": ("name", "abbr", "default_currency", "country"),
    "Country": ("name", "code"),
    "Warehouse": ("name", "warehouse_name", "company", "is_group"),
    "Item": ("name", "item_code", "item_name", "stock_uom", "valuation_rate", "is_stock_item", "disabled"),
    "Item Reorder": ("name", "parent", "parenttype", "warehouse", "warehouse_reorder_level", "warehouse_reorder_qty"),
    "Bin": ("name", "item_code", "warehouse", "actual_qty", "projected_qty", "valuation_rate", "stock_value"),
    "Purchase Order": ("name", "supplier", "supplier_name", "company", "transaction_date", "schedule_date",
                       "grand_total", "currency", "status", "per_received", "docstatus"),
    "Employee": ("name", "employee_name", "company", "status"),
    "Leave Application": ("name", "employee", "employee_name", "leave_type", "company", "from_date", "to_date",
                          "half_day", "status", "docstatus"),
    "Supplier": ("name", "supplier_name", "supplier_group", "tax_id", "country", "default_currency",
                 "supplier_primary_address", "disabled"),
    "Bank Account": ("name", "account_name", "party_type", "party", "iban", "is_company_account"),
    "Address": ("name", "address_title", "address_line1", "pincode", "city", "country"),
}  # fmt: skip
CHILD_TABLES = {"Item Reorder": "Item"}
ORDER_BY = re.compile(r"^\s*`?(\w+)`?\s*(asc|desc)?\s*$", re.IGNORECASE)


class ApiError(Exception):
    """A refusal as Frappe words it: the exception's type, its traceback's last line, the user's message."""

    def __init__(self, status: int, exc_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = {
            "exc_type": exc_type,
            "exception": f"frappe.exceptions.{exc_type}: {message}",
            "_server_messages": json.dumps([json.dumps({"message": message, "title": "Message", "indicator": "red"})]),
        }


# --- Sites and keys ---------------------------------------------------------------------------------


def site_add(site: str, *, api_key: str, api_secret: str, user: str) -> None:
    """An emulated ERPNext site whose API user signs in with this key and secret."""
    store.put(f"key:{api_key}", {"site": site, "secret": api_secret, "user": user})
    store.put_new(f"site:{site}", {doctype: [] for doctype in DOCTYPES})


def sites() -> list[str]:
    prefix = store.key("site:")
    return sorted(key.decode()[len(prefix):] for key in redis_client().scan_iter(f"{prefix}*")
                  if not key.decode().endswith(":lock"))  # fmt: skip


def site_clear(site: str) -> None:
    store.delete(f"site:{site}")


def authenticate(site: str, authorization: str) -> str:
    """The user of a valid `token key:secret` for this site; a request without one is a Guest's."""
    scheme, _space, credentials = authorization.partition(" ")
    if not authorization:
        raise ApiError(403, "PermissionError", "Not permitted")
    api_key, _colon, api_secret = credentials.partition(":")
    account = store.get(f"key:{api_key}") if scheme.lower() == "token" and api_key else None
    if not account or account["secret"] != api_secret or account["site"] != site:
        raise ApiError(401, "AuthenticationError", "Invalid Authentication Token")
    return account["user"]


def _site(site: str) -> dict:
    document = store.get(f"site:{site}")
    if document is None:
        raise ApiError(404, "DoesNotExistError", f"Site {site} does not exist")
    return document


# --- Reading ------------------------------------------------------------------------------------------


def _json_param(params: Mapping[str, str], name: str, default: Any) -> Any:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(417, "ValidationError", f"{name} is not valid JSON") from None


def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    try:
        return default if raw in (None, "") else max(0, int(raw))
    except ValueError:
        raise ApiError(417, "ValidationError", f"{name} must be an integer") from None


def _conditions(doctype: str, filters: Any) -> list[tuple[str, str, Any]]:
    """Frappe's filter shapes as (field, operator, value)."""
    if isinstance(filters, dict):
        items = [(field, *value) if isinstance(value, list) and len(value) == 2 else (field, "=", value)
                 for field, value in filters.items()]  # fmt: skip
    elif isinstance(filters, list):
        items = []
        for condition in filters:
            if not isinstance(condition, list) or len(condition) not in (3, 4):
                raise ApiError(417, "ValidationError", f"Invalid filter: {condition!r}")
            items.append(tuple(condition[-3:]))
    else:
        raise ApiError(417, "ValidationError", "filters must be a list or an object")
    for field, operator, _value in items:
        if field not in DOCTYPES[doctype]:
            raise ApiError(417, "DataError", f"Field not permitted in query: {field}")
        if str(operator).lower() not in OPERATORS:
            raise ApiError(417, "ValidationError", f"Unsupported operator: {operator}")
    return [(field, str(operator).lower(), value) for field, operator, value in items]


def _comparable(value: Any) -> Any:
    return value if isinstance(value, int | float) else str(value if value is not None else "")


def _like(value: Any, pattern: Any) -> bool:
    regex = "^" + ".*".join(re.escape(part) for part in str(pattern).split("%")) + "$"
    return re.match(regex, str(value or ""), re.IGNORECASE) is not None


OPERATORS = {
    "=": lambda a, b: _comparable(a) == _comparable(b),
    "!=": lambda a, b: _comparable(a) != _comparable(b),
    "<": lambda a, b: a is not None and _comparable(a) < _comparable(b),
    "<=": lambda a, b: a is not None and _comparable(a) <= _comparable(b),
    ">": lambda a, b: a is not None and _comparable(a) > _comparable(b),
    ">=": lambda a, b: a is not None and _comparable(a) >= _comparable(b),
    "in": lambda a, b: _comparable(a) in {_comparable(v) for v in (b if isinstance(b, list) else str(b).split(","))},
    "not in": lambda a, b: (
        _comparable(a) not in {_comparable(v) for v in (b if isinstance(b, list) else str(b).split(","))}
    ),
    "like": _like,
    "is": lambda a, b: bool(a) if b == "set" else not a,
}


def resource_list(site: str, doctype: str, params: Mapping[str, str]) -> list[dict]:
    if doctype not in DOCTYPES:
        raise ApiError(404, "DoesNotExistError", f"DocType {doctype} not found")
    if doctype in CHILD_TABLES and params.get("parent") != CHILD_TABLES[doctype]:
        raise ApiError(403, "PermissionError", f"Please specify a valid parent DocType for {doctype}")
    fields = _json_param(params, "fields", ["name"])
    if not isinstance(fields, list) or not all(isinstance(field, str) for field in fields):
        raise ApiError(417, "ValidationError", "fields must be a list of field names")
    fields = list(DOCTYPES[doctype]) if fields == ["*"] else fields
    unknown = [field for field in fields if field not in DOCTYPES[doctype]]
    if unknown:
        raise ApiError(417, "DataError", f"Field not permitted in query: {unknown[0]}")
    conditions = _conditions(doctype, _json_param(params, "filters", []))
    rows = [row for row in _site(site)[doctype]
            if all(OPERATORS[op](row.get(field), value) for field, op, value in conditions)]  # fmt: skip
    order = ORDER_BY.match(params.get("order_by") or "name asc")
    if order is None or order.group(1) not in DOCTYPES[doctype]:
        raise ApiError(417, "DataError", f"Invalid order_by: {params.get('order_by')}")
    rows.sort(key=lambda row: (row.get(order.group(1)) is None, _comparable(row.get(order.group(1)))),
              reverse=(order.group(2) or "asc").lower() == "desc")  # fmt: skip
    start = _int_param(params, "limit_start", 0)
    length = _int_param(params, "limit_page_length", _int_param(params, "limit", DEFAULT_PAGE_LENGTH))
    page = rows[start : start + length] if length else rows[start:]
    return [{field: row.get(field) for field in fields} for row in page]


# --- Writing (the sandbox's seed and its page, never the API: the Hub only reads) -------------------


def _insert(document: dict, doctype: str, row: dict) -> None:
    rows = document[doctype]
    if not any(existing["name"] == row["name"] for existing in rows):
        rows.append({field: row.get(field) for field in DOCTYPES[doctype]})


def company_seed(site: str, *, company: str, abbr: str, currency: str, today: dt.date,
                 suppliers: list[dict]) -> None:  # fmt: skip
    """A company with stock (two items at or below their reorder level), purchase orders (one late),
    approved leave this week and suppliers; seeding again adds nothing."""
    with store.update(f"site:{site}") as document:
        _insert(document, "Company", {"name": company, "abbr": abbr, "default_currency": currency,
                                      "country": "Switzerland"})  # fmt: skip
        for name, code in (("Switzerland", "ch"), ("Germany", "de"), ("Italy", "it"), ("France", "fr")):
            _insert(document, "Country", {"name": name, "code": code})
        stores, goods = f"Stores - {abbr}", f"Finished Goods - {abbr}"
        _insert(document, "Warehouse", {"name": f"All Warehouses - {abbr}", "company": company, "is_group": 1})
        for warehouse in (stores, goods):
            _insert(document, "Warehouse", {"name": warehouse, "warehouse_name": warehouse.split(" - ")[0],
                                            "company": company, "is_group": 0})  # fmt: skip
        # item code, name, unit, valuation rate, warehouse, reorder level, reorder quantity, in stock
        stock = (
            (f"{abbr}-LED-P26", "LED panel P2.6 500×500", "Nos", 320.0, stores, 20, 40, 12),
            (f"{abbr}-CTRL-NOVA", "Novastar controller VX600", "Nos", 890.0, stores, 4, 4, 6),
            (f"{abbr}-CABLE-PWR", "Power cable 3 m", "Nos", 12.5, stores, 100, 200, 100),
            (f"{abbr}-TRUSS-2M", "Truss 2 m", "Nos", 180.0, goods, 6, 10, 10),
        )
        for code, name, uom, rate, warehouse, level, quantity, actual in stock:
            _insert(document, "Item", {"name": code, "item_code": code, "item_name": name, "stock_uom": uom,
                                       "valuation_rate": rate, "is_stock_item": 1, "disabled": 0})  # fmt: skip
            _insert(document, "Item Reorder", {
                "name": f"{code}-reorder", "parent": code, "parenttype": "Item", "warehouse": warehouse,
                "warehouse_reorder_level": level, "warehouse_reorder_qty": quantity,
            })  # fmt: skip
            _insert(document, "Bin", {"name": f"{code}-{warehouse}", "item_code": code, "warehouse": warehouse,
                                      "actual_qty": actual, "projected_qty": actual, "valuation_rate": rate,
                                      "stock_value": actual * rate})  # fmt: skip
        for supplier in suppliers:
            name, address = supplier["name"], f"{supplier['name']}-Billing"
            _insert(document, "Supplier", {
                **supplier, "supplier_name": name, "disabled": 0, "supplier_group": "Services",
                "supplier_primary_address": address,
            })  # fmt: skip
            _insert(document, "Address", {
                "name": address, "address_title": name, "address_line1": supplier.get("street", ""),
                "pincode": supplier.get("pincode", ""), "city": supplier.get("city", ""), "country": "Switzerland",
            })  # fmt: skip
            if supplier.get("iban"):
                _insert(document, "Bank Account", {
                    "name": f"{name} - IBAN", "party_type": "Supplier", "party": name, "iban": supplier["iban"],
                    "account_name": name, "is_company_account": 0,
                })  # fmt: skip
        first = suppliers[0]["name"] if suppliers else "Supplier"
        year = today.year
        orders = (
            (f"PUR-ORD-{year}-{abbr}-001", today - dt.timedelta(days=20), today - dt.timedelta(days=5),
             4860.0, "To Receive and Bill", 0),
            (f"PUR-ORD-{year}-{abbr}-002", today - dt.timedelta(days=3), today + dt.timedelta(days=7),
             1297.2, "To Receive and Bill", 0),
            (f"PUR-ORD-{year}-{abbr}-003", today - dt.timedelta(days=40), today - dt.timedelta(days=30),
             640.0, "Completed", 100),
        )  # fmt: skip
        for name, ordered, expected, total, status, received in orders:
            _insert(document, "Purchase Order", {
                "name": name, "supplier": first, "supplier_name": first, "company": company,
                "transaction_date": ordered.isoformat(), "schedule_date": expected.isoformat(), "grand_total": total,
                "currency": currency, "status": status, "per_received": received, "docstatus": 1,
            })  # fmt: skip
        leave = (
            (f"HR-LAP-{year}-{abbr}-001", "Marc Keller", "Privilege Leave", today, today + dt.timedelta(days=2),
             "Approved"),
            (f"HR-LAP-{year}-{abbr}-002", "Sophie Brunner", "Sick Leave", today, today, "Approved"),
            (f"HR-LAP-{year}-{abbr}-003", "Luca Rossi", "Privilege Leave", today, today + dt.timedelta(days=1), "Open"),
        )  # fmt: skip
        for name, employee, leave_type, start, end, status in leave:
            employee_id = f"HR-EMP-{abbr}-{employee.split()[0].upper()}"
            _insert(document, "Employee", {"name": employee_id, "employee_name": employee, "company": company,
                                           "status": "Active"})  # fmt: skip
            _insert(document, "Leave Application", {
                "name": name, "employee": employee_id, "employee_name": employee, "leave_type": leave_type,
                "company": company, "from_date": start.isoformat(), "to_date": end.isoformat(), "half_day": 0,
                "status": status, "docstatus": 1 if status == "Approved" else 0,
            })  # fmt: skip


def document_get(site: str, slug: str, name: str) -> dict:
    """One document by the desk's address (/app/<doctype as a slug>/<name>)."""
    doctype = next((d for d in DOCTYPES if d.lower().replace(" ", "-") == slug), None)
    row = next((row for row in _site(site).get(doctype, []) if row["name"] == name), None) if doctype else None
    if row is None:
        raise ApiError(404, "DoesNotExistError", f"{slug} {name} not found")
    return {"doctype": doctype, **row}


def stock_levels(site: str) -> list[dict]:
    """Every bin with its item and reorder level, as the sandbox's page lists them."""
    document = _site(site)
    items = {item["name"]: item for item in document["Item"]}
    levels = {(row["parent"], row["warehouse"]): row for row in document["Item Reorder"]}
    return [
        {**bin_row, "item_name": items.get(bin_row["item_code"], {}).get("item_name", ""),
         "reorder_level": levels.get((bin_row["item_code"], bin_row["warehouse"]), {}).get("warehouse_reorder_level")}
        for bin_row in sorted(document["Bin"], key=lambda row: (row["warehouse"], row["item_code"]))
    ]  # fmt: skip


def stock_set(site: str, *, item_code: str, warehouse: str, actual_qty: float) -> None:
    """A stock reconciliation, in short: the bin now holds this quantity."""
    with store.update(f"site:{site}") as document:
        for row in document["Bin"]:
            if row["item_code"] == item_code and row["warehouse"] == warehouse:
                row["actual_qty"] = row["projected_qty"] = actual_qty
                row["stock_value"] = actual_qty * (row["valuation_rate"] or 0)
                return
    raise ApiError(404, "DoesNotExistError", f"Bin {item_code} / {warehouse} not found")


def clear() -> None:
    """Forget every site and key (tests)."""
    client = redis_client()
    for key in client.scan_iter(f"{store.prefix}:*"):
        client.delete(key)
