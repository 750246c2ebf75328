import io
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone, translation
from stdnum import iso11649
from stdnum.ch import esr

from finance import identifiers, selectors, vat
from finance.models import (
    AuditEvent,
    Client,
    Company,
    DocumentSequence,
    Invoice,
    Lead,
    Membership,
    Milestone,
    Payment,
    Project,
    ProviderAssignment,
    Quote,
    Supplier,
    SupplierInvoice,
    VatCode,
)
from finance.scope import CompanyScope
from finance.services.automatic_deposit import DEPOSIT_ACTION
from finance.services.documents import document_lines_totals, invoice_balance_due, invoice_is_overdue
from finance.services.mautic import ACKNOWLEDGEMENT_ACTION
from finance.services.numbering import NUMBER_FORMATS
from finance.services.payments import client_credit
from finance.services.projects import project_gate_reason
from finance.services.purchases import approval_fingerprint, supplier_invoice_deviation
from integrations.models import ActionRun

pytestmark = pytest.mark.django_db

CODES = ["DA", "ER", "HV", "LX", "TO"]
ZERO = Decimal("0.00")
CONFIGURED_PASSWORD = "another-demo-secret"
# Supplier invoices still owed: submitted, neither paid nor rejected.
OWED_STATUSES = ("to_approve", "approved", "scheduled", "disputed")


def ageing_bucket(due_date: date, today: date) -> str:
    days_overdue = (today - due_date).days
    if days_overdue <= 0:
        return "not due"
    for limit in (30, 60, 90):
        if days_overdue <= limit:
            return f"{limit - 29}-{limit}"
    return "over 90"


@pytest.fixture(scope="class")
def demo_group(django_db_setup, django_db_blocker):
    """Seeding takes seconds, so the tests of a class share one seed, rolled back after the last of them.

    It is seeded with a password other than the default, to show that the seed takes the configured one.
    """
    output = io.StringIO()
    # In the language a shell runs it in: a page requested by an earlier test leaves its own active on this thread.
    with django_db_blocker.unblock(), transaction.atomic(), translation.override(settings.LANGUAGE_CODE):
        with override_settings(HV_DEMO_PASSWORD=CONFIGURED_PASSWORD):
            call_command("seed_demo", stdout=output)
        yield output.getvalue()
        transaction.set_rollback(True)


@pytest.mark.usefixtures("demo_group")
class TestDemoGroup:
    def test_seed_creates_the_five_companies_with_valid_identities(self):
        companies = list(Company.objects.order_by("code"))
        assert [c.code for c in companies] == CODES
        for company in companies:
            company.full_clean()
            assert identifiers.normalize_che_uid(company.che_uid) == company.che_uid
            assert company.vat_number.startswith(company.che_uid)
            assert identifiers.normalize_account_iban(company.iban) == company.iban
            if company.qr_iban:
                assert identifiers.normalize_qr_iban(company.qr_iban) == company.qr_iban
        assert AuditEvent.objects.filter(action="company.created").count() == 5

    def test_seed_creates_the_ceo_one_staff_user_per_company_and_a_group_accountant(self):
        users = get_user_model().objects.order_by("username")
        assert [u.username for u in users] == [
            "ceo", "da.finance", "er.operations", "group.finance", "hv.finance", "lx.sales", "to.viewer",
        ]  # fmt: skip
        for user in users:
            assert user.check_password(CONFIGURED_PASSWORD)
        ceo = users.get(username="ceo")
        assert [c.code for c in CompanyScope(user=ceo).visible] == CODES
        staff = users.get(username="lx.sales")
        assert [(m.company.code, m.role) for m in Membership.objects.filter(user=staff)] == [("LX", "sales")]
        assert [c.code for c in CompanyScope(user=staff).visible] == ["LX"]
        accountant = users.get(username="group.finance")
        assert [(m.company.code, m.role) for m in Membership.objects.filter(user=accountant)] == [
            ("ER", "finance"), ("LX", "finance"), ("TO", "finance"),
        ]  # fmt: skip

    def test_the_follow_ups_of_the_seeded_history_are_closed_not_run(self):
        runs = ActionRun.objects.filter(action__in=[DEPOSIT_ACTION, ACKNOWLEDGEMENT_ACTION])
        signed = Quote.objects.filter(signed_at__isnull=False).count()
        assert runs.filter(action=DEPOSIT_ACTION).count() == signed > 0
        assert (
            runs.filter(action=ACKNOWLEDGEMENT_ACTION).count()
            == Project.objects.filter(activated_at__isnull=False, quote__isnull=False).count()
        )
        assert set(runs.values_list("status", "last_error")) == {("cancelled", "Demo history: done before the Hub.")}

    def test_each_company_has_this_week_s_leads_one_of_them_unanswered_for_over_a_day(self):
        now = timezone.now()
        for company in Company.objects.all():
            leads = Lead.objects.filter(company=company).order_by("received_at")
            assert [(lead.status, lead.owner is not None, lead.first_response_at is not None) for lead in leads] == [
                ("new", True, True),
                ("new", False, False),
                ("new", False, False),
            ]
            assert [round((now - lead.received_at).total_seconds() / 3600) for lead in leads] == [75, 30, 2]
            assert all(lead.rule_score > 0 for lead in leads)
        company_ids = list(Company.objects.values_list("pk", flat=True))
        unanswered = selectors.lead_unanswered_by_company(company_ids=company_ids, now=now)
        assert sorted(row["count"] for row in unanswered) == [1, 1, 1, 1, 1]

    def test_seed_uses_the_configured_demo_password(self, settings):
        ceo = get_user_model().objects.get(username="ceo")

        assert ceo.check_password(CONFIGURED_PASSWORD)
        assert not ceo.check_password(settings.HV_DEMO_PASSWORD)

    def test_seed_reports_what_it_created(self, demo_group):
        assert (
            "Demo group seeded: 5 companies.\n"
            "  50 clients, 105 quotes, 120 invoices, 90 payments.\n"
            "  25 suppliers, 95 supplier invoices, 65 projects.\n"
        ) in demo_group
        assert "group.finance   Finances     ER, LX, TO" in demo_group

    def test_if_empty_leaves_an_existing_database_alone(self, capsys):
        models = [
            Company,
            get_user_model(),
            Client,
            Quote,
            Invoice,
            Payment,
            Supplier,
            SupplierInvoice,
            Project,
            AuditEvent,
        ]
        before = [model.objects.count() for model in models]

        call_command("seed_demo", "--if-empty")

        assert [model.objects.count() for model in models] == before
        output = capsys.readouterr().out
        assert "Database already holds companies: demo seed skipped." in output
        assert "ceo             CEO          all companies" in output

    def test_seed_refuses_a_database_with_companies_without_if_empty(self):
        with pytest.raises(SystemExit):
            call_command("seed_demo")
        assert Company.objects.count() == 5

    def test_clients_are_organisations_and_persons_some_german_speaking_one_abroad(self):
        clients = Client.objects.select_related("company")

        assert Counter((c.company.code, c.kind) for c in clients) == {
            ("DA", "organisation"): 9, ("DA", "person"): 1,
            ("ER", "organisation"): 7, ("ER", "person"): 3,
            ("HV", "organisation"): 8, ("HV", "person"): 2,
            ("LX", "organisation"): 8, ("LX", "person"): 2,
            ("TO", "organisation"): 8, ("TO", "person"): 2,
        }  # fmt: skip
        assert Counter(c.company.code for c in clients if c.language == "de" and c.town in ("Zürich", "Bern")) == {
            "DA": 2, "ER": 2, "HV": 2, "LX": 2, "TO": 7,
        }  # fmt: skip
        assert {c.company.code: c.country for c in clients if c.country != "CH"} == {
            "DA": "DE", "ER": "FR", "HV": "FR", "LX": "FR", "TO": "DE",
        }  # fmt: skip
        for client in clients:
            client.full_clean()
            assert 1 <= client.contacts.count() <= 2
            # The reserved domain: reminders sent from the demo reach nobody.
            assert client.email.endswith(".example")
            assert all(contact.email.endswith(".example") for contact in client.contacts.all())

    def test_each_company_has_a_default_deposit_rule_and_one_per_project_type(self):
        rules = {
            code: sorted(
                (rule.project_type, rule.percent, rule.min_quote_total, rule.due_days)
                for rule in Company.objects.get(code=code).deposit_rules.all()
            )
            for code in CODES
        }

        d, default = Decimal, ("", Decimal("30.00"), ZERO, 10)
        assert rules == {
            "DA": [default, ("consulting", ZERO, ZERO, 10), ("software", d("50.00"), d("10000.00"), 15)],
            "ER": [default, ("consulting", ZERO, ZERO, 10), ("real_estate", d("20.00"), d("10000.00"), 10)],
            "HV": [default, ("digital_signage", d("40.00"), d("5000.00"), 10), ("training", ZERO, ZERO, 10)],
            "LX": [default, ("consulting", ZERO, ZERO, 10), ("legal", d("50.00"), ZERO, 10)],
            "TO": [default, ("food_service", d("50.00"), ZERO, 5), ("training", ZERO, ZERO, 10)],
        }

    @pytest.mark.parametrize("code", CODES)
    def test_quotes_reach_every_status_over_the_last_year(self, code):
        today = timezone.localdate()
        quotes = Quote.objects.filter(company__code=code)

        assert Counter(quotes.values_list("status", flat=True)) == {
            "draft": 1, "sent": 1, "viewed": 1, "signed": 5, "converted": 9, "rejected": 2, "expired": 2,
        }  # fmt: skip
        for quote in quotes:
            assert today - timedelta(days=366) < quote.quote_date < today
            assert quote.valid_until == quote.quote_date + timedelta(days=30)
            assert 1 <= quote.lines.count() <= 4
            assert quote.payable_total == document_lines_totals(quote).payable
            if quote.status in (Quote.Status.SENT, Quote.Status.VIEWED):
                assert quote.valid_until >= today
            if quote.status == Quote.Status.EXPIRED:
                assert quote.valid_until < today

    def test_quote_lines_use_every_swiss_vat_rate(self):
        rates = set(Quote.objects.values_list("lines__vat_code", "lines__vat_rate").distinct())

        assert rates == {
            (VatCode.STANDARD, Decimal("8.10")),
            (VatCode.REDUCED, Decimal("2.60")),
            (VatCode.ACCOMMODATION, Decimal("3.80")),
            (VatCode.EXEMPT, ZERO),
        }

    @pytest.mark.parametrize("code", CODES)
    def test_invoices_by_kind_and_status(self, code):
        invoices = Invoice.objects.filter(company__code=code)

        assert Counter(invoices.values_list("kind", "status")) == {
            ("deposit", "paid"): 11,
            ("deposit", "issued"): 1,
            ("deposit", "cancelled"): 1,
            ("balance", "paid"): 3,
            ("balance", "partially_paid"): 1,
            ("balance", "issued"): 2,
            ("balance", "cancelled"): 1,
            ("standard", "paid"): 2,
            ("credit_note", "issued"): 2,
        }

    def test_signed_quotes_have_a_deposit_and_converted_ones_a_balance_for_the_rest(self):
        quotes = Quote.objects.filter(status__in=[Quote.Status.SIGNED, Quote.Status.CONVERTED], deposit_percent__gt=0)

        assert quotes.count() == 5 * 12
        for quote in quotes:
            deposit = quote.invoices.exclude(status=Invoice.Status.CANCELLED).get(kind=Invoice.Kind.DEPOSIT)
            bases = {row.rate: row.base for row in document_lines_totals(quote).vat_rows}
            deposit_shares = {
                rate: vat.quantize_chf(base * quote.deposit_percent / 100) for rate, base in bases.items()
            }
            assert {line.vat_rate: line.unit_price for line in deposit.lines.all()} == {
                rate: share for rate, share in deposit_shares.items() if share > 0
            }
            assert quote.quote_date <= deposit.issue_date
            balances = quote.invoices.filter(kind=Invoice.Kind.BALANCE)
            if quote.status == Quote.Status.SIGNED:
                assert not balances.exists()
                continue
            balance = balances.get()
            assert {line.vat_rate: line.unit_price for line in balance.lines.all()} == {
                rate: base - deposit_shares[rate] for rate, base in bases.items() if base - deposit_shares[rate] > 0
            }
            assert balance.net_total == quote.net_total - deposit.net_total
            assert deposit.issue_date <= balance.issue_date

    def test_quotes_without_deposit_are_invoiced_in_full_as_quoted(self):
        quotes = Quote.objects.filter(status=Quote.Status.CONVERTED, deposit_percent=0)

        assert quotes.count() == 5 * 2
        for quote in quotes:
            invoice = quote.invoices.get()
            assert invoice.kind == Invoice.Kind.STANDARD
            fields = ("description", "quantity", "unit", "unit_price", "discount_percent", "vat_code", "vat_rate")
            assert list(invoice.lines.values_list(*fields)) == list(quote.lines.values_list(*fields))
            assert invoice.payable_total == quote.payable_total

    def test_clients_abroad_are_quoted_invoiced_and_pay_in_euros(self):
        abroad = Client.objects.exclude(country="CH")

        assert abroad.count() == 5
        for model in (Quote, Invoice, Payment):
            assert set(model.objects.filter(client__in=abroad).values_list("currency", flat=True)) == {"EUR"}
            assert set(model.objects.exclude(client__in=abroad).values_list("currency", flat=True)) == {"CHF"}

    @pytest.mark.parametrize("code", CODES)
    def test_numbers_are_gap_free_per_company_and_year_and_follow_the_dates(self, code):
        company = Company.objects.get(code=code)
        issued = Invoice.objects.filter(company=company).exclude(number="")
        families = {
            DocumentSequence.Family.INVOICE: issued.exclude(kind=Invoice.Kind.CREDIT_NOTE),
            DocumentSequence.Family.CREDIT_NOTE: issued.filter(kind=Invoice.Kind.CREDIT_NOTE),
            DocumentSequence.Family.QUOTE: Quote.objects.filter(company=company).exclude(number=""),
        }
        date_field = {DocumentSequence.Family.QUOTE: "quote_date"}
        for family, documents in families.items():
            by_year: dict[int, list] = {}
            for document in documents:
                by_year.setdefault(getattr(document, date_field.get(family, "issue_date")).year, []).append(document)
            for year, in_year in by_year.items():
                in_year.sort(key=lambda document: document.number)
                assert [d.number for d in in_year] == [
                    NUMBER_FORMATS[family].format(code=code, year=year, number=n) for n in range(1, len(in_year) + 1)
                ]
                dates = [getattr(d, date_field.get(family, "issue_date")) for d in in_year]
                assert dates == sorted(dates)
                sequence = DocumentSequence.objects.get(company=company, family=family, year=year)
                assert sequence.last_number == len(in_year)
        # 12 deposits, 7 balances and 2 invoices in full; 2 credit notes; every quote but the draft.
        assert [len(documents) for documents in families.values()] == [21, 2, 20]

    @pytest.mark.parametrize("code", CODES)
    def test_three_invoices_per_company_are_overdue_one_of_them_partially_paid(self, code):
        today = timezone.localdate()
        invoices = Invoice.objects.filter(company__code=code).exclude(number="")

        overdue = [invoice for invoice in invoices if invoice_is_overdue(invoice, today=today)]

        assert Counter((i.kind, i.status) for i in overdue) == {
            ("deposit", "issued"): 1,
            ("balance", "issued"): 1,
            ("balance", "partially_paid"): 1,
        }
        partial = next(i for i in overdue if i.status == Invoice.Status.PARTIALLY_PAID)
        assert ZERO < invoice_balance_due(partial) < partial.payable_total
        open_not_due = [i for i in invoices if invoice_balance_due(i) > 0 and i not in overdue]
        assert [(i.kind, i.due_date >= today) for i in open_not_due] == [("balance", True)]

    @pytest.mark.parametrize("code", CODES)
    def test_one_client_keeps_the_credit_of_an_over_payment(self, code):
        payments = Payment.objects.filter(company__code=code, undone_at__isnull=True)
        over_payments = [p for p in payments if p.amount > sum(a.amount for a in p.allocations.all())]

        assert len(over_payments) == 1
        over_payment = over_payments[0]
        # The client rounded up to the next thousand.
        assert over_payment.amount % 1000 == 0
        credit = over_payment.amount - over_payment.allocations.get().amount
        credits = {
            (client.name, currency): client_credit(client=client, currency=currency)
            for client in Client.objects.filter(company__code=code)
            for currency in ("CHF", "EUR")
        }
        assert {key: amount for key, amount in credits.items() if amount} == {
            (over_payment.client.name, over_payment.currency): credit
        }

    @pytest.mark.parametrize("code", CODES)
    def test_one_payment_was_undone_and_its_invoice_paid_again(self, code):
        undone = Payment.objects.get(company__code=code, undone_at__isnull=False)

        assert undone.undone_by.username == {"DA": "da.finance", "HV": "hv.finance"}.get(code, "ceo")
        invoice = undone.allocations.get().invoice
        assert invoice.status == Invoice.Status.PAID
        assert invoice.allocations.filter(payment__undone_at__isnull=True).get().amount == invoice.payable_total

    @pytest.mark.parametrize("code", CODES)
    def test_credit_notes_point_to_their_original_one_in_full_one_in_part(self, code):
        notes = Invoice.objects.filter(company__code=code, kind=Invoice.Kind.CREDIT_NOTE).order_by("number")

        full, partial = notes
        assert [note.credited_invoice.kind for note in notes] == [Invoice.Kind.BALANCE, Invoice.Kind.BALANCE]
        assert full.payable_total == full.credited_invoice.payable_total
        assert full.credited_invoice.status == Invoice.Status.CANCELLED
        assert invoice_balance_due(full.credited_invoice) == ZERO
        original = partial.credited_invoice
        assert ZERO < partial.payable_total < original.payable_total
        assert original.status == Invoice.Status.PAID
        assert sum(a.amount for a in original.allocations.all()) == original.payable_total - partial.payable_total

    @pytest.mark.parametrize("code", CODES)
    def test_one_deposit_draft_was_cancelled_and_drafted_again(self, code):
        cancelled = Invoice.objects.get(company__code=code, status=Invoice.Status.CANCELLED, number="")

        assert cancelled.kind == Invoice.Kind.DEPOSIT
        assert cancelled.quote.invoices.filter(kind=Invoice.Kind.DEPOSIT, status=Invoice.Status.PAID).count() == 1

    def test_staff_sell_and_keep_the_books_where_their_role_allows_the_ceo_elsewhere(self):
        authors = {
            code: (
                set(Quote.objects.filter(company__code=code).values_list("created_by__username", flat=True)),
                set(Invoice.objects.filter(company__code=code).values_list("created_by__username", flat=True)),
            )
            for code in CODES
        }

        assert authors == {
            "DA": ({"da.finance"}, {"da.finance"}),
            "ER": ({"ceo"}, {"ceo"}),
            "HV": ({"hv.finance"}, {"hv.finance"}),
            "LX": ({"lx.sales"}, {"ceo"}),
            "TO": ({"ceo"}, {"ceo"}),
        }

    # --- Projects -------------------------------------------------------------------------------

    @pytest.mark.parametrize("code", CODES)
    def test_projects_reach_every_status_each_opened_from_its_quote(self, code):
        projects = Project.objects.filter(company__code=code).select_related("quote")

        assert Counter(projects.values_list("status", flat=True)) == {
            "quote_sent": 1, "signed": 1, "deposit_received": 1, "in_preparation": 1, "ordering": 1, "installing": 1,
            "delivered": 2, "closed": 3, "on_hold": 1, "cancelled": 1,
        }  # fmt: skip
        for project in projects:
            project.full_clean()
            quote = project.quote
            assert (project.client_id, project.name, project.currency, project.budget) == (
                quote.client_id, quote.title, quote.currency, quote.net_total,
            )  # fmt: skip
            assert project.manager_id == quote.created_by_id
            # The gate: work started only on a signed quote with its deposit paid.
            assert (project.activated_at is not None) == (project_gate_reason(project) == "")
            if project.status == Project.Status.CLOSED:
                closing = quote.invoices.filter(kind__in=[Invoice.Kind.BALANCE, Invoice.Kind.STANDARD]).get()
                assert closing.status == Invoice.Status.PAID
        on_hold = projects.get(status=Project.Status.ON_HOLD)
        assert (on_hold.status_before_hold, on_hold.quote.status) == (Project.Status.QUOTE_SENT, Quote.Status.VIEWED)
        cancelled = projects.get(status=Project.Status.CANCELLED)
        assert cancelled.quote.invoices.get(kind=Invoice.Kind.BALANCE).status == Invoice.Status.CANCELLED

    @pytest.mark.parametrize(
        ("code", "late"),
        [
            ("DA", {"delivered": 2}),
            ("ER", {"in_preparation": 1, "delivered": 2}),
            ("HV", {"ordering": 1, "installing": 1, "delivered": 2}),
            ("LX", {"delivered": 2}),
            ("TO", {"in_preparation": 1, "delivered": 2}),
        ],
    )
    def test_milestones_follow_each_project_and_some_are_late(self, code, late):
        today = timezone.localdate()
        projects = Project.objects.filter(company__code=code).prefetch_related("milestones")

        late_by_status = Counter()
        for project in projects:
            milestones = list(project.milestones.all())
            if project.activated_at is None:
                assert milestones == []
                continue
            statuses = [milestone.status for milestone in milestones]
            done = [milestone for milestone in milestones if milestone.status == Milestone.Status.DONE]
            assert all(milestone.done_on <= today for milestone in done)
            if project.status == Project.Status.CLOSED:
                assert len(done) == len(milestones) >= 3
            elif project.status == Project.Status.DELIVERED:
                # Delivered, and waiting for the client's acceptance.
                assert statuses == ["done"] * (len(milestones) - 1) + ["planned"]
            elif project.status == Project.Status.CANCELLED:
                assert statuses == ["done"] + ["cancelled"] * (len(milestones) - 1)
            elif project.status == Project.Status.DEPOSIT_RECEIVED:
                assert all(milestone.due_date >= today for milestone in milestones)
            late_by_status[project.status] += sum(
                1
                for milestone in milestones
                if milestone.status == Milestone.Status.PLANNED and milestone.due_date < today
            )
        assert +late_by_status == late
        installing = projects.get(status=Project.Status.INSTALLING)
        extra = installing.milestones.get(billable_amount__isnull=False)
        assert extra.due_date > today
        assert ZERO < extra.billable_amount < installing.budget

    @pytest.mark.parametrize("code", CODES)
    def test_providers_work_on_started_projects_that_cost_less_than_their_budget(self, code):
        assignments = ProviderAssignment.objects.filter(project__company__code=code).select_related("project__quote")

        assert Counter(a.project.status for a in assignments) == {
            "in_preparation": 1, "ordering": 1, "installing": 2, "delivered": 2, "closed": 3, "cancelled": 1,
        }  # fmt: skip
        for assignment in assignments:
            assert assignment.project.activated_at is not None
            assert assignment.role
            assert assignment.quote_reference
            assert ZERO < assignment.agreed_amount < assignment.project.budget
            assert assignment.project.quote.quote_date < assignment.accepted_on <= timezone.localdate()
        for project in {assignment.project for assignment in assignments}:
            invoices = project.supplier_invoices.exclude(status__in=["draft", "rejected"])
            assert set(invoices.values_list("currency", flat=True)) <= {project.currency}
            assert sum(invoice.net_total for invoice in invoices) < project.budget

    # --- Purchases ------------------------------------------------------------------------------

    @pytest.mark.parametrize("code", CODES)
    def test_suppliers_have_valid_identities_and_at_least_one_qr_iban(self, code):
        suppliers = Supplier.objects.filter(company__code=code)

        assert suppliers.count() == 5
        for supplier in suppliers:
            supplier.full_clean()
            assert identifiers.parse_iban(supplier.iban).compact == supplier.iban
            assert supplier.bank_country == supplier.iban[:2] == supplier.country
            assert supplier.categories
            assert supplier.email.endswith(".example")
            if supplier.country == "CH":
                assert identifiers.normalize_che_uid(supplier.che_uid) == supplier.che_uid
        assert len([supplier for supplier in suppliers if supplier.has_qr_iban]) == 1

    def test_one_supplier_abroad_invoices_in_euros(self):
        abroad = Supplier.objects.exclude(country="CH").select_related("company")

        assert [(s.company.code, s.country, s.currency, s.che_uid) for s in abroad] == [("HV", "DE", "EUR", "")]
        assert set(Supplier.objects.filter(country="CH").values_list("currency", flat=True)) == {"CHF"}
        assert set(abroad.get().invoices.values_list("currency", flat=True)) == {"EUR"}

    @pytest.mark.parametrize("code", CODES)
    def test_supplier_invoices_reach_every_status(self, code):
        today = timezone.localdate()
        invoices = SupplierInvoice.objects.filter(company__code=code).select_related("supplier", "project")

        assert Counter(invoices.values_list("status", flat=True)) == {
            "draft": 1, "to_approve": 3, "approved": 3, "scheduled": 2, "paid": 8, "rejected": 1, "disputed": 1,
        }  # fmt: skip
        for invoice in invoices:
            invoice.full_clean()
            lines = list(invoice.lines.all())
            assert invoice.net_total == sum(line.net_amount for line in lines)
            assert invoice.vat_total == sum(line.vat_amount for line in lines)
            assert today - timedelta(days=366) < invoice.invoice_date <= today
            assert invoice.due_date == invoice.invoice_date + timedelta(days=30)
            assert invoice.creditor_iban == invoice.supplier.iban
            expected_currency = invoice.supplier.currency if invoice.project is None else invoice.project.currency
            assert invoice.currency == expected_currency
            reference = invoice.payment_reference
            if invoice.supplier.has_qr_iban:
                assert invoice.reference_type == "QRR"
                assert len(reference) == 27
                assert esr.is_valid(reference)
            elif invoice.reference_type == "SCOR":
                assert iso11649.is_valid(reference)
            else:
                assert (invoice.reference_type, reference) == ("NON", invoice.supplier_number)
            if invoice.status == SupplierInvoice.Status.PAID:
                assert invoice.invoice_date <= invoice.paid_on <= today
        assert invoices.get(status="rejected").rejection_reason
        assert invoices.get(status="disputed").dispute_reason

    def test_supplier_invoice_lines_use_every_swiss_vat_rate(self):
        rates = set(SupplierInvoice.objects.values_list("lines__vat_code", "lines__vat_rate").distinct())

        assert rates == {
            (VatCode.STANDARD, Decimal("8.10")),
            (VatCode.REDUCED, Decimal("2.60")),
            (VatCode.ACCOMMODATION, Decimal("3.80")),
            (VatCode.EXEMPT, ZERO),
        }

    def test_supplier_invoices_are_entered_by_finance_and_approved_by_the_ceo(self):
        entered_by = {
            code: set(SupplierInvoice.objects.filter(company__code=code).values_list("created_by__username", flat=True))
            for code in CODES
        }
        approved = SupplierInvoice.objects.filter(status__in=["approved", "scheduled", "paid"]).select_related(
            "company"
        )

        assert entered_by == {
            "DA": {"da.finance"}, "ER": {"group.finance"}, "HV": {"hv.finance"}, "LX": {"group.finance"},
            "TO": {"group.finance"},
        }  # fmt: skip
        assert approved.count() == 5 * 13
        for invoice in approved:
            assert invoice.approved_by_id != invoice.created_by_id
            assert invoice.approved_by.username == "ceo"
            assert invoice.approval_fingerprint == approval_fingerprint(invoice)
        # Above the threshold only the CEO may approve.
        assert any(invoice.gross_total > invoice.company.ceo_approval_threshold for invoice in approved)

    @pytest.mark.parametrize("code", CODES)
    def test_provider_invoices_over_their_quote_block_warn_or_carry_a_reason(self, code):
        over = SupplierInvoice.objects.filter(company__code=code, deviation_percent__gt=3)

        assert sorted((invoice.status, invoice.deviation_percent) for invoice in over) == [
            ("paid", Decimal("12.00")), ("to_approve", Decimal("4.00")), ("to_approve", Decimal("8.00")),
        ]  # fmt: skip
        for invoice in over:
            assert supplier_invoice_deviation(invoice).percent == invoice.deviation_percent
        assert over.get(status="paid").deviation_override_reason
        blocked = over.get(deviation_percent=Decimal("8.00"))
        assert supplier_invoice_deviation(blocked).blocks

    @pytest.mark.parametrize("code", CODES)
    def test_supplier_invoices_still_owed_fall_in_every_ageing_bucket(self, code):
        today = timezone.localdate()
        owed = SupplierInvoice.objects.filter(company__code=code, status__in=OWED_STATUSES)

        assert Counter(ageing_bucket(invoice.due_date, today) for invoice in owed) == {
            "not due": 4, "1-30": 2, "31-60": 1, "61-90": 1, "over 90": 1,
        }  # fmt: skip
