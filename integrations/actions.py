"""Contextual actions ("Payer via Revolut", …): a stored run per action, executed by Celery.

The service that asks for an action calls `action_run_start`, which stores the run and enqueues it
once the caller's transaction commits. The task retries transient provider errors with backoff and
fails for good on permanent ones, keeping the reason for the page. A worker that dies mid-run leaves
the run "running" under its name: when it starts again it resumes those runs, and a beat job resumes
runs whose worker never came back. Handlers must therefore be safe to run again (idempotency keys).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

import redis
from celery import shared_task
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError as KombuOperationalError

from finance.services.audit import audit_record
from hypervisual.bulk import values_insert
from hypervisual.lookups import AnyOf
from integrations import health
from integrations.clients.base import ProviderError
from integrations.models import ActionRun

logger = logging.getLogger(__name__)

# Attempts of a run before it is marked failed (transient errors only; a permanent one fails at once).
MAX_ATTEMPTS = 5
# A run still "running" this long after it started outlived the hard task time limit: its worker died.
ORPHANED_AFTER = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
# A run still "queued" this long after its last change lost its message (broker restarted empty).
LOST_AFTER = timedelta(minutes=15)

ActionHandler = Callable[[ActionRun], dict]
_handlers: dict[str, ActionHandler] = {}


def action_handler(name: str) -> Callable[[ActionHandler], ActionHandler]:
    """Register the function that performs the action `name`; it returns the run's result (JSON)."""

    def register(handler: ActionHandler) -> ActionHandler:
        _handlers[name] = handler
        return handler

    return register


def _enqueue(run_ids: list[int]) -> None:
    if run_ids:
        transaction.on_commit(functools.partial(_send, run_ids))


def runs_sent_on_commit() -> list[int]:
    """The runs the current transaction will send when it commits: what a benchmark that rolls back counts."""
    return [
        run_id
        for _savepoints, callback, _robust in transaction.get_connection().run_on_commit
        if isinstance(callback, functools.partial) and callback.func is _send
        for run_id in callback.args[0]
    ]


def _send(run_ids: list[int]) -> None:
    """A message per run, through one producer for them all.

    The runs are stored: a broker gone since the check stops nothing, the resume sweep sends them (LOST_AFTER). So
    the first failure ends the sending: each message sent anyway would wait out its own publishing retries (0.6 s
    against a refused connection), hours for the 15,000 runs of a dunning run at 20,000 overdue invoices.
    """
    sent = 0
    try:
        with execute_action_run.app.producer_or_acquire() as producer:
            for run_id in run_ids:
                execute_action_run.apply_async((run_id,), producer=producer)
                sent += 1
    except (KombuOperationalError, redis.RedisError):
        unsent = run_ids[sent:]
        if unsent:  # else the broker failed as the producer went back to its pool, every message sent
            logger.warning(
                "%d of %d action runs stored but not sent (from run %s): the broker did not answer; the sweep will "
                "send them", len(unsent), len(run_ids), unsent[0],
            )  # fmt: skip


def _require_queue() -> None:
    """Refuse (ValidationError, so the caller's transaction rolls back) while the task queue does not answer."""
    if not health.redis_status().up:
        raise ValidationError(
            _("Actions are paused: the task queue (Redis) is not answering. Nothing was done; try again shortly."),
            code="queue_down",
        )


@transaction.atomic
def action_run_start(
    *, action: str, target: models.Model, company, actor: AbstractBaseUser | None, idempotency_key: str
) -> ActionRun:
    """Store and enqueue the run; asking again with the same key returns the existing run, never a second one.

    Refused (ValidationError, so the caller's transaction rolls back) while the task queue does not answer:
    the person is told at once rather than left with a run nobody will execute.
    """
    _require_queue()
    run, created = ActionRun.objects.get_or_create(
        idempotency_key=idempotency_key,
        defaults={
            "action": action, "company": company, "actor": actor,
            "target_type": ContentType.objects.get_for_model(target), "target_id": target.pk,
        },
    )  # fmt: skip
    if created:
        _enqueue([run.pk])
    return run


@transaction.atomic
def action_runs_start(
    *, action: str, target_type: type[models.Model], target_ids: Sequence[int], company,
    actor: AbstractBaseUser | None, idempotency_key: Callable[[int], str],
) -> list[int]:  # fmt: skip
    """`action_run_start` for many targets of one company in a fixed number of queries, one run per target; the
    runs' ids, in the targets' order. The targets are given by model and id, and the runs written as rows
    (`values_insert`): a dunning run starts 15,000 at once.

    Each run is still its own task (own attempts, own retries); a key already used returns its run, unsent again.
    """
    if not target_ids:
        return []
    _require_queue()
    keys = [idempotency_key(target_id) for target_id in target_ids]
    existing = dict(ActionRun.objects.filter(AnyOf(F("idempotency_key"), keys)).values_list("idempotency_key", "pk"))
    target_type_id = ContentType.objects.get_for_model(target_type).pk
    new = [(target_id, key) for target_id, key in zip(target_ids, keys, strict=True) if key not in existing]
    created = values_insert(ActionRun, [
        {"action": action, "company_id": company.pk, "actor_id": actor.pk if actor else None,
         "target_type_id": target_type_id, "target_id": target_id, "idempotency_key": key}
        for target_id, key in new
    ])  # fmt: skip
    _enqueue(created)
    created_by_key = {key: run_id for (_target_id, key), run_id in zip(new, created, strict=True)}
    return [existing.get(key) or created_by_key[key] for key in keys]


@transaction.atomic
def action_run_retry(*, run: ActionRun, actor: AbstractBaseUser) -> ActionRun:
    """Run a failed action again from the start of its attempts."""
    run = ActionRun.objects.select_for_update().get(pk=run.pk)
    if run.status != ActionRun.Status.FAILED:
        raise ValidationError(_("Only a failed action can be retried; this one is %(status)s.")
                              % {"status": run.get_status_display().lower()})  # fmt: skip
    run.status, run.attempts, run.finished_at, run.worker = ActionRun.Status.QUEUED, 0, None, ""
    run.actor = actor
    run.save(update_fields=["status", "attempts", "finished_at", "worker", "actor"])
    audit_record(actor=actor, company=run.company, action="action_run.retried", target=run,
                 changes={"action": run.action, "last_error": run.last_error})  # fmt: skip
    _enqueue([run.pk])
    return run


def action_runs_cancel_queued(*, action_names: list[str], reason: str) -> int:
    """Close the runs of these actions still waiting, unperformed (a worker claims only queued runs)."""
    return ActionRun.objects.filter(status=ActionRun.Status.QUEUED, action__in=action_names).update(
        status=ActionRun.Status.CANCELLED, finished_at=timezone.now(), last_error=reason
    )


def _claim(run_id: int, worker: str) -> ActionRun | None:
    """Move a queued run to running under this worker; None if it is not (or no longer) queued."""
    with transaction.atomic():
        run = ActionRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != ActionRun.Status.QUEUED:
            return None
        run.status, run.worker, run.started_at = ActionRun.Status.RUNNING, worker, timezone.now()
        run.attempts += 1
        run.save(update_fields=["status", "worker", "started_at", "attempts"])
        return run


def _finish(run: ActionRun, *, status: str, error: str = "", result: dict | None = None) -> None:
    run.status, run.finished_at = status, timezone.now()
    run.last_error = error
    if result is not None:
        run.result = result
    run.save(update_fields=["status", "finished_at", "last_error", "result"])


@shared_task(ignore_result=True)
def execute_action_run(run_id: int) -> None:
    from celery import current_task

    worker = (current_task.request.hostname if current_task and current_task.request else "") or "eager"
    run = _claim(run_id, worker)
    if run is None:
        return
    handler = _handlers.get(run.action)
    if handler is None:
        _finish(run, status=ActionRun.Status.FAILED, error=f"No handler for action {run.action!r}.")
        return
    try:
        result = handler(run)
    except ProviderError as error:
        if error.transient and run.attempts < MAX_ATTEMPTS:
            run.status, run.last_error = ActionRun.Status.QUEUED, str(error)
            run.save(update_fields=["status", "last_error"])
            # HV_ACTION_RETRY_BASE_SECONDS × 2^(n-1) before the n-th retry: 15 s, 30 s, 1 min, 2 min.
            countdown = settings.HV_ACTION_RETRY_BASE_SECONDS * 2 ** (run.attempts - 1)
            execute_action_run.apply_async((run.pk,), countdown=countdown)
            return
        _finish(run, status=ActionRun.Status.FAILED, error=str(error))
    except ValidationError as error:
        _finish(run, status=ActionRun.Status.FAILED, error=" ".join(error.messages))
    except Exception as error:
        logger.exception("action run %s (%s) crashed", run.pk, run.action)
        _finish(run, status=ActionRun.Status.FAILED, error=_("Unexpected error: %(error)s") % {"error": error})
    else:
        _finish(run, status=ActionRun.Status.SUCCEEDED, result=result or {})


def action_runs_resume(*, worker: str | None = None, now=None) -> int:
    """Re-enqueue runs a dead worker left behind: those of `worker` (restarting), or too old to be alive."""
    now = now or timezone.now()
    if worker is not None:
        orphans = ActionRun.objects.filter(status=ActionRun.Status.RUNNING, worker=worker)
    else:
        orphans = ActionRun.objects.filter(status=ActionRun.Status.RUNNING, started_at__lt=now - ORPHANED_AFTER)
    resumed = 0
    requeued = []
    for run_id in orphans.values_list("pk", flat=True):
        with transaction.atomic():
            updated = ActionRun.objects.filter(pk=run_id, status=ActionRun.Status.RUNNING).update(
                status=ActionRun.Status.QUEUED, last_error=_("The worker stopped during the run; resumed.")
            )
            if updated:
                transaction.on_commit(lambda run_id=run_id: execute_action_run.delay(run_id))
                requeued.append(run_id)
                resumed += 1
    if worker is None:
        # Not the orphans just requeued: started long ago, they would look lost too and be sent twice.
        lost = (
            ActionRun.objects.annotate(last_move=Coalesce("started_at", "created_at"))
            .filter(status=ActionRun.Status.QUEUED, last_move__lt=now - LOST_AFTER)
            .exclude(pk__in=requeued)
        )
    else:
        # The broker acknowledges a message when a worker takes it: one killed before it claimed the run took
        # the run's only message with it. A restarting worker sends the never-started runs again; a run still
        # waiting in the queue just gets a second message, which finds it claimed and does nothing.
        lost = ActionRun.objects.filter(status=ActionRun.Status.QUEUED, attempts=0).exclude(pk__in=requeued)
    for run_id in lost.values_list("pk", flat=True):
        execute_action_run.delay(run_id)
        resumed += 1
    if resumed:
        logger.warning("resumed %d action run(s) left by %s", resumed, worker or "dead workers")
    return resumed


@shared_task(ignore_result=True)
def action_runs_resume_task(worker: str | None = None) -> int:
    return action_runs_resume(worker=worker)
