"""What Directus shows and lets its admins do on the Hub's tables, applied over its REST API (idempotent).

Django owns the schema; Directus only gets metadata: readable names (en, fr, de) and interfaces for the
collections admins edit, Django's internal tables hidden, a "Hub admin" role whose policy allows master
data and drafts to be edited and everything else only read, and a Flow that posts every create, update
and delete of a shared collection to the Hub (integrations.webhooks.directus).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from integrations.clients.base import AuthorizationError, ProviderError
from integrations.clients.directus import DirectusClient
from integrations.health import DIRECTUS_HEALTH_KEY, redis_client

LANGUAGES = {"en-US": "en", "fr-FR": "fr", "de-DE": "de"}
POLICY_NAME = "Hub admin"
ROLE_NAME = "Hub admin"
FLOW_NAME = "Hub: edits of shared collections"
WEBHOOK_PATH = "/webhooks/directus/"
SECRET_HEADER = "X-Hub-Secret"  # noqa: S105 - a header name
# Columns only the Hub writes (its links to providers): hidden in Directus, never editable there.
HUB_ONLY_COLUMNS = frozenset({
    "invoice_ninja_id", "invoice_ninja_contacts", "invoice_ninja_status", "invoice_ninja_link",
    "invoice_ninja_sent_at", "mautic_id", "revolut_counterparty_id", "revolut_counterparty_account_id",
    "revolut_counterparty_iban",
})  # fmt: skip
DRAFT = {"status": {"_eq": "draft"}}
# The answer is forgotten after this many probe periods: no probe for that long is no news, not good news.
HEALTH_PERIODS_KEPT = 5


@dataclass(frozen=True)
class Folder:
    key: str
    name: Any  # lazily translated
    icon: str


FOLDERS = (
    Folder("hub_master_data", _("Master data"), "contacts"),
    Folder("hub_sales", _("Quotes and invoices"), "request_quote"),
    Folder("hub_records", _("Records (read only)"), "lock"),
)


@dataclass(frozen=True)
class Collection:
    """One Hub table as Directus shows it, and what the Hub admin policy may do with it."""

    model: str
    folder: str
    icon: str
    template: str
    create: tuple[str, ...] = ()
    update: tuple[str, ...] = ()
    delete: bool = False
    # Which rows may be written (drafts only, for documents), as a Directus filter.
    rows: dict | None = None
    presets: dict | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def model_class(self) -> type[models.Model]:
        return apps.get_model(self.model)

    @property
    def table(self) -> str:
        return self.model_class._meta.db_table


ADDRESS = ("name", "street", "building_number", "postal_code", "town", "country", "che_uid")
LINE_FIELDS = ("position", "description", "quantity", "unit", "unit_price", "discount_percent", "vat_code")
# The VAT rate of a line is the Hub's to set (from its VAT code and the document's date); a new line starts at 0.
LINE_PRESETS = {"vat_rate": "0.00"}

COLLECTIONS = (
    Collection("finance.Client", "hub_master_data", "groups", "{{name}} ({{town}})",
               create=("company_id", "kind", *ADDRESS, "email", "language", "payment_terms_days"),
               update=("kind", *ADDRESS, "email", "language", "payment_terms_days")),
    Collection("finance.Contact", "hub_master_data", "contact_mail", "{{name}} <{{email}}>",
               create=("client_id", "name", "email", "phone", "role"), update=("name", "email", "phone", "role"),
               delete=True),
    Collection("finance.Supplier", "hub_master_data", "local_shipping", "{{name}} ({{town}})",
               create=("company_id", *ADDRESS, "iban", "currency", "contact_name", "email", "phone"),
               update=(*ADDRESS, "iban", "currency", "contact_name", "email", "phone")),
    Collection("finance.DepositRule", "hub_master_data", "savings", "{{project_type}} {{percent}} %",
               create=("company_id", "project_type", "percent", "min_quote_total", "due_days"),
               update=("project_type", "percent", "min_quote_total", "due_days"), delete=True),
    Collection("finance.DunningText", "hub_master_data", "mark_email_unread", "{{language}} #{{mautic_email_id}}",
               create=("level_id", "language", "mautic_email_id"), update=("language", "mautic_email_id"),
               delete=True),
    Collection("finance.Project", "hub_master_data", "construction", "{{name}}",
               update=("name", "project_type", "manager_id")),
    Collection("finance.Milestone", "hub_master_data", "flag", "{{title}}",
               create=("project_id", "position", "title", "due_date", "status", "done_on", "billable_amount"),
               update=("position", "title", "due_date", "status", "done_on", "billable_amount"), delete=True),
    Collection("finance.Quote", "hub_sales", "request_quote", "{{number}} {{title}}",
               update=("title", "notes", "quote_date", "valid_until", "project_type"), rows=DRAFT),
    Collection("finance.QuoteLine", "hub_sales", "format_list_bulleted", "{{position}}. {{description}}",
               create=("quote_id", *LINE_FIELDS), update=LINE_FIELDS, delete=True,
               rows={"quote_id": DRAFT}, presets=LINE_PRESETS),
    Collection("finance.Invoice", "hub_sales", "receipt_long", "{{number}} {{title}}", update=("title", "notes"),
               rows=DRAFT),
    Collection("finance.InvoiceLine", "hub_sales", "format_list_bulleted", "{{position}}. {{description}}",
               create=("invoice_id", *LINE_FIELDS), update=LINE_FIELDS, delete=True,
               rows={"invoice_id": DRAFT}, presets=LINE_PRESETS),
    Collection("finance.Company", "hub_records", "domain", "{{code}} {{name}}"),
    Collection("finance.DunningLevel", "hub_records", "stairs", "{{level}}. {{name}}"),
    Collection("finance.SupplierInvoice", "hub_records", "inventory", "{{supplier_number}}"),
    Collection("finance.Payment", "hub_records", "payments", "{{value_date}} {{amount}} {{currency}}"),
    Collection("finance.PaymentAllocation", "hub_records", "call_split", "{{amount}}"),
    Collection("finance.BankTransaction", "hub_records", "account_balance", "{{booked_on}} {{amount}}"),
    Collection("finance.AuditEvent", "hub_records", "history", "{{action}} {{object_type}}#{{object_id}}"),
)  # fmt: skip


def _translations(text_of) -> list[dict[str, str]]:
    result = []
    for directus_language, language in LANGUAGES.items():
        with translation.override(language):
            result.append({"language": directus_language, "translation": str(text_of())})
    return result


def collection_meta(spec: Collection, sort: int) -> dict:
    options = spec.model_class._meta
    return {
        "icon": spec.icon,
        "group": spec.folder,
        "sort": sort,
        "hidden": False,
        "display_template": spec.template,
        "note": str(_("Shared with the Hub: it reacts to every edit here as to its own.")) if spec.create or spec.update
        else str(_("Kept by the Hub: read only here.")),
        "translations": _translations(lambda: capfirst(options.verbose_name_plural)),
        "accountability": "all",
    }  # fmt: skip


def _interface(model_field: models.Field) -> dict:
    """Directus' editing widget for a Django field, with its choices where it has any."""
    if model_field.choices:
        choices = [{"text": str(label), "value": value} for value, label in model_field.choices]
        return {"interface": "select-dropdown", "options": {"choices": choices}, "display": "labels"}
    if isinstance(model_field, models.ForeignKey):
        template = _template_of(model_field.related_model)
        return {"interface": "select-dropdown-m2o", "options": {"template": template},
                "display": "related-values", "display_options": {"template": template}}  # fmt: skip
    if isinstance(model_field, models.BooleanField):
        return {"interface": "boolean", "display": "boolean"}
    if isinstance(model_field, models.DateField | models.DateTimeField):
        return {"interface": "datetime", "display": "datetime"}
    if isinstance(model_field, models.TextField):
        return {"interface": "input-multiline"}
    if isinstance(model_field, models.JSONField):
        return {"interface": "input-code", "options": {"language": "json"}}
    if isinstance(model_field, ArrayField):
        return {"interface": "tags"}
    return {"interface": "input"}


def _template_of(model: type[models.Model]) -> str:
    for spec in COLLECTIONS:
        if spec.model_class is model:
            return spec.template
    return "{{id}}"


def fields_meta(spec: Collection) -> list[dict]:
    editable = set(spec.create) | set(spec.update)
    result = []
    for sort, model_field in enumerate(spec.model_class._meta.concrete_fields, start=1):
        column = model_field.column
        meta = {
            "sort": sort,
            "readonly": column not in editable,
            "hidden": column in HUB_ONLY_COLUMNS,
            "note": str(model_field.help_text) or None,
            "translations": _translations(lambda model_field=model_field: capfirst(model_field.verbose_name)),
            "width": "half" if not isinstance(model_field, models.TextField) else "full",
            **_interface(model_field),
        }
        result.append({"field": column, "meta": meta})
    return result


def permissions_wanted(policy_id: str) -> list[dict]:
    """The Hub admin policy: read everything shared, write master data and drafts, the named columns only."""
    wanted = []
    for spec in COLLECTIONS:
        base = {"policy": policy_id, "collection": spec.table, "validation": None}
        wanted.append({**base, "action": "read", "fields": ["*"], "permissions": None, "presets": None})
        if spec.create:
            wanted.append({**base, "action": "create", "fields": list(spec.create), "permissions": spec.rows,
                           "presets": spec.presets})  # fmt: skip
        if spec.update:
            wanted.append({**base, "action": "update", "fields": list(spec.update), "permissions": spec.rows,
                           "presets": None})  # fmt: skip
        if spec.delete:
            wanted.append({**base, "action": "delete", "fields": ["*"], "permissions": spec.rows, "presets": None})
    return wanted


# Runs in Directus' sandbox (isolated-vm): a time-ordered random id, unique per run of the Flow.
DRAW_DELIVERY_ID = """module.exports = async function () {
  return { delivery: Date.now().toString(36) + '-' + Math.random().toString(36).slice(2) };
};"""


def flow_operations(hub_url: str, secret: str) -> list[dict]:
    """Two steps: draw an id for this run (the Hub stores each event once, by it), then post the event."""
    body = '{"delivery": "{{$last.delivery}}", "user": "{{$accountability.user}}", "trigger": {{$trigger}}}'
    return [
        {
            "key": "draw_delivery_id", "name": "Draw a delivery id", "type": "exec", "position_x": 19,
            "position_y": 1,
            "options": {"code": DRAW_DELIVERY_ID},
        },
        {
            "key": "post_to_hub", "name": "Post the event to the Hub", "type": "request", "position_x": 37,
            "position_y": 1,
            "options": {
                "method": "POST", "url": f"{hub_url.rstrip('/')}{WEBHOOK_PATH}",
                "headers": [{"header": SECRET_HEADER, "value": secret},
                            {"header": "Content-Type", "value": "application/json"}],
                "body": body,
            },
        },
    ]  # fmt: skip


@dataclass
class Report:
    """What a configuration run changed, per kind of thing (for the command's output and the tests)."""

    collections: int = 0
    fields: int = 0
    hidden: int = 0
    permissions: int = 0
    flow: int = 0

    def lines(self) -> list[str]:
        return [
            f"collections registered or changed: {self.collections}",
            f"fields described or changed: {self.fields}",
            f"Django tables newly hidden: {self.hidden}",
            f"Hub admin permissions created or changed: {self.permissions}",
            f"flow steps created or changed: {self.flow}",
        ]


def _subset_differs(current: dict | None, wanted: dict) -> bool:
    current = current or {}
    return any(current.get(key) != value for key, value in wanted.items())


def _configure_collections(api: DirectusClient, report: Report) -> None:
    existing = {item["collection"]: item for item in api.collections()}
    for sort, folder in enumerate(FOLDERS, start=1):
        meta = {"icon": folder.icon, "sort": sort, "collapse": "open",
                "translations": _translations(lambda folder=folder: folder.name)}  # fmt: skip
        if folder.key not in existing:
            api.collection_create(folder.key, meta)
            report.collections += 1
        elif _subset_differs(existing[folder.key].get("meta"), meta):
            api.collection_update(folder.key, meta)
            report.collections += 1
    shared = {spec.table for spec in COLLECTIONS}
    for sort, spec in enumerate(COLLECTIONS, start=1):
        meta = collection_meta(spec, sort)
        if _subset_differs(existing.get(spec.table, {}).get("meta"), meta):
            api.collection_update(spec.table, meta)
            report.collections += 1
        current = {item["field"]: item.get("meta") for item in api.fields(spec.table)}
        changed = [
            wanted for wanted in fields_meta(spec) if _subset_differs(current.get(wanted["field"]), wanted["meta"])
        ]
        if changed:
            api.fields_update(spec.table, changed)
            report.fields += len(changed)
    for name, item in existing.items():
        is_django_table = item.get("schema") is not None and not name.startswith("directus_") and name not in shared
        if is_django_table and not (item.get("meta") or {}).get("hidden"):
            api.collection_update(name, {"hidden": True, "icon": "block",
                                         "note": "Kept by the Hub (Django): not for editing here."})  # fmt: skip
            report.hidden += 1


def _configure_access(api: DirectusClient, report: Report) -> str:
    policy_meta = {
        "name": POLICY_NAME,
        "icon": "admin_panel_settings",
        "admin_access": False,
        "app_access": True,
        "description": "Edits the Hub's master data and drafts; reads its documents, payments and audit.",
    }
    policies = api.items("policies", filters={"filter[name][_eq]": POLICY_NAME})
    if policies:
        policy_id = policies[0]["id"]
        if _subset_differs(policies[0], policy_meta):
            api.update("policies", policy_id, policy_meta)
    else:
        policy_id = api.create("policies", policy_meta)["id"]
    roles = api.items("roles", filters={"filter[name][_eq]": ROLE_NAME, "fields": "id,policies.policy"})
    if not roles:
        api.create("roles", {"name": ROLE_NAME, "icon": "admin_panel_settings", "policies": [{"policy": policy_id}]})
    elif policy_id not in [link["policy"] for link in roles[0]["policies"]]:
        api.update("roles", roles[0]["id"], {"policies": {"create": [{"policy": policy_id}]}})
    existing = {
        (item["collection"], item["action"]): item
        for item in api.items("permissions", filters={"filter[policy][_eq]": policy_id})
    }
    wanted = permissions_wanted(policy_id)
    for permission in wanted:
        current = existing.pop((permission["collection"], permission["action"]), None)
        if current is None:
            api.create("permissions", permission)
        elif _subset_differs(current, permission):
            api.update("permissions", current["id"], permission)
        else:
            continue
        report.permissions += 1
    for stale in existing.values():
        api.delete("permissions", stale["id"])
        report.permissions += 1
    return policy_id


def _configure_flow(
    api: DirectusClient, report: Report, *, hub_url: str, secret: str, edited_tables: Iterable[str]
) -> str:
    flow_meta = {
        "name": FLOW_NAME, "icon": "webhook", "status": "active", "trigger": "event", "accountability": "all",
        "description": "Tells the Hub about every edit of a shared collection; it re-reads the row and processes it.",
        "options": {"type": "action", "scope": ["items.create", "items.update", "items.delete"],
                    "collections": list(edited_tables)},
    }  # fmt: skip
    flows = api.items("flows", filters={"filter[name][_eq]": FLOW_NAME})
    if flows:
        flow_id = flows[0]["id"]
        if _subset_differs(flows[0], flow_meta):
            api.update("flows", flow_id, flow_meta)
            report.flow += 1
    else:
        flow_id = api.create("flows", flow_meta)["id"]
        report.flow += 1
    operations = {item["key"]: item for item in api.items("operations", filters={"filter[flow][_eq]": flow_id})}
    next_id = None
    # Created last step first: each step names the one it resolves to.
    for wanted in reversed(flow_operations(hub_url, secret)):
        wanted = {**wanted, "flow": flow_id, "resolve": next_id}
        current = operations.get(wanted["key"])
        if current is None:
            next_id = api.create("operations", wanted)["id"]
            report.flow += 1
        else:
            next_id = current["id"]
            if _subset_differs(current, wanted):
                api.update("operations", next_id, wanted)
                report.flow += 1
    if api.items("flows", filters={"filter[id][_eq]": flow_id, "fields": "operation"})[0]["operation"] != next_id:
        api.update("flows", flow_id, {"operation": next_id})
        report.flow += 1
    return flow_id


def directus_configure(api: DirectusClient, *, hub_url: str, secret: str, edited_tables: Iterable[str]) -> Report:
    """Bring Directus to the configuration above; run again, it changes nothing.

    `edited_tables` are the collections whose edits the Flow reports to the Hub (the finance service that
    processes them owns that list).
    """
    if not secret:
        raise ValueError("HV_DIRECTUS_WEBHOOK_SECRET is empty: the Flow would post events nobody can verify")
    report = Report()
    api.schema_cache_clear()
    _configure_collections(api, report)
    _configure_access(api, report)
    _configure_flow(api, report, hub_url=hub_url, secret=secret, edited_tables=edited_tables)
    return report


def health_probe() -> dict:
    """Ask Directus (at HV_DIRECTUS_URL) how it is, and keep the answer for the status bar."""
    api = DirectusClient(settings.HV_DIRECTUS_URL, settings.HV_DIRECTUS_TOKEN)
    try:
        answer = api.health()
    except AuthorizationError:
        # Directus answers health only to an admin; without HV_DIRECTUS_TOKEN, "it answers" is all there is to know.
        state, detail = _ping_state(api)
    except ProviderError as error:
        state, detail = "down", error.message
    else:
        state = {"ok": "connected", "warn": "degraded"}.get(answer, "down")
        detail = gettext("/server/health answered “%(status)s”.") % {"status": answer or "?"}
    result = {"state": state, "detail": detail[:300], "at": timezone.now().isoformat()}
    kept_seconds = settings.HV_DIRECTUS_HEALTH_SECONDS * HEALTH_PERIODS_KEPT
    redis_client().set(DIRECTUS_HEALTH_KEY, json.dumps(result), ex=kept_seconds)
    return result


def _ping_state(api: DirectusClient) -> tuple[str, str]:
    try:
        answer = api.ping()
    except ProviderError as error:
        return "down", error.message
    if answer.strip() != "pong":
        return "down", gettext("/server/ping answered “%(answer)s”.") % {"answer": answer.strip()[:60]}
    return "connected", gettext("/server/ping answered; set HV_DIRECTUS_TOKEN for the full health check.")
