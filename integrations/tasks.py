from celery import shared_task

from integrations import health


@shared_task(ignore_result=True)
def worker_heartbeat() -> None:
    """Prove that a worker consumes the queue; beat sends this every HV_WORKER_HEARTBEAT_SECONDS."""
    health.heartbeat_record()
