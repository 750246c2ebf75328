import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from finance import identifiers
from finance.models import AuditEvent, Company, Membership
from finance.scope import CompanyScope

pytestmark = pytest.mark.django_db


def test_seed_creates_the_five_companies_with_valid_identities(settings):
    call_command("seed_demo")

    companies = list(Company.objects.order_by("code"))
    assert [c.code for c in companies] == ["DA", "ER", "HV", "LX", "TO"]
    for company in companies:
        company.full_clean()
        assert identifiers.normalize_che_uid(company.che_uid) == company.che_uid
        assert company.vat_number.startswith(company.che_uid)
        assert identifiers.normalize_account_iban(company.iban) == company.iban
        if company.qr_iban:
            assert identifiers.normalize_qr_iban(company.qr_iban) == company.qr_iban
    assert AuditEvent.objects.filter(action="company.created").count() == 5


def test_seed_creates_the_ceo_and_one_staff_user_per_company(settings):
    call_command("seed_demo")

    users = get_user_model().objects.order_by("username")
    assert [u.username for u in users] == ["ceo", "da.finance", "er.operations", "hv.finance", "lx.sales", "to.viewer"]
    for user in users:
        assert user.check_password(settings.HV_DEMO_PASSWORD)
    ceo = users.get(username="ceo")
    assert [c.code for c in CompanyScope(user=ceo).visible] == ["DA", "ER", "HV", "LX", "TO"]
    staff = users.get(username="lx.sales")
    assert [(m.company.code, m.role) for m in Membership.objects.filter(user=staff)] == [("LX", "sales")]
    assert [c.code for c in CompanyScope(user=staff).visible] == ["LX"]


def test_seed_uses_the_configured_demo_password(settings):
    settings.HV_DEMO_PASSWORD = "another-demo-secret"

    call_command("seed_demo")

    assert get_user_model().objects.get(username="ceo").check_password("another-demo-secret")


def test_if_empty_leaves_an_existing_database_alone(capsys):
    call_command("seed_demo")
    call_command("seed_demo", "--if-empty")

    assert Company.objects.count() == 5
    assert get_user_model().objects.count() == 6
    output = capsys.readouterr().out
    assert "Database already holds companies: demo seed skipped." in output
    assert "ceo             CEO          all companies" in output


def test_seed_refuses_a_database_with_companies_without_if_empty():
    call_command("seed_demo")

    with pytest.raises(SystemExit):
        call_command("seed_demo")
    assert Company.objects.count() == 5
