"""The main forms and lists, posted and queried with anything a browser, a script or an attacker could send:
never a 5xx. Field values come from hypothesis: NUL and control characters, any Unicode, huge numbers,
negative amounts, dates out of range, repeated and unknown fields."""

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finance.models import Role
from tests.factories import ClientFactory, SupplierFactory

pytestmark = pytest.mark.django_db

# A value as a form field could carry it: text of any kind, numbers and dates as text, or nearly nothing.
FIELD_VALUES = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True, places=4).map(str),
    st.dates().map(str),
    st.sampled_from(["", " ", "\x00", "0", "-1", "1e999", "NaN", "9999-99-99", "31.12.2026", "CHF", "on", "[]"]),
)

# The forms people use every day, with the fields each one posts (and their formset management fields).
FORMS = {
    "finance:client-new": ["kind", "name", "email", "phone", "street", "postal_code", "town", "country", "language",
                           "che_uid", "vat_number", "currency", "payment_terms_days"],
    "finance:lead-new": ["company", "first_name", "last_name", "organisation", "email", "phone", "town",
                         "project_type", "budget", "currency", "event_date", "message", "source"],
    "finance:quote-new": ["company", "client", "title", "quote_date", "valid_until", "project_type", "currency",
                          "lines-TOTAL_FORMS", "lines-INITIAL_FORMS", "lines-0-description", "lines-0-quantity",
                          "lines-0-unit_price", "lines-0-vat_code", "lines-0-discount_percent"],
    "finance:supplier-new": ["company", "name", "street", "building_number", "postal_code", "town", "country",
                             "che_uid", "iban", "currency", "email"],
    "finance:supplier-invoice-new": ["supplier", "supplier_number", "invoice_date", "due_date", "currency",
                                     "qr_reference", "lines-TOTAL_FORMS", "lines-INITIAL_FORMS",
                                     "lines-0-net_amount", "lines-0-vat_code", "lines-0-description"],
    # The quote line editor's HTMX endpoint (add, remove, move a line, recompute the totals).
    "finance:quote-lines-preview": ["op", "client", "currency", "lines-TOTAL_FORMS", "lines-INITIAL_FORMS",
                                    "lines-0-description", "lines-0-quantity", "lines-0-unit_price",
                                    "lines-0-vat_code", "lines-0-discount_percent", "lines-1-quantity"],
    "finance:project-new": ["company", "client", "name", "project_type", "budget", "starts_on", "ends_on"],
}  # fmt: skip
LISTS = [
    "finance:client-list", "finance:invoice-list", "finance:quote-list", "finance:lead-list",
    "finance:supplier-invoice-list", "finance:dunning-list", "finance:project-list", "integrations:webhook-list",
]  # fmt: skip


@pytest.fixture
def signed_in(client, company_a, member_of):
    ClientFactory(company=company_a)
    SupplierFactory(company=company_a)
    client.force_login(member_of(company_a, Role.FINANCE))
    return client


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=st.sampled_from(sorted(FORMS)), data=st.data())
def test_fuzzed_forms_answer_with_field_errors_not_server_errors(signed_in, form, data):
    fields = {name: data.draw(FIELD_VALUES, label=name) for name in FORMS[form]}
    fields.update(data.draw(st.dictionaries(st.text(max_size=10), FIELD_VALUES, max_size=3), label="unknown"))

    response = signed_in.post(reverse(form), fields)

    assert response.status_code < 500, (form, fields)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    url_name=st.sampled_from(LISTS),
    query=st.dictionaries(
        st.sampled_from(
            [
                "search",
                "q",
                "company",
                "status",
                "date_from",
                "date_to",
                "page",
                "sort",
                "level",
                "paused",
                "owner",
                "source",
                "export",
            ]
        ),
        FIELD_VALUES,
        max_size=5,
    ),  # fmt: skip
)
def test_fuzzed_list_filters_answer_without_server_errors(signed_in, url_name, query):
    response = signed_in.get(reverse(url_name), query)

    assert response.status_code < 500, (url_name, query)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_0123456789", min_size=1, max_size=30),
       query=st.dictionaries(st.sampled_from(["company", "period", "refresh"]), FIELD_VALUES, max_size=3))  # fmt: skip
def test_fuzzed_dashboard_partials_answer_without_server_errors(signed_in, name, query):
    response = signed_in.get(reverse("dashboard:partial", kwargs={"name": name}), query, HTTP_HX_REQUEST="true")

    assert response.status_code < 500, (name, query)
