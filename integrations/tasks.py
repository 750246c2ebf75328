import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from redis.exceptions import LockError

from integrations import health
from integrations.clients.base import ProviderError
from integrations.models import Connection, Provider

logger = logging.getLogger(__name__)

# A company's Revolut sync that is still running when the next beat fires is not started twice;
# its lock frees itself after this many seconds if the worker running it died.
SYNC_LOCK_SECONDS = 300


@shared_task(ignore_result=True)
def worker_heartbeat() -> None:
    """Prove that a worker consumes the queue; beat sends this every HV_WORKER_HEARTBEAT_SECONDS."""
    health.heartbeat_record()


@shared_task(ignore_result=True)
def revolut_sync_all() -> int:
    """Beat (every 60 s): sync every company whose Revolut access is authorised."""
    connections = Connection.objects.filter(provider=Provider.REVOLUT, consent_required=False).exclude(
        Q(consent_granted_at__isnull=True) | Q(secrets_encrypted="")
    )
    ids = list(connections.values_list("pk", flat=True))
    for connection_id in ids:
        revolut_sync_company.delay(connection_id)
    return len(ids)


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
def revolut_sync_company(connection_id: int) -> None:
    from finance.services.banking import revolut_sync

    connection = Connection.objects.select_related("company").get(pk=connection_id)
    with run_alone(f"hv:revolut:sync:{connection_id}") as acquired:
        if not acquired:
            return
        try:
            revolut_sync(connection)
        except ProviderError as error:
            # Recorded on the connection by the client (status page, dashboard); the next beat tries again.
            logger.warning("Revolut sync of %s failed: %s", connection.company.code, error)


@shared_task(ignore_result=True)
def invoice_ninja_reconcile_all() -> int:
    """Beat: look for drift between the Hub and each company's Invoice Ninja."""
    from finance.services.invoice_ninja import connections_to_reconcile

    ids = connections_to_reconcile()
    for connection_id in ids:
        invoice_ninja_reconcile_company.delay(connection_id)
    return len(ids)


@shared_task(ignore_result=True)
def invoice_ninja_reconcile_company(connection_id: int) -> None:
    from finance.services.invoice_ninja import reconcile

    connection = Connection.objects.select_related("company").get(pk=connection_id)
    with run_alone(f"hv:invoice_ninja:reconcile:{connection_id}") as acquired:
        if not acquired:
            return
        try:
            result = reconcile(connection)
        except ProviderError as error:
            logger.warning("Invoice Ninja reconciliation of %s failed: %s", connection.company.code, error)
        else:
            logger.info("Invoice Ninja reconciliation of %s: %s", connection.company.code, result)


@shared_task(ignore_result=True)
def outside_edits_sweep() -> int:
    """Beat (every minute): the safety net for Directus edits whose Flow event never reached the Hub."""
    from finance.services.outside_edits import outside_edits_sweep as sweep

    with run_alone("outside-edits-sweep") as alone:
        if not alone:
            return 0
        processed = sweep(grace=timedelta(seconds=settings.HV_OUTSIDE_EDIT_GRACE_SECONDS))
    if processed:
        logger.warning("safety net processed %d row(s) edited outside the Hub without an event", processed)
    return processed
