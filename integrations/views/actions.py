"""The status badge of an action run, polled by HTMX until the run is final, and its retry button."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from finance.permissions import can_bill
from integrations import actions
from integrations.models import ActionRun


def _visible_run(request: HttpRequest, pk: int) -> ActionRun:
    run = get_object_or_404(ActionRun.objects.select_related("company"), pk=pk)
    if run.company_id not in request.company_scope.visible_ids:
        raise Http404
    return run


def _badge(request: HttpRequest, run: ActionRun) -> HttpResponse:
    context = {"run": run, "can_retry": can_bill(request.company_scope, run.company)}
    return render(request, "integrations/_action_run_badge.html", context)


@require_GET
def action_run_status(request: HttpRequest, pk: int) -> HttpResponse:
    run = _visible_run(request, pk)
    response = _badge(request, run)
    if request.htmx and run.is_final and request.GET.get("polling"):
        # The run just ended: the page around the badge (document status, buttons) changed too.
        response["HX-Refresh"] = "true"
    return response


@require_POST
def action_run_retry(request: HttpRequest, pk: int) -> HttpResponse:
    run = _visible_run(request, pk)
    if not can_bill(request.company_scope, run.company):
        raise Http404
    try:
        run = actions.action_run_retry(run=run, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The action runs again."))
    if request.htmx:
        return _badge(request, run)
    return redirect(run.target.get_absolute_url())
