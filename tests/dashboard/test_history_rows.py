"""What the history views answered, kept per process until their next refresh (dashboard.selectors.HistoryRows)."""

from decimal import Decimal as D
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dashboard import figures, selectors
from finance.models import Invoice
from tests.dashboard.test_figures import TODAY, make_invoice

MONTH_VIEW = "FROM dashboard_sales_month"


def revenue_this_month(scope) -> tuple[D, int]:
    """Revenue of the month, and how many statements reading the sales views it sent."""
    with CaptureQueriesContext(connection) as sent:
        kpis = selectors.revenue_kpis(scope=scope, today=TODAY)
    return kpis[0].value, sum(MONTH_VIEW in query["sql"] for query in sent.captured_queries)


@pytest.mark.django_db
def test_history_is_read_once_per_refresh_and_again_after_the_next(dataset, scope, company_a):
    assert revenue_this_month(scope) == (D("3250.00"), 2)  # this year's months, last year's to date
    assert revenue_this_month(scope) == (D("3250.00"), 0)

    alpha = Invoice.objects.get(number="QA-2").client
    make_invoice(company_a, alpha, dataset["user"], number="QA-6", issued="2026-11-20", due="2026-12-20", net="600.00")
    # Until the views are recomputed they do not hold the new invoice, whoever reads them.
    assert revenue_this_month(scope) == (D("3250.00"), 0)
    figures.figures_refresh()
    assert revenue_this_month(scope) == (D("3850.00"), 2)
    assert revenue_this_month(scope) == (D("3850.00"), 0)


@pytest.mark.django_db
def test_without_a_version_every_read_goes_to_the_database(dataset, scope):
    cache.clear()  # Redis lost what the last refresh recorded
    assert figures.history_version() is None
    assert revenue_this_month(scope) == (D("3250.00"), 2)
    assert revenue_this_month(scope) == (D("3250.00"), 2)


@pytest.mark.django_db
def test_a_request_asks_redis_for_the_version_once(dataset, client, ceo, company_a):
    client.force_login(ceo)
    with mock.patch.object(figures, "history_version", wraps=figures.history_version) as asked:
        response = client.get(reverse("dashboard:partial", args=["revenue"]), HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert asked.call_count == 1  # for its three reads of the views
        for _read in range(2):
            selectors.monthly_revenue(company_ids=[company_a.pk], today=TODAY)
        assert asked.call_count == 3  # outside a request, at each read


@pytest.mark.django_db
def test_the_oldest_statement_kept_makes_room(dataset, monkeypatch):
    monkeypatch.setattr(selectors.HistoryRows, "SIZE", 2)
    rows = selectors.HistoryRows()
    statements = [(selectors.SALES_BY_MONTH, selectors._by_month_params([1], TODAY.replace(month=month), TODAY))
                  for month in (1, 2, 3)]  # fmt: skip
    for sql, params in statements:
        rows.read(sql, params)
    with CaptureQueriesContext(connection) as sent:
        rows.read(*statements[2])
        rows.read(*statements[0])
    assert len(sent.captured_queries) == 1  # the first was dropped, the third kept


@pytest.mark.django_db
def test_a_new_refresh_drops_what_the_previous_one_answered(dataset):
    rows = selectors.HistoryRows()
    for month in (1, 2):
        rows.read(selectors.SALES_BY_MONTH, selectors._by_month_params([1], TODAY.replace(month=month), TODAY))
    assert len(rows._rows) == 2
    figures.figures_refresh()
    rows.read(selectors.SALES_BY_MONTH, selectors._by_month_params([1], TODAY.replace(month=3), TODAY))
    assert len(rows._rows) == 1
