"""The accountant's pack of a company and period, as one ZIP: the journal, the open items at the period's end,
the VAT return, and every invoice and credit note of the period as PDF (with the supplier invoices' own files),
each table as CSV and XLSX. Reads only; a journal that does not balance is refused with the reason."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

from django.core.files.storage import default_storage
from django.utils.translation import gettext as _

from finance import accounting, pdf, tables, vat_return
from finance.models import Company, Invoice, SupplierInvoice


def _table(archive: zipfile.ZipFile, name: str, header: list[str], rows: list[list], *, sheet: str) -> None:
    archive.writestr(f"{name}.csv", tables.csv_bytes(header, rows))
    archive.writestr(f"{name}.xlsx", tables.xlsx_bytes(header, rows, sheet=sheet))


def accountant_pack(*, company: Company, start: dt.date, end: dt.date, label: str) -> bytes:
    bookings = accounting.journal_balanced(accounting.journal(company=company, start=start, end=end))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        header = [_("Date"), _("Document"), _("Text"), _("Account"), _("Currency"), _("Debit"), _("Credit")]
        rows = [
            [booking.date, booking.reference, booking.text, account, booking.currency, debit or None, credit or None]
            for booking in bookings for account, debit, credit in booking.lines
        ]  # fmt: skip
        _table(archive, "journal", header, rows, sheet=_("Journal"))
        items_header = [_("Document"), _("Party"), _("Date"), _("Due date"), _("Currency"), _("Total"), _("Open")]
        for name, items in (("open-debtors", accounting.open_debtors(company=company, on=end)),
                            ("open-creditors", accounting.open_creditors(company=company, on=end))):  # fmt: skip
            _table(archive, name, items_header, [
                [item.reference, item.party, item.date, item.due_date, item.currency, item.total, item.open_amount]
                for item in items], sheet=name)  # fmt: skip
        result = vat_return.vat_return_compute(company=company, start=start, end=end)
        header, rows = vat_return.vat_return_table(result)
        _table(archive, "vat-return", header, rows, sheet=_("VAT return"))
        archive.writestr("vat-return.pdf", pdf.vat_return_pdf(result, label=label))
        invoices = Invoice.objects.filter(company=company, issue_date__range=(start, end)).exclude(
            status__in=[Invoice.Status.DRAFT, Invoice.Status.CANCELLED]).order_by("number")  # fmt: skip
        for invoice in invoices:
            archive.writestr(f"documents/{invoice.number}.pdf", pdf.invoice_pdf(invoice))
        purchases = SupplierInvoice.objects.filter(company=company, invoice_date__range=(start, end)).exclude(
            source_document="").select_related("supplier")  # fmt: skip
        for invoice in purchases:
            if default_storage.exists(invoice.source_document.name):
                filename = invoice.source_document.name.rsplit("/", 1)[-1]
                with default_storage.open(invoice.source_document.name, "rb") as source:
                    archive.writestr(f"documents/suppliers/{invoice.pk}-{filename}", source.read())
    return buffer.getvalue()
