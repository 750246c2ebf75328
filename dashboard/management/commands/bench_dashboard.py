"""Measure the dashboard's server time and SQL queries, for the group and for one company.

Requests go through Django's whole stack in this process (middleware, session, views, templates)
without a network in between, so the time printed is the server's own.
"""

import statistics
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse

from dashboard import figures
from dashboard.views import PARTIALS
from finance.models import BankTransaction, Company, Invoice, InvoiceLine, SupplierInvoice
from finance.scope import SESSION_KEY

BENCH_USER = "dashboard-bench"
# The targets of the issue: every partial in at most 10 queries, the whole page's p95 under 150 ms.
PARTIAL_QUERY_TARGET = 10
PAGE_P95_TARGET_MS = 150.0


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class QueryCounter:
    """A database execute wrapper that counts the statements a request sends."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class Command(BaseCommand):
    help = "Time the dashboard page and each partial (median, p95) and count their SQL queries."

    def add_arguments(self, parser):
        parser.add_argument("--repeat", type=int, default=30, help="Timed requests per URL (default 30).")
        parser.add_argument("--company", default="", help="Company code for the one-company run (default: first).")
        parser.add_argument("--refresh", action="store_true", help="Recompute the history views first, timed.")

    def handle(self, *args, repeat: int, company: str, refresh: bool, **options):
        if repeat < 1:
            raise CommandError("--repeat must be at least 1.")
        chosen = Company.objects.filter(code=company).first() if company else Company.objects.order_by("code").first()
        if chosen is None:
            raise CommandError("No such company." if company else "No company: run generate_dataset first.")
        self.stdout.write(
            f"Data: {Invoice.objects.count():,} invoices, {InvoiceLine.objects.count():,} invoice lines, "
            f"{SupplierInvoice.objects.count():,} supplier invoices, {BankTransaction.objects.count():,} bank "
            f"transactions, {Company.objects.count()} companies"
        )
        if refresh or figures.figures_refreshed_at() is None:
            started = time.perf_counter()
            figures.figures_refresh()
            self.stdout.write(f"History views refreshed in {time.perf_counter() - started:.1f} s")
        user, _created = get_user_model().objects.get_or_create(
            username=BENCH_USER, defaults={"is_superuser": True, "is_staff": False}
        )
        if _created:
            user.set_unusable_password()
            user.save()
        failures = []
        # As in production (no debug), but served from the source folders rather than a collected manifest.
        storages = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        with override_settings(ALLOWED_HOSTS=["*"], SECURE_SSL_REDIRECT=False, DEBUG=False, STORAGES=storages):
            for label, code in (("group", None), (f"company {chosen.code}", chosen.code)):
                failures += self._bench_scope(user, label, code, repeat)
        if failures:
            self.stdout.write(self.style.ERROR("Targets missed: " + "; ".join(failures)))
        else:
            self.stdout.write(self.style.SUCCESS(
                f"Targets met: every partial ≤ {PARTIAL_QUERY_TARGET} queries, page p95 ≤ {PAGE_P95_TARGET_MS:.0f} ms"
            ))  # fmt: skip

    def _bench_scope(self, user, label: str, code: str | None, repeat: int) -> list[str]:
        client = Client()
        client.force_login(user)
        session = client.session
        if code:
            session[SESSION_KEY] = code
        else:
            session.pop(SESSION_KEY, None)
        session.save()
        self.stdout.write(f"\n{label}: {repeat} requests each")
        self.stdout.write(f"  {'url':<34} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
        targets = [("page", reverse("dashboard:home"), {})] + [
            (name, reverse("dashboard:partial", args=[name]), {"HTTP_HX_REQUEST": "true"}) for name in PARTIALS
        ]
        failures = []
        for name, url, headers in targets:
            client.get(url, **headers)  # warm the caches every later request also finds warm
            queries = QueryCounter()
            with connection.execute_wrapper(queries):
                response = client.get(url, **headers)
            if response.status_code != 200:
                raise CommandError(f"{url} answered {response.status_code}")
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                client.get(url, **headers)
                samples.append((time.perf_counter() - started) * 1000)
            median, p95 = statistics.median(samples), percentile(samples, 0.95)
            self.stdout.write(f"  {url:<34} {median:>10.1f} {p95:>8.1f} {queries.count:>8}")
            if name == "page" and p95 > PAGE_P95_TARGET_MS:
                failures.append(f"{label} page p95 {p95:.0f} ms")
            if name != "page" and queries.count > PARTIAL_QUERY_TARGET:
                failures.append(f"{label} {name} {queries.count} queries")
        return failures
