"""Company isolation: every role, every model, through selectors and pages."""

from datetime import date

import pytest
from django.http import Http404
from django.urls import reverse

from finance import selectors
from finance.models import (
    AccountMap,
    AuditEvent,
    Contact,
    DepositRule,
    DocumentSequence,
    InvoiceDunning,
    Lead,
    Membership,
    Milestone,
    OutgoingPayment,
    Project,
    QuoteSignature,
    Reminder,
    Role,
    SupplierInvoice,
    SupplierInvoiceCapture,
    VatReturn,
)
from finance.scope import CompanyScope
from finance.services.audit import audit_record
from finance.services.dunning import dunning_policy_ensure
from tests.factories import (
    BankAccountFactory,
    BankTransactionFactory,
    ClientFactory,
    InvoiceFactory,
    PaymentFactory,
    QuoteFactory,
    SupplierFactory,
)

pytestmark = pytest.mark.django_db

STAFF_ROLES = [Role.FINANCE, Role.SALES, Role.OPERATIONS, Role.VIEWER]


@pytest.fixture
def other_company_objects(company_b, member_of):
    """One object of every model, all belonging to company B."""
    colleague = member_of(company_b, Role.FINANCE)
    membership = Membership.objects.get(user=colleague)
    event = audit_record(actor=colleague, company=company_b, action="test.event", target=membership)
    client = ClientFactory(company=company_b)
    supplier = SupplierFactory(company=company_b)
    project = Project.objects.create(company=company_b, client=client, name="Vitrine", created_by=colleague)
    supplier_invoice = SupplierInvoice.objects.create(
        company=company_b, supplier=supplier, supplier_number="F-1", invoice_date=date(2026, 11, 1),
        due_date=date(2026, 12, 1), creditor_iban=supplier.iban, created_by=colleague,
    )  # fmt: skip
    account = BankAccountFactory(company=company_b)
    invoice = InvoiceFactory(company=company_b, client=client)
    return {
        "company": company_b,
        "membership": membership,
        "audit_event": event,
        "client": client,
        "contact": Contact.objects.create(client=client, name="Anne Rey"),
        "quote": QuoteFactory(company=company_b, client=client),
        "invoice": invoice,
        "dunning_policy": dunning_policy_ensure(company_b),
        "invoice_dunning": InvoiceDunning.objects.create(invoice=invoice, company=company_b),
        "reminder": Reminder.objects.create(
            company=company_b,
            invoice=invoice,
            level=1,
            level_name="Rappel",
            dunning_date=date(2026, 11, 20),
            days_late=7,
            balance_due=100,
            amount_due=100,
            currency="CHF",
            recipient="compta@example.ch",
            language="fr",
            trigger="manual",
        ),
        "payment": PaymentFactory(company=company_b, client=client),
        "deposit_rule": DepositRule.objects.create(company=company_b, percent=30),
        "lead": Lead.objects.create(company=company_b, source="website", email="lea@example.ch"),
        "quote_signature": QuoteSignature.objects.create(
            company=company_b,
            quote=QuoteFactory(company=company_b, client=client, number="QB-1", status="sent"),
            external_id="quote-QB-1",
            status="sent",
            submission_id=55,
            submitter_id=101,
        ),
        "document_sequence": DocumentSequence.objects.create(company=company_b, family="invoice", year=2026),
        "supplier_invoice_capture": SupplierInvoiceCapture.objects.create(
            company=company_b,
            document="supplier-invoices/captured/x.pdf",
            filename="x.pdf",
            kind="pdf",
            size=10,
            sha256="0" * 64,
            created_by=colleague,
        ),
        "vat_return": VatReturn.objects.create(
            company=company_b,
            period_start=date(2026, 1, 1),
            period_end=date(2026, 3, 31),
            method="effective",
            basis="agreed",
            payable=0,
            filed_by=colleague,
        ),
        "account_map": AccountMap.objects.create(company=company_b),
        "supplier": supplier,
        "supplier_invoice": supplier_invoice,
        "project": project,
        "milestone": Milestone.objects.create(project=project, title="Pose"),
        "bank_account": account,
        "bank_transaction": BankTransactionFactory(company=company_b, account=account),
        "outgoing_payment": OutgoingPayment.objects.create(
            company=company_b,
            supplier_invoice=supplier_invoice,
            account=account,
            request_id="hv-si1-1",
            counterparty_id="cp",
            counterparty_account_id="cpa",
            amount=100,
            currency="CHF",
            reference="F-1",
            created_by=colleague,
        ),
    }


# Each model's single-object selector, called with the object it should refuse to return.
GETTERS = {
    "company": lambda scope, obj: selectors.company_get(scope=scope, code=obj.code),
    "membership": lambda scope, obj: selectors.membership_get(scope=scope, pk=obj.pk),
    "audit_event": lambda scope, obj: selectors.audit_event_get(scope=scope, pk=obj.pk),
    "client": lambda scope, obj: selectors.client_get(scope=scope, pk=obj.pk),
    "contact": lambda scope, obj: selectors.contact_get(scope=scope, pk=obj.pk),
    "quote": lambda scope, obj: selectors.quote_get(scope=scope, pk=obj.pk),
    "invoice": lambda scope, obj: selectors.invoice_get(scope=scope, pk=obj.pk),
    "payment": lambda scope, obj: selectors.payment_get(scope=scope, pk=obj.pk),
    "deposit_rule": lambda scope, obj: selectors.deposit_rule_get(scope=scope, pk=obj.pk),
    "document_sequence": lambda scope, obj: selectors.document_sequence_get(scope=scope, pk=obj.pk),
    "supplier": lambda scope, obj: selectors.supplier_get(scope=scope, pk=obj.pk),
    "supplier_invoice": lambda scope, obj: selectors.supplier_invoice_get(scope=scope, pk=obj.pk),
    "project": lambda scope, obj: selectors.project_get(scope=scope, pk=obj.pk),
    "milestone": lambda scope, obj: selectors.milestone_get(scope=scope, pk=obj.pk),
    "bank_account": lambda scope, obj: selectors.bank_account_get(scope=scope, pk=obj.pk),
    "bank_transaction": lambda scope, obj: selectors.bank_transaction_get(scope=scope, pk=obj.pk),
    "outgoing_payment": lambda scope, obj: selectors.outgoing_payment_get(scope=scope, pk=obj.pk),
    "dunning_policy": lambda scope, obj: selectors.dunning_policy_get(scope=scope, pk=obj.pk),
    "invoice_dunning": lambda scope, obj: selectors.invoice_dunning_get(scope=scope, pk=obj.pk),
    "reminder": lambda scope, obj: selectors.reminder_get(scope=scope, pk=obj.pk),
    "lead": lambda scope, obj: selectors.lead_get(scope=scope, pk=obj.pk),
    "quote_signature": lambda scope, obj: selectors.quote_signature_get(scope=scope, pk=obj.pk),
    "supplier_invoice_capture": lambda scope, obj: selectors.capture_get(scope=scope, pk=obj.pk),
    "vat_return": lambda scope, obj: selectors.vat_return_get(scope=scope, pk=obj.pk),
    "account_map": lambda scope, obj: selectors.account_map_get(scope=scope, pk=obj.pk),
}


def test_every_model_with_a_company_has_a_scoped_getter():
    from django.apps import apps

    company_models = {
        model._meta.model_name
        for model in apps.get_app_config("finance").get_models()
        if any(field.name == "company" for field in model._meta.get_fields())
    }
    assert company_models | {"company"} <= {name.replace("_", "") for name in GETTERS}


@pytest.mark.parametrize("role", STAFF_ROLES)
@pytest.mark.parametrize("model", sorted(GETTERS))
def test_staff_of_one_company_gets_404_for_another_companys_object(
    role, model, company_a, member_of, other_company_objects
):
    user = member_of(company_a, role)
    scope = CompanyScope(user=user)

    with pytest.raises(Http404):
        GETTERS[model](scope, other_company_objects[model])


@pytest.mark.parametrize("model", sorted(GETTERS))
def test_ceo_gets_every_companys_object(model, ceo, other_company_objects):
    obj = GETTERS[model](CompanyScope(user=ceo), other_company_objects[model])
    assert obj == other_company_objects[model]


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_staff_lists_show_only_their_company(role, company_a, company_b, member_of, other_company_objects):
    user = member_of(company_a, role)
    scope = CompanyScope(user=user)

    assert list(selectors.company_list(scope=scope)) == [company_a]
    assert {m.company for m in selectors.membership_list(scope=scope)} == {company_a}
    assert list(selectors.audit_event_list(scope=scope)) == []
    assert AuditEvent.objects.filter(company=company_b).count() == 1


@pytest.mark.parametrize("role", STAFF_ROLES)
@pytest.mark.parametrize("url_name", ["finance:company-detail", "finance:company-edit"])
def test_staff_page_for_another_company_answers_404(client, role, url_name, company_a, company_b, member_of):
    client.force_login(member_of(company_a, role))

    response = client.get(reverse(url_name, kwargs={"code": company_b.code}))

    assert response.status_code == 404


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_staff_cannot_switch_to_another_company(client, role, company_a, company_b, member_of):
    client.force_login(member_of(company_a, role))

    response = client.post(reverse("finance:scope-switch"), {"company": company_b.code})

    assert response.status_code == 404
    assert "hv_company" not in client.session


def test_staff_page_of_own_company_opens(client, company_a, member_of):
    client.force_login(member_of(company_a, Role.VIEWER))

    response = client.get(reverse("finance:company-detail", kwargs={"code": company_a.code}))

    assert response.status_code == 200
    assert response.context["company"] == company_a
    assert response.context["can_edit"] is False


def test_user_without_membership_sees_no_company(client, company_a):
    from tests.factories import UserFactory

    client.force_login(UserFactory())

    assert client.get(reverse("finance:company-detail", kwargs={"code": company_a.code})).status_code == 404
    response = client.get(reverse("finance:company-list"))
    assert list(response.context["companies"]) == []
