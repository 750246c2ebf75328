"""Supplier invoices as suppliers send them, for the demo's "Documents reçus" and the capture's browser test.

`supplier_invoice_pdf` renders an A4 invoice (letterhead with UID, dates, lines, VAT summary, payment
details) with the Swiss QR-bill payment part at its foot, through the same WeasyPrint and qrbill path as the
Hub's own invoices, so the capture reads a real PDF with a text layer and a real QR code.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from decimal import Decimal

from finance import identifiers
from finance.qrbill import Address, PaymentPart, payment_part_svg, render_pdf
from finance.templatetags.money import chf
from finance.vat import quantize_chf


@dataclass(frozen=True)
class DemoLine:
    description: str
    net: Decimal
    rate: Decimal


@dataclass(frozen=True)
class DemoSupplierInvoice:
    supplier: Address
    uid: str
    number: str
    invoice_date: dt.date
    # None prints payment terms instead of a due date, as some suppliers do.
    due_date: dt.date | None
    iban: str
    reference: str
    debtor: Address
    lines: tuple[DemoLine, ...]
    currency: str = "CHF"
    # The amount printed in the payment part; None: the same as the total (a blank amount is `blank_amount`).
    qr_amount: Decimal | None = None
    blank_amount: bool = False
    language: str = "fr"
    extra_text: tuple[str, ...] = field(default_factory=tuple)

    def vat_summary(self) -> list[tuple[Decimal, Decimal, Decimal]]:
        """(rate, net, VAT) per rate, VAT rounded to the centime per rate, as Swiss invoices print it."""
        by_rate: dict[Decimal, Decimal] = {}
        for line in self.lines:
            by_rate[line.rate] = by_rate.get(line.rate, Decimal("0")) + line.net
        return [(rate, net, quantize_chf(net * rate / 100)) for rate, net in sorted(by_rate.items())]

    @property
    def total(self) -> Decimal:
        return sum((net + vat for _rate, net, vat in self.vat_summary()), Decimal("0.00"))


def supplier_invoice_pdf(invoice: DemoSupplierInvoice) -> bytes:
    part = PaymentPart(
        account=invoice.iban, creditor=invoice.supplier, debtor=invoice.debtor,
        amount=None if invoice.blank_amount else (invoice.qr_amount or invoice.total), currency=invoice.currency,
        reference=invoice.reference, additional_information=f"Facture {invoice.number}",
    )  # fmt: skip
    svg = payment_part_svg(part, language=invoice.language)
    supplier, debtor = invoice.supplier, invoice.debtor
    rows = "".join(
        f"<tr><td>{html.escape(line.description)}</td><td class='n'>{line.rate} %</td>"
        f"<td class='n'>{chf(line.net)}</td></tr>"
        for line in invoice.lines
    )
    vat_rows = "".join(
        f"<tr><td>TVA {rate} % sur {invoice.currency} {chf(net)}</td><td class='n'>{chf(vat)}</td></tr>"
        for rate, net, vat in invoice.vat_summary()
    )
    extra = "".join(f"<p>{html.escape(text)}</p>" for text in invoice.extra_text)
    due = f"Échéance: {invoice.due_date:%d.%m.%Y}" if invoice.due_date else "Conditions de paiement: 30 jours net"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><style>
@page {{ size: A4; margin: 0 }}
body {{ margin: 0; font-family: sans-serif; font-size: 10pt }}
.sheet {{ padding: 18mm 20mm 0 }}
.from {{ font-size: 9pt; color: #444 }}
.to {{ margin: 10mm 0 0 95mm }}
table {{ width: 100%; border-collapse: collapse; margin-top: 6mm }}
td, th {{ padding: 1.2mm 0; text-align: left }} .n {{ text-align: right }}
th {{ border-bottom: 0.3mm solid #000 }}
.qr {{ position: absolute; bottom: 0; left: 0; width: 210mm }}
</style></head><body><div class="sheet">
<p><strong>{html.escape(supplier.name)}</strong></p>
<p class="from">{html.escape(supplier.street)} {html.escape(supplier.building_number)}, {supplier.postal_code} \
{html.escape(supplier.town)} · UID {invoice.uid} TVA</p>
<div class="to">{html.escape(debtor.name)}<br>{html.escape(debtor.street)} {html.escape(debtor.building_number)}<br>\
{debtor.postal_code} {html.escape(debtor.town)}</div>
<h1>Facture {html.escape(invoice.number)}</h1>
<p>Date de facture: {invoice.invoice_date:%d.%m.%Y}<br>{due}</p>
<table><tr><th>Désignation</th><th class="n">TVA</th><th class="n">Net {invoice.currency}</th></tr>{rows}</table>
<table>{vat_rows}<tr><td><strong>Total {invoice.currency}</strong></td>\
<td class="n"><strong>{chf(invoice.total)}</strong></td></tr></table>
<p>IBAN: {identifiers.format_iban(invoice.iban)}</p>{extra}
</div><div class="qr">{svg}</div></body></html>"""
    return render_pdf(page)
