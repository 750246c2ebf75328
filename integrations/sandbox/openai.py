"""The OpenAI sandbox: a stand-in for the Responses API and the models list, with no intelligence at all.

An answer's output text is JSON built from the request's schema alone: an enum gives its first value, an
integer a value within its bounds chosen from a hash of the input (the same input, the same number), a
string the start of the input text, an object each of its properties. Tests and the demo may queue
scripted answers per API key: a given output text (e.g. invalid JSON) or an HTTP error.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from integrations.sandbox.store import JsonStore

store = JsonStore("hv:sandbox:openai")
MODELS = ("gpt-4.1-mini", "gpt-4.1", "gpt-4o-mini")
# Characters of the input a generated string repeats.
STRING_CHARS = 120


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, error_type: str = "invalid_request_error", code=None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": error_type, "param": None, "code": code}}


def key_add(api_key: str) -> None:
    """Accept this API key (the connect command registers one per company)."""
    store.add_to_set("keys", api_key)


def authenticate(authorization: str) -> str:
    api_key = authorization.removeprefix("Bearer ").strip()
    if not authorization.startswith("Bearer ") or api_key not in store.set_members("keys"):
        raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
    return api_key


def script_push(api_key: str, *, status: int = 200, output_text: str | None = None) -> None:
    """Queue the next answer for this key: an HTTP error (`status` ≥ 400) or a given output text."""
    queue = store.get(f"script:{api_key}") or []
    queue.append({"status": status, "output_text": output_text})
    store.put(f"script:{api_key}", queue)


def _script_pop(api_key: str) -> dict | None:
    queue = store.get(f"script:{api_key}") or []
    if not queue:
        return None
    store.put(f"script:{api_key}", queue[1:])
    return queue[0]


def models_list() -> dict:
    return {"object": "list", "data": [{"id": model, "object": "model", "created": 1715367049,
                                         "owned_by": "system"} for model in MODELS]}  # fmt: skip


def _input_text(body: dict) -> str:
    parts: list[str] = []
    source = body.get("input")
    if isinstance(source, str):
        return source
    for message in source or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and part.get("type") == "input_text":
                parts.append(str(part.get("text", "")))
    return "\n".join(parts)


def instance_of(schema: dict, text: str, path: str = "") -> Any:
    """A value conforming to `schema`, from the schema and the input text only."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return instance_of(schema["anyOf"][0], text, path)
    seed = int(hashlib.sha256(f"{path}:{text}".encode()).hexdigest(), 16)
    if kind == "object":
        return {name: instance_of(sub, text, f"{path}.{name}") for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [instance_of(schema.get("items", {}), text, f"{path}[0]")]
    if kind == "integer":
        low, high = schema.get("minimum", 0), schema.get("maximum", 100)
        return low + seed % (high - low + 1)
    if kind == "number":
        return float(schema.get("minimum", 0))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return " ".join(text.split())[:STRING_CHARS] or "sandbox"


def response_create(api_key: str, body: dict) -> dict:
    """The Responses API's answer to `body` (or the scripted one queued for this key)."""
    if not isinstance(body, dict) or not body.get("model") or "input" not in body:
        raise ApiError(400, "Missing required parameter: 'model' and 'input'.")
    text_format = (body.get("text") or {}).get("format") or {"type": "text"}
    scripted = _script_pop(api_key)
    if scripted and scripted["status"] >= 400:
        raise ApiError(scripted["status"], "The server had an error while processing your request.",
                       error_type="server_error")  # fmt: skip
    if scripted and scripted["output_text"] is not None:
        output_text = scripted["output_text"]
    elif text_format.get("type") == "json_schema":
        output_text = json.dumps(instance_of(text_format.get("schema") or {}, _input_text(body)), ensure_ascii=False)
    else:
        output_text = _input_text(body)[:STRING_CHARS]
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    now = int(time.time())
    return {
        "id": f"resp_{digest[:48]}", "object": "response", "created_at": now, "status": "completed",
        "error": None, "incomplete_details": None, "model": body["model"],
        "output": [{"type": "message", "id": f"msg_{digest[8:56]}", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "annotations": [], "text": output_text}]}],
        "parallel_tool_calls": True, "previous_response_id": None, "store": True, "temperature": 1.0, "top_p": 1.0,
        "text": {"format": text_format}, "tool_choice": "auto", "tools": [], "truncation": "disabled", "metadata": {},
        "usage": {"input_tokens": len(json.dumps(body)) // 4, "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens": len(output_text) // 4, "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": (len(json.dumps(body)) + len(output_text)) // 4},
    }  # fmt: skip
