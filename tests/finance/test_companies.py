import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, ProgrammingError, connection, transaction

from finance.models import AuditEvent, Company
from finance.services.companies import company_create, company_update
from tests.factories import CompanyFactory, UserFactory

pytestmark = pytest.mark.django_db

VALID_IDENTITY = {
    "code": "QX",
    "name": "Quux",
    "legal_name": "Quux SA",
    "che_uid": "che 123 456 788",
    "vat_number": "CHE123456788 TVA",
    "street": "Rue de Romont",
    "building_number": "24",
    "postal_code": "1700",
    "town": "Fribourg",
    "iban": "ch93 0076 2011 6238 5295 7",
    "qr_iban": "CH44 3199 9123 0008 8901 2",
}


def test_company_create_normalizes_identifiers_and_logs_the_creation():
    company = company_create(created_by=None, **VALID_IDENTITY)

    assert company.che_uid == "CHE-123.456.788"
    assert company.vat_number == "CHE-123.456.788 TVA"
    assert company.iban == "CH9300762011623852957"
    assert company.qr_iban == "CH4431999123000889012"
    assert company.currency == "CHF"
    assert company.payment_terms_days == 30
    event = AuditEvent.objects.get(company=company)
    assert event.action == "company.created"
    assert event.changes["iban"] == "CH9300762011623852957"


def test_vat_number_must_belong_to_the_company_uid():
    with pytest.raises(ValidationError) as error:
        company_create(created_by=None, **{**VALID_IDENTITY, "vat_number": "CHE-234.567.895 TVA"})
    assert error.value.error_dict["vat_number"][0].code == "vat_number_uid_mismatch"
    assert not Company.objects.filter(code="QX").exists()


def test_company_update_logs_old_and_new_values_of_changed_fields_only():
    company = CompanyFactory(code="QU")
    editor = UserFactory()

    company_update(company=company, updated_by=editor, iban="CH28 0900 0000 0176 5432 1", town=company.town)

    company.refresh_from_db()
    assert company.iban == "CH2809000000017654321"
    event = AuditEvent.objects.get(company=company, action="company.updated")
    assert event.actor == editor
    assert event.changes == {"iban": {"from": "CH9300762011623852957", "to": "CH2809000000017654321"}}


def test_company_update_refuses_the_code():
    company = CompanyFactory(code="QV")
    with pytest.raises(ValueError, match="code is not an editable company field"):
        company_update(company=company, updated_by=UserFactory(), code="ZZ")


@pytest.mark.parametrize(
    ("column", "value", "constraint"),
    [
        ("code", "hv", "company_code_two_capitals"),
        ("che_uid", "CHE123456788", "company_uid_format"),
        ("iban", "CH93 0076 2011 6238 5295 7", "company_iban_compact"),
        ("qr_iban", "CH9300762011623852957", "company_qr_iban_range"),
        ("currency", "USD", "company_currency_known"),
        ("colour", "blue", "company_colour_hex"),
    ],
)
def test_database_refuses_malformed_identity_from_any_writer(column, value, constraint):
    company = CompanyFactory(code="QW")
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE finance_company SET {column} = %s WHERE id = %s", [value, company.pk])  # noqa: S608


def test_a_directus_style_insert_gets_database_defaults():
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO finance_company (code, name, legal_name, che_uid, vat_number, street, building_number,"
            " postal_code, town, iban, qr_iban, logo)"
            " VALUES ('QD', 'Direct', 'Direct SA', 'CHE-123.456.788', '', 'Rue', '1', '1700', 'Fribourg',"
            " 'CH9300762011623852957', '', '') RETURNING id"
        )
        company_id = cursor.fetchone()[0]
    company = Company.objects.get(pk=company_id)
    assert (company.country, company.currency, company.vat_method) == ("CH", "CHF", "effective")
    assert (company.rounds_to_five_centimes, company.payment_terms_days, company.colour) == (True, 30, "#206bc4")
    assert company.created_at is not None


def test_audit_log_refuses_updates_and_deletes_in_the_database():
    company = company_create(created_by=None, **VALID_IDENTITY)
    event = AuditEvent.objects.get(company=company)

    with pytest.raises(ProgrammingError, match="append-only: UPDATE refused"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
    with pytest.raises(ProgrammingError, match="append-only: DELETE refused"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "company.created"
