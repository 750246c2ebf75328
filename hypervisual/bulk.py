"""Writing thousands of rows at once."""

from datetime import datetime

from django.db import connection


def transaction_now() -> datetime:
    """What `db_default=Now()` would store in this transaction (its start), to be given as a plain value.

    Rows inserted in bulk reach PostgreSQL as one array per column (UNNEST) only when every value is plain: a
    database default forces one placeholder per value, far more to build, send and parse at thousands of rows.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        return cursor.fetchone()[0]
