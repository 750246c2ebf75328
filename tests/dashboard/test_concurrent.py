"""The page's reads side by side on connections of their own (dashboard.concurrent)."""

import re
import threading
import time
from collections import defaultdict
from unittest import mock

import pytest
from django.core.cache import caches
from django.db import close_old_connections, connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse, set_script_prefix
from django.utils import timezone, translation

from dashboard import figures
from dashboard.concurrent import concurrent_reads


def where_and_how() -> tuple[str, str, str]:
    return threading.current_thread().name, translation.get_language(), timezone.get_current_timezone_name()


@pytest.fixture
def served_under_hub():
    """The Hub served under /hub/ (a reverse proxy's sub-path): what the request handler sets per thread."""
    set_script_prefix("/hub/")
    yield
    set_script_prefix("/")


@pytest.mark.django_db(transaction=True)
def test_reads_run_on_the_threads_in_the_request_language_time_zone_and_path(served_under_hub):
    def where_and_how_with_a_link():
        return (*where_and_how(), reverse("dashboard:home"))

    with translation.override("de"), timezone.override("America/New_York"):
        results = concurrent_reads.run({"one": where_and_how_with_a_link, "two": where_and_how_with_a_link})
    for thread, language, zone, link in results.values():
        assert thread.startswith("dashboard-read")
        assert (language, zone, link) == ("de", "America/New_York", "/hub/")


@pytest.mark.django_db
def test_inside_a_transaction_the_reads_stay_on_its_connection():
    """Another connection would not see what the transaction wrote (a test's data, for one)."""
    assert connection.in_atomic_block
    results = concurrent_reads.run({"one": where_and_how, "two": where_and_how})
    assert {thread for thread, _language, _zone in results.values()} == {threading.current_thread().name}


@pytest.mark.django_db(transaction=True)
@override_settings(HV_DASHBOARD_READ_THREADS=1)
def test_one_thread_reads_one_after_the_other_on_the_request_connection():
    results = concurrent_reads.run({"one": where_and_how, "two": where_and_how})
    assert {thread for thread, _language, _zone in results.values()} == {threading.current_thread().name}


@pytest.mark.django_db(transaction=True)
def test_a_failing_read_raises_its_error():
    with pytest.raises(ZeroDivisionError):
        concurrent_reads.run({"fine": where_and_how, "broken": lambda: 1 / 0})


@pytest.mark.django_db(transaction=True)
def test_reads_wait_for_one_started_before_them_even_with_every_thread_busy():
    """The page's partials wait for the shared reads started first: eight waiting reads on four threads."""
    release = threading.Event()

    def shared() -> str:
        release.wait(timeout=10)
        return threading.current_thread().name

    started = concurrent_reads.start({"shared": shared, "other": where_and_how})
    waiting = concurrent_reads.start({str(n): lambda n=n: (n, started["shared"].result()) for n in range(8)})
    release.set()
    results = {name: future.result(timeout=10) for name, future in waiting.items()}
    shared_thread = started["shared"].result()
    assert shared_thread.startswith("dashboard-read")
    assert results == {str(n): (n, shared_thread) for n in range(8)}


@pytest.mark.django_db(transaction=True)
@override_settings(HV_DASHBOARD_READ_THREADS=1)
def test_one_thread_starts_each_read_at_once_and_keeps_its_error_for_the_result():
    started = concurrent_reads.start({"fine": where_and_how, "broken": lambda: 1 / 0})
    assert all(future.done() for future in started.values())
    assert started["fine"].result()[0] == threading.current_thread().name
    with pytest.raises(ZeroDivisionError):
        started["broken"].result()


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def backends_alive(pids: set[int]) -> set[int]:
    """Which of these PostgreSQL backends still run, once those closed have had a moment to exit."""
    for _attempt in range(50):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", [list(pids)])
            alive = {row[0] for row in cursor.fetchall()}
        if not alive:
            break
        time.sleep(0.1)
    return alive


def connections_of_the_threads() -> set[int]:
    """The backend of each of the four threads: each read waits until the four threads hold one."""
    every_thread = threading.Barrier(4)

    def connection_of_a_thread():
        every_thread.wait(timeout=10)
        return backend_pid()

    return set(concurrent_reads.run({str(n): connection_of_a_thread for n in range(4)}).values())


@pytest.mark.django_db(transaction=True)
def test_a_thread_whose_connection_was_cut_reads_on_a_new_one():
    """As a request thread after PostgreSQL restarted: the connection is checked and replaced, no error."""
    cut = connections_of_the_threads()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [list(cut)])
    assert backends_alive(cut) == set()
    again = connections_of_the_threads()
    assert len(again) == 4
    assert again.isdisjoint(cut)


@pytest.mark.django_db(transaction=True)
def test_each_thread_checks_its_connection_once_per_request():
    """As a request thread does at its start; each further read of the same request on that thread goes straight to
    its statements (a health check is a round trip of its own)."""
    with mock.patch("dashboard.concurrent.close_old_connections", wraps=close_old_connections) as checked:
        threads_of_each_request = [
            {thread for thread, _language, _zone in concurrent_reads.run({str(n): where_and_how for n in range(8)})
             .values()}
            for _request in range(2)
        ]  # fmt: skip
    assert checked.call_count == sum(len(threads) for threads in threads_of_each_request)
    assert checked.call_count <= 8


@pytest.mark.django_db(transaction=True)
def test_each_thread_keeps_what_django_made_for_it_from_one_request_to_the_next():
    """The cache's Redis client and its connection pool, made on a read thread, serve that thread's later reads. Run
    in a copy of the request's context, a read dropped them with the copy: each page opened a connection to Redis."""

    def cache_of_the_thread():
        time.sleep(0.01)  # long enough for the reads to spread over the threads
        return threading.current_thread().name, caches["default"]

    caches_of_each_thread = defaultdict(list)  # the caches kept alive, so that no two share an id
    for _request in range(3):
        for thread, cache in concurrent_reads.run({str(n): cache_of_the_thread for n in range(8)}).values():
            caches_of_each_thread[thread].append(cache)
    assert len(caches_of_each_thread) > 1
    assert all(thread.startswith("dashboard-read") for thread in caches_of_each_thread)
    assert all(len({id(cache) for cache in kept}) == 1 for kept in caches_of_each_thread.values())


@pytest.mark.django_db(transaction=True)
def test_close_closes_the_connection_of_every_thread():
    pids = connections_of_the_threads()
    assert len(pids) == 4
    assert backend_pid() not in pids
    concurrent_reads.close()
    assert backends_alive(pids) == set()
    assert backend_pid() not in pids  # the request's own connection stays


def without_csrf_tokens(html: str) -> str:
    """Each rendering masks the token anew."""
    return re.sub(r'(csrfmiddlewaretoken" value="|x-csrftoken": ")[A-Za-z0-9]{64}', r"\1", html)


@pytest.mark.django_db(transaction=True)
def test_the_page_read_side_by_side_is_the_page_read_one_after_the_other(dataset, client, ceo):
    client.force_login(ceo)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "de"  # not the default language: the threads must take the request's
    with override_settings(HV_DASHBOARD_READ_THREADS=1), CaptureQueriesContext(connection) as one_by_one:
        serial = client.get("/")
    with (
        CaptureQueriesContext(connection) as side_by_side,
        mock.patch.object(figures, "history_version", wraps=figures.history_version) as asked,
    ):
        parallel = client.get("/")
    assert asked.call_count == 1  # the threads share what the request read of the history's version
    assert (serial.status_code, parallel.status_code) == (200, 200)
    assert "Offene Debitoren" in serial.content.decode()
    assert without_csrf_tokens(parallel.content.decode()) == without_csrf_tokens(serial.content.decode())
    # The request's own connection sent only the session's, the user's and the scope's statements.
    assert len(side_by_side.captured_queries) < len(one_by_one.captured_queries) - 10
