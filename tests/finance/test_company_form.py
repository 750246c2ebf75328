import pytest
from django.urls import reverse

from finance.models import AuditEvent, Company, Role

pytestmark = pytest.mark.django_db


def form_data(company, **changes):
    data = {
        "name": company.name,
        "legal_name": company.legal_name,
        "che_uid": company.che_uid,
        "vat_number": company.vat_number,
        "street": company.street,
        "building_number": company.building_number,
        "postal_code": company.postal_code,
        "town": company.town,
        "country": company.country,
        "iban": company.iban,
        "qr_iban": company.qr_iban,
        "currency": company.currency,
        "vat_method": company.vat_method,
        "vat_period": company.vat_period,
        "vat_basis": company.vat_basis,
        "rounds_to_five_centimes": "on",
        "payment_terms_days": company.payment_terms_days,
        "ceo_approval_threshold": company.ceo_approval_threshold,
        "deposit_auto_issue": "on",
        "colour": company.colour,
    }
    return {**data, **changes}


@pytest.fixture
def finance_client(client, company_a, member_of):
    client.force_login(member_of(company_a, Role.FINANCE))
    return client


def edit_url(company):
    return reverse("finance:company-edit", kwargs={"code": company.code})


def test_invalid_che_uid_is_shown_on_its_field_and_nothing_is_saved(finance_client, company_a):
    response = finance_client.post(edit_url(company_a), form_data(company_a, che_uid="CHE-123.456.789"))

    assert response.status_code == 200
    assert response.context["form"].errors["che_uid"] == [
        "« CHE-123.456.789 » n’est pas un numéro d’entreprise suisse (IDE) valable : "
        "attendu CHE-123.456.789 avec un chiffre de contrôle correct."
    ]
    assert 'id="id_che_uid" aria-invalid="true"' in response.text or 'aria-invalid="true"' in response.text
    assert Company.objects.get(pk=company_a.pk).che_uid == company_a.che_uid
    assert not AuditEvent.objects.filter(action="company.updated").exists()


def test_invalid_iban_is_shown_on_its_field(finance_client, company_a):
    response = finance_client.post(edit_url(company_a), form_data(company_a, iban="CH93 0076 2011 6238 5295 8"))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["iban"]
    assert errors["iban"][0].startswith("« CH93 0076 2011 6238 5295 8 » n’est pas un IBAN valable")
    assert "Rien n’a été enregistré" in response.text
    assert Company.objects.get(pk=company_a.pk).iban == "CH9300762011623852957"


def test_qr_iban_in_the_iban_field_is_explained(finance_client, company_a):
    response = finance_client.post(edit_url(company_a), form_data(company_a, iban="CH44 3199 9123 0008 8901 2"))

    assert response.context["form"].errors["iban"] == [
        "Ceci est un QR-IBAN : saisissez-le dans le champ QR-IBAN, et ici l’IBAN ordinaire du compte."
    ]


def test_valid_edit_saves_normalized_values_and_logs_the_change(finance_client, company_a):
    response = finance_client.post(
        edit_url(company_a),
        form_data(company_a, iban="ch28 0900 0000 0176 5432 1", qr_iban="CH44 3199 9123 0008 8901 2"),
    )

    assert response.status_code == 302
    assert response["Location"] == "/companies/QA/"
    company_a.refresh_from_db()
    assert (company_a.iban, company_a.qr_iban) == ("CH2809000000017654321", "CH4431999123000889012")
    event = AuditEvent.objects.get(company=company_a, action="company.updated")
    assert set(event.changes) == {"iban", "qr_iban"}


@pytest.mark.parametrize("role", [Role.SALES, Role.OPERATIONS, Role.VIEWER])
def test_roles_other_than_ceo_and_finance_cannot_edit_identity(client, company_a, member_of, role):
    client.force_login(member_of(company_a, role))

    assert client.get(edit_url(company_a)).status_code == 403
    response = client.post(edit_url(company_a), form_data(company_a, town="Bulle"))

    assert response.status_code == 403
    assert Company.objects.get(pk=company_a.pk).town == "Fribourg"


def test_ceo_can_edit_any_company(client, ceo, company_b):
    client.force_login(ceo)

    response = client.post(edit_url(company_b), form_data(company_b, town="Bulle"))

    assert response.status_code == 302
    assert Company.objects.get(pk=company_b.pk).town == "Bulle"


def test_detail_page_shows_the_history_in_words(finance_client, company_a):
    from finance.services.companies import company_create

    company = company_create(
        created_by=None,
        code="QH",
        name="Histoire",
        legal_name="Histoire SA",
        che_uid="CHE-234.567.895",
        street="Rue",
        postal_code="1700",
        town="Fribourg",
        iban="CH9300762011623852957",
    )
    finance_client.post(
        edit_url(company_a),
        form_data(company_a, iban="CH28 0900 0000 0176 5432 1", qr_iban="CH44 3199 9123 0008 8901 2"),
    )

    response = finance_client.get(reverse("finance:company-detail", kwargs={"code": "QA"}))

    events = response.context["audit_events"]
    assert [(e.get_action_display(), e.changed_field_labels) for e in events] == [
        ("Identité modifiée", ["IBAN", "QR-IBAN"])
    ]
    assert "Identité modifiée" in response.text
    assert "IBAN, QR-IBAN" in response.text
    assert company.audit_events.get().actor is None


def test_history_names_the_user_and_role_of_a_granted_membership(company_a):
    from finance.services.companies import membership_grant
    from tests.factories import UserFactory

    membership_grant(user=UserFactory(username="chloe"), company=company_a, role=Role.SALES, granted_by=None)

    assert company_a.audit_events.get(action="membership.granted").detail == "chloe · Vente"
