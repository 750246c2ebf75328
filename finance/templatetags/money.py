"""Swiss number formats for printed documents, whatever the reader's language.

Django's localized formats would print 1.234,50 for an Italian client (the Hub has no Swiss-Italian format
module), while a Swiss document prints 1'234.50 in every language.
"""

from decimal import Decimal

from django import template
from django.utils import numberformat

from finance import vat

register = template.Library()


def _swiss(value: Decimal, *, decimals: int | None) -> str:
    return numberformat.format(value, ".", decimal_pos=decimals, grouping=3, thousand_sep="'", force_grouping=True)


@register.filter
def chf(amount: Decimal) -> str:
    """An amount of money with two decimals: 1'234.50, -0.02."""
    return _swiss(vat.quantize_chf(amount), decimals=2)


@register.filter
def number(value: Decimal) -> str:
    """A quantity or a percentage without trailing zeros: 3, 1.5, 8.1, 1'250."""
    return _swiss(value.normalize(), decimals=None)
