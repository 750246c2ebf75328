"""Swiss number formats for printed documents, whatever the reader's language.

Django's localized formats would print 1.234,50 for an Italian client (the Hub has no Swiss-Italian format
module), while a Swiss document prints 1'234.50 in every language.
"""

from decimal import Decimal

from django import template

from finance import vat

register = template.Library()


def _swiss(value: Decimal, *, decimals: int | None) -> str:
    # Python's own grouping: a page prints hundreds of amounts, and django.utils.numberformat takes ten times longer.
    if not value:
        value = value.copy_abs()  # no "-0.00"
    grouped = f"{value:,.{decimals}f}" if decimals is not None else f"{value:,f}"
    return grouped.replace(",", "'")


@register.filter
def chf(amount: Decimal) -> str:
    """An amount of money with two decimals: 1'234.50, -0.02."""
    return _swiss(vat.quantize_chf(amount), decimals=2)


@register.filter
def number(value: Decimal) -> str:
    """A quantity or a percentage without trailing zeros: 3, 1.5, 8.1, 1'250."""
    return _swiss(value.normalize(), decimals=None)
