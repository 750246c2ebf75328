"""State of the provider sandboxes: JSON documents in Redis, so every web process and worker shares it.

A sandbox keeps each of its objects (a business, a token, an authorization code) as one JSON document
under its own key prefix. Read-modify-write goes through `JsonStore.update`, which holds a Redis lock
on the document, so two processes changing the same document never lose each other's change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from integrations.health import redis_client

# A lock is released on its own after this long, so a process killed while holding it blocks nobody for good.
LOCK_SECONDS = 30
# How long `update` waits for a lock another process holds before giving up.
LOCK_WAIT_SECONDS = 10


class DocumentMissing(LookupError):
    """`update` found no document under the name."""


class JsonStore:
    """JSON documents under one Redis key prefix, e.g. `hv:sandbox:revolut`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    def get(self, name: str) -> Any:
        """The document under `name`, or None."""
        return _loads(redis_client().get(self.key(name)))

    def put(self, name: str, document: Any, *, ttl_seconds: int | None = None) -> None:
        redis_client().set(self.key(name), json.dumps(document), ex=ttl_seconds)

    def put_new(self, name: str, document: Any) -> None:
        """Store the document unless one is there already (atomically: two first writers cannot both win)."""
        redis_client().set(self.key(name), json.dumps(document), nx=True)

    def pop(self, name: str) -> Any:
        """Read and delete in one step: a document that may be used only once (an authorization code)."""
        return _loads(redis_client().getdel(self.key(name)))

    def delete(self, name: str) -> None:
        redis_client().delete(self.key(name))

    @contextmanager
    def update(self, name: str) -> Iterator[Any]:
        """Lock the document, yield it for changing in place, and write it back when the block ends.

        A missing document raises DocumentMissing; an exception in the block leaves the stored one as it was.
        """
        client = redis_client()
        key = self.key(name)
        with client.lock(f"{key}:lock", timeout=LOCK_SECONDS, blocking_timeout=LOCK_WAIT_SECONDS):
            document = _loads(client.get(key))
            if document is None:
                raise DocumentMissing(key)
            yield document
            client.set(key, json.dumps(document), keepttl=True)

    def reference(self, credential: str) -> str:
        """A name for an account's credential that says nothing of it (a hash), kept to find the credential
        back: queued messages and worker logs carry the reference, never the API key or token itself."""
        reference = hashlib.sha256(credential.encode()).hexdigest()[:32]
        self.put(f"reference:{reference}", credential)
        return reference

    def dereference(self, reference: str) -> str | None:
        return self.get(f"reference:{reference}")

    def add_to_set(self, name: str, member: str) -> None:
        redis_client().sadd(self.key(name), member)

    def set_members(self, name: str) -> list[str]:
        return sorted(member.decode() for member in redis_client().smembers(self.key(name)))


def _loads(raw: bytes | None) -> Any:
    return None if raw is None else json.loads(raw)
