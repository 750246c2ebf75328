from .audit import AuditEvent
from .companies import Company, Membership, Role

__all__ = ["AuditEvent", "Company", "Membership", "Role"]
