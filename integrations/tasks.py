from collections.abc import Iterator
from contextlib import contextmanager, suppress

from celery import shared_task
from redis.exceptions import LockError

from integrations import health

# A provider sync or daily run still running when the next beat fires is not started twice (`run_alone`);
# its lock frees itself after this many seconds if the worker running it died.
SYNC_LOCK_SECONDS = 300


@shared_task(ignore_result=True)
def worker_heartbeat() -> None:
    """Prove that a worker consumes the queue; beat sends this every HV_WORKER_HEARTBEAT_SECONDS."""
    health.heartbeat_record()


@contextmanager
def run_alone(name: str) -> Iterator[bool]:
    """Whether this process holds the named lock: a sync still running when the next beat fires is not doubled."""
    lock = health.redis_client().lock(name, timeout=SYNC_LOCK_SECONDS, blocking=False)
    try:
        acquired = lock.acquire()
    except LockError:
        acquired = False
    try:
        yield acquired
    finally:
        if acquired:
            # The lock may have expired during a very long sync; releasing it then is not an error.
            with suppress(LockError):
                lock.release()
