"""Groupe → TVA: each company's VAT returns by period, their figures with the documents behind them, the check
list, the PDF, CSV and XLSX, and "filed" (which closes the period)."""

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from finance import export_pack, pdf, vat_return
from finance.models import Company, VatReturn
from finance.permissions import can_bill
from finance.services import vat_returns
from finance.views.lists import csv_response, xlsx_response


def _billing_companies(request: HttpRequest) -> list[Company]:
    """VAT returns are the CEO's and finance's."""
    scope = request.company_scope
    return [company for company in scope.companies if can_bill(scope, company)]


def _period(request: HttpRequest, company_code: str, start: str) -> tuple[Company, dt.date, dt.date]:
    company = next((c for c in _billing_companies(request) if c.code == company_code), None)
    try:
        first_day = dt.date.fromisoformat(start)
    except ValueError:
        raise Http404 from None
    if company is None:
        raise Http404
    period = next((p for p in vat_return.periods_of_year(company, first_day.year) if p[0] == first_day), None)
    if period is None:
        raise Http404
    return company, *period


@require_GET
def vat_return_list(request: HttpRequest) -> HttpResponse:
    """The periods of one year (this one by default) for each company the user files for."""
    today = timezone.localdate()
    raw = request.GET.get("year", "")
    year = int(raw) if raw.isdigit() and 2000 <= int(raw) <= today.year else today.year
    companies = _billing_companies(request)
    filed = {(f.company_id, f.period_start): f for f in VatReturn.objects.filter(company__in=companies)}
    rows = []
    for company in companies:
        periods = [p for p in vat_return.periods_of_year(company, year) if p[0] <= today]
        rows.append({"company": company, "periods": [
            {"start": start, "end": end, "label": vat_return.period_label(company, start),
             "filed": filed.get((company.pk, start)), "open": end >= today}
            for start, end in reversed(periods)
        ]})  # fmt: skip
    context = {"rows": rows, "year": year, "previous": year - 1, "next": year + 1 if year < today.year else None}
    return render(request, "finance/vat_return_list.html", context)


@require_GET
def vat_return_detail(request: HttpRequest, company_code: str, start: str) -> HttpResponse:
    company, first, last = _period(request, company_code, start)
    result = vat_return.vat_return_compute(company=company, start=first, end=last)
    context = {
        "company": company, "result": result, "label": vat_return.period_label(company, first),
        "checks": vat_return.vat_return_checks(company=company, start=first, end=last),
        "can_file": result.filed is None and last < timezone.localdate(),
    }  # fmt: skip
    return render(request, "finance/vat_return_detail.html", context)


def _filename(company: Company, first: dt.date) -> str:
    return f"tva-{company.code}-{vat_return.period_label(company, first).replace(' ', '-')}"


@require_GET
def vat_return_download(request: HttpRequest, company_code: str, start: str, kind: str) -> HttpResponse:
    company, first, last = _period(request, company_code, start)
    if kind == "zip":  # the pack computes the return itself, with the journal
        return _pack_response(request, company, first, last, vat_return.period_label(company, first))
    if kind not in ("pdf", "csv", "xlsx"):
        raise Http404
    result = vat_return.vat_return_compute(company=company, start=first, end=last)
    if kind == "pdf":
        response = HttpResponse(pdf.vat_return_pdf(result, label=vat_return.period_label(company, first)),
                                content_type="application/pdf")  # fmt: skip
        response["Content-Disposition"] = f'attachment; filename="{_filename(company, first)}.pdf"'
        return response
    header, rows = vat_return.vat_return_table(result)
    if kind == "xlsx":
        return xlsx_response(_filename(company, first), header, rows, sheet=_("VAT return"))
    return csv_response(_filename(company, first), header, rows)


@require_GET
def accountant_pack_year(request: HttpRequest, company_code: str, year: int) -> HttpResponse:
    """The whole year's pack, for closing the books."""
    company = next((c for c in _billing_companies(request) if c.code == company_code), None)
    if company is None or not 2000 <= year <= timezone.localdate().year:
        raise Http404
    return _pack_response(request, company, dt.date(year, 1, 1), dt.date(year, 12, 31), str(year))


def _pack_response(request: HttpRequest, company: Company, first: dt.date, last: dt.date, label: str) -> HttpResponse:
    try:
        content = export_pack.accountant_pack(company=company, start=first, end=last, label=label)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(reverse("finance:vat-return-list") + f"?year={first.year}")
    response = HttpResponse(content, content_type="application/zip")
    response["Content-Disposition"] = (
        f'attachment; filename="comptabilite-{company.code}-{label.replace(" ", "-")}.zip"'
    )
    return response


@require_POST
def vat_return_file(request: HttpRequest, company_code: str, start: str) -> HttpResponse:
    company, first, last = _period(request, company_code, start)
    try:
        vat_returns.vat_return_file(company=company, start=first, end=last, filed_by=request.user,
                                    today=timezone.localdate())  # fmt: skip
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("%(period)s marked as filed: invoices can no longer be issued in it.")
                         % {"period": vat_return.period_label(company, first)})  # fmt: skip
    return redirect(reverse("finance:vat-return", kwargs={"company_code": company.code, "start": start}))
