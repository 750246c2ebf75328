from celery.signals import worker_ready

from integrations import tasks


@worker_ready.connect
def send_first_heartbeat(**_kwargs) -> None:
    """Beat on start-up through the queue, so /healthz turns green without waiting for beat."""
    tasks.worker_heartbeat.delay()
