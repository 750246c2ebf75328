"""Directus 11 REST API, as `manage.py directus_configure` uses it: collections, fields, access, flows.

Contract: ../shared/research/directus-local.md (tested against Directus on this machine). Calls carry
`Authorization: Bearer <static admin token>`; answers are `{"data": …}`; errors
`{"errors": [{"message", "extensions": {"code"}}]}`. Django's tables exist before Directus looks at
them, so they are registered with PATCH (POST would answer "already exists"), never created or deleted:
`DELETE /collections/<table>` drops the table.
"""

from __future__ import annotations

from typing import Any

import requests

from integrations.clients.base import BaseClient


class DirectusClient(BaseClient):
    provider = "directus"

    def __init__(self, base_url: str, token: str, **kwargs: Any) -> None:
        super().__init__(base_url, scope="group", **kwargs)
        self.token = token

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def error_message(self, response: requests.Response) -> str:
        try:
            errors = response.json().get("errors") or []
        except (ValueError, AttributeError):
            return super().error_message(response)
        return "; ".join(str(error.get("message", "")) for error in errors)[:300] or response.reason

    def _data(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).data["data"]

    # Reads
    def health(self) -> str:
        """`/server/health`: "ok", "warn" (degraded) or "error" (answered with HTTP 503); admin token needed."""
        return str(self.request("GET", "/server/health").data.get("status") or "")

    def ping(self) -> str:
        """`/server/ping`: "pong" to anyone, as plain text."""
        return self.request("GET", "/server/ping", authenticated=False).text

    def collections(self) -> list[dict]:
        return self._data("GET", "/collections")

    def fields(self, collection: str) -> list[dict]:
        return self._data("GET", f"/fields/{collection}")

    def items(self, system_collection: str, *, filters: dict[str, str] | None = None) -> list[dict]:
        """Rows of a system collection (`policies`, `roles`, `permissions`, `flows`, `operations`)."""
        params = {"limit": "-1", **(filters or {})}
        return self._data("GET", f"/{system_collection}", params=params)

    # Writes (all idempotent in effect: the configuration sends the state it wants)
    def collection_create(self, collection: str, meta: dict) -> dict:
        """A folder: a collection without a table (`schema: null`), grouping others in the admin app."""
        return self._data("POST", "/collections", json={"collection": collection, "meta": meta, "schema": None})

    def collection_update(self, collection: str, meta: dict) -> dict:
        return self._data("PATCH", f"/collections/{collection}", json={"meta": meta}, idempotent=True)

    def fields_update(self, collection: str, fields: list[dict]) -> list[dict]:
        return self._data("PATCH", f"/fields/{collection}", json=fields, idempotent=True)

    def create(self, system_collection: str, item: dict) -> dict:
        return self._data("POST", f"/{system_collection}", json=item)

    def update(self, system_collection: str, key: str | int, item: dict) -> dict:
        return self._data("PATCH", f"/{system_collection}/{key}", json=item, idempotent=True)

    def delete(self, system_collection: str, key: str | int) -> None:
        self.request("DELETE", f"/{system_collection}/{key}")

    def schema_cache_clear(self) -> None:
        """Directus reads the schema again (after Django migrations changed it under a running Directus)."""
        self.request("POST", "/utils/cache/clear", params={"system": "true"}, idempotent=True)
