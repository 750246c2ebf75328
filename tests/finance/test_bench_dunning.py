"""The dunning benchmark at size XS: what it creates, measures and counts, and that it leaves nothing behind."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from finance.management.commands import bench_dunning
from finance.models import AuditEvent, Client, Company, Invoice, InvoiceDunning, Payment, Reminder
from integrations.models import ActionRun, Connection
from tests.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db

MODELS = (AuditEvent, Client, Company, Invoice, InvoiceDunning, Payment, Reminder, ActionRun, Connection)


def test_the_bench_counts_the_queries_of_every_company_and_leaves_the_database_as_it_found_it():
    before = {model.__name__: model.objects.count() for model in MODELS}
    out = io.StringIO()

    figures = bench_dunning.run(size="XS", out=out)

    assert {model.__name__: model.objects.count() for model in MODELS} == before
    assert figures["created_per_company"] == {"HV": 25, "DA": 20, "LX": 15, "ER": 10, "TO": 5}
    assert (figures["invoices"], figures["companies"], figures["to_send"]) == (75, 5, 51)
    # Five companies of 5 to 25 invoices, the same queries each: they do not follow the number of invoices.
    assert (figures["preview_queries"], figures["run_queries"]) == ([9] * 5, [24] * 5)
    # Every reminder the preview showed was created by the run, and its send queued for a commit that never came.
    assert (figures["notices"], figures["sends_queued"]) == (51, 51)
    assert (figures["target_met"], figures["target_missed"]) == (True, "")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(
        "Dunning benchmark, size XS: 75 overdue invoices wanted, 0 already there, 75 created over 5 companies "
        "(HV 25, DA 20, LX 15, ER 10, TO 5)"
    )
    assert lines[-1] == "target met"


def test_the_invoices_already_overdue_count_towards_the_size():
    companies = bench_dunning._companies_ready()
    client = ClientFactory(company=companies[1], email="existing@client.invalid")
    author, today = UserFactory(), timezone.localdate()
    for n in range(5):
        invoice = bench_dunning._invoice(companies[1], client, n, author=author, today=today)
        invoice.number = f"DA-OLD-{n + 1:06d}"
        invoice.save()

    figures = bench_dunning.run(size="XS", out=io.StringIO())

    assert (figures["already"], figures["created"], figures["invoices"]) == (5, 70, 75)
    assert figures["created_per_company"] == {"HV": 25, "DA": 18, "LX": 14, "ER": 9, "TO": 4}
    assert Invoice.objects.count() == 5


def test_the_command_prints_the_same_block():
    out = io.StringIO()
    call_command("bench_dunning", "--size", "XS", stdout=out)
    assert "daily run: 75 invoices, 5 companies, " in out.getvalue()
    assert out.getvalue().splitlines()[-1] == "target met"
