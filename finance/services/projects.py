"""Projects: created from a quote or by hand, activated only when signed and the deposit is paid.

The gate (DESIGN.md W1): a project becomes active (deposit_received) only when its quote is
signed and its deposit invoice is fully paid. The payment service calls
`project_activate_if_ready` when it settles a deposit invoice, so activation happens by itself
the moment the last franc of the deposit arrives.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Now
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from finance import events
from finance.models import Client, Invoice, Milestone, Project, ProjectType, ProviderAssignment, Quote, Supplier
from finance.services.audit import audit_record, field_changes

ZERO = Decimal("0.00")
Status = Project.Status

# Before activation a project follows its quote; these are the statuses of work under way.
WAITING_STATUSES = (Status.QUOTE_SENT, Status.SIGNED)
ACTIVE_STATUSES = (Status.DEPOSIT_RECEIVED, Status.IN_PREPARATION, Status.ORDERING, Status.INSTALLING, Status.DELIVERED)
# The next step of work under way, in order.
FORWARD = {
    Status.DEPOSIT_RECEIVED: Status.IN_PREPARATION,
    Status.IN_PREPARATION: Status.ORDERING,
    Status.ORDERING: Status.INSTALLING,
    Status.INSTALLING: Status.DELIVERED,
    Status.DELIVERED: Status.CLOSED,
}
PROJECT_FIELDS = ("name", "project_type", "budget", "manager")
MILESTONE_FIELDS = ("title", "due_date", "status", "billable_amount", "invoice", "position")
ASSIGNMENT_FIELDS = ("supplier", "role", "agreed_amount", "quote_reference", "quote_document", "accepted_on")

# The milestones every new active project starts with, per project type: (title, days after activation).
DEFAULT_MILESTONES: dict[str, tuple[tuple[Any, int], ...]] = {
    ProjectType.DIGITAL_SIGNAGE: (
        (gettext_lazy("Site survey"), 7),
        (gettext_lazy("Hardware ordered"), 14),
        (gettext_lazy("Content and player set-up"), 30),
        (gettext_lazy("Installation on site"), 45),
        (gettext_lazy("Acceptance by the client"), 60),
    ),
    ProjectType.SOFTWARE: (
        (gettext_lazy("Specification approved"), 14),
        (gettext_lazy("First delivery"), 45),
        (gettext_lazy("Acceptance tests"), 75),
        (gettext_lazy("Go-live"), 90),
    ),
}
GENERIC_MILESTONES: tuple[tuple[Any, int], ...] = (
    (gettext_lazy("Kick-off with the client"), 7),
    (gettext_lazy("Main delivery"), 30),
    (gettext_lazy("Acceptance by the client"), 45),
)


class ProjectStateError(ValidationError):
    """The project is not in a state that allows this action."""


def _log(project: Project, *, actor: AbstractBaseUser | None, action: str, **changes: Any) -> None:
    audit_record(actor=actor, company=project.company, action=action, target=project, changes=changes)


def _status_log(project: Project, *, actor, before: str, action: str = "project.status_changed", **extra) -> None:
    _log(project, actor=actor, action=action, status_from=before, status_to=project.status, **extra)


# --- Creation -----------------------------------------------------------------------------------


@transaction.atomic
def project_create_from_quote(
    *, quote: Quote, created_by: AbstractBaseUser, manager: AbstractBaseUser | None = None, name: str = ""
) -> Project:
    """Open the project of a sent or signed quote: its client, type, currency and net total as budget."""
    quote = Quote.objects.select_for_update().select_related("company", "client").get(pk=quote.pk)
    if quote.status not in (Quote.Status.SENT, Quote.Status.VIEWED, Quote.Status.SIGNED, Quote.Status.CONVERTED):
        raise ProjectStateError(
            _("A project is opened from a sent or signed quote; this one is %(status)s.")
            % {"status": quote.get_status_display().lower()},
            code="quote_status",
        )
    if Project.objects.filter(quote=quote).exists():
        raise ProjectStateError(_("%(quote)s has a project already.") % {"quote": quote.number}, code="exists")
    signed = quote.status in (Quote.Status.SIGNED, Quote.Status.CONVERTED)
    project = Project(
        company=quote.company, client=quote.client, quote=quote, name=name or quote.title,
        project_type=quote.project_type, currency=quote.currency, budget=quote.net_total,
        status=Status.SIGNED if signed else Status.QUOTE_SENT, manager=manager, created_by=created_by,
    )  # fmt: skip
    project.full_clean()
    project.save()
    _log(project, actor=created_by, action="project.created", quote=quote.number, budget=str(project.budget))
    project_activate_if_ready(project=project, actor=created_by)
    project.refresh_from_db()
    return project


@transaction.atomic
def project_create(
    *, client: Client, created_by: AbstractBaseUser, name: str, project_type: str, budget: Decimal,
    manager: AbstractBaseUser | None = None, currency: str | None = None, today: date | None = None,
) -> Project:  # fmt: skip
    """Open a project agreed without a quote in the Hub: there is no deposit to wait for, work starts now."""
    project = Project(
        company=client.company, client=client, name=name, project_type=project_type, budget=budget,
        currency=currency or client.company.currency, manager=manager, created_by=created_by,
        status=Status.IN_PREPARATION,
    )  # fmt: skip
    project.full_clean()
    project.activated_at = Now()
    project.save()
    project.refresh_from_db()
    _log(project, actor=created_by, action="project.created", budget=str(project.budget))
    _create_default_milestones(project, start=today or timezone.localdate())
    return project


@transaction.atomic
def project_update(*, project: Project, updated_by: AbstractBaseUser, **fields: Any) -> Project:
    project = Project.objects.select_for_update().get(pk=project.pk)
    before = {name: getattr(project, name) for name in PROJECT_FIELDS}
    for name, value in fields.items():
        if name not in PROJECT_FIELDS:
            raise ValueError(f"{name} is not an editable project field")
        setattr(project, name, value)
    if project.quote_id and project.budget != before["budget"]:
        raise ValidationError({"budget": _("The budget of a project with a quote is the quote's net total.")})
    project.full_clean()
    changes = field_changes(before, {name: getattr(project, name) for name in PROJECT_FIELDS})
    if changes:
        project.updated_at = Now()
        project.save()
        _log(project, actor=updated_by, action="project.updated", **changes)
    return project


# --- The gate -----------------------------------------------------------------------------------


def deposit_invoice_of(quote: Quote) -> Invoice | None:
    return quote.invoices.filter(kind=Invoice.Kind.DEPOSIT).exclude(status=Invoice.Status.CANCELLED).first()


def project_gate_reason(project: Project) -> str:
    """Why the project cannot start yet, or "" when its quote is signed and its deposit paid in full."""
    quote = project.quote
    if quote is None:
        return ""
    if quote.status not in (Quote.Status.SIGNED, Quote.Status.CONVERTED):
        return _("The quote %(number)s is not signed yet.") % {"number": quote.number}
    if quote.deposit_percent == ZERO:
        return ""
    deposit = deposit_invoice_of(quote)
    if deposit is None:
        return _("No deposit invoice yet.")
    if deposit.status == Invoice.Status.DRAFT:
        return _("The deposit invoice is not issued yet.")
    if deposit.status != Invoice.Status.PAID:
        return _("The deposit invoice %(number)s is not fully paid.") % {"number": deposit.number}
    return ""


@transaction.atomic
def project_activate_if_ready(*, project: Project, actor: AbstractBaseUser | None, today: date | None = None) -> bool:
    """Start the project if the gate is open; True only the one time it starts."""
    # Lock the project row only: the quote is an outer join, which PostgreSQL cannot lock.
    project = Project.objects.select_for_update(of=("self",)).select_related("quote", "company").get(pk=project.pk)
    if project.status not in WAITING_STATUSES or project_gate_reason(project):
        return False
    before, project.status, project.activated_at = project.status, Status.DEPOSIT_RECEIVED, Now()
    project.save(update_fields=["status", "activated_at"])
    _status_log(project, actor=actor, before=before, action="project.activated")
    _create_default_milestones(project, start=today or timezone.localdate())
    events.project_activated.send(sender=Project, project=project, actor=actor)
    return True


def projects_follow_quote(*, quote: Quote, actor: AbstractBaseUser | None) -> None:
    """Move the quote's project along when the quote is signed; it starts at once if no deposit is due."""
    project = Project.objects.select_for_update().filter(quote=quote).first()
    if project is None:
        return
    if project.status == Status.QUOTE_SENT and quote.status in (Quote.Status.SIGNED, Quote.Status.CONVERTED):
        before, project.status = project.status, Status.SIGNED
        project.save(update_fields=["status"])
        _status_log(project, actor=actor, before=before)
    project_activate_if_ready(project=project, actor=actor)


def projects_follow_deposit(*, invoice: Invoice, actor: AbstractBaseUser | None) -> None:
    """Called when a payment settles an invoice: a paid deposit may open its project's gate."""
    if invoice.kind != Invoice.Kind.DEPOSIT or invoice.quote_id is None:
        return
    project = Project.objects.filter(quote_id=invoice.quote_id).first()
    if project is not None:
        project_activate_if_ready(project=project, actor=actor)


def _create_default_milestones(project: Project, *, start: date) -> None:
    if project.milestones.exists():
        return
    # Stored text, not a label: written in the group's working language whoever triggers it.
    with translation.override(settings.LANGUAGE_CODE):
        template = DEFAULT_MILESTONES.get(project.project_type, GENERIC_MILESTONES)
        Milestone.objects.bulk_create(
            Milestone(project=project, position=position, title=str(title), due_date=start + timedelta(days=days))
            for position, (title, days) in enumerate(template, start=1)
        )


# --- Lifecycle ----------------------------------------------------------------------------------


@transaction.atomic
def project_advance(*, project: Project, advanced_by: AbstractBaseUser) -> Project:
    """Move work under way to its next step (preparation → ordering → installing → delivered → closed)."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    target = FORWARD.get(project.status)
    if target is None:
        raise ProjectStateError(
            _("A project that is %(status)s has no next step here.") % {"status": project.get_status_display().lower()},
            code="no_next_step",
        )
    before, project.status = project.status, target
    project.updated_at = Now()
    project.save()
    _status_log(project, actor=advanced_by, before=before)
    return project


@transaction.atomic
def project_hold(*, project: Project, held_by: AbstractBaseUser, reason: str) -> Project:
    project = Project.objects.select_for_update().get(pk=project.pk)
    if project.status not in (*WAITING_STATUSES, *ACTIVE_STATUSES):
        raise ProjectStateError(_("Only an open project can be put on hold."), code="not_open")
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the project is on hold.")})
    before = project.status
    project.status, project.status_before_hold, project.updated_at = Status.ON_HOLD, before, Now()
    project.save()
    _status_log(project, actor=held_by, before=before, reason=reason.strip())
    return project


@transaction.atomic
def project_resume(*, project: Project, resumed_by: AbstractBaseUser) -> Project:
    project = Project.objects.select_for_update().get(pk=project.pk)
    if project.status != Status.ON_HOLD:
        raise ProjectStateError(_("Only a project on hold can resume."), code="not_on_hold")
    project.status, project.status_before_hold, project.updated_at = project.status_before_hold, "", Now()
    project.save()
    _status_log(project, actor=resumed_by, before=Status.ON_HOLD)
    project_activate_if_ready(project=project, actor=resumed_by)
    return project


@transaction.atomic
def project_cancel(*, project: Project, cancelled_by: AbstractBaseUser, reason: str) -> Project:
    project = Project.objects.select_for_update().get(pk=project.pk)
    if project.status in (Status.CLOSED, Status.CANCELLED):
        raise ProjectStateError(_("The project is closed already."), code="closed")
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the project is cancelled.")})
    before = project.status
    project.status, project.status_before_hold, project.updated_at = Status.CANCELLED, "", Now()
    project.save()
    _status_log(project, actor=cancelled_by, before=before, reason=reason.strip())
    return project


# --- Milestones and providers -------------------------------------------------------------------


def _invoices_the_project(invoice: Invoice, project: Project) -> bool:
    if project.quote_id is not None:
        return invoice.quote_id == project.quote_id
    return invoice.client_id == project.client_id


@transaction.atomic
def milestone_save(
    *, project: Project, saved_by: AbstractBaseUser, milestone: Milestone | None = None, today: date | None = None,
    **fields: Any,
) -> Milestone:  # fmt: skip
    """Add a milestone to a project or change one; marking it done dates it today."""
    milestone = (
        Milestone(project=project) if milestone is None else Milestone.objects.select_for_update().get(pk=milestone.pk)
    )
    for name, value in fields.items():
        if name not in MILESTONE_FIELDS:
            raise ValueError(f"{name} is not a milestone field")
        setattr(milestone, name, value)
    if milestone.invoice is not None and not _invoices_the_project(milestone.invoice, project):
        raise ValidationError({"invoice": _("Link an invoice of this project's quote or client.")})
    if milestone.status == Milestone.Status.DONE and milestone.done_on is None:
        milestone.done_on = today or timezone.localdate()
    elif milestone.status != Milestone.Status.DONE:
        milestone.done_on = None
    if milestone.pk is None and "position" not in fields:
        milestone.position = project.milestones.count() + 1
    milestone.full_clean()
    milestone.save()
    action = "milestone.done" if milestone.status == Milestone.Status.DONE else "milestone.saved"
    _log(project, actor=saved_by, action=action, milestone=milestone.title, status=milestone.status)
    return milestone


@transaction.atomic
def assignment_save(
    *, project: Project, saved_by: AbstractBaseUser, assignment: ProviderAssignment | None = None, **fields: Any
) -> ProviderAssignment:
    """Assign a supplier of the same company to the project, with the net amount of their accepted quote."""
    if assignment is None:
        assignment = ProviderAssignment(project=project)
    for name, value in fields.items():
        if name not in ASSIGNMENT_FIELDS:
            raise ValueError(f"{name} is not a provider assignment field")
        setattr(assignment, name, value)
    supplier: Supplier = assignment.supplier
    if supplier.company_id != project.company_id:
        raise ValidationError({"supplier": _("The supplier belongs to another company.")})
    assignment.full_clean()
    assignment.save()
    _log(
        project, actor=saved_by, action="assignment.saved",
        supplier=supplier.name, role=assignment.role, agreed=str(assignment.agreed_amount),
    )  # fmt: skip
    return assignment
