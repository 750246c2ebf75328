"""Status badges shared by the lists and detail pages of quotes and invoices."""

from decimal import Decimal

from django import template
from django.utils.translation import gettext as _
from stdnum import iso11649
from stdnum.ch import esr

from finance import vat

register = template.Library()

# Tabler colours: grey while nothing is decided, blue on the way, green done, red lost.
STATUS_COLOURS = {
    "draft": "secondary",
    "sent": "blue",
    "viewed": "cyan",
    "signed": "green",
    "converted": "teal",
    "rejected": "red",
    "expired": "orange",
    "issued": "blue",
    "partially_paid": "yellow",
    "paid": "green",
    "cancelled": "secondary",
}


@register.inclusion_tag("components/_status_badge.html")
def status_badge(document, overdue: bool = False):
    """The status of a quote or an invoice; an overdue invoice says so in red, whatever else it is."""
    return {
        "label": document.get_status_display(),
        "colour": STATUS_COLOURS.get(document.status, "secondary"),
        "overdue": _("Overdue") if overdue else "",
    }


@register.simple_tag(takes_context=True)
def sort_link(context, key: str) -> str:
    """The query string sorting a list by `key`: ascending first, descending when already ascending."""
    current, query = context["sort"], context["sort_query"]
    target = f"-{key}" if current == key else key
    return f"?{query}&sort={target}" if query else f"?sort={target}"


@register.filter
def line_net(document_line) -> Decimal:
    """A stored line's net amount, by the same arithmetic as the document's totals."""
    return vat.line_of(document_line).net


@register.filter
def payment_reference(reference: str) -> str:
    """A QR reference or RF creditor reference grouped as on the QR-bill, so people can read it out."""
    if not reference:
        return ""
    return iso11649.format(reference) if reference.startswith("RF") else esr.format(reference)
