"""Groupe → ERPNext: each company's stock, purchase orders, leave and suppliers as last read from ERPNext."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from finance.models import Company
from finance.permissions import can_purchase
from integrations import selectors
from integrations.models import Provider
from integrations.tasks import erpnext_sync_company


def _readable_companies(request: HttpRequest) -> list[Company]:
    """Stock, purchasing and leave are operations' business: the CEO, finance and operations see them."""
    scope = request.company_scope
    code = request.GET.get("company", "") or request.POST.get("company", "")
    return [c for c in scope.companies if can_purchase(scope, c) and (not code or c.code == code)]


@require_GET
def erpnext_overview(request: HttpRequest) -> HttpResponse:
    companies = _readable_companies(request)
    now = timezone.now()
    overview = selectors.erpnext_overview(companies=companies, today=timezone.localdate(now), now=now)
    context = {
        "overview": overview, "company_code": request.GET.get("company", ""),
        "companies": [c for c in request.company_scope.companies if can_purchase(request.company_scope, c)],
        "connected": [age for age in overview.companies if age.connection is not None],
    }  # fmt: skip
    return render(request, "integrations/erpnext.html", context)


@require_POST
def erpnext_sync(request: HttpRequest) -> HttpResponse:
    """Read ERPNext now (in the worker) instead of waiting for the schedule."""
    started = 0
    for company in _readable_companies(request):
        connection = selectors.usable_connection(company, Provider.ERPNEXT)
        if connection is not None:
            erpnext_sync_company.delay(connection.pk)
            started += 1
    if started:
        messages.success(request, _("ERPNext is being read; reload the page in a moment to see the new figures."))
    else:
        messages.error(request, _("No company in view is connected to ERPNext."))
    code = request.POST.get("company", "")
    return redirect(reverse("integrations:erpnext") + (f"?company={code}" if code else ""))
