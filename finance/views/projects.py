"""Projets: the CEO project view (W4), project pages, milestones and provider assignments."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from finance import selectors
from finance.forms import AssignmentForm, MilestoneForm, ProjectForm, ReasonForm
from finance.models import Client, Invoice, Milestone, Project, Supplier
from finance.permissions import PROJECT_ROLES, can_run_projects, require_projects
from finance.project_overview import project_overview
from finance.services import mautic, projects
from finance.views.lists import ListFilterForm

User = get_user_model()


@require_GET
def project_list(request: HttpRequest) -> HttpResponse:
    """W4: where every open project stands and what to do next, for the switcher's companies."""
    scope = request.company_scope
    today = timezone.localdate()
    filter_form = ListFilterForm(request.GET, scope=scope, statuses=Project.Status.choices)
    filters = filter_form.filters()
    overviews = selectors.project_overview_list(
        scope=scope, today=today, status=filters.status, search=filters.search, company_code=filters.company_code
    )
    context = {
        "overviews": overviews,
        "filter_form": filter_form,
        "today": today,
        "late_count": sum(1 for overview in overviews if overview.late_milestones),
        "waiting_count": sum(1 for o in overviews if o.project.status in projects.WAITING_STATUSES),
        "to_approve_count": sum(1 for overview in overviews if overview.costs_to_approve),
        "can_create": any(can_run_projects(scope, company) for company in scope.companies),
    }
    return render(request, "finance/project_list.html", context)


@require_GET
def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = request.company_scope
    project = selectors.project_get(scope=scope, pk=pk)
    today = timezone.localdate()
    overview = project_overview(project, today=today)
    milestones = list(project.milestones.all())
    context = {
        "project": project,
        "overview": overview,
        "milestones": milestones,
        "client_invoices": list(project.quote.invoices.all()) if project.quote_id else [],
        "supplier_invoices": sorted(project.supplier_invoices.all(), key=lambda i: (i.invoice_date, i.pk)),
        "gate_reason": projects.project_gate_reason(project) if project.status in projects.WAITING_STATUSES else "",
        "next_step": projects.FORWARD.get(project.status),
        "can_edit": can_run_projects(scope, project.company),
        "is_open": project.status not in (Project.Status.CLOSED, Project.Status.CANCELLED),
        "reason_form": ReasonForm(),
        "today": today,
        "timeline": selectors.document_timeline(documents=[project]),
        "acknowledgement_run": mautic.acknowledgement_run(project),
    }
    return render(request, "finance/project_detail.html", context)


def _manager_choices(scope):
    return User.objects.filter(is_active=True, memberships__company__in=scope.visible).distinct().order_by("username")


@require_http_methods(["GET", "POST"])
def project_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Open a project by hand (agreed outside a quote), or change a project's name, type, budget, manager."""
    scope = request.company_scope
    project = selectors.project_get(scope=scope, pk=pk) if pk else None
    if project is not None:
        require_projects(scope, project.company)
        form = ProjectForm(request.POST or None, instance=project, managers=_manager_choices(scope))
    else:
        companies = [c for c in scope.companies if scope.has_role(c, *PROJECT_ROLES)]
        if not companies:
            raise PermissionDenied(_("Your role does not allow changing projects."))
        clients = Client.objects.filter(company__in=companies).select_related("company").order_by("name")
        form = ProjectForm(request.POST or None, clients=clients, managers=_manager_choices(scope))
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        try:
            if project is None:
                project = projects.project_create(created_by=request.user, **fields)
            else:
                project = projects.project_update(project=project, updated_by=request.user, **fields)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Project %(name)s saved.") % {"name": project.name})
            return redirect(project.get_absolute_url())
    crumbs = [(_("Projects"), reverse("finance:project-list"))]
    if project is not None:
        crumbs.append((project.name, project.get_absolute_url()))
    return _form_page(
        request, form, heading=_("Edit") if project else _("New project"), crumbs=crumbs,
        cancel_url=project.get_absolute_url() if project else reverse("finance:project-list"),
    )  # fmt: skip


def _form_page(request: HttpRequest, form, *, heading: str, crumbs: list, cancel_url: str, multipart=False):
    context = {"form": form, "heading": heading, "crumbs": crumbs, "cancel_url": cancel_url, "multipart": multipart}
    return render(request, "finance/simple_form.html", context)


def _project_crumbs(project: Project) -> list[tuple[str, str]]:
    return [(_("Projects"), reverse("finance:project-list")), (project.name, project.get_absolute_url())]


@require_POST
def project_from_quote(request: HttpRequest, quote_pk: int) -> HttpResponse:
    scope = request.company_scope
    quote = selectors.quote_get(scope=scope, pk=quote_pk)
    require_projects(scope, quote.company)
    try:
        project = projects.project_create_from_quote(quote=quote, created_by=request.user, manager=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect(quote.get_absolute_url())
    messages.success(request, _("Project %(name)s opened.") % {"name": project.name})
    return redirect(project.get_absolute_url())


def _project_action(request: HttpRequest, pk: int, act, success: str) -> HttpResponse:
    scope = request.company_scope
    project = selectors.project_get(scope=scope, pk=pk)
    require_projects(scope, project.company)
    try:
        act(project)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, success)
    return redirect(project.get_absolute_url())


@require_POST
def project_advance(request: HttpRequest, pk: int) -> HttpResponse:
    return _project_action(
        request, pk, lambda p: projects.project_advance(project=p, advanced_by=request.user), _("Project moved on.")
    )


@require_POST
def project_hold(request: HttpRequest, pk: int) -> HttpResponse:
    reason = request.POST.get("reason", "")
    return _project_action(
        request, pk, lambda p: projects.project_hold(project=p, held_by=request.user, reason=reason),
        _("Project put on hold."),
    )  # fmt: skip


@require_POST
def project_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _project_action(
        request, pk, lambda p: projects.project_resume(project=p, resumed_by=request.user), _("Project resumed.")
    )


@require_POST
def project_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    reason = request.POST.get("reason", "")
    return _project_action(
        request, pk, lambda p: projects.project_cancel(project=p, cancelled_by=request.user, reason=reason),
        _("Project cancelled."),
    )  # fmt: skip


# --- Milestones and providers -------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def milestone_form(request: HttpRequest, project_pk: int, pk: int | None = None) -> HttpResponse:
    scope = request.company_scope
    project = selectors.project_get(scope=scope, pk=project_pk)
    require_projects(scope, project.company)
    milestone = selectors.milestone_get(scope=scope, pk=pk) if pk else None
    if milestone is not None and milestone.project_id != project.pk:
        raise Http404
    # The invoices a milestone may point to: those of the project's quote, or of its client without a quote.
    invoices = Invoice.objects.filter(quote_id=project.quote_id) if project.quote_id else project.client.invoices.all()
    invoices = invoices.exclude(number="").order_by("number")
    form = MilestoneForm(request.POST or None, instance=milestone, invoices=invoices)
    if request.method == "POST" and form.is_valid():
        try:
            projects.milestone_save(project=project, saved_by=request.user, milestone=milestone, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Milestone saved."))
            return redirect(project.get_absolute_url())
    heading = milestone.title if milestone else _("New milestone")
    return _form_page(
        request, form, heading=heading, crumbs=_project_crumbs(project), cancel_url=project.get_absolute_url()
    )


@require_POST
def milestone_done(request: HttpRequest, pk: int) -> HttpResponse:
    """Tick a milestone off from the project page; with HTMX, answer its updated row."""
    scope = request.company_scope
    milestone = selectors.milestone_get(scope=scope, pk=pk)
    project = milestone.project
    require_projects(scope, project.company)
    milestone = projects.milestone_save(
        project=project, saved_by=request.user, milestone=milestone, status=Milestone.Status.DONE
    )
    if request.htmx:
        context = {"milestone": milestone, "today": timezone.localdate(), "can_edit": True, "project": project}
        return render(request, "finance/project_detail.html#milestone-row", context)
    messages.success(request, _("Milestone %(title)s done.") % {"title": milestone.title})
    return redirect(project.get_absolute_url())


@require_http_methods(["GET", "POST"])
def assignment_form(request: HttpRequest, project_pk: int) -> HttpResponse:
    scope = request.company_scope
    project = selectors.project_get(scope=scope, pk=project_pk)
    require_projects(scope, project.company)
    suppliers = Supplier.objects.filter(company=project.company).order_by("name")
    form = AssignmentForm(request.POST or None, request.FILES or None, suppliers=suppliers)
    if request.method == "POST" and form.is_valid():
        try:
            projects.assignment_save(project=project, saved_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Provider assigned."))
            return redirect(project.get_absolute_url())
    return _form_page(
        request, form, heading=_("Assign a provider"), crumbs=_project_crumbs(project),
        cancel_url=project.get_absolute_url(), multipart=True,
    )  # fmt: skip
