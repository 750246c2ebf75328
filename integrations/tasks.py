import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from celery import shared_task
from redis.exceptions import LockError

from integrations import directus, erpnext, health
from integrations.clients.base import ProviderError
from integrations.models import Connection

logger = logging.getLogger(__name__)

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


@shared_task(ignore_result=True)
def directus_health_probe() -> str:
    """Beat: ask Directus for its health, for the status bar."""
    return directus.health_probe()["state"]


@shared_task(ignore_result=True)
def erpnext_sync_all() -> int:
    """Beat: read each connected company's ERPNext into its snapshot."""
    ids = erpnext.connections_to_sync()
    for connection_id in ids:
        erpnext_sync_company.delay(connection_id)
    return len(ids)


@shared_task(ignore_result=True)
def erpnext_sync_company(connection_id: int) -> None:
    connection = Connection.objects.select_related("company").get(pk=connection_id)
    with run_alone(f"hv:erpnext:sync:{connection_id}") as acquired:
        if not acquired:
            return
        try:
            erpnext.snapshot_refresh(connection)
        except ProviderError as error:
            # Kept on the snapshot (its page says so) and on the connection; the previous read stays shown.
            logger.warning("ERPNext sync of %s failed: %s", connection.company.code, error)
