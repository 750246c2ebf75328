"""ApexCharts options for the dashboard, built from the selectors' figures on the server.

Amounts travel as decimal strings (the script turns them into numbers for drawing only); every chart
also has the same figures as a table under it, for reading without JavaScript.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from dashboard import selectors


def _month(day) -> str:
    return selectors.date_label(day, "M Y")


def revenue_by_month(charts: selectors.RevenueCharts) -> dict:
    return {
        "kind": "revenue",
        "categories": [_month(month) for month in charts.months],
        "series": [
            {"name": _("Revenue"), "type": "column", "data": [str(total) for total in charts.totals]},
            {"name": _("Trend"), "type": "line", "data": [str(value) for value in charts.trend]},
        ],
        "unit": "CHF",
    }


def revenue_by_company(charts: selectors.RevenueCharts) -> dict:
    return {
        "kind": "donut",
        "labels": [company.code for company, _total in charts.by_company],
        "colors": [company.colour for company, _total in charts.by_company],
        "series": [str(total) for _company, total in charts.by_company],
        "unit": "CHF",
    }


def revenue_stacked(charts: selectors.RevenueCharts) -> dict:
    return {
        "kind": "stacked",
        "categories": [_month(month) for month in charts.stacked_months],
        "colors": [company.colour for company, _values in charts.stacked],
        "series": [
            {"name": company.code, "data": [str(value) for value in values]} for company, values in charts.stacked
        ],
        "unit": "CHF",
    }


def cash_flow(cash: selectors.Cash) -> dict:
    """The last 30 days of balances, then the forecast points at 30, 60 and 90 days."""
    return {
        "kind": "cash",
        "categories": [selectors.date_label(day.day, "d.m.") for day in cash.last_30_days]
        + [_("+%(days)s d") % {"days": point.days} for point in cash.forecast],
        "series": [
            {
                "name": _("Balance"),
                "data": [str(day.balance) for day in cash.last_30_days] + [None] * len(cash.forecast),
            },
            {
                "name": _("Forecast"),
                "data": [None] * (len(cash.last_30_days) - 1)
                + [str(cash.last_30_days[-1].balance)]
                + [str(point.balance) for point in cash.forecast],
            },
        ],  # fmt: skip
        "unit": "CHF",
    }


def ageing(bars: list[selectors.AgeingBar]) -> dict:
    return {
        "kind": "ageing",
        "categories": [bar.label for bar in bars],
        "series": [{"name": _("Receivables"), "data": [str(bar.total) for bar in bars]}],
        "links": [bar.link for bar in bars],
        "unit": "CHF",
    }
