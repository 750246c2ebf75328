"""Intégrations: each company's provider connections, their settings, test, webhook and Revolut consent."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from finance.forms import TablerFormMixin
from finance.models import Company
from finance.permissions import can_bill
from integrations import connections, selectors
from integrations.clients.base import ProviderError
from integrations.models import Connection, Provider

# Providers whose settings page exists; the others arrive with their own issues.
CONFIGURABLE_PROVIDERS = (Provider.REVOLUT,)


class RevolutSettingsForm(TablerFormMixin, forms.Form):
    base_url = forms.URLField(
        label=gettext_lazy("API base URL"), assume_scheme="https", initial=connections.REVOLUT_PRODUCTION_URL,
        help_text=gettext_lazy("Production: https://b2b.revolut.com/api/1.0"),
    )  # fmt: skip
    consent_url = forms.URLField(
        label=gettext_lazy("Consent page"), assume_scheme="https", initial=connections.REVOLUT_CONSENT_URL,
        help_text=gettext_lazy("Production: https://business.revolut.com/app-confirm"),
    )  # fmt: skip
    client_id = forms.CharField(
        label=gettext_lazy("Client ID"), max_length=120,
        help_text=gettext_lazy("Revolut Business → Settings → APIs → Business API."),
    )  # fmt: skip
    private_key = forms.CharField(
        label=gettext_lazy("Private key (PEM)"), required=False, strip=True,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
        help_text=gettext_lazy("The key of the certificate uploaded at Revolut. Leave empty to keep the stored one."),
    )  # fmt: skip
    generate_key = forms.BooleanField(
        label=gettext_lazy("Generate a new key and certificate to upload at Revolut"), required=False
    )


def _company_and_connection(
    request: HttpRequest, provider: str, company_code: str
) -> tuple[Company, Connection | None]:
    scope = request.company_scope
    company = next((c for c in scope.visible if c.code == company_code), None)
    if company is None or provider not in CONFIGURABLE_PROVIDERS:
        raise Http404
    return company, connections.connection_get(company, provider)


def _require_admin(request: HttpRequest, company: Company) -> None:
    """Credentials move money: only the CEO and finance of the company see and change them."""
    if not can_bill(request.company_scope, company):
        raise Http404


@require_GET
def connection_list(request: HttpRequest) -> HttpResponse:
    scope = request.company_scope
    found = selectors.connections_by_company(scope=scope)
    rows = []
    for company in scope.companies:
        for provider in CONFIGURABLE_PROVIDERS:
            connection = found.get(company.pk, {}).get(provider)
            rows.append({
                "company": company, "provider": Provider(provider), "connection": connection,
                "status": connections.connection_status(connection), "can_manage": can_bill(scope, company),
            })  # fmt: skip
    return render(request, "integrations/connection_list.html", {"rows": rows})


@require_http_methods(["GET", "POST"])
def connection_detail(request: HttpRequest, provider: str, company_code: str) -> HttpResponse:
    company, connection = _company_and_connection(request, provider, company_code)
    _require_admin(request, company)
    initial = {"base_url": connection.base_url, **connection.config} if connection else {}
    form = RevolutSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            connections.revolut_settings_save(company=company, updated_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Revolut settings saved. Authorise the Hub at Revolut to finish."))
            return redirect("integrations:connection", provider=provider, company_code=company.code)
    context = {
        "company": company, "connection": connection, "form": form, "provider": Provider(provider),
        "status": connections.connection_status(connection),
        "webhook_url": connections.revolut_webhook_url(company),
        "redirect_uri": connections.revolut_redirect_uri(), "issuer": connections.revolut_issuer(),
        "certificate": connections.revolut_certificate(connection) if connection else "",
        "private_key_hint": connection.secret_hint("private_key") if connection else "",
        "signing_secret_hint": connection.secret_hint("webhook_signing_secrets") if connection else "",
    }  # fmt: skip
    return render(request, "integrations/connection_revolut.html", context)


def _configured(request: HttpRequest, provider: str, company_code: str) -> Connection:
    company, connection = _company_and_connection(request, provider, company_code)
    _require_admin(request, company)
    if connection is None:
        raise Http404
    return connection


@require_POST
def connection_test(request: HttpRequest, provider: str, company_code: str) -> HttpResponse:
    connection = connections.connection_probe(_configured(request, provider, company_code))
    if connection.last_probe_ok:
        messages.success(request, _("Connection works: %(detail)s") % {"detail": connection.last_probe_detail})
    else:
        messages.error(request, _("Connection test failed: %(detail)s") % {"detail": connection.last_probe_detail})
    return redirect(connection.get_absolute_url())


@require_POST
def connection_register_webhook(request: HttpRequest, provider: str, company_code: str) -> HttpResponse:
    connection = _configured(request, provider, company_code)
    try:
        connections.revolut_webhook_register(connection=connection, registered_by=request.user)
    except ProviderError as error:
        messages.error(request, _("The webhook could not be registered: %(error)s") % {"error": error.message})
    else:
        messages.success(request, _("Webhook registered at Revolut; its signing secret is stored."))
    return redirect(connection.get_absolute_url())


@require_POST
def revolut_consent(request: HttpRequest, company_code: str) -> HttpResponse:
    connection = _configured(request, Provider.REVOLUT, company_code)
    return redirect(connections.revolut_consent_link(connection, user=request.user))


@require_GET
def revolut_oauth_callback(request: HttpRequest) -> HttpResponse:
    try:
        connection = connections.revolut_consent_connection(request.GET.get("state", ""), user=request.user)
    except (ValidationError, Connection.DoesNotExist) as error:
        messages.error(request, " ".join(getattr(error, "messages", [_("Unknown connection.")])))
        return redirect("integrations:connection-list")
    _require_admin(request, connection.company)
    code = request.GET.get("code", "")
    if not code:
        reason = request.GET.get("error_description") or request.GET.get("error") or "—"
        messages.error(request, _("Revolut sent no authorisation code: %(error)s") % {"error": reason})
        return redirect(connection.get_absolute_url())
    try:
        connections.revolut_consent_complete(connection=connection, code=code, user=request.user)
    except ProviderError as error:
        messages.error(request, _("Revolut refused the authorisation: %(error)s") % {"error": error.message})
    else:
        messages.success(request, _("Revolut is authorised for %(company)s.") % {"company": connection.company.name})
    return redirect(connection.get_absolute_url())
