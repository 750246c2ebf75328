"""The dashboard's cached date filter writes what Django's `date` filter writes, in each of the Hub's languages."""

from datetime import UTC, date, datetime

import pytest
from django.template import engines
from django.utils import translation

DAYS = [date(2026, 1, 31), date(2025, 12, 1), date(2026, 3, 9)]


@pytest.mark.parametrize("language", ["fr", "de", "en"])
@pytest.mark.parametrize("form", ["F Y", "m.Y", "d.m.Y", "SHORT_DATE_FORMAT"])
def test_date_label_is_the_date_filter(language, form):
    engine = engines["django"]
    with translation.override(language):
        for day in DAYS:
            django_s = engine.from_string(f'{{{{ day|date:"{form}" }}}}').render({"day": day})
            ours = engine.from_string(f'{{% load dashboard_dates %}}{{{{ day|date_label:"{form}" }}}}')
            assert ours.render({"day": day}) == django_s


def test_each_language_gets_its_own_month_names():
    engine = engines["django"]
    template = engine.from_string('{% load dashboard_dates %}{{ day|date_label:"F Y" }}')
    written = {}
    for language in ("fr", "de", "en"):
        with translation.override(language):
            written[language] = template.render({"day": date(2026, 3, 9)})
    assert written == {"fr": "mars 2026", "de": "März 2026", "en": "March 2026"}


def test_no_date_writes_nothing_and_a_moment_is_written_in_the_readers_time_zone():
    engine = engines["django"]
    template = engine.from_string('{% load dashboard_dates %}[{{ day|date_label:"d.m.Y H:i" }}]')
    late_evening_utc = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # 1 January 00:30 in Zurich
    assert template.render({"day": None}) == "[]"
    assert template.render({"day": late_evening_utc}) == "[01.01.2027 00:30]"
