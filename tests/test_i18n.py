from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.urls import reverse

from tests.factories import UserFactory

CATALOGS = sorted(Path(settings.BASE_DIR, "locale").glob("*/LC_MESSAGES/django.po"))


def test_french_and_german_catalogs_exist():
    assert [path.parent.parent.name for path in CATALOGS] == ["de", "fr"]


@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: path.parent.parent.name)
def test_every_message_is_translated_and_none_is_fuzzy(path):
    with path.open("rb") as po_file:
        catalog = read_po(po_file)

    untranslated = [m.id for m in catalog if m.id and not all(m.string if isinstance(m.string, tuple) else [m.string])]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert (untranslated, fuzzy) == ([], [])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "heading", "menu"),
    [("de", "Beim Hub anmelden", "Gesellschaften"), ("en", "Sign in to the Hub", "Companies")],
)
def test_a_user_can_switch_the_interface_language(client, language, heading, menu):
    assert "Se connecter au Hub" in client.get(reverse("login")).text

    response = client.post(reverse("set_language"), {"language": language, "next": "/login/"})

    assert response.status_code == 302
    assert heading in client.get(reverse("login")).text
    client.force_login(UserFactory())
    assert menu in client.get(reverse("dashboard:home")).text
