"""The production-shaped stack in docker/, checked by construction: no Docker engine is needed."""

import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
APP_SERVICES = ("web", "worker", "beat")
# Where the image keeps the repository (Dockerfile WORKDIR).
APP_DIR = "/app"

APP_ENVIRONMENT = {
    "DATABASE_URL": "postgres://hub:${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}@postgres:5432/hypervisual",
    "REDIS_URL": "redis://redis:6379/0",
    "DJANGO_SECRET_KEY": "${DJANGO_SECRET_KEY:?set DJANGO_SECRET_KEY}",
    "DJANGO_ALLOWED_HOSTS": "${DJANGO_ALLOWED_HOSTS:?set DJANGO_ALLOWED_HOSTS}",
    "HV_HTTPS": "${HV_HTTPS:-1}",
    "HV_TRUSTED_PROXY_COUNT": "${HV_TRUSTED_PROXY_COUNT:-1}",
    "HV_MEDIA_ROOT": "/app/var/media",
    "HV_SECRETS_KEYS": "${HV_SECRETS_KEYS:?set HV_SECRETS_KEYS}",
    "HV_PUBLIC_URL": "${HV_PUBLIC_URL:?set HV_PUBLIC_URL}",
    "HV_DIRECTUS_URL": "http://directus:8055",
    "HV_DIRECTUS_TOKEN": "${HV_DIRECTUS_TOKEN:?set HV_DIRECTUS_TOKEN}",
    "HV_DIRECTUS_WEBHOOK_SECRET": "${HV_DIRECTUS_WEBHOOK_SECRET:?set HV_DIRECTUS_WEBHOOK_SECRET}",
}
SCRIPT_COMMANDS = {
    "start-web.sh": 'exec gunicorn hypervisual.wsgi --bind 0.0.0.0:8000 --workers "${WEB_CONCURRENCY:-3}" '
    "--access-logfile -",
    "start-worker.sh": "exec celery --app hypervisual worker --loglevel INFO",
    "start-beat.sh": "exec celery --app hypervisual beat --loglevel INFO --schedule /tmp/celerybeat-schedule "
    "--enable-remote-control",
    "entrypoint.sh": 'exec "$@"',
}
# A Compose variable reference, $NAME or ${NAME...}; `$$` is a literal dollar sign.
COMPOSE_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


@pytest.fixture(autouse=True)
def _clear_cache():
    """Replaces the suite's cache-clearing fixture: these tests touch neither Redis nor the database."""


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of docker/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DOCKER / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append((keyword.upper(), " ".join(arguments.split())))
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(index for index, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def strings_in(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def compose_variables(compose: dict) -> set[str]:
    return {name for text in strings_in(compose) for name in COMPOSE_VARIABLE.findall(text.replace("$$", ""))}


def script_path(container_path: str) -> Path:
    """The repository file behind a path of the image (/app/docker/x.sh -> docker/x.sh)."""
    assert container_path.startswith(f"{APP_DIR}/docker/")
    return ROOT / container_path.removeprefix(f"{APP_DIR}/")


# --- compose.yaml ---------------------------------------------------------------------------------


def test_compose_has_the_services_with_their_images_and_commands(services):
    assert sorted(services) == ["beat", "directus", "directus-configure", "postgres", "redis", "web", "worker"]
    assert services["postgres"]["image"] == "postgres:15-alpine"
    assert services["redis"]["image"] == "redis:7-alpine"
    assert services["redis"]["command"] == ["redis-server", "--appendonly", "yes"]
    assert "command" not in services["postgres"]
    for name in APP_SERVICES:
        assert services[name]["image"] == "hypervisual-hub"
        assert services[name]["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
        assert services[name]["init"] is True
    assert services["web"]["command"] == ["/app/docker/start-web.sh"]
    assert services["worker"]["command"] == ["/app/docker/start-worker.sh"]
    assert services["beat"]["command"] == ["/app/docker/start-beat.sh"]


def test_compose_shares_the_app_definition_through_the_anchor(compose, services):
    for name in APP_SERVICES:
        for key in ("build", "image", "init", "restart", "env_file", "volumes", "depends_on"):
            assert services[name][key] == compose["x-hub"][key]
    assert services["worker"]["environment"] == compose["x-hub"]["environment"]
    assert services["beat"]["environment"] == compose["x-hub"]["environment"]


def test_every_service_restarts_unless_stopped(services):
    restarts = {name: service["restart"] for name, service in services.items()}
    # The configuration step runs once per start of the stack; it is repeated only when it failed.
    assert restarts == {**dict.fromkeys(services, "unless-stopped"), "directus-configure": "on-failure"}


def test_every_service_has_a_healthcheck(services):
    tests = {name: service["healthcheck"].get("test") for name, service in services.items()}
    assert tests["postgres"] == ["CMD", "pg_isready", "--username", "hub", "--dbname", "hypervisual"]
    assert tests["redis"] == ["CMD-SHELL", "redis-cli ping | grep -qx PONG"]
    assert tests["web"][:3] == ["CMD", "python", "-c"]
    assert len(tests["web"]) == 4
    assert tests["worker"] == [
        "CMD-SHELL",
        "celery --app hypervisual inspect ping --destination celery@$$HOSTNAME --timeout 10",
    ]
    assert tests["beat"] == [
        "CMD-SHELL",
        "celery --app hypervisual inspect ping --destination celerybeat@$$HOSTNAME --timeout 10",
    ]
    assert tests["directus"] == ["CMD-SHELL", "wget -qO- http://127.0.0.1:8055/server/ping | grep -qx pong"]
    assert services["directus-configure"]["healthcheck"] == {"disable": True}
    for name, service in services.items():
        if name != "directus-configure":
            assert set(service["healthcheck"]) == {"test", "interval", "timeout", "retries", "start_period"}


def test_app_services_wait_for_healthy_postgres_and_redis(services):
    for name in APP_SERVICES:
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
    assert "depends_on" not in services["postgres"]
    assert "depends_on" not in services["redis"]


def test_app_environment(services):
    for name in APP_SERVICES:
        assert services[name]["env_file"] == [{"path": "../.env", "required": False}]
    assert services["worker"]["environment"] == APP_ENVIRONMENT
    assert services["beat"]["environment"] == APP_ENVIRONMENT
    assert services["web"]["environment"] == {
        **APP_ENVIRONMENT,
        "HV_MIGRATE_ON_START": "1",
        "WEB_CONCURRENCY": "${WEB_CONCURRENCY:-3}",
    }


def test_backing_services_environment(services):
    assert services["postgres"]["environment"] == {
        "POSTGRES_USER": "hub",
        "POSTGRES_PASSWORD": "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}",
        "POSTGRES_DB": "hypervisual",
    }
    assert "environment" not in services["redis"]


def test_web_is_published_on_the_loopback_only(services):
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000"]
    assert services["directus"]["ports"] == ["127.0.0.1:8055:8055"]
    for name in ("postgres", "redis", "worker", "beat"):
        assert "ports" not in services[name]


def test_volumes(compose, services):
    assert compose["volumes"] == {"postgres-data": None, "redis-data": None, "media": None, "directus-uploads": None}
    assert services["directus"]["volumes"] == ["directus-uploads:/directus/uploads"]
    assert services["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert services["redis"]["volumes"] == ["redis-data:/data"]
    for name in APP_SERVICES:
        assert services[name]["volumes"] == ["media:/app/var/media"]


def test_compose_variables_are_exactly_these(compose):
    assert compose_variables(compose) == {
        "POSTGRES_PASSWORD",
        "DJANGO_SECRET_KEY",
        "DJANGO_ALLOWED_HOSTS",
        "HV_HTTPS",
        "HV_TRUSTED_PROXY_COUNT",
        "WEB_CONCURRENCY",
        "HV_SECRETS_KEYS",
        "HV_PUBLIC_URL",
        "HV_DIRECTUS_TOKEN",
        "HV_DIRECTUS_WEBHOOK_SECRET",
        "DIRECTUS_SECRET",
        "DIRECTUS_ADMIN_EMAIL",
        "DIRECTUS_ADMIN_PASSWORD",
        "DIRECTUS_PUBLIC_URL",
    }


def test_compose_variables_are_documented_in_env_example(compose):
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert compose_variables(compose) - documented == set()


def test_scripts_referenced_by_compose_and_dockerfile_exist_and_are_executable(services):
    instructions = dict(final_stage())
    referenced = [services[name]["command"][0] for name in APP_SERVICES]
    referenced += [*yaml.safe_load(instructions["ENTRYPOINT"]), *yaml.safe_load(instructions["CMD"])]
    assert referenced == [
        "/app/docker/start-web.sh",
        "/app/docker/start-worker.sh",
        "/app/docker/start-beat.sh",
        "/app/docker/entrypoint.sh",
        "/app/docker/start-web.sh",
    ]
    for container_path in referenced:
        path = script_path(container_path)
        assert path.is_file()
        assert path.stat().st_mode & 0o755 == 0o755, f"{path} is not executable"


@pytest.mark.parametrize("name", sorted(SCRIPT_COMMANDS))
def test_script_is_strict_bash_ending_in_exec(name):
    path = DOCKER / name
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    assert path.read_text().startswith("#!/usr/bin/env bash\n")
    assert lines[0] == "set -euo pipefail"
    assert lines[-1] == SCRIPT_COMMANDS[name]
    bash = shutil.which("bash")
    assert subprocess.run([bash, "-n", str(path)], check=False).returncode == 0


# --- entrypoint.sh --------------------------------------------------------------------------------


@pytest.fixture
def fake_python(tmp_path) -> Path:
    """A `python` first on PATH that records its arguments and standard input, then exits with $STATUS."""
    script = tmp_path / "bin" / "python"
    script.parent.mkdir()
    script.write_text(
        '#!/bin/sh\necho "$*" >> "$RECORD.args"\ncat > "$RECORD.stdin"\nexit "${STATUS:-0}"\n',
    )
    script.chmod(0o755)
    return tmp_path


def run_entrypoint(fake_python: Path, **environment: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": f"{fake_python / 'bin'}:/usr/bin:/bin",
        "RECORD": str(fake_python / "record"),
        **environment,
    }
    return subprocess.run(
        [str(DOCKER / "entrypoint.sh"), "echo", "command ran"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("flag", [None, "0"])
def test_entrypoint_runs_the_command_without_migrating(fake_python, flag):
    result = run_entrypoint(fake_python, **({} if flag is None else {"HV_MIGRATE_ON_START": flag}))
    assert (result.returncode, result.stdout) == (0, "command ran\n")
    assert not (fake_python / "record.args").exists()


def test_entrypoint_migrates_under_an_advisory_lock_then_runs_the_command(fake_python):
    result = run_entrypoint(fake_python, HV_MIGRATE_ON_START="1")
    assert (result.returncode, result.stdout) == (0, "command ran\n")
    assert (fake_python / "record.args").read_text() == "-\n"
    program = (fake_python / "record.stdin").read_text()
    compile(program, "entrypoint migration", "exec")
    lock = program.index('cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])')
    assert lock < program.index('call_command("migrate", interactive=False)')


def test_entrypoint_stops_when_migrations_fail(fake_python):
    result = run_entrypoint(fake_python, HV_MIGRATE_ON_START="1", STATUS="1")
    assert (result.returncode, result.stdout) == (1, "")


# --- the web health check ---------------------------------------------------------------------------


class StubHandler(BaseHTTPRequestHandler):
    status = 200
    seen: list[tuple[str, str | None]] = []

    def do_GET(self):
        type(self).seen.append((self.path, self.headers["Host"]))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def stub_server() -> Iterator[HTTPServer]:
    StubHandler.seen = []
    server = HTTPServer(("127.0.0.1", 0), StubHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run_web_healthcheck(services: dict, port: int, allowed_hosts: str = "hub.example.ch") -> int:
    program = services["web"]["healthcheck"]["test"][3]
    assert program.count("http://127.0.0.1:8000/healthz") == 1
    program = program.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    env = {"DJANGO_ALLOWED_HOSTS": allowed_hosts, "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", program], env=env, check=False, timeout=30).returncode


@pytest.mark.parametrize(("status", "code"), [(200, 0), (503, 0), (400, 1), (404, 1), (500, 1)])
def test_web_healthcheck_passes_when_the_http_server_answers_healthz(services, stub_server, status, code):
    StubHandler.status = status
    assert run_web_healthcheck(services, stub_server.server_port) == code
    assert StubHandler.seen == [("/healthz", "hub.example.ch")]


@pytest.mark.parametrize(
    ("allowed_hosts", "host"),
    [("hub.example.ch,localhost", "hub.example.ch"), (" .example.ch", "example.ch"), ("*", "localhost")],
)
def test_web_healthcheck_sends_an_allowed_host(services, stub_server, allowed_hosts, host):
    StubHandler.status = 200
    assert run_web_healthcheck(services, stub_server.server_port, allowed_hosts) == 0
    assert StubHandler.seen == [("/healthz", host)]


def test_web_healthcheck_fails_when_nothing_listens(services, stub_server):
    port = stub_server.server_port
    stub_server.shutdown()
    stub_server.server_close()
    assert run_web_healthcheck(services, port) == 1


# --- Dockerfile -------------------------------------------------------------------------------------


def test_dockerfile_stages_are_pinned():
    froms = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "FROM"]
    assert froms == ["node:20-bookworm-slim AS assets", "python:3.11-slim-bookworm"]


def test_dockerfile_front_end_stage_installs_the_locked_packages():
    instructions = dockerfile_instructions()
    first_stage = instructions[: instructions.index(("FROM", "python:3.11-slim-bookworm"))]
    assert first_stage == [
        ("FROM", "node:20-bookworm-slim AS assets"),
        ("WORKDIR", "/build"),
        ("COPY", "package.json package-lock.json ./"),
        ("RUN", "npm ci --no-audit --no-fund --loglevel=error"),
    ]


def test_dockerfile_runs_as_the_non_root_hub_user():
    stage = final_stage()
    users = [arguments for keyword, arguments in stage if keyword == "USER"]
    assert users == ["hub"]
    last_run = max(index for index, (keyword, _) in enumerate(stage) if keyword == "RUN")
    assert stage.index(("USER", "hub")) > last_run
    create_user = (
        "groupadd --system hub && useradd --system --gid hub --home-dir /app --no-create-home "
        "--shell /usr/sbin/nologin hub"
    )
    assert ("RUN", create_user) in stage


def test_dockerfile_installs_dependencies_before_copying_the_source():
    stage = final_stage()
    runs = [arguments for keyword, arguments in stage if keyword == "RUN"]
    copies = [arguments for keyword, arguments in stage if keyword == "COPY"]
    assert copies[0] == "pyproject.toml /tmp/hub/"
    assert runs[2] == "pip install --upgrade pip==25.3 && pip install /tmp/hub && rm -rf /tmp/hub"
    assert stage.index(("RUN", runs[2])) < stage.index(("COPY", copies[1]))


def test_dockerfile_installs_the_system_libraries_weasyprint_needs_first():
    runs = [arguments for keyword, arguments in final_stage() if keyword == "RUN"]
    assert runs[0] == (
        "apt-get update && apt-get install -y --no-install-recommends "
        "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation && rm -rf /var/lib/apt/lists/*"
    )


def test_dockerfile_copies_exactly_the_source_the_hub_runs_from():
    copies = [arguments for keyword, arguments in final_stage() if keyword == "COPY"]
    assert copies[1:] == [
        "manage.py gunicorn.conf.py ./",
        "hypervisual/ hypervisual/",
        "finance/ finance/",
        "integrations/ integrations/",
        "dashboard/ dashboard/",
        "sandbox/ sandbox/",
        "templates/ templates/",
        "static/ static/",
        "locale/ locale/",
        "scripts/ scripts/",
        "docker/ docker/",
    ]
    # A new top-level Python package (an app) must be added to the image too.
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages <= {copy.split("/")[0] for copy in copies}


def test_dockerfile_builds_assets_and_collects_static_files():
    runs = [arguments for keyword, arguments in final_stage() if keyword == "RUN"]
    assert runs[3:5] == [
        "--mount=type=bind,from=assets,source=/build/node_modules,target=/app/node_modules "
        "python scripts/hub.py assets",
        "DJANGO_SECRET_KEY=build DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 "
        "python manage.py collectstatic --noinput",
    ]


def test_dockerfile_bakes_in_no_secret_and_runs_the_web_by_default():
    stage = final_stage()
    env_names = [
        word.split("=")[0] for keyword, arguments in stage if keyword == "ENV" for word in shlex.split(arguments)
    ]
    assert env_names == [
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONUNBUFFERED",
        "PIP_NO_CACHE_DIR",
        "PIP_DISABLE_PIP_VERSION_CHECK",
        "PIP_ROOT_USER_ACTION",
        "DJANGO_SETTINGS_MODULE",
        "HV_MEDIA_ROOT",
    ]
    assert [keyword for keyword, _ in dockerfile_instructions() if keyword == "ARG"] == []
    assert ("WORKDIR", APP_DIR) in stage
    assert ("EXPOSE", "8000") in stage
    assert stage[-2:] == [("ENTRYPOINT", '["/app/docker/entrypoint.sh"]'), ("CMD", '["/app/docker/start-web.sh"]')]


def test_directus_runs_the_pinned_version_on_the_hub_database_after_the_migrations(services):
    from scripts.directus_server import DIRECTUS_VERSION

    directus = services["directus"]
    assert directus["image"] == f"directus/directus:{DIRECTUS_VERSION}"
    assert {key: directus["environment"][key] for key in ("DB_CLIENT", "DB_HOST", "DB_DATABASE", "DB_USER")} == {
        "DB_CLIENT": "pg", "DB_HOST": "postgres", "DB_DATABASE": "hypervisual", "DB_USER": "hub",
    }  # fmt: skip
    assert directus["environment"]["ADMIN_TOKEN"] == APP_ENVIRONMENT["HV_DIRECTUS_TOKEN"]
    assert directus["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "web": {"condition": "service_healthy"},
    }
    configure = services["directus-configure"]
    assert configure["command"] == ["python", "manage.py", "directus_configure"]
    assert configure["image"] == "hypervisual-hub"
    assert configure["environment"] == APP_ENVIRONMENT
    assert configure["depends_on"] == {"directus": {"condition": "service_healthy"}}
