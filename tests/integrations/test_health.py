import time

import pytest
import redis
from django.conf import settings
from django.urls import reverse

from integrations import health, tasks

pytestmark = pytest.mark.django_db

# Seconds the real worker gets to consume the heartbeat task.
WORKER_DEADLINE = 15


@pytest.fixture
def no_heartbeat():
    health.redis_client().delete(health.HEARTBEAT_KEY)


def test_healthz_is_public_and_200_once_a_started_worker_has_beaten(client, no_heartbeat, celery_worker_process):
    # The worker beats once on start-up (worker_ready), before beat's first period.
    deadline = time.monotonic() + WORKER_DEADLINE
    while health.redis_client().get(health.HEARTBEAT_KEY) is None and time.monotonic() < deadline:
        time.sleep(0.1)

    response = client.get(reverse("integrations:healthz"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert {name: part["status"] for name, part in body["components"].items()} == {
        "database": "up",
        "redis": "up",
        "celery_worker": "up",
    }
    assert body["components"]["celery_worker"]["detail"].startswith("last heartbeat ")


def test_healthz_is_503_when_no_worker_has_beaten(client, no_heartbeat):
    response = client.get(reverse("integrations:healthz"))

    assert response.status_code == 503
    assert response.json()["components"]["celery_worker"] == {
        "status": "down",
        "detail": "no heartbeat from a Celery worker",
    }


def test_healthz_is_503_when_redis_is_down(client, settings):
    # Port 1 on the loopback: nothing listens, the connection is refused at once.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    response = client.get(reverse("integrations:healthz"))

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["components"]["database"]["status"] == "up"
    assert body["components"]["redis"]["status"] == "down"
    assert body["components"]["redis"]["detail"].startswith("ConnectionError: ")
    assert body["components"]["celery_worker"] == {"status": "down", "detail": "heartbeat unreadable: Redis is down"}


def test_heartbeat_expires_after_three_missed_beats(settings, no_heartbeat):
    health.heartbeat_record()

    ttl = health.redis_client().ttl(health.HEARTBEAT_KEY)

    assert ttl == settings.HV_WORKER_HEARTBEAT_SECONDS * 3


def test_beat_sends_the_heartbeat_to_the_worker(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["worker-heartbeat"]
    assert entry["task"] == tasks.worker_heartbeat.name == "integrations.tasks.worker_heartbeat"
    assert entry["schedule"].run_every.total_seconds() == settings.HV_WORKER_HEARTBEAT_SECONDS


def test_redis_client_keeps_one_pool_and_reconnects_after_its_connection_was_closed():
    client = health.redis_client()
    assert health.redis_client() is client
    client.set("hv:test:pooled", "1")
    lent = client.client_id()
    # As a Redis restart or an idle timeout would: the server drops the connection the pool keeps.
    with redis.Redis.from_url(settings.REDIS_URL) as other:
        assert other.client_kill_filter(_id=lent) == 1

    assert health.redis_status() == health.ComponentStatus(up=True, detail="ping ok")
    assert client.get("hv:test:pooled") == b"1"
    assert client.client_id() != lent
    client.delete("hv:test:pooled")
