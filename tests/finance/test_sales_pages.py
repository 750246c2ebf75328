"""The sales pages: clients, quotes with the HTMX line editor, invoices, payments, credit notes, CSV."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from finance.models import AuditEvent, Client, Contact, DepositRule, Invoice, Payment, Quote, Role
from finance.services import documents
from finance.services.documents import LineInput
from finance.services.payments import payment_record
from tests.factories import ClientFactory, CompanyFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def seller():
    company = CompanyFactory(code="QS", name="Seller", qr_iban="CH4431999123000889012", payment_terms_days=30)
    DepositRule.objects.create(company=company, project_type="", percent=D("30"), due_days=10)
    return company


@pytest.fixture
def finance_user(seller, member_of):
    return member_of(seller, Role.FINANCE, username="fin")


@pytest.fixture
def web(client, finance_user):
    client.force_login(finance_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def line_post(lines: list[dict]) -> dict:
    data = {"lines-TOTAL_FORMS": str(len(lines)), "lines-INITIAL_FORMS": "0"}
    for index, line in enumerate(lines):
        for name, value in line.items():
            data[f"lines-{index}-{name}"] = value
    return data


THREE_LINES = [
    {"description": "Écran LED 55 pouces", "quantity": "3", "unit": "pce", "unit_price": "333.33",
     "discount_percent": "0", "vat_code": "standard"},
    {"description": "Repas équipe", "quantity": "1.5", "unit": "", "unit_price": "99.90",
     "discount_percent": "10", "vat_code": "reduced"},
    {"description": "Câble", "quantity": "1", "unit": "pce", "unit_price": "0.35",
     "discount_percent": "0", "vat_code": "standard"},
]  # fmt: skip


def quote_post(client_obj, lines=THREE_LINES, **header) -> dict:
    today = timezone.localdate()
    return {
        "client": str(client_obj.pk), "title": "Mur LED", "quote_date": today.isoformat(),
        "valid_until": (today + datetime.timedelta(days=30)).isoformat(), "project_type": "digital_signage",
        "currency": "CHF", "notes": "", **header, **line_post(lines),
    }  # fmt: skip


# --- Clients ------------------------------------------------------------------------------------


def test_client_create_normalises_uid_and_logs(web, seller):
    response = web.post(
        reverse("finance:client-new"),
        {"company": seller.pk, "kind": "organisation", "name": "Migros Aare", "street": "Industriestrasse",
         "building_number": "20", "postal_code": "3321", "town": "Schönbühl", "country": "ch",
         "che_uid": "CHE105829940", "email": "", "language": "de", "payment_terms_days": "20"},
    )  # fmt: skip

    client = Client.objects.get(name="Migros Aare")
    assert response.status_code == 302
    assert response["Location"] == reverse("finance:client-detail", kwargs={"pk": client.pk})
    assert (client.company, client.che_uid, client.country, client.payment_terms_days) == (
        seller,
        "CHE-105.829.940",
        "CH",
        20,
    )
    assert AuditEvent.objects.get(action="client.created").object_id == str(client.pk)


def test_client_form_shows_field_errors_and_saves_nothing(web, seller):
    response = web.post(
        reverse("finance:client-new"),
        {"company": seller.pk, "kind": "organisation", "name": "", "street": "Rue", "postal_code": "170",
         "town": "Fribourg", "country": "CH", "che_uid": "CHE-123.456.780", "language": "fr"},
    )  # fmt: skip

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["name"] == ["This field is required."]
    assert form.errors["postal_code"] == ["A Swiss postal code has four digits, e.g. 1700."]
    assert "is not a valid Swiss company number" in form.errors["che_uid"][0]
    assert Client.objects.count() == 0


def test_client_list_searches_by_contact_and_exports_csv(web, seller):
    acme = ClientFactory(company=seller, name="Acme Sàrl", town="Bulle")
    Contact.objects.create(client=acme, name="Zoé Favre")
    ClientFactory(company=seller, name="Other AG", town="Bern")

    response = web.get(reverse("finance:client-list"), {"q": "zoé"})
    assert [c.name for c in response.context["page"]] == ["Acme Sàrl"]

    export = web.get(reverse("finance:client-list"), {"export": "csv", "sort": "-name"})
    assert export["Content-Type"] == "text/csv; charset=utf-8"
    assert export["Content-Disposition"].startswith('attachment; filename="clients-')
    text = export.content.decode("utf-8")
    assert text.startswith("\ufeffCompany;Name;Kind;")
    rows = text.lstrip("\ufeff").split("\r\n")
    assert rows[1].startswith("QS;Other AG;Organisation;")
    assert rows[2].startswith("QS;Acme Sàrl;Organisation;")


def test_contact_is_added_to_a_client(web, seller):
    acme = ClientFactory(company=seller)
    response = web.post(
        reverse("finance:contact-new", kwargs={"client_pk": acme.pk}),
        {"name": "Zoé Favre", "email": "zoe@acme.ch", "phone": "+41 26 555 12 12", "role": "CFO"},
    )
    assert response.status_code == 302
    assert list(acme.contacts.values_list("name", "role")) == [("Zoé Favre", "CFO")]


def test_viewer_cannot_create_clients(client, seller, member_of):
    client.force_login(member_of(seller, Role.VIEWER))
    assert client.get(reverse("finance:client-new")).status_code == 403


# --- Quotes and the line editor ----------------------------------------------------------------


def test_quote_created_with_three_lines_and_two_vat_rates(web, seller):
    buyer = ClientFactory(company=seller)

    response = web.post(reverse("finance:quote-new"), quote_post(buyer))

    quote = Quote.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("finance:quote-detail", kwargs={"pk": quote.pk})
    # 999.99 + 0.35 at 8.1 %, 134.87 at 2.6 %: VAT 81.03 + 3.51.
    assert (quote.net_total, quote.vat_total, quote.payable_total) == (D("1135.21"), D("84.54"), D("1219.75"))
    assert list(quote.lines.values_list("position", "description", "vat_rate")) == [
        (1, "Écran LED 55 pouces", D("8.10")), (2, "Repas équipe", D("2.60")), (3, "Câble", D("8.10"))
    ]  # fmt: skip
    assert quote.deposit_percent == D("30.00")


def test_quote_with_an_invalid_line_is_not_saved(web, seller):
    lines = [dict(THREE_LINES[0], quantity="0"), dict(THREE_LINES[1], unit_price="abc")]

    response = web.post(reverse("finance:quote-new"), quote_post(ClientFactory(company=seller), lines=lines))

    assert response.status_code == 200
    forms = response.context["formset"].forms
    assert forms[0].errors["quantity"] == ["Ensure this value is greater than or equal to 0.001."]
    assert forms[1].errors["unit_price"] == ["Enter a number."]
    assert Quote.objects.count() == 0


def test_line_editor_totals_fragment(web, seller):
    buyer = ClientFactory(company=seller)

    response = web.post(reverse("finance:quote-lines-preview"), {**quote_post(buyer), "op": "totals"})

    body = response.content.decode()
    assert response.status_code == 200
    assert response.context["totals"].payable == D("1219.75")
    assert [str(net) for net in response.context["line_nets"]] == ["999.99", "134.87", "0.35"]
    assert '<span id="line-net-1" hx-swap-oob="true">134.87</span>' in body


def test_line_editor_adds_removes_and_moves_lines(web, seller):
    data = quote_post(ClientFactory(company=seller))
    url = reverse("finance:quote-lines-preview")

    added = web.post(url, {**data, "op": "add"})
    assert [form.initial.get("description") for form in added.context["formset"].forms] == [
        "Écran LED 55 pouces", "Repas équipe", "Câble", None
    ]  # fmt: skip
    assert 'name="lines-TOTAL_FORMS" value="4"' in added.content.decode()

    removed = web.post(url, {**data, "op": "remove:0"})
    assert [form.initial["description"] for form in removed.context["formset"].forms] == ["Repas équipe", "Câble"]
    totals = removed.context["totals"]
    assert (totals.gross, totals.rounding, totals.payable) == (D("138.76"), D("-0.01"), D("138.75"))

    moved = web.post(url, {**data, "op": "up:2"})
    assert [form.initial["description"] for form in moved.context["formset"].forms] == [
        "Écran LED 55 pouces", "Câble", "Repas équipe"
    ]  # fmt: skip


def test_sent_quote_is_no_longer_editable(web, seller, finance_user):
    quote = documents.quote_create(
        client=ClientFactory(company=seller), title="T", quote_date=timezone.localdate(),
        valid_until=timezone.localdate(), project_type="other", currency="CHF", created_by=finance_user,
    )  # fmt: skip
    documents.quote_lines_replace(
        quote=quote, lines=[LineInput("A", D("1"), D("10"), "standard")], edited_by=finance_user
    )
    web.post(reverse("finance:quote-send", kwargs={"pk": quote.pk}))

    response = web.get(reverse("finance:quote-edit", kwargs={"pk": quote.pk}), follow=True)

    quote.refresh_from_db()
    assert (quote.status, quote.number) == ("sent", f"QS-DEV-{quote.quote_date.year}-0001")
    assert [str(m) for m in response.context["messages"]] == [
        "Quote marked as sent.", "Only a draft quote can be edited."
    ]  # fmt: skip


def test_refused_transition_shows_why_and_changes_nothing(web, seller, finance_user):
    quote = documents.quote_create(
        client=ClientFactory(company=seller), title="T", quote_date=timezone.localdate(),
        valid_until=timezone.localdate(), project_type="other", currency="CHF", created_by=finance_user,
    )  # fmt: skip

    response = web.post(reverse("finance:quote-signed", kwargs={"pk": quote.pk}), follow=True)

    assert [str(m) for m in response.context["messages"]] == ["T is draft: it cannot be signed."]
    assert Quote.objects.get().status == "draft"
    actions = {action.label: action.reason for action in response.context["actions"]}
    assert actions["Mark as signed"] == "Only a sent or viewed quote can be signed."
    assert actions["Mark as sent"] == "Add at least one line with an amount first."
    assert actions["Edit"] == ""


# --- Invoices, payments, credit notes ------------------------------------------------------------


@pytest.fixture
def signed_quote(web, seller, finance_user):
    web.post(reverse("finance:quote-new"), quote_post(ClientFactory(company=seller)))
    quote = Quote.objects.get()
    web.post(reverse("finance:quote-send", kwargs={"pk": quote.pk}))
    web.post(reverse("finance:quote-signed", kwargs={"pk": quote.pk}))
    quote.refresh_from_db()
    assert quote.status == "signed"
    return quote


def test_deposit_payment_and_balance_through_the_pages(web, signed_quote):
    web.post(reverse("finance:quote-invoice-deposit", kwargs={"pk": signed_quote.pk}))
    deposit = Invoice.objects.get(kind="deposit")
    issue_day = timezone.localdate()
    web.post(reverse("finance:invoice-issue", kwargs={"pk": deposit.pk}), {"issue_date": issue_day.isoformat()})
    deposit.refresh_from_db()
    assert (deposit.status, deposit.number, deposit.payable_total) == (
        "issued",
        f"QS-{issue_day.year}-0001",
        D("365.90"),
    )
    assert deposit.due_date == issue_day + datetime.timedelta(days=10)

    form = web.get(reverse("finance:payment-new", kwargs={"client_pk": deposit.client_id}), {"invoice": deposit.pk})
    assert form.context["form"].initial["amount"] == D("365.90")
    response = web.post(
        reverse("finance:payment-new", kwargs={"client_pk": deposit.client_id}) + f"?invoice={deposit.pk}",
        {"received_on": issue_day.isoformat(), "amount": "200.00", "currency": "CHF", "method": "bank_transfer",
         "reference": "Camt",
         f"allocate_{deposit.pk}": "200.00"},
    )  # fmt: skip
    assert response["Location"] == deposit.get_absolute_url()
    deposit.refresh_from_db()
    assert deposit.status == "partially_paid"
    page = web.get(deposit.get_absolute_url())
    assert page.context["balance_due"] == D("165.90")

    web.post(reverse("finance:quote-invoice-balance", kwargs={"pk": signed_quote.pk}))
    balance = Invoice.objects.get(kind="balance")
    # Per rate, the quote's net minus the deposit's: 700.24 at 8.1 % and 94.41 at 2.6 %, VAT 56.72 + 2.45.
    assert (balance.net_total, balance.vat_total, balance.rounding, balance.payable_total) == (
        D("794.65"),
        D("59.17"),
        D("-0.02"),
        D("853.80"),
    )
    signed_quote.refresh_from_db()
    assert signed_quote.status == "converted"


def test_over_allocation_is_refused_with_the_reason(web, signed_quote, finance_user):
    deposit = documents.invoice_create_deposit(quote=signed_quote, created_by=finance_user)
    deposit = documents.invoice_issue(invoice=deposit, issued_by=finance_user, issue_date=timezone.localdate())

    response = web.post(
        reverse("finance:payment-new", kwargs={"client_pk": deposit.client_id}),
        {"received_on": timezone.localdate().isoformat(), "amount": "500.00", "currency": "CHF",
         "method": "bank_transfer", f"allocate_{deposit.pk}": "400.00"},
    )  # fmt: skip

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        f"{deposit.number}: allocate more than 0 and at most its balance due of 365.90."
    ]
    assert Payment.objects.count() == 0


def test_payment_undo_reopens_the_invoice(web, signed_quote, finance_user):
    deposit = documents.invoice_create_deposit(quote=signed_quote, created_by=finance_user)
    deposit = documents.invoice_issue(invoice=deposit, issued_by=finance_user, issue_date=timezone.localdate())
    payment = payment_record(
        client=deposit.client, received_on=timezone.localdate(), amount=D("365.90"), method="bank_transfer",
        reference="", allocations=[(deposit, D("365.90"))], recorded_by=finance_user,
    )  # fmt: skip
    deposit.refresh_from_db()
    assert deposit.status == "paid"

    response = web.post(reverse("finance:payment-undo", kwargs={"pk": payment.pk}), {"invoice": deposit.pk})

    assert response["Location"] == deposit.get_absolute_url()
    deposit.refresh_from_db()
    assert deposit.status == "issued"


def test_partial_credit_note_through_the_page(web, signed_quote, finance_user):
    deposit = documents.invoice_create_deposit(quote=signed_quote, created_by=finance_user)
    deposit = documents.invoice_issue(invoice=deposit, issued_by=finance_user, issue_date=timezone.localdate())
    url = reverse("finance:credit-note-new", kwargs={"pk": deposit.pk})

    refused = web.post(url, {"reason": "Geste commercial", "amount": "400.00"})
    assert refused.context["form"].errors["amount"] == ["The credit must be more than 0 and at most 365.90."]

    web.post(url, {"reason": "Geste commercial", "amount": "100.00"})
    note = Invoice.objects.get(kind="credit_note")
    assert (note.credited_invoice, note.payable_total, note.status) == (deposit, D("100.00"), "draft")


def test_invoice_actions_say_why_they_are_disabled(web, signed_quote, finance_user):
    deposit = documents.invoice_create_deposit(quote=signed_quote, created_by=finance_user)

    response = web.get(deposit.get_absolute_url())

    reasons = {action.label: action.reason for action in response.context["actions"]}
    assert reasons == {
        "Issue": "",
        "Download PDF": "A draft has no number yet: issue it first.",
        "Record payment": "Issue the invoice before recording payments.",
        "Credit note": "Only an issued invoice can be credited; a draft is cancelled instead.",
        "Cancel draft": "",
    }
    assert "A draft has no number yet: issue it first." in response.content.decode()


def test_invoice_list_filters_overdue_and_exports_swiss_csv(web, signed_quote, finance_user):
    deposit = documents.invoice_create_deposit(quote=signed_quote, created_by=finance_user)
    long_ago = timezone.localdate() - datetime.timedelta(days=60)
    deposit = documents.invoice_issue(invoice=deposit, issued_by=finance_user, issue_date=long_ago)

    overdue = web.get(reverse("finance:invoice-list"), {"overdue": "on"})
    assert [i.number for i in overdue.context["page"]] == [deposit.number]
    assert [i.number for i in web.get(reverse("finance:invoice-list"), {"status": "paid"}).context["page"]] == []

    export = web.get(reverse("finance:invoice-list"), {"export": "csv", "overdue": "on"})
    header, row = export.content.decode("utf-8").lstrip("\ufeff").split("\r\n")[:2]
    assert header.split(";")[:3] == ["Number", "Kind", "Issue date"]
    assert row.split(";") == [
        deposit.number, "Deposit invoice", long_ago.strftime("%d.%m.%Y"),
        (long_ago + datetime.timedelta(days=10)).strftime("%d.%m.%Y"), "QS", deposit.client.name, deposit.title,
        "Issued", "yes", "CHF", "340.56", "25.36", "365.90", "0.00", "0.00", "365.90",
    ]  # fmt: skip


def test_lists_are_paginated_and_sorted(web, seller, finance_user):
    buyer = ClientFactory(company=seller)
    for day in range(30):
        documents.quote_create(
            client=buyer, title=f"Q{day:02d}", quote_date=datetime.date(2026, 1, 1) + datetime.timedelta(days=day),
            valid_until=datetime.date(2026, 3, 1), project_type="other", currency="CHF", created_by=finance_user,
        )  # fmt: skip

    first = web.get(reverse("finance:quote-list"), {"sort": "date"})
    second = web.get(reverse("finance:quote-list"), {"sort": "date", "page": "2"})

    assert [q.title for q in first.context["page"]][:2] == ["Q00", "Q01"]
    assert len(first.context["page"]) == 25
    assert [q.title for q in second.context["page"]] == ["Q25", "Q26", "Q27", "Q28", "Q29"]
    assert 'href="?sort=date&page=2"' in first.content.decode()


def test_another_companys_quote_is_404(web, member_of):
    other = CompanyFactory(code="QO")
    quote = documents.quote_create(
        client=ClientFactory(company=other), title="T", quote_date=timezone.localdate(),
        valid_until=timezone.localdate(), project_type="other", currency="CHF", created_by=UserFactory(),
    )  # fmt: skip
    assert web.get(reverse("finance:quote-detail", kwargs={"pk": quote.pk})).status_code == 404
    assert web.post(reverse("finance:quote-signed", kwargs={"pk": quote.pk})).status_code == 404


def test_payment_references_are_grouped_for_reading():
    from finance.templatetags.documents import payment_reference

    assert payment_reference("000001000000000000000001062") == "00 00010 00000 00000 00000 01062"
    assert payment_reference("RF18539007547034") == "RF18 5390 0754 7034"
    assert payment_reference("") == ""


def test_deposit_rule_is_added_from_the_company_page(web, seller):
    response = web.post(
        reverse("finance:deposit-rule-new", kwargs={"code": seller.code}),
        {"project_type": "software", "percent": "50", "min_quote_total": "10000", "due_days": "15"},
    )

    assert response["Location"] == seller.get_absolute_url()
    rule = DepositRule.objects.get(company=seller, project_type="software")
    assert (rule.percent, rule.min_quote_total, rule.due_days) == (D("50.00"), D("10000.00"), 15)
    assert "50 % from 10'000.00, due in 15 days" in web.get(seller.get_absolute_url()).content.decode()

    duplicate = web.post(
        reverse("finance:deposit-rule-new", kwargs={"code": seller.code}),
        {"project_type": "software", "percent": "20", "min_quote_total": "0", "due_days": "10"},
    )
    assert duplicate.status_code == 200
    assert duplicate.context["form"].errors == {
        "__all__": ["Deposit rule with this Company and Project type already exists."]
    }


def test_sales_role_cannot_change_deposit_rules(client, seller, member_of):
    client.force_login(member_of(seller, Role.SALES))
    response = client.post(
        reverse("finance:deposit-rule-new", kwargs={"code": seller.code}),
        {"project_type": "", "percent": "10", "min_quote_total": "0", "due_days": "10"},
    )
    assert response.status_code == 403
    assert DepositRule.objects.filter(company=seller).count() == 1


def test_quote_without_deposit_is_invoiced_in_full(web, seller, finance_user):
    DepositRule.objects.filter(company=seller).update(min_quote_total=D("5000"))
    web.post(reverse("finance:quote-new"), quote_post(ClientFactory(company=seller)))
    quote = Quote.objects.get()
    assert quote.deposit_percent == D("0.00")
    web.post(reverse("finance:quote-send", kwargs={"pk": quote.pk}))
    web.post(reverse("finance:quote-signed", kwargs={"pk": quote.pk}))

    labels = [action.label for action in web.get(quote.get_absolute_url()).context["actions"]]
    assert "Create invoice" in labels
    assert "Balance invoice" not in labels
    web.post(reverse("finance:quote-invoice-full", kwargs={"pk": quote.pk}))

    invoice = Invoice.objects.get()
    assert (invoice.kind, invoice.payable_total, invoice.lines.count()) == ("standard", D("1219.75"), 3)
    quote.refresh_from_db()
    assert quote.status == "converted"


def test_euro_documents_are_not_rounded_to_five_centimes(web, seller):
    assert seller.rounds_to_five_centimes
    buyer = ClientFactory(company=seller, country="FR", postal_code="74100", town="Annemasse")

    preview = web.post(reverse("finance:quote-lines-preview"), {**quote_post(buyer, currency="EUR"), "op": "totals"})
    web.post(reverse("finance:quote-new"), quote_post(buyer, currency="EUR"))

    assert (preview.context["totals"].rounding, preview.context["totals"].payable) == (D("0.00"), D("1219.75"))
    removed_screen = [THREE_LINES[1], THREE_LINES[2]]
    web.post(
        reverse("finance:quote-edit", kwargs={"pk": Quote.objects.get().pk}),
        quote_post(buyer, removed_screen, currency="EUR"),
    )
    quote = Quote.objects.get()
    # 135.22 net + 3.54 VAT: 138.76 stays 138.76 in euros (in francs it would be 138.75).
    assert (quote.currency, quote.gross_total, quote.rounding, quote.payable_total) == (
        "EUR", D("138.76"), D("0.00"), D("138.76")
    )  # fmt: skip


def test_a_euro_payment_cannot_settle_a_franc_invoice(web, signed_quote, finance_user):
    deposit = documents.invoice_create_deposit(quote=signed_quote, created_by=finance_user)
    deposit = documents.invoice_issue(invoice=deposit, issued_by=finance_user, issue_date=timezone.localdate())

    response = web.post(
        reverse("finance:payment-new", kwargs={"client_pk": deposit.client_id}),
        {"received_on": timezone.localdate().isoformat(), "amount": "365.90", "currency": "EUR",
         "method": "bank_transfer", f"allocate_{deposit.pk}": "365.90"},
    )  # fmt: skip

    assert response.context["form"].non_field_errors() == [f"{deposit.number} is in CHF, the payment in EUR."]
    assert Payment.objects.count() == 0


def test_a_tampered_line_editor_post_is_an_error_not_a_crash(web, seller):
    data = quote_post(ClientFactory(company=seller))
    del data["lines-INITIAL_FORMS"]

    response = web.post(reverse("finance:quote-new"), data)

    assert response.status_code == 200
    assert response.context["formset"].non_form_errors()
    assert Quote.objects.count() == 0


def test_sales_can_sign_a_quote_but_not_invoice_it(client, signed_quote, member_of):
    client.force_login(member_of(signed_quote.company, Role.SALES))

    response = client.post(reverse("finance:quote-invoice-deposit", kwargs={"pk": signed_quote.pk}))

    assert response.status_code == 403
    assert Invoice.objects.count() == 0
