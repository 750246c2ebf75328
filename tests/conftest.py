import io
import os
import secrets
import socket
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest
import responses
from django.core.cache import cache

from hypervisual.database_url import database_url
from tests.factories import CompanyFactory, MembershipFactory, UserFactory

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache database (Redis db 9, tests only)."""
    cache.clear()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, and before it is dropped the connections the dashboard's read threads keep
    to it (dashboard.concurrent) closed: PostgreSQL drops no database others are connected to."""
    yield
    from dashboard.concurrent import concurrent_reads

    with django_db_blocker.unblock():
        concurrent_reads.close()


@pytest.fixture
def company_a(db):
    return CompanyFactory(code="QA", name="Alpha")


@pytest.fixture
def company_b(db):
    return CompanyFactory(code="QB", name="Beta")


@pytest.fixture
def member_of(db):
    """Make a user with one role in one company."""

    def make(company, role, username=None):
        user = UserFactory(username=username) if username else UserFactory()
        MembershipFactory(user=user, company=company, role=role)
        return user

    return make


@pytest.fixture
def ceo(db, company_a, company_b):
    user = UserFactory(username="ceo-test")
    MembershipFactory(user=user, company=company_a, role="ceo")
    return user


def database_url_of_test_database() -> str:
    """DATABASE_URL of the database this test run uses (test_<name>), for child processes."""
    from django.db import connection

    return database_url(connection.settings_dict)


def start_celery_worker(
    *, log_path: Path | None = None, loglevel: str = "WARNING", **extra_env: str
) -> subprocess.Popen:
    """Start a real Celery worker on the test database; started again, it has the same node name.

    With `log_path`, everything the worker prints goes to that file instead of the test's output.
    """
    from django.conf import settings

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url_of_test_database(),
        **extra_env,
    }
    output = log_path.open("ab") if log_path else None
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "--app", "hypervisual", "worker", "--pool", "solo",
         "--loglevel", loglevel, "--without-mingle", "--without-gossip", "--hostname", f"test-{os.getpid()}@%h"],
        env=env, cwd=settings.BASE_DIR, stdout=output, stderr=subprocess.STDOUT if output else None,
    )  # fmt: skip


@pytest.fixture
def vat_rates(transactional_db):
    """Tests that commit empty every table when they end, the VAT rates of migration 0005 included."""
    from django.apps import apps as django_apps

    import_module("finance.migrations.0005_seed_swiss_vat_rates").seed_rates(django_apps, schema_editor=None)


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real Celery worker in its own process, on the test database and the tests' Redis database."""
    worker = start_celery_worker()
    yield worker
    worker.terminate()
    worker.wait(timeout=30)


@pytest.fixture
def http():
    """Provider HTTP faked with `responses`; a registered answer no call asked for fails the test."""
    with responses.RequestsMock() as mock:
        yield mock


# --- A real Directus on the test database (tests/directus, tests/browser/test_directus.py) -----------------

DIRECTUS_ADMIN_EMAIL = "admin@example.com"
DIRECTUS_ADMIN_PASSWORD = "directus-admin-tests"  # noqa: S105 - a throwaway instance on the test database
DIRECTUS_ADMIN_TOKEN = "tests-directus-admin-token"  # noqa: S105
DIRECTUS_WEBHOOK_SECRET = "tests-directus-webhook-secret"  # noqa: S105


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def directus(django_db_setup, django_db_blocker, tmp_path_factory):
    """Directus bootstrapped into the test database and started; stopped before the database is dropped."""
    from scripts import directus_server

    if not directus_server.is_installed():
        pytest.fail("Directus is not installed: run `make directus` (make test does it first)")
    with django_db_blocker.unblock():
        database_url = database_url_of_test_database()
    folder = tmp_path_factory.mktemp("directus")
    instance = directus_server.configure(
        config=folder / "directus.env", database_url=database_url, port=free_port(), secret=secrets.token_hex(32),
        admin_email=DIRECTUS_ADMIN_EMAIL, admin_password=DIRECTUS_ADMIN_PASSWORD, admin_token=DIRECTUS_ADMIN_TOKEN,
    )  # fmt: skip
    directus_server.bootstrap(instance)
    process = directus_server.start(instance, folder / "directus.log")
    yield instance
    # Its connection pool holds the test database open: Django could not drop it.
    directus_server.stop(process)


@pytest.fixture(scope="session")
def directus_hub(directus, live_server, django_db_blocker):
    """Directus configured by the Hub's own command, its Flow posting to the live server."""
    from django.core.management import call_command
    from django.test import override_settings

    with django_db_blocker.unblock(), override_settings(
        HV_DIRECTUS_URL=directus.url, HV_DIRECTUS_TOKEN=DIRECTUS_ADMIN_TOKEN,
        HV_DIRECTUS_WEBHOOK_SECRET=DIRECTUS_WEBHOOK_SECRET,
    ):  # fmt: skip
        call_command("directus_configure", hub_url=live_server.url, stdout=io.StringIO())
    return directus
