"""ERPNext read-only hub: the sandbox's Frappe API, the connection, the snapshot sync (also by a real worker),
the ERPNext page, "Create in the Hub", the dashboard's urgent items and the status of ERPNext and Directus."""

import datetime as dt
import json
import time
from decimal import Decimal
from io import StringIO

import pytest
import responses as responses_lib
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone, translation

from dashboard import selectors as dashboard_selectors
from finance.models import Role, Supplier
from finance.scope import CompanyScope
from integrations import connections, directus, erpnext
from integrations import selectors as integration_selectors
from integrations.clients.base import ProviderError
from integrations.health import DIRECTUS_HEALTH_KEY, redis_client
from integrations.models import (
    Connection,
    ErpnextLeave,
    ErpnextPurchaseOrder,
    ErpnextSnapshot,
    ErpnextStockShortage,
    ErpnextSupplier,
    Provider,
)
from integrations.tasks import erpnext_sync_all
from sandbox import erpnext as sandbox
from tests.factories import SupplierFactory

D = Decimal
KEY, SECRET = "hv-test-erpnext", "test-secret"
AUTH = {"HTTP_AUTHORIZATION": f"token {KEY}:{SECRET}"}


@pytest.fixture(autouse=True)
def _french():
    """What the Hub stores and shows outside a request is in the active language: French, as its users."""
    with translation.override("fr"):
        yield


@pytest.fixture(autouse=True)
def _empty_sandbox():
    sandbox.clear()
    redis_client().delete(DIRECTUS_HEALTH_KEY)
    yield
    sandbox.clear()


def seed_site(company, *, suppliers=()):
    sandbox.site_add("qa", api_key=KEY, api_secret=SECRET, user="hub@qa.example.ch")
    sandbox.company_seed("qa", company=company.name, abbr=company.code, currency="CHF",
                         today=timezone.localdate(), suppliers=list(suppliers))  # fmt: skip


def resource(http_client, doctype, **params):
    query = {key: json.dumps(value) if isinstance(value, list | dict) else value for key, value in params.items()}
    return http_client.get(f"/sandbox/erpnext/qa/api/resource/{doctype}", query, **AUTH)


# --- The sandbox speaks Frappe --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_sandbox_pages_filters_and_refuses_as_frappe_does(company_a):
    seed_site(company_a)
    anonymous = Client()

    page = resource(anonymous, "Item", fields=["name", "item_name"], order_by="name asc", limit_page_length=3)
    assert page.status_code == 200
    assert [row["name"] for row in page.json()["data"]] == ["QA-CABLE-PWR", "QA-CTRL-NOVA", "QA-LED-P26"]
    assert set(page.json()["data"][0]) == {"name", "item_name"}
    rest = resource(anonymous, "Item", fields=["name"], order_by="name asc", limit_page_length=3, limit_start=3)
    assert rest.json() == {"data": [{"name": "QA-TRUSS-2M"}]}
    assert len(resource(anonymous, "Item").json()["data"]) == 4  # only `name` unless fields are given
    assert resource(anonymous, "Item").json()["data"][0] == {"name": "QA-CABLE-PWR"}

    stores_between = [["Bin", "warehouse", "=", "Stores - QA"], ["actual_qty", ">=", 12], ["actual_qty", "<", 100]]
    bins = resource(anonymous, "Bin", fields=["item_code", "actual_qty"], filters=stores_between)
    assert bins.json()["data"] == [{"item_code": "QA-LED-P26", "actual_qty": 12}]
    as_dict = resource(anonymous, "Purchase Order", fields=["name"], filters={"status": "Completed"})
    assert as_dict.json()["data"] == [{"name": f"PUR-ORD-{timezone.localdate().year}-QA-003"}]
    within = resource(anonymous, "Warehouse", fields=["name"], filters=[["name", "in", ["Stores - QA", "Nowhere"]]])
    assert within.json()["data"] == [{"name": "Stores - QA"}]

    child = resource(anonymous, "Item Reorder", fields=["parent"])
    assert child.status_code == 403
    assert child.json()["exc_type"] == "PermissionError"
    assert resource(anonymous, "Item Reorder", fields=["parent"], parent="Item").status_code == 200
    missing = resource(anonymous, "Sales Order")
    assert (missing.status_code, missing.json()["exc_type"]) == (404, "DoesNotExistError")
    unknown = resource(anonymous, "Item", fields=["price"])
    assert (unknown.status_code, unknown.json()["exc_type"]) == (417, "DataError")
    assert json.loads(json.loads(unknown.json()["_server_messages"])[0])["message"] == (
        "Field not permitted in query: price"
    )
    bad_json = anonymous.get("/sandbox/erpnext/qa/api/resource/Item", {"filters": "[["}, **AUTH)
    assert bad_json.status_code == 417

    guest = anonymous.get("/sandbox/erpnext/qa/api/resource/Item")
    assert (guest.status_code, guest.json()["exc_type"]) == (403, "PermissionError")
    wrong = anonymous.get("/sandbox/erpnext/qa/api/resource/Item", HTTP_AUTHORIZATION=f"token {KEY}:nope")
    assert (wrong.status_code, wrong.json()["exc_type"]) == (401, "AuthenticationError")
    user = anonymous.get("/sandbox/erpnext/qa/api/method/frappe.auth.get_logged_user", **AUTH)
    assert user.json() == {"message": "hub@qa.example.ch"}


# --- Connection, snapshot, page ---------------------------------------------------------------------


@pytest.fixture
def erpnext_company(transactional_db, company_a, member_of, live_server, settings):
    """Company QA connected to its sandbox site over HTTP, through the settings page a person uses."""
    settings.HV_PUBLIC_URL = live_server.url
    ceo = member_of(company_a, Role.CEO, "erp-ceo")
    by_uid = SupplierFactory(company=company_a, name="Lumière Technique SA", che_uid="CHE-123.456.788")
    by_iban = SupplierFactory(company=company_a, name="Câbles & Co Sàrl", iban="CH8200700011623852957")
    seed_site(company_a, suppliers=[
        {"name": "LUMIERE TECHNIQUE", "tax_id": "CHE123456788", "street": "Quai 1", "pincode": "1201",
         "city": "Genève"},
        {"name": "Cables and Co", "iban": "CH82 0070 0011 6238 5295 7", "street": "Rue 2", "pincode": "1003",
         "city": "Lausanne"},
        {"name": "Muster Logistik AG", "tax_id": "CHE-109.322.551", "iban": "CH24 0070 0000 1234 5678 9",
         "street": "Industriestrasse 12", "pincode": "8004", "city": "Zürich", "default_currency": "CHF"},
    ])  # fmt: skip
    browser = Client()
    browser.force_login(ceo)
    response = browser.post("/integrations/erpnext/QA/", {
        "base_url": f"{live_server.url}/sandbox/erpnext/qa", "api_key": KEY, "api_secret": SECRET,
        "erpnext_company": company_a.name,
    })  # fmt: skip
    assert response.status_code == 302
    return browser, Connection.objects.get(company=company_a, provider=Provider.ERPNEXT), by_uid, by_iban


def test_a_company_connects_tests_and_reads_its_erpnext(erpnext_company, company_a):
    browser, connection, by_uid, by_iban = erpnext_company
    assert connection.secret("api_secret") == SECRET
    assert SECRET not in connection.secrets_encrypted
    assert connection.is_usable
    assert integration_selectors.connection_status(connection).code == "down"  # saved, not tested: not connected

    browser.post("/integrations/erpnext/QA/test/")
    connection.refresh_from_db()
    assert connection.last_probe_ok is True
    assert (
        connection.last_probe_detail == f"Connecté en tant que hub@qa.example.ch ; société « {company_a.name} » (CHF)."
    )

    today = timezone.localdate()
    erpnext.snapshot_refresh(connection)
    shortages = {row.item_code: row for row in ErpnextStockShortage.objects.filter(company=company_a)}
    assert set(shortages) == {"QA-LED-P26", "QA-CABLE-PWR"}  # 12 ≤ 20 and 100 ≤ 100; 6 > 4 and 10 > 6 are fine
    led = shortages["QA-LED-P26"]
    assert (led.actual_qty, led.reorder_level, led.reorder_qty, led.reorder_value, led.currency, led.warehouse) == (
        D("12"),
        D("20"),
        D("40"),
        D("12800.00"),
        "CHF",
        "Stores - QA",
    )
    assert shortages["QA-CABLE-PWR"].reorder_value == D("2500.00")
    orders = list(ErpnextPurchaseOrder.objects.filter(company=company_a).order_by("name"))
    assert [(o.name, o.grand_total, o.is_late(today)) for o in orders] == [
        (f"PUR-ORD-{today.year}-QA-001", D("4860.00"), True),
        (f"PUR-ORD-{today.year}-QA-002", D("1297.20"), False),
    ]
    assert sorted(ErpnextLeave.objects.filter(company=company_a).values_list("employee_name", flat=True)) == [
        "Marc Keller",
        "Sophie Brunner",
    ]  # Luca Rossi's leave is not approved
    assert ErpnextSupplier.objects.filter(company=company_a).count() == 3

    page = browser.get("/erpnext/?company=QA").content.decode()
    assert "LED panel P2.6 500×500" in page
    assert "CHF 12&#x27;800.00" in page
    assert f'href="{connection.base_url}/app/purchase-order/PUR-ORD-{today.year}-QA-001"' in page
    assert page.count('data-testid="late"') == 1
    assert 'data-testid="stale"' not in page
    overview = integration_selectors.erpnext_overview(companies=[company_a], today=today, now=timezone.now())
    matches = {m.erpnext.supplier_name: (m.hub, m.basis) for m in overview.suppliers}
    assert matches == {"LUMIERE TECHNIQUE": (by_uid, "uid"), "Cables and Co": (by_iban, "iban"),
                       "Muster Logistik AG": (None, "")}  # fmt: skip
    # The ERPNext link of the document opens in the sandbox's stand-in for the desk.
    desk = browser.get(f"/sandbox/erpnext/qa/app/purchase-order/PUR-ORD-{today.year}-QA-001")
    assert desk.json()["data"]["grand_total"] == 4860.0


def test_an_unmatched_supplier_is_created_in_the_hub_from_its_erpnext_data(erpnext_company, company_a):
    browser, connection, _by_uid, _by_iban = erpnext_company
    erpnext.snapshot_refresh(connection)
    muster = ErpnextSupplier.objects.get(company=company_a, supplier_name="Muster Logistik AG")
    form = browser.get(f"/suppliers/new/?erpnext={muster.pk}").content.decode()
    assert 'value="Muster Logistik AG"' in form
    assert 'value="CHE-109.322.551"' in form
    assert 'value="CH24 0070 0000 1234 5678 9"' in form
    assert 'value="Industriestrasse 12"' in form
    response = browser.post("/suppliers/new/", {
        "company": company_a.pk, "name": "Muster Logistik AG", "street": "Industriestrasse", "building_number": "12",
        "postal_code": "8004", "town": "Zürich", "country": "CH", "che_uid": "CHE-109.322.551",
        "iban": "CH24 0070 0000 1234 5678 9", "currency": "CHF",
    })  # fmt: skip
    created = Supplier.objects.get(company=company_a, name="Muster Logistik AG")
    assert response.status_code == 302
    assert response["Location"] == created.get_absolute_url()
    assert (created.iban, created.che_uid) == ("CH2400700000123456789", "CHE-109.322.551")
    page = browser.get("/erpnext/?company=QA").content.decode()
    assert "Créer dans le Hub" not in page  # all three ERPNext suppliers now have their Hub supplier
    # Another company's ERPNext supplier is not offered to a user who does not see that company.
    assert 'value="Muster' not in Client().get(f"/suppliers/new/?erpnext={muster.pk}").content.decode()


def test_a_failed_read_keeps_the_last_snapshot_and_says_why(erpnext_company, company_a):
    browser, connection, _by_uid, _by_iban = erpnext_company
    first = erpnext.snapshot_refresh(connection)
    sandbox.site_add("qa", api_key=KEY, api_secret="rotated", user="hub@qa.example.ch")  # the key was regenerated

    with pytest.raises(ProviderError):
        erpnext.snapshot_refresh(connection)
    snapshot = ErpnextSnapshot.objects.get(company=company_a)
    assert snapshot.taken_at == first.taken_at
    assert snapshot.last_error == "Invalid Authentication Token"
    assert ErpnextStockShortage.objects.filter(company=company_a).count() == 2
    page = browser.get("/erpnext/?company=QA").content.decode()
    assert "Dernière lecture échouée : Invalid Authentication Token" in page
    assert "LED panel P2.6 500×500" in page


def test_a_snapshot_older_than_its_schedule_is_shown_stale(erpnext_company, company_a, settings):
    browser, connection, _by_uid, _by_iban = erpnext_company
    settings.HV_ERPNEXT_SYNC_SECONDS, settings.HV_ERPNEXT_SYNC_GRACE_SECONDS = 900, 120
    now = timezone.now()
    erpnext.snapshot_refresh(connection, now=now - dt.timedelta(seconds=1019))
    assert 'data-testid="stale"' not in browser.get("/erpnext/?company=QA").content.decode()
    ErpnextSnapshot.objects.filter(company=company_a).update(taken_at=now - dt.timedelta(seconds=1021))
    page = browser.get("/erpnext/?company=QA").content.decode()
    assert page.count('data-testid="stale"') == 1
    assert "il y a 17\xa0minutes" in page


def test_critical_stock_and_late_orders_are_urgent_on_the_dashboard(erpnext_company, company_a):
    browser, connection, _by_uid, _by_iban = erpnext_company
    erpnext.snapshot_refresh(connection)
    scope = CompanyScope(user=get_user_model().objects.get(username="erp-ceo"))
    today, now = timezone.localdate(), timezone.now()
    items = {item.key: item for item in dashboard_selectors.urgent_items(scope=scope, user=scope.user, today=today,
                                                                         now=now)}  # fmt: skip
    assert items["erp_stock:QA"].text == (
        "2 articles au niveau de réapprovisionnement ou en dessous (ERPNext) · CHF 15'300.00 à commander"
    )
    assert items["erp_late_orders:QA"].text == (
        "1 commande fournisseur en retard (ERPNext) · CHF 4'860.00 · la plus ancienne de 5 jours"
    )
    assert items["erp_stock:QA"].link == "/erpnext/?company=QA#stock"

    sandbox.stock_set("qa", item_code="QA-LED-P26", warehouse="Stores - QA", actual_qty=50)
    erpnext.snapshot_refresh(connection)
    items = {item.key: item for item in dashboard_selectors.urgent_items(scope=scope, user=scope.user, today=today,
                                                                         now=now)}  # fmt: skip
    assert items["erp_stock:QA"].text == (
        "1 article au niveau de réapprovisionnement ou en dessous (ERPNext) · CHF 2'500.00 à commander"
    )


def test_the_beat_task_reads_every_connected_company_in_a_real_worker(erpnext_company, company_a,
                                                                      celery_worker_process):  # fmt: skip
    assert erpnext_sync_all.delay() is not None
    deadline = time.monotonic() + 60
    read = ErpnextSnapshot.objects.filter(company=company_a, taken_at__isnull=False)
    while time.monotonic() < deadline and not read.exists():
        time.sleep(0.5)
    assert ErpnextStockShortage.objects.filter(company=company_a).count() == 2


def test_demo_connects_every_company_once(transactional_db, company_a, company_b, ceo, live_server, settings):
    settings.HV_PUBLIC_URL = live_server.url
    first = StringIO()
    call_command("erpnext_connect_sandbox", stdout=first)
    assert first.getvalue().splitlines() == [
        "  QA: connected to the ERPNext sandbox (site qa)",
        "  QB: connected to the ERPNext sandbox (site qb)",
    ]
    for company in (company_a, company_b):
        connection = Connection.objects.get(company=company, provider=Provider.ERPNEXT)
        assert integration_selectors.connection_status(connection).code == "connected"
        assert ErpnextStockShortage.objects.filter(company=company).count() == 2
        assert ErpnextSupplier.objects.filter(company=company).count() == 2  # no Hub supplier yet: the two unknown
    second = StringIO()
    call_command("erpnext_connect_sandbox", stdout=second)
    assert second.getvalue().splitlines() == ["  QA: already connected", "  QB: already connected"]


# --- Status of ERPNext and Directus ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_settings_page_refuses_missing_keys_and_an_unknown_erpnext_company(company_a, member_of, http):
    ceo = member_of(company_a, Role.CEO)
    browser = Client()
    browser.force_login(ceo)
    response = browser.post(
        "/integrations/erpnext/QA/",
        {"base_url": "https://erp.example.ch", "api_key": "", "api_secret": "", "erpnext_company": "Alpha SA"},
    )
    assert response.status_code == 200
    assert "Générez les clés dans ERPNext" in response.content.decode()
    assert not Connection.objects.filter(provider=Provider.ERPNEXT).exists()

    browser.post("/integrations/erpnext/QA/", {"base_url": "https://erp.example.ch", "api_key": "k",
                                                "api_secret": "s", "erpnext_company": "Alpha SA"})  # fmt: skip
    http.get("https://erp.example.ch/api/method/frappe.auth.get_logged_user", json={"message": "api@erp.example.ch"})
    http.get("https://erp.example.ch/api/resource/Company", json={"data": []})
    connection = connections.connection_probe(Connection.objects.get(provider=Provider.ERPNEXT))
    assert (connection.last_probe_ok, connection.last_probe_detail) == (
        False,
        "ERPNext n'a pas de société nommée « Alpha SA ».",
    )
    assert http.calls[0].request.headers["Authorization"] == "token k:s"


@pytest.mark.django_db
def test_directus_pill_follows_its_health_answer(company_a, browser_ceo, http, settings):
    settings.HV_DIRECTUS_URL = "http://127.0.0.1:8055"

    def pill() -> str:
        page = browser_ceo.get("/dashboard/parts/status/", HTTP_HX_REQUEST="true").content.decode()
        return page.split('data-provider="directus" data-company="QA" data-state="')[1].split('"')[0]

    assert pill() == "down"  # never answered: not taken for connected
    http.get("http://127.0.0.1:8055/server/health", json={"status": "ok"})
    assert directus.health_probe()["state"] == "connected"
    assert pill() == "connected"
    http.replace(responses_lib.GET, "http://127.0.0.1:8055/server/health", json={"status": "warn"})
    assert directus.health_probe()["state"] == "degraded"
    assert pill() == "degraded"
    # A Directus that answers its health to admins only (no HV_DIRECTUS_TOKEN here) is asked for a pong.
    forbidden = {
        "errors": [{"message": "You don't have permission to access this.", "extensions": {"code": "FORBIDDEN"}}]
    }
    http.replace(responses_lib.GET, "http://127.0.0.1:8055/server/health", status=403, json=forbidden)
    http.get("http://127.0.0.1:8055/server/ping", body="pong")
    result = directus.health_probe()
    assert (result["state"], result["detail"]) == (
        "connected",
        "/server/ping a répondu ; définissez HV_DIRECTUS_TOKEN pour le contrôle de santé complet.",
    )
    settings.HV_DIRECTUS_URL = ""
    assert pill() == "not_configured"


@pytest.fixture
def browser_ceo(company_a, member_of):
    client = Client()
    client.force_login(member_of(company_a, Role.CEO))
    return client
