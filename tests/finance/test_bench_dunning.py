"""The dunning benchmark at size XS: what it creates, measures and counts, and that it leaves nothing behind."""

import io

import pytest
from django.core.management import call_command

from finance.management.commands import bench_dunning
from finance.models import AuditEvent, Client, Company, Invoice, InvoiceDunning, Payment, Reminder
from integrations.models import ActionRun, Connection

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
    assert (figures["preview_queries"], figures["run_queries"]) == ([9] * 5, [25] * 5)
    # Every reminder the preview showed was created by the run, and its send queued for a commit that never came.
    assert (figures["notices"], figures["sends_queued"]) == (51, 51)
    assert (figures["target_met"], figures["target_missed"]) == (True, "")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Dunning benchmark, size XS: 75 overdue invoices created over 5 companies")
    assert lines[-1] == "target met"


def test_the_command_prints_the_same_block():
    out = io.StringIO()
    call_command("bench_dunning", "--size", "XS", stdout=out)
    assert "daily run: 75 invoices, 5 companies, " in out.getvalue()
    assert out.getvalue().splitlines()[-1] == "target met"
