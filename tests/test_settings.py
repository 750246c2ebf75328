"""Production-safe defaults of the one settings module, read in a fresh interpreter per case."""

import json
import os
import subprocess
import sys

from django.conf import settings

from hypervisual.settings import celery_broker_url

PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s;"
    "print(json.dumps({'DEBUG': s.DEBUG, 'SESSION_COOKIE_SECURE': s.SESSION_COOKIE_SECURE,"
    "'CSRF_COOKIE_SECURE': s.CSRF_COOKIE_SECURE, 'SECURE_SSL_REDIRECT': s.SECURE_SSL_REDIRECT,"
    "'SECURE_HSTS_SECONDS': s.SECURE_HSTS_SECONDS, 'ALLOWED_HOSTS': s.ALLOWED_HOSTS,"
    "'CACHE': s.CACHES['default']['BACKEND'], 'BROKER': s.CELERY_BROKER_URL}))"
)


SERVERS_PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s;"
    "db = s.DATABASES['default'];"
    "print(json.dumps({'HOST': db['HOST'], 'NAME': db['NAME'], 'REDIS_URL': s.REDIS_URL,"
    "'BROKER': s.CELERY_BROKER_URL}))"
)


def settings_with(PROBE_CODE=PROBE, **variables):  # noqa: N803 - reads like the variables beside it
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HV_", "DJANGO_")) and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update({"DJANGO_SETTINGS_MODULE": "hypervisual.settings", **variables})
    result = subprocess.run(
        [sys.executable, "-c", PROBE_CODE], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, check=False
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


def test_the_web_server_refuses_to_start_without_a_secret_key():
    without_key = {key: value for key, value in BASE.items() if key != "DJANGO_SECRET_KEY"}

    result = settings_with(**without_key, PROBE_CODE="import hypervisual.wsgi")

    assert result.returncode == 1
    assert "ImproperlyConfigured: The SECRET_KEY setting must not be empty." in result.stderr


def test_unset_servers_point_at_the_embedded_sockets_under_var():
    result = settings_with(DJANGO_SECRET_KEY="probe", HV_VAR_DIR="/srv/hub-var", PROBE_CODE=SERVERS_PROBE)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "HOST": "/srv/hub-var/pgdata",
        "NAME": "hypervisual",
        "REDIS_URL": "unix:///srv/hub-var/redis.sock?db=0",
        "BROKER": "redis+socket:///srv/hub-var/redis.sock?virtual_host=0",
    }


def test_unix_socket_redis_url_becomes_celerys_socket_transport():
    assert celery_broker_url("unix:///work/var/redis.sock?db=3") == "redis+socket:///work/var/redis.sock?virtual_host=3"
    assert celery_broker_url("unix:///work/var/redis.sock") == "redis+socket:///work/var/redis.sock?virtual_host=0"
    assert celery_broker_url("redis://cache:6379/2") == "redis://cache:6379/2"
