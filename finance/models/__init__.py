from .audit import AuditEvent
from .companies import Company, Membership, Role
from .vat import VatCode, VatRate

__all__ = ["AuditEvent", "Company", "Membership", "Role", "VatCode", "VatRate"]
