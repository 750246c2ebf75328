import pytest
from django.core.cache import cache

from tests.factories import CompanyFactory, MembershipFactory, UserFactory

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache database (Redis db 9, tests only)."""
    cache.clear()
    yield


@pytest.fixture
def company_a(db):
    return CompanyFactory(code="QA", name="Alpha")


@pytest.fixture
def company_b(db):
    return CompanyFactory(code="QB", name="Beta")


@pytest.fixture
def member_of(db):
    """Make a user with one role in one company."""

    def make(company, role, username=None):
        user = UserFactory(username=username) if username else UserFactory()
        MembershipFactory(user=user, company=company, role=role)
        return user

    return make


@pytest.fixture
def ceo(db, company_a, company_b):
    user = UserFactory(username="ceo-test")
    MembershipFactory(user=user, company=company_a, role="ceo")
    return user
