"""Links reversed once per process (hypervisual.links): the same address as reverse() and Django's `{% url %}`."""

import pytest
from django.template import Context, Engine, engines
from django.test import RequestFactory, override_settings
from django.urls import NoReverseMatch, resolve, reverse, set_script_prefix
from django.utils import translation
from django.utils.translation import gettext_lazy

from dashboard import selectors
from hypervisual import links


def _hits() -> int:
    return links._reversed.cache_info().hits


def test_a_link_is_reverse_and_is_reversed_once():
    expected = reverse("integrations:connection", kwargs={"provider": "revolut", "company_code": "QA"})
    first = selectors._link("integrations:connection", provider="revolut", company_code="QA")
    hits = _hits()
    again = selectors._link("integrations:connection", company_code="QA", provider="revolut")
    assert (first, again) == (expected, expected) == ("/integrations/revolut/QA/",) * 2
    assert _hits() == hits + 1


def test_a_link_follows_the_script_prefix():
    try:
        set_script_prefix("/hub/")
        under_hub = selectors._link("finance:reconciliation")
    finally:
        set_script_prefix("/")
    assert under_hub == "/hub/bank/reconciliation/"
    assert selectors._link("finance:reconciliation") == reverse("finance:reconciliation") == "/bank/reconciliation/"


@override_settings(ROOT_URLCONF="tests.links_urls")
def test_an_address_that_starts_with_the_language_is_kept_per_language():
    for language in ("fr", "de", "en", "fr"):
        with translation.override(language):
            assert links.cached_reverse("invoices") == f"/{language}/invoices/"


def test_an_address_that_does_not_exist_raises_each_time_and_is_not_kept():
    size = links._reversed.cache_info().currsize
    for _attempt in range(2):
        with pytest.raises(NoReverseMatch):
            links.cached_reverse("finance:no-such-page")
    assert links._reversed.cache_info().currsize == size


def test_an_argument_that_is_not_text_or_a_number_is_reversed_each_time():
    misses, hits = links._reversed.cache_info().misses, _hits()
    provider = gettext_lazy("revolut")  # its text depends on the language: not a key to keep
    assert links.cached_reverse("integrations:connection", kwargs={"provider": provider, "company_code": "QA"}) == (
        "/integrations/revolut/QA/"
    )
    assert (links._reversed.cache_info().misses, _hits()) == (misses, hits)


TEMPLATE = (
    "{% url 'dashboard:home' %}|{% url 'dashboard:partial' 'status' %}|{% url 'dashboard:partial' name %}|"
    "{% url 'integrations:connection' provider='revolut' company_code=code %}|"
    "{% url 'finance:reconciliation' as bank %}[{{ bank }}]|{% url 'finance:no-such-page' as missing %}[{{ missing }}]"
)


@pytest.mark.parametrize("page", ["/", "/bank/reconciliation/"])
def test_the_url_tag_writes_what_django_s_writes(page):
    """The project's templates get the cached tag (settings' builtins); a bare Engine has Django's own."""
    request = RequestFactory().get(page)
    request.resolver_match = resolve(page)
    context = {"name": "ageing", "code": "D&A"}
    ours = engines["django"].from_string(TEMPLATE)
    assert type(ours.template.nodelist[0]) is links.CachedURLNode
    django_s = Engine(libraries={}).from_string(TEMPLATE)
    written = ours.render(context, request)
    hits = _hits()
    assert ours.render(context, request) == written
    assert _hits() == hits + 5  # each address found is kept, the one that does not exist is not
    assert (
        written
        == django_s.render(Context({**context}, autoescape=True))
        == (
            "/|/dashboard/parts/status/|/dashboard/parts/ageing/|/integrations/revolut/D&amp;A/|"
            "[/bank/reconciliation/]|[]"
        )
    )


def test_the_url_tag_raises_for_an_address_that_does_not_exist_as_django_s_does():
    with pytest.raises(NoReverseMatch):
        engines["django"].from_string("{% url 'finance:no-such-page' %}").render({})
