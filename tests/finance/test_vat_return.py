"""The VAT return of Q1 2024 with figures computed by hand to the centime: mixed rates, a supply of December 2023,
exempt supplies at home and abroad, a credit note, a deposit re-taxed across the rate change, supplier invoices
with recoverable, non-recoverable and investment VAT — for both methods and both bases."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from finance import vat_return
from finance.models import Company, DepositRule, FxRate, InvoiceLine, SupplierInvoice, SupplierInvoiceLine
from finance.services import documents, payments
from finance.services.documents import LineInput
from tests.factories import ClientFactory, CompanyFactory, InvoiceFactory, QuoteFactory, SupplierFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal
day = datetime.date
Q1 = (day(2024, 1, 1), day(2024, 3, 31))


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def company():
    company = CompanyFactory(code="QV", rounds_to_five_centimes=False)
    DepositRule.objects.create(company=company, project_type="", percent=D("30"), due_days=10,
                               min_quote_total=D("9000"))  # fmt: skip
    return company


@pytest.fixture
def home(company):
    return ClientFactory(company=company, name="Hôtel du Lac SA", country="CH")


@pytest.fixture
def abroad(company):
    return ClientFactory(company=company, name="Messe München GmbH", country="DE", postal_code="80331", town="München")


def issued(client, user, lines, *, on, supply_from=None, quote=None):
    """An invoice with these (description, net, VAT code) lines, issued on that day."""
    invoice = InvoiceFactory(company=client.company, client=client, quote=quote)
    for position, (net, code) in enumerate(lines, start=1):
        InvoiceLine.objects.create(invoice=invoice, position=position, description=f"Line {position}", quantity=1,
                                   unit_price=D(net), vat_code=code, vat_rate=D("0"))  # fmt: skip
    return documents.invoice_issue(invoice=invoice, issued_by=user, issue_date=on, supply_from=supply_from)


def purchase(company, user, lines, *, on, status=SupplierInvoice.Status.APPROVED, paid_on=None):
    supplier = SupplierFactory(company=company)
    approved = status not in (SupplierInvoice.Status.DRAFT, SupplierInvoice.Status.TO_APPROVE)
    net, vat = sum(D(line[0]) for line in lines), sum(D(line[2]) for line in lines)
    invoice = SupplierInvoice.objects.create(
        net_total=net, vat_total=vat, gross_total=net + vat,
        approved_by=UserFactory() if approved else None, approved_at=timezone.now() if approved else None,
        company=company, supplier=supplier, supplier_number=f"R-{on:%m%d}-{len(lines)}", invoice_date=on,
        due_date=on + datetime.timedelta(days=30), creditor_iban=supplier.iban, created_by=user, status=status,
        paid_on=paid_on,
    )  # fmt: skip
    for position, (net, rate, tax, recoverable, investment) in enumerate(lines, start=1):
        SupplierInvoiceLine.objects.create(invoice=invoice, position=position, net_amount=D(net), vat_rate=D(rate),
                                           vat_amount=D(tax), input_vat_recoverable=recoverable,
                                           is_investment=investment)  # fmt: skip
    return invoice


def deposit_then_balance(company, home, user):
    """A quote of November 2023 (10'000.00): its deposit issued 1.12.2023 at 7.7 %, its balance in February 2024."""
    quote = documents.quote_create(client=home, title="Mur LED", quote_date=day(2023, 11, 10),
                                   valid_until=day(2024, 1, 10), project_type="digital_signage", currency="CHF",
                                   created_by=user)  # fmt: skip
    quote = documents.quote_lines_replace(
        quote=quote,
        edited_by=user,
        lines=[LineInput("Installation", quantity=D("1"), unit_price=D("10000.00"), vat_code="standard")],
    )
    quote = documents.quote_mark_signed(quote=documents.quote_send(quote=quote, sent_by=user), actor=user)
    deposit = documents.invoice_create_deposit(quote=quote, created_by=user)
    documents.invoice_issue(invoice=deposit, issued_by=user, issue_date=day(2023, 12, 1))
    balance = documents.invoice_create_balance(quote=quote, created_by=user)
    return documents.invoice_issue(invoice=balance, issued_by=user, issue_date=day(2024, 2, 15),
                                   supply_from=day(2024, 2, 10))  # fmt: skip


@pytest.fixture
def quarter(company, home, abroad, user):
    """Q1 2024 of company QV, and documents just outside it."""
    led = issued(home, user, [("10000.00", "standard"), ("1000.00", "reduced")], on=day(2024, 1, 15))
    issued(home, user, [("2000.00", "standard")], on=day(2024, 2, 10), supply_from=day(2023, 12, 20))
    issued(abroad, user, [("500.00", "exempt")], on=day(2024, 3, 1))
    issued(home, user, [("300.00", "exempt")], on=day(2024, 3, 5))
    deposit_then_balance(company, home, user)
    # 10 % of LED's 11'836.00: 1'081.00 at 8.1 % (net 1'000.00) and 102.60 at 2.6 % (net 100.00)
    note = documents.credit_note_create(invoice=led, created_by=user, reason="Geste commercial", amount=D("1183.60"))
    documents.invoice_issue(invoice=note, issued_by=user, issue_date=day(2024, 3, 20))
    issued(home, user, [("999.00", "standard")], on=day(2024, 4, 2))  # Q2
    purchase(company, user, [("1000.00", "8.1", "81.00", True, False), ("200.00", "8.1", "16.20", False, False)],
             on=day(2024, 1, 20))  # fmt: skip
    purchase(company, user, [("5000.00", "8.1", "405.00", True, True)], on=day(2024, 2, 5))
    purchase(company, user, [("700.00", "8.1", "56.70", True, False)], on=day(2024, 3, 10),
             status=SupplierInvoice.Status.TO_APPROVE)  # fmt: skip
    return led


def amounts(result) -> dict[str, tuple]:
    return {figure.code: (figure.amount, figure.tax) for figure in result.ordered()}


def test_effective_method_on_agreed_consideration(company, quarter):
    result = vat_return.vat_return_compute(company=company, start=Q1[0], end=Q1[1])
    assert amounts(result) == {
        "200": (D("20800.00"), None),  # 11'000 + 2'000 + 500 + 300 + 7'000 + 3'000 − 3'000
        "220": (D("500.00"), None), "230": (D("300.00"), None), "235": (D("1100.00"), None),
        "289": (D("1900.00"), None), "299": (D("18900.00"), None),
        "302": (D("-1000.00"), D("-77.00")),  # 2'000 of December 2023, less the deposit re-taxed at 8.1 %
        "303": (D("19000.00"), D("1539.00")),  # 10'000 + 7'000 + 3'000 − 1'000
        "313": (D("900.00"), D("23.40")),  # 1'000 − 100
        "399": (D("1485.40"), None),
        "400": (D("81.00"), None), "405": (D("405.00"), None), "479": (D("486.00"), None),
        "500": (D("999.40"), None),
    }  # fmt: skip
    assert result.payable == D("999.40")
    # The figures re-add: taxable rows make 299, and each figure lists the documents behind it.
    assert sum(result.figures[code].amount for code in ("302", "303", "313")) == result.figures["299"].amount
    assert [source.amount for source in result.figures["220"].sources] == [D("500.00")]
    assert [(source.document.number, source.amount) for source in result.figures["303"].sources] == [
        ("QV-2024-0001", D("10000.00")),
        ("QV-2024-0005", D("10000.00")),
        ("QV-NC-2024-0001", D("-1000.00")),
    ]


def test_received_consideration_counts_payments_and_paid_purchases(company, home, user):
    company.vat_basis = Company.VatBasis.RECEIVED
    company.save()
    led = issued(home, user, [("10000.00", "standard"), ("1000.00", "reduced")], on=day(2023, 12, 15))
    december = issued(home, user, [("2000.00", "standard")], on=day(2024, 2, 10), supply_from=day(2023, 12, 20))
    issued(home, user, [("4000.00", "standard")], on=day(2024, 3, 1))  # not paid: not in the return
    assert (led.vat_total, december.payable_total) == (D("795.00"), D("2154.00"))  # 7.7 % and 2.5 % in 2023
    payments.payment_record(client=home, received_on=day(2024, 2, 1), amount=led.payable_total, method="bank_transfer",
                            reference="", allocations=[(led, led.payable_total)], recorded_by=user)  # fmt: skip
    payments.payment_record(client=home, received_on=day(2024, 3, 15), amount=D("1077.00"), method="bank_transfer",
                            reference="", allocations=[(december, D("1077.00"))], recorded_by=user)  # fmt: skip
    purchase(company, user, [("1000.00", "8.1", "81.00", True, False)], on=day(2023, 12, 20),
             status=SupplierInvoice.Status.PAID, paid_on=day(2024, 1, 10))  # fmt: skip
    purchase(company, user, [("5000.00", "8.1", "405.00", True, True)], on=day(2024, 2, 5))  # not paid yet

    result = vat_return.vat_return_compute(company=company, start=Q1[0], end=Q1[1])
    assert amounts(result) == {
        "200": (D("12000.00"), None), "220": (D("0.00"), None), "230": (D("0.00"), None),
        "235": (D("0.00"), None), "289": (D("0.00"), None), "299": (D("12000.00"), None),
        "302": (D("11000.00"), D("847.00")),  # the invoice of December 2023 (10'000) and half of the other (1'000)
        "312": (D("1000.00"), D("25.00")),
        "399": (D("872.00"), None),
        "400": (D("81.00"), None), "405": (D("0.00"), None), "479": (D("81.00"), None),
        "500": (D("791.00"), None),
    }  # fmt: skip


def test_net_tax_rate_method_taxes_the_consideration_with_its_vat(company, home, user):
    company.vat_method, company.vat_period = Company.VatMethod.NET_RATE, Company.VatPeriod.SEMESTER
    company.net_tax_rate_1, company.net_tax_rate_2 = D("6.2"), D("0.6")
    company.net_tax_rate_2_project_types = ["rental"]
    company.save()
    led = issued(home, user, [("10000.00", "standard"), ("1000.00", "reduced")], on=day(2024, 1, 15))
    rental = issued(home, user, [("2000.00", "standard")], on=day(2024, 5, 2),
                    quote=QuoteFactory(company=company, client=home, project_type="rental"))  # fmt: skip
    note = documents.credit_note_create(invoice=led, created_by=user, reason="Geste commercial", amount=D("1183.60"))
    documents.invoice_issue(invoice=note, issued_by=user, issue_date=day(2024, 3, 20))
    purchase(company, user, [("1000.00", "8.1", "81.00", True, False)], on=day(2024, 1, 20))

    start, end = vat_return.period_containing(company, day(2024, 2, 1))
    assert (start, end) == (day(2024, 1, 1), day(2024, 6, 30))
    result = vat_return.vat_return_compute(company=company, start=start, end=end)
    assert rental.gross_total == D("2162.00")
    assert amounts(result) == {
        "200": (D("13998.00"), None),  # 11'836.00 + 2'162.00, VAT included
        "220": (D("0.00"), None), "230": (D("0.00"), None), "235": (D("1183.60"), None),
        "289": (D("1183.60"), None), "299": (D("12814.40"), None),
        "322": (D("10652.40"), D("660.45")),  # (11'836.00 − 1'183.60) × 6.2 % = 660.4488
        "332": (D("2162.00"), D("12.97")),  # 2'162.00 × 0.6 % = 12.972
        "399": (D("673.42"), None),
        "500": (D("673.42"), None),  # no input tax with net tax rates
    }  # fmt: skip


def test_the_check_list_names_what_is_missing_before_filing(company, quarter, home):
    InvoiceFactory(company=company, client=home, supply_from=day(2024, 3, 28))  # a draft for a March supply
    SupplierInvoice.objects.filter(status=SupplierInvoice.Status.TO_APPROVE).update(invoice_date=day(2024, 3, 10))
    checks = {check.text: len(check.documents) for check in vat_return.vat_return_checks(
        company=company, start=Q1[0], end=Q1[1])}  # fmt: skip
    assert checks == {
        "Invoices still draft for supplies in the period": 1,
        "Supplier invoices of the period not approved yet (their input tax is left out)": 1,
    }


def test_quarters_and_semesters():
    quarterly = Company(vat_period=Company.VatPeriod.QUARTER)
    assert vat_return.periods_of_year(quarterly, 2024) == [
        (day(2024, 1, 1), day(2024, 3, 31)), (day(2024, 4, 1), day(2024, 6, 30)),
        (day(2024, 7, 1), day(2024, 9, 30)), (day(2024, 10, 1), day(2024, 12, 31)),
    ]  # fmt: skip
    assert vat_return.period_label(quarterly, day(2024, 4, 1)) == "Q2 2024"
    semester = Company(vat_period=Company.VatPeriod.SEMESTER)
    assert vat_return.periods_of_year(semester, 2024) == [
        (day(2024, 1, 1), day(2024, 6, 30)),
        (day(2024, 7, 1), day(2024, 12, 31)),
    ]
    assert vat_return.period_label(semester, day(2024, 7, 1)) == "S2 2024"


def test_an_invoice_in_euros_counts_in_francs_at_the_rate_of_its_day(company, home, user):
    FxRate.objects.create(currency="EUR", rate=D("0.95"), rate_date=day(2024, 1, 31), source="revolut")
    euro = InvoiceFactory(company=company, client=home, currency="EUR")
    InvoiceLine.objects.create(invoice=euro, position=1, description="Stand", quantity=1, unit_price=D("1000.00"),
                               vat_code="standard", vat_rate=D("0"))  # fmt: skip
    documents.invoice_issue(invoice=euro, issued_by=user, issue_date=day(2024, 2, 2))
    early = InvoiceFactory(company=company, client=home, currency="EUR")  # before any stored rate
    InvoiceLine.objects.create(invoice=early, position=1, description="Stand", quantity=1, unit_price=D("500.00"),
                               vat_code="standard", vat_rate=D("0"))  # fmt: skip
    early = documents.invoice_issue(invoice=early, issued_by=user, issue_date=day(2024, 1, 10))

    result = vat_return.vat_return_compute(company=company, start=Q1[0], end=Q1[1])
    assert (result.figures["200"].amount, result.figures["303"].amount, result.figures["303"].tax) == (
        D("950.00"),
        D("950.00"),
        D("76.95"),
    )  # EUR 1'000.00 × 0.95
    checks = {check.text: check.documents for check in vat_return.vat_return_checks(
        company=company, start=Q1[0], end=Q1[1])}  # fmt: skip
    assert checks["Invoices in another currency without an exchange rate to CHF (left out)"] == [early]
