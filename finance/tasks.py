import logging

from celery import shared_task
from django.utils import timezone

from finance.models import Company
from finance.services import documents, dunning
from finance.services.reconciliation import system_user
from integrations.tasks import run_alone

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def quotes_expire_daily() -> int:
    """Expire the quotes whose validity ended before today (Swiss date); safe to run twice."""
    return documents.quotes_expire(today=timezone.localdate())


@shared_task(ignore_result=True)
def dunning_runs_due() -> int:
    """Beat: start the daily dunning run of each company whose run time has come and that has not run today."""
    companies = dunning.companies_due_for_run(now=timezone.now())
    for company in companies:
        dunning_run_company.delay(company.pk)
    return len(companies)


@shared_task(ignore_result=True)
def dunning_run_company(company_id: int) -> int:
    """One company's daily run, alone: a second beat firing meanwhile finds the lock and the day already done."""
    company = Company.objects.get(pk=company_id)
    with run_alone(f"hv:dunning:run:{company_id}") as acquired:
        if not acquired:
            return 0
        today = timezone.localdate()
        if company.dunning_policy.last_run_on == today:
            return 0
        result = dunning.dunning_run(company=company, today=today, actor=system_user())
    logger.info("dunning run %s: %d reminder(s) started, %d left", company.code, len(result.sent), result.skipped)
    return len(result.sent)
