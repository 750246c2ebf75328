"""Invoice Ninja as the channel clients receive quotes and invoices through; the Hub stays the source of truth.

"Envoyer via Invoice Ninja" pushes the Hub's document (number, dates, lines, amounts to the centime) and
then e-mails it from Invoice Ninja, as one action run whose steps can be run again: the document is found
by its id or its number before anything is created, and an invoice Invoice Ninja already e-mailed is not
e-mailed twice. Payments travel both ways and are recorded once, whichever side saw them first: a Hub
payment goes out with the reference `HUB-P<id>`, and one coming in is matched on its Invoice Ninja id,
that reference, or the bank reference the Hub recorded. A beat job repairs what webhooks missed and
raises what it cannot repair (amounts that differ) as an open drift for the dashboard.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.dispatch import receiver
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from finance import events, vat
from finance.models import Client, Company, Invoice, Payment, PaymentAllocation, Quote
from finance.models.actions import CLIENT_ACTION, PAYMENT_ACTION, SEND_ACTION
from finance.selectors import INVOICE_STATUS_LABELS, QUOTE_STATUS_LABELS
from finance.services.audit import audit_record, system_user
from finance.services.documents import invoice_amount_paid, invoice_balance_due, quote_mark_signed, quote_send
from finance.services.payments import payment_record
from hypervisual.lookups import AnyOf
from integrations import actions
from integrations.clients import invoice_ninja as ninja
from integrations.clients.base import PermanentProviderError
from integrations.invoice_ninja import invoice_ninja_client
from integrations.models import ActionRun, Connection, Provider, SyncCursor, SyncDrift
from integrations.selectors import action_runs_for, usable_connection

logger = logging.getLogger(__name__)

# The transaction reference a Hub payment carries at Invoice Ninja: its echo in a webhook is recognised by it.
HUB_PAYMENT_REFERENCE = re.compile(r"^HUB-P(\d+)\b")
# Invoice Ninja's transaction_reference column holds 191 characters (a Laravel string column).
REFERENCE_MAX_LENGTH = 191
# The reconciliation reads from a little before its last cursor: a change saved during the previous
# run, with an older timestamp than the newest it read, is not skipped.
CURSOR_OVERLAP = timedelta(minutes=5)
INVOICES_CURSOR = "invoice_ninja.invoices"
PAYMENTS_CURSOR = "invoice_ninja.payments"

PAYMENT_TYPES = {
    Payment.Method.BANK_TRANSFER: ninja.PaymentType.BANK_TRANSFER,
    Payment.Method.CASH: ninja.PaymentType.CASH,
    Payment.Method.CARD: ninja.PaymentType.CREDIT_CARD_OTHER,
    Payment.Method.OTHER: ninja.PaymentType.BANK_TRANSFER,
}
PAYMENT_METHODS = {
    ninja.PaymentType.CASH: Payment.Method.CASH,
    ninja.PaymentType.CREDIT_CARD_OTHER: Payment.Method.CARD,
}
# The VAT's name per client language, as it is printed on the documents Invoice Ninja sends.
TAX_NAMES = {"fr": "TVA", "de": "MWST", "it": "IVA", "en": "VAT"}

Document = Invoice | Quote


def _entity(document: Document) -> str:
    return "invoice" if isinstance(document, Invoice) else "quote"


# --- Clients ----------------------------------------------------------------------------------------------


def _split_name(name: str) -> tuple[str, str]:
    first, _space, last = name.strip().rpartition(" ")
    return (first, last) if first else (last, "")


def _wanted_contacts(client: Client) -> dict[str, dict]:
    """The Hub's addresses for this client, by lower-case e-mail: the billing address first, as primary."""
    wanted: dict[str, dict] = {}
    if client.email:
        first, last = (client.name, "") if client.kind == Client.Kind.ORGANISATION else _split_name(client.name)
        wanted[client.email.lower()] = {"first_name": first[:100], "last_name": last[:100], "email": client.email,
                                        "phone": "", "send_email": True}  # fmt: skip
    for contact in client.contacts.exclude(email=""):
        first, last = _split_name(contact.name)
        fields = {"first_name": first[:100], "last_name": last[:100], "email": contact.email,
                  "phone": contact.phone, "send_email": True}  # fmt: skip
        wanted.setdefault(contact.email.lower(), fields)
    for position, fields in enumerate(wanted.values()):
        fields["is_primary"] = position == 0
    return wanted


def client_payload(client: Client, *, currency: str | None, existing: tuple[ninja.Contact, ...] = ()) -> dict:
    """The client as Invoice Ninja stores it. Every contact it has already is named by its id: Invoice Ninja
    deletes the contacts an update leaves out, including those someone added there by hand.
    Without `currency` the client keeps the currency Invoice Ninja has for it.
    """
    wanted = _wanted_contacts(client)
    contacts = []
    for contact in existing:
        mine = wanted.pop(contact.email.lower(), None)
        kept = {"first_name": contact.first_name, "last_name": contact.last_name, "email": contact.email,
                "is_primary": False}  # fmt: skip
        contacts.append({"id": contact.id, **(mine or kept)})
    contacts += list(wanted.values())
    address = " ".join(part for part in (client.street, client.building_number) if part)
    payload = {
        "name": client.name, "vat_number": client.che_uid, "address1": address, "postal_code": client.postal_code,
        "city": client.town, "country_id": country_id(client.country), "contacts": contacts,
    }  # fmt: skip
    if currency:
        payload["settings"] = {"currency_id": ninja.CURRENCY_IDS[currency]}
    return payload


def country_id(alpha_2: str) -> str:
    """Invoice Ninja's country id: the ISO 3166 numeric code (Switzerland 756), as a string."""
    from iso3166 import countries

    return str(int(countries.get(alpha_2).numeric))


def client_sync(api: ninja.InvoiceNinjaClient, client: Client, *, currency: str | None) -> str:
    """Create the client at Invoice Ninja, or find it by a contact's e-mail, then bring it in step; its id."""
    emails = list(_wanted_contacts(client))
    if not emails:
        raise ValidationError(_("%(client)s has no e-mail address: add one to send via Invoice Ninja.")
                              % {"client": client.name})  # fmt: skip
    ninja_id = client.invoice_ninja_id
    if not ninja_id:
        for email in emails:
            found = api.clients_by_email(email)
            if found:
                ninja_id = found[0].id
                break
    existing = api.client_get(ninja_id).contacts if ninja_id else ()
    payload = client_payload(client, currency=currency, existing=existing)
    stored = api.client_update(ninja_id, payload) if ninja_id else api.client_create(payload)
    contacts = {contact.email.lower(): contact.id for contact in stored.contacts if contact.email}
    Client.objects.filter(pk=client.pk).update(invoice_ninja_id=stored.id, invoice_ninja_contacts=contacts)
    client.invoice_ninja_id, client.invoice_ninja_contacts = stored.id, contacts
    return stored.id


def client_follow_start(*, client: Client, actor: AbstractBaseUser | None) -> ActionRun | None:
    """After an edit in the Hub, bring a client Invoice Ninja knows in step there (one run per edit)."""
    if not client.invoice_ninja_id or usable_connection(client.company, Provider.INVOICE_NINJA) is None:
        return None
    return actions.action_run_start(
        action=CLIENT_ACTION, target=client, company=client.company, actor=actor,
        idempotency_key=f"{CLIENT_ACTION}:{client.pk}:{uuid.uuid4()}",
    )  # fmt: skip


@receiver(events.client_changed, dispatch_uid="invoice_ninja_client_follow")
def on_client_changed(sender, *, client: Client, actor: AbstractBaseUser | None, **kwargs) -> None:
    client_follow_start(client=client, actor=actor)


@actions.action_handler(CLIENT_ACTION)
def client_follow_execute(run: ActionRun) -> dict:
    client = Client.objects.select_related("company").get(pk=run.target_id)
    api = invoice_ninja_client(_connection(client.company))
    return {"invoice_ninja_id": client_sync(api, client, currency=None)}


# --- Documents ------------------------------------------------------------------------------------------


def _ninja_line_total(line: dict) -> Decimal:
    """What Invoice Ninja computes for one line (exclusive taxes, InvoiceItemSum): the discounted net rounded
    once, then its tax rounded.
    """
    gross = Decimal(str(line["cost"])) * Decimal(str(line["quantity"]))
    net = vat.quantize_chf(gross - gross * Decimal(str(line.get("discount") or 0)) / 100)
    return net + vat.quantize_chf(net * Decimal(str(line.get("tax_rate1", 0))) / 100)


def document_lines_payload(document: Document) -> list[dict]:
    """The Hub's lines with their VAT; a last line without VAT carries the 0.05 rounding (and any centime by
    which Invoice Ninja's arithmetic would differ), so that its total is exactly the Hub's payable total.
    """
    tax_name = TAX_NAMES.get(document.client.language, "TVA")
    lines = [
        {
            "product_key": str(line.position),
            "notes": line.description,
            "cost": float(line.unit_price),
            "quantity": float(line.quantity),
            "discount": float(line.discount_percent),
            "is_amount_discount": False,
            "tax_name1": tax_name if line.vat_rate else "",
            "tax_rate1": float(line.vat_rate),
            "type_id": "2",
        }  # fmt: skip
        for line in document.lines.all()
    ]
    difference = document.payable_total - sum((_ninja_line_total(line) for line in lines), Decimal("0.00"))
    if difference:
        with translation.override(document.client.language):
            label = _("Rounding")
        lines.append({"product_key": label, "notes": label, "cost": float(difference), "quantity": 1.0,
                      "discount": 0.0, "is_amount_discount": False, "tax_name1": "", "tax_rate1": 0.0,
                      "type_id": "2"})  # fmt: skip
    return lines


def document_payload(document: Document, *, client_id: str) -> dict:
    if isinstance(document, Invoice):
        dated, due = document.issue_date, document.due_date
    else:
        dated, due = document.quote_date, document.valid_until
    return {
        "client_id": client_id, "number": document.number, "date": dated.isoformat(),
        "due_date": due.isoformat() if due else "", "po_number": "", "public_notes": document.notes,
        "uses_inclusive_taxes": False, "discount": 0, "is_amount_discount": False,
        "line_items": document_lines_payload(document),
    }  # fmt: skip


def _find(api: ninja.InvoiceNinjaClient, document: Document) -> ninja.Document | None:
    """The document at Invoice Ninja by its stored id, or by its number (a push whose answer was lost)."""
    if document.invoice_ninja_id:
        return (
            api.invoice_get(document.invoice_ninja_id)
            if isinstance(document, Invoice)
            else api.quote_get(document.invoice_ninja_id)
        )
    listing = api.invoices if isinstance(document, Invoice) else api.quotes
    return next((found for found in listing(number=document.number) if found.number == document.number
                 and not found.is_deleted), None)  # fmt: skip


def _settled(found: ninja.Document) -> bool:
    """Invoice Ninja keeps a paid, cancelled or converted document as it is: it is not pushed over."""
    if found.entity_type == "invoice":
        return found.status_id not in (ninja.InvoiceStatus.DRAFT, ninja.InvoiceStatus.SENT)
    return found.status_id not in (ninja.QuoteStatus.DRAFT, ninja.QuoteStatus.SENT)


def document_push(api: ninja.InvoiceNinjaClient, document: Document) -> ninja.Document:
    """Create or update the document at Invoice Ninja and keep its id at once (committed before e-mailing)."""
    client_id = client_sync(api, document.client, currency=document.currency)
    payload = document_payload(document, client_id=client_id)
    found = _find(api, document)
    if found is None:
        pushed = api.invoice_create(payload) if isinstance(document, Invoice) else api.quote_create(payload)
    elif _settled(found):
        pushed = found
    elif isinstance(document, Invoice):
        pushed = api.invoice_update(found.id, payload)
    else:
        pushed = api.quote_update(found.id, payload)
    type(document).objects.filter(pk=document.pk).update(
        invoice_ninja_id=pushed.id, invoice_ninja_status=pushed.status_id, invoice_ninja_link=pushed.link
    )
    document.invoice_ninja_id, document.invoice_ninja_status = pushed.id, pushed.status_id
    if pushed.amount != document.payable_total:
        raise PermanentProviderError(Provider.INVOICE_NINJA, _(
            "Invoice Ninja computes %(theirs)s for %(number)s, the Hub %(ours)s: not sent. Check the lines' VAT."
        ) % {"theirs": pushed.amount, "number": document.number, "ours": document.payable_total})  # fmt: skip
    return pushed


def document_email(api: ninja.InvoiceNinjaClient, document: Document) -> ninja.Document:
    """E-mail the pushed document through Invoice Ninja, unless Invoice Ninja already sent it (a resumed run)."""
    current = _find(api, document)
    if current is None:
        raise PermanentProviderError(Provider.INVOICE_NINJA, _("%(number)s is no longer at Invoice Ninja.")
                                     % {"number": document.number})  # fmt: skip
    if current.last_sent_date is None:
        template = ninja.EmailTemplate.INVOICE if isinstance(document, Invoice) else ninja.EmailTemplate.QUOTE
        current = api.email_send(entity=_entity(document), entity_id=current.id, template=template)
    with transaction.atomic():
        locked = type(document).objects.select_for_update().get(pk=document.pk)
        first_time = locked.invoice_ninja_sent_at is None
        locked.invoice_ninja_status = current.status_id
        locked.invoice_ninja_link = current.link or locked.invoice_ninja_link
        locked.invoice_ninja_sent_at = locked.invoice_ninja_sent_at or timezone.now()
        locked.save(update_fields=["invoice_ninja_status", "invoice_ninja_link", "invoice_ninja_sent_at"])
        if first_time:
            audit_record(actor=None, company=locked.company, action="invoice_ninja.sent", target=locked,
                         changes={"summary": locked.number, "invoice_ninja_id": current.id})  # fmt: skip
    return current


def send_refusal(document: Document) -> str:
    """Why the document cannot be sent via Invoice Ninja now, or "" if it can (roles are checked by the caller)."""
    if usable_connection(document.company, Provider.INVOICE_NINJA) is None:
        return _("Invoice Ninja is not set up for %(company)s.") % {"company": document.company.name}
    if document.invoice_ninja_sent_at is not None:
        return _("Sent via Invoice Ninja on %(date)s.") % {
            "date": timezone.localtime(document.invoice_ninja_sent_at).strftime("%d.%m.%Y")
        }  # fmt: skip
    if isinstance(document, Invoice):
        if document.kind == Invoice.Kind.CREDIT_NOTE:
            return _("Credit notes are not sent via Invoice Ninja.")
        if document.status not in (Invoice.Status.ISSUED, Invoice.Status.PARTIALLY_PAID):
            return _("Only an issued invoice with an amount due is sent; this one is %(status)s.") % {
                "status": document.get_status_display().lower()
            }  # fmt: skip
    else:
        if document.status not in (Quote.Status.DRAFT, Quote.Status.SENT, Quote.Status.VIEWED):
            return _("Only a draft or sent quote is sent; this one is %(status)s.") % {
                "status": document.get_status_display().lower()
            }  # fmt: skip
        if document.status == Quote.Status.DRAFT and document.payable_total <= 0:
            return _("Add at least one line with an amount first.")
    if not _wanted_contacts(document.client):
        return _("%(client)s has no e-mail address.") % {"client": document.client.name}
    return ""


@transaction.atomic
def document_send_start(*, document: Document, requested_by: AbstractBaseUser) -> ActionRun:
    """Ask for "Envoyer via Invoice Ninja": a draft quote is numbered and marked sent first (its lines freeze)."""
    refusal = send_refusal(document)
    if refusal:
        raise ValidationError(refusal)
    if isinstance(document, Quote) and document.status == Quote.Status.DRAFT:
        document = quote_send(quote=document, sent_by=requested_by)
    return actions.action_run_start(
        action=SEND_ACTION, target=document, company=document.company, actor=requested_by,
        idempotency_key=f"{SEND_ACTION}:{_entity(document)}:{document.pk}",
    )  # fmt: skip


def _connection(company: Company) -> Connection:
    connection = usable_connection(company, Provider.INVOICE_NINJA)
    if connection is None:
        raise PermanentProviderError(Provider.INVOICE_NINJA, _("Invoice Ninja is not set up for %(company)s.")
                                     % {"company": company.name})  # fmt: skip
    return connection


@actions.action_handler(SEND_ACTION)
def document_send_execute(run: ActionRun) -> dict:
    model = run.target_type.model_class()
    document = model.objects.select_related("company", "client").get(pk=run.target_id)
    api = invoice_ninja_client(_connection(document.company))
    document_push(api, document)
    sent = document_email(api, document)
    if isinstance(document, Invoice):
        # Payments the Hub recorded before the invoice existed at Invoice Ninja follow it there.
        for payment in Payment.objects.filter(allocations__invoice=document, undone_at__isnull=True,
                                              invoice_ninja_id="").distinct():  # fmt: skip
            payment_mirror_start(payment=payment, actor=run.actor)
    return {"invoice_ninja_id": sent.id, "status_id": sent.status_id, "link": sent.link}


# --- Payments ------------------------------------------------------------------------------------------


def hub_payment_reference(payment: Payment) -> str:
    return f"HUB-P{payment.pk} {payment.reference}".strip()[:REFERENCE_MAX_LENGTH]


def payment_payload(payment: Payment, *, client_id: str, shares: list[tuple[str, Decimal]]) -> dict:
    return {
        "client_id": client_id, "amount": float(sum((amount for _id, amount in shares), Decimal("0.00"))),
        "date": payment.received_on.isoformat(), "type_id": str(PAYMENT_TYPES[payment.method]),
        "transaction_reference": hub_payment_reference(payment),
        "invoices": [{"invoice_id": invoice_id, "amount": float(amount)} for invoice_id, amount in shares],
    }  # fmt: skip


def payment_mirror_start(*, payment: Payment, actor: AbstractBaseUser | None) -> ActionRun | None:
    """Record a Hub payment at Invoice Ninja too, if it settles an invoice that is there; a failed run is retried."""
    run_id = next(iter(payments_mirror_start(payments=[payment], actor=actor)), None)
    if run_id is None:
        return None
    run = ActionRun.objects.get(pk=run_id)
    if run.status == ActionRun.Status.FAILED:
        run = actions.action_run_retry(run=run, actor=actor or system_user())
    return run


def payments_mirror_start(*, payments: list[Payment], actor: AbstractBaseUser | None) -> list[int]:
    """The runs (ids) recording at Invoice Ninja those of the payments that settle an invoice that is there.

    A bank statement's payments are looked at together: one query for them all, then one per company.
    """
    waiting = [payment for payment in payments if not payment.invoice_ninja_id and payment.undone_at is None]
    there = set(
        PaymentAllocation.objects.filter(AnyOf(F("payment_id"), [payment.pk for payment in waiting]))
        .exclude(invoice__invoice_ninja_id="").values_list("payment_id", flat=True)
    ) if waiting else set()  # fmt: skip
    by_company = defaultdict(list)
    for payment in waiting:
        if payment.pk in there:
            by_company[payment.company_id].append(payment)
    run_ids = []
    for group in by_company.values():
        company = group[0].company
        if usable_connection(company, Provider.INVOICE_NINJA) is not None:
            run_ids += actions.action_runs_start(
                action=PAYMENT_ACTION, target_type=Payment, target_ids=[payment.pk for payment in group],
                company=company, actor=actor, idempotency_key=_payment_run_key,
            )  # fmt: skip
    return run_ids


def _payment_run_key(payment_id: int) -> str:
    return f"{PAYMENT_ACTION}:{payment_id}"


@receiver(events.payments_recorded, dispatch_uid="invoice_ninja_payment_mirror")
def on_payments_recorded(sender, *, payments: list[Payment], actor: AbstractBaseUser | None, **kwargs) -> None:
    payments_mirror_start(payments=payments, actor=actor)


@actions.action_handler(PAYMENT_ACTION)
def payment_push_execute(run: ActionRun) -> dict:
    payment = Payment.objects.select_related("company", "client").get(pk=run.target_id)
    if payment.undone_at is not None:
        return {"skipped": "undone"}
    if payment.invoice_ninja_id:
        return {"invoice_ninja_id": payment.invoice_ninja_id}
    shares = [
        (allocation.invoice.invoice_ninja_id, allocation.amount)
        for allocation in payment.allocations.select_related("invoice").exclude(invoice__invoice_ninja_id="")
    ]
    api = invoice_ninja_client(_connection(payment.company))
    client_id = payment.client.invoice_ninja_id
    # A previous attempt whose answer was lost left the payment there: found by its reference, not doubled.
    found = next((existing for existing in api.payments(client_id=client_id, text=f"HUB-P{payment.pk}")
                  if _hub_payment_id(existing.transaction_reference) == payment.pk), None)  # fmt: skip
    pushed = found or api.payment_create(payment_payload(payment, client_id=client_id, shares=shares))
    with transaction.atomic():
        linked = Payment.objects.filter(pk=payment.pk, invoice_ninja_id="").update(invoice_ninja_id=pushed.id)
        if linked:
            audit_record(actor=None, company=payment.company, action="invoice_ninja.payment_pushed", target=payment,
                         changes={"summary": f"{pushed.amount} · {pushed.id}"})  # fmt: skip
    return {"invoice_ninja_id": pushed.id, "amount": str(pushed.amount)}


def _hub_payment_id(reference: str) -> int | None:
    match = HUB_PAYMENT_REFERENCE.match(reference or "")
    return int(match.group(1)) if match else None


def _link(payment: Payment, ninja_id: str) -> Payment:
    Payment.objects.filter(pk=payment.pk, invoice_ninja_id="").update(invoice_ninja_id=ninja_id)
    payment.refresh_from_db()
    return payment


def payment_import(connection: Connection, incoming: ninja.Payment) -> Payment | None:
    """Record a payment made at Invoice Ninja in the Hub, once: the Hub payment it is (already) or a new one.

    Returns None for a payment that is not completed or settles no invoice the Hub sent; one that would pay
    more than the Hub's balance due is not recorded but raised as a drift, for a person to look at.
    """
    if not incoming.is_completed:
        return None
    company = connection.company
    known = Payment.objects.filter(company=company, invoice_ninja_id=incoming.id).first()
    if known is not None:
        return known
    own_id = _hub_payment_id(incoming.transaction_reference)
    own = Payment.objects.filter(company=company, pk=own_id).first() if own_id else None
    if own is not None:
        return _link(own, incoming.id)
    if incoming.transaction_reference:
        same = Payment.objects.filter(
            company=company, client__invoice_ninja_id=incoming.client_id, reference=incoming.transaction_reference,
            undone_at__isnull=True, invoice_ninja_id="",
        ).first()  # fmt: skip
        if same is not None:
            return _link(same, incoming.id)
    invoices = {
        invoice.invoice_ninja_id: invoice
        for invoice in Invoice.objects.select_related("client").filter(
            company=company, invoice_ninja_id__in=[invoice_id for invoice_id, _amount in incoming.invoice_amounts]
        )
    }
    shares = [
        (invoices[invoice_id], amount) for invoice_id, amount in incoming.invoice_amounts if invoice_id in invoices
    ]
    if not shares:
        logger.info("Invoice Ninja payment %s settles no invoice the Hub sent; not recorded", incoming.id)
        return None
    try:
        with transaction.atomic():
            locked = {invoice.pk: invoice for invoice in Invoice.objects.select_for_update().filter(
                pk__in=[invoice.pk for invoice, _amount in shares])}  # fmt: skip
            too_much = [(invoice, amount) for invoice, amount in shares
                        if amount > invoice_balance_due(locked[invoice.pk])]  # fmt: skip
            if too_much:
                invoice, amount = too_much[0]
                due = invoice_balance_due(locked[invoice.pk])
                drift_raise(document=invoice, kind="payment_exceeds_due", detail=_(
                    "Invoice Ninja payment %(number)s of %(amount)s exceeds the %(due)s due in the Hub: not recorded."
                ) % {"number": incoming.number, "amount": amount, "due": due})  # fmt: skip
                return None
            client = shares[0][0].client
            method = PAYMENT_METHODS.get(incoming.type_id, Payment.Method.BANK_TRANSFER)
            payment = payment_record(
                client=client, received_on=incoming.date or timezone.localdate(),
                amount=sum((amount for _invoice, amount in shares), Decimal("0.00")), method=method,
                reference=(incoming.transaction_reference or f"Invoice Ninja {incoming.number}")[:140],
                allocations=shares, recorded_by=system_user(), currency=shares[0][0].currency,
                invoice_ninja_id=incoming.id,
            )  # fmt: skip
            audit_record(actor=None, company=company, action="invoice_ninja.payment_imported", target=payment,
                         changes={"summary": f"{payment.amount} · {incoming.number} · {incoming.id}"})  # fmt: skip
            return payment
    except IntegrityError:
        # Another delivery of the same payment (event 4 and the pull of event 8) recorded it a moment ago.
        return Payment.objects.filter(company=company, invoice_ninja_id=incoming.id).first()


def payments_pull(connection: Connection, api: ninja.InvoiceNinjaClient, invoice: Invoice) -> list[Payment]:
    """Import the Invoice Ninja payments of an invoice that the Hub may not have heard of (a lost event 4)."""
    imported = []
    for incoming in api.payments(client_id=invoice.client.invoice_ninja_id):
        if any(invoice_id == invoice.invoice_ninja_id for invoice_id, _amount in incoming.invoice_amounts):
            payment = payment_import(connection, incoming)
            if payment is not None:
                imported.append(payment)
    return imported


# --- Events and statuses ---------------------------------------------------------------------------------


def _status_store(document: Document, status_id: str, *, link: str = "", sent: bool = False) -> Document:
    with transaction.atomic():
        locked = type(document).objects.select_for_update().get(pk=document.pk)
        before = locked.invoice_ninja_status
        locked.invoice_ninja_status = status_id
        locked.invoice_ninja_link = link or locked.invoice_ninja_link
        if sent and locked.invoice_ninja_sent_at is None:
            locked.invoice_ninja_sent_at = timezone.now()
        locked.save(update_fields=["invoice_ninja_status", "invoice_ninja_link", "invoice_ninja_sent_at"])
        if before != status_id:
            labels = INVOICE_STATUS_LABELS if isinstance(locked, Invoice) else QUOTE_STATUS_LABELS
            summary = f"{labels.get(before, before or '—')} → {labels.get(status_id, status_id)}"
            audit_record(actor=None, company=locked.company, action="invoice_ninja.status_changed", target=locked,
                         changes={"summary": summary, "from": before, "to": status_id})  # fmt: skip
    return locked


def event_process(connection: Connection, event_id: int, payload: dict) -> None:
    """Apply one Invoice Ninja webhook (the event is known from the URL it came to); safe to apply again."""
    event = ninja.WebhookEvent(event_id)
    if event == ninja.WebhookEvent.CREATE_PAYMENT:
        payment_import(connection, ninja.Payment.from_api(payload))
        return
    if event in (ninja.WebhookEvent.CREATE_INVOICE, ninja.WebhookEvent.UPDATE_INVOICE, ninja.WebhookEvent.SENT_INVOICE):
        incoming = ninja.Document.from_api(payload, entity_type="invoice")
        invoice = (
            Invoice.objects.select_related("client", "company")
            .filter(company=connection.company, invoice_ninja_id=incoming.id)
            .first()
        )
        if invoice is None:
            return
        ninja.invoice_status(incoming.status_id)
        sent = event == ninja.WebhookEvent.SENT_INVOICE or incoming.last_sent_date is not None
        _status_store(invoice, incoming.status_id, link=incoming.link, sent=sent)
        if incoming.status_id in (ninja.InvoiceStatus.PARTIAL, ninja.InvoiceStatus.PAID):
            payments_pull(connection, invoice_ninja_client(connection), invoice)
        return
    incoming = ninja.Document.from_api(payload, entity_type="quote")
    quote = (
        Quote.objects.select_related("company").filter(company=connection.company, invoice_ninja_id=incoming.id).first()
    )
    if quote is None:
        return
    ninja.quote_status(incoming.status_id)
    sent = event == ninja.WebhookEvent.SENT_QUOTE or incoming.last_sent_date is not None
    quote = _status_store(quote, incoming.status_id, link=incoming.link, sent=sent)
    accepted = event == ninja.WebhookEvent.APPROVE_QUOTE or incoming.status_id == ninja.QuoteStatus.APPROVED
    if (
        accepted and quote.company.signature_channel == Company.SignatureChannel.INVOICE_NINJA
        and quote.status in (Quote.Status.SENT, Quote.Status.VIEWED)
    ):  # fmt: skip
        quote_mark_signed(quote=quote, actor=system_user())


# --- Drift -------------------------------------------------------------------------------------------


def drift_raise(*, document: Document, kind: str, detail: str) -> SyncDrift:
    """Open a drift for a person to look at (once: an open one is kept, not doubled), audited."""
    target_type = ContentType.objects.get_for_model(document)
    drift, created = SyncDrift.objects.get_or_create(
        provider=Provider.INVOICE_NINJA, target_type=target_type, target_id=document.pk, kind=kind,
        resolved_at__isnull=True, defaults={"company": document.company, "detail": detail[:300]},
    )  # fmt: skip
    if created:
        audit_record(actor=None, company=document.company, action="invoice_ninja.drift_found", target=document,
                     changes={"summary": detail[:300], "kind": kind})  # fmt: skip
    return drift


def drift_resolve(*, document: Document, kind: str) -> int:
    return SyncDrift.objects.filter(
        provider=Provider.INVOICE_NINJA, target_type=ContentType.objects.get_for_model(document),
        target_id=document.pk, kind=kind, resolved_at__isnull=True,
    ).update(resolved_at=timezone.now())  # fmt: skip


# --- Reconciliation -------------------------------------------------------------------------------


def _repaired(invoice: Invoice, summary: str) -> None:
    audit_record(actor=None, company=invoice.company, action="invoice_ninja.drift_repaired", target=invoice,
                 changes={"summary": summary})  # fmt: skip


def invoice_reconcile(connection: Connection, api: ninja.InvoiceNinjaClient, invoice: Invoice,
                      incoming: ninja.Document) -> None:  # fmt: skip
    """Bring one invoice in step with what Invoice Ninja holds; what cannot be repaired becomes a drift."""
    if incoming.status_id != invoice.invoice_ninja_status:
        _status_store(invoice, incoming.status_id, link=incoming.link)
    if incoming.amount != invoice.payable_total:
        drift_raise(document=invoice, kind="amount", detail=_(
            "%(number)s: Invoice Ninja's amount is %(theirs)s, the Hub's %(ours)s."
        ) % {"number": invoice.number, "theirs": incoming.amount, "ours": invoice.payable_total})  # fmt: skip
        return
    drift_resolve(document=invoice, kind="amount")
    hub_paid = invoice_amount_paid(invoice)
    if incoming.paid_to_date < hub_paid:
        for payment in Payment.objects.filter(allocations__invoice=invoice, undone_at__isnull=True,
                                              invoice_ninja_id="").distinct():  # fmt: skip
            pending = action_runs_for(payment).filter(action=PAYMENT_ACTION).first()
            if pending is not None and pending.status != ActionRun.Status.FAILED:
                continue  # on its way: not a drift yet
            if payment_mirror_start(payment=payment, actor=None) is not None:
                _repaired(invoice, _("Payment %(payment)s sent to Invoice Ninja again.") % {"payment": payment})
    elif incoming.paid_to_date > hub_paid:
        for payment in payments_pull(connection, api, invoice):
            _repaired(invoice, _("Payment %(payment)s taken from Invoice Ninja.") % {"payment": payment})
        paid_now = invoice_amount_paid(invoice)
        if paid_now < incoming.paid_to_date:
            drift_raise(document=invoice, kind="paid", detail=_(
                "%(number)s: Invoice Ninja counts %(theirs)s paid, the Hub %(ours)s."
            ) % {"number": invoice.number, "theirs": incoming.paid_to_date, "ours": paid_now})  # fmt: skip
            return
    drift_resolve(document=invoice, kind="paid")


def _cursor(connection: Connection, name: str):
    cursor = SyncCursor.objects.filter(connection=connection, name=name).first()
    return datetime.fromisoformat(cursor.value) - CURSOR_OVERLAP if cursor and cursor.value else None


def _cursor_store(connection: Connection, name: str, value) -> None:
    if value is not None:
        defaults = {"value": value.isoformat(), "updated_at": timezone.now()}
        SyncCursor.objects.update_or_create(connection=connection, name=name, defaults=defaults)


def reconcile(connection: Connection) -> dict[str, int]:
    """Read the invoices and payments Invoice Ninja changed since the last run and repair any drift."""
    api = invoice_ninja_client(connection)
    checked = imported = 0
    newest = None
    for incoming in api.invoices(updated_since=_cursor(connection, INVOICES_CURSOR)):
        newest = max(filter(None, [newest, incoming.updated_at]), default=None)
        invoice = (
            Invoice.objects.select_related("client", "company")
            .filter(company=connection.company, invoice_ninja_id=incoming.id)
            .first()
        )
        if invoice is not None:
            invoice_reconcile(connection, api, invoice, incoming)
            checked += 1
    _cursor_store(connection, INVOICES_CURSOR, newest)
    newest = None
    for incoming in api.payments(updated_since=_cursor(connection, PAYMENTS_CURSOR)):
        newest = max(filter(None, [newest, incoming.updated_at]), default=None)
        known = Payment.objects.filter(company=connection.company, invoice_ninja_id=incoming.id).exists()
        payment = payment_import(connection, incoming)
        if payment is not None and not known:
            imported += 1
    _cursor_store(connection, PAYMENTS_CURSOR, newest)
    return {"invoices_checked": checked, "payments_imported": imported}


def connections_to_reconcile() -> list[int]:
    return list(
        Connection.objects.filter(provider=Provider.INVOICE_NINJA).exclude(Q(secrets_encrypted=""))
        .values_list("pk", flat=True)
    )  # fmt: skip
