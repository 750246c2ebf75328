from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from finance import selectors


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    companies = selectors.company_list(scope=request.company_scope)
    drifts = selectors.sync_drift_list(scope=request.company_scope)
    return render(request, "dashboard/home.html", {"companies": companies, "drifts": drifts})
