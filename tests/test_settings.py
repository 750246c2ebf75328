"""Production-safe defaults of the one settings module, read in a fresh interpreter per case."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

from hypervisual.settings import celery_broker_url

PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s;"
    "print(json.dumps({'DEBUG': s.DEBUG, 'SESSION_COOKIE_SECURE': s.SESSION_COOKIE_SECURE,"
    "'CSRF_COOKIE_SECURE': s.CSRF_COOKIE_SECURE, 'SECURE_SSL_REDIRECT': s.SECURE_SSL_REDIRECT,"
    "'SECURE_HSTS_SECONDS': s.SECURE_HSTS_SECONDS, 'ALLOWED_HOSTS': s.ALLOWED_HOSTS,"
    "'CACHE': s.CACHES['default']['BACKEND'], 'BROKER': s.CELERY_BROKER_URL}))"
)


def settings_with(**variables):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HV_", "DJANGO_")) and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update({"DJANGO_SETTINGS_MODULE": "hypervisual.settings", **variables})
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, check=False
    )
    return result


BASE = {
    "DJANGO_SECRET_KEY": "probe",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/probe",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_defaults_are_production_safe():
    result = settings_with(**BASE)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "ALLOWED_HOSTS": ["127.0.0.1", "localhost"],
        "CACHE": "django.core.cache.backends.redis.RedisCache",
        "BROKER": "redis://127.0.0.1:6379/0",
    }


def test_demo_mode_turns_debug_on_and_plain_http_turns_secure_cookies_off():
    result = settings_with(**BASE, HV_DEMO="1", HV_HTTPS="0")

    values = json.loads(result.stdout)
    assert (values["DEBUG"], values["SESSION_COOKIE_SECURE"], values["SECURE_SSL_REDIRECT"]) == (True, False, False)


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"])
def test_a_missing_required_variable_stops_start_up_with_its_name(missing):
    result = settings_with(**{key: value for key, value in BASE.items() if key != missing})

    assert result.returncode == 1
    assert f"Set the {missing} environment variable" in result.stderr


def test_unix_socket_redis_url_becomes_celerys_socket_transport():
    assert celery_broker_url("unix:///work/var/redis.sock?db=3") == "redis+socket:///work/var/redis.sock?virtual_host=3"
    assert celery_broker_url("unix:///work/var/redis.sock") == "redis+socket:///work/var/redis.sock?virtual_host=0"
    assert celery_broker_url("redis://cache:6379/2") == "redis://cache:6379/2"
