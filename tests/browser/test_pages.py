import pytest
from django.conf import settings

from tests.browser.conftest import screenshot, sign_in

pytestmark = pytest.mark.browser


def test_login_page_is_a_finished_french_tabler_page(page, demo_group):
    page.goto(f"{page.base_url}/login/")

    assert page.title() == "Connexion · HYPERVISUAL Hub"
    assert page.locator("h2").inner_text() == "Se connecter au Hub"
    assert page.locator("label[for=id_username]").inner_text() == "Nom d’utilisateur"
    # Tabler's stylesheet is applied (a plain page would have square, borderless cards).
    assert page.eval_on_selector(".card", "card => getComputedStyle(card).borderRadius") != "0px"
    assert page.evaluate("() => window.htmx.version").startswith("2.")
    screenshot(page, "login")
    assert page.broken == []


def test_ceo_signs_in_sees_the_group_and_switches_to_one_company(page, demo_group):
    sign_in(page, "ceo", settings.HV_DEMO_PASSWORD)

    page.wait_for_url(f"{page.base_url}/")
    assert page.locator(".page-title").inner_text() == "Vue du groupe"
    assert page.locator("[data-testid=status-bar] .hv-status-company").count() == 5
    assert "x-csrftoken" in page.get_attribute("body", "hx-headers")
    screenshot(page, "home-group")

    page.click("[data-testid=company-switcher] > a")
    options = page.locator("[data-testid=company-switcher] button[name=company]")
    # Tabler's dropdown items are flex boxes: their parts come back on separate lines.
    assert [" ".join(text.split()) for text in options.all_inner_texts()] == [
        "Groupe (5 sociétés)",
        "DAINAMICS DA",
        "ENKI REALTY ER",
        "HYPERVISUAL HV",
        "LEXAIA LX",
        "TAKEOUT TO",
    ]
    screenshot(page, "company-switcher")
    page.click("[data-testid=company-switcher] button[value=DA]")

    page.wait_for_url(f"{page.base_url}/")
    assert page.locator(".page-title").inner_text() == "DAINAMICS"
    assert page.locator("[data-testid=status-bar] .hv-status-company").count() == 1
    page.click("text=Sociétés")
    assert page.locator("tbody tr").count() == 1
    assert page.broken == []


def test_staff_user_sees_only_their_company_and_a_clear_form_error(page, demo_group):
    sign_in(page, "hv.finance", settings.HV_DEMO_PASSWORD)
    page.wait_for_url(f"{page.base_url}/")
    assert page.locator("[data-testid=status-bar] .hv-status-company").count() == 1
    assert page.locator("[data-testid=company-switcher] button[name=company]").count() == 1

    page.goto(f"{page.base_url}/companies/HV/edit/")
    page.fill("#id_che_uid", "CHE-123.456.789")
    page.get_by_role("button", name="Enregistrer").click()

    assert (
        page.locator(".alert-danger").inner_text() == "Rien n’a été enregistré : corrigez les champs marqués en rouge."
    )
    assert page.locator("#id_che_uid.is-invalid").count() == 1
    assert (
        "n’est pas un numéro d’entreprise suisse (IDE) valable" in page.locator(".invalid-feedback").first.inner_text()
    )
    screenshot(page, "company-form-error")

    page.fill("#id_che_uid", "CHE-123.456.788")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url(f"{page.base_url}/companies/HV/")
    screenshot(page, "company-detail-saved")
    assert page.locator(".hv-toast").inner_text() == "Société HYPERVISUAL enregistrée."
    screenshot(page, "company-detail-saved")

    response = page.goto(f"{page.base_url}/companies/DA/")
    assert response.status == 404
    page.broken.clear()
