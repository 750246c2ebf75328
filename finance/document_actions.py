"""The buttons of a document page: what can be done now, and for what cannot, the reason shown to the user."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _

from finance import selectors
from finance.models import Invoice, Project, Quote
from finance.permissions import can_bill, can_run_projects, can_sell
from finance.scope import CompanyScope
from finance.services import documents, docuseal, invoice_ninja
from finance.services.dunning import reminder_blocker
from integrations.models import Provider
from integrations.selectors import usable_connection

ZERO = documents.ZERO


@dataclass(frozen=True)
class Action:
    label: str
    url: str
    icon: str
    reason: str = ""  # why the action is not available; empty when it is
    method: str = "post"
    style: str = "btn-outline-primary"
    confirm: str = ""

    @property
    def enabled(self) -> bool:
        return not self.reason


def _first_reason(*checks: tuple[bool, str]) -> str:
    """The message of the first failed check; checks are (holds, message)."""
    return next((message for holds, message in checks if not holds), "")


def quote_actions(quote: Quote, *, scope: CompanyScope) -> list[Action]:
    sells, bills = can_sell(scope, quote.company), can_bill(scope, quote.company)
    status = quote.get_status_display().lower()
    no_role = _("Your role in %(company)s does not allow it.") % {"company": quote.company.name}
    no_billing = _("Only the CEO and finance create invoices.")
    is_draft = quote.status == Quote.Status.DRAFT
    awaiting_answer = quote.status in (Quote.Status.SENT, Quote.Status.VIEWED)
    is_signed = quote.status == Quote.Status.SIGNED
    not_signed = _("The quote is %(status)s; invoices are made from a signed quote.") % {"status": status}
    deposits = quote.invoices.filter(kind=Invoice.Kind.DEPOSIT).exclude(status=Invoice.Status.CANCELLED)
    has_deposit = deposits.exists()
    deposit_issued = has_deposit and not deposits.filter(status=Invoice.Status.DRAFT).exists()
    url = lambda name: reverse(f"finance:{name}", kwargs={"pk": quote.pk})  # noqa: E731
    actions = [
        Action(
            _("Edit"), url("quote-edit"), "ti-edit", method="get",
            reason=_first_reason((sells, no_role), (is_draft, _("Only a draft can be edited; this quote is %(status)s.")
                                                    % {"status": status})),
        ),
        Action(
            _("Mark as sent"), url("quote-send"), "ti-send", style="btn-primary",
            reason=_first_reason(
                (sells, no_role), (is_draft, _("Already %(status)s.") % {"status": status}),
                (quote.payable_total > ZERO, _("Add at least one line with an amount first.")),
            ),
        ),
        Action(
            _("Mark as viewed"), url("quote-viewed"), "ti-eye",
            reason=_first_reason((sells, no_role), (quote.status == Quote.Status.SENT,
                                                    _("Only a sent quote can be marked viewed."))),
        ),
        Action(
            _("Mark as signed"), url("quote-signed"), "ti-signature", style="btn-success",
            reason=_first_reason((sells, no_role), (awaiting_answer, _("Only a sent or viewed quote can be signed."))),
        ),
        Action(
            _("Mark as rejected"), url("quote-reject"), "ti-x", style="btn-outline-danger",
            confirm=_("Mark this quote as rejected by the client?"),
            reason=_first_reason(
                (sells, no_role), (awaiting_answer, _("Only a sent or viewed quote can be rejected."))
            ),
        ),
    ]  # fmt: skip
    if quote.deposit_percent > ZERO or not is_signed:
        actions += [
            Action(
                _("Deposit invoice (%(percent)s %%)") % {"percent": documents.percent_text(quote.deposit_percent)},
                url("quote-invoice-deposit"), "ti-receipt",
                reason=_first_reason(
                    (bills, no_billing), (is_signed, not_signed),
                    (quote.deposit_percent > ZERO, _("The deposit rule asks for no deposit on this quote.")),
                    (not has_deposit, _("The deposit invoice exists already.")),
                ),
            ),
            Action(
                _("Balance invoice"), url("quote-invoice-balance"), "ti-receipt-2",
                reason=_first_reason(
                    (bills, no_billing), (is_signed, not_signed),
                    (deposit_issued, _("Issue the deposit invoice first.")),
                ),
            ),
        ]  # fmt: skip
    else:
        actions.append(
            Action(
                _("Create invoice"),
                url("quote-invoice-full"),
                "ti-receipt",
                reason=_first_reason((bills, no_billing), (is_signed, not_signed)),
            )
        )
    actions += _invoice_ninja_actions(quote, allowed=(sells, no_role), url=url("quote-send-invoice-ninja"))
    actions.append(_docuseal_action(quote, allowed=(sells, no_role), url=url("quote-send-docuseal")))
    actions.append(_project_action(quote, scope=scope))
    actions.append(Action(_("PDF"), url("quote-pdf"), "ti-file-type-pdf", method="get", style="btn-outline-secondary"))
    return actions


def _invoice_ninja_actions(document: Invoice | Quote, *, allowed: tuple[bool, str], url: str) -> list[Action]:
    """Send via Invoice Ninja, for companies that send through it: once per document.

    A failed run is retried from its badge on the page, never asked for a second time.
    """
    if usable_connection(document.company, Provider.INVOICE_NINJA) is None:
        return []
    run = selectors.send_run(document)
    refusal = invoice_ninja.send_refusal(document)
    return [
        Action(
            _("Send via Invoice Ninja"), url, "ti-mail-forward", style="btn-outline-primary",
            reason=_first_reason(
                allowed, (not refusal, refusal),
                (run is None, _("Sending via Invoice Ninja was asked already: see its progress on the page.")),
            ),
        )
    ]  # fmt: skip


def _docuseal_action(quote: Quote, *, allowed: tuple[bool, str], url: str) -> Action:
    """ "Envoyer pour signature": disabled with the reason when DocuSeal, the company's channel or the quote refuse."""
    refusal = docuseal.signature_refusal(quote)
    return Action(
        _("Send for signature"), url, "ti-writing-sign", style="btn-outline-success",
        reason=_first_reason(allowed, (not refusal, refusal)),
    )  # fmt: skip


def _project_action(quote: Quote, *, scope: CompanyScope) -> Action:
    """Open the quote's project, or the project page once it exists."""
    project = Project.objects.filter(quote=quote).first()
    if project is not None:
        return Action(_("Project"), project.get_absolute_url(), "ti-briefcase", method="get")
    opens = (Quote.Status.SENT, Quote.Status.VIEWED, Quote.Status.SIGNED, Quote.Status.CONVERTED)
    return Action(
        _("Open the project"), reverse("finance:quote-project", kwargs={"quote_pk": quote.pk}), "ti-briefcase",
        reason=_first_reason(
            (can_run_projects(scope, quote.company), _("Your role does not allow changing projects.")),
            (quote.status in opens, _("A project is opened once the quote is sent.")),
        ),
    )  # fmt: skip


def invoice_actions(invoice: Invoice, *, scope: CompanyScope, dunning: dict | None) -> list[Action]:
    """`dunning` is the invoice's dunning panel (finance.services.dunning.invoice_dunning_panel): None where
    dunning does not apply."""
    bills = can_bill(scope, invoice.company)
    no_role = _("Only the CEO and finance change invoices.")
    status = invoice.get_status_display().lower()
    is_draft = invoice.status == Invoice.Status.DRAFT
    is_credit_note = invoice.kind == Invoice.Kind.CREDIT_NOTE
    balance_due = documents.invoice_balance_due(invoice)
    open_to_credit = documents.invoice_open_to_credit(invoice)
    url = lambda name: reverse(f"finance:{name}", kwargs={"pk": invoice.pk})  # noqa: E731
    actions = [
        Action(
            _("Issue"), url("invoice-issue"), "ti-send", style="btn-primary", method="issue",
            reason=_first_reason((bills, no_role), (is_draft, _("Already %(status)s.") % {"status": status})),
        ),
        Action(
            _("Download PDF"), url("invoice-pdf"), "ti-file-type-pdf", method="get", style="btn-outline-secondary",
            reason=_first_reason(
                (not is_draft, _("A draft has no number yet: issue it first.")),
                (invoice.status != Invoice.Status.CANCELLED, _("A cancelled draft has no PDF.")),
            ),
        ),
    ]  # fmt: skip
    if not is_credit_note:
        actions += [
            Action(
                _("Record payment"),
                reverse("finance:payment-new", kwargs={"client_pk": invoice.client_id}) + f"?invoice={invoice.pk}",
                "ti-cash", method="get", style="btn-success",
                reason=_first_reason(
                    (bills, no_role), (not is_draft, _("Issue the invoice before recording payments.")),
                    (balance_due > ZERO, _("Nothing is due on this invoice.")),
                ),
            ),
            Action(
                _("Credit note"), url("credit-note-new"), "ti-receipt-refund", method="get",
                reason=_first_reason(
                    (bills, no_role), (invoice.status not in (Invoice.Status.DRAFT, Invoice.Status.CANCELLED),
                                       _("Only an issued invoice can be credited; a draft is cancelled instead.")),
                    (open_to_credit > ZERO, _("The invoice is credited in full already.")),
                ),
            ),
        ]  # fmt: skip
    actions += _invoice_ninja_actions(invoice, allowed=(bills, no_role), url=url("invoice-send-invoice-ninja"))
    if dunning is not None:
        actions.append(
            Action(
                _("Send Mautic reminder"),
                url("invoice-reminder-send"),
                "ti-bell-ringing",
                style="btn-outline-warning",
                reason=_first_reason((bills, no_role)) or reminder_blocker(dunning["situation"]),
            )
        )
    actions.append(
        Action(
            _("Cancel draft"),
            url("invoice-cancel"),
            "ti-trash",
            style="btn-outline-danger",
            confirm=_("Cancel this draft? It will never get a number."),
            reason=_first_reason(
                (bills, no_role),
                (is_draft, _("An issued invoice is never deleted: cancel it with a credit note.")),
            ),
        )
    )
    return actions
