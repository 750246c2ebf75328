"""Dates the dashboard writes by the dozen (its tables' months and days), each formatted once per process."""

from datetime import date

from django import template

from dashboard import selectors

register = template.Library()


@register.filter(expects_localtime=True)
def date_label(day: date | None, form: str) -> str:
    """Django's `date` filter, cached per language: nothing for no date, a datetime in the reader's time zone."""
    if day in (None, ""):
        return ""
    return selectors.date_label(day, form)
