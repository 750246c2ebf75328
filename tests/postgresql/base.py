"""The test run's database backend: PostgreSQL, with a flush that the database guards let through.

Between transactional tests (the browser and end-to-end ones) Django empties every table with one
TRUNCATE. The audit log and the payments refuse TRUNCATE (finance migration 0025), as they must in every
deployment; only this test backend's flush runs with `session_replication_role = replica`, under which
PostgreSQL fires no trigger, so the empty database of the next test is reached without weakening a guard.
"""

from django.db.backends.postgresql import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        statements = super().sql_flush(style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        if not statements:
            return statements
        return ["SET LOCAL session_replication_role = replica", *statements]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
