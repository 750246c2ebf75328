from .audit import AuditEvent
from .companies import Company, Currency, Membership, Role
from .parties import Client, Contact, Language
from .payments import Payment, PaymentAllocation
from .projects import Milestone, Project, ProviderAssignment
from .purchases import Supplier, SupplierCategory, SupplierInvoice, SupplierInvoiceLine
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
    "Milestone",
    "Payment",
    "PaymentAllocation",
    "Project",
    "ProjectType",
    "ProviderAssignment",
    "Quote",
    "QuoteLine",
    "Role",
    "Supplier",
    "SupplierCategory",
    "SupplierInvoice",
    "SupplierInvoiceLine",
    "VatCode",
    "VatRate",
]
