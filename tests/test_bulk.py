"""`rows_insert` and `values_insert`: many rows in one statement, exactly as they were given, refused as a whole by
PostgreSQL's rules; `cycle_collection_paused` around the services that build them."""

import datetime as dt
import gc
from decimal import Decimal as D

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from finance.models import AuditEvent, Payment
from hypervisual.bulk import cycle_collection_paused, rows_insert, values_insert
from integrations.models import ActionRun
from tests.factories import ClientFactory, UserFactory

TRICKY = 'Crème "brûlée" \\ 100 %s \u2014 \U0001f4b6'


def payment(client, user, amount: str, **fields) -> Payment:
    return Payment(company=client.company, client=client, received_on=dt.date(2026, 12, 31), amount=D(amount),
                   reference=TRICKY, created_by=user, **fields)  # fmt: skip


@pytest.mark.django_db
def test_rows_are_stored_as_given_in_one_statement_and_get_their_keys_and_database_defaults(company_a):
    client, user = ClientFactory(company=company_a), UserFactory()
    payments = [payment(client, user, amount) for amount in ("0.05", "1081.00", "999999999.99")]

    with CaptureQueriesContext(connection) as queries:
        rows_insert(payments)

    assert len(queries) == 1
    assert [p.pk for p in payments] == sorted(p.pk for p in payments)
    stored = Payment.objects.order_by("pk")
    assert [(p.pk, p.amount, p.received_on, p.reference) for p in stored] == [
        (p.pk, D(amount), dt.date(2026, 12, 31), TRICKY)
        for p, amount in zip(payments, ("0.05", "1081.00", "999999999.99"), strict=True)
    ]
    # Left to the database: its default, the INSERT's statement time (later than the transaction's start, which the
    # test's fixtures opened), given back as `bulk_create` gives it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT now(), clock_timestamp()")
        began, after = cursor.fetchone()
    (recorded_at,) = {p.created_at for p in payments}
    assert began < recorded_at <= after
    assert [p.created_at for p in stored] == [recorded_at] * 3
    assert [p._state.adding for p in payments] == [False] * 3


@pytest.mark.django_db
def test_json_values_nulls_and_relations_go_as_they_are(company_a):
    user = UserFactory()
    changes = {"amount": "1081.00", "allocated": {"QA-2026-0001": "600.00"}, "note": TRICKY, "n": 3, "flag": True}
    events = [
        AuditEvent(actor=user, company=company_a, action="payment.recorded", object_type="finance.payment",
                   object_id="7", changes=changes),
        AuditEvent(actor=None, company=None, action="payment.recorded", object_type="finance.payment", object_id="8",
                   changes={}),
        AuditEvent(actor_id=user.pk, company_id=None, action="payment.recorded", object_type="finance.payment",
                   object_id="9", changes=[None, 0.5, "600.00", [TRICKY]]),
    ]  # fmt: skip

    rows_insert(events)

    stored = AuditEvent.objects.filter(pk__in=[event.pk for event in events]).order_by("pk")
    assert [(e.actor_id, e.company_id, e.object_id, e.changes) for e in stored] == [
        (user.pk, company_a.pk, "7", changes),
        (None, None, "8", {}),
        (user.pk, None, "9", [None, 0.5, "600.00", [TRICKY]]),
    ]


@pytest.mark.django_db
def test_a_row_the_database_refuses_refuses_them_all(company_a):
    client, user = ClientFactory(company=company_a), UserFactory()
    rows = [
        payment(client, user, "10.00", invoice_ninja_id="in-1"),
        payment(client, user, "20.00", invoice_ninja_id="in-1"),
    ]

    with pytest.raises(IntegrityError, match="payment_invoice_ninja_once"), transaction.atomic():
        rows_insert(rows)

    assert Payment.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("given_in", ["the first row", "a later row"])
def test_a_database_default_left_in_some_rows_only_is_refused_before_any_query(company_a, given_in):
    client, user = ClientFactory(company=company_a), UserFactory()
    recorded_at = dt.datetime(2026, 12, 31, 9, 0, tzinfo=dt.UTC)
    rows = [payment(client, user, "10.00"), payment(client, user, "20.00"), payment(client, user, "30.00")]
    rows[0 if given_in == "the first row" else 2].created_at = recorded_at

    with CaptureQueriesContext(connection) as queries:
        rows_insert([])
        with pytest.raises(ValueError, match="Payment.created_at is left to the database in some rows only"):
            rows_insert(rows)

    assert (len(queries), Payment.objects.count()) == (0, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "refusal"),
    [
        ("created_at", dt.datetime(2026, 12, 31, 9, 0), "naive datetime"),  # noqa: DTZ001 - the refused value
        ("received_on", dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC), "datetime .* given for a date"),
        ("reference", b"RF18", "does not store a bytes"),
        ("reference", ("RF18",), "does not store a tuple"),
    ],
)
def test_a_value_postgresql_could_read_otherwise_than_django_is_refused(company_a, field, value, refusal):
    client, user = ClientFactory(company=company_a), UserFactory()
    rows = [payment(client, user, "10.00")]
    setattr(rows[0], field, value)

    with CaptureQueriesContext(connection) as queries, pytest.raises(TypeError, match=refusal):
        rows_insert(rows)

    assert (len(queries), Payment.objects.count()) == (0, 0)


@pytest.mark.django_db
def test_a_relation_to_an_unsaved_row_is_refused_as_bulk_create_refuses_it(company_a):
    unsaved = UserFactory.build()
    event = AuditEvent(actor=unsaved, company=company_a, action="payment.recorded", object_type="finance.payment",
                       object_id="7")  # fmt: skip

    with pytest.raises(ValueError, match="unsaved related object 'actor'"):
        rows_insert([event])

    assert AuditEvent.objects.filter(object_id="7").count() == 0


def run_row(company, n: int, **fields) -> dict:
    row = {"action": "mautic.reminder", "company_id": company.pk, "actor_id": None,
           "target_type_id": ContentType.objects.get_for_model(AuditEvent).pk, "target_id": n,
           "idempotency_key": f"{TRICKY}:{n}"}  # fmt: skip
    return {**row, **fields}


@pytest.mark.django_db
def test_rows_given_as_values_are_stored_in_one_statement_with_the_defaults_the_model_says(company_a):
    user = UserFactory()
    rows = [run_row(company_a, 1), run_row(company_a, 2, actor_id=user.pk), run_row(company_a, 3)]

    with CaptureQueriesContext(connection) as queries:
        ids = values_insert(ActionRun, rows)

    assert len(queries) == 1
    assert ids == sorted(ids)
    stored = ActionRun.objects.in_bulk(ids)
    # Given; the constant Python default (status); the database defaults (attempts, result, created_at); NULL.
    assert [
        (stored[pk].target_id, stored[pk].actor_id, stored[pk].idempotency_key, stored[pk].status,
         stored[pk].attempts, stored[pk].result, stored[pk].started_at)
        for pk in ids
    ] == [
        (1, None, f"{TRICKY}:1", "queued", 0, {}, None),
        (2, user.pk, f"{TRICKY}:2", "queued", 0, {}, None),
        (3, None, f"{TRICKY}:3", "queued", 0, {}, None),
    ]  # fmt: skip
    assert len({stored[pk].created_at for pk in ids}) == 1
    assert values_insert(ActionRun, []) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rows", "refusal"),
    [
        (lambda company: [{**run_row(company, 1), "target": 1}], "ActionRun has no field target "),
        (lambda company: [{k: v for k, v in run_row(company, 1).items() if k != "action"}], "give action in every"),
        (lambda company: [run_row(company, 1), run_row(company, 2, status="running")], "must give the same fields"),
    ],
    ids=["a name the model does not have", "a field without any default left out", "rows giving other fields"],
)
def test_rows_that_would_not_store_what_the_model_says_are_refused_before_any_query(company_a, rows, refusal):
    rows = rows(company_a)
    ContentType.objects.get_for_model(AuditEvent)

    with CaptureQueriesContext(connection) as queries, pytest.raises(ValueError, match=refusal):
        values_insert(ActionRun, rows)

    assert (len(queries), ActionRun.objects.count()) == (0, 0)


def test_the_cycle_collector_is_paused_inside_and_resumes_after_even_on_an_error():
    seen = []

    def failing_work():
        seen.append(gc.isenabled())
        with cycle_collection_paused():  # nested: the inner one leaves the pause to the outer one
            pass
        seen.append(gc.isenabled())
        raise ZeroDivisionError

    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError):
        cycle_collection_paused()(failing_work)()
    assert (seen, gc.isenabled()) == ([False, False], True)


def test_a_pause_asked_while_the_collector_is_off_leaves_it_off():
    gc.disable()
    try:
        with cycle_collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
