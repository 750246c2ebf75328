"""The ERPNext client against answers shaped as Frappe v15 gives them (api-contracts.md §5)."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from integrations.clients.base import AuthorizationError, PermanentProviderError
from integrations.clients.erpnext import ERPNextClient

BASE = "https://erp.example.ch"
BINS = f"{BASE}/api/resource/Bin"
pytestmark = pytest.mark.django_db  # the circuit breaker lives in Redis, the settings in Django


@pytest.fixture
def client():
    return ERPNextClient(BASE, api_key="k3y", api_secret="s3cr3t", scope="QA")


def query(call) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(call.request.url).query).items()}


def bins(start: int, count: int) -> dict:
    return {"data": [{"item_code": f"ITEM-{n:03d}", "warehouse": "Stores - HV", "actual_qty": n}
                     for n in range(start, start + count)]}  # fmt: skip


@responses.activate
def test_a_list_is_read_page_by_page_to_the_end_with_fields_and_filters_encoded_as_frappe_expects(client):
    responses.get(BINS, json=bins(0, 2))
    responses.get(BINS, json=bins(2, 2))
    responses.get(BINS, json=bins(4, 1))

    rows = client.resource_list(
        "Bin", fields=["item_code", "warehouse", "actual_qty"], filters=[["actual_qty", "<=", 10]],
        order_by="item_code asc", page_length=2,
    )  # fmt: skip

    assert [row["item_code"] for row in rows] == ["ITEM-000", "ITEM-001", "ITEM-002", "ITEM-003", "ITEM-004"]
    assert [query(call)["limit_start"] for call in responses.calls] == ["0", "2", "4"]
    first = query(responses.calls[0])
    assert json.loads(first["fields"]) == ["item_code", "warehouse", "actual_qty"]
    assert json.loads(first["filters"]) == [["actual_qty", "<=", 10]]
    assert (first["limit_page_length"], first["order_by"]) == ("2", "item_code asc")
    assert responses.calls[0].request.headers["Authorization"] == "token k3y:s3cr3t"


@responses.activate
def test_a_doctype_with_a_space_and_dict_filters(client):
    url = f"{BASE}/api/resource/Purchase%20Order"
    responses.get(url, json={"data": [{"name": "PUR-ORD-2026-00001", "supplier": "Swisscom (Schweiz) AG"}]})

    rows = client.resource_list("Purchase Order", fields=["name", "supplier"], filters={"docstatus": 1, "status":
                                ["in", ["To Receive and Bill", "To Receive"]]})  # fmt: skip

    assert rows == [{"name": "PUR-ORD-2026-00001", "supplier": "Swisscom (Schweiz) AG"}]
    assert json.loads(query(responses.calls[0])["filters"]) == {
        "docstatus": 1, "status": ["in", ["To Receive and Bill", "To Receive"]]
    }  # fmt: skip


@responses.activate
def test_an_exhausted_page_exactly_at_the_end_costs_one_empty_page(client):
    responses.get(BINS, json=bins(0, 2))
    responses.get(BINS, json={"data": []})

    assert len(client.resource_list("Bin", fields=["item_code"], page_length=2)) == 2
    assert len(responses.calls) == 2


@responses.activate
def test_a_validation_error_417_reads_the_server_messages_without_html(client):
    responses.get(BINS, status=417, json={
        "exc_type": "ValidationError",
        "exception": "frappe.exceptions.ValidationError: Field not permitted in query: secret_field",
        "_server_messages": json.dumps([json.dumps({"message": "Field not permitted in query: <b>secret_field</b>",
                                                    "title": "Message", "indicator": "red"})]),
    })  # fmt: skip

    with pytest.raises(PermanentProviderError) as refused:
        client.resource_list("Bin", fields=["secret_field"])

    assert (refused.value.message, refused.value.status) == ("Field not permitted in query: secret_field", 417)


@responses.activate
def test_a_refused_key_is_an_authorization_error_and_a_missing_doctype_a_clear_404(client):
    refusal = {"exc_type": "AuthenticationError", "exception": "frappe.exceptions.AuthenticationError"}
    responses.get(f"{BASE}/api/method/frappe.auth.get_logged_user", status=403, json=refusal)
    responses.get(f"{BASE}/api/resource/Leave%20Application", status=404, json={
        "exc_type": "DoesNotExistError",
        "exception": "frappe.exceptions.DoesNotExistError: DocType Leave Application not found",
    })  # fmt: skip

    with pytest.raises(AuthorizationError) as refused:
        client.logged_user()
    with pytest.raises(PermanentProviderError) as missing:
        client.resource_list("Leave Application", fields=["name"])

    assert (refused.value.status, refused.value.message) == (403, "frappe.exceptions.AuthenticationError")
    assert (missing.value.status, missing.value.message) == (404, "DocType Leave Application not found")


@responses.activate
def test_the_logged_user_is_the_connection_test(client):
    responses.get(f"{BASE}/api/method/frappe.auth.get_logged_user", json={"message": "hub@hypervisual.ch"})

    assert client.logged_user() == "hub@hypervisual.ch"


@responses.activate
def test_an_answer_without_rows_is_refused_with_the_reason(client):
    responses.get(BINS, json={"message": "not a list"})

    with pytest.raises(PermanentProviderError, match="Bin: the answer holds no list of rows"):
        client.resource_list("Bin", fields=["name"])


def test_the_client_can_only_read():
    writes = [name for name in dir(ERPNextClient) if name.split("_")[0] in ("create", "update", "delete", "post",
              "put", "patch", "submit", "cancel", "insert", "save", "set")]  # fmt: skip
    assert writes == []
