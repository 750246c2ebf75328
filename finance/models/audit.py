from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from finance.models.companies import Role


class AuditEvent(models.Model):
    """An append-only record of who changed what; PostgreSQL refuses updates and deletes."""

    class Action(models.TextChoices):
        COMPANY_CREATED = "company.created", _("Company created")
        COMPANY_UPDATED = "company.updated", _("Identity changed")
        MEMBERSHIP_GRANTED = "membership.granted", _("Role granted")
        CLIENT_CREATED = "client.created", _("Client created")
        CLIENT_UPDATED = "client.updated", _("Client changed")
        CONTACT_CREATED = "contact.created", _("Contact added")
        CONTACT_UPDATED = "contact.updated", _("Contact changed")
        DEPOSIT_RULE_SAVED = "deposit_rule.saved", _("Deposit rule saved")
        DEPOSIT_RULE_DELETED = "deposit_rule.deleted", _("Deposit rule deleted")
        QUOTE_CREATED = "quote.created", _("Quote created")
        QUOTE_SENT = "quote.sent", _("Quote sent")
        QUOTE_VIEWED = "quote.viewed", _("Quote viewed by the client")
        QUOTE_SIGNED = "quote.signed", _("Quote signed")
        QUOTE_CONVERTED = "quote.converted", _("Quote fully invoiced")
        QUOTE_REJECTED = "quote.rejected", _("Quote rejected")
        QUOTE_EXPIRED = "quote.expired", _("Quote expired")
        INVOICE_CREATED = "invoice.created", _("Draft created")
        INVOICE_ISSUED = "invoice.issued", _("Issued")
        INVOICE_PARTIALLY_PAID = "invoice.partially_paid", _("Partially paid")
        INVOICE_PAID = "invoice.paid", _("Paid")
        INVOICE_CANCELLED = "invoice.cancelled", _("Cancelled")
        INVOICE_AWAITING_ISSUE = "invoice.awaiting_issue", _("Drafted on signature: to be issued by a person")
        PAYMENT_RECORDED = "payment.recorded", _("Payment recorded")
        PAYMENT_UNDONE = "payment.undone", _("Payment undone")
        SUPPLIER_CREATED = "supplier.created", _("Supplier created")
        SUPPLIER_UPDATED = "supplier.updated", _("Supplier changed")
        SUPPLIER_INVOICE_CREATED = "supplier_invoice.created", _("Supplier invoice entered")
        SUPPLIER_INVOICE_UPDATED = "supplier_invoice.updated", _("Supplier invoice changed")
        SUPPLIER_INVOICE_SUBMITTED = "supplier_invoice.submitted", _("Submitted for approval")
        SUPPLIER_INVOICE_APPROVED = "supplier_invoice.approved", _("Approved")
        SUPPLIER_INVOICE_APPROVAL_RESET = "supplier_invoice.approval_reset", _("Approval withdrawn: payment changed")
        SUPPLIER_INVOICE_REJECTED = "supplier_invoice.rejected", _("Rejected")
        SUPPLIER_INVOICE_DISPUTED = "supplier_invoice.disputed", _("Disputed")
        SUPPLIER_INVOICE_SCHEDULED = "supplier_invoice.scheduled", _("Payment scheduled")
        SUPPLIER_INVOICE_PAID = "supplier_invoice.paid", _("Marked paid")
        SUPPLIER_INVOICE_PAYOUT_FAILED = "supplier_invoice.payout_failed", _("Payment not made by the bank")
        PAYOUT_REQUESTED = "payout.requested", _("Payment via Revolut requested")
        PAYOUT_STATE_CHANGED = "payout.state_changed", _("Revolut payment state changed")
        BANK_TRANSACTION_MATCHED = "bank_transaction.matched", _("Bank transaction matched")
        BANK_TRANSACTION_MATCH_UNDONE = "bank_transaction.match_undone", _("Bank transaction match undone")
        BANK_TRANSACTION_IGNORED = "bank_transaction.ignored", _("Bank transaction ignored")
        CONNECTION_UPDATED = "connection.updated", _("Connection settings changed")
        CONNECTION_CONSENT_GRANTED = "connection.consent_granted", _("Provider access authorised")
        CONNECTION_WEBHOOK_REGISTERED = "connection.webhook_registered", _("Webhook registered at the provider")
        WEBHOOK_REPLAYED = "webhook.replayed", _("Webhook replayed")
        SIGNATURE_REQUESTED = "signature.requested", _("Sent for signature via DocuSeal")
        SIGNATURE_OPENED = "signature.opened", _("Signature request opened by the client")
        SIGNATURE_STARTED = "signature.started", _("Client started signing")
        SIGNATURE_COMPLETED = "signature.completed", _("Signed via DocuSeal")
        SIGNATURE_DECLINED = "signature.declined", _("Signature declined by the client")
        SIGNATURE_EXPIRED = "signature.expired", _("Signature request expired")
        SIGNATURE_REMINDED = "signature.reminded", _("Signature reminder sent")
        INVOICE_NINJA_SENT = "invoice_ninja.sent", _("Sent via Invoice Ninja")
        INVOICE_NINJA_STATUS_CHANGED = "invoice_ninja.status_changed", _("Invoice Ninja status changed")
        INVOICE_NINJA_PAYMENT_PUSHED = "invoice_ninja.payment_pushed", _("Payment recorded at Invoice Ninja")
        INVOICE_NINJA_PAYMENT_IMPORTED = "invoice_ninja.payment_imported", _("Payment received from Invoice Ninja")
        INVOICE_NINJA_DRIFT_REPAIRED = "invoice_ninja.drift_repaired", _("Difference with Invoice Ninja repaired")
        INVOICE_NINJA_DRIFT_FOUND = "invoice_ninja.drift_found", _("Difference with Invoice Ninja to check")
        ACTION_RUN_RETRIED = "action_run.retried", _("Action retried")
        PROJECT_CREATED = "project.created", _("Project created")
        PROJECT_UPDATED = "project.updated", _("Project changed")
        PROJECT_STATUS_CHANGED = "project.status_changed", _("Project status changed")
        PROJECT_ACTIVATED = "project.activated", _("Project activated: signed and deposit paid")
        PROJECT_ACKNOWLEDGED = "project.acknowledged", _("Client told the project started (Mautic)")
        PROJECT_ACKNOWLEDGEMENT_FAILED = "project.acknowledgement_failed", _("Project start e-mail not sent")
        MILESTONE_SAVED = "milestone.saved", _("Milestone saved")
        MILESTONE_DONE = "milestone.done", _("Milestone done")
        ASSIGNMENT_SAVED = "assignment.saved", _("Provider assigned")
        DUNNING_POLICY_SAVED = "dunning_policy.saved", _("Dunning policy changed")
        DUNNING_LEVEL_CHANGED = "dunning.level_changed", _("Dunning level changed")
        DUNNING_PAUSED = "dunning.paused", _("Dunning paused")
        DUNNING_RESUMED = "dunning.resumed", _("Dunning resumed")
        DUNNING_HOLD_CHANGED = "dunning.hold_changed", _("Dunning hold changed")
        REMINDER_SENT = "dunning.reminder_sent", _("Reminder sent via Mautic")
        REMINDER_DELIVERED = "dunning.reminder_delivered", _("Mautic confirmed the reminder e-mail")
        REMINDER_OPENED = "dunning.reminder_opened", _("Reminder opened by the client")
        REMINDER_FAILED = "dunning.reminder_failed", _("Reminder not sent")
        DIRECTUS_EDITED = "directus.edited", _("Edited in Directus")
        DIRECTUS_RULE_BROKEN = "directus.rule_broken", _("Directus edit breaks a rule")
        LEAD_CREATED = "lead.created", _("Lead received")
        LEAD_MERGED = "lead.merged", _("Lead submitted again")
        LEAD_UPDATED = "lead.updated", _("Lead changed")
        LEAD_SCORED = "lead.scored", _("Lead scored")
        LEAD_AI_QUALIFIED = "lead.ai_qualified", _("Lead qualified by AI")
        LEAD_STATUS_CHANGED = "lead.status_changed", _("Lead status changed")
        LEAD_OWNER_SET = "lead.owner_set", _("Lead owner set")
        LEAD_ANSWERED = "lead.answered", _("Lead answered")
        LEAD_QUOTE_CREATED = "lead.quote_created", _("Quote created from the lead")
        LEAD_WON = "lead.won", _("Lead won")
        LEAD_LOST = "lead.lost", _("Lead lost")
        CAPTURE_RECEIVED = "capture.received", _("Document received for capture")
        CAPTURE_READ = "capture.read", _("Document read")
        CAPTURE_SAVED = "capture.saved", _("Captured document saved as supplier invoice")
        CAPTURE_DISCARDED = "capture.discarded", _("Captured document discarded")

    company = models.ForeignKey(
        "finance.Company", on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    # PROTECT: the log is append-only, so a referenced user is deactivated, never deleted.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    action = models.CharField(_("action"), max_length=64, choices=Action.choices)
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=64)
    changes = models.JSONField(_("changes"), default=dict, db_default={}, blank=True)
    created_at = models.DateTimeField(_("at"), db_default=Now(), editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [models.Index(fields=["company", "-created_at"], name="audit_company_recent")]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}#{self.object_id}"

    @property
    def detail(self) -> str:
        """One line saying what the event changed, for the history lists and document timelines."""
        changes = self.changes
        if self.action == self.Action.MEMBERSHIP_GRANTED:
            role = changes.get("role", "")
            return f"{changes.get('user', '')} · {Role(role).label if role in Role.values else role}"
        if self.action == self.Action.INVOICE_ISSUED and "number" in changes:
            return f"{changes['number']} · {changes.get('payable', '')}"
        if self.action == self.Action.PAYMENT_RECORDED:
            allocated = ", ".join(f"{number} {amount}" for number, amount in changes.get("allocated", {}).items())
            return f"{changes.get('amount', '')}" + (f" → {allocated}" if allocated else "")
        if "status_from" in changes:
            statuses = getattr(apps.get_model(self.object_type), "Status", None)
            labels = dict(statuses.choices) if statuses else {}
            before, after = changes["status_from"], changes["status_to"]
            moved = f"{labels.get(before, before)} → {labels.get(after, after)}"
            return f"{moved} · {changes['reason']}" if changes.get("reason") else moved
        if "state_from" in changes:
            labels = dict(apps.get_model("finance.OutgoingPayment").State.choices)
            before, after = changes["state_from"], changes["state_to"]
            moved = f"{labels.get(before, before)} → {labels.get(after, after)}"
            return f"{moved} · {changes['reason']}" if changes.get("reason") else moved
        if self.action == self.Action.DIRECTUS_EDITED:
            return self._directus_edit_detail()
        if "summary" in changes:
            return str(changes["summary"])
        if "pause" in changes:
            return str(apps.get_model("finance.InvoiceDunning").Pause(changes["pause"]).label)
        if "hold" in changes:
            hold = apps.get_model("finance.InvoiceDunning").Hold(changes["hold"])
            parts = [
                str(hold.label) if changes["hold"] else str(_("No hold")),
                changes.get("until"),
                changes.get("note"),
            ]
            return " · ".join(part for part in parts if part)
        if "milestone" in changes:
            return str(changes["milestone"])
        if "agreed" in changes:
            return f"{changes.get('supplier', '')} · {changes.get('role', '')} · {changes['agreed']}"
        if "credits" in changes:
            return str(changes["credits"])
        return ", ".join(self.changed_field_labels)

    def _directus_edit_detail(self) -> str:
        """ "Quote line #12 · quantity: 1.000 → 11.000", or "Client #3 created"."""
        changes = self.changes
        model = apps.get_model(changes["model"])
        row = f"{capfirst(model._meta.verbose_name)} #{changes['row']}"
        if changes["operation"] == "create":
            return f"{row} · {_('created')}"
        if changes["operation"] == "delete":
            return f"{row} · {_('deleted')}"
        labels = {model_field.column: model_field.verbose_name for model_field in model._meta.concrete_fields}
        moved = [f"{labels.get(column, column)}: {change['from']} → {change['to']}"
                 for column, change in changes["fields"].items()]  # fmt: skip
        return f"{row} · " + "; ".join(moved)

    @property
    def changed_field_labels(self) -> list[str]:
        """Names of the fields an update changed, as their model labels them."""
        updates = (
            self.Action.COMPANY_UPDATED, self.Action.CLIENT_UPDATED, self.Action.CONTACT_UPDATED,
            self.Action.SUPPLIER_UPDATED, self.Action.SUPPLIER_INVOICE_UPDATED, self.Action.PROJECT_UPDATED,
            self.Action.LEAD_UPDATED,
        )  # fmt: skip
        if self.action not in updates:
            return []
        model = apps.get_model(self.object_type)
        return [str(model._meta.get_field(name).verbose_name) for name in self.changes]
