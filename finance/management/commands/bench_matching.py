"""Measure the automatic matching of incoming transfers with open invoices (`manage.py bench_matching`).

Open invoices are spread over the five group companies (5 : 4 : 3 : 2 : 1), one in ten in euros, one in ten
partly paid already, ten per client; each has its number and its QR (or creditor) reference. The incoming
transfers are what a bank statement brings: the QR reference typed with or without spaces, the invoice number
in the text with the right amount or another, the amount alone, the payer's name alone, or nothing the Hub
knows. All of them go through `reconciliation.transactions_match_auto`, the code a camt import runs: payments
are recorded, suggestions written. The matching is timed and its SQL queries counted.

Invoices are loaded with COPY, as `dashboard.dataset` does, and satisfy the database's rules as they stand:
numbers taken from each company's invoice sequence, totals that add up, issued invoices numbered and dated, and
the dashboard's open-invoice triggers left on. Everything happens in one transaction rolled back at the end: the
database is left as it was found (only its id sequences move on).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TextIO

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from finance import qrbill
from finance.management.commands.seed_demo import DEMO_COMPANIES
from finance.models import BankAccount, BankTransaction, Client, Company, DocumentSequence, Invoice, Payment
from finance.services import reconciliation
from finance.services.companies import company_create
from finance.services.numbering import NUMBER_FORMATS
from integrations.models import Connection, Provider


@dataclass(frozen=True)
class Size:
    transfers: int
    invoices: int


SIZES = {"XS": Size(40, 400), "S": Size(1_000, 10_000), "L": Size(10_000, 100_000)}  # XS is for the tests
WEIGHTS = (5, 4, 3, 2, 1)  # the invoices and transfers of each group company, in DEMO_COMPANIES order
INVOICES_PER_CLIENT = 10
TARGET_SECONDS = 30.0  # for all transfers at L
SEED = 24
CENT = Decimal("0.01")
BENCH_PREFIX = "bench-matching-"
TRADES = ("Boulangerie", "Garage", "Menuiserie", "Hôtel", "Restaurant", "Pharmacie", "Fiduciaire",
          "Cabinet dentaire", "Boucherie", "Librairie", "Imprimerie", "Carrosserie", "Fromagerie", "Pâtisserie",
          "Transports", "Électricité", "Sanitaire", "Architecture", "Optique", "Horlogerie")  # fmt: skip
SURNAMES = ("Favre", "Dupont", "Müller", "Bernasconi", "Rochat", "Chevalley", "Schmid", "Keller", "Meyer", "Weber",
            "Huber", "Perret", "Girard", "Monnier", "Fontana", "Rossi", "Bühler", "Zbinden", "Jaquet", "Clerc",
            "Berset", "Python", "Sciboz", "Mauron", "Overney", "Currat", "Dousse", "Bapst", "Egger",
            "Brügger")  # fmt: skip
TOWNS = ("Fribourg", "Bulle", "Lausanne", "Genève", "Bern", "Zürich", "Neuchâtel", "Sion", "Morat", "Payerne",
         "Romont", "Châtel-St-Denis", "Estavayer", "Yverdon", "Vevey", "Montreux", "Thun", "Biel", "Basel",
         "Luzern")  # fmt: skip
LEGAL_FORMS = ("SA", "Sàrl", "AG", "GmbH", "")
STRANGERS = ("Jean Inconnu", "Maria Rossi-Bianchi", "Peter Muster", "Caisse de pension", "Amazon Payments")
# What the transfers carry, and how many in a hundred do.
KINDS = (("qr_reference", 35), ("number_and_amount", 10), ("number_other_amount", 10), ("amount", 15),
         ("payer", 15), ("nothing", 15))  # fmt: skip
INVOICE_COLUMNS = ("id", "company_id", "client_id", "number", "title", "notes", "created_by_id", "created_at",
                   "updated_at", "currency", "net_total", "vat_total", "gross_total", "rounding", "payable_total",
                   "credited_invoice_id", "kind", "status", "issue_date", "due_date", "qr_reference",
                   "issued_at")  # fmt: skip


class Command(BaseCommand):
    help = "Time the automatic matching of incoming transfers with open invoices (rolled back)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--size", choices=list(SIZES), default="S",
                            help="S: 1,000 transfers, 10,000 open invoices (default); L: 10,000 and 100,000; "
                                 "XS: tests only.")  # fmt: skip

    def handle(self, *args, size: str, **options) -> None:
        run(size=size, out=self.stdout)


def run(*, size: str, out: TextIO | None = None) -> dict:
    """Create, measure, print, roll back; the figures as a dict for `make bench`."""
    now = timezone.now()
    rng = random.Random(SEED)  # noqa: S311 - reproducible data, not a secret
    with transaction.atomic():
        try:
            companies = [_company(data) for data in DEMO_COMPANIES]
            invoices = _open_invoices(companies, count=SIZES[size].invoices, today=timezone.localdate(now), rng=rng)
            transfers = _transfers(invoices, count=SIZES[size].transfers, now=now, rng=rng)
            figures = _measure(transfers)
            figures["open_invoices"] = len(invoices)
        finally:
            transaction.set_rollback(True)
    figures["size"] = size
    _report(figures, out=out)
    return figures


def _company(data: dict) -> Company:
    company = Company.objects.filter(code=data["code"]).first() or company_create(created_by=None, **data)
    if company.payment_match_threshold != 85:
        # The default threshold, so that figures compare between databases.
        company.payment_match_threshold = 85
        company.save(update_fields=["payment_match_threshold"])
    return company


def _shares(count: int) -> list[int]:
    shares = [count * weight // sum(WEIGHTS) for weight in WEIGHTS]
    shares[0] += count - sum(shares)
    return shares


@dataclass(frozen=True)
class OpenInvoice:
    company: Company
    client: Client
    number: str
    qr_reference: str
    currency: str
    balance_due: Decimal
    issue_date: date


def _open_invoices(companies: list[Company], *, count: int, today: date, rng: random.Random) -> list[OpenInvoice]:
    """`count` open invoices over the companies by WEIGHTS: issued in the last 60 days, due 30 days later."""
    author, _created = get_user_model().objects.get_or_create(username=f"{BENCH_PREFIX}entry")
    invoices, rows, payments = [], [], []
    with connection.cursor() as cursor:
        for company, share in zip(companies, _shares(count), strict=True):
            clients = _clients(company, count=-(-share // INVOICES_PER_CLIENT), rng=rng)
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('finance_invoice', 'id')) FROM generate_series(1, %s)", [share]
            )
            ids = [row[0] for row in cursor.fetchall()]
            numbers = _numbers(company, count=share, year=today.year)
            for n, (pk, number) in enumerate(zip(ids, numbers, strict=True)):
                client, issue_date = clients[n // INVOICES_PER_CLIENT], today - timedelta(days=rng.randrange(60))
                net = Decimal(rng.randrange(5_000, 2_000_000)) * CENT
                vat = (net * Decimal("0.081")).quantize(CENT)
                payable = net + vat
                currency = "EUR" if n % 10 == 7 else "CHF"
                reference = (
                    qrbill.qr_reference(f"{company.pk:06d}{pk:020d}") if company.qr_iban
                    else qrbill.creditor_reference(f"{company.pk}{pk:010d}")
                )  # fmt: skip
                partly_paid = n % 10 == 3
                issued_at = timezone.make_aware(datetime.combine(issue_date, datetime.min.time()))
                rows.append((
                    pk, company.pk, client.pk, number, "Prestations", "", author.pk, issued_at, issued_at, currency,
                    net, vat, payable, Decimal("0.00"), payable, None, Invoice.Kind.STANDARD,
                    Invoice.Status.PARTIALLY_PAID if partly_paid else Invoice.Status.ISSUED, issue_date,
                    issue_date + timedelta(days=30), reference, issued_at,
                ))  # fmt: skip
                paid = (payable * Decimal("0.4")).quantize(CENT) if partly_paid else Decimal("0.00")
                if partly_paid:
                    payments.append((company, client, pk, paid, currency, issue_date + timedelta(days=10), number))
                invoices.append(OpenInvoice(company, client, number, reference, currency, payable - paid, issue_date))
        with cursor.copy(f"COPY finance_invoice ({', '.join(INVOICE_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    _partial_payments(payments, author=author, today=today)
    with connection.cursor() as cursor:
        # The planner sees the loaded rows as the matching of a real day would (rolled back with the rest).
        cursor.execute("ANALYZE finance_invoice, finance_client, finance_payment, finance_paymentallocation")
    return invoices


def _clients(company: Company, *, count: int, rng: random.Random) -> list[Client]:
    return Client.objects.bulk_create(
        Client(company=company, name=f"{rng.choice(TRADES)} {rng.choice(SURNAMES)} {rng.choice(TOWNS)} "
                                     f"{rng.choice(LEGAL_FORMS)}".strip(),
               street="Rue du Marché", postal_code="1700", town=rng.choice(TOWNS))
        for _ in range(count)
    )  # fmt: skip


def _numbers(company: Company, *, count: int, year: int) -> list[str]:
    """The next `count` invoice numbers of the company's sequence, taken as `document_number_take` does."""
    sequence, _created = DocumentSequence.objects.select_for_update().get_or_create(
        company=company, family=DocumentSequence.Family.INVOICE, year=year
    )
    first = sequence.last_number + 1
    sequence.last_number += count
    sequence.save(update_fields=["last_number"])
    number_format = NUMBER_FORMATS[DocumentSequence.Family.INVOICE]
    return [number_format.format(code=company.code, year=year, number=n) for n in range(first, first + count)]


def _partial_payments(payments: list[tuple], *, author, today: date) -> None:
    """One payment of 40 % for every tenth invoice, allocated to it."""
    created = Payment.objects.bulk_create(
        Payment(company=company, client=client, received_on=min(received, today), amount=amount, currency=currency,
                reference=number, created_by=author)
        for company, client, _invoice, amount, currency, received, number in payments
    )  # fmt: skip
    with (
        connection.cursor() as cursor,
        cursor.copy("COPY finance_paymentallocation (payment_id, invoice_id, amount) FROM STDIN") as copy,
    ):
        for payment, (_company, _client, invoice_id, amount, *_rest) in zip(created, payments, strict=True):
            copy.write_row((payment.pk, invoice_id, amount))


def _transfers(invoices: list[OpenInvoice], *, count: int, now: datetime, rng: random.Random) -> list[BankTransaction]:
    """`count` incoming completed transfers, each about a different invoice, carrying what KINDS says."""
    accounts = {}
    for company in {invoice.company for invoice in invoices}:
        revolut, _created = Connection.objects.get_or_create(company=company, provider=Provider.REVOLUT)
        for currency in ("CHF", "EUR"):
            accounts[company.pk, currency] = BankAccount.objects.create(
                company=company, connection=revolut, provider_account_id=f"{BENCH_PREFIX}{company.code}-{currency}",
                name=f"Bench {currency}", currency=currency, balance=Decimal("0.00"), balance_updated_at=now,
            )  # fmt: skip
    kinds = [kind for kind, share in KINDS for _ in range(share)]
    rng.shuffle(kinds)
    transfers = []
    for n, invoice in enumerate(rng.sample(invoices, count)):
        kind = kinds[n % len(kinds)]
        amount, reference, payer = invoice.balance_due, "", rng.choice(STRANGERS)
        if kind == "qr_reference":
            compact = invoice.qr_reference
            reference = compact if n % 2 else " ".join(compact[i : i + 5] for i in range(0, len(compact), 5))
        elif kind in ("number_and_amount", "number_other_amount"):
            reference = f"Facture {invoice.number}, merci"
            amount = amount if kind == "number_and_amount" else (amount / 2).quantize(CENT)
        elif kind == "amount":
            reference = "Merci"
        elif kind == "payer":
            amount, payer = Decimal(rng.randrange(1_000, 50_000)) * CENT, invoice.client.name
        else:
            amount, reference = Decimal(rng.randrange(1_000, 50_000)) * CENT, "Remboursement"
        at = now - timedelta(minutes=n)
        transfers.append(BankTransaction(
            company=invoice.company, account=accounts[invoice.company.pk, invoice.currency],
            provider_id=f"{BENCH_PREFIX}{n}", type="transfer", state=BankTransaction.State.COMPLETED,
            reference=reference, amount=amount, currency=invoice.currency, counterparty_name=payer,
            created_on_bank=at, completed_at=at, match_status=BankTransaction.Match.UNMATCHED,
        ))  # fmt: skip
    created = BankTransaction.objects.bulk_create(transfers)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE finance_banktransaction")
    return created


def _measure(transfers: list[BankTransaction]) -> dict:
    queries = [0]

    def count(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    # First the candidates alone, read and scored batch by batch as the matching does, nothing written.
    started = time.perf_counter()
    with connection.execute_wrapper(count):
        for batch in reconciliation._batches(transfers):
            finder = reconciliation.CandidateFinder(batch[0].company, batch[0].currency, batch)
            for transfer in batch:
                finder.candidates(transfer)
    scoring_seconds, scoring_queries = time.perf_counter() - started, queries[0]
    reconciliation._compacted.cache_clear()
    queries[0] = 0
    started = time.perf_counter()
    with connection.execute_wrapper(count):  # the code path of a camt import: payments, suggestions
        matched = reconciliation.transactions_match_auto(transfers)
    seconds = time.perf_counter() - started
    statuses = [transaction.match_status for transaction in matched]
    return {
        "transfers": len(transfers),
        "seconds": round(seconds, 3),
        "transfers_per_second": round(len(transfers) / seconds, 1) if seconds else None,
        "queries": queries[0],
        "scoring_seconds": round(scoring_seconds, 3),
        "scoring_queries": scoring_queries,
        "matched": statuses.count(BankTransaction.Match.MATCHED),
        "suggested": statuses.count(BankTransaction.Match.SUGGESTED),
        "unmatched": statuses.count(BankTransaction.Match.UNMATCHED),
    }


def _report(figures: dict, *, out: TextIO | None) -> None:
    misses = []
    if figures["size"] == "L" and figures["seconds"] >= TARGET_SECONDS:
        misses.append(
            f"{figures['seconds']:.1f} s for {figures['transfers']} transfers (target < {TARGET_SECONDS:.0f} s)"
        )
    figures["target_met"] = not misses
    figures["target_missed"] = "; ".join(misses)
    if out is None:
        return
    lines = [
        f"Matching benchmark, size {figures['size']}: {figures['transfers']} incoming transfers against "
        f"{figures['open_invoices']} open invoices of {len(WEIGHTS)} companies, rolled back at the end",
        f"transfers: {figures['transfers']}",
        f"open invoices: {figures['open_invoices']}",
        f"time: {figures['seconds']:.2f} s",
        f"rate: {figures['transfers_per_second']} transfers/s",
        f"SQL queries: {figures['queries']}",
        f"of which reading and scoring the candidates alone: {figures['scoring_seconds']:.2f} s, "
        f"{figures['scoring_queries']} SQL queries (the rest records payments and writes suggestions)",
        f"matched automatically: {figures['matched']}, suggested: {figures['suggested']}, "
        f"unmatched: {figures['unmatched']}",
        f"target: < {TARGET_SECONDS:.0f} s at L ({SIZES['L'].transfers} transfers, "
        f"{SIZES['L'].invoices} open invoices)",
        "target met" if not misses else f"target missed: {figures['target_missed']}",
    ]
    out.write("\n".join(lines) + "\n")
