"""The CEO dashboard: one page of partials, each also served alone so HTMX refreshes it in place."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from dashboard import charts, figures, selectors, services
from finance.models import Role
from finance.permissions import can_bill

TEMPLATE = "dashboard/home.html"
# Sent after the figures were recomputed: every figure partial listens and fetches itself again.
FIGURES_REFRESHED = "hv:figures-refreshed"


def _revenue(request: HttpRequest) -> dict:
    today, _now = selectors.now_local()
    return {"revenue_kpis": selectors.revenue_kpis(scope=request.company_scope, today=today)}


def _receivables(request: HttpRequest) -> dict:
    today, _now = selectors.now_local()
    return {"receivable_kpis": selectors.receivable_kpis(scope=request.company_scope, today=today)}


def _activity(request: HttpRequest) -> dict:
    today, _now = selectors.now_local()
    return {"activity_kpis": selectors.activity_kpis(scope=request.company_scope, today=today)}


def _cash(request: HttpRequest) -> dict:
    today, _now = selectors.now_local()
    cash = selectors.cash_overview(scope=request.company_scope, today=today)
    return {"cash": cash, "cash_chart": charts.cash_flow(cash)}


def _revenue_charts(request: HttpRequest) -> dict:
    today, _now = selectors.now_local()
    revenue = selectors.revenue_charts(scope=request.company_scope, today=today)
    return {
        "revenue": revenue, "revenue_chart": charts.revenue_by_month(revenue),
        "company_chart": charts.revenue_by_company(revenue), "stacked_chart": charts.revenue_stacked(revenue),
        "revenue_rows": list(zip(revenue.months, revenue.totals, revenue.trend, strict=True)),
    }  # fmt: skip


def _ageing(request: HttpRequest) -> dict:
    today, _now = selectors.now_local()
    bars, money = selectors.receivables_ageing(scope=request.company_scope, today=today)
    return {"ageing": bars, "ageing_money": money, "ageing_chart": charts.ageing(bars)}


def _urgent(request: HttpRequest) -> dict:
    today, now = selectors.now_local()
    return {"urgent": selectors.urgent_items(scope=request.company_scope, user=request.user, today=today, now=now)}


def _status(request: HttpRequest) -> dict:
    return {"status_rows": selectors.integration_status(scope=request.company_scope)}


# Partial name (in the template and the URL) → what it shows.
PARTIALS: dict[str, Callable[[HttpRequest], dict]] = {
    "status": _status,
    "urgent": _urgent,
    "revenue": _revenue,
    "receivables": _receivables,
    "cash": _cash,
    "activity": _activity,
    "revenue-charts": _revenue_charts,
    "cash-chart": _cash,
    "ageing": _ageing,
}


def _page_context(request: HttpRequest) -> dict:
    context = {"companies": request.company_scope.companies, "refreshed_at": figures.figures_refreshed_at()}
    if context["companies"]:
        for name, build in PARTIALS.items():
            if name != "cash-chart":
                context.update(build(request))
    return context


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, TEMPLATE, _page_context(request))


@require_GET
def partial(request: HttpRequest, name: str) -> HttpResponse:
    """One card or chart for HTMX; a plain request (no JavaScript, a bookmark) gets the whole page."""
    if name not in PARTIALS:
        raise Http404
    if not request.htmx:
        return redirect("dashboard:home")
    request.is_background_refresh = True
    return render(request, f"{TEMPLATE}#{name}", PARTIALS[name](request))


@require_POST
def urgent_snooze(request: HttpRequest) -> HttpResponse:
    try:
        services.urgent_snooze(user=request.user, key=request.POST.get("key", ""), duration=request.POST.get("for", ""))
    except ValidationError as error:
        if request.htmx:
            return HttpResponse(" ".join(error.messages), status=400)
        messages.error(request, " ".join(error.messages))
    if request.htmx:
        return render(request, f"{TEMPLATE}#urgent", _urgent(request))
    return redirect("dashboard:home")


@require_POST
def figures_refresh(request: HttpRequest) -> HttpResponse:
    """Recompute the history now rather than at the next five-minute beat, then let every partial reload."""
    scope = request.company_scope
    if not any(scope.has_role(company, Role.CEO, Role.FINANCE) for company in scope.companies):
        raise PermissionDenied
    figures.figures_refresh()
    if request.htmx:
        return trigger_client_event(HttpResponse(status=204), FIGURES_REFRESHED)
    messages.success(request, _("Figures recomputed."))
    return redirect("dashboard:home")


@require_GET
def failed_actions(request: HttpRequest) -> HttpResponse:
    scope = request.company_scope
    runs = selectors.failed_action_list(scope=scope, company_code=request.GET.get("company", ""))
    rows = [(run, can_bill(scope, run.company)) for run in runs]
    return render(request, "dashboard/failed_actions.html", {"rows": rows})
