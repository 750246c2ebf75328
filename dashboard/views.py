"""The CEO dashboard: one page of partials, each also served alone so HTMX refreshes it in place."""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import Future
from datetime import date, datetime

import redis
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event
from kombu.exceptions import OperationalError as KombuOperationalError

from dashboard import charts, figures, selectors, services, tasks
from dashboard.concurrent import concurrent_reads
from finance.models import Role
from finance.permissions import can_bill

TEMPLATE = "dashboard/home.html"
# Sent after the figures were recomputed: every figure partial listens and fetches itself again.
FIGURES_REFRESHED = "hv:figures-refreshed"


# What several partials of the page read (open invoices, monthly revenue, exchange rates): once per request.
SHARED_READS: dict[str, Callable[[HttpRequest, date | None], object]] = {
    "open_invoices": lambda request, today: selectors.open_invoices(request.company_scope.company_ids, today),
    "monthly_revenue": lambda request, today: selectors.monthly_revenue(
        company_ids=request.company_scope.company_ids, today=today
    ),
    "money": lambda _request, _today: selectors.conversion(),
}


def _shared(request: HttpRequest, name: str, today: date | None):
    """A shared read, made on first use; the page starts them all first (_page_context): a future until done."""
    reads = request.__dict__.setdefault("dashboard_reads", {})
    if name not in reads:
        reads[name] = SHARED_READS[name](request, today)
    found = reads[name]
    return found.result() if isinstance(found, Future) else found


def _open_invoices(request: HttpRequest, today: date) -> selectors.OpenInvoices:
    return _shared(request, "open_invoices", today)


def _monthly_revenue(request: HttpRequest, today: date) -> selectors.MonthlyRevenue:
    return _shared(request, "monthly_revenue", today)


def _money(request: HttpRequest) -> selectors.Conversion:
    return _shared(request, "money", today=None)


def _revenue(request: HttpRequest) -> dict:
    today, _now = selectors.now_local()
    kpis = selectors.revenue_kpis(scope=request.company_scope, today=today, monthly=_monthly_revenue(request, today),
                                  money=_money(request))  # fmt: skip
    return {"revenue_kpis": kpis}


def _receivables(request: HttpRequest) -> dict:
    today, _now = selectors.now_local()
    kpis = selectors.receivable_kpis(scope=request.company_scope, today=today, owed=_open_invoices(request, today),
                                     money=_money(request))  # fmt: skip
    return {"receivable_kpis": kpis}


def _activity(request: HttpRequest) -> dict:
    today, _now = selectors.now_local()
    return {"activity_kpis": selectors.activity_kpis(scope=request.company_scope, today=today, money=_money(request))}


def _cash(request: HttpRequest) -> dict:
    today, _now = selectors.now_local()
    cash = selectors.cash_overview(scope=request.company_scope, today=today, owed=_open_invoices(request, today),
                                   money=_money(request))  # fmt: skip
    return {"cash": cash, "cash_chart": charts.cash_flow(cash)}


def _revenue_charts(request: HttpRequest) -> dict:
    today, _now = selectors.now_local()
    revenue = selectors.revenue_charts(scope=request.company_scope, today=today,
                                       monthly=_monthly_revenue(request, today), money=_money(request))  # fmt: skip
    return {
        "revenue": revenue, "revenue_chart": charts.revenue_by_month(revenue),
        "company_chart": charts.revenue_by_company(revenue), "stacked_chart": charts.revenue_stacked(revenue),
        "revenue_rows": list(zip(revenue.months, revenue.totals, revenue.trend, strict=True)),
    }  # fmt: skip


def _ageing(request: HttpRequest) -> dict:
    today, _now = selectors.now_local()
    bars, money = selectors.receivables_ageing(
        scope=request.company_scope, today=today, owed=_open_invoices(request, today), money=_money(request)
    )
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


# Started first on the page: the partials whose own statements take longest.
STARTED_FIRST = ("urgent", "activity")


def _page_context(request: HttpRequest) -> dict:
    """Every partial, read side by side (dashboard.concurrent): the shared reads are started first, and each
    partial waits only for those it uses."""
    scope = request.company_scope
    context = {"companies": scope.companies, **_refresh_context()}
    if not context["companies"]:
        return context
    today, _now = selectors.now_local()
    request.dashboard_reads = concurrent_reads.start(
        {name: functools.partial(read, request, today) for name, read in SHARED_READS.items()}
    )
    # cash-chart shows the figures of cash: read once.
    order = [*STARTED_FIRST, *(name for name in PARTIALS if name not in STARTED_FIRST and name != "cash-chart")]
    for built in concurrent_reads.run({name: functools.partial(PARTIALS[name], request) for name in order}).values():
        context.update(built)
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


def _refresh_context(requested_at: datetime | None = None) -> dict:
    return {"refreshed_at": figures.figures_refreshed_at(),
            "refresh_requested_at": requested_at.isoformat() if requested_at else ""}  # fmt: skip


@require_POST
def figures_refresh(request: HttpRequest) -> HttpResponse:
    """Hand the recompute of the history to the worker; the button then waits for it (see figures_refresh_status).

    At a million invoices the recompute takes seconds: no request waits for it.
    """
    scope = request.company_scope
    if not any(scope.has_role(company, Role.CEO, Role.FINANCE) for company in scope.companies):
        raise PermissionDenied
    requested_at = timezone.now()
    try:
        tasks.figures_refresh.delay()
    except (KombuOperationalError, redis.RedisError):
        refusal = _("The task queue does not answer: the figures cannot be recomputed now. Try again in a moment.")
        if request.htmx:
            return HttpResponse(refusal, status=503)
        messages.error(request, refusal)
        return redirect("dashboard:home")
    if request.htmx:
        return render(request, f"{TEMPLATE}#refresh", {"companies": scope.companies, **_refresh_context(requested_at)})
    messages.success(request, _("The figures are being recomputed; reload the page in a moment to see them."))
    return redirect("dashboard:home")


@require_GET
def figures_refresh_status(request: HttpRequest) -> HttpResponse:
    """Polled by the waiting button: once the history is newer than the request, every partial reloads itself."""
    if not request.htmx:
        return redirect("dashboard:home")
    try:
        requested_at = datetime.fromisoformat(request.GET.get("since", ""))
    except ValueError:
        return HttpResponse(_("Say since when the figures are awaited."), status=400)
    if timezone.is_naive(requested_at):
        return HttpResponse(_("Say since when the figures are awaited."), status=400)
    context = {"companies": request.company_scope.companies}
    refreshed_at = figures.figures_refreshed_at()
    if refreshed_at is None or refreshed_at < requested_at:
        return render(request, f"{TEMPLATE}#refresh", {**context, **_refresh_context(requested_at)})
    response = render(request, f"{TEMPLATE}#refresh", {**context, **_refresh_context()})
    return trigger_client_event(response, FIGURES_REFRESHED)


@require_GET
def failed_actions(request: HttpRequest) -> HttpResponse:
    scope = request.company_scope
    runs = selectors.failed_action_list(scope=scope, company_code=request.GET.get("company", ""))
    rows = [(run, can_bill(scope, run.company)) for run in runs]
    return render(request, "dashboard/failed_actions.html", {"rows": rows})
