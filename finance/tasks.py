from celery import shared_task
from django.utils import timezone

from finance.services import documents


@shared_task(ignore_result=True)
def quotes_expire_daily() -> int:
    """Expire the quotes whose validity ended before today (Swiss date); safe to run twice."""
    return documents.quotes_expire(today=timezone.localdate())
