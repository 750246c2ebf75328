"""The dashboard's links, reversed once per process: the same as reverse(), under whatever prefix serves the Hub."""

from django.urls import reverse, set_script_prefix

from dashboard import selectors


def test_a_link_is_reverse_and_is_reversed_once():
    expected = reverse("integrations:connection", kwargs={"provider": "revolut", "company_code": "QA"})
    first = selectors._link("integrations:connection", provider="revolut", company_code="QA")
    hits = selectors._reversed.cache_info().hits
    again = selectors._link("integrations:connection", company_code="QA", provider="revolut")
    assert (first, again) == (expected, expected) == ("/integrations/revolut/QA/",) * 2
    assert selectors._reversed.cache_info().hits == hits + 1


def test_a_link_follows_the_script_prefix():
    try:
        set_script_prefix("/hub/")
        under_hub = selectors._link("finance:reconciliation")
    finally:
        set_script_prefix("/")
    assert under_hub == "/hub/bank/reconciliation/"
    assert selectors._link("finance:reconciliation") == reverse("finance:reconciliation") == "/bank/reconciliation/"
