"""manage.py generate_dataset at its smallest size: complete, consistent with the Hub's rules, reproducible."""

import io
import re
from collections import defaultdict
from datetime import date

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F, Sum
from django.db.models.functions import Round
from django.utils import timezone

from finance.management.commands.seed_demo import DEMO_COMPANIES
from finance.models import BankAccount, BankTransaction, Company, DocumentSequence, FxRate, Invoice, Quote

pytestmark = pytest.mark.django_db

SUMMARY_LINE = re.compile(r"^\s+(finance_\w+)\s+(\d+)$", re.MULTILINE)


def generate(*options: str) -> dict[str, int]:
    """Run the command at size XS and return the row counts its summary reports, per table."""
    output = io.StringIO()
    call_command("generate_dataset", "--size", "XS", *options, stdout=output)
    return {table: int(count) for table, count in SUMMARY_LINE.findall(output.getvalue())}


@pytest.fixture
def reported():
    return generate()


def test_the_reported_rows_are_the_rows_in_the_database(reported):
    models = {model._meta.db_table: model for model in apps.get_models()}

    assert reported["finance_invoice"] >= 300
    assert {table: models[table].objects.count() for table in reported} == reported
    assert set(Company.objects.values_list("code", flat=True)) >= {data["code"] for data in DEMO_COMPANIES}


def test_old_invoices_are_paid_and_every_total_is_its_lines(reported):
    old = Invoice.objects.filter(kind=Invoice.Kind.STANDARD, issue_date__lt=date(timezone.localdate().year - 1, 1, 1))
    line_net = Round(
        F("lines__quantity") * F("lines__unit_price") * (100 - F("lines__discount_percent")) / 100, precision=2
    )

    assert old.filter(status=Invoice.Status.PAID).count() >= 0.95 * old.count()
    assert Invoice.objects.annotate(lines_net=Sum(line_net)).exclude(net_total=F("lines_net")).count() == 0


def test_sequences_continue_after_the_generated_numbers(reported):
    highest = defaultdict(int)
    families = {Invoice.Kind.CREDIT_NOTE: DocumentSequence.Family.CREDIT_NOTE}
    numbered = [
        (company_id, families.get(kind, DocumentSequence.Family.INVOICE), number)
        for company_id, kind, number in Invoice.objects.exclude(number="").values_list("company_id", "kind", "number")
    ] + [
        (company_id, DocumentSequence.Family.QUOTE, number)
        for company_id, number in Quote.objects.exclude(number="").values_list("company_id", "number")
    ]
    for company_id, family, number in numbered:
        *_prefix, year, serial = number.split("-")
        highest[company_id, family, int(year)] = max(highest[company_id, family, int(year)], int(serial))
    sequences = {
        (sequence.company_id, sequence.family, sequence.year): sequence.last_number
        for sequence in DocumentSequence.objects.all()
    }

    assert highest
    assert all(sequences.get(key, 0) >= number for key, number in highest.items())


def test_bank_balances_are_their_transactions_and_never_negative(reported):
    for account in BankAccount.objects.all():
        amounts = account.transactions.order_by("created_on_bank", "id").values_list("amount", flat=True)
        running = 0
        for amount in amounts:
            running += amount
            assert running >= 0
        assert account.balance == running
    assert BankTransaction.objects.filter(match_status="unmatched").exists()
    assert FxRate.objects.filter(currency="EUR", rate_date=timezone.localdate()).exists()


def test_a_second_run_refuses_unless_it_replaces_and_then_gives_the_same_data(reported):
    totals_before = Invoice.objects.aggregate(payable=Sum("payable_total"), net=Sum("net_total"))
    numbers_before = set(Invoice.objects.values_list("number", flat=True))

    with pytest.raises(CommandError, match="--replace"):
        generate()
    replaced = generate("--replace")

    assert replaced == reported
    assert Invoice.objects.aggregate(payable=Sum("payable_total"), net=Sum("net_total")) == totals_before
    assert set(Invoice.objects.values_list("number", flat=True)) == numbers_before


def test_if_missing_keeps_an_earlier_dataset_untouched(reported):
    numbers_before = set(Invoice.objects.values_list("number", flat=True))
    output = io.StringIO()
    call_command("generate_dataset", "--size", "XS", "--if-missing", stdout=output)
    assert output.getvalue().splitlines()[-1] == "A generated dataset is already there: kept."
    assert set(Invoice.objects.values_list("number", flat=True)) == numbers_before
    assert Invoice.objects.count() == reported["finance_invoice"]
