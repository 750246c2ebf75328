from django.db import transaction

from finance.models import Company, DocumentSequence

# How each family's numbers read: HV-2026-0001, HV-NC-2026-0001, HV-DEV-2026-0001.
NUMBER_FORMATS = {
    DocumentSequence.Family.INVOICE: "{code}-{year}-{number:04d}",
    DocumentSequence.Family.CREDIT_NOTE: "{code}-NC-{year}-{number:04d}",
    DocumentSequence.Family.QUOTE: "{code}-DEV-{year}-{number:04d}",
}


def document_number_take(*, company: Company, family: str, year: int) -> str:
    """Take the next number of a (company, family, year) sequence; call inside the issuing transaction.

    The sequence row stays locked until that transaction ends, so concurrent issuers queue and a
    rolled-back issue gives its number back: the sequence has neither gaps nor duplicates.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("document_number_take must run inside the transaction that issues the document")
    # Insert-if-missing first, so that two first issues of a year cannot both create the row.
    DocumentSequence.objects.bulk_create(
        [DocumentSequence(company=company, family=family, year=year)], ignore_conflicts=True
    )
    sequence = DocumentSequence.objects.select_for_update().get(company=company, family=family, year=year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return NUMBER_FORMATS[family].format(code=company.code, year=year, number=sequence.last_number)
