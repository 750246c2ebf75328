"""The invoice a signed quote calls for, made without anyone asking: W1's "deposit invoice created automatically".

Whatever signs a quote (DocuSeal, Invoice Ninja's portal, a person's click), `quote_mark_signed` announces
`quote_signed`; this module answers with one action run per quote (its idempotency key is the quote), so
three "completed" webhooks or two channels reporting the same signature still make one invoice. The run:

1. opens the quote's project if nobody did (the project is what activates once the deposit is paid);
2. drafts the deposit invoice by the company's deposit rule, or the quote's one invoice when it asks for no
   deposit — unless an invoice of the quote exists already (made by hand meanwhile): then it stops there;
3. issues it, unless the company turned automatic issuing off (the draft then waits, and the dashboard
   lists it among the urgent actions);
4. sends it via Invoice Ninja where the company is connected (its own action run, once per invoice).

Every step reads what is already done before doing it, so a run resumed after a crash finishes the job
without doubling any of it.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from finance import events
from finance.models import Invoice, Project, Quote
from finance.models.actions import DEPOSIT_ACTION
from finance.services.audit import audit_record, system_user
from finance.services.documents import ZERO, invoice_create_deposit, invoice_create_full, invoice_issue
from finance.services.invoice_ninja import document_send_start, send_refusal
from finance.services.projects import project_create_from_quote
from integrations import actions
from integrations.models import ActionRun
from integrations.selectors import action_runs_for

logger = logging.getLogger(__name__)


@receiver(events.quote_signed, dispatch_uid="automatic_deposit")
def on_quote_signed(sender, *, quote: Quote, actor, **_kwargs) -> None:
    actions.action_run_start(
        action=DEPOSIT_ACTION, target=quote, company=quote.company, actor=actor if actor and actor.is_active else None,
        idempotency_key=f"{DEPOSIT_ACTION}:{quote.pk}",
    )  # fmt: skip


def automatic_deposit_run(quote: Quote) -> ActionRun | None:
    return action_runs_for(quote).filter(action=DEPOSIT_ACTION).first()


def _invoice_of(quote: Quote) -> Invoice | None:
    """The invoice a signature calls for, if it exists already: the deposit, or the one standard invoice."""
    kind = Invoice.Kind.DEPOSIT if quote.deposit_percent > ZERO else Invoice.Kind.STANDARD
    return quote.invoices.filter(kind=kind).exclude(status=Invoice.Status.CANCELLED).order_by("pk").first()


@transaction.atomic
def _draft(quote_id: int) -> tuple[Invoice, bool]:
    """The project and the draft invoice of a signed quote; True when this run drafted the invoice."""
    quote = Quote.objects.select_for_update().select_related("company").get(pk=quote_id)
    automatic = system_user()
    if not Project.objects.filter(quote=quote).exists():
        project_create_from_quote(quote=quote, created_by=automatic)
    existing = _invoice_of(quote)
    if existing is not None:
        return existing, False
    if quote.deposit_percent > ZERO:
        return invoice_create_deposit(quote=quote, created_by=automatic), True
    return invoice_create_full(quote=quote, created_by=automatic), True


@actions.action_handler(DEPOSIT_ACTION)
def automatic_deposit_execute(run: ActionRun) -> dict:
    quote = Quote.objects.select_related("company").get(pk=run.target_id)
    if quote.status not in (Quote.Status.SIGNED, Quote.Status.CONVERTED):
        return {"skipped": f"quote is {quote.status}"}
    invoice, drafted = _draft(quote.pk)
    result = {"invoice": invoice.pk, "kind": invoice.kind, "drafted": drafted}
    if not drafted and invoice.created_by_id != system_user().pk:
        # A person invoiced the quote before this run: their invoice, their decisions.
        return {**result, "left_to": "the person who drafted it"}
    if invoice.status == Invoice.Status.DRAFT:
        if not quote.company.deposit_auto_issue:
            audit_record(actor=None, company=quote.company, action="invoice.awaiting_issue", target=invoice,
                         changes={"quote": quote.number})  # fmt: skip
            return {**result, "issued": False}
        invoice = invoice_issue(invoice=invoice, issued_by=system_user(), issue_date=timezone.localdate())
    result.update(issued=True, number=invoice.number)
    refusal = send_refusal(invoice)
    if refusal:
        # Not connected, already sent, no e-mail address: the invoice stands; the reason is the run's result.
        return {**result, "invoice_ninja": refusal}
    send = document_send_start(document=invoice, requested_by=system_user())
    return {**result, "invoice_ninja_run": send.pk}
