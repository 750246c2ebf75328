"""Dates the dashboard writes by the dozen (its tables' months and days), each formatted once per process."""

from datetime import date

from django import template

from dashboard import selectors

register = template.Library()


@register.filter
def date_label(day: date, form: str) -> str:
    """Django's `date` filter for a date (not a datetime: no time zone to apply), cached per language."""
    return selectors.date_label(day, form)
