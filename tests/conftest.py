import os
import subprocess
import sys
from pathlib import Path

import pytest
import responses
from django.core.cache import cache

from tests.factories import CompanyFactory, MembershipFactory, UserFactory

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache database (Redis db 9, tests only)."""
    cache.clear()


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

    db = connection.settings_dict
    host = db["HOST"]
    if host.startswith("/"):
        return f"postgres://{db['USER']}@/{host}/{db['NAME']}"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{db['USER']}@{host}{port}/{db['NAME']}"


def start_celery_worker(**extra_env: str) -> subprocess.Popen:
    """Start a real Celery worker on the test database; started again, it has the same node name."""
    from django.conf import settings

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url_of_test_database(),
        **extra_env,
    }
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "--app", "hypervisual", "worker", "--pool", "solo",
         "--loglevel", "WARNING", "--without-mingle", "--without-gossip", "--hostname", f"test-{os.getpid()}@%h"],
        env=env,
        cwd=settings.BASE_DIR,
    )  # fmt: skip


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
