"""The CEO and finance sign in with a second factor: an authenticator (TOTP) enrolled on first sign-in,
recovery codes for a lost phone, codes throttled like passwords."""

import base64
import re
import time

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from finance.models import AuditEvent, Role
from finance.services.second_factor import demo_totp_device_set
from tests.conftest import PASSWORD
from tests.factories import CompanyFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

KEY = "3132333435363738393031323334353637383930"


@pytest.fixture(autouse=True)
def _second_factor_on(settings):
    settings.HV_MFA_REQUIRED = True
    settings.LANGUAGE_CODE = "en"


def member(username: str, role: str):
    user = UserFactory(username=username)
    MembershipFactory(user=user, company=CompanyFactory(), role=role)
    return user


def sign_in(client, username: str):
    return client.post(reverse("login"), {"username": username, "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="en")


def code_of(hex_key: str, *, drift: int = 0) -> str:
    return f"{totp(bytes.fromhex(hex_key), drift=drift):06d}"


def test_a_ceo_without_authenticator_enrols_one_before_any_page(client):
    member("ceo-a", Role.CEO)
    sign_in(client, "ceo-a")

    page = client.get("/invoices/")
    assert (page.status_code, page["Location"]) == (302, "/account/second-factor/enrol/?next=%2Finvoices%2F")
    assert client.get("/invoices/", HTTP_HX_REQUEST="true").headers["HX-Redirect"] == (
        "/account/second-factor/enrol/?next=%2Finvoices%2F"
    )
    enrol = client.get(page["Location"])
    secret = re.search(r'data-testid="second-factor-secret">([A-Z2-7]+)<', enrol.text).group(1)
    assert 'src="data:image/svg+xml;base64,' in enrol.text
    device = TOTPDevice.objects.get(user__username="ceo-a")
    assert (device.confirmed, base64.b32encode(device.bin_key).decode()) == (False, secret)

    wrong = client.post(enrol.request["PATH_INFO"], {"code": "000000", "next": "/invoices/"})
    assert "This code does not match" in wrong.text
    time.sleep(1.1)  # a wrong code holds the next try back for a second (then 2, 4, 8 s…)
    confirmed = client.post(enrol.request["PATH_INFO"], {"code": code_of(device.key), "next": "/invoices/"})

    assert confirmed["Location"] == "/account/second-factor/recovery-codes/?next=%2Finvoices%2F"
    codes_page = client.get(confirmed["Location"])
    codes = re.findall(r'<li class="col-6 mb-1">([a-z0-9]+)</li>', codes_page.text)
    assert len(codes) == 10
    assert sorted(StaticToken.objects.filter(device__user__username="ceo-a").values_list("token", flat=True)) == sorted(
        codes
    )
    assert client.get(confirmed["Location"])["Location"] == "/invoices/"  # shown once
    assert client.get("/invoices/").status_code == 200
    assert AuditEvent.objects.filter(action="user.second_factor_enrolled", actor__username="ceo-a").count() == 1


def test_after_sign_in_the_code_is_asked_and_a_recovery_code_works_once(client):
    user = member("fin-b", Role.FINANCE)
    demo_totp_device_set(user, hex_key=KEY)
    StaticToken.objects.create(
        device=user.staticdevice_set.create(name="Recovery codes", confirmed=True), token="rescue12"
    )

    sign_in(client, "fin-b")
    assert client.get("/")["Location"] == "/account/second-factor/verify/?next=%2F"
    assert client.post("/account/second-factor/verify/", {"code": "rescue12", "next": "/"})["Location"] == "/"
    assert client.get("/").status_code == 200

    client.post(reverse("logout"))
    sign_in(client, "fin-b")
    again = client.post("/account/second-factor/verify/", {"code": "rescue12", "next": "/"})
    assert "This code does not match." in again.text
    assert client.get("/").status_code == 302
    with_app = client.post("/account/second-factor/verify/", {"code": code_of(KEY), "next": "/invoices/"})
    assert with_app["Location"] == "/invoices/"


def test_wrong_codes_are_throttled_even_before_the_right_one(client):
    user = member("ceo-c", Role.CEO)
    demo_totp_device_set(user, hex_key=KEY)
    sign_in(client, "ceo-c")

    for _ in range(3):
        client.post("/account/second-factor/verify/", {"code": "123456"})
    refused = client.post("/account/second-factor/verify/", {"code": code_of(KEY)})

    assert "Too many wrong codes: wait" in refused.text
    assert client.get("/").status_code == 302
    # The codes typed while throttled were not even tried: only the first wrong one counts.
    assert TOTPDevice.objects.get(user=user).throttling_failure_count == 1


def test_a_verify_page_never_sends_elsewhere_than_the_hub(client):
    user = member("ceo-d", Role.CEO)
    demo_totp_device_set(user, hex_key=KEY)
    sign_in(client, "ceo-d")

    answer = client.post("/account/second-factor/verify/", {"code": code_of(KEY), "next": "https://evil.example/"})

    assert answer["Location"] == "/"


def test_sales_and_operations_sign_in_with_their_password_only(client):
    member("sales-e", Role.SALES)
    member("ops-f", Role.OPERATIONS)
    for username in ("sales-e", "ops-f"):
        client.post(reverse("logout"))
        sign_in(client, username)
        assert client.get("/").status_code == 200


def test_an_enrolled_person_cannot_enrol_a_new_phone_without_the_current_code(client):
    user = member("ceo-g", Role.CEO)
    demo_totp_device_set(user, hex_key=KEY)
    sign_in(client, "ceo-g")

    assert client.get("/account/second-factor/enrol/")["Location"] == "/account/second-factor/verify/?next=%2F"
    assert TOTPDevice.objects.filter(user=user).count() == 1


def test_the_demo_seed_sets_up_and_prints_the_second_factor(capsys):
    call_command("seed_demo")

    printed = capsys.readouterr().out
    key = base64.b32encode(bytes.fromhex(KEY)).decode()
    assert f"Second factor of the CEO and finance logins: add the key {key} to an authenticator app" in printed
    seeded = TOTPDevice.objects.filter(confirmed=True, key=KEY)
    assert set(seeded.values_list("user__username", flat=True)) == {"ceo", "hv.finance", "da.finance", "group.finance"}
    call_command("demo_totp_code")
    assert capsys.readouterr().out.strip() == code_of(KEY)


def test_the_check_costs_a_page_no_query_of_its_own(client, settings):
    """Whether a person needs the step comes from the roles the page reads anyway (the company scope)."""
    member("sales-h", Role.SALES)
    sign_in(client, "sales-h")
    settings.HV_MFA_REQUIRED = False
    client.get("/clients/")

    with CaptureQueriesContext(connection) as without_check:
        assert client.get("/clients/").status_code == 200
    settings.HV_MFA_REQUIRED = True
    with CaptureQueriesContext(connection) as with_check:
        assert client.get("/clients/").status_code == 200

    assert len(with_check.captured_queries) == len(without_check.captured_queries)
