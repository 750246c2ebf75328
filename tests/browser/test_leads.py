"""Leads in the browser: a lead typed in after a call, its page, and the quote made from it."""

import pytest
from django.conf import settings

from finance.models import Company, Lead, Quote
from tests.browser.conftest import screenshot, sign_in

pytestmark = pytest.mark.browser


def test_a_lead_from_a_call_becomes_a_draft_quote(page, demo_group):
    sign_in(page, "ceo", settings.HV_DEMO_PASSWORD)
    page.wait_for_url(f"{page.base_url}/")
    page.goto(f"{page.base_url}/leads/new/")
    page.select_option("#id_company", str(Company.objects.get(code="HV").pk))
    page.select_option("#id_source", "phone")
    page.fill("#id_first_name", "Léa")
    page.fill("#id_last_name", "Rochat")
    page.fill("#id_organisation", "Boulangerie Rochat Sàrl")
    page.fill("#id_email", "lea@rochat.example")
    page.fill("#id_phone", "021 311 22 33")
    page.select_option("#id_project_type", "digital_signage")
    page.fill("#id_budget", "8500")
    page.fill("#id_message", "Deux écrans pour la vitrine.")
    page.click(".page-body form button[type=submit]")

    page.wait_for_url("**/leads/*/")
    lead = Lead.objects.get(email="lea@rochat.example")
    assert page.url == f"{page.base_url}/leads/{lead.pk}/"
    assert page.locator("[data-testid=rule-score] .h2").inner_text() == "55"
    assert page.locator("a[href='tel:+41213112233']").inner_text() == "+41 21 311 22 33"
    screenshot(page, "lead-detail")

    page.click("[data-testid=lead-quote]")
    page.fill("#id_street", "Rue du Bourg")
    page.fill("#id_building_number", "8")
    page.fill("#id_postal_code", "1003")
    page.fill("#id_town", "Lausanne")
    page.click(".page-body form button[type=submit]")

    page.wait_for_url("**/quotes/*/edit/")
    quote = Quote.objects.get(leads=lead)
    assert page.url == f"{page.base_url}/quotes/{quote.pk}/edit/"
    lead.refresh_from_db()
    assert (lead.status, quote.client.name, quote.status) == ("quote", "Boulangerie Rochat Sàrl", "draft")
    page.goto(f"{page.base_url}/leads/?q=Rochat")
    assert page.locator("tbody tr").count() == 1
    screenshot(page, "lead-list")
    assert page.broken == []
