"""Action runs: started once per key, executed by the task, retried with backoff, resumed, shown as a badge."""

import datetime as dt

import pytest
import redis
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from kombu.exceptions import OperationalError as KombuOperationalError

from finance.models import AuditEvent, Role, Supplier
from integrations import actions
from integrations.actions import MAX_ATTEMPTS, action_run_start, execute_action_run
from integrations.clients.base import PermanentProviderError, TransientProviderError
from integrations.models import ActionRun
from integrations.selectors import action_runs_for
from tests.factories import SupplierFactory

pytestmark = pytest.mark.django_db

ACTION = "test.echo"


class ScriptedHandler:
    """An action handler answering each call with the next outcome: a result, or an exception to raise."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls: list[tuple[int, str, int]] = []

    def __call__(self, run: ActionRun) -> dict:
        self.calls.append((run.pk, run.status, run.attempts))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def handle(monkeypatch):
    def register(*outcomes, name=ACTION) -> ScriptedHandler:
        handler = ScriptedHandler(*outcomes)
        monkeypatch.setitem(actions._handlers, name, handler)
        return handler

    return register


@pytest.fixture
def sent(monkeypatch):
    """What would go to the broker, instead of sending it: ("apply_async", run id, countdown) or ("delay", run id)."""
    messages: list[tuple] = []
    monkeypatch.setattr(
        execute_action_run, "apply_async",
        lambda args, countdown=0, **_options: messages.append(("apply_async", args[0], countdown)),
    )  # fmt: skip
    monkeypatch.setattr(execute_action_run, "delay", lambda run_id: messages.append(("delay", run_id)))
    return messages


@pytest.fixture
def supplier(company_a):
    return SupplierFactory(company=company_a, name="Affichage Léman Sàrl")


def start(supplier, *, key="test.echo:1", actor=None, action=ACTION) -> ActionRun:
    return action_run_start(action=action, target=supplier, company=supplier.company, actor=actor, idempotency_key=key)


def stored_run(supplier, *, status="queued", key="run-1", **fields) -> ActionRun:
    """A run written directly, in any state (started_at/created_at in the past where given)."""
    created_at = fields.pop("created_at", None)
    if status in ActionRun.FINAL_STATUSES:
        fields.setdefault("finished_at", timezone.now())
    fields.setdefault("action", ACTION)
    run = ActionRun.objects.create(
        company=supplier.company, target=supplier, idempotency_key=key, status=status, **fields
    )
    if created_at is not None:
        ActionRun.objects.filter(pk=run.pk).update(created_at=created_at)
    return run


def reloaded(run: ActionRun) -> ActionRun:
    return ActionRun.objects.get(pk=run.pk)


# --- Start ----------------------------------------------------------------------------------------


def test_start_stores_a_queued_run_and_enqueues_it_on_commit(supplier, sent, django_capture_on_commit_callbacks, ceo):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run = start(supplier, actor=ceo)

    assert (run.action, run.company, run.target, run.actor, run.status, run.attempts) == (
        ACTION, supplier.company, supplier, ceo, "queued", 0,
    )  # fmt: skip
    assert (run.idempotency_key, run.last_error, run.started_at, run.finished_at) == ("test.echo:1", "", None, None)
    assert len(callbacks) == 1
    assert sent == [("apply_async", run.pk, 0)]
    assert list(action_runs_for(supplier)) == [run]


def test_the_same_idempotency_key_never_starts_a_second_run(supplier, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = start(supplier)
    with django_capture_on_commit_callbacks(execute=True) as again:
        second = start(supplier)

    assert second.pk == first.pk
    assert ActionRun.objects.count() == 1
    assert again == []
    assert sent == [("apply_async", first.pk, 0)]


def test_many_targets_start_one_run_each_in_their_order_and_a_used_key_gives_its_run_unsent(
    supplier, sent, django_capture_on_commit_callbacks, django_assert_num_queries, ceo, company_a
):
    others = [SupplierFactory(company=company_a, name=f"Imprimerie {n} SA") for n in (1, 2)]
    with django_capture_on_commit_callbacks(execute=True):
        used = start(supplier, key=f"{ACTION}:{supplier.pk}")
    sent.clear()
    targets = [others[0].pk, supplier.pk, others[1].pk]

    # The keys already used, then one INSERT, in a savepoint (inside the test's transaction); the queue's health is
    # asked of Redis and the target type is cached.
    with django_capture_on_commit_callbacks(execute=True) as callbacks, django_assert_num_queries(4) as queries:
        run_ids = actions.action_runs_start(
            action=ACTION,
            target_type=type(supplier),
            target_ids=targets,
            company=company_a,
            actor=ceo,
            idempotency_key=lambda pk: f"{ACTION}:{pk}",
        )

    assert [query["sql"].split()[0] for query in queries.captured_queries] == [
        "SAVEPOINT",
        "SELECT",
        "INSERT",
        "RELEASE",
    ]

    assert run_ids[1] == used.pk
    runs = ActionRun.objects.in_bulk(run_ids)
    assert [(runs[pk].target, runs[pk].idempotency_key, runs[pk].actor, runs[pk].status) for pk in run_ids] == [
        (others[0], f"{ACTION}:{others[0].pk}", ceo, "queued"),
        (supplier, f"{ACTION}:{supplier.pk}", None, "queued"),
        (others[1], f"{ACTION}:{others[1].pk}", ceo, "queued"),
    ]
    assert len(callbacks) == 1  # one for the batch: its messages go through one producer
    assert sent == [("apply_async", run_ids[0], 0), ("apply_async", run_ids[2], 0)]
    assert ActionRun.objects.count() == 3


def _start_many(company, count: int) -> list[int]:
    targets = [SupplierFactory(company=company, name=f"Imprimerie {n} SA").pk for n in range(count)]
    return actions.action_runs_start(action=ACTION, target_type=Supplier, target_ids=targets, company=company,
                                     actor=None, idempotency_key=lambda pk: f"{ACTION}:{pk}")  # fmt: skip


def test_a_batch_of_runs_reaches_the_broker_as_one_message_each(company_a, django_capture_on_commit_callbacks):
    app = execute_action_run.app
    with app.connection_for_read() as connection, connection.SimpleQueue(app.conf.task_default_queue) as queue:
        queue.clear()
        with django_capture_on_commit_callbacks(execute=True):
            run_ids = _start_many(company_a, 3)
        messages = [queue.get(timeout=1) for _ in run_ids]
        for message in messages:
            message.ack()
        with pytest.raises(queue.Empty):  # one message each, no more
            queue.get(block=False)

    assert [(message.headers["task"], message.decode()[0]) for message in messages] == [
        ("integrations.actions.execute_action_run", [run_id]) for run_id in run_ids
    ]


@pytest.mark.parametrize(
    ("failing_try", "error", "logged"),
    [
        (2, KombuOperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused."), "4 of 5"),
        (1, redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."), "5 of 5"),
    ],
)
def test_the_broker_failing_in_a_batch_stops_the_sending_and_leaves_the_runs_queued(
    company_a, monkeypatch, django_capture_on_commit_callbacks, caplog, failing_try, error, logged
):
    tries = []

    def broker(args, producer=None, **_options):
        tries.append((args[0], producer))
        if len(tries) == failing_try:
            raise error

    monkeypatch.setattr(execute_action_run, "apply_async", broker)
    with django_capture_on_commit_callbacks(execute=True), caplog.at_level("WARNING", logger="integrations.actions"):
        run_ids = _start_many(company_a, 5)

    # Up to the failing message, not the five (each would wait out its own publishing retries), through one producer.
    assert [run_id for run_id, _producer in tries] == run_ids[:failing_try]
    assert tries[0][1] is not None
    assert {id(producer) for _run_id, producer in tries} == {id(tries[0][1])}
    assert caplog.messages == [
        f"{logged} action runs stored but not sent (from run {run_ids[failing_try - 1]}): the broker did not answer; "
        "the sweep will send them"
    ]
    # Left for the resume sweep (LOST_AFTER), which sends the queued runs whose message was lost.
    assert set(ActionRun.objects.filter(pk__in=run_ids).values_list("status", flat=True)) == {"queued"}


def test_the_runs_to_send_are_known_before_the_commit_and_a_batch_of_used_keys_sends_nothing(
    company_a, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as first:
        run_ids = _start_many(company_a, 3)
        pending = actions.runs_sent_on_commit()
    targets = list(ActionRun.objects.filter(pk__in=run_ids).values_list("target_id", flat=True))
    with django_capture_on_commit_callbacks(execute=True) as again:
        again_ids = actions.action_runs_start(action=ACTION, target_type=Supplier, target_ids=targets,
                                              company=company_a, actor=None,
                                              idempotency_key=lambda pk: f"{ACTION}:{pk}")  # fmt: skip

    assert (len(first), pending) == (1, run_ids)
    assert (sorted(again_ids), again, sent) == (sorted(run_ids), [], [])


def test_nothing_is_enqueued_when_the_caller_rolls_back(supplier, sent, django_capture_on_commit_callbacks):
    def failing_service():
        with transaction.atomic():
            start(supplier)
            raise RuntimeError("the service failed after asking for the action")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        failing_service()

    assert (callbacks, sent, ActionRun.objects.count()) == ([], [], 0)


# --- Execute --------------------------------------------------------------------------------------


def test_a_successful_run_stores_its_result(supplier, handle, sent):
    handler = handle({"state": "pending", "transaction_id": "tx-1"})
    run = stored_run(supplier)

    execute_action_run(run.pk)

    run = reloaded(run)
    assert (run.status, run.attempts, run.worker, run.last_error) == ("succeeded", 1, "eager", "")
    assert run.result == {"state": "pending", "transaction_id": "tx-1"}
    assert run.started_at is not None
    assert run.finished_at >= run.started_at
    assert handler.calls == [(run.pk, "running", 1)]
    assert sent == []


def test_a_transient_error_is_retried_with_backoff_then_fails_after_max_attempts(supplier, handle, sent):
    error = TransientProviderError("revolut", "Service Unavailable", status=503)
    handler = handle(*[error] * MAX_ATTEMPTS)
    run = stored_run(supplier)

    for attempt in range(1, MAX_ATTEMPTS):
        execute_action_run(run.pk)
        current = reloaded(run)
        assert (current.status, current.attempts, current.last_error, current.finished_at) == (
            "queued", attempt, "revolut: Service Unavailable (HTTP 503)", None,
        )  # fmt: skip
    execute_action_run(run.pk)

    run = reloaded(run)
    assert (run.status, run.attempts, run.last_error) == ("failed", 5, "revolut: Service Unavailable (HTTP 503)")
    assert run.finished_at is not None
    assert sent == [("apply_async", run.pk, 15), ("apply_async", run.pk, 30), ("apply_async", run.pk, 60),
                    ("apply_async", run.pk, 120)]  # fmt: skip
    assert len(handler.calls) == MAX_ATTEMPTS == 5


def test_a_transient_error_then_success(supplier, handle, sent):
    handle(TransientProviderError("revolut", "ConnectionError: no answer from b2b.revolut.com"), {"ok": True})
    run = stored_run(supplier)

    execute_action_run(run.pk)
    execute_action_run(run.pk)

    run = reloaded(run)
    assert (run.status, run.attempts, run.last_error, run.result) == ("succeeded", 2, "", {"ok": True})
    assert sent == [("apply_async", run.pk, 15)]


def test_a_permanent_error_fails_at_once_with_the_reason(supplier, handle, sent):
    handler = handle(PermanentProviderError("revolut", "FR66995908786 is not a valid IBAN", status=400, code=3000))
    run = stored_run(supplier)

    execute_action_run(run.pk)

    run = reloaded(run)
    assert (run.status, run.attempts) == ("failed", 1)
    assert run.last_error == "revolut: FR66995908786 is not a valid IBAN (HTTP 400)"
    assert (len(handler.calls), sent) == (1, [])


def test_a_validation_error_fails_with_its_messages(supplier, handle, sent):
    handle(ValidationError(["The invoice is not approved.", "No source account."]))
    run = stored_run(supplier)

    execute_action_run(run.pk)

    run = reloaded(run)
    assert (run.status, run.last_error, sent) == ("failed", "The invoice is not approved. No source account.", [])


def test_an_unexpected_exception_fails_the_run(supplier, handle, sent):
    handle(KeyError("account"))
    run = stored_run(supplier)

    execute_action_run(run.pk)

    run = reloaded(run)
    assert (run.status, run.last_error, sent) == ("failed", "Unexpected error: 'account'", [])


def test_an_action_without_handler_fails(supplier, sent):
    run = stored_run(supplier, action="nobody.handles.this")

    execute_action_run(run.pk)

    run = reloaded(run)
    assert (run.status, run.attempts, run.last_error) == ("failed", 1, "No handler for action 'nobody.handles.this'.")


@pytest.mark.parametrize("status", ["running", "succeeded", "failed", "cancelled"])
def test_a_run_not_queued_is_not_executed_again(supplier, handle, sent, status):
    handler = handle({"ok": True})
    run = stored_run(supplier, status=status, attempts=1)

    execute_action_run(run.pk)
    execute_action_run(987654321)  # a run deleted meanwhile

    assert (reloaded(run).status, reloaded(run).attempts, handler.calls) == (status, 1, [])


# --- Retry ----------------------------------------------------------------------------------------


def test_retry_requeues_a_failed_run_from_its_first_attempt(
    supplier, handle, sent, member_of, django_capture_on_commit_callbacks
):
    finance = member_of(supplier.company, Role.FINANCE, "retrier")
    run = stored_run(supplier, status="failed", attempts=5, worker="celery@w1", last_error="revolut: timeout")

    with django_capture_on_commit_callbacks(execute=True):
        retried = actions.action_run_retry(run=run, actor=finance)

    assert (retried.status, retried.attempts, retried.finished_at, retried.worker, retried.actor) == (
        "queued", 0, None, "", finance,
    )  # fmt: skip
    assert sent == [("apply_async", run.pk, 0)]
    event = AuditEvent.objects.get(action="action_run.retried")
    assert (event.actor, event.company, event.object_id) == (finance, supplier.company, str(run.pk))
    assert event.changes == {"action": ACTION, "last_error": "revolut: timeout"}
    handle({"ok": True})
    execute_action_run(run.pk)
    assert (reloaded(run).status, reloaded(run).attempts) == ("succeeded", 1)


@pytest.mark.parametrize("status", ["queued", "running", "succeeded"])
def test_only_a_failed_run_can_be_retried(supplier, sent, ceo, status, django_capture_on_commit_callbacks):
    run = stored_run(supplier, status=status)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError) as refused:
        actions.action_run_retry(run=run, actor=ceo)

    assert refused.value.messages == [f"Only a failed action can be retried; this one is {status}."]
    assert (reloaded(run).status, sent, AuditEvent.objects.filter(action="action_run.retried").count()) == (
        status, [], 0,
    )  # fmt: skip


# --- Resume ---------------------------------------------------------------------------------------


def test_a_restarting_worker_resumes_the_runs_it_was_running(supplier, sent, django_capture_on_commit_callbacks):
    now = timezone.now()
    mine = stored_run(supplier, key="a", status="running", worker="celery@w1", started_at=now, attempts=1)
    other = stored_run(supplier, key="b", status="running", worker="celery@w2", started_at=now, attempts=1)
    done = stored_run(supplier, key="c", status="succeeded", worker="celery@w1", started_at=now, attempts=1)

    with django_capture_on_commit_callbacks(execute=True):
        resumed = actions.action_runs_resume(worker="celery@w1")

    assert resumed == 1
    assert sent == [("delay", mine.pk)]
    mine = reloaded(mine)
    assert (mine.status, mine.last_error) == ("queued", "The worker stopped during the run; resumed.")
    assert (reloaded(other).status, reloaded(done).status) == ("running", "succeeded")


def test_a_restarting_worker_sends_again_the_runs_never_started(supplier, sent, django_capture_on_commit_callbacks):
    """A worker killed after taking a run's message but before claiming the run took its only message along."""
    never_started = stored_run(supplier, key="a", created_at=timezone.now() - dt.timedelta(seconds=3))
    waiting_retry = stored_run(supplier, key="b", attempts=1, last_error="Revolut: 503")

    with django_capture_on_commit_callbacks(execute=True):
        resumed = actions.action_runs_resume(worker="celery@w1")

    assert (resumed, sent) == (1, [("delay", never_started.pk)])
    assert (reloaded(never_started).status, reloaded(waiting_retry).status) == ("queued", "queued")


def test_beat_resumes_runs_older_than_the_task_time_limit_and_lost_messages(
    supplier, sent, django_capture_on_commit_callbacks
):
    now = timezone.now()
    orphaned_after, lost_after = actions.ORPHANED_AFTER, actions.LOST_AFTER
    orphan = stored_run(supplier, key="a", status="running", worker="celery@gone", attempts=1,
                        started_at=now - orphaned_after - dt.timedelta(seconds=1))  # fmt: skip
    alive = stored_run(supplier, key="b", status="running", worker="celery@busy", attempts=1,
                       started_at=now - orphaned_after + dt.timedelta(seconds=30))  # fmt: skip
    lost = stored_run(supplier, key="c", created_at=now - lost_after - dt.timedelta(minutes=1))
    waiting = stored_run(supplier, key="d", created_at=now - dt.timedelta(minutes=1))

    with django_capture_on_commit_callbacks(execute=True):
        resumed = actions.action_runs_resume(now=now)

    assert resumed == 2
    assert sorted(sent) == sorted([("delay", orphan.pk), ("delay", lost.pk)])
    assert [reloaded(run).status for run in (orphan, alive, lost, waiting)] == ["queued", "running", "queued", "queued"]


def test_a_run_orphaned_long_ago_is_resumed_once(supplier, sent, django_capture_on_commit_callbacks):
    """Beat was down too: the orphan is older than both limits, and still sent only once."""
    now = timezone.now()
    orphan = stored_run(supplier, status="running", worker="celery@gone", attempts=1,
                        started_at=now - dt.timedelta(hours=2))  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        resumed = actions.action_runs_resume(now=now)

    assert (resumed, sent) == (1, [("delay", orphan.pk)])


def test_a_resumed_run_executes_again(supplier, handle, sent, django_capture_on_commit_callbacks):
    handler = handle({"ok": True})
    run = stored_run(supplier, status="running", worker="celery@w1", started_at=timezone.now(), attempts=1)

    with django_capture_on_commit_callbacks(execute=True):
        actions.action_runs_resume(worker="celery@w1")
    execute_action_run(run.pk)

    run = reloaded(run)
    assert (run.status, run.attempts, run.worker, run.last_error) == ("succeeded", 2, "eager", "")
    assert handler.calls == [(run.pk, "running", 2)]


# --- Badge and retry pages ------------------------------------------------------------------------


def signed_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def finance(company_a, member_of):
    return member_of(company_a, Role.FINANCE, "badge-finance")


def status_url(run):
    return reverse("integrations:action-run-status", kwargs={"pk": run.pk})


def test_badge_of_a_run_in_progress_polls(supplier, finance):
    run = stored_run(supplier, status="running", attempts=1)

    response = signed_in(finance).get(status_url(run))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'hx-get="{status_url(run)}?polling=1"' in html
    assert 'hx-trigger="every 2s"' in html
    assert "Running" in html
    assert "1 attempt<" in html
    assert "HX-Refresh" not in response.headers


def test_badge_of_a_final_run_stops_polling_and_refreshes_the_page_once(supplier, finance):
    run = stored_run(supplier, status="succeeded", attempts=2)
    client = signed_in(finance)

    polled = client.get(status_url(run), {"polling": "1"}, HTTP_HX_REQUEST="true")
    shown = client.get(status_url(run), HTTP_HX_REQUEST="true")

    assert polled.headers["HX-Refresh"] == "true"
    assert "HX-Refresh" not in shown.headers
    html = polled.content.decode()
    assert "hx-get" not in html
    assert "hx-trigger" not in html
    assert "Succeeded" in html
    assert "2 attempts" in html


def test_badge_of_a_running_run_polled_does_not_refresh(supplier, finance):
    run = stored_run(supplier, status="queued")

    response = signed_in(finance).get(status_url(run), {"polling": "1"}, HTTP_HX_REQUEST="true")

    assert "HX-Refresh" not in response.headers
    assert 'hx-trigger="every 2s"' in response.content.decode()


def test_a_failed_run_shows_why_and_a_retry_button_for_finance_only(supplier, finance, member_of):
    run = stored_run(supplier, status="failed", attempts=5, last_error="revolut: Service Unavailable (HTTP 503)")
    sales = member_of(supplier.company, Role.SALES, "badge-sales")
    retry_url = reverse("integrations:action-run-retry", kwargs={"pk": run.pk})

    for_finance = signed_in(finance).get(status_url(run)).content.decode()
    for_sales = signed_in(sales).get(status_url(run)).content.decode()

    assert "revolut: Service Unavailable (HTTP 503)" in for_finance
    assert "revolut: Service Unavailable (HTTP 503)" in for_sales
    assert retry_url in for_finance
    assert "Retry</button>" in for_finance
    assert retry_url not in for_sales
    assert "Retry" not in for_sales


def test_another_companys_run_is_not_found(company_b, finance, sent):
    run = stored_run(SupplierFactory(company=company_b), status="failed")

    client = signed_in(finance)
    assert client.get(status_url(run)).status_code == 404
    assert client.post(reverse("integrations:action-run-retry", kwargs={"pk": run.pk})).status_code == 404
    assert reloaded(run).status == "failed"


def test_retry_from_the_badge_requeues_and_answers_the_new_badge(
    supplier, finance, sent, django_capture_on_commit_callbacks
):
    run = stored_run(supplier, status="failed", attempts=5, last_error="revolut: timeout")
    url = reverse("integrations:action-run-retry", kwargs={"pk": run.pk})

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(finance, enforce_csrf_checks=False).post(url, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Queued" in html
    assert 'hx-trigger="every 2s"' in html
    assert "0 attempts" in html
    assert (reloaded(run).status, sent) == ("queued", [("apply_async", run.pk, 0)])


def test_retry_without_htmx_goes_back_to_the_target(supplier, finance, sent, django_capture_on_commit_callbacks):
    run = stored_run(supplier, status="failed")

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(finance).post(reverse("integrations:action-run-retry", kwargs={"pk": run.pk}))

    assert response.status_code == 302
    assert response.url == supplier.get_absolute_url()
    assert reloaded(run).status == "queued"


def test_retry_is_refused_to_a_role_that_cannot_bill_and_for_a_run_not_failed(supplier, finance, member_of, sent):
    failed = stored_run(supplier, key="a", status="failed")
    succeeded = stored_run(supplier, key="b", status="succeeded")
    sales = member_of(supplier.company, Role.SALES, "retry-sales")

    refused = signed_in(sales).post(reverse("integrations:action-run-retry", kwargs={"pk": failed.pk}))
    not_failed = signed_in(finance).post(
        reverse("integrations:action-run-retry", kwargs={"pk": succeeded.pk}), follow=True
    )

    assert refused.status_code == 404
    assert reloaded(failed).status == "failed"
    assert "Only a failed action can be retried; this one is succeeded." in not_failed.content.decode()
    assert (reloaded(succeeded).status, sent) == ("succeeded", [])


def test_the_badge_needs_a_signed_in_user(supplier):
    run = stored_run(supplier, status="queued")

    response = Client().get(status_url(run))

    assert response.status_code == 302
    assert "/login" in response.url
