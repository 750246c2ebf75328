"""Measure the dunning preview and the daily run on generated overdue invoices (`manage.py bench_dunning`).

The group companies are brought to the size's number of overdue invoices (20,000 at L, the issue's figure): those
they already have (the demo's, or a generated dataset's) count, and the bench adds the rest, spread unevenly over
the companies (5 : 4 : 3 : 2 : 1), so that the same number of queries in every company shows it does not follow
the number of invoices. Their mix is what a run meets: most due for a level, some with a level already sent, some
paused (partly paid, disputed), some blocked (client without an e-mail address). The preview (`dunning_plan`) then
the daily run (`dunning_run`) of every company are timed and their SQL queries counted.

Everything happens in one transaction rolled back at the end: the database is left as it was found (only its id
sequences move on). No e-mail leaves the machine: the run queues each reminder's send for when its transaction
commits, which never happens; the sends are counted instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TextIO

from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from finance import selectors
from finance.management.commands.seed_demo import DEMO_COMPANIES
from finance.models import (
    Client,
    Company,
    DunningText,
    Invoice,
    InvoiceDunning,
    Payment,
    PaymentAllocation,
    Reminder,
)
from finance.services import dunning
from finance.services.audit import system_user
from finance.services.companies import company_create
from integrations.actions import runs_sent_on_commit
from integrations.models import Connection, Provider

SIZES = {"XS": 75, "S": 2_000, "L": 20_000}  # overdue invoices measured; XS is for the tests
WEIGHTS = (5, 4, 3, 2, 1)  # the invoices of each group company, in DEMO_COMPANIES order
TARGET_SECONDS = 5.0  # for the preview and for the daily run of all companies, at L
CENT = Decimal("0.01")
# (language, e-mail) of the clients invoices go to in turn; one has no address, so its invoices are left.
CLIENTS = (("fr", True), ("de", True), ("fr", True), ("it", True), ("en", True), ("fr", False), ("de", True))


@dataclass(frozen=True)
class Step:
    seconds: float
    queries: list[int]  # per company

    @property
    def constant(self) -> bool:
        return len(set(self.queries)) == 1

    def queries_line(self) -> str:
        per_company = f"{self.queries[0]} per company" if self.constant else f"per company: {self.queries}"
        return f"{sum(self.queries)} SQL queries ({per_company})"


class Command(BaseCommand):
    help = "Time the dunning preview and daily run per company on generated overdue invoices (rolled back)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--size", choices=list(SIZES), default="S",
                            help="Overdue invoices measured, those already there included: "
                                 "S: 2,000 (default); L: 20,000; XS: tests only.")  # fmt: skip

    def handle(self, *args, size: str, **options) -> None:
        run(size=size, out=self.stdout)


def run(*, size: str, out: TextIO | None = None) -> dict:
    """Create, measure, print, roll back; the figures as a dict for `make bench`."""
    today = timezone.localdate()
    with transaction.atomic():
        try:
            companies = _companies_ready()
            already = _overdue_already(companies, today=today)
            created = _overdue_invoices(companies, count=max(SIZES[size] - already, 0), today=today)
            figures = _measure(companies, today=today)
        finally:
            transaction.set_rollback(True)
    figures.update(size=size, already=already, created=sum(created.values()), created_per_company=created)
    _report(figures, out=out)
    return figures


def _companies_ready() -> list[Company]:
    """The group companies with a Mautic connection, fees allowed, and a Mautic e-mail per level and language."""
    companies = []
    for data in DEMO_COMPANIES:
        company = Company.objects.filter(code=data["code"]).first() or company_create(created_by=None, **data)
        mautic = Connection.objects.filter(company=company, provider=Provider.MAUTIC).first()
        mautic = mautic or Connection(company=company, provider=Provider.MAUTIC)
        mautic.base_url, mautic.config = "https://mautic.invalid", {"auth_method": "basic", "username": "bench"}
        mautic.set_secrets(password="bench")  # noqa: S106 - never used: no send leaves the rolled-back transaction
        mautic.save()
        policy = dunning.dunning_policy_ensure(company)
        policy.daily_run_enabled, policy.terms_allow_fees, policy.last_run_on = True, True, None
        policy.save()
        for level in policy.levels.all():
            for language, _has_email in CLIENTS:
                DunningText.objects.get_or_create(level=level, language=language,
                                                  defaults={"mautic_email_id": 100 + level.level})  # fmt: skip
        companies.append(company)
    return companies


def _overdue_already(companies: list[Company], *, today: date) -> int:
    """The companies' invoices overdue before the bench adds any (the demo's, or those of a generated dataset)."""
    return sum(selectors.dunning_candidates(company=company, today=today).count() for company in companies)


def _overdue_invoices(companies: list[Company], *, count: int, today: date) -> dict[str, int]:
    """`count` overdue invoices over the companies by WEIGHTS, with their payments, reminders and holds."""
    shares = [count * weight // sum(WEIGHTS) for weight in WEIGHTS]
    shares[0] += count - sum(shares)
    author = system_user()
    for company, share in zip(companies, shares, strict=True):
        clients = Client.objects.bulk_create(
            Client(company=company, name=f"Bench client {n} SA", street="Rue du Marché", postal_code="1700",
                   town="Fribourg", language=language, email=f"bench{n}@client.invalid" if has_email else "")
            for n, (language, has_email) in enumerate(CLIENTS)
        )  # fmt: skip
        invoices = Invoice.objects.bulk_create(
            _invoice(company, clients[n % len(clients)], n, author=author, today=today) for n in range(share)
        )
        _facts(invoices, author=author, today=today)
    # Statistics, as a database in use has them: without, PostgreSQL plans the reads for near-empty tables.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE finance_invoice, finance_paymentallocation, finance_payment, finance_reminder, "
                       "finance_invoicedunning")  # fmt: skip
    return {company.code: share for company, share in zip(companies, shares, strict=True)}


def _invoice(company: Company, client: Client, n: int, *, author, today: date) -> Invoice:
    """Invoice n: 1 to 60 days late (a week apart from one to the next, so that a few already mix the levels),
    issued 30 days before its due date; every tenth one partly paid."""
    due = today - timedelta(days=1 + n * 7 % 60)
    net = Decimal(400 + 25 * (n % 40))
    vat = (net * Decimal("0.081")).quantize(CENT)
    return Invoice(
        company=company, client=client, number=f"{company.code}-DUN-{n + 1:06d}", title="Bench dunning",
        created_by=author, currency="CHF", net_total=net, vat_total=vat, gross_total=net + vat, payable_total=net + vat,
        kind=Invoice.Kind.STANDARD, status=Invoice.Status.PARTIALLY_PAID if n % 10 == 3 else Invoice.Status.ISSUED,
        issue_date=due - timedelta(days=30), due_date=due, issued_at=timezone.now(),
    )  # fmt: skip


def _facts(invoices: list[Invoice], *, author, today: date) -> None:
    """What happened to the invoices since: partial payments, level 1 sent to some, a dispute on others."""
    partly_paid = [(n, invoice) for n, invoice in enumerate(invoices) if n % 10 == 3]
    payments = Payment.objects.bulk_create(
        Payment(company=invoice.company, client=invoice.client, received_on=today - timedelta(days=3 + n % 20),
                amount=(invoice.payable_total * Decimal("0.3")).quantize(CENT), reference=invoice.number,
                created_by=author)
        for n, invoice in partly_paid
    )  # fmt: skip
    PaymentAllocation.objects.bulk_create(
        PaymentAllocation(payment=payment, invoice=invoice, amount=payment.amount)
        for payment, (_n, invoice) in zip(payments, partly_paid, strict=True)
    )
    reminded = [invoice for n, invoice in enumerate(invoices) if n % 4 == 1 and (today - invoice.due_date).days >= 14]
    Reminder.objects.bulk_create(
        Reminder(company=invoice.company, invoice=invoice, level=1, level_name="Rappel courtois",
                 dunning_date=invoice.due_date + timedelta(days=7), days_late=7, balance_due=invoice.payable_total,
                 amount_due=invoice.payable_total, currency=invoice.currency, recipient=invoice.client.email,
                 language=invoice.client.language, trigger=Reminder.Trigger.DAILY_RUN, status=Reminder.Status.SENT)
        for invoice in reminded
        if invoice.client.email
    )  # fmt: skip
    InvoiceDunning.objects.bulk_create(
        InvoiceDunning(invoice=invoice, company=invoice.company, hold=InvoiceDunning.Hold.DISPUTED)
        for n, invoice in enumerate(invoices)
        if n % 20 == 5
    )


def _measure(companies: list[Company], *, today: date) -> dict:
    queries = [0]

    def count(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    def step(action) -> tuple[Step, list]:
        results, per_company = [], []
        started = time.perf_counter()
        with connection.execute_wrapper(count):
            for company in companies:
                before = queries[0]
                results.append(action(company))
                per_company.append(queries[0] - before)
        return Step(seconds=time.perf_counter() - started, queries=per_company), results

    # Read once per process and cached: not a query of whichever company would come first.
    ContentType.objects.get_for_model(Reminder)
    preview, plans = step(lambda company: dunning.dunning_plan(company, today=today))
    actor = system_user()
    sends_before = len(runs_sent_on_commit())
    daily, results = step(lambda company: dunning.dunning_run(company=company, today=today, actor=actor))
    return {
        "companies": len(companies),
        "invoices": sum(len(plan) for plan in plans),
        "to_send": sum(1 for plan in plans for entry in plan if not entry.blocker),
        "preview_seconds": round(preview.seconds, 3),
        "preview_queries": preview.queries,
        "preview_queries_constant": preview.constant,
        "run_seconds": round(daily.seconds, 3),
        "run_queries": daily.queries,
        "run_queries_constant": daily.constant,
        "notices": sum(len(result.reminder_ids) for result in results),
        # What the commit would send: a task per reminder's action run (the rollback discards them: nothing goes out).
        "sends_queued": len(runs_sent_on_commit()) - sends_before,
        "_steps": (preview, daily),
    }


def _report(figures: dict, *, out: TextIO | None) -> None:
    preview, daily = figures.pop("_steps")
    misses = []
    if not preview.constant:
        misses.append("the preview's queries vary between companies")
    if not daily.constant:
        misses.append("the daily run's queries vary between companies")
    if figures["notices"] != figures["to_send"] or figures["sends_queued"] != figures["notices"]:
        misses.append("the run did not create and queue what the preview showed")
    if figures["size"] == "L":
        for name, step in (("preview", preview), ("daily run", daily)):
            if step.seconds >= TARGET_SECONDS:
                misses.append(f"the {name} took {step.seconds:.2f} s (target < {TARGET_SECONDS:.0f} s)")
    figures["target_met"] = not misses
    figures["target_missed"] = "; ".join(misses)
    if out is None:
        return
    spread = ", ".join(f"{code} {count}" for code, count in figures["created_per_company"].items())
    lines = [
        f"Dunning benchmark, size {figures['size']}: {SIZES[figures['size']]} overdue invoices wanted, "
        f"{figures['already']} already there, {figures['created']} created over {figures['companies']} companies "
        f"({spread}), rolled back at the end",
        f"preview: {figures['invoices']} invoices, {figures['companies']} companies, {preview.seconds:.2f} s, "
        f"{preview.queries_line()}, {figures['to_send']} reminders to send",
        f"daily run: {figures['invoices']} invoices, {figures['companies']} companies, {daily.seconds:.2f} s, "
        f"{daily.queries_line()}, {figures['notices']} notices created, {figures['sends_queued']} sends queued "
        f"(none sent)",
        f"target: the same queries in every company, and < {TARGET_SECONDS:.0f} s each at L ({SIZES['L']} invoices)",
        "target met" if not misses else f"target missed: {figures['target_missed']}",
    ]
    out.write("\n".join(lines) + "\n")
