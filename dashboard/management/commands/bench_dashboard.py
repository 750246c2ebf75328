"""Measure the dashboard side by side: the Hub's page and partials, Directus REST, and the SQL floor.

Hub requests go through Django's whole stack in this process (middleware, session, views, templates)
without a network in between, so the time printed is the server's own. Directus is asked over HTTP on
the loopback, six calls at a time as a browser would. Each round runs every partial the three ways one
after the other, so the three see the same machine and the same caches.
"""

import time
from decimal import Decimal
from uuid import uuid4

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from dashboard import benchmark, figures, selectors
from dashboard.views import PARTIALS
from finance.models import BankTransaction, Company, Invoice, InvoiceLine, SupplierInvoice
from finance.scope import SESSION_KEY
from hypervisual.heap import settle_loaded_heap

BENCH_USER = "dashboard-bench"
# The targets of the issue: every partial in at most 10 queries, the group page's p95 within 60 ms,
# the Hub at least 5× faster than Directus on every figure it can compute, within 3× of the SQL floor.
PARTIAL_QUERY_TARGET = 10
PAGE_P95_TARGET_MS = 60.0
DIRECTUS_RATIO_TARGET = 5.0
FLOOR_RATIO_TARGET = 3.0


class QueryCounter:
    """A database execute wrapper that counts the statements a request sends."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class Target:
    """One row of the table: the page or a partial, measured the three ways.

    `threads` is how many connections the page reads on (settings.HV_DASHBOARD_READ_THREADS); `after_refresh`
    gives each request a new history version, as the first one after the views were refreshed, so that it reads
    the views rather than what the process kept of them (dashboard.selectors.HistoryRows).
    """

    def __init__(self, name: str, url: str, headers: dict, calls: list[benchmark.DirectusCall], *,
                 threads: int | None = None, after_refresh: bool = False) -> None:  # fmt: skip
        self.name, self.url, self.headers, self.calls = name, url, headers, calls
        self.threads = settings.HV_DASHBOARD_READ_THREADS if threads is None else threads
        self.after_refresh = after_refresh
        self.hub, self.directus, self.floor = benchmark.Samples(), benchmark.Samples(), benchmark.Samples()
        self.waiting = benchmark.Samples()  # of each Hub request, the milliseconds it waited on PostgreSQL
        self.queries = 0
        self.statements: list[benchmark.Statement] = []


class Command(BaseCommand):
    help = "Time the dashboard (median, p95) through the Hub, Directus REST and the SQL floor, with their ratios."

    def add_arguments(self, parser):
        parser.add_argument("--repeat", type=int, default=30, help="Interleaved rounds per row (default 30).")
        parser.add_argument("--company", default="", help="Company code for the one-company run (default: first).")
        parser.add_argument("--refresh", action="store_true", help="Recompute the history views first, timed.")
        parser.add_argument("--directus-url", default="", help="A Directus on this database (default: Hub only).")
        parser.add_argument("--directus-token", default="", help="Its admin token.")

    def handle(self, *args, repeat: int, company: str, refresh: bool, directus_url: str, directus_token: str,
               **options):  # fmt: skip
        if repeat < 1:
            raise CommandError("--repeat must be at least 1.")
        settle_loaded_heap()  # as the WSGI process does before its first request (hypervisual.wsgi)
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
        directus = benchmark.Directus(directus_url, directus_token) if directus_url else None
        user, created = get_user_model().objects.get_or_create(
            username=BENCH_USER, defaults={"is_superuser": True, "is_staff": False}
        )
        if created:
            user.set_unusable_password()
            user.save()
        failures = []
        # As in production (no debug), but served from the source folders rather than a collected manifest.
        storages = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        try:
            with override_settings(ALLOWED_HOSTS=["*"], SECURE_SSL_REDIRECT=False, DEBUG=False, STORAGES=storages):
                for label, scope in (("group", None), (f"company {chosen.code}", chosen)):
                    failures += self._bench_scope(user, label, scope, repeat, directus)
        finally:
            if directus:
                directus.close()
        if failures:
            self.stdout.write(self.style.ERROR("Targets missed: " + "; ".join(failures)))
        else:
            self.stdout.write(self.style.SUCCESS(
                f"Targets met: every partial ≤ {PARTIAL_QUERY_TARGET} queries, group page p95 ≤ "
                f"{PAGE_P95_TARGET_MS:.0f} ms" + (f", Hub ≥ {DIRECTUS_RATIO_TARGET:.0f}× faster than Directus, "
                f"within {FLOOR_RATIO_TARGET:.0f}× of the SQL floor" if directus else "")
            ))  # fmt: skip

    def _targets(self, scope: Company | None, directus: benchmark.Directus | None) -> list[Target]:
        company_ids = [scope.pk] if scope else list(Company.objects.order_by("pk").values_list("pk", flat=True))
        today, _now = selectors.now_local()
        calls = benchmark.directus_calls(company_ids, today) if directus else {}
        partials = [name for name in PARTIALS if name != "cash-chart"]  # the same figures as "cash"
        page_calls = [call for name in partials for call in calls.get(name, [])]
        home = reverse("dashboard:home")
        targets = [
            Target("page", home, {}, page_calls),
            Target("page-refreshed", home, {}, [], after_refresh=True),
            Target("page-one-thread", home, {}, [], threads=1),
        ]
        for name in partials:
            url = reverse("dashboard:partial", args=[name])
            targets.append(Target(name, url, {"HTTP_HX_REQUEST": "true"}, calls.get(name, [])))
        return targets

    def _check_same_figures(self, scope: Company | None, directus: benchmark.Directus) -> None:
        """Directus must compute the very figure the Hub shows, or the comparison means nothing."""
        company_ids = [scope.pk] if scope else list(Company.objects.values_list("pk", flat=True))
        today, _now = selectors.now_local()
        owed = selectors.open_invoices(company_ids, today).between()
        hub = {currency: total["amount"] for currency, total in owed.items()}
        theirs = benchmark.directus_open_receivables(directus, company_ids, today)
        shown = ", ".join(f"{currency} {amount:,.2f}" for currency, amount in sorted(hub.items()))
        if {c: Decimal(a) for c, a in theirs.items()} != hub:
            raise CommandError(f"Directus computes receivables open {theirs}, the Hub {hub}: the calls are wrong.")
        self.stdout.write(f"  receivables open: Directus {shown} = Hub")

    def _bench_scope(self, user, label: str, scope: Company | None, repeat: int, directus) -> list[str]:
        client = Client()
        client.force_login(user)
        session = client.session
        # Signed in with a verified second factor, as the CEO is: the device is read on each request as in production.
        device, _created = TOTPDevice.objects.get_or_create(user=user, name=BENCH_USER, defaults={"confirmed": True})
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        if scope:
            session[SESSION_KEY] = scope.code
        else:
            session.pop(SESSION_KEY, None)
        session.save()
        self.stdout.write(f"\n{label}: {repeat} interleaved rounds (Hub, Directus, floor); times in ms")
        if directus:
            self._check_same_figures(scope, directus)
        targets = self._targets(scope, directus)
        for target in targets:
            client.get(target.url, **target.headers)  # warm the caches every later request also finds warm
            # On this thread's connection, where the statements can be counted and kept: the same ones as side by side.
            with override_settings(HV_DASHBOARD_READ_THREADS=1):
                self._before(target)
                queries, recorder = QueryCounter(), benchmark.StatementRecorder()
                with connection.execute_wrapper(queries), connection.execute_wrapper(recorder):
                    response = client.get(target.url, **target.headers)
            if response.status_code != 200:
                raise CommandError(f"{target.url} answered {response.status_code}")
            target.queries, target.statements = queries.count, recorder.statements
        for _round in range(repeat):
            for target in targets:
                self._before(target)
                waiting = benchmark.StatementTimer()
                with override_settings(HV_DASHBOARD_READ_THREADS=target.threads), connection.execute_wrapper(waiting):
                    started = time.perf_counter()
                    client.get(target.url, **target.headers)
                    target.hub.values.append((time.perf_counter() - started) * 1000)
                target.waiting.values.append(waiting.ms)
                if directus and target.calls:
                    started = time.perf_counter()
                    directus.get_all(target.calls)
                    target.directus.values.append((time.perf_counter() - started) * 1000)
                target.floor.values.append(benchmark.floor_ms(target.statements))
        return self._report(label, scope, targets, directus is not None)

    @staticmethod
    def _before(target: Target) -> None:
        if target.after_refresh:
            # What figures_refresh sets after recomputing the views (their content is the same here).
            cache.set(figures.VERSION_KEY, uuid4().hex, timeout=None)

    def _report(self, label: str, scope: Company | None, targets: list[Target], with_directus: bool) -> list[str]:
        self.stdout.write(
            f"  {'':<15}{'Hub':>8}{'':>7}{'':>8} {'Directus':>9}{'':>8}{'':>6} {'floor':>7}{'':>7}"
            f" {'Directus':>9} {'Hub':>6}"
        )
        self.stdout.write(
            f"  {'':<15}{'median':>8}{'p95':>7}{'queries':>8} {'median':>9}{'p95':>8}{'calls':>6} {'median':>7}"
            f"{'p95':>7} {'/Hub':>9} {'/floor':>6}"
        )
        failures = []
        page = reverse("dashboard:home")
        for target in targets:
            hub, floor = target.hub, target.floor
            line = f"  {target.name:<15}{hub.median:>8.1f}{hub.p95:>7.1f}{target.queries:>8} "
            if target.directus.values:
                ratio = target.directus.median / hub.median
                line += f"{target.directus.median:>9.1f}{target.directus.p95:>8.1f}{len(target.calls):>6} "
            else:
                ratio = None
                line += f"{'—':>9}{'—':>8}{'—':>6} "
            line += f"{floor.median:>7.1f}{floor.p95:>7.1f} "
            line += f"{ratio:>8.1f}×" if ratio is not None else f"{'—':>9}"
            floor_ratio = hub.median / floor.median if floor.median else None
            line += f" {floor_ratio:>5.1f}×" if floor_ratio is not None else f" {'—':>6}"
            self.stdout.write(line)
            if target.url == page and target.threads > 1 and scope is None and hub.p95 > PAGE_P95_TARGET_MS:
                failures.append(f"{label} {target.name} p95 {hub.p95:.0f} ms")
            if target.url != page and target.queries > PARTIAL_QUERY_TARGET:
                failures.append(f"{label} {target.name} {target.queries} queries")
            if ratio is not None and ratio < DIRECTUS_RATIO_TARGET:
                failures.append(f"{label} {target.name} only {ratio:.1f}× faster than Directus")
            if with_directus and floor_ratio is not None and floor_ratio > FLOOR_RATIO_TARGET:
                failures.append(f"{label} {target.name} {floor_ratio:.1f}× the SQL floor")
        self.stdout.write("  where the Hub's time goes (medians, ms): waiting on PostgreSQL (statements sent, results "
                          "received) + Python (middleware, session, rows read, figures, templates)")  # fmt: skip
        for target in targets:
            if target.url == page and target.threads > 1:
                self.stdout.write(f"    {target.name:<15}reads on {target.threads} connections at once: their waits "
                                  "overlap Python's work")  # fmt: skip
                continue
            python = benchmark.Samples([hub - waiting for hub, waiting in zip(target.hub.values, target.waiting.values,
                                                                              strict=True)])  # fmt: skip
            self.stdout.write(f"    {target.name:<15}{target.waiting.median:>7.1f} + {python.median:>5.1f}")
        if with_directus:
            for name, reason in benchmark.DIRECTUS_CANNOT.items():
                self.stdout.write(f"  Directus cannot compute ({name}): {reason}")
        return failures
