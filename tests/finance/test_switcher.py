import pytest
from django.urls import reverse

from finance.models import Role

pytestmark = pytest.mark.django_db


def switch(client, code, next_url="/companies/"):
    return client.post(reverse("finance:scope-switch"), {"company": code, "next": next_url})


def test_ceo_sees_the_whole_group_by_default(client, ceo, company_a, company_b):
    client.force_login(ceo)

    response = client.get(reverse("finance:company-list"))

    assert list(response.context["companies"]) == [company_a, company_b]
    assert response.context["company_scope"].selected is None


def test_switching_to_one_company_filters_every_page_until_switched_back(client, ceo, company_a, company_b):
    client.force_login(ceo)

    response = switch(client, company_b.code)

    assert response.status_code == 302
    assert response["Location"] == "/companies/"
    assert client.session["hv_company"] == "QB"
    assert list(client.get(reverse("finance:company-list")).context["companies"]) == [company_b]
    assert list(client.get(reverse("dashboard:home")).context["companies"]) == [company_b]

    switch(client, "group")

    assert "hv_company" not in client.session
    assert list(client.get(reverse("dashboard:home")).context["companies"]) == [company_a, company_b]


def test_detail_of_a_visible_company_outside_the_switcher_still_opens(client, ceo, company_a, company_b):
    client.force_login(ceo)
    switch(client, company_a.code)

    response = client.get(reverse("finance:company-detail", kwargs={"code": company_b.code}))

    assert response.status_code == 200


def test_switcher_ignores_an_offsite_next_url(client, ceo, company_a):
    client.force_login(ceo)

    response = switch(client, company_a.code, next_url="https://evil.example/phish")

    assert response["Location"] == "/"


def test_switcher_lists_only_visible_companies(client, company_a, company_b, member_of):
    client.force_login(member_of(company_a, Role.SALES))

    response = client.get(reverse("dashboard:home"))

    scope = response.context["company_scope"]
    assert scope.visible == [company_a]
    assert 'value="QB"' not in response.text
    assert 'value="QA"' in response.text


def test_stale_switcher_choice_falls_back_to_the_visible_companies(client, company_a, company_b, member_of):
    user = member_of(company_a, Role.FINANCE)
    client.force_login(user)
    session = client.session
    session["hv_company"] = company_b.code
    session.save()

    response = client.get(reverse("finance:company-list"))

    assert list(response.context["companies"]) == [company_a]
