"""pain.001 credit transfer files (ISO 20022 pain.001.001.09, the version of the Swiss Payment Standards 2022)
of approved supplier invoices, for companies that pay from an account not on Revolut: the file is uploaded to
the bank's e-banking, which asks for its own signature. Reads only.

One payment group per currency and execution date, debited from the company's IBAN; each invoice is one
transaction with the creditor's structured address and IBAN, and its QR reference (QRR), creditor reference
(SCOR) or free text, as the QR-bill gave it. Amounts are the invoices' totals, to the centime.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.utils import timezone
from lxml import etree

from finance.models import Company, SupplierInvoice

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
PAYABLE = (SupplierInvoice.Status.APPROVED,)


def _text(parent: etree._Element, tag: str, value: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{tag}", **attributes)
    if value is not None:
        element.text = value
    return element


def _path(parent: etree._Element, *tags: str, value: str) -> etree._Element:
    """Nested elements, the last one holding the value: _path(x, "Id", "IBAN", value=iban)."""
    for tag in tags[:-1]:
        parent = _text(parent, tag)
    return _text(parent, tags[-1], value)


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _clean(value: str, limit: int) -> str:
    """Text as the Swiss standard's character set allows (Latin letters, digits, common signs), cut to length."""
    return " ".join(value.split())[:limit] or "-"


def payable_invoices(*, company: Company) -> list[SupplierInvoice]:
    return list(SupplierInvoice.objects.filter(company=company, status__in=PAYABLE).select_related("supplier")
                .order_by("currency", "due_date", "pk"))  # fmt: skip


def pain001(*, company: Company, invoices: list[SupplierInvoice], execution_date: dt.date,
            message_id: str | None = None) -> bytes:  # fmt: skip
    """The credit transfer file of these invoices, each paid from the company's account on that day."""
    now = timezone.localtime()
    message_id = message_id or f"HV-{company.code}-{now:%Y%m%d%H%M%S}"
    groups: dict[str, list[SupplierInvoice]] = defaultdict(list)
    for invoice in invoices:
        groups[invoice.currency].append(invoice)
    document = etree.Element(f"{{{NAMESPACE}}}Document", nsmap={None: NAMESPACE})
    initiation = _text(document, "CstmrCdtTrfInitn")
    header = _text(initiation, "GrpHdr")
    _text(header, "MsgId", message_id[:35])
    _text(header, "CreDtTm", now.replace(microsecond=0).isoformat())
    _text(header, "NbOfTxs", str(len(invoices)))
    _text(header, "CtrlSum", _amount(sum((invoice.gross_total for invoice in invoices), Decimal("0"))))
    _path(header, "InitgPty", "Nm", value=_clean(company.legal_name, 70))
    for number, (currency, members) in enumerate(sorted(groups.items()), start=1):
        group = _text(initiation, "PmtInf")
        _text(group, "PmtInfId", f"{message_id[:31]}-{number}")
        _text(group, "PmtMtd", "TRF")
        _text(group, "BtchBookg", "true")
        _text(group, "NbOfTxs", str(len(members)))
        _text(group, "CtrlSum", _amount(sum((invoice.gross_total for invoice in members), Decimal("0"))))
        _path(group, "ReqdExctnDt", "Dt", value=execution_date.isoformat())
        debtor = _text(group, "Dbtr")
        _text(debtor, "Nm", _clean(company.legal_name, 70))
        _address(debtor, street=company.street, number=company.building_number, postal_code=company.postal_code,
                 town=company.town, country=company.country)  # fmt: skip
        _path(group, "DbtrAcct", "Id", "IBAN", value=company.iban)
        _path(group, "DbtrAgt", "FinInstnId", "Othr", "Id", value="NOTPROVIDED")
        for invoice in members:
            _transaction(group, invoice, currency)
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _address(parent: etree._Element, *, street: str, number: str, postal_code: str, town: str, country: str) -> None:
    address = _text(parent, "PstlAdr")
    if street:
        _text(address, "StrtNm", _clean(street, 70))
    if number:
        _text(address, "BldgNb", _clean(number, 16))
    _text(address, "PstCd", _clean(postal_code, 16))
    _text(address, "TwnNm", _clean(town, 35))
    _text(address, "Ctry", country)


def _transaction(group: etree._Element, invoice: SupplierInvoice, currency: str) -> None:
    supplier = invoice.supplier
    transaction = _text(group, "CdtTrfTxInf")
    identification = _text(transaction, "PmtId")
    _text(identification, "InstrId", f"SI-{invoice.pk}")
    _text(identification, "EndToEndId", f"HV-SI-{invoice.pk}")
    amount = _text(transaction, "Amt")
    _text(amount, "InstdAmt", _amount(invoice.gross_total), Ccy=currency)
    creditor = _text(transaction, "Cdtr")
    _text(creditor, "Nm", _clean(supplier.name, 70))
    _address(creditor, street=supplier.street, number=supplier.building_number, postal_code=supplier.postal_code,
             town=supplier.town, country=supplier.country)  # fmt: skip
    _path(transaction, "CdtrAcct", "Id", "IBAN", value=invoice.creditor_iban)
    remittance = _text(transaction, "RmtInf")
    reference = invoice.payment_reference.replace(" ", "")
    if invoice.reference_type == SupplierInvoice.ReferenceType.QRR and reference:
        structured = _path(remittance, "Strd", "CdtrRefInf", "Tp", "CdOrPrtry", "Prtry", value="QRR")
        _text(structured.getparent().getparent().getparent(), "Ref", reference)
    elif invoice.reference_type == SupplierInvoice.ReferenceType.SCOR and reference:
        structured = _path(remittance, "Strd", "CdtrRefInf", "Tp", "CdOrPrtry", "Cd", value="SCOR")
        _text(structured.getparent().getparent().getparent(), "Ref", reference)
    else:
        _text(remittance, "Ustrd", _clean(invoice.payment_reference or invoice.supplier_number, 140))
