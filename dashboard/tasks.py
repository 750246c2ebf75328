from celery import shared_task
from django.utils import timezone

from dashboard import figures, services
from integrations.tasks import run_alone


@shared_task(ignore_result=True)
def figures_refresh() -> None:
    """Beat: recompute the dashboard's history views; one refresh at a time, a second one just skips."""
    with run_alone("hv:dashboard:figures-refresh") as acquired:
        if acquired:
            figures.figures_refresh()


@shared_task(ignore_result=True)
def figure_snapshots_record() -> int:
    """Beat: record today's pipeline and open projects, whose past nothing else keeps."""
    return services.figure_snapshots_record(day=timezone.localdate())
