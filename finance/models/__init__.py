from .audit import AuditEvent
from .companies import Company, Currency, Membership, Role
from .parties import Client, Contact, Language
from .payments import Payment, PaymentAllocation
from .sales import (
    DepositRule,
    DocumentSequence,
    Invoice,
    InvoiceLine,
    ProjectType,
    Quote,
    QuoteLine,
)
from .vat import VatCode, VatRate

__all__ = [
    "AuditEvent",
    "Client",
    "Company",
    "Contact",
    "Currency",
    "DepositRule",
    "DocumentSequence",
    "Invoice",
    "InvoiceLine",
    "Language",
    "Membership",
    "Payment",
    "PaymentAllocation",
    "ProjectType",
    "Quote",
    "QuoteLine",
    "Role",
    "VatCode",
    "VatRate",
]
