"""The reliability suite: gunicorn (2 workers), a real Celery worker and the Revolut sandbox over HTTP.

Sizes come from the environment: `make test` runs a small storm and a few kills; `make reliability` the
full size (HV_RELIABILITY_STORM=10000, HV_RELIABILITY_KILLS=50). Each test prints its figures.
"""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path

import pytest
import redis
import requests
from django.apps import apps as django_apps
from django.conf import settings as django_settings
from django.db.models import Sum
from django.test import Client
from django.utils import timezone

from finance.models import BankTransaction, OutgoingPayment, Role, SupplierInvoice
from finance.services import revolut as revolut_service
from integrations import revolut as revolut_integration
from integrations.clients.revolut import sign_webhook
from integrations.health import redis_client
from integrations.models import ActionRun, Connection, WebhookDelivery
from integrations.selectors import connection_status
from sandbox import revolut as sandbox
from tests.conftest import PASSWORD, database_url_of_test_database, start_celery_worker
from tests.factories import BankAccountFactory, CompanyFactory
from tests.finance.test_banking_sync import CHF_ACCOUNT, incoming_json
from tests.integrations.test_revolut_end_to_end import approved_supplier_invoice, sandbox_transactions, wait_until

pytestmark = pytest.mark.reliability

STORM_SIZE = int(os.environ.get("HV_RELIABILITY_STORM", "400"))
KILL_TRIALS = int(os.environ.get("HV_RELIABILITY_KILLS", "3"))
DUPLICATE_SHARE, BAD_SIGNATURE_SHARE = 0.20, 0.05
SENDERS = 16
SECRET = "wsk_reliability_storm_secret_0001"
SEED = int(os.environ.get("HV_RELIABILITY_SEED", "20261206"))


def report(capsys, line: str) -> None:
    with capsys.disabled():
        print(f"\n[reliability] {line}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Shorter than a deployment's (60 s open, retries from 15 s) so that an outage and its recovery fit a test.
FAST_RECOVERY = {"HV_CIRCUIT_OPEN_SECONDS": "4", "HV_ACTION_RETRY_BASE_SECONDS": "2"}


@contextmanager
def serving(**env: str) -> Iterator[str]:
    """The Hub on gunicorn with two workers, on the test database unless `env` says otherwise; yields its URL.

    The sandbox answers on the same server; HV_PUBLIC_URL is the server's own address.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database_url_of_test_database(),
           "HV_PUBLIC_URL": url, **FAST_RECOVERY, **env}  # fmt: skip
    server = subprocess.Popen(  # noqa: S603 - our own arguments
        [str(Path(sys.executable).parent / "gunicorn"), "hypervisual.wsgi", "--workers", "2", "--bind",
         f"127.0.0.1:{port}", "--log-level", "warning"],
        env=env, cwd=django_settings.BASE_DIR,
    )  # fmt: skip
    try:
        wait_until(lambda: _answers(f"{url}/healthz"), what="gunicorn to answer", deadline=60)
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


@pytest.fixture
def gunicorn(transactional_db, settings):
    with serving() as url:
        settings.HV_PUBLIC_URL = url
        yield url


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code < 600
    except requests.RequestException:  # not listening yet, or still loading the app
        return False


@pytest.fixture
def worker(transactional_db):
    process = start_celery_worker(**FAST_RECOVERY)
    yield process
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.timeout(120 + STORM_SIZE * 0.1)
def test_a_webhook_storm_loses_nothing_and_processes_nothing_twice(gunicorn, worker, capsys):
    company = CompanyFactory(code="RS")
    connection = Connection.objects.create(company=company, provider="revolut", base_url="https://sandbox.invalid")
    connection.set_secrets(webhook_signing_secrets=SECRET)
    connection.save()
    BankAccountFactory(company=company, connection=connection, provider_account_id=CHF_ACCOUNT, currency="CHF")
    rng = random.Random(SEED)  # noqa: S311 - reproducible traffic, not a secret
    bad_count = round(STORM_SIZE * BAD_SIGNATURE_SHARE)
    duplicate_count = round(STORM_SIZE * DUPLICATE_SHARE)
    good_count = STORM_SIZE - bad_count - duplicate_count
    good = [_event(rng) for _ in range(good_count)]
    sends = [(body, True) for body in good] + [(rng.choice(good), True) for _ in range(duplicate_count)]
    sends += [(_event(rng), False) for _ in range(bad_count)]
    rng.shuffle(sends)
    url = f"{gunicorn}/webhooks/revolut/{company.code}/"

    started = time.perf_counter()
    with ThreadPoolExecutor(SENDERS) as senders:
        answers = list(senders.map(lambda send: _post(url, *send), sends))
    intake_seconds = time.perf_counter() - started
    wait_until(
        lambda: WebhookDelivery.objects.filter(verified=True, status="processed").count() == good_count,
        what="every accepted delivery processed", deadline=60 + good_count * 0.05,
    )  # fmt: skip
    processed_seconds = time.perf_counter() - started

    assert sorted(set(answers)) == [200, 401]
    assert answers.count(401) == bad_count
    verified = WebhookDelivery.objects.filter(verified=True)
    refused = WebhookDelivery.objects.filter(verified=False)
    assert verified.count() == good_count  # nothing lost
    assert verified.aggregate(total=Sum("duplicates"))["total"] == duplicate_count
    assert refused.count() + (refused.aggregate(total=Sum("duplicates"))["total"] or 0) == bad_count
    assert set(verified.values_list("status", "attempts").distinct()) == {("processed", 1)}  # nothing twice
    assert BankTransaction.objects.filter(account__company=company).count() == good_count
    report(capsys, f"webhook storm: {STORM_SIZE} Revolut deliveries ({duplicate_count} duplicates, {bad_count} "
                   f"bad signatures, shuffled, {SENDERS} senders) → {good_count} transactions, 0 lost, 0 twice, "
                   f"{bad_count} refused; intake {STORM_SIZE / intake_seconds:.0f} deliveries/s, all processed "
                   f"in {processed_seconds:.1f} s")  # fmt: skip


def _event(rng: random.Random) -> bytes:
    data = incoming_json(rng.randint(100, 99_999) / 100, transaction_id=str(uuid.UUID(int=rng.getrandbits(128))))
    return json.dumps({"event": "TransactionCreated", "timestamp": data["created_at"], "data": data}).encode()


def _post(url: str, body: bytes, signed: bool) -> int:
    timestamp = str(int(time.time() * 1000))
    signature = sign_webhook(raw_body=body, timestamp=timestamp, secret=SECRET if signed else "wsk_wrong")
    headers = {"Content-Type": "application/json", "Revolut-Request-Timestamp": timestamp,
               "Revolut-Signature": signature}  # fmt: skip
    return requests.post(url, data=body, headers=headers, timeout=30).status_code


@pytest.fixture
def connected_to_sandbox(gunicorn, member_of):
    import_module("finance.migrations.0005_seed_swiss_vat_rates").seed_rates(django_apps, schema_editor=None)
    company = CompanyFactory(code="RK", qr_iban="CH4431999123000889012")
    people = {"ceo": member_of(company, Role.CEO, "rk-ceo"), "clerk": member_of(company, Role.FINANCE, "rk-clerk"),
              "controller": member_of(company, Role.FINANCE, "rk-controller")}  # fmt: skip
    base = f"{gunicorn}/sandbox/revolut"
    client_id = f"reliability-{time.monotonic_ns()}"
    connection = revolut_integration.revolut_settings_save(
        company=company, base_url=f"{base}/api/1.0", consent_url=f"{base}/app-confirm", client_id=client_id,
        private_key="", generate_key=True, updated_by=people["ceo"],
    )  # fmt: skip
    connection = revolut_integration.revolut_consent_complete(
        connection=connection, code=sandbox.authorize(client_id), user=people["ceo"]
    )
    connection = revolut_integration.revolut_webhook_register(connection=connection, registered_by=people["ceo"])
    revolut_service.bank_accounts_sync(connection)
    yield company, people, connection
    redis_client().delete(sandbox.PAY_DELAY_KEY, sandbox.OUTAGE_KEY)


@pytest.mark.timeout(60 + KILL_TRIALS * 60)
def test_a_worker_killed_at_random_points_of_a_payout_pays_exactly_once(connected_to_sandbox, worker, capsys):
    company, people, connection = connected_to_sandbox
    rng = random.Random(SEED)  # noqa: S311 - reproducible traffic, not a secret
    current = worker
    durations = []
    for trial in range(KILL_TRIALS):
        invoice = approved_supplier_invoice(company, people, f"F-KILL-{trial}")
        # Revolut holds its answer to /pay for up to a second: the kill falls before, during or after the call.
        redis_client().set(sandbox.PAY_DELAY_KEY, str(rng.choice([0, 1])))
        started = time.perf_counter()
        payment = revolut_service.supplier_invoice_pay_revolut(invoice=invoice, requested_by=people["ceo"])
        time.sleep(rng.uniform(0, 1.5))
        current.send_signal(signal.SIGKILL)
        current.wait(timeout=10)
        current = start_celery_worker(**FAST_RECOVERY)
        try:
            # The run's end, not the invoice's "paid": the sandbox settles a payment two seconds later in a
            # Celery task of its own, which a kill in those two seconds loses (Revolut itself would not).
            wait_until(lambda p=payment: ActionRun.objects.get(action="revolut.payout", target_id=p.pk).is_final,
                       what=f"trial {trial}: the payout run to end")  # fmt: skip
        except AssertionError:
            current.terminate()
            run = ActionRun.objects.filter(action="revolut.payout").order_by("-pk").first()
            found = sandbox_transactions(connection, payment.request_id)
            raise AssertionError(
                f"trial {trial}: run {run and (run.status, run.attempts, run.last_error, run.worker)}, "
                f"{len(found)} sandbox payment(s) {[t['state'] for t in found]}"
            ) from None
        durations.append(time.perf_counter() - started)
        assert len(sandbox_transactions(connection, payment.request_id)) == 1, f"trial {trial}"
        assert OutgoingPayment.objects.filter(supplier_invoice=invoice).count() == 1
        run = ActionRun.objects.get(action="revolut.payout", target_id=payment.pk)
        assert run.status == "succeeded", f"trial {trial}"
    current.terminate()
    current.wait(timeout=30)
    report(capsys, f"worker SIGKILL during 'Payer via Revolut': {KILL_TRIALS} trials → {KILL_TRIALS} payments at "
                   f"Revolut, one each, every run succeeded; done {sorted(durations)[len(durations) // 2]:.1f} s "
                   f"after the click (median), {max(durations):.1f} s at worst")  # fmt: skip


@pytest.mark.timeout(240)
def test_a_revolut_outage_opens_the_circuit_and_the_queued_payouts_complete_after_it(
    connected_to_sandbox, worker, capsys, settings
):
    company, people, connection = connected_to_sandbox
    settings.HV_CIRCUIT_OPEN_SECONDS = int(FAST_RECOVERY["HV_CIRCUIT_OPEN_SECONDS"])
    invoices = [approved_supplier_invoice(company, people, f"F-OUT-{n}") for n in range(6)]
    redis_client().set(sandbox.OUTAGE_KEY, "500")
    started = time.perf_counter()
    payments = [revolut_service.supplier_invoice_pay_revolut(invoice=invoice, requested_by=people["ceo"])
                for invoice in invoices]  # fmt: skip

    status = wait_until(
        lambda: (found := connection_status(Connection.objects.get(pk=connection.pk))).code == "degraded" and found,
        what="the circuit to open", deadline=60,
    )  # fmt: skip
    opened_after = time.perf_counter() - started
    page = Client()
    page.force_login(people["ceo"])
    assert "Degraded" in page.get(f"/integrations/revolut/{company.code}/", HTTP_ACCEPT_LANGUAGE="en").text
    assert ActionRun.objects.filter(action="revolut.payout", status="succeeded").count() == 0
    redis_client().delete(sandbox.OUTAGE_KEY)
    recovered = time.perf_counter()

    wait_until(lambda: SupplierInvoice.objects.filter(pk__in=[i.pk for i in invoices], status="paid").count() == 6,
               what="every queued payout paid after the outage", deadline=150)  # fmt: skip
    caught_up = time.perf_counter() - recovered
    runs = ActionRun.objects.filter(action="revolut.payout")
    assert sorted(runs.values_list("status", flat=True)) == ["succeeded"] * 6
    assert all(len(sandbox_transactions(connection, payment.request_id)) == 1 for payment in payments)
    attempts = sorted(runs.values_list("attempts", flat=True))
    report(capsys, f"Revolut outage (every call 500): circuit open and page 'degraded' after {opened_after:.1f} s "
                   f"({status.detail}); the 6 queued payouts all paid {caught_up:.1f} s after recovery, once each "
                   f"(attempts {attempts})")  # fmt: skip


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of this test's own, on a free port, that the test may stop and start again."""
    port = free_port()

    def start() -> subprocess.Popen:
        command = [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", str(tmp_path)]  # fmt: skip
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603 - our own arguments
        wait_until(lambda: _redis_answers(port), what="the private Redis", deadline=20)
        return server

    holder = {"server": start(), "start": start, "url": f"redis://127.0.0.1:{port}/0"}
    yield holder
    holder["server"].terminate()
    holder["server"].wait(timeout=10)


def _redis_answers(port: int) -> bool:
    try:
        return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False


@pytest.mark.timeout(180)
def test_with_redis_stopped_pages_render_and_actions_are_refused_then_all_recovers(
    transactional_db, private_redis, member_of, capsys
):
    import_module("finance.migrations.0005_seed_swiss_vat_rates").seed_rates(django_apps, schema_editor=None)
    company = CompanyFactory(code="RR")
    people = {"ceo": member_of(company, Role.CEO, "rr-ceo"), "clerk": member_of(company, Role.FINANCE, "rr-clerk"),
              "controller": member_of(company, Role.FINANCE, "rr-controller")}  # fmt: skip
    connection = Connection.objects.create(
        company=company, provider="revolut", base_url="http://127.0.0.1:9/api/1.0", consent_required=False,
        consent_granted_at=timezone.now(), last_success_at=timezone.now(), config={"client_id": "rr"},
    )  # fmt: skip
    connection.set_secrets(refresh_token="oa_rr_refresh", private_key="unused")
    connection.save()
    BankAccountFactory(company=company, connection=connection, currency="CHF", is_payout_source=True)
    invoice = approved_supplier_invoice(company, people, "F-REDIS-1")
    env = {**FAST_RECOVERY, "REDIS_URL": private_redis["url"], "HV_TEST_REDIS_DB": "0"}
    worker = start_celery_worker(**env)
    try:
        with serving(**env) as base:
            browser = _signed_in(base, "rr-ceo")
            detail = f"/supplier-invoices/{invoice.pk}/"
            pages = ["/", detail, "/invoices/", "/integrations/", "/webhooks/"]

            private_redis["server"].terminate()
            private_redis["server"].wait(timeout=10)
            rendered = {page: browser.get(f"{base}{page}", timeout=30).status_code for page in pages}
            health = requests.get(f"{base}/healthz", timeout=30)
            refused = _post_form(browser, f"{base}{detail}pay/", detail)

            assert rendered == dict.fromkeys(pages, 200)
            assert (health.status_code, health.json()["components"]["redis"]["status"]) == (503, "down")
            assert "Actions are paused: the task queue (Redis) is not answering" in refused.text
            assert SupplierInvoice.objects.get(pk=invoice.pk).status == "approved"
            assert not ActionRun.objects.exists()

            private_redis["server"] = private_redis["start"]()
            accepted = _post_form(browser, f"{base}{detail}pay/", detail)
            assert "Actions are paused" not in accepted.text
            assert SupplierInvoice.objects.get(pk=invoice.pk).status == "scheduled"
            # The worker was never restarted: it reconnects to the broker and takes the run.
            wait_until(lambda: ActionRun.objects.get(action="revolut.payout").attempts >= 1,
                       what="the worker to take the run after Redis came back", deadline=90)  # fmt: skip
            assert requests.get(f"{base}/healthz", timeout=30).json()["components"]["redis"]["status"] == "up"
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    report(capsys, f"Redis stopped: {len(pages)} pages rendered (200), /healthz 503 with Redis down, 'Payer via "
                   f"Revolut' refused with the reason and nothing changed; Redis back: the action accepted and "
                   f"the same worker took it")  # fmt: skip


def _signed_in(base: str, username: str) -> requests.Session:
    browser = requests.Session()
    browser.get(f"{base}/login/", timeout=30)
    answer = browser.post(f"{base}/login/", timeout=30, headers={"Referer": f"{base}/login/"}, data={
        "username": username, "password": PASSWORD, "csrfmiddlewaretoken": browser.cookies["csrftoken"]})  # fmt: skip
    assert answer.url == f"{base}/", answer.url
    return browser


def _post_form(browser: requests.Session, url: str, referer_path: str) -> requests.Response:
    """POST as the page's button does; the answer followed to the page that shows the message."""
    return browser.post(url, timeout=60, data={"csrfmiddlewaretoken": browser.cookies["csrftoken"]},
                        headers={"Referer": url.rsplit(referer_path, 1)[0] + referer_path,
                                 "Accept-Language": "en"})  # fmt: skip


@pytest.fixture
def private_postgres(tmp_path, monkeypatch):
    """A PostgreSQL of this test's own (pgserver), migrated, that the test may stop and start again."""
    import pgserver
    import psycopg

    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    data = tmp_path / "pgdata"
    server = pgserver.get_server(data, cleanup_mode="stop")
    socket_dir = server.get_postmaster_info().socket_dir
    with psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True) as admin:
        admin.execute('CREATE DATABASE "hv_restart"')
    url = f"postgres://postgres@/{socket_dir}/hv_restart"
    holder = {"url": url, "socket_dir": str(socket_dir), "server": server,
              "start": lambda: pgserver.get_server(data, cleanup_mode="stop")}  # fmt: skip
    _manage(url, "migrate", "--no-input", "-v", "0")
    yield holder
    holder["server"].cleanup()


def _manage(database_url: str, *args: str) -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database_url}
    command = [sys.executable, "manage.py", *args]
    done = subprocess.run(command, env=env, cwd=django_settings.BASE_DIR, capture_output=True, text=True,  # noqa: S603
                          timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _processed_deliveries(holder: dict) -> int:
    import psycopg

    with psycopg.connect(host=holder["socket_dir"], user="postgres", dbname="hv_restart") as db:
        return db.execute("SELECT count(*) FROM integrations_webhookdelivery WHERE status = 'processed'").fetchone()[0]


@pytest.mark.timeout(300)
def test_after_a_postgresql_restart_web_and_worker_carry_on_without_a_restart(private_postgres, capsys):
    url = private_postgres["url"]
    _manage(url, "shell", "-c", (
        "from tests.factories import BankAccountFactory, CompanyFactory, ConnectionFactory\n"
        "connection = ConnectionFactory(company=CompanyFactory(code='RP'), provider='revolut')\n"
        f"connection.set_secrets(webhook_signing_secrets='{SECRET}')\nconnection.save()\n"
        "BankAccountFactory(company=connection.company, connection=connection, "
        f"provider_account_id='{CHF_ACCOUNT}', currency='CHF')"
    ))  # fmt: skip
    worker = start_celery_worker(DATABASE_URL=url)
    rng = random.Random(SEED)  # noqa: S311 - reproducible traffic, not a secret
    try:
        with serving(DATABASE_URL=url) as base:
            hook = f"{base}/webhooks/revolut/RP/"
            assert _post(hook, _event(rng), True) == 200
            wait_until(lambda: _processed_deliveries(private_postgres) == 1, what="the first delivery processed")

            private_postgres["server"].cleanup()
            down = requests.get(f"{base}/healthz", timeout=30)
            private_postgres["server"] = private_postgres["start"]()
            restarted = time.perf_counter()
            wait_until(lambda: requests.get(f"{base}/healthz", timeout=30).json()["components"]["database"]["status"]
                       == "up", what="the web app to reach the restarted database", deadline=60)  # fmt: skip
            web_back = time.perf_counter() - restarted
            answers = [_post(hook, _event(rng), True) for _ in range(5)]
            wait_until(lambda: _processed_deliveries(private_postgres) == 6, what="the worker to process again")
            worker_back = time.perf_counter() - restarted
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    assert (down.status_code, down.json()["components"]["database"]["status"]) == (503, "down")
    assert answers == [200] * 5
    report(capsys, f"PostgreSQL restarted under gunicorn and the worker (neither restarted): /healthz 503 while it "
                   f"was down, database up again {web_back:.1f} s after the restart, 5 new deliveries accepted and "
                   f"processed {worker_back:.1f} s after it")  # fmt: skip
