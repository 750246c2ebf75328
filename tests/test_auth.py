import logging

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse

from finance.middleware import SESSION_RENEWAL_SECONDS, SESSION_RENEWED_AT_KEY
from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def login(client, username, password, address="203.0.113.7"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def test_pages_require_a_login(client):
    response = client.get(reverse("finance:company-list"))

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/companies/"


def test_login_page_is_french_by_default(client):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert response["Content-Language"] == "fr"
    assert "Se connecter au Hub" in response.text


def test_good_password_logs_in_and_lands_on_the_dashboard(client):
    UserFactory(username="lea")

    response = login(client, "lea", PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_wrong_password_shows_the_error_on_the_form(client):
    UserFactory(username="lea")

    response = login(client, "lea", "wrong")

    assert response.status_code == 200
    assert "Saisissez un nom d’utilisateur et un mot de passe valides" in response.text


def test_repeated_failures_from_one_address_are_paused_and_logged(client, caplog):
    UserFactory(username="lea")
    caplog.set_level(logging.WARNING, logger="axes")

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, "lea", "wrong").status_code == 200
    locked = login(client, "lea", "wrong")

    assert locked.status_code == 429
    assert "Trop d’échecs de connexion" in locked.text
    assert "15 minutes" in locked.text
    assert AccessAttempt.objects.get(ip_address="203.0.113.7").failures_since_start == settings.AXES_FAILURE_LIMIT
    # Even the right password is refused while the address is paused.
    assert login(client, "lea", PASSWORD).status_code == 429
    assert any("AXES: Locking out" in record.getMessage() for record in caplog.records)
    # Another address is not affected.
    assert login(client, "lea", PASSWORD, address="198.51.100.4").status_code == 302


def test_logout_ends_the_session(client):
    client.force_login(UserFactory())

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_password_change_requires_the_old_password(client):
    user = UserFactory(username="noah")
    client.force_login(user)

    refused = client.post(
        reverse("password_change"),
        {"old_password": "nope", "new_password1": "Un-Nouveau-Secret-42", "new_password2": "Un-Nouveau-Secret-42"},
    )
    assert refused.status_code == 200
    assert refused.context["form"].errors["old_password"] == [
        "Votre ancien mot de passe est incorrect. Veuillez le rectifier."
    ]
    assert 'class="form-control is-invalid" aria-invalid="true"' in refused.text

    done = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "Un-Nouveau-Secret-42", "new_password2": "Un-Nouveau-Secret-42"},
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Un-Nouveau-Secret-42")


def test_session_expires_after_inactivity(client):
    client.force_login(UserFactory())
    session = client.session
    session.set_expiry(-1)
    session.save()

    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_session_cookie_is_renewed_on_each_request_with_the_idle_timeout(client):
    client.force_login(UserFactory())

    response = client.get("/")

    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert settings.SESSION_COOKIE_AGE == 120 * 60
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_session_is_renewed_at_most_once_a_minute(client):
    client.force_login(UserFactory())
    key = client.session.session_key

    first = client.get("/")
    renewed_until = Session.objects.get(pk=key).expire_date
    second = client.get("/")

    assert settings.SESSION_COOKIE_NAME in first.cookies
    assert settings.SESSION_COOKIE_NAME not in second.cookies
    assert Session.objects.get(pk=key).expire_date == renewed_until
    assert "Cookie" in second["Vary"]
    # A minute after the last renewal, the user's next request renews the session again.
    session = client.session
    session[SESSION_RENEWED_AT_KEY] -= SESSION_RENEWAL_SECONDS
    session.save()
    Session.objects.filter(pk=key).update(expire_date=renewed_until)

    third = client.get("/")

    assert settings.SESSION_COOKIE_NAME in third.cookies
    assert Session.objects.get(pk=key).expire_date > renewed_until


def test_signing_in_counts_as_the_session_s_renewal(client):
    UserFactory(username="lea")

    signed_in = login(client, "lea", PASSWORD)
    next_page = client.get("/")

    assert settings.SESSION_COOKIE_NAME in signed_in.cookies
    assert next_page.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in next_page.cookies  # renewed by the sign-in a moment ago
