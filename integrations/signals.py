from celery.signals import worker_ready

from integrations import actions, tasks


@worker_ready.connect
def on_worker_ready(sender=None, **_kwargs) -> None:
    """Beat at once, so /healthz turns green without waiting for beat, and resume the runs this worker lost."""
    tasks.worker_heartbeat.delay()
    hostname = getattr(sender, "hostname", None)
    if hostname:
        actions.action_runs_resume_task.delay(worker=hostname)
