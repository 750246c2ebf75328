"""ERPNext v15 (Frappe) REST API, read only: the Hub shows ERPNext's stock, purchase orders, leave and suppliers.

Contract: ../shared/research/api-contracts.md §5. Calls carry `Authorization: token <key>:<secret>`;
lists are `GET /api/resource/<DocType>` with JSON-encoded `fields` and `filters`, paged by
`limit_start`/`limit_page_length` (ERPNext's default page is 20 rows), answered as `{"data": [...]}`;
methods answer `{"message": ...}`. Errors carry `exc_type`, `exception` and `_server_messages` (a JSON
list of JSON objects with a `message`, sometimes HTML). The client has no write method: the hub is
read-only by construction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

import requests

from integrations.clients.base import BaseClient, PermanentProviderError

# Rows asked per page; a shorter page is the last one.
PAGE_LENGTH = 500
# Pages read at most for one list: 500 × 200 rows is far beyond a company's stock or suppliers.
MAX_PAGES = 200
TAGS = re.compile(r"<[^>]+>")

Filters = Sequence[Sequence[Any]] | dict[str, Any]


class ERPNextClient(BaseClient):
    provider = "erpnext"

    def __init__(self, base_url: str, *, api_key: str, api_secret: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self.api_key, self.api_secret = api_key, api_secret

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.api_key}:{self.api_secret}"}

    def error_message(self, response: requests.Response) -> str:
        """Frappe's words for a refusal: its user-facing messages, else the exception, else its type."""
        try:
            body = response.json()
        except ValueError:
            return super().error_message(response)
        if not isinstance(body, dict):
            return super().error_message(response)
        messages = _server_messages(body.get("_server_messages"))
        if messages:
            return "; ".join(messages)[:300]
        exception = body.get("exception")
        if isinstance(exception, str) and exception.strip():
            return exception.strip().splitlines()[-1].split(": ", 1)[-1][:300]
        return str(body.get("exc_type") or body.get("message") or response.reason)[:300]

    # Reads
    def logged_user(self) -> str:
        """The user the key belongs to: the cheapest real call, for "Tester la connexion"."""
        return str(self.request("GET", "/api/method/frappe.auth.get_logged_user").data["message"])

    def resource_list(
        self, doctype: str, *, fields: Sequence[str], filters: Filters | None = None, order_by: str = "",
        parent: str = "", page_length: int = PAGE_LENGTH,
    ) -> list[dict]:  # fmt: skip
        """Every row of a DocType matching the filters, read page by page to the end.

        A child table (e.g. `Item Reorder`) is read with its `parent` DocType, as Frappe requires.
        """
        return list(self.resource_pages(doctype, fields=fields, filters=filters, order_by=order_by, parent=parent,
                                        page_length=page_length))  # fmt: skip

    def resource_pages(
        self, doctype: str, *, fields: Sequence[str], filters: Filters | None = None, order_by: str = "",
        parent: str = "", page_length: int = PAGE_LENGTH,
    ) -> Iterator[dict]:  # fmt: skip
        params: dict[str, str | int] = {"fields": json.dumps(list(fields)), "limit_page_length": page_length}
        if parent:
            params["parent"] = parent
        if filters:
            params["filters"] = json.dumps(filters if isinstance(filters, dict) else [list(f) for f in filters])
        if order_by:
            params["order_by"] = order_by
        for page in range(MAX_PAGES):
            rows = self.request(
                "GET", f"/api/resource/{quote(doctype)}", params={**params, "limit_start": page * page_length}
            ).data
            rows = rows.get("data") if isinstance(rows, dict) else None
            if not isinstance(rows, list):
                raise PermanentProviderError(self.provider, f"{doctype}: the answer holds no list of rows")
            yield from rows
            if len(rows) < page_length:
                return
        raise PermanentProviderError(self.provider, f"{doctype}: more than {MAX_PAGES} pages of {page_length} rows")


def _server_messages(raw: Any) -> list[str]:
    """Frappe's `_server_messages`: a JSON string of a list of JSON strings, each an object with `message`."""
    if not isinstance(raw, str):
        return []
    try:
        items = json.loads(raw)
    except ValueError:
        return []
    messages = []
    for item in items if isinstance(items, list) else []:
        try:
            decoded = json.loads(item) if isinstance(item, str) else item
        except ValueError:
            decoded = {"message": item}
        text = decoded.get("message") if isinstance(decoded, dict) else None
        if isinstance(text, str) and text.strip():
            messages.append(" ".join(TAGS.sub("", text).split()))
    return messages
