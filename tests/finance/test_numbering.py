import threading

import pytest
from django.db import connection, transaction

from finance.models import DocumentSequence
from finance.services.numbering import document_number_take
from tests.factories import CompanyFactory

# Threads that issue at the same moment, each in its own transaction and connection.
CONCURRENT_ISSUERS = 20


@pytest.mark.django_db
def test_numbers_follow_each_other_per_company_family_and_year():
    company = CompanyFactory(code="QN")
    with transaction.atomic():
        first = document_number_take(company=company, family="invoice", year=2026)
        second = document_number_take(company=company, family="invoice", year=2026)
        credit_note = document_number_take(company=company, family="credit_note", year=2026)
        quote = document_number_take(company=company, family="quote", year=2026)
        next_year = document_number_take(company=company, family="invoice", year=2027)

    assert (first, second, credit_note, quote, next_year) == (
        "QN-2026-0001",
        "QN-2026-0002",
        "QN-NC-2026-0001",
        "QN-DEV-2026-0001",
        "QN-2027-0001",
    )


@pytest.mark.django_db(transaction=True)
def test_a_number_is_only_taken_inside_a_transaction():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        document_number_take(company=CompanyFactory(code="QO"), family="invoice", year=2026)


@pytest.mark.django_db
def test_a_rolled_back_issue_gives_its_number_back():
    company = CompanyFactory(code="QR")

    def failing_issue() -> None:
        with transaction.atomic():
            document_number_take(company=company, family="invoice", year=2026)
            raise ValueError("the issue fails after taking its number")

    with pytest.raises(ValueError, match="after taking its number"):
        failing_issue()

    with transaction.atomic():
        assert document_number_take(company=company, family="invoice", year=2026) == "QR-2026-0001"


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_issuers_get_twenty_numbers_without_gap_or_duplicate():
    company = CompanyFactory(code="QT")
    start = threading.Barrier(CONCURRENT_ISSUERS)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def issue() -> None:
        try:
            start.wait()
            with transaction.atomic():
                numbers.append(document_number_take(company=company, family="invoice", year=2026))
        except BaseException as error:  # noqa: BLE001 - reported to the test below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue) for _ in range(CONCURRENT_ISSUERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(numbers) == [f"QT-2026-{n:04d}" for n in range(1, CONCURRENT_ISSUERS + 1)]
    assert DocumentSequence.objects.get(company=company, family="invoice", year=2026).last_number == 20
