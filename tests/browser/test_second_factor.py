"""The second factor in Chromium, under the Content-Security-Policy: the demo CEO types the code of the
seeded authenticator; a new finance member scans a QR code, confirms, keeps the recovery codes."""

import pytest
from django.conf import settings
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from finance.models import Company, Role
from finance.services.companies import membership_grant, user_create
from tests.browser.conftest import screenshot, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def second_factor_on(settings):
    settings.HV_MFA_REQUIRED = True


def code_of(hex_key: str) -> str:
    return f"{totp(bytes.fromhex(hex_key)):06d}"


def test_the_demo_ceo_signs_in_with_the_seeded_authenticator(page, demo_group, second_factor_on):
    sign_in(page, "ceo", settings.HV_DEMO_PASSWORD)

    page.wait_for_url("**/account/second-factor/verify/?next=%2F")
    assert page.locator("h2").inner_text() == "Deuxième facteur"
    screenshot(page, "second-factor-verify")
    page.fill("#id_code", code_of(settings.HV_DEMO_TOTP_KEY))
    page.click("button[type=submit].btn-primary")

    page.wait_for_url(f"{page.base_url}/")
    assert page.locator(".page-title").inner_text() == "Vue du groupe"
    assert page.broken == []


@pytest.mark.parametrize("width", [1440, 390])
def test_a_new_finance_member_enrols_by_scanning_and_keeps_the_recovery_codes(
    chromium, live_server, demo_group, second_factor_on, width
):
    user = user_create(username=f"new.finance.{width}", password=settings.HV_DEMO_PASSWORD, first_name="Zoé",
                       last_name="Python")  # fmt: skip
    membership_grant(user=user, company=Company.objects.get(code="HV"), role=Role.FINANCE, granted_by=None)
    context = chromium.new_context(locale="fr-CH", viewport={"width": width, "height": 900})
    page = context.new_page()
    page.base_url = live_server.url
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    try:
        sign_in(page, user.username, settings.HV_DEMO_PASSWORD)
        page.wait_for_url("**/account/second-factor/enrol/?next=%2F")
        qr = page.locator("[data-testid=second-factor-qr]")
        # The QR code is an SVG data URI: the policy allows it, and the browser drew it.
        assert qr.evaluate("image => image.complete && image.naturalWidth > 0")
        assert len(page.locator("[data-testid=second-factor-secret]").inner_text()) == 32
        screenshot(page, f"second-factor-enrol-{width}")

        device = TOTPDevice.objects.get(user=user)
        page.fill("#id_code", code_of(device.key))
        page.click("button[type=submit].btn-primary")
        page.wait_for_url("**/account/second-factor/recovery-codes/**")
        assert page.locator("[data-testid=recovery-codes] li").count() == 10
        screenshot(page, f"second-factor-recovery-codes-{width}")
        page.click("a.btn-primary")
        page.wait_for_url(f"{page.base_url}/")
        assert TOTPDevice.objects.get(user=user).confirmed
        assert errors == []
    finally:
        context.close()
