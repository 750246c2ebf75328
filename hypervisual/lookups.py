"""Lookups PostgreSQL answers better than Django's own for large inputs."""

from django.db.models import Lookup


class AnyOf(Lookup):
    """`column = ANY(%s)`: many values as one array parameter, where `__in` sends one placeholder per value.

    At thousands of ids (a company's overdue invoices, a run's idempotency keys) `IN (...)` costs more to build,
    send and parse than the read it filters. Used as an expression: `.filter(AnyOf(F("invoice_id"), ids))`.
    """

    lookup_name = "any"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        return "%s", [list(value)]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]
