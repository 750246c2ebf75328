import io
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from finance import identifiers, vat
from finance.models import (
    AuditEvent,
    Client,
    Company,
    DocumentSequence,
    Invoice,
    Membership,
    Payment,
    Quote,
    VatCode,
)
from finance.scope import CompanyScope
from finance.services.documents import document_lines_totals, invoice_balance_due, invoice_is_overdue
from finance.services.numbering import NUMBER_FORMATS
from finance.services.payments import client_credit

pytestmark = pytest.mark.django_db

CODES = ["DA", "ER", "HV", "LX", "TO"]
ZERO = Decimal("0.00")
CONFIGURED_PASSWORD = "another-demo-secret"


@pytest.fixture(scope="class")
def demo_group(django_db_setup, django_db_blocker):
    """Seeding takes seconds, so the tests of a class share one seed, rolled back after the last of them.

    It is seeded with a password other than the default, to show that the seed takes the configured one.
    """
    output = io.StringIO()
    with django_db_blocker.unblock(), transaction.atomic():
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

    def test_seed_creates_the_ceo_and_one_staff_user_per_company(self):
        users = get_user_model().objects.order_by("username")
        assert [u.username for u in users] == [
            "ceo", "da.finance", "er.operations", "hv.finance", "lx.sales", "to.viewer",
        ]  # fmt: skip
        for user in users:
            assert user.check_password(CONFIGURED_PASSWORD)
        ceo = users.get(username="ceo")
        assert [c.code for c in CompanyScope(user=ceo).visible] == CODES
        staff = users.get(username="lx.sales")
        assert [(m.company.code, m.role) for m in Membership.objects.filter(user=staff)] == [("LX", "sales")]
        assert [c.code for c in CompanyScope(user=staff).visible] == ["LX"]

    def test_seed_uses_the_configured_demo_password(self, settings):
        ceo = get_user_model().objects.get(username="ceo")

        assert ceo.check_password(CONFIGURED_PASSWORD)
        assert not ceo.check_password(settings.HV_DEMO_PASSWORD)

    def test_seed_reports_what_it_created(self, demo_group):
        assert "Demo group seeded: 5 companies.\n  50 clients, 90 quotes, 105 invoices, 75 payments.\n" in demo_group

    def test_if_empty_leaves_an_existing_database_alone(self, capsys):
        models = [Company, get_user_model(), Client, Quote, Invoice, Payment, AuditEvent]
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
            "draft": 1, "sent": 1, "viewed": 1, "signed": 2, "converted": 9, "rejected": 2, "expired": 2,
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
            ("deposit", "paid"): 8,
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

        assert quotes.count() == 5 * 9
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
        # 9 deposits, 7 balances and 2 invoices in full; 2 credit notes; every quote but the draft.
        assert [len(documents) for documents in families.values()] == [18, 2, 17]

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
