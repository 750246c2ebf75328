from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from finance import selectors


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    companies = selectors.company_list(scope=request.company_scope)
    drifts = selectors.sync_drift_list(scope=request.company_scope)
    overdue = selectors.dunning_summary(scope=request.company_scope, today=timezone.localdate())
    context = {"companies": companies, "drifts": drifts, "overdue": overdue}
    return render(request, "dashboard/home.html", context)
