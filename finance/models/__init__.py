from .audit import AuditEvent
from .banking import BankAccount, BankTransaction, FxRate, MatchSuggestion, OutgoingPayment
from .captures import SupplierInvoiceCapture
from .companies import Company, Currency, Membership, Role
from .dunning import DunningLevel, DunningPolicy, DunningText, InvoiceDunning, Reminder
from .leads import Lead
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
from .signatures import QuoteSignature
from .vat import AccountMap, VatCode, VatRate, VatReturn

__all__ = [
    "AccountMap",
    "AuditEvent",
    "BankAccount",
    "BankTransaction",
    "Client",
    "Company",
    "Contact",
    "Currency",
    "DepositRule",
    "DocumentSequence",
    "DunningLevel",
    "DunningPolicy",
    "DunningText",
    "FxRate",
    "Invoice",
    "InvoiceDunning",
    "InvoiceLine",
    "Language",
    "Lead",
    "MatchSuggestion",
    "Membership",
    "Milestone",
    "OutgoingPayment",
    "Payment",
    "PaymentAllocation",
    "Project",
    "ProjectType",
    "ProviderAssignment",
    "Quote",
    "QuoteLine",
    "QuoteSignature",
    "Reminder",
    "Role",
    "Supplier",
    "SupplierCategory",
    "SupplierInvoice",
    "SupplierInvoiceCapture",
    "SupplierInvoiceLine",
    "VatCode",
    "VatRate",
    "VatReturn",
]
