"""Reads of one page sent to PostgreSQL at the same time, each on a database connection of its own.

The dashboard's page builds nine partials whose reads do not depend on one another. One after the other,
the request waits on each statement in turn; side by side, PostgreSQL works on some while Python builds
the figures of others. Each statement already sees the database as it is when it starts (the Hub reads in
autocommit), so reading side by side shows what reading in turn would.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import tzinfo
from typing import TypeVar

from django.conf import settings
from django.db import close_old_connections, connection, connections
from django.urls import get_script_prefix, set_script_prefix
from django.utils import timezone, translation

T = TypeVar("T")


class ConcurrentReads:
    """A few threads per process, each keeping its database connection between requests as a request thread
    does (CONN_MAX_AGE, health checks)."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid: int | None = None
        self._pool_size = 0
        self._lock = threading.Lock()
        self._carried: list[ContextVar] = []

    def carry(self, variable: ContextVar) -> None:
        """Have every read take over the request's value of this context variable (HistoryRows' per-request
        state).

        Only the variables registered here: a read runs in its thread's own context, not in a copy of the
        request's. Django keeps its per-thread objects in asgiref Locals, which hold nothing for another thread, so
        in a copy each read made them anew and lost them with the copy: the cache's Redis client and its
        connection pool, a new connection to Redis per page.
        """
        if variable not in self._carried:
            self._carried.append(variable)

    def _executor(self, workers: int) -> ThreadPoolExecutor:
        # Created on first use in each process: a pool made before gunicorn forks has no threads in the child.
        with self._lock:
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dashboard-read")
                self._pool_pid, self._pool_size = os.getpid(), workers
            return self._pool

    def start(self, reads: dict[str, Callable[[], T]]) -> dict[str, Future[T]]:
        """Each read started in the given order, its future by name.

        A read may wait for the result of one started before it (the pool takes reads in the order they come, so
        every earlier read already has a thread), never for a later one.
        """
        workers = settings.HV_DASHBOARD_READ_THREADS
        # Inside a transaction the reads must see its writes, which no other connection can: one after the other.
        if workers < 2 or len(reads) < 2 or connection.in_atomic_block:
            return {name: _done(read) for name, read in reads.items()}
        executor = self._executor(workers)
        carried = {variable: variable.get() for variable in self._carried}
        request = _RequestSettings(
            translation.get_language(), timezone.get_current_timezone(), get_script_prefix(), carried
        )
        return {name: executor.submit(_read_as_the_request, read, request) for name, read in reads.items()}

    def run(self, reads: dict[str, Callable[[], T]]) -> dict[str, T]:
        """Each read's result by name; the first read that fails raises its error here."""
        return {name: future.result() for name, future in self.start(reads).items()}

    def close(self) -> None:
        """Stop the threads after closing their database connections (a test database cannot be dropped while
        connections to it are open)."""
        with self._lock:
            pool, size, self._pool = self._pool, self._pool_size, None
        if pool is None:
            return
        # Each thread takes one of these: each waits at the barrier until all are taken.
        barrier = threading.Barrier(size)
        closing = [pool.submit(_close_connections, barrier) for _ in range(size)]
        for done in closing:
            done.result()
        pool.shutdown()


def _done(read: Callable[[], T]) -> Future[T]:
    """A read run now, on this thread, as a future that holds its result or its error."""
    future: Future[T] = Future()
    try:
        future.set_result(read())
    except Exception as error:  # noqa: BLE001 - handed over whole: future.result() raises it
        future.set_exception(error)
    return future


def _close_connections(barrier: threading.Barrier) -> None:
    barrier.wait(timeout=10)
    connections.close_all()


@dataclass(frozen=True, eq=False)
class _RequestSettings:
    """What Django keeps per thread for a request, and a read on another thread must take over."""

    language: str | None
    zone: tzinfo
    script_prefix: str  # where the Hub is served (links built by reverse)
    carried: dict[ContextVar, object]  # ConcurrentReads.carry


# The request whose read a pool thread ran last.
_thread_state = threading.local()


def _read_as_the_request(read: Callable[[], T], request: _RequestSettings) -> T:
    if getattr(_thread_state, "request", None) is not request:
        # Once per request on each thread, as at the start of a request: a connection that broke (PostgreSQL
        # restarted) or outlived CONN_MAX_AGE is replaced, and the next statement checks the connection first
        # (CONN_HEALTH_CHECKS), a round trip of its own.
        close_old_connections()
        _thread_state.request = request
    set_script_prefix(request.script_prefix)
    tokens = [(variable, variable.set(value)) for variable, value in request.carried.items()]
    try:
        with translation.override(request.language), timezone.override(request.zone):
            return read()
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)


concurrent_reads = ConcurrentReads()
