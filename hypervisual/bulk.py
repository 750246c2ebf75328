"""Writing thousands of rows at once."""

import gc
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time
from decimal import Decimal
from uuid import UUID

from django.db import connection
from django.db.models import Field, Model
from django.db.models.expressions import DatabaseDefault
from django.utils import timezone

# Values JSON carries as they are.
_JSON_NATIVE = (str, int, float, bool, dict, list)
# Values that go as their text, which PostgreSQL reads back into the column's type.
_AS_TEXT = (Decimal, date, time, UUID)


def _plain(value):
    """The value as JSON carries it; refused when the text PostgreSQL would read could differ from what Django
    would store (a naive datetime, bytes, a tuple…)."""
    if value is None or isinstance(value, _JSON_NATIVE):
        return value
    if isinstance(value, datetime) and timezone.is_naive(value):
        raise TypeError(f"A naive datetime ({value}) has no time zone to be stored in.")
    if isinstance(value, _AS_TEXT):
        return str(value)
    raise TypeError(f"rows_insert does not store a {type(value).__name__} ({value!r}).")


def _plain_date(value):
    # Django stores an aware datetime given to a date field as its local date; the text would give its UTC one.
    if isinstance(value, datetime):
        raise TypeError(f"A datetime ({value}) given for a date: give its date.")
    return _plain(value)


def _left_to_database(objs: Sequence[Model], field) -> bool:
    """Whether the rows leave this field to PostgreSQL (a primary key to generate, a `db_default`): all or none."""
    left = [
        isinstance(value, DatabaseDefault) or (field.primary_key and value is None)
        for value in (getattr(obj, field.attname) for obj in objs)
    ]
    if any(left) and not all(left):
        raise ValueError(f"{field.model._meta.label}.{field.name} is left to the database in some rows only: "
                         f"give it in every row or in none.")  # fmt: skip
    return left[0]


def rows_insert(objs: Sequence[Model]) -> None:
    """Insert unsaved model instances of one model in one statement and give each its primary key.

    What `bulk_create` does for thousands of rows, a few times faster: Django prepares every value of every row
    through its field (about 700,000 calls for a dunning run's 20,000 invoices) and psycopg then quotes each one;
    here the rows go as one JSON document that PostgreSQL reads into the table's own row type
    (`json_populate_recordset`), so the column types, checks, triggers and constraints are the database's.
    The primary key and the fields left to their database default come back from the INSERT, as `bulk_create`
    gives them; a field must be left so in every row or in none. For plain columns only: no field's `pre_save`
    (a model with `auto_now` is refused), no `save()` or signal, as with `bulk_create`.
    """
    if not objs:
        return
    meta = objs[0]._meta
    _refuse_set_on_save(meta)
    relations = [field for field in meta.concrete_fields if field.is_relation]
    for obj in objs:
        if any(field.is_cached(obj) for field in relations):  # given as an object, which must have been saved
            obj._prepare_related_fields_for_save(operation_name="rows_insert")
    returned = [
        field for field in meta.concrete_fields
        if (field.primary_key or field.has_db_default()) and _left_to_database(objs, field)
    ]  # fmt: skip
    sent = [field for field in meta.concrete_fields if field not in returned]
    values = ([getattr(obj, field.attname) for field in sent] for obj in objs)
    alias = connection.alias  # read once: each read goes through the connection handler
    for obj, returned_values in zip(objs, _insert(meta, sent, values, returned), strict=True):
        for field, value in zip(returned, returned_values, strict=False):
            setattr(obj, field.attname, value)
        obj._state.adding, obj._state.db = False, alias


def values_insert(model: type[Model], rows: Sequence[Mapping[str, object]]) -> list[int]:
    """`rows_insert` for rows given as {field attname: value} instead of model instances; their primary keys, in
    order.

    For the largest writes: an instance costs more to build than its share of the INSERT (30–45 µs, where the
    dict is under 1 µs), and a dunning run writes 50,000 rows. Every row gives the same fields; a field none gives
    is left to PostgreSQL if it is the primary key or has a database default, takes its Python default if that is a
    constant, and is NULL if it is nullable without a default. Any other field left out is refused, as is a name
    the model does not have: neither would store what the model says.
    """
    if not rows:
        return []
    meta = model._meta
    _refuse_set_on_save(meta)
    fields = {field.attname: field for field in meta.concrete_fields}
    given = rows[0].keys()
    if unknown := sorted(set(given) - fields.keys()):
        raise ValueError(f"{meta.label} has no field {', '.join(unknown)} (give each field by its attname).")
    constants, required = {}, []
    for attname, field in fields.items():
        if attname in given or field.primary_key or field.has_db_default():
            continue
        if field.has_default() and not callable(field.default):
            constants[attname] = field.default
        elif field.has_default() or not field.null:
            required.append(field.name)
    if required:
        raise ValueError(f"{meta.label}: give {', '.join(required)} in every row (no database or constant default).")
    if any(row.keys() != given for row in rows):
        raise ValueError(f"Every {meta.label} row must give the same fields.")
    sent = [fields[attname] for attname in given] + [fields[attname] for attname in constants]
    defaults = list(constants.values())
    values = ([row[attname] for attname in given] + defaults for row in rows)
    return [pk for (pk,) in _insert(meta, sent, values, [meta.pk])]


def _refuse_set_on_save(meta) -> None:
    if any(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False) for field in meta.fields):
        raise ValueError(f"{meta.label} has a field set on save (auto_now): one INSERT would leave it empty.")


def _insert(meta, sent: list[Field], values: Iterable[list], returned: list[Field]) -> list[tuple]:
    """One INSERT of the rows (each the values of `sent`, in order); the `returned` columns of each row inserted."""
    plain = [
        (field.column, _plain_date if field.get_internal_type() == "DateField" else _plain) for field in sent
    ]  # fmt: skip
    rows = [{column: to_plain(value) for (column, to_plain), value in zip(plain, row, strict=True)} for row in values]
    quote = connection.ops.quote_name
    table, columns = quote(meta.db_table), ", ".join(quote(field.column) for field in sent)
    returning = ", ".join(quote(field.column) for field in returned) or "NULL"
    # The names are the model's own, quoted; the rows are one parameter.
    insert = f"INSERT INTO {table} ({columns}) SELECT {columns} FROM json_populate_recordset(NULL::{table}, %s) "  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"{insert}RETURNING {returning}", [json.dumps(rows, ensure_ascii=False, allow_nan=False)])
        return cursor.fetchall()


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a service builds and keeps thousands of rows in memory.

    Every object kept alive brings the collector's next full pass closer, and a full pass walks every object of the
    process, Django's own included: in a dunning run over 20,000 invoices those passes took a quarter of the CPU
    (README, Performance). Reference counting still frees whatever is let go meanwhile; a cycle
    left over waits for the first pass after the pause. The collector is the process's: a thread's pause also pauses
    it for the others, and the pause that stopped it restarts it on leaving even while another thread's goes on,
    which changes their speed only.
    """
    paused_here = gc.isenabled()
    try:
        gc.disable()
        yield
    finally:
        if paused_here:
            gc.enable()
