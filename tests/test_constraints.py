"""Check constraints validated in one query: the same verdicts, messages and codes as Django's one query each."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from finance.models import Company, Invoice
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db


def errors_of(validate) -> dict[str, list[tuple[str, str]]]:
    """The errors as (message, code) per field, in their order."""
    try:
        with translation.override("en"):
            validate()
    except ValidationError as error:
        with translation.override("en"):
            return {field: [(str(e.message % (e.params or {})), e.code) for e in errors]
                    for field, errors in error.error_dict.items()}  # fmt: skip
    return {}


def statements(captured) -> list[str]:
    """What was asked, without the savepoints around each check (the test runs inside a transaction)."""
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]


def test_broken_checks_give_django_s_errors_in_one_query():
    company = CompanyFactory.build(code="hv", colour="red", payment_match_threshold=20, currency="CHF")

    with CaptureQueriesContext(connection) as ours:
        mine = errors_of(company.validate_constraints)
    with CaptureQueriesContext(connection) as djangos:
        theirs = errors_of(lambda: models.Model.validate_constraints(company))

    assert mine == theirs
    assert [message for message, _code in mine["__all__"]] == [
        "Constraint “company_code_two_capitals” is violated.",
        "Automatic payment matching starts between 30 and 100 points.",
        "Constraint “company_colour_hex” is violated.",
    ]
    assert len(statements(ours)) == 1
    assert len(statements(djangos)) == len([c for c in Company._meta.constraints
                                            if isinstance(c, models.CheckConstraint)])  # fmt: skip


def test_valid_instance_passes_and_excluded_fields_leave_their_checks_out():
    company = CompanyFactory.build(code="HV")
    company.validate_constraints()

    company.code = "hv"
    assert errors_of(lambda: company.validate_constraints(exclude={"code"})) == {}
    assert errors_of(lambda: models.Model.validate_constraints(company, exclude={"code"})) == {}


def test_an_invoice_s_checks_are_one_query_beside_its_unique_constraint(company_a):
    invoice = Invoice(company=company_a, number="HV-X", net_total=-1, vat_total=0, gross_total=-1, payable_total=-1)
    with transaction.atomic(), CaptureQueriesContext(connection) as ours:
        mine = errors_of(invoice.validate_constraints)
    with transaction.atomic():
        theirs = errors_of(lambda: models.Model.validate_constraints(invoice))

    assert mine == theirs
    assert mine  # a negative total breaks at least one check
    unique = [c for c in Invoice._meta.constraints if isinstance(c, models.UniqueConstraint)]
    assert len(statements(ours)) == 1 + len(unique)
