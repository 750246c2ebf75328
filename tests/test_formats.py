from datetime import date
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

SWISS = Template('{{ day|date:"SHORT_DATE_FORMAT" }} | {{ day|date:"DATE_FORMAT" }} | {{ amount|floatformat:"2g" }}')


@pytest.mark.parametrize("language", ["fr", "de", "en"])
def test_every_language_uses_swiss_dates_and_amounts(language):
    with translation.override(language):
        rendered = SWISS.render(Context({"day": date(2026, 11, 21), "amount": Decimal("1234.5")}))

    assert rendered == "21.11.2026 | 21.11.2026 | 1'234.50"


def test_large_amounts_group_by_thousands():
    with translation.override("fr"):
        rendered = Template('{{ amount|floatformat:"2g" }}').render(Context({"amount": Decimal("-1234567.055")}))

    assert rendered == "-1'234'567.06"
