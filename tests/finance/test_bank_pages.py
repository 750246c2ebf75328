"""The Banque pages: account balances with the group total in CHF, and the reconciliation of incoming transfers."""

import datetime
import html
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from finance import selectors
from finance.models import BankTransaction, FxRate, InvoiceLine, Role
from finance.services import documents, reconciliation
from tests.factories import (
    BankAccountFactory,
    BankTransactionFactory,
    ClientFactory,
    ConnectionFactory,
    InvoiceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

D = Decimal
AS_OF = datetime.datetime(2026, 11, 20, 8, 0, tzinfo=datetime.UTC)  # 09:00 in Zurich


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def signed_in(client, user):
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def text(response) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


@pytest.fixture
def finance_user(company_a, member_of):
    return member_of(company_a, Role.FINANCE, "cashier")


# --- Bank accounts -------------------------------------------------------------------------------


@pytest.fixture
def accounts(company_a):
    ConnectionFactory(company=company_a)
    for name, currency, balance in (("Main", "CHF", "12345.60"), ("Euro", "EUR", "1000.00"), ("Dollar", "USD", "500")):
        BankAccountFactory(
            company=company_a, name=name, currency=currency, balance=D(balance), balance_updated_at=AS_OF
        )
    BankAccountFactory(company=company_a, name="Closed", currency="CHF", balance=D("999.00"), is_active=False)
    FxRate.objects.create(currency="EUR", rate=D("0.95"), rate_date=datetime.date(2026, 11, 1), source="revolut")
    FxRate.objects.create(currency="EUR", rate=D("0.9312"), rate_date=datetime.date(2026, 11, 19), source="revolut")


def test_the_accounts_page_shows_balances_and_the_group_total_at_the_latest_rate(client, ceo, accounts):
    page = text(signed_in(client, ceo).get(reverse("finance:bank-accounts")))

    assert "Total in CHF CHF 13'276.80" in page  # 12'345.60 + 1'000.00 × 0.9312
    assert "EUR 1'000.00 at the rate EUR→CHF 0.9312 of 19.11.2026 = CHF 931.20" in page
    assert "USD 500.00 not included: no USD→CHF rate is stored yet." in page
    assert "Main CHF CHF 12'345.60 20.11.2026 09:00" in page
    assert "Total EUR EUR 1'000.00" in page
    assert "Closed" not in page
    # The other company of the group has no bank yet: its card says so and links to the connections.
    assert "Beta" in page
    assert "Not connected to Revolut: its balances cannot be shown." in page


def test_the_latest_rate_is_the_newest_day_then_the_newest_fetch_in_chf_of_the_currencies_asked():
    day, earlier = datetime.date(2026, 11, 19), datetime.date(2026, 11, 18)
    create = FxRate.objects.create
    create(currency="EUR", rate=D("0.9400"), rate_date=earlier, source="revolut", fetched_at=AS_OF)
    an_hour_earlier = AS_OF - datetime.timedelta(hours=1)
    create(currency="EUR", rate=D("0.9310"), rate_date=day, source="ecb", fetched_at=an_hour_earlier)
    newest = create(currency="EUR", rate=D("0.9312"), rate_date=day, source="revolut", fetched_at=AS_OF)
    create(currency="EUR", quote_currency="USD", rate=D("1.0800"), rate_date=day, source="revolut")
    usd = create(currency="USD", rate=D("0.8800"), rate_date=earlier, source="revolut")
    create(currency="GBP", rate=D("1.1200"), rate_date=day, source="revolut")

    latest = selectors.fx_rate_latest(currencies=["EUR", "USD"])

    assert {currency: (rate.pk, rate.rate) for currency, rate in latest.items()} == {
        "EUR": (newest.pk, D("0.93120000")),
        "USD": (usd.pk, D("0.88000000")),
    }


def test_without_any_revolut_connection_the_page_says_what_to_connect(client, finance_user):
    response = signed_in(client, finance_user).get(reverse("finance:bank-accounts"))

    page = text(response)
    assert "No bank connected" in page
    assert f'<a href="{reverse("integrations:connection-list")}" class="btn btn-primary">' in response.content.decode()
    assert "Total in CHF" not in page


def test_another_companys_accounts_are_not_shown(client, company_b, member_of, accounts):
    outsider = member_of(company_b, Role.FINANCE)

    page = text(signed_in(client, outsider).get(reverse("finance:bank-accounts")))

    assert "12'345.60" not in page
    assert "No bank connected" in page


# --- Reconciliation ------------------------------------------------------------------------------


def issued(client, user, net="1000.00"):
    invoice = InvoiceFactory(company=client.company, client=client)
    InvoiceLine.objects.create(
        invoice=invoice, position=1, description="Prestation", quantity=1, unit_price=D(net), vat_rate=D("8.10")
    )
    return documents.invoice_issue(invoice=invoice, issued_by=user, issue_date=datetime.date(2026, 11, 10))


@pytest.fixture
def favre(company_a):
    ConnectionFactory(company=company_a)
    return ClientFactory(company=company_a, name="Boulangerie Favre SA")


@pytest.fixture
def invoice(favre):
    return issued(favre, UserFactory())  # 1'081.00


def arrives(company, amount, *, days_ago=1, **fields):
    at = timezone.now() - datetime.timedelta(days=days_ago)
    transaction = BankTransactionFactory(
        company=company, amount=D(amount), created_on_bank=at, completed_at=at, **fields
    )
    return reconciliation.transaction_match_auto(transaction)


@pytest.fixture
def suggested(company_a, invoice):
    """From the client, for its invoice's amount but without a reference: suggested, 65 points."""
    transaction = arrives(company_a, "1081.00", counterparty_name="FAVRE BOULANGERIE", reference="Merci", days_ago=8)
    assert transaction.match_status == "suggested"
    return transaction


def test_the_page_lists_transfers_to_reconcile_with_their_suggestions_and_the_alert(
    client, finance_user, suggested, invoice, company_a
):
    arrives(company_a, "40.00", counterparty_name="Garage du Lac", reference="Loyer", days_ago=2)

    page = text(signed_in(client, finance_user).get(reverse("finance:reconciliation")))

    assert "1 incoming transfer has waited more than 5 days to be reconciled: CHF 1'081.00" in page
    assert "FAVRE BOULANGERIE Merci CHF 1'081.00 Suggestions" in page
    assert f"65 {invoice.number} · Boulangerie Favre SA · CHF 1'081.00" in page
    assert "Amount equals the balance due · Payer is the client · Paid between issue and due date" in page
    assert "Garage du Lac Loyer CHF 40.00 Unmatched" in page
    assert "No invoice resembles this transfer." in page
    assert f'<option value="{invoice.number}">Boulangerie Favre SA · CHF 1&#x27;081.00</option>' in (
        signed_in(client, finance_user).get(reverse("finance:reconciliation")).content.decode()
    )
    assert "No transfer matched or ignored yet." in page


def test_matching_a_suggestion_with_htmx_answers_the_updated_row(client, finance_user, suggested, invoice):
    response = signed_in(client, finance_user).post(
        reverse("finance:transaction-match", kwargs={"pk": suggested.pk}),
        {"invoice_number": invoice.number},
        HTTP_HX_REQUEST="true",
    )

    row = response.content.decode()
    assert row.strip().startswith(f'<tr id="tx-{suggested.pk}"')
    assert f"Matched with {invoice.number}." in text(response)
    assert f"Matched by Test {finance_user.last_name} on" in text(response)
    assert "<html" not in row
    invoice.refresh_from_db()
    assert invoice.status == "paid"


def test_without_javascript_a_match_redirects_to_the_page_with_a_message(client, finance_user, suggested, invoice):
    web = signed_in(client, finance_user)

    response = web.post(
        reverse("finance:transaction-match", kwargs={"pk": suggested.pk}), {"invoice_number": invoice.number.lower()}
    )

    assert (response.status_code, response["Location"]) == (302, reverse("finance:reconciliation"))
    page = text(web.get(response["Location"]))
    assert f"Matched with {invoice.number}." in page
    assert "Recently reconciled" in page
    assert f"{invoice.number} CHF 1'081.00" in page
    assert "Nothing to reconcile: every incoming transfer is matched or set aside." in page


def test_an_unknown_invoice_number_is_refused_in_the_row(client, finance_user, suggested):
    response = signed_in(client, finance_user).post(
        reverse("finance:transaction-match", kwargs={"pk": suggested.pk}), {"invoice_number": "QA-1999-0001"},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip

    assert "Alpha has no invoice numbered “QA-1999-0001”." in text(response)
    assert BankTransaction.objects.get(pk=suggested.pk).match_status == "suggested"


def test_over_payment_shows_the_client_credit_and_undo_brings_it_back(client, finance_user, company_a, invoice):
    transaction = arrives(company_a, "1200.00", reference=invoice.qr_reference)
    assert transaction.match_status == "matched"
    web = signed_in(client, finance_user)

    page = text(web.get(reverse("finance:reconciliation")))
    undone = web.post(reverse("finance:transaction-match-undo", kwargs={"pk": transaction.pk}), HTTP_HX_REQUEST="true")

    assert (
        f"{invoice.number} CHF 1'081.00 CHF 119.00 kept as credit of Boulangerie Favre SA Matched automatically on"
        in page
    )
    assert "Undone: the transfer is back among those to reconcile." in text(undone)
    assert f"100 {invoice.number}" in text(undone)
    invoice.refresh_from_db()
    assert invoice.status == "issued"


def test_ignoring_needs_a_reason(client, finance_user, suggested):
    web = signed_in(client, finance_user)
    url = reverse("finance:transaction-ignore", kwargs={"pk": suggested.pk})

    refused = web.post(url, {"reason": ""}, HTTP_HX_REQUEST="true")
    ignored = web.post(url, {"reason": "Remboursement"}, HTTP_HX_REQUEST="true")

    assert "Say why this transfer pays no invoice." in text(refused)
    assert "Ignored: it pays no invoice." in text(ignored)
    assert BankTransaction.objects.get(pk=suggested.pk).match_status == "ignored"


def test_a_viewer_sees_disabled_buttons_with_the_reason_and_cannot_post(
    client, company_a, member_of, suggested, invoice
):
    viewer = member_of(company_a, Role.VIEWER)
    web = signed_in(client, viewer)

    page = web.get(reverse("finance:reconciliation")).content.decode()
    response = web.post(
        reverse("finance:transaction-match", kwargs={"pk": suggested.pk}), {"invoice_number": invoice.number}
    )

    assert 'disabled title="Only the CEO and finance can match or ignore bank transfers."' in page
    assert response.status_code == 403
    assert BankTransaction.objects.get(pk=suggested.pk).match_status == "suggested"


def test_another_companys_transfer_is_not_found_nor_listed(client, company_b, member_of, suggested, invoice):
    outsider = member_of(company_b, Role.FINANCE)
    web = signed_in(client, outsider)

    page = text(web.get(reverse("finance:reconciliation")))
    for name in ("transaction-match", "transaction-match-undo", "transaction-ignore"):
        response = web.post(
            reverse(f"finance:{name}", kwargs={"pk": suggested.pk}), {"invoice_number": invoice.number, "reason": "x"}
        )
        assert response.status_code == 404

    assert "FAVRE BOULANGERIE" not in page
    assert "No bank connected" in page
    assert BankTransaction.objects.get(pk=suggested.pk).match_status == "suggested"


def test_the_filters_narrow_by_status_and_search(client, finance_user, company_a, suggested):
    arrives(company_a, "40.00", counterparty_name="Garage du Lac", reference="Loyer")
    web = signed_in(client, finance_user)

    unmatched = text(web.get(reverse("finance:reconciliation"), {"status": "unmatched"}))
    by_amount = text(web.get(reverse("finance:reconciliation"), {"q": "1'081.00"}))

    assert ("Garage du Lac" in unmatched, "FAVRE BOULANGERIE" in unmatched) == (True, False)
    assert ("Garage du Lac" in by_amount, "FAVRE BOULANGERIE" in by_amount) == (False, True)


def test_the_page_costs_the_same_queries_however_many_transfers(client, finance_user, company_a, favre):
    web = signed_in(client, finance_user)

    def queries_with(count):
        while BankTransaction.objects.count() < count:
            invoice = issued(favre, finance_user)
            arrives(company_a, "1081.00", counterparty_name="Boulangerie Favre", days_ago=8)  # suggested
            arrives(company_a, "1200.00", reference=invoice.qr_reference)  # matched, with credit
        with CaptureQueriesContext(connection) as queries:
            web.get(reverse("finance:reconciliation"))
        return len(queries)

    web.get(reverse("finance:reconciliation"))  # the first request renews the session, a write the next skip
    assert queries_with(2) == queries_with(10)
