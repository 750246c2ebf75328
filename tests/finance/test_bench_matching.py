"""The matching benchmark at size XS: what it creates, matches and counts, and that it leaves nothing behind."""

import io

import pytest
from django.core.management import call_command

from finance.management.commands import bench_matching
from finance.models import (
    AuditEvent,
    BankAccount,
    BankTransaction,
    Client,
    Company,
    DocumentSequence,
    Invoice,
    MatchSuggestion,
    Payment,
)
from integrations.models import Connection

pytestmark = pytest.mark.django_db

MODELS = (AuditEvent, BankAccount, BankTransaction, Client, Company, DocumentSequence, Invoice, MatchSuggestion,
          Payment, Connection)  # fmt: skip


def test_the_bench_matches_the_transfers_and_leaves_the_database_as_it_found_it():
    before = {model.__name__: model.objects.count() for model in MODELS}
    out = io.StringIO()

    figures = bench_matching.run(size="XS", out=out)

    assert {model.__name__: model.objects.count() for model in MODELS} == before
    assert (figures["transfers"], figures["open_invoices"]) == (40, 400)
    assert (figures["matched"], figures["suggested"], figures["unmatched"]) == (19, 16, 5)
    # The transfers fall in 7 batches of a company and currency (five in francs, two in euros): two queries each.
    assert figures["scoring_queries"] == 14
    assert (figures["target_met"], figures["target_missed"]) == (True, "")
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "Matching benchmark, size XS: 40 incoming transfers against 400 open invoices of 5 companies, "
        "rolled back at the end"
    )
    assert "matched automatically: 19, suggested: 16, unmatched: 5" in lines
    assert lines[-1] == "target met"


def test_the_command_prints_the_same_block():
    out = io.StringIO()
    call_command("bench_matching", "--size", "XS", stdout=out)
    assert "transfers: 40" in out.getvalue().splitlines()
    assert out.getvalue().splitlines()[-1] == "target met"
