"""A signed quote invoices itself: the project opened, the deposit (or the one invoice) drafted, issued and sent.

The run is executed as the worker executes it (`execute_action_run`); Invoice Ninja is only asked for through
its own queued send run, so no HTTP is involved here.
"""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from dashboard.selectors import urgent_items
from finance.models import AuditEvent, Company, DepositRule, Invoice, Project, Quote
from finance.scope import CompanyScope
from finance.selectors import send_run
from finance.services import documents
from finance.services.audit import system_user
from finance.services.automatic_deposit import DEPOSIT_ACTION, automatic_deposit_run, on_quote_signed
from integrations.actions import execute_action_run
from integrations.models import ActionRun, Connection
from integrations.selectors import action_runs_for
from tests.factories import ClientFactory, QuoteFactory

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def seller(company_a, member_of):
    return member_of(company_a, "sales", "anna.sales")


def signed_quote(company, seller, *, net="10000.00", project_type="digital_signage"):
    """A quote of `net` at 8.1 %, sent and signed by hand; its deposit rule is the company's (30 % by default)."""
    client = ClientFactory(company=company, name="Clinique des Alpes SA", email="compta@clinique-alpes.ch")
    quote = QuoteFactory(company=company, client=client, created_by=seller, project_type=project_type,
                         quote_date=datetime.date(2026, 11, 2), valid_until=datetime.date(2026, 12, 31))  # fmt: skip
    documents.quote_lines_replace(
        quote=quote, edited_by=seller,
        lines=[documents.LineInput(description="Mur LED 3 × 2 m", quantity=D("1"), unit_price=D(net),
                                   vat_code="standard")],
    )  # fmt: skip
    quote = documents.quote_send(quote=Quote.objects.get(pk=quote.pk), sent_by=seller)
    return documents.quote_mark_signed(quote=quote, actor=seller)


def run_of(quote) -> ActionRun:
    return action_runs_for(quote).get(action=DEPOSIT_ACTION)


def execute(run: ActionRun) -> ActionRun:
    execute_action_run(run.pk)
    run.refresh_from_db()
    return run


def test_signing_a_quote_opens_its_project_and_issues_its_deposit_invoice(company_a, seller):
    quote = signed_quote(company_a, seller)
    run = run_of(quote)
    assert (run.status, run.idempotency_key, run.actor) == ("queued", f"{DEPOSIT_ACTION}:{quote.pk}", seller)

    run = execute(run)

    deposit = Invoice.objects.get(quote=quote)
    assert (run.status, run.last_error) == ("succeeded", "")
    assert run.result == {
        "invoice": deposit.pk, "kind": "deposit", "drafted": True, "issued": True, "number": deposit.number,
        "invoice_ninja": f"Invoice Ninja is not set up for {company_a.name}.",
    }  # fmt: skip
    # 30 % of 10'000.00 net, 8.1 % VAT: 3'000.00 + 243.00 = 3'243.00, due in 10 days.
    assert (deposit.kind, deposit.status, deposit.net_total, deposit.vat_total, deposit.payable_total) == (
        "deposit", "issued", D("3000.00"), D("243.00"), D("3243.00"),
    )  # fmt: skip
    assert deposit.issue_date == timezone.localdate()
    assert deposit.due_date == timezone.localdate() + datetime.timedelta(days=10)
    # No QR-IBAN on this company: an RF creditor reference.
    assert (deposit.created_by, deposit.qr_reference[:2]) == (system_user(), "RF")
    project = Project.objects.get(quote=quote)
    assert (project.status, project.budget, project.created_by) == ("signed", D("10000.00"), system_user())
    assert list(AuditEvent.objects.filter(object_id=str(deposit.pk), object_type="finance.invoice")
                .values_list("action", flat=True).order_by("pk")) == ["invoice.created", "invoice.issued"]  # fmt: skip


def test_the_deposit_is_made_once_however_often_the_signature_is_reported(company_a, seller):
    quote = signed_quote(company_a, seller)
    # "completed" arriving three times, and a second channel reporting the same signature.
    on_quote_signed(Quote, quote=quote, actor=None)
    on_quote_signed(Quote, quote=quote, actor=seller)
    with pytest.raises(documents.DocumentStateError):
        documents.quote_mark_signed(quote=quote, actor=None)
    assert action_runs_for(quote).filter(action=DEPOSIT_ACTION).count() == 1

    run = execute(run_of(quote))
    # The worker died after the work and the run is executed again (resumed): nothing is made twice.
    ActionRun.objects.filter(pk=run.pk).update(status="queued")
    again = execute(run)

    assert again.result["drafted"] is False
    assert Invoice.objects.filter(quote=quote).count() == 1
    assert Project.objects.filter(quote=quote).count() == 1
    assert AuditEvent.objects.filter(action="invoice.issued", object_id=str(run.result["invoice"])).count() == 1


def test_a_quote_without_deposit_gets_its_one_invoice_and_is_converted(company_a, seller):
    DepositRule.objects.create(company=company_a, project_type="", percent=D("0"))
    quote = signed_quote(company_a, seller, net="1200.00", project_type="consulting")
    assert quote.deposit_percent == D("0.00")

    run = execute(run_of(quote))

    invoice = Invoice.objects.get(quote=quote)
    assert (run.status, run.result["kind"]) == ("succeeded", "standard")
    assert (invoice.kind, invoice.status, invoice.payable_total) == ("standard", "issued", D("1297.20"))
    assert Quote.objects.get(pk=quote.pk).status == "converted"
    # No deposit to wait for: the project started at signature.
    assert Project.objects.get(quote=quote).status == "deposit_received"


def test_with_automatic_issue_off_the_deposit_waits_as_a_draft_and_is_urgent(company_a, seller, ceo):
    Company.objects.filter(pk=company_a.pk).update(deposit_auto_issue=False)
    quote = signed_quote(company_a, seller)

    run = execute(run_of(quote))

    deposit = Invoice.objects.get(quote=quote)
    assert (deposit.status, deposit.number, deposit.payable_total) == ("draft", "", D("3243.00"))
    assert run.result == {"invoice": deposit.pk, "kind": "deposit", "drafted": True, "issued": False}
    assert AuditEvent.objects.filter(action="invoice.awaiting_issue", object_id=str(deposit.pk)).count() == 1
    now = timezone.now()
    items = urgent_items(scope=CompanyScope(user=ceo), user=ceo, today=timezone.localdate(), now=now)
    waiting = [item for item in items if item.key == f"to_issue:{company_a.code}"]
    assert [(item.severity_name, item.text) for item in waiting] == [
        ("high", "1 invoice of a signed quote waits to be issued · CHF 3'243.00")
    ]
    assert waiting[0].link == reverse("finance:invoice-list") + f"?company={company_a.code}&status=draft"


def test_an_invoice_a_person_drafted_first_is_left_to_them(company_a, seller):
    quote = signed_quote(company_a, seller)
    by_hand = documents.invoice_create_deposit(quote=quote, created_by=seller)

    run = execute(run_of(quote))

    assert run.result == {"invoice": by_hand.pk, "kind": "deposit", "drafted": False,
                          "left_to": "the person who drafted it"}  # fmt: skip
    assert Invoice.objects.get(pk=by_hand.pk).status == "draft"


def test_a_connected_company_sends_the_issued_deposit_via_invoice_ninja(company_a, seller):
    connection = Connection(company=company_a, provider="invoice_ninja", base_url="https://invoicing.example.ch")
    connection.set_secrets(api_token="token-QA", webhook_secret="secret-QA")
    connection.save()
    quote = signed_quote(company_a, seller)

    run = execute(run_of(quote))

    deposit = Invoice.objects.get(quote=quote)
    send = send_run(deposit)
    assert run.result["invoice_ninja_run"] == send.pk
    assert (send.action, send.status, send.actor) == ("invoice_ninja.send", "queued", system_user())


def test_the_quote_page_shows_the_automatic_run(client, company_a, seller):
    quote = signed_quote(company_a, seller)
    execute(run_of(quote))
    client.force_login(seller)

    page = client.get(reverse("finance:quote-detail", kwargs={"pk": quote.pk}), headers={"Accept-Language": "en"})

    assert page.status_code == 200
    assert 'data-testid="automatic-deposit"' in page.text
    assert "Invoiced automatically on signature" in page.text
    assert automatic_deposit_run(quote).status == "succeeded"


def test_a_rejection_keeps_its_reason_on_the_quote_and_the_timeline(company_a, seller):
    client = ClientFactory(company=company_a)
    quote = QuoteFactory(company=company_a, client=client, created_by=seller)
    documents.quote_lines_replace(
        quote=quote,
        edited_by=seller,
        lines=[documents.LineInput(description="Audit", quantity=D("2"), unit_price=D("150.00"), vat_code="standard")],
    )
    quote = documents.quote_send(quote=Quote.objects.get(pk=quote.pk), sent_by=seller)

    quote = documents.quote_reject(quote=quote, actor=None, reason="Budget gelé jusqu'en mars")

    assert (quote.status, quote.rejection_reason) == ("rejected", "Budget gelé jusqu'en mars")
    event = AuditEvent.objects.get(action="quote.rejected", object_id=str(quote.pk))
    assert event.changes["reason"] == "Budget gelé jusqu'en mars"
    assert not action_runs_for(quote).exists()
