"""`make run` end to end: backing services, migrations, seed, web + worker + beat, clean Ctrl-C."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import psycopg
import pytest
from django.conf import settings
from django.db import connection

from hypervisual.database_url import database_url
from tests.settings import redis_url_with_database

# A cold start migrates and seeds a new database before the web server answers.
START_DEADLINE = 180
STOP_DEADLINE = 60
# pytest's default timeout (120 s) would cut a cold start short of its own deadline on a slower machine.
WHOLE_RUN_TIMEOUT = START_DEADLINE + STOP_DEADLINE + 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_until_healthy(base_url: str, process: subprocess.Popen) -> dict:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        assert process.poll() is None, "the Hub exited during start-up"
        try:
            status, body = get(f"{base_url}/healthz")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
            continue
        if status == 200:
            return json.loads(body)
        time.sleep(0.5)
    raise AssertionError(f"/healthz not 200 within {START_DEADLINE} s")


def processes_under(var_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(str(var_dir) in part for part in process.info["cmdline"] or []):
            found.append(process)
    return found


def server_connection_kwargs() -> dict:
    db = connection.settings_dict
    return {"host": db["HOST"], "port": db["PORT"] or 5432, "user": db["USER"], "dbname": "postgres"}


def run_hub(env: dict, var_dir: Path):
    port = free_port()
    env = {**env, "HV_VAR_DIR": str(var_dir), "HV_WEB_ADDRESS": f"127.0.0.1:{port}"}
    process = subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "scripts" / "hub.py"), "run"],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Its own process group, so that SIGINT reaches it the way Ctrl-C in a terminal does.
        start_new_session=True,
    )
    return process, f"http://127.0.0.1:{port}"


def stop_like_ctrl_c(process: subprocess.Popen) -> str:
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=STOP_DEADLINE)
    return output


def base_env() -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HV_", "DJANGO_"))}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    return env


def assert_serving_the_seeded_hub(base_url: str, process: subprocess.Popen) -> None:
    health = wait_until_healthy(base_url, process)
    assert {name: part["status"] for name, part in health["components"].items()} == {
        "database": "up",
        "redis": "up",
        "celery_worker": "up",
    }
    status, body = get(f"{base_url}/login/")
    assert status == 200
    assert "Se connecter au Hub" in body
    stylesheet = re.search(r'href="(/static/vendor/tabler/css/tabler\.min[^"]*\.css)"', body)
    assert stylesheet is not None
    assert get(f"{base_url}{stylesheet.group(1)}")[0] == 200


@pytest.mark.timeout(WHOLE_RUN_TIMEOUT)
@pytest.mark.django_db
def test_make_run_with_embedded_servers_serves_the_hub_and_stops_on_ctrl_c():
    var_dir = Path(tempfile.mkdtemp(prefix="hv-run-", dir="/tmp"))
    directus_port = free_port()
    # Installed by `make directus` (make test does it), Directus runs beside the Hub on the same database.
    process, base_url = run_hub({**base_env(), "HV_DIRECTUS_PORT": str(directus_port)}, var_dir)
    try:
        assert_serving_the_seeded_hub(base_url, process)
        directus_url = f"http://127.0.0.1:{directus_port}"
        assert get(f"{directus_url}/server/ping") == (200, "pong")
        token = json.loads((var_dir / "directus.json").read_text())["admin_token"]
        flows = urllib.request.Request(  # noqa: S310 - loopback only
            f"{directus_url}/flows?fields=name,status,operations.options",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(flows, timeout=10) as answer:  # noqa: S310 - loopback only
            (flow,) = json.load(answer)["data"]
        assert (flow["name"], flow["status"]) == ("Hub: edits of shared collections", "active")
        assert f"{base_url}/webhooks/directus/" in [step["options"].get("url") for step in flow["operations"]]
    finally:
        output = stop_like_ctrl_c(process)

    assert process.returncode == 0, output
    assert "embedded PostgreSQL ready" in output
    assert "embedded Redis ready" in output
    assert "Demo group seeded: 5 companies." in output
    assert "ceo             CEO          all companies" in output
    assert "Demo logins (password: hypervisual-demo):" in output
    assert (
        "Second factor of the CEO and finance logins: add the key GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ to an "
        "authenticator app" in output
    )
    password = json.loads((var_dir / "directus.json").read_text())["admin_password"]
    assert f"Directus admin on http://127.0.0.1:{directus_port}/admin  login admin@example.com / {password}" in output
    assert "Directus stopped" in output
    assert (var_dir / "directus.json").stat().st_mode & 0o777 == 0o600
    assert (var_dir / "pgdata" / "PG_VERSION").exists()
    assert (var_dir / "secret_key").stat().st_mode & 0o777 == 0o600
    assert processes_under(var_dir) == []


@pytest.mark.timeout(WHOLE_RUN_TIMEOUT)
@pytest.mark.django_db
def test_make_run_with_configured_servers_starts_nothing_embedded():
    database = f"hv_run_probe_{os.getpid()}"
    with psycopg.connect(**server_connection_kwargs(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
        admin.execute(f'CREATE DATABASE "{database}"')
    env = {
        **base_env(),
        "DATABASE_URL": database_url({**connection.settings_dict, "NAME": database}),
        "REDIS_URL": redis_url_with_database(settings.REDIS_URL, 10),
        # Switched off even where installed: no Directus is started.
        "HV_DIRECTUS": "0",
    }
    var_dir = Path(tempfile.mkdtemp(prefix="hv-run-", dir="/tmp"))
    process, base_url = run_hub(env, var_dir)
    try:
        assert_serving_the_seeded_hub(base_url, process)
    finally:
        output = stop_like_ctrl_c(process)
        with psycopg.connect(**{**server_connection_kwargs(), "dbname": database}) as probe:
            companies = probe.execute("SELECT count(*) FROM finance_company").fetchone()
        with psycopg.connect(**server_connection_kwargs(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    assert process.returncode == 0, output
    assert "using DATABASE_URL from the environment" in output
    assert "Directus" not in output
    assert "using REDIS_URL from the environment" in output
    assert "embedded" not in output
    assert not (var_dir / "pgdata").exists()
    assert companies == (5,)
