"""Status badges shared by the lists and detail pages of quotes and invoices."""

from decimal import Decimal

from django import template
from django.utils.translation import gettext as _
from stdnum import iso11649
from stdnum.ch import esr

from finance import vat
from finance.models.purchases import DEVIATION_BLOCK_PERCENT, DEVIATION_WARN_PERCENT

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
    "to_approve": "orange",
    "approved": "green",
    "scheduled": "cyan",
    "disputed": "purple",
    "quote_sent": "secondary",
    "deposit_received": "teal",
    "in_preparation": "blue",
    "ordering": "indigo",
    "installing": "cyan",
    "delivered": "lime",
    "closed": "secondary",
    "on_hold": "orange",
    "planned": "secondary",
    "in_progress": "blue",
    "done": "green",
    "new": "azure",
    "qualified": "indigo",
    "quote": "cyan",
    "won": "green",
    "lost": "red",
}


@register.inclusion_tag("components/_status_badge.html")
def status_badge(document, overdue: bool = False):
    """The status of a document, project or milestone; an overdue invoice says so in red, whatever else it is."""
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


@register.inclusion_tag("components/_deviation_badge.html")
def deviation_badge(percent):
    """How far a supplier invoice runs over the provider's accepted quote: red over 5 %, orange over 3 %."""
    if percent is None:
        return {"label": "", "colour": ""}
    colour = "red" if percent > DEVIATION_BLOCK_PERCENT else "orange" if percent > DEVIATION_WARN_PERCENT else "green"
    return {"label": f"{percent:+.2f} %", "colour": colour}
