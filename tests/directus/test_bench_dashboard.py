"""`bench_dashboard` against a real Directus on the test database: the same figures, the table with its ratios."""

import io
import re

from django.core.management import call_command

from dashboard.views import PARTIALS
from tests.conftest import DIRECTUS_ADMIN_TOKEN

# name, Hub median, p95, queries, Directus median, p95, calls, floor median, p95, Directus/Hub, Hub/floor
ROW = re.compile(r"^  ([a-z-]+)" + r"\s+(\S+)" * 10 + "$", re.MULTILINE)
# What the old dashboard had to ask Directus for each partial's figures (dashboard.benchmark.directus_calls).
CALLS = {"urgent": 16, "revenue": 6, "receivables": 11, "cash": 18, "activity": 6, "revenue-charts": 2, "ageing": 21}


def test_the_bench_compares_the_hub_with_directus_on_the_same_figures(directus, vat_rates, transactional_db):
    call_command("generate_dataset", "--size", "XS", stdout=io.StringIO())
    output = io.StringIO()
    call_command("bench_dashboard", "--repeat", "2", "--company", "HV", "--directus-url", directus.url,
                 "--directus-token", DIRECTUS_ADMIN_TOKEN, stdout=output)  # fmt: skip
    printed = output.getvalue()
    # Directus sums open invoices, credit notes and payments itself and lands on the Hub's figure.
    assert len(re.findall(r"^  receivables open: Directus CHF [\d,.]+(, EUR [\d,.]+)? = Hub$", printed, re.M)) == 2
    for scope in ("group", "company HV"):
        table = printed.split(f"\n{scope}: 2 interleaved rounds")[1].split("Directus cannot compute")[0]
        rows = {match[0]: match for match in ROW.findall(table)}
        partials = [name for name in PARTIALS if name != "cash-chart"]
        assert list(rows) == ["page", "page-refreshed", "page-one-thread", *partials]
        # The first page after a refresh reads the six history statements the others find kept (HistoryRows).
        assert int(rows["page-refreshed"][3]) == int(rows["page"][3]) + 6
        assert rows["page-one-thread"][3] == rows["page"][3]
        for name, expected in CALLS.items():
            assert rows[name][6] == str(expected), name
            assert rows[name][9].endswith("×")
            assert int(rows[name][3]) <= 10, name  # every partial in at most 10 queries
        assert rows["page"][6] == str(sum(CALLS.values()))
        assert rows["status"][4:7] == ("—", "—", "—")  # Directus cannot compute the status bar
        # Each Hub time split into its wait on PostgreSQL and the rest, Python's.
        split = dict(re.findall(r"^    ([a-z-]+) +([\d.]+ \+ +[\d.]+)$", table, re.M))
        assert list(split) == ["page-one-thread", *partials]
        # The page's reads on several connections at once wait while Python works: no split.
        for name in ("page", "page-refreshed"):
            assert re.search(rf"^    {name} +reads on 4 connections at once: their waits overlap Python's work$",
                             table, re.M), name  # fmt: skip
        for name, text in split.items():
            waiting, python = (float(part) for part in text.split(" + "))
            assert (waiting > 0, python > 0) == (True, True), name
    assert "Directus cannot compute (status): provider health lives in the Hub's probes" in printed
