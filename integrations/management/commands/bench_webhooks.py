"""Measure verified webhook intake: signed Revolut deliveries per second into gunicorn with two workers.

The server is started as the Procfile starts it (gunicorn, `hypervisual.wsgi`, two workers, the threads of
gunicorn.conf.py) on a free loopback port, against this process's database and Redis. The senders are a few
threads on keep-alive connections, posting bodies signed before the clock starts, so the load generator costs
the shared cores little. No Celery worker runs: the tasks the server enqueued are taken off the queue afterwards
(only those), and the rows the bench made are deleted, so the database and the queue are left as found.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection as db_connection

from finance.models import Company
from hypervisual.database_url import database_url
from integrations.clients.revolut import sign_webhook
from integrations.models import Connection, Provider, WebhookDelivery
from integrations.webhooks.inbox import process_webhook_delivery

# Deliveries posted at each size; of them, this share repeats an earlier event and this share is badly signed.
SIZES = {"XS": 40, "S": 2_000, "L": 10_000}
DUPLICATE_SHARE, BAD_SIGNATURE_SHARE = 0.20, 0.05
SENDERS = 16
# The target on the 2-core machines, with the load generator on the same machine.
TARGET_PER_SECOND = 300
SECRET = "wsk_bench_webhooks_secret_0001"  # noqa: S105 - the bench's own throwaway connection
SEED = 20261206
SERVER_START_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        probe.request("GET", "/healthz")
        probe.getresponse().read()
        probe.close()
    except OSError:  # not listening yet, or still loading the app
        return False
    return True


@contextmanager
def gunicorn_serving() -> Iterator[int]:
    """The Hub on gunicorn with two workers, as the Procfile runs it, on a free loopback port; yields the port."""
    port = _free_port()
    # This process's database (under pytest: the test database, not DATABASE_URL).
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE,
           "DATABASE_URL": database_url(db_connection.settings_dict), "REDIS_URL": settings.REDIS_URL,
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1"}  # fmt: skip
    # The server's output (a warning per refused delivery among it) goes to a file, shown if it fails to start.
    with tempfile.TemporaryFile(mode="w+") as log:
        server = subprocess.Popen(  # noqa: S603 - our own arguments
            [str(Path(sys.executable).parent / "gunicorn"), "hypervisual.wsgi", "--workers", "2", "--bind",
             f"127.0.0.1:{port}", "--log-level", "warning"],
            env=env, cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + SERVER_START_SECONDS
            while not _answers(port):
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"gunicorn did not start:\n{log.read()[-3000:]}")
                time.sleep(0.2)
            yield port
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def _event_body(rng: random.Random) -> bytes:
    """A TransactionCreated delivery as Revolut sends it: an incoming transfer to one of the company's accounts."""
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    data = {
        "id": str(uuid.UUID(int=rng.getrandbits(128))), "type": "transfer", "state": "completed",
        "created_at": now, "updated_at": now, "completed_at": now, "reference": "RF18539007547034",
        "legs": [{"leg_id": str(uuid.UUID(int=rng.getrandbits(128))), "account_id": str(uuid.UUID(int=SEED)),
                  "amount": rng.randint(100, 99_999) / 100, "currency": "CHF",
                  "description": "Payment from Client Léman SA"}],
    }  # fmt: skip
    return json.dumps({"event": "TransactionCreated", "timestamp": now, "data": data}, separators=(",", ":")).encode()


def _signed(body: bytes, secret: str) -> tuple[bytes, dict[str, str]]:
    timestamp = str(int(time.time() * 1000))
    # The TLS proxy in front of the Hub says the request came over HTTPS (SECURE_PROXY_SSL_HEADER).
    headers = {"Content-Type": "application/json", "X-Forwarded-Proto": "https", "Revolut-Request-Timestamp": timestamp,
               "Revolut-Signature": sign_webhook(raw_body=body, timestamp=timestamp, secret=secret)}  # fmt: skip
    return body, headers


def _deliveries(count: int) -> tuple[list[tuple[bytes, dict[str, str]]], dict[str, int]]:
    """Every request to post, signed and shuffled, and how many of each kind they hold."""
    rng = random.Random(SEED)  # noqa: S311 - reproducible traffic, not a secret
    bad = round(count * BAD_SIGNATURE_SHARE)
    duplicates = round(count * DUPLICATE_SHARE)
    good = [_event_body(rng) for _ in range(count - bad - duplicates)]
    sends = [_signed(body, SECRET) for body in good] + [_signed(rng.choice(good), SECRET) for _ in range(duplicates)]
    sends += [_signed(_event_body(rng), "wsk_not_the_secret") for _ in range(bad)]
    rng.shuffle(sends)
    return sends, {"good": len(good), "duplicates": duplicates, "bad": bad}


def _send_all(port: int, path: str, sends: list[tuple[bytes, dict[str, str]]]) -> list[tuple[str, float]]:
    """Post every delivery from SENDERS threads; each answer as (outcome, seconds)."""

    def sender(share: list[tuple[bytes, dict[str, str]]]) -> list[tuple[str, float]]:
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        answers = []
        for body, headers in share:
            started = time.perf_counter()
            client.request("POST", path, body=body, headers=headers)
            response = client.getresponse()
            content = response.read()
            answers.append((_outcome(response.status, content), time.perf_counter() - started))
            if response.will_close:  # the next request opens a new connection
                client.close()
        client.close()
        return answers

    with ThreadPoolExecutor(SENDERS) as pool:
        shares = pool.map(sender, [sends[index::SENDERS] for index in range(SENDERS)])
        return [answer for share in shares for answer in share]


def _outcome(status: int, content: bytes) -> str:
    if status == 401:
        return "refused"
    if status == 200:
        return json.loads(content).get("status", "unexpected")
    return f"HTTP {status}"


def _company_for_bench() -> Company:
    """A company of a code no one uses, with a Revolut connection signed with the bench's secret."""
    taken = set(Company.objects.values_list("code", flat=True))
    code = next(f"{first}{second}" for first in "ZYXW" for second in "ZYXWVUTSRQ" if f"{first}{second}" not in taken)
    uids = set(Company.objects.values_list("che_uid", flat=True))
    che_uid = next(
        uid
        for number in range(999_999_999, 0, -1)
        if (uid := f"CHE-{number // 10**6:03d}.{number // 10**3 % 1000:03d}.{number % 1000:03d}") not in uids
    )
    company = Company.objects.create(
        code=code, name="Webhook bench", legal_name="Webhook bench SA", che_uid=che_uid,
        street="Rue du Banc", postal_code="1000", town="Lausanne", iban="CH9300762011623852957",
    )  # fmt: skip
    connection = Connection(company=company, provider=Provider.REVOLUT, base_url="https://bench.invalid")
    connection.set_secrets(webhook_signing_secrets=SECRET)
    connection.save()
    return company


@contextmanager
def _broker_client() -> Iterator:
    """The Redis client of the Celery broker (the database REDIS_URL names)."""
    with process_webhook_delivery.app.connection_for_write() as broker:
        yield broker.default_channel


def _kombu_bindings() -> set[bytes]:
    """The routing tables kombu writes to Redis on a first publish (a worker writes them too)."""
    with _broker_client() as channel:
        return set(channel.client.keys("_kombu.binding*"))


def _queued_tasks_remove(delivery_ids: set[int], bindings_before: set[bytes]) -> int:
    """Take the bench's processing tasks off the Celery queue (only those), so no later worker runs them, and
    the routing tables its publishing wrote if there were none before."""
    removed = 0
    with _broker_client() as channel:
        queue = process_webhook_delivery.app.conf.task_default_queue
        for key in {channel._q_for_pri(queue, priority) for priority in channel.priority_steps}:
            for raw in channel.client.lrange(key, 0, -1):
                message = json.loads(raw)
                if message.get("headers", {}).get("task") != process_webhook_delivery.name:
                    continue
                args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
                if args and args[0] in delivery_ids:
                    removed += channel.client.lrem(key, 1, raw)
        if new_bindings := set(channel.client.keys("_kombu.binding*")) - bindings_before:
            channel.client.delete(*new_bindings)
    return removed


def run(*, size: str = "S", out=None) -> dict:
    """Post the deliveries of `size` to a fresh gunicorn, print the figures to `out`, return them."""
    write = (lambda line: out.write(line + "\n")) if out is not None else (lambda line: None)
    sends, planned = _deliveries(SIZES[size])
    company = _company_for_bench()
    bindings_before = _kombu_bindings()
    try:
        with gunicorn_serving() as port:
            started = time.perf_counter()
            answers = _send_all(port, f"/webhooks/revolut/{company.code}/", sends)
            seconds = time.perf_counter() - started
        delivery_ids = set(WebhookDelivery.objects.filter(company=company).values_list("pk", flat=True))
        tasks_removed = _queued_tasks_remove(delivery_ids, bindings_before)
        stored = WebhookDelivery.objects.filter(company=company, verified=True).count()
    finally:
        WebhookDelivery.objects.filter(company=company).delete()
        Connection.objects.filter(company=company).delete()
        company.delete()
    outcomes = [outcome for outcome, _seconds in answers]
    latencies = [seconds * 1000 for _outcome, seconds in answers]
    figures = {
        "size": size, "deliveries": len(sends), "senders": SENDERS, "seconds": round(seconds, 2),
        "deliveries_per_second": round(len(sends) / seconds, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(statistics.quantiles(latencies, n=20, method="inclusive")[-1], 1),
        "accepted": outcomes.count("accepted"), "duplicate": outcomes.count("duplicate"),
        "refused": outcomes.count("refused"), "other": len(outcomes) - sum(
            outcomes.count(kind) for kind in ("accepted", "duplicate", "refused")),
        "stored": stored, "tasks_removed": tasks_removed, "expected": planned,
    }  # fmt: skip
    problems = []
    if (figures["accepted"], figures["duplicate"], figures["refused"]) != (
        planned["good"],
        planned["duplicates"],
        planned["bad"],
    ):
        problems.append(f"answers differ from the {planned['good']}/{planned['duplicates']}/{planned['bad']} posted")
    if stored != planned["good"]:
        problems.append(f"{stored} verified deliveries stored, {planned['good']} expected")
    if figures["deliveries_per_second"] < TARGET_PER_SECOND:
        problems.append(f"{figures['deliveries_per_second']:.0f} deliveries/s < {TARGET_PER_SECOND}")
    figures["target_met"] = not problems
    write(f"Webhook intake (Revolut, gunicorn 2 workers), size {size}")
    write(f"  deliveries        {figures['deliveries']} ({planned['duplicates']} duplicates, {planned['bad']} "
          f"bad signatures)")  # fmt: skip
    write(f"  senders           {SENDERS} threads")
    write(f"  seconds           {figures['seconds']:.2f} s")
    write(f"  deliveries/s      {figures['deliveries_per_second']:.0f} /s")
    write(f"  latency           p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms")
    write(f"  answers           {figures['accepted']} accepted, {figures['duplicate']} duplicate, "
          f"{figures['refused']} refused, {figures['other']} other")  # fmt: skip
    write(f"  stored            {stored} verified deliveries; {tasks_removed} queued tasks removed")
    write("target met" if figures["target_met"] else f"target missed: {'; '.join(problems)}")
    return figures


class Command(BaseCommand):
    help = "Post signed Revolut webhooks to gunicorn (2 workers) and print the intake rate and latency."

    def add_arguments(self, parser):
        parser.add_argument("--size", choices=list(SIZES), default="S", help="XS (tests), S (default) or L.")

    def handle(self, *args, size: str, **options):
        run(size=size, out=self.stdout)
