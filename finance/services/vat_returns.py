"""Filing a VAT return: its figures kept as filed, and its period closed to new invoices."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from finance import vat_return
from finance.models import Company, VatReturn
from finance.models.sales import DocumentStateError
from finance.services.audit import audit_record


@transaction.atomic
def vat_return_file(*, company: Company, start: dt.date, end: dt.date, filed_by: AbstractBaseUser,
                    today: dt.date) -> VatReturn:  # fmt: skip
    """Mark the period's figures as filed with the ESTV; from now on no invoice dated in it can be issued."""
    if (start, end) not in vat_return.periods_of_year(company, start.year):
        raise DocumentStateError(_("This is not one of the company's VAT periods."), code="not_a_period")
    if end >= today:
        opens = (end + dt.timedelta(days=1)).strftime("%d.%m.%Y")
        raise DocumentStateError(
            _("The period is not over yet: it can be filed from %(date)s.") % {"date": opens}, code="open_period"
        )
    # Lock the company: two people filing at once, or an invoice being issued meanwhile, wait for each other.
    Company.objects.select_for_update().get(pk=company.pk)
    result = vat_return.vat_return_compute(company=company, start=start, end=end)
    figures = {
        figure.code: {"label": figure.label, "amount": str(figure.amount),
                      "tax": None if figure.tax is None else str(figure.tax)}
        for figure in result.ordered()
    }  # fmt: skip
    try:
        with transaction.atomic():
            filed = VatReturn.objects.create(
                company=company, period_start=start, period_end=end, method=result.method, basis=result.basis,
                figures=figures, payable=result.payable, filed_by=filed_by,
            )  # fmt: skip
    except IntegrityError:
        raise DocumentStateError(_("This period is already filed."), code="already_filed") from None
    audit_record(actor=filed_by, company=company, action="vat_return.filed", target=filed,
                 changes={"period": f"{start}–{end}", "payable": str(result.payable)})  # fmt: skip
    return filed


def issue_date_open(*, company: Company, issue_date: dt.date) -> None:
    """Refuse a date inside a filed VAT period: its return would no longer match the documents."""
    filed = vat_return.filed_period_of(company, issue_date)
    if filed is not None:
        raise DocumentStateError(
            _("The VAT return %(period)s is filed: no invoice dated in it can be issued any more (%(date)s).")
            % {"period": vat_return.period_label(company, filed.period_start), "date": issue_date.strftime("%d.%m.%Y")},
            code="period_filed",
        )  # fmt: skip
