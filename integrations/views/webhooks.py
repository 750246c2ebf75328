"""Inbound webhooks (outside session auth and CSRF: the signature is the authentication) and their page."""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from finance.models import Company
from finance.permissions import can_bill
from finance.views.lists import ListFilterForm, paginated, query_without
from integrations import selectors
from integrations.models import Connection, Provider, WebhookDelivery
from integrations.webhooks import directus, docuseal, inbox, invoice_ninja, mautic, revolut, web_form


def webhook_endpoint(provider: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A provider's webhook URL: outside session auth and CSRF (the signature is the authentication), and a
    body over DATA_UPLOAD_MAX_MEMORY_SIZE refused with 413 before anything reads it (Django would answer a
    bare 400); the refusal is kept, within the inbox's bounds, for the Webhooks page."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def receive(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                request.body  # noqa: B018 - reading it is the check
            except RequestDataTooBig:
                company = Company.objects.filter(code=kwargs.get("company_code", "")).first()
                inbox.delivery_reject(provider=provider, company=company, headers=request.headers, body="",
                                      reason="body too large")  # fmt: skip
                limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
                return JsonResponse({"error": f"request body too large (limit {limit} bytes)"}, status=413)
            return view(request, *args, **kwargs)

        return csrf_exempt(login_not_required(receive))

    return decorate


# What the intake reads: the provider's settings and secrets, and the company's key and code. Written out: every
# webhook request runs it, so its cost bounds the intake rate (bench_webhooks), and the ORM took 0.9 ms of CPU to
# build this join (a third of a delivery's time in the view), raw() 0.3 ms. One connection per company and provider.
_RECEIVING_CONNECTION_SQL = (
    "SELECT connection.id, connection.provider, connection.config, connection.secrets_encrypted, "  # noqa: S608 - the models' tables
    "connection.company_id, company.code AS company_code "
    f"FROM {Connection._meta.db_table} AS connection JOIN {Company._meta.db_table} AS company "
    "ON company.id = connection.company_id WHERE connection.provider = %s AND company.code = %s"
)


def _receiving_connection(provider: str, company_code: str) -> Connection | None:
    connection = next(iter(Connection.objects.raw(_RECEIVING_CONNECTION_SQL, [provider, company_code])), None)
    if connection is None:
        return None
    # The company as `only("code")` loads it: any other field is read from the database if a provider needs it.
    connection.company = Company.from_db(
        connection._state.db, ["id", "code"], [connection.company_id, connection.company_code]
    )
    return connection


@webhook_endpoint(Provider.REVOLUT)
@require_POST
def revolut_webhook(request: HttpRequest, company_code: str) -> JsonResponse:
    connection = _receiving_connection(Provider.REVOLUT, company_code)
    if connection is None:
        return JsonResponse({"error": "no Revolut connection for this company"}, status=404)
    return revolut.receive(request, connection)


@webhook_endpoint(Provider.INVOICE_NINJA)
@require_http_methods(["POST", "PUT"])  # a subscription may be registered with rest_method "put"
def invoice_ninja_webhook(request: HttpRequest, company_code: str, event_id: int) -> JsonResponse:
    connection = _receiving_connection(Provider.INVOICE_NINJA, company_code)
    if connection is None:
        return JsonResponse({"error": "no Invoice Ninja connection for this company"}, status=404)
    return invoice_ninja.receive(request, connection, event_id)


@webhook_endpoint(Provider.MAUTIC)
@require_POST
def mautic_webhook(request: HttpRequest, company_code: str) -> JsonResponse:
    connection = _receiving_connection(Provider.MAUTIC, company_code)
    if connection is None:
        return JsonResponse({"error": "no Mautic connection for this company"}, status=404)
    return mautic.receive(request, connection)


@webhook_endpoint(Provider.WEB_FORM)
@require_POST
def leads_webhook(request: HttpRequest, company_code: str) -> JsonResponse:
    """A website's contact form (a lead), signed with the company's web form secret."""
    connection = _receiving_connection(Provider.WEB_FORM, company_code)
    if connection is None:
        return JsonResponse({"error": "no website form connection for this company"}, status=404)
    return web_form.receive(request, connection)


@webhook_endpoint(Provider.DOCUSEAL)
@require_POST
def docuseal_webhook(request: HttpRequest, company_code: str) -> JsonResponse:
    connection = _receiving_connection(Provider.DOCUSEAL, company_code)
    if connection is None:
        return JsonResponse({"error": "no DocuSeal connection for this company"}, status=404)
    return docuseal.receive(request, connection)


@webhook_endpoint(Provider.DIRECTUS)
@require_POST
def directus_webhook(request: HttpRequest) -> JsonResponse:
    return directus.receive(request)


@require_GET
def delivery_list(request: HttpRequest) -> HttpResponse:
    scope = request.company_scope
    filter_form = ListFilterForm(request.GET, scope=scope, statuses=WebhookDelivery.Status.choices)
    deliveries = selectors.webhook_delivery_list(scope=scope, filters=filter_form.filters())
    context = {
        "page": paginated(request, deliveries),
        "filter_form": filter_form,
        "page_query": query_without(request, "page"),
        "replayable_company_ids": [company.pk for company in scope.visible if can_bill(scope, company)],
    }
    return render(request, "integrations/webhook_list.html", context)


@require_POST
def delivery_replay(request: HttpRequest, pk: int) -> HttpResponse:
    scope = request.company_scope
    delivery = get_object_or_404(WebhookDelivery.objects.select_related("company"), pk=pk)
    if delivery.company_id not in scope.visible_ids:
        raise Http404
    if not can_bill(scope, delivery.company):
        messages.error(request, _("Only the CEO and finance replay webhooks."))
    else:
        try:
            inbox.delivery_replay(delivery=delivery, replayed_by=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Delivery #%(id)s is being processed again.") % {"id": delivery.pk})
    return redirect("integrations:webhook-list")
