import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from finance.models import Company
from finance.services import documents, dunning, invoice_ninja, outside_edits, revolut
from finance.services.audit import system_user
from integrations.clients.base import ProviderError
from integrations.models import Connection, Provider
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
    logger.info(
        "dunning run %s: %d reminder(s) started, %d left", company.code, len(result.reminder_ids), result.skipped
    )
    return len(result.reminder_ids)


# --- Provider syncs: what webhooks missed -------------------------------------------------------------


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


@shared_task(ignore_result=True)
def revolut_sync_company(connection_id: int) -> None:
    connection = Connection.objects.select_related("company").get(pk=connection_id)
    with run_alone(f"hv:revolut:sync:{connection_id}") as acquired:
        if not acquired:
            return
        try:
            revolut.revolut_sync(connection)
        except ProviderError as error:
            # Recorded on the connection by the client (status page, dashboard); the next beat tries again.
            logger.warning("Revolut sync of %s failed: %s", connection.company.code, error)


@shared_task(ignore_result=True)
def invoice_ninja_reconcile_all() -> int:
    """Beat: look for drift between the Hub and each company's Invoice Ninja."""
    ids = invoice_ninja.connections_to_reconcile()
    for connection_id in ids:
        invoice_ninja_reconcile_company.delay(connection_id)
    return len(ids)


@shared_task(ignore_result=True)
def invoice_ninja_reconcile_company(connection_id: int) -> None:
    connection = Connection.objects.select_related("company").get(pk=connection_id)
    with run_alone(f"hv:invoice_ninja:reconcile:{connection_id}") as acquired:
        if not acquired:
            return
        try:
            result = invoice_ninja.reconcile(connection)
        except ProviderError as error:
            logger.warning("Invoice Ninja reconciliation of %s failed: %s", connection.company.code, error)
        else:
            logger.info("Invoice Ninja reconciliation of %s: %s", connection.company.code, result)


@shared_task(ignore_result=True)
def outside_edits_sweep() -> int:
    """Beat (every minute): the safety net for Directus edits whose Flow event never reached the Hub."""
    with run_alone("outside-edits-sweep") as alone:
        if not alone:
            return 0
        processed = outside_edits.outside_edits_sweep(grace=timedelta(seconds=settings.HV_OUTSIDE_EDIT_GRACE_SECONDS))
    if processed:
        logger.warning("safety net processed %d row(s) edited outside the Hub without an event", processed)
    return processed
