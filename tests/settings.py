"""Test overlay of the one settings module: only what a test run must differ in."""

import os
from urllib.parse import urlsplit

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key-not-for-any-deployment")
os.environ["HV_HTTPS"] = "0"
os.environ["HV_DEMO"] = "0"
# The end-to-end tests drive the provider sandboxes over HTTP.
os.environ["HV_SANDBOX"] = "1"
# Tests sign people in with force_login; the second factor is switched on by the tests of that step.
os.environ["HV_MFA_REQUIRED"] = "0"
# A fixed Fernet key for tests only (never a deployment's).
os.environ.setdefault("HV_SECRETS_KEYS", "dGVzdHMtb25seS1mZXJuZXQta2V5LTMyLWJ5dGVzISE=")

from hypervisual.settings import *  # noqa: E402, F403

# Keys of a test run never collide with a running Hub's on the same Redis.
CACHES["default"]["KEY_PREFIX"] = "hv-test"  # noqa: F405
# Hashing at full strength makes every login in a test cost ~300 ms.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
# PostgreSQL with a flush between transactional tests that the guards against TRUNCATE let through.
DATABASES["default"]["ENGINE"] = "tests.postgresql"  # noqa: F405


def redis_url_with_database(url: str, database: int) -> str:
    """Point a redis:// or unix:// Redis URL at another logical database."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}?db={database}"
    return parts._replace(path=f"/{database}").geturl()


# Tests use their own Redis database, so a Hub running beside them neither sees nor eats their tasks.
# HV_TEST_REDIS_DB lets two test runs on one Redis keep apart (each test flushes its database).
REDIS_URL = redis_url_with_database(REDIS_URL, int(os.environ.get("HV_TEST_REDIS_DB", "9")))  # noqa: F405
CACHES["default"]["LOCATION"] = REDIS_URL  # noqa: F405
CELERY_BROKER_URL = celery_broker_url(REDIS_URL)  # noqa: F405
