"""Printable quotes and invoices: a Swiss business letter in the client's language, rendered to PDF by WeasyPrint,
with the QR-bill payment part at the foot of an invoice. Reads only.

Every refusal (a draft invoice, a payment part the QR-bill standard rejects) is raised as a ValidationError in
the language of whoever prints, before anything is rendered; only the document itself is in the client's language.
"""

from __future__ import annotations

import dataclasses
from base64 import b64encode

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from iso3166 import countries_by_alpha2

from finance import qrbill
from finance.models import Client, Company, Invoice, Quote, Reminder
from finance.models.sales import DocumentStateError
from finance.vat import document_lines_totals

INVOICE_TEMPLATE = "finance/pdf/invoice.html"
REMINDER_TEMPLATE = "finance/pdf/reminder.html"
QUOTE_TEMPLATE = "finance/pdf/quote.html"
VAT_RETURN_TEMPLATE = "finance/pdf/vat_return.html"


def invoice_payment_part(invoice: Invoice, *, amount=None, information: str = "") -> qrbill.PaymentPart:
    """The QR-bill payment part of an issued invoice: its payable total (or `amount`), by the invoice's reference."""
    company, client = invoice.company, invoice.client
    part = qrbill.PaymentPart(
        account=company.iban,
        creditor=_address(company, name=company.legal_name),
        debtor=_address(client, name=client.name),
        amount=invoice.payable_total if amount is None else amount,
        currency=invoice.currency,
        reference=invoice.qr_reference,
        additional_information=information or invoice.number,
    )
    # Banks route payments to a QR-IBAN by their QR reference, so the QR-IBAN goes with a QRR only; an RF
    # reference (or a QRR without a QR-IBAN, which validate_payment_part refuses) goes to the ordinary IBAN.
    if company.qr_iban and part.reference_type == "QRR":
        return dataclasses.replace(part, account=company.qr_iban)
    return part


def invoice_html(invoice: Invoice) -> str:
    """The invoice as an HTML page in the client's language, with the payment part unless it is a credit note.

    Raises DocumentStateError for a draft or cancelled invoice and ValidationError for a payment part the
    QR-bill standard refuses, before rendering anything."""
    if invoice.status in (Invoice.Status.DRAFT, Invoice.Status.CANCELLED):
        raise DocumentStateError(
            _("Only an issued invoice has a PDF; “%(document)s” is %(status)s.")
            % {"document": invoice.number or invoice.title, "status": invoice.get_status_display().lower()},
            code="not_issued",
        )
    payment_part_image = ""
    # A credit note is not paid: the company owes the amount, so it carries no payment part.
    if invoice.kind != Invoice.Kind.CREDIT_NOTE:
        part = invoice_payment_part(invoice)
        qrbill.validate_payment_part(part)
        svg = qrbill.payment_part_svg(part, language=invoice.client.language)
        payment_part_image = "data:image/svg+xml;base64," + b64encode(svg.encode()).decode()
    return _document_html(
        INVOICE_TEMPLATE,
        invoice,
        payment_days=(invoice.due_date - invoice.issue_date).days,
        payment_part_image=payment_part_image,
    )


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice's PDF; refused as `invoice_html` refuses."""
    return qrbill.render_pdf(invoice_html(invoice))


def vat_return_pdf(result, *, label: str) -> bytes:
    """The VAT return's figures as the ESTV form lists them, on one A4 page, in the language of whoever prints."""
    html = render_to_string(VAT_RETURN_TEMPLATE, {"result": result, "company": result.company, "label": label})
    return qrbill.render_pdf(html)


def reminder_html(reminder: Reminder) -> str:
    """A reminder letter in the client's language: what is owed to the day of the reminder (balance, fees, late
    interest) and the QR-bill payment part of that amount, by the invoice's reference."""
    invoice = reminder.invoice
    part = invoice_payment_part(
        invoice, amount=reminder.amount_due, information=f"{invoice.number} {reminder.level_name}"[:140]
    )
    qrbill.validate_payment_part(part)
    svg = qrbill.payment_part_svg(part, language=invoice.client.language)
    return _document_html(
        REMINDER_TEMPLATE, invoice, reminder=reminder,
        interest_rate=reminder.company.dunning_policy.interest_rate,
        payment_part_image="data:image/svg+xml;base64," + b64encode(svg.encode()).decode(),
    )  # fmt: skip


def reminder_pdf(reminder: Reminder) -> bytes:
    return qrbill.render_pdf(reminder_html(reminder))


def quote_html(quote: Quote) -> str:
    """The quote as an HTML page in the client's language; a draft is printed as such, without a number."""
    return _document_html(QUOTE_TEMPLATE, quote)


def quote_pdf(quote: Quote) -> bytes:
    return qrbill.render_pdf(quote_html(quote))


def _document_html(template: str, document: Quote | Invoice, **context) -> str:
    client = document.client
    lines = list(document.lines.all())
    with translation.override(client.language):
        return render_to_string(
            template,
            {
                "document": document,
                "company": document.company,
                "client": client,
                "client_country": _country_line(client, sender=document.company),
                "lines": lines,
                "shows_discount": any(line.discount_percent for line in lines),
                "totals": document_lines_totals(document),
                **context,
            },
        )


def _address(party: Company | Client, *, name: str) -> qrbill.Address:
    return qrbill.Address(
        name=name,
        street=party.street,
        building_number=party.building_number,
        postal_code=party.postal_code,
        town=party.town,
        country=party.country,
    )


def _country_line(client: Client, *, sender: Company) -> str:
    """The last line of a foreign address: the country's name, which Swiss Post asks in English or French."""
    if client.country == sender.country:
        return ""
    country = countries_by_alpha2.get(client.country)
    return country.name.upper() if country else client.country
