"""Headers every page carries, and the session's life around a login and a password change."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
PERMISSIONS = (
    "accelerometer=(), browsing-topics=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)


def test_pages_forbid_inline_scripts_and_device_apis(client):
    client.force_login(UserFactory())

    for response in (client.get(reverse("login")), client.get("/"), client.get(reverse("finance:company-list"))):
        # django-csp writes the directives in no fixed order: compared as a set.
        assert set(response["Content-Security-Policy"].split("; ")) == set(CSP.split("; "))
        assert response["Permissions-Policy"] == PERMISSIONS
        assert (response["X-Frame-Options"], response["X-Content-Type-Options"]) == ("DENY", "nosniff")
        assert response["Referrer-Policy"] == "same-origin"


def test_no_template_runs_inline_script():
    """The policy would block it: every script is a static file, every handler is in static/js."""
    from django.conf import settings

    offenders = []
    for template in [*settings.BASE_DIR.glob("templates/**/*.html"), *settings.BASE_DIR.glob("sandbox/**/*.html")]:
        text = template.read_text()
        for marker in ("<script>", " onclick=", " onsubmit=", " onchange=", " onload=", "javascript:", "hx-on"):
            if marker in text:
                offenders.append(f"{template.name}: {marker.strip()}")
    assert offenders == []


def test_login_gives_a_new_session_key(client):
    UserFactory(username="mia")
    client.get(reverse("login"))
    client.session.save()
    before = client.session.session_key

    client.post(reverse("login"), {"username": "mia", "password": PASSWORD})

    assert client.session.session_key != before
    assert client.session["_auth_user_id"]


def test_a_password_change_signs_out_every_other_session_and_keeps_this_one():
    user = UserFactory(username="noe")
    laptop, phone = Client(), Client()
    laptop.post(reverse("login"), {"username": "noe", "password": PASSWORD})
    phone.post(reverse("login"), {"username": "noe", "password": PASSWORD})
    assert (laptop.get("/").status_code, phone.get("/").status_code) == (200, 200)

    changed = laptop.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "Un-Autre-Secret-97", "new_password2": "Un-Autre-Secret-97"},
    )

    assert changed.status_code == 302
    assert laptop.get("/").status_code == 200
    signed_out = phone.get("/")
    assert (signed_out.status_code, signed_out["Location"]) == (302, "/login/?next=/")
    user.refresh_from_db()
    assert user.check_password("Un-Autre-Secret-97")
