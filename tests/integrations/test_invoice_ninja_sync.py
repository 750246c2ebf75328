"""Invoice Ninja as the sending channel: the send action, the webhooks, payments both ways, reconciliation.

Invoice Ninja's HTTP is faked with `responses`, in the shapes of research/api-contracts.md §1.6; the Hub's
side is real (PostgreSQL, services, the action run handlers called as the worker calls them).
"""

import datetime
import json
from decimal import Decimal

import pytest
import responses
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import translation

from finance.models import AuditEvent, Company, Contact, Invoice, InvoiceLine, Payment, Quote
from finance.services import documents, invoice_ninja, payments
from integrations.actions import execute_action_run
from integrations.clients.invoice_ninja import WebhookEvent
from integrations.models import ActionRun, Connection, SyncCursor, SyncDrift, WebhookDelivery
from integrations.selectors import action_runs_for
from tests.factories import ClientFactory, InvoiceFactory, QuoteFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal
BASE = "https://in.example"
API = f"{BASE}/api/v1"
ISSUE_DAY = datetime.date(2026, 11, 10)
SECRET = "whsec-qa-0123456789abcdef0123456789"
LINK = "https://in.example/client/invoice/ab12cd34ef56gh78"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def connection(company_a):
    connection = Connection(company=company_a, provider="invoice_ninja", base_url=BASE)
    connection.set_secrets(api_token="tok-qa", webhook_secret=SECRET)
    connection.save()
    return connection


@pytest.fixture
def user(company_a):
    return UserFactory()


@pytest.fixture
def admin_web(client, ceo):
    client.force_login(ceo)
    return client


@pytest.fixture
def favre(company_a):
    return ClientFactory(company=company_a, name="Boulangerie Favre SA", email="compta@favre.ch")


def issued(client, user, net="1000.00"):
    """Net 1000.00 + 8.1 % VAT: 1081.00 payable."""
    invoice = InvoiceFactory(company=client.company, client=client)
    InvoiceLine.objects.create(
        invoice=invoice, position=1, description="Prestation", quantity=1, unit_price=D(net), vat_rate=D("8.10")
    )
    return documents.invoice_issue(invoice=invoice, issued_by=user, issue_date=ISSUE_DAY)


def pushed(invoice, ninja_id="Wpmbk5ezJn", client_id="VolejRejNm"):
    """An invoice the Hub already sent through Invoice Ninja."""
    Invoice.objects.filter(pk=invoice.pk).update(invoice_ninja_id=ninja_id, invoice_ninja_status="2")
    type(invoice.client).objects.filter(pk=invoice.client.pk).update(invoice_ninja_id=client_id)
    return Invoice.objects.select_related("client", "company").get(pk=invoice.pk)


def ninja_document(
    *, id="Wpmbk5ezJn", number="", status_id="1", amount="1081.00", balance=None, paid_to_date="0",
    last_sent_date="", entity_type="invoice", updated_at=1763715600,
):  # fmt: skip
    """An invoice (or quote) as Invoice Ninja's transformer writes it (api-contracts.md §1.6)."""
    balance = amount if balance is None else balance
    return {
        "id": id, "user_id": "Wpmbk5ezJn", "client_id": "VolejRejNm", "status_id": status_id, "number": number,
        "po_number": "", "date": "2026-11-10", "due_date": "2026-12-10", "last_sent_date": last_sent_date,
        "amount": float(amount), "balance": float(balance), "paid_to_date": float(paid_to_date),
        "total_taxes": 81.0, "discount": 0, "is_amount_discount": False, "uses_inclusive_taxes": False,
        "tax_name1": "", "tax_rate1": 0, "public_notes": "", "private_notes": "", "line_items": [],
        "entity_type": entity_type, "is_deleted": False, "created_at": 1763715600, "updated_at": updated_at,
        "archived_at": 0, "documents": [],
        "invitations": [{"id": "xYRdG7dDzO", "client_contact_id": "4w9aAOdvMR", "key": "ab12cd34ef56gh78",
                         "link": LINK, "sent_date": "", "viewed_date": "", "opened_date": ""}],
    }  # fmt: skip


def ninja_payment(*, id="Opnel5aKBz", amount="1081.00", reference="", invoice_id="Wpmbk5ezJn", status_id="4"):
    """Webhook event 4's body: the bare payment with its invoices and client (api-contracts.md §1.6)."""
    return {
        "id": id, "user_id": "Wpmbk5ezJn", "client_id": "VolejRejNm", "amount": float(amount),
        "applied": float(amount), "refunded": 0, "date": "2026-11-20", "type_id": "1", "status_id": status_id,
        "number": "0017", "transaction_reference": reference, "is_manual": True, "is_deleted": False,
        "currency_id": "17", "exchange_rate": 1, "created_at": 1763715600, "updated_at": 1763715600,
        "archived_at": 0,
        "paymentables": [{"id": "d2J3nkeE8j", "invoice_id": invoice_id, "amount": float(amount), "refunded": 0,
                          "created_at": 1763715600, "updated_at": 1763715600}],
        "invoices": [{"id": invoice_id, "number": "QA-2026-0001", "status_id": "4", "amount": 1081.0, "balance": 0}],
        "client": {"id": "VolejRejNm", "name": "Boulangerie Favre SA", "number": "0007"}, "documents": [],
    }  # fmt: skip


def listing(*items, page=1, total_pages=1):
    return {"data": list(items), "meta": {"pagination": {
        "total": len(items), "count": len(items), "per_page": 500, "current_page": page, "total_pages": total_pages,
        "links": {},
    }}}  # fmt: skip


def ninja_client(contacts):
    return {"data": {
        "id": "VolejRejNm", "name": "Boulangerie Favre SA", "number": "0007", "display_name": "Boulangerie Favre SA",
        "balance": 0, "paid_to_date": 0, "vat_number": "", "id_number": "", "address1": "Rue du Marché 3",
        "address2": "", "city": "Genève", "state": "", "postal_code": "1204", "country_id": "756",
        "settings": {"currency_id": "17"}, "contacts": contacts, "created_at": 1763715600,
        "updated_at": 1763715600, "archived_at": 0, "is_deleted": False,
    }}  # fmt: skip


def contact(id, email, first="Boulangerie Favre SA", last="", primary=True):
    return {"id": id, "first_name": first, "last_name": last, "email": email, "phone": "", "send_email": True,
            "is_primary": primary}  # fmt: skip


def body(call):
    return json.loads(call.request.body)


def calls(http, method, url):
    return [call for call in http.calls if call.request.method == method and call.request.url.split("?")[0] == url]


def run(action_run):
    execute_action_run(action_run.pk)
    action_run.refresh_from_db()
    return action_run


# --- "Envoyer via Invoice Ninja" ------------------------------------------------------------------------


def test_sending_an_invoice_creates_the_client_and_the_invoice_with_the_hub_number_then_emails_it(
    http, connection, favre, user
):
    invoice = issued(favre, user)
    http.get(f"{API}/clients", json=listing())
    http.post(f"{API}/clients", json=ninja_client([contact("4w9aAOdvMR", "compta@favre.ch")]))
    http.get(f"{API}/invoices", json=listing())
    http.post(f"{API}/invoices", json={"data": ninja_document(number=invoice.number)})
    http.get(f"{API}/invoices/Wpmbk5ezJn", json={"data": ninja_document(number=invoice.number)})
    http.post(f"{API}/emails", json={"data": ninja_document(number=invoice.number, status_id="2",
                                                            last_sent_date="2026-11-21")})  # fmt: skip

    action_run = run(invoice_ninja.document_send_start(document=invoice, requested_by=user))

    assert (action_run.status, action_run.last_error) == ("succeeded", "")
    assert action_run.result == {"invoice_ninja_id": "Wpmbk5ezJn", "status_id": "2", "link": LINK}
    invoice.refresh_from_db()
    favre.refresh_from_db()
    assert (invoice.invoice_ninja_id, invoice.invoice_ninja_status, invoice.invoice_ninja_link) == (
        "Wpmbk5ezJn", "2", LINK,
    )  # fmt: skip
    assert invoice.invoice_ninja_sent_at is not None
    assert (favre.invoice_ninja_id, favre.invoice_ninja_contacts) == ("VolejRejNm", {"compta@favre.ch": "4w9aAOdvMR"})
    lookup = calls(http, "GET", f"{API}/clients")[0].request
    assert lookup.params == {"email": "compta@favre.ch", "per_page": "20", "page": "1"}
    assert (lookup.headers["X-API-TOKEN"], lookup.headers["X-Requested-With"]) == ("tok-qa", "XMLHttpRequest")
    assert body(calls(http, "POST", f"{API}/clients")[0]) == {
        "name": "Boulangerie Favre SA", "vat_number": "", "address1": "Rue du Marché 3", "postal_code": "1204",
        "city": "Genève", "country_id": "756", "settings": {"currency_id": "17"},
        "contacts": [{"first_name": "Boulangerie Favre SA", "last_name": "", "email": "compta@favre.ch", "phone": "",
                      "send_email": True, "is_primary": True}],
    }  # fmt: skip
    assert calls(http, "GET", f"{API}/invoices")[0].request.params == {
        "number": invoice.number, "per_page": "500", "page": "1",
    }  # fmt: skip
    assert body(calls(http, "POST", f"{API}/invoices")[0]) == {
        "client_id": "VolejRejNm", "number": invoice.number, "date": "2026-11-10", "due_date": "2026-12-10",
        "po_number": "", "public_notes": "", "uses_inclusive_taxes": False, "discount": 0,
        "is_amount_discount": False,
        "line_items": [{"product_key": "1", "notes": "Prestation", "cost": 1000.0, "quantity": 1.0, "discount": 0.0,
                        "is_amount_discount": False, "tax_name1": "TVA", "tax_rate1": 8.1, "type_id": "2"}],
    }  # fmt: skip
    assert body(calls(http, "POST", f"{API}/emails")[0]) == {
        "entity": "invoice", "entity_id": "Wpmbk5ezJn", "template": "email_template_invoice",
    }  # fmt: skip
    sent = AuditEvent.objects.get(action="invoice_ninja.sent")
    assert (sent.object_id, sent.detail) == (str(invoice.pk), invoice.number)


def test_a_resend_after_a_lost_answer_finds_the_invoice_by_number_and_never_creates_a_second(
    http, connection, favre, user
):
    invoice = pushed(issued(favre, user), ninja_id="")
    http.get(f"{API}/clients/VolejRejNm", json=ninja_client([contact("4w9aAOdvMR", "compta@favre.ch")]))
    http.put(f"{API}/clients/VolejRejNm", json=ninja_client([contact("4w9aAOdvMR", "compta@favre.ch")]))
    # First attempt: Invoice Ninja stores the invoice but its answer never arrives.
    http.get(f"{API}/invoices", json=listing())
    http.post(f"{API}/invoices", status=502, json={"message": "Bad gateway"})
    action_run = run(invoice_ninja.document_send_start(document=invoice, requested_by=user))
    assert (action_run.status, action_run.attempts) == ("queued", 1)
    assert "Bad gateway" in action_run.last_error

    http.replace(responses.GET, f"{API}/invoices", json=listing(ninja_document(number=invoice.number)))
    http.put(f"{API}/invoices/Wpmbk5ezJn", json={"data": ninja_document(number=invoice.number)})
    http.get(f"{API}/invoices/Wpmbk5ezJn", json={"data": ninja_document(number=invoice.number)})
    http.post(f"{API}/emails", json={"data": ninja_document(number=invoice.number, status_id="2",
                                                            last_sent_date="2026-11-21")})  # fmt: skip
    action_run = run(action_run)

    assert (action_run.status, action_run.attempts) == ("succeeded", 2)
    assert len(calls(http, "POST", f"{API}/invoices")) == 1
    assert len(calls(http, "PUT", f"{API}/invoices/Wpmbk5ezJn")) == 1
    assert len(calls(http, "POST", f"{API}/emails")) == 1
    invoice.refresh_from_db()
    assert (invoice.invoice_ninja_id, invoice.invoice_ninja_status) == ("Wpmbk5ezJn", "2")


def test_an_invoice_invoice_ninja_already_emailed_is_not_emailed_again_when_the_run_resumes(
    http, connection, favre, user
):
    invoice = pushed(issued(favre, user))
    http.get(f"{API}/clients/VolejRejNm", json=ninja_client([contact("4w9aAOdvMR", "compta@favre.ch")]))
    http.put(f"{API}/clients/VolejRejNm", json=ninja_client([contact("4w9aAOdvMR", "compta@favre.ch")]))
    already_sent = ninja_document(number=invoice.number, status_id="2", last_sent_date="2026-11-21")
    http.get(f"{API}/invoices/Wpmbk5ezJn", json={"data": already_sent})
    http.put(f"{API}/invoices/Wpmbk5ezJn", json={"data": already_sent})

    action_run = run(invoice_ninja.document_send_start(document=invoice, requested_by=user))

    assert action_run.status == "succeeded"
    assert calls(http, "POST", f"{API}/emails") == []
    invoice.refresh_from_db()
    assert invoice.invoice_ninja_sent_at is not None


def test_a_total_invoice_ninja_computes_differently_stops_the_send(http, connection, favre, user):
    invoice = pushed(issued(favre, user))
    http.get(f"{API}/clients/VolejRejNm", json=ninja_client([contact("4w9aAOdvMR", "compta@favre.ch")]))
    http.put(f"{API}/clients/VolejRejNm", json=ninja_client([contact("4w9aAOdvMR", "compta@favre.ch")]))
    http.get(f"{API}/invoices/Wpmbk5ezJn", json={"data": ninja_document(number=invoice.number)})
    http.put(f"{API}/invoices/Wpmbk5ezJn", json={"data": ninja_document(number=invoice.number, amount="1081.05")})

    action_run = run(invoice_ninja.document_send_start(document=invoice, requested_by=user))

    assert action_run.status == "failed"
    assert action_run.last_error == (
        f"invoice_ninja: Invoice Ninja computes 1081.05 for {invoice.number}, the Hub 1081.00: not sent. "
        "Check the lines' VAT."
    )
    assert calls(http, "POST", f"{API}/emails") == []


def test_an_update_sends_every_contact_with_its_id_so_invoice_ninja_deletes_none(http, connection, favre, user):
    favre.invoice_ninja_id = "VolejRejNm"
    favre.save()
    Contact.objects.create(client=favre, name="Anne Muster", email="anne@favre.ch", phone="+41 22 000 00 00")
    existing = [contact("4w9aAOdvMR", "COMPTA@favre.ch"),
                contact("Kp2nq8aLxe", "direction@favre.ch", first="Paul", last="Favre", primary=False)]  # fmt: skip
    http.get(f"{API}/clients/VolejRejNm", json=ninja_client(existing))
    http.put(f"{API}/clients/VolejRejNm", json=ninja_client([*existing, contact("Zq9", "anne@favre.ch")]))

    api = invoice_ninja.invoice_ninja_client(connection)
    assert invoice_ninja.client_sync(api, favre, currency="EUR") == "VolejRejNm"

    sent = body(calls(http, "PUT", f"{API}/clients/VolejRejNm")[0])
    assert sent["settings"] == {"currency_id": "3"}
    assert sent["contacts"] == [
        {"id": "4w9aAOdvMR", "first_name": "Boulangerie Favre SA", "last_name": "", "email": "compta@favre.ch",
         "phone": "", "send_email": True, "is_primary": True},
        {"id": "Kp2nq8aLxe", "first_name": "Paul", "last_name": "Favre", "email": "direction@favre.ch",
         "is_primary": False},
        {"first_name": "Anne", "last_name": "Muster", "email": "anne@favre.ch", "phone": "+41 22 000 00 00",
         "send_email": True, "is_primary": False},
    ]  # fmt: skip
    favre.refresh_from_db()
    assert favre.invoice_ninja_contacts == {
        "compta@favre.ch": "4w9aAOdvMR", "direction@favre.ch": "Kp2nq8aLxe", "anne@favre.ch": "Zq9",
    }  # fmt: skip


def test_send_is_refused_with_a_reason(connection, favre, company_a, user):
    draft = InvoiceFactory(company=company_a, client=favre)
    assert invoice_ninja.send_refusal(draft) == "Only an issued invoice with an amount due is sent; this one is draft."
    nobody = ClientFactory(company=company_a, name="Sans Courriel SA")
    assert invoice_ninja.send_refusal(issued(nobody, user)) == "Sans Courriel SA has no e-mail address."
    Connection.objects.filter(pk=connection.pk).delete()
    assert invoice_ninja.send_refusal(issued(favre, user)) == f"Invoice Ninja is not set up for {company_a.name}."


def test_sending_a_draft_quote_numbers_it_and_marks_it_sent_first(connection, favre, user):
    quote = QuoteFactory(company=favre.company, client=favre)
    quote = documents.quote_lines_replace(quote=quote, lines=[documents.LineInput(
        description="Écran", quantity=D("1"), unit="", unit_price=D("500.00"), discount_percent=D("0"),
        vat_code="standard")], edited_by=user)  # fmt: skip

    action_run = invoice_ninja.document_send_start(document=quote, requested_by=user)

    quote.refresh_from_db()
    assert (quote.status, quote.number != "") == ("sent", True)
    assert (action_run.action, action_run.idempotency_key) == (
        "invoice_ninja.send",
        f"invoice_ninja.send:quote:{quote.pk}",
    )
    again = invoice_ninja.document_send_start(document=quote, requested_by=user)
    assert again.pk == action_run.pk


# --- Webhooks -----------------------------------------------------------------------------------------


def hook(client, event_id, payload, *, secret=SECRET, code="QA"):
    url = reverse("integrations:webhook-invoice-ninja", kwargs={"company_code": code, "event_id": event_id})
    headers = {"HTTP_X_WEBHOOK_SECRET": secret} if secret is not None else {}
    return client.post(url, data=json.dumps(payload), content_type="application/json",
                       HTTP_ACCEPT="application/json", **headers)  # fmt: skip


def test_a_hook_without_the_company_secret_is_refused_and_kept(client, connection):
    for secret in ("wrong-secret", None):
        response = hook(client, 4, ninja_payment(), secret=secret)
        assert (response.status_code, response.json()) == (401, {"error": "missing or wrong X-Webhook-Secret header"})
    refused = WebhookDelivery.objects.filter(provider="invoice_ninja")
    assert [(d.status, d.verified, d.error) for d in refused] == [
        ("rejected", False, "missing or wrong X-Webhook-Secret header"),
    ] * 2  # fmt: skip
    assert Payment.objects.count() == 0


def test_a_valid_hook_is_stored_once_and_always_answered_2xx(client, connection, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as enqueued:
        first = hook(client, 8, ninja_document(status_id="2"))
        again = hook(client, 8, ninja_document(status_id="2"))
        unknown_event = hook(client, 99, {"id": "Xy"})

    assert (first.status_code, first.json()) == (200, {"status": "accepted"})
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert (unknown_event.status_code, unknown_event.json()) == (200, {"status": "accepted"})
    assert len(enqueued) == 2
    delivery = WebhookDelivery.objects.get(event_type="update_invoice Wpmbk5ezJn")
    assert (delivery.status, delivery.verified, delivery.duplicates) == ("received", True, 1)
    assert "X-Webhook-Secret" not in delivery.headers
    assert delivery.headers["Accept"] == "application/json"
    assert hook(client, 8, {"id": "Xy"}, code="ZZ").status_code == 404


def test_a_hook_that_is_not_an_entity_is_refused(client, connection):
    url = reverse("integrations:webhook-invoice-ninja", kwargs={"company_code": "QA", "event_id": 4})
    response = client.post(url, data="not json", content_type="application/json", HTTP_X_WEBHOOK_SECRET=SECRET)
    assert (response.status_code, response.json()) == (400, {"error": "body is not an Invoice Ninja entity"})


# --- Payments both ways -----------------------------------------------------------------------------


def record_in_hub(invoice, user, amount="1081.00", reference=""):
    return payments.payment_record(
        client=invoice.client, received_on=datetime.date(2026, 11, 20), amount=D(amount), method="bank_transfer",
        reference=reference, allocations=[(invoice, D(amount))], recorded_by=user,
    )  # fmt: skip


def test_a_hub_payment_is_recorded_at_invoice_ninja_and_its_echo_is_not_recorded_again(
    http, connection, favre, user, admin_web
):
    invoice = pushed(issued(favre, user))
    payment = record_in_hub(invoice, user, reference="Virement Favre")
    mirror = action_runs_for(payment).get()
    assert (mirror.action, mirror.status) == ("invoice_ninja.payment", "queued")
    reference = f"HUB-P{payment.pk} Virement Favre"
    http.get(f"{API}/payments", json=listing())
    http.post(f"{API}/payments", json={"data": ninja_payment(reference=reference)})

    assert run(mirror).status == "succeeded"

    assert body(calls(http, "POST", f"{API}/payments")[0]) == {
        "client_id": "VolejRejNm", "amount": 1081.0, "date": "2026-11-20", "type_id": "1",
        "transaction_reference": reference, "invoices": [{"invoice_id": "Wpmbk5ezJn", "amount": 1081.0}],
    }  # fmt: skip
    assert calls(http, "GET", f"{API}/payments")[0].request.params == {
        "client_id": "VolejRejNm", "filter": f"HUB-P{payment.pk}", "include": "invoices", "per_page": "500",
        "page": "1",
    }  # fmt: skip
    payment.refresh_from_db()
    assert payment.invoice_ninja_id == "Opnel5aKBz"
    panel = admin_web.get(invoice.get_absolute_url()).context["invoice_ninja"]
    assert [(shown.pk, run.pk, run.status) for shown, run in panel["payment_runs"]] == [
        (payment.pk, mirror.pk, "succeeded"),
    ]  # fmt: skip
    # Invoice Ninja's events about the payment the Hub made: event 4, then event 8 with the invoice paid.
    invoice_ninja.event_process(connection, WebhookEvent.CREATE_PAYMENT, ninja_payment(reference=reference))
    http.replace(responses.GET, f"{API}/payments", json=listing(ninja_payment(reference=reference)))
    invoice_ninja.event_process(connection, WebhookEvent.UPDATE_INVOICE, ninja_document(status_id="4", balance="0"))
    assert list(Payment.objects.values_list("pk", "amount", "invoice_ninja_id")) == [
        (payment.pk, D("1081.00"), "Opnel5aKBz"),
    ]  # fmt: skip
    invoice.refresh_from_db()
    assert (invoice.status, invoice.invoice_ninja_status) == ("paid", "4")


def test_the_echo_arriving_before_the_push_finished_links_the_payment_instead_of_doubling_it(
    http, connection, favre, user
):
    invoice = pushed(issued(favre, user))
    payment = record_in_hub(invoice, user)
    invoice_ninja.event_process(connection, WebhookEvent.CREATE_PAYMENT, ninja_payment(reference=f"HUB-P{payment.pk}"))
    payment.refresh_from_db()
    assert payment.invoice_ninja_id == "Opnel5aKBz"

    mirror = run(action_runs_for(payment).get())

    assert (mirror.status, mirror.result) == ("succeeded", {"invoice_ninja_id": "Opnel5aKBz"})
    assert len(http.calls) == 0
    assert Payment.objects.count() == 1


def test_a_payment_made_in_invoice_ninja_is_recorded_once_whichever_event_comes_first(http, connection, favre, user):
    invoice = pushed(issued(favre, user))
    http.get(f"{API}/payments", json=listing(ninja_payment(id="Pay9", reference="QR 210000000003139471430009017")))

    # Event 8 (invoice paid) before event 4 (payment created): the payment is taken from the list.
    invoice_ninja.event_process(connection, WebhookEvent.UPDATE_INVOICE, ninja_document(status_id="4", balance="0"))
    invoice_ninja.event_process(
        connection, WebhookEvent.CREATE_PAYMENT, ninja_payment(id="Pay9", reference="QR 210000000003139471430009017")
    )
    invoice_ninja.event_process(connection, WebhookEvent.UPDATE_INVOICE, ninja_document(status_id="4", balance="0"))

    payment = Payment.objects.get()
    recorded = (payment.amount, payment.reference, payment.method, payment.invoice_ninja_id)
    assert recorded == (D("1081.00"), "QR 210000000003139471430009017", "bank_transfer", "Pay9")
    assert payment.created_by.username == "system"
    assert [(a.invoice_id, a.amount) for a in payment.allocations.all()] == [(invoice.pk, D("1081.00"))]
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    assert AuditEvent.objects.filter(action="invoice_ninja.payment_imported").count() == 1
    # The Hub does not send back what came from Invoice Ninja.
    assert not ActionRun.objects.filter(action="invoice_ninja.payment").exists()


def test_a_payment_with_the_bank_reference_the_hub_recorded_is_the_same_payment(http, connection, favre, user):
    invoice = pushed(issued(favre, user))
    payment = record_in_hub(invoice, user, reference="RF18539007547034")

    invoice_ninja.event_process(connection, WebhookEvent.CREATE_PAYMENT, ninja_payment(reference="RF18539007547034"))
    mirror = run(action_runs_for(payment).get())

    payment.refresh_from_db()
    assert (Payment.objects.count(), payment.invoice_ninja_id, mirror.status) == (1, "Opnel5aKBz", "succeeded")
    assert len(http.calls) == 0


def test_a_payment_more_than_the_hub_balance_due_is_raised_not_recorded(connection, favre, user):
    invoice = pushed(issued(favre, user))
    record_in_hub(invoice, user, amount="500.00")
    Payment.objects.update(invoice_ninja_id="AlreadyThere")

    invoice_ninja.event_process(connection, WebhookEvent.CREATE_PAYMENT, ninja_payment(id="Pay2"))

    assert Payment.objects.count() == 1
    drift = SyncDrift.objects.get()
    assert (drift.kind, drift.detail, drift.resolved_at) == (
        "payment_exceeds_due",
        "Invoice Ninja payment 0017 of 1081.00 exceeds the 581.00 due in the Hub: not recorded.", None,
    )  # fmt: skip
    assert AuditEvent.objects.filter(action="invoice_ninja.drift_found", object_id=str(invoice.pk)).count() == 1


def test_a_pending_payment_is_not_recorded(connection, favre, user):
    pushed(issued(favre, user))
    invoice_ninja.event_process(connection, WebhookEvent.CREATE_PAYMENT, ninja_payment(status_id="1"))
    assert Payment.objects.count() == 0


# --- Quotes accepted in the portal ---------------------------------------------------------------


@pytest.mark.parametrize(("channel", "expected"), [("docuseal", "sent"), ("invoice_ninja", "signed")])
def test_a_quote_approved_in_the_portal_is_signed_only_when_invoice_ninja_is_the_signature_channel(
    connection, favre, user, channel, expected
):
    Company.objects.filter(pk=favre.company_id).update(signature_channel=channel)
    connection.company.refresh_from_db()
    quote = QuoteFactory(company=favre.company, client=favre)
    quote = documents.quote_lines_replace(quote=quote, lines=[documents.LineInput(
        description="Écran", quantity=D("1"), unit="", unit_price=D("500.00"), discount_percent=D("0"),
        vat_code="standard")], edited_by=user)  # fmt: skip
    quote = documents.quote_send(quote=quote, sent_by=user)
    Quote.objects.filter(pk=quote.pk).update(invoice_ninja_id="QtE9x", invoice_ninja_status="2")

    approved = ninja_document(id="QtE9x", number=quote.number, status_id="3", entity_type="quote", amount="540.50")
    invoice_ninja.event_process(connection, WebhookEvent.APPROVE_QUOTE, approved)

    quote.refresh_from_db()
    assert (quote.status, quote.invoice_ninja_status) == (expected, "3")
    change = AuditEvent.objects.get(action="invoice_ninja.status_changed", object_id=str(quote.pk))
    assert change.detail == "Sent → Approved"


# --- Reconciliation -----------------------------------------------------------------------------


def test_reconciliation_takes_a_payment_the_webhooks_missed_and_audits_the_repair(http, connection, favre, user):
    invoice = pushed(issued(favre, user))
    paid = ninja_document(number=invoice.number, status_id="4", balance="0", paid_to_date="1081.00",
                          updated_at=1763719200)  # fmt: skip
    http.get(f"{API}/invoices", json=listing(paid))
    http.get(f"{API}/payments", json=listing(ninja_payment(id="Pay9", reference="Twint 7788")))

    assert invoice_ninja.reconcile(connection) == {"invoices_checked": 1, "payments_imported": 0}

    invoice.refresh_from_db()
    assert (invoice.status, invoice.invoice_ninja_status) == ("paid", "4")
    assert Payment.objects.get().invoice_ninja_id == "Pay9"
    repair = AuditEvent.objects.get(action="invoice_ninja.drift_repaired")
    assert repair.detail == "Payment 1081.00 CHF 20.11.2026 taken from Invoice Ninja."
    cursor = SyncCursor.objects.get(connection=connection, name="invoice_ninja.invoices")
    assert cursor.value == "2025-11-21T10:00:00+00:00"

    invoice_ninja.reconcile(connection)
    since = calls(http, "GET", f"{API}/invoices")[-1].request.params["updated_at"]
    assert since == str(1763719200 - 300)
    assert Payment.objects.count() == 1


def test_reconciliation_raises_an_amount_it_cannot_repair_once_and_closes_it_when_it_is_equal_again(
    http, connection, favre, user, admin_web
):
    invoice = pushed(issued(favre, user))
    http.get(f"{API}/invoices", json=listing(ninja_document(number=invoice.number, status_id="2", amount="1000.00")))
    http.get(f"{API}/payments", json=listing())

    invoice_ninja.reconcile(connection)
    invoice_ninja.reconcile(connection)

    drift = SyncDrift.objects.get()
    assert (drift.kind, drift.detail, drift.target_id, drift.target_type) == (
        "amount", f"{invoice.number}: Invoice Ninja's amount is 1000.00, the Hub's 1081.00.", invoice.pk,
        ContentType.objects.get_for_model(Invoice),
    )  # fmt: skip
    dashboard = admin_web.get(reverse("dashboard:home"))
    drifts = [item for item in dashboard.context["urgent"] if item.key.startswith("drift:")]
    assert [(item.key, item.text) for item in drifts] == [(f"drift:{drift.pk}", f"Invoice Ninja · {drift.detail}")]
    assert f'href="{invoice.get_absolute_url()}"' in dashboard.content.decode()

    http.replace(responses.GET, f"{API}/invoices", json=listing(ninja_document(number=invoice.number, status_id="2")))
    invoice_ninja.reconcile(connection)
    drift.refresh_from_db()
    assert drift.resolved_at is not None
    urgent = admin_web.get(reverse("dashboard:home")).context["urgent"]
    assert [item for item in urgent if item.key.startswith("drift:")] == []


def test_reconciliation_sends_a_hub_payment_invoice_ninja_lacks_again(http, connection, favre, user):
    invoice = pushed(issued(favre, user))
    payment = record_in_hub(invoice, user)
    mirror = action_runs_for(payment).get()
    ActionRun.objects.filter(pk=mirror.pk).update(status="failed", finished_at=datetime.datetime.now(datetime.UTC))
    http.get(f"{API}/invoices", json=listing(ninja_document(number=invoice.number, status_id="2")))
    http.get(f"{API}/payments", json=listing())

    invoice_ninja.reconcile(connection)

    mirror.refresh_from_db()
    assert (mirror.status, mirror.attempts) == ("queued", 0)
    repair = AuditEvent.objects.get(action="invoice_ninja.drift_repaired")
    assert repair.detail == "Payment 1081.00 CHF 20.11.2026 sent to Invoice Ninja again."
    # While the push is on its way, a later run sees nothing to repair.
    invoice_ninja.reconcile(connection)
    assert AuditEvent.objects.filter(action="invoice_ninja.drift_repaired").count() == 1


def test_a_client_edited_in_the_hub_is_brought_in_step_and_keeps_its_currency_there(http, connection, favre, user):
    from finance.services import parties

    parties.client_update(client=favre, updated_by=user, street="Rue du Lac")
    assert not action_runs_for(favre).exists()  # not at Invoice Ninja yet: nothing to follow
    type(favre).objects.filter(pk=favre.pk).update(invoice_ninja_id="VolejRejNm")
    http.get(f"{API}/clients/VolejRejNm", json=ninja_client([contact("4w9aAOdvMR", "compta@favre.ch")]))
    http.put(f"{API}/clients/VolejRejNm", json=ninja_client([contact("4w9aAOdvMR", "compta@favre.ch")]))

    parties.client_update(client=favre, updated_by=user, building_number="12")
    follow = run(action_runs_for(favre).get())

    assert (follow.action, follow.status) == ("invoice_ninja.client", "succeeded")
    sent = body(calls(http, "PUT", f"{API}/clients/VolejRejNm")[0])
    assert (sent["address1"], "settings" in sent) == ("Rue du Lac 12", False)
    assert [c["id"] for c in sent["contacts"]] == ["4w9aAOdvMR"]
