"""Intégrations: each company's provider connections, their settings, test, webhook and Revolut consent."""

from datetime import datetime

from django import forms
from django.conf import settings
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
from integrations import connections, docuseal, erpnext, invoice_ninja, mautic, revolut, selectors, web_form
from integrations import openai as openai_connection
from integrations.clients.base import ProviderError
from integrations.models import MAUTIC_AUTH_BASIC, MAUTIC_AUTH_OAUTH2, Connection, Provider

# Providers each company connects on its own settings page (Directus is one for the group, set up by its command).
CONFIGURABLE_PROVIDERS = (
    Provider.REVOLUT, Provider.INVOICE_NINJA, Provider.MAUTIC, Provider.DOCUSEAL, Provider.OPENAI, Provider.ERPNEXT,
    Provider.WEB_FORM,
)  # fmt: skip


class RevolutSettingsForm(TablerFormMixin, forms.Form):
    base_url = forms.URLField(
        label=gettext_lazy("API base URL"), assume_scheme="https", initial=revolut.REVOLUT_PRODUCTION_URL,
        help_text=gettext_lazy("Production: https://b2b.revolut.com/api/1.0"),
    )  # fmt: skip
    consent_url = forms.URLField(
        label=gettext_lazy("Consent page"), assume_scheme="https", initial=revolut.REVOLUT_CONSENT_URL,
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


class InvoiceNinjaSettingsForm(TablerFormMixin, forms.Form):
    base_url = forms.URLField(
        label=gettext_lazy("Invoice Ninja address"), assume_scheme="https",
        initial=invoice_ninja.INVOICE_NINJA_HOSTED_URL,
        help_text=gettext_lazy("Hosted: https://invoicing.co — or your own server's address."),
    )  # fmt: skip
    api_token = forms.CharField(
        label=gettext_lazy("API token"), required=False, strip=True, max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=gettext_lazy("Invoice Ninja → Settings → Account management → API tokens. "
                               "Leave empty to keep the stored one."),
    )  # fmt: skip
    api_secret = forms.CharField(
        label=gettext_lazy("API secret (self-hosted only)"), required=False, strip=True, max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=gettext_lazy("Only if your server sets API_SECRET. Leave empty to keep the stored one."),
    )  # fmt: skip
    signature_channel = forms.ChoiceField(
        label=gettext_lazy("Quotes are signed in"), choices=Company.SignatureChannel.choices,
        help_text=gettext_lazy("With Invoice Ninja, a quote the client approves in its portal becomes signed."),
    )  # fmt: skip


class MauticSettingsForm(TablerFormMixin, forms.Form):
    base_url = forms.URLField(
        label=gettext_lazy("Mautic address"), assume_scheme="https",
        help_text=gettext_lazy("The address of your Mautic, e.g. https://mautic.example.ch. Mautic → Configuration "
                               "→ API settings: API enabled."),
    )  # fmt: skip
    auth_method = forms.ChoiceField(
        label=gettext_lazy("Authentication"), widget=forms.RadioSelect,
        choices=[(MAUTIC_AUTH_BASIC, gettext_lazy("Basic (a Mautic user; “HTTP basic auth” enabled in Mautic)")),
                 (MAUTIC_AUTH_OAUTH2, gettext_lazy("OAuth2 client credentials (Mautic → API credentials)"))],
    )  # fmt: skip
    username = forms.CharField(label=gettext_lazy("Mautic user"), required=False, max_length=150)
    password = forms.CharField(
        label=gettext_lazy("Password"), required=False, strip=False, max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=gettext_lazy("Leave empty to keep the stored one."),
    )  # fmt: skip
    client_id = forms.CharField(label=gettext_lazy("Client ID"), required=False, max_length=200)
    client_secret = forms.CharField(
        label=gettext_lazy("Client secret"), required=False, strip=True, max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=gettext_lazy("Leave empty to keep the stored one."),
    )  # fmt: skip


class AcknowledgementEmailsForm(TablerFormMixin, forms.Form):
    """The "project started" template e-mail per client language: a blank one falls back to another language."""

    fr = forms.IntegerField(label=gettext_lazy("French"), required=False, min_value=1)
    de = forms.IntegerField(label=gettext_lazy("German"), required=False, min_value=1)
    en = forms.IntegerField(label=gettext_lazy("English"), required=False, min_value=1)
    it = forms.IntegerField(label=gettext_lazy("Italian"), required=False, min_value=1)

    def clean(self):
        cleaned = super().clean()
        if not any(cleaned.get(language) for language in mautic.ACKNOWLEDGEMENT_LANGUAGES):
            raise ValidationError(_("Choose the template e-mail of at least one language."))
        return cleaned


class OpenAISettingsForm(TablerFormMixin, forms.Form):
    base_url = forms.URLField(
        label=gettext_lazy("API base URL"), assume_scheme="https", initial=openai_connection.DEFAULT_BASE_URL,
        help_text=gettext_lazy("OpenAI: https://api.openai.com/v1"),
    )  # fmt: skip
    api_key = forms.CharField(
        label=gettext_lazy("API key"), required=False, strip=True, max_length=300,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=gettext_lazy("platform.openai.com → API keys. Leave empty to keep the stored one."),
    )  # fmt: skip
    model = forms.CharField(
        label=gettext_lazy("Model"), max_length=80, initial=openai_connection.DEFAULT_MODEL,
        help_text=gettext_lazy("A model with structured outputs, e.g. gpt-4.1-mini."),
    )  # fmt: skip


class ERPNextSettingsForm(TablerFormMixin, forms.Form):
    base_url = forms.URLField(
        label=gettext_lazy("ERPNext site address"), assume_scheme="https",
        help_text=gettext_lazy("The address you open ERPNext at, e.g. https://erp.example.ch."),
    )  # fmt: skip
    api_key = forms.CharField(
        label=gettext_lazy("API key"), required=False, strip=True, max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=gettext_lazy("ERPNext → User → Settings → API Access → Generate Keys, for a user who may read "
                               "stock, purchasing, HR and suppliers. Leave empty to keep the stored one."),
    )  # fmt: skip
    api_secret = forms.CharField(
        label=gettext_lazy("API secret"), required=False, strip=True, max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=gettext_lazy("Shown once by ERPNext with the key. Leave empty to keep the stored one."),
    )  # fmt: skip
    erpnext_company = forms.CharField(
        label=gettext_lazy("ERPNext company"), max_length=140,
        help_text=gettext_lazy("The company's name in ERPNext (Setup → Company), exactly as written there."),
    )  # fmt: skip


class DocuSealSettingsForm(TablerFormMixin, forms.Form):
    base_url = forms.URLField(
        label=gettext_lazy("DocuSeal API address"), assume_scheme="https", initial=docuseal.DOCUSEAL_GLOBAL_URL,
        help_text=gettext_lazy("https://api.docuseal.com, https://api.docuseal.eu, or https://<your server>/api."),
    )  # fmt: skip
    api_key = forms.CharField(
        label=gettext_lazy("API key"), required=False, strip=True, max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=gettext_lazy("DocuSeal → Settings → API. Leave empty to keep the stored one."),
    )  # fmt: skip
    template_id = forms.IntegerField(
        label=gettext_lazy("Quote template ID"), min_value=1,
        help_text=gettext_lazy("The template holding the signature and terms fields the client fills in."),
    )  # fmt: skip
    cgv_version = forms.CharField(
        label=gettext_lazy("General terms version"), max_length=60, help_text=gettext_lazy("e.g. CGV 2026-01")
    )
    cgv_file = forms.FileField(
        label=gettext_lazy("General terms (PDF)"), required=False,
        help_text=gettext_lazy("Sent with every quote. Leave empty to keep the stored file."),
    )  # fmt: skip
    secret_header_name = forms.CharField(
        label=gettext_lazy("Webhook secret header"), max_length=80, initial=docuseal.DEFAULT_SECRET_HEADER,
        help_text=gettext_lazy("The key entered in DocuSeal → Settings → Webhooks → Secret."),
    )  # fmt: skip
    hmac_secret = forms.CharField(
        label=gettext_lazy("HMAC signing secret (optional)"), required=False, strip=True, max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=gettext_lazy("If DocuSeal shows one (whsec_…), X-Docuseal-Signature is checked too. "
                               "Leave empty to keep the stored one."),
    )  # fmt: skip
    regenerate_secret = forms.BooleanField(label=gettext_lazy("Generate a new webhook secret value"), required=False)


def _company_and_connection(
    request: HttpRequest, provider: str, company_code: str
) -> tuple[Company, Connection | None]:
    scope = request.company_scope
    company = next((c for c in scope.visible if c.code == company_code), None)
    if company is None or provider not in CONFIGURABLE_PROVIDERS:
        raise Http404
    return company, selectors.connection_get(company, provider)


def _require_admin(request: HttpRequest, company: Company) -> None:
    """Credentials move money: only the CEO and finance of the company see and change them."""
    if not can_bill(request.company_scope, company):
        raise Http404


@require_GET
def connection_list(request: HttpRequest) -> HttpResponse:
    scope = request.company_scope
    found = selectors.connections_by_company(scope=scope)
    shown = [(company, provider, found.get(company.pk, {}).get(provider))
             for company in scope.companies for provider in CONFIGURABLE_PROVIDERS]  # fmt: skip
    statuses = selectors.connection_statuses([connection for _company, _provider, connection in shown])
    rows = [
        {"company": company, "provider": Provider(provider), "connection": connection, "status": status,
         "can_manage": can_bill(scope, company)}
        for (company, provider, connection), status in zip(shown, statuses, strict=True)
    ]  # fmt: skip
    context = {"rows": rows, "directus_status": selectors.directus_status(), "directus_url": settings.HV_DIRECTUS_URL}
    return render(request, "integrations/connection_list.html", context)


@require_http_methods(["GET", "POST"])
def connection_detail(request: HttpRequest, provider: str, company_code: str) -> HttpResponse:
    company, connection = _company_and_connection(request, provider, company_code)
    _require_admin(request, company)
    if provider == Provider.INVOICE_NINJA:
        return _invoice_ninja_detail(request, company, connection)
    if provider == Provider.MAUTIC:
        return _mautic_detail(request, company, connection)
    if provider == Provider.OPENAI:
        return _openai_detail(request, company, connection)
    if provider == Provider.WEB_FORM:
        return _web_form_detail(request, company, connection)
    if provider == Provider.DOCUSEAL:
        return _docuseal_detail(request, company, connection)
    if provider == Provider.ERPNEXT:
        return _erpnext_detail(request, company, connection)
    initial = {"base_url": connection.base_url, **connection.config} if connection else {}
    form = RevolutSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            revolut.revolut_settings_save(company=company, updated_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Revolut settings saved. Authorise the Hub at Revolut to finish."))
            return redirect("integrations:connection", provider=provider, company_code=company.code)
    context = {
        "company": company, "connection": connection, "form": form, "provider": Provider(provider),
        "status": selectors.connection_status(connection),
        "webhook_url": revolut.revolut_webhook_url(company),
        "redirect_uri": revolut.revolut_redirect_uri(), "issuer": revolut.revolut_issuer(),
        "certificate": revolut.revolut_certificate(connection) if connection else "",
        "private_key_hint": connection.secret_hint("private_key") if connection else "",
        "signing_secret_hint": connection.secret_hint("webhook_signing_secrets") if connection else "",
    }  # fmt: skip
    return render(request, "integrations/connection_revolut.html", context)


def _invoice_ninja_detail(request: HttpRequest, company: Company, connection: Connection | None) -> HttpResponse:
    initial = {"base_url": connection.base_url if connection else invoice_ninja.INVOICE_NINJA_HOSTED_URL,
               "signature_channel": company.signature_channel}  # fmt: skip
    form = InvoiceNinjaSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            invoice_ninja.settings_save(company=company, updated_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, _("Invoice Ninja settings saved. Test the connection, then register the webhooks.")
            )
            return redirect("integrations:connection", provider=Provider.INVOICE_NINJA, company_code=company.code)
    state = (connection.config.get("webhook_state") if connection else None) or {}
    rows = state.get("events") or [
        {"event_id": int(event), "event": invoice_ninja.EVENT_LABELS[event], "registered": False,
         "url": invoice_ninja.webhook_url(company, event)}
        for event in invoice_ninja.SUBSCRIBED_EVENTS
    ]  # fmt: skip
    context = {
        "company": company, "connection": connection, "form": form, "provider": Provider(Provider.INVOICE_NINJA),
        "status": selectors.connection_status(connection), "webhook_rows": rows,
        "webhooks_checked_at": datetime.fromisoformat(state["checked_at"]) if state.get("checked_at") else None,
        "token_hint": connection.secret_hint("api_token") if connection else "",
        "api_secret_hint": connection.secret_hint("api_secret") if connection else "",
        "webhook_secret_hint": connection.secret_hint("webhook_secret") if connection else "",
    }  # fmt: skip
    return render(request, "integrations/connection_invoice_ninja.html", context)


def _mautic_detail(
    request: HttpRequest, company: Company, connection: Connection | None,
    acknowledgement_form: AcknowledgementEmailsForm | None = None,
) -> HttpResponse:  # fmt: skip
    config = connection.config if connection else {}
    initial = {"base_url": connection.base_url if connection else "", "auth_method": config.get("auth_method", "basic"),
               "username": config.get("username", ""), "client_id": config.get("client_id", "")}  # fmt: skip
    form = MauticSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            mautic.settings_save(company=company, updated_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Mautic settings saved. Test the connection, then register the webhook."))
            return redirect("integrations:connection", provider=Provider.MAUTIC, company_code=company.code)
    state = config.get("webhook_state") or {}
    context = {
        "company": company, "connection": connection, "form": form, "provider": Provider(Provider.MAUTIC),
        "status": selectors.connection_status(connection), "webhook_url": mautic.webhook_url(company),
        "webhook_events": [str(event) for event in mautic.SUBSCRIBED_EVENTS],
        "webhook_registered": bool(state.get("hook_id"))
        and len(state.get("events", [])) == len(mautic.SUBSCRIBED_EVENTS),
        "webhooks_checked_at": datetime.fromisoformat(state["checked_at"]) if state.get("checked_at") else None,
        "secret_hint": connection.secret_hint("password" if config.get("auth_method") != MAUTIC_AUTH_OAUTH2
                                              else "client_secret") if connection else "",
        "webhook_secret_hint": connection.secret_hint("webhook_secret") if connection else "",
        "acknowledgement_form": acknowledgement_form
        or AcknowledgementEmailsForm(initial=mautic.acknowledgement_emails(connection)),
    }  # fmt: skip
    return render(request, "integrations/connection_mautic.html", context)


@require_POST
def mautic_acknowledgement_emails(request: HttpRequest, company_code: str) -> HttpResponse:
    connection = _configured(request, Provider.MAUTIC, company_code)
    form = AcknowledgementEmailsForm(request.POST)
    if not form.is_valid():
        return _mautic_detail(request, connection.company, connection, acknowledgement_form=form)
    mautic.acknowledgement_emails_save(connection=connection, emails=form.cleaned_data, updated_by=request.user)
    messages.success(request, _("“Project started” e-mails saved."))
    return redirect(connection.get_absolute_url())


def _openai_detail(request: HttpRequest, company: Company, connection: Connection | None) -> HttpResponse:
    initial = {
        "base_url": connection.base_url if connection else openai_connection.DEFAULT_BASE_URL,
        "model": openai_connection.model_of(connection) if connection else openai_connection.DEFAULT_MODEL,
    }
    form = OpenAISettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            openai_connection.settings_save(company=company, updated_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("OpenAI settings saved. Test the connection."))
            return redirect("integrations:connection", provider=Provider.OPENAI, company_code=company.code)
    context = {
        "company": company, "connection": connection, "form": form, "provider": Provider(Provider.OPENAI),
        "status": selectors.connection_status(connection),
        "secret_hint": connection.secret_hint("api_key") if connection else "",
    }  # fmt: skip
    return render(request, "integrations/connection_openai.html", context)


def _erpnext_detail(request: HttpRequest, company: Company, connection: Connection | None) -> HttpResponse:
    config = connection.config if connection else {}
    initial = {"base_url": connection.base_url if connection else "",
               "erpnext_company": config.get("erpnext_company", company.name)}  # fmt: skip
    form = ERPNextSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            erpnext.settings_save(company=company, updated_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("ERPNext settings saved. Test the connection."))
            return redirect("integrations:connection", provider=Provider.ERPNEXT, company_code=company.code)
    context = {
        "company": company, "connection": connection, "form": form, "provider": Provider(Provider.ERPNEXT),
        "status": selectors.connection_status(connection),
        "api_key_hint": connection.secret_hint("api_key") if connection else "",
        "api_secret_hint": connection.secret_hint("api_secret") if connection else "",
    }  # fmt: skip
    return render(request, "integrations/connection_erpnext.html", context)


def _web_form_detail(request: HttpRequest, company: Company, connection: Connection | None) -> HttpResponse:
    if request.method == "POST":
        _connection, secret = web_form.secret_rotate(company=company, rotated_by=request.user)
        # Shown once, on the next page only: the stored secret is never displayed in full again.
        request.session[f"hv_web_form_secret_{company.code}"] = secret
        messages.success(request, _("New secret generated. Copy it into the website now: it is shown only once."))
        return redirect("integrations:connection", provider=Provider.WEB_FORM, company_code=company.code)
    context = {
        "company": company, "connection": connection, "provider": Provider(Provider.WEB_FORM),
        "status": selectors.connection_status(connection), "webhook_url": web_form.webhook_url(company),
        "new_secret": request.session.pop(f"hv_web_form_secret_{company.code}", ""),
        "secret_hint": connection.secret_hint("signing_secret") if connection else "",
        "signature_header": web_form.SIGNATURE_HEADER,
    }  # fmt: skip
    return render(request, "integrations/connection_web_form.html", context)


def _docuseal_detail(request: HttpRequest, company: Company, connection: Connection | None) -> HttpResponse:
    config = connection.config if connection else {}
    initial = {
        "base_url": connection.base_url if connection else docuseal.DOCUSEAL_GLOBAL_URL,
        "template_id": config.get("template_id"), "cgv_version": config.get("cgv_version", ""),
        "secret_header_name": config.get("webhook_secret_name", docuseal.DEFAULT_SECRET_HEADER),
    }  # fmt: skip
    form = DocuSealSettingsForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            docuseal.settings_save(company=company, updated_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("DocuSeal settings saved. Enter the webhook in DocuSeal, then test."))
            return redirect("integrations:connection", provider=Provider.DOCUSEAL, company_code=company.code)
    context = {
        "company": company, "connection": connection, "form": form, "provider": Provider(Provider.DOCUSEAL),
        "status": selectors.connection_status(connection), "webhook_url": docuseal.webhook_url(company),
        "config": config, "usable": selectors.usable_connection(company, Provider.DOCUSEAL) is not None,
        "secret_header_name": docuseal.webhook_secret_name(connection) if connection else "",
        # The value is shown in full: a person pastes it into DocuSeal, which has no API for webhooks.
        "webhook_secret": connection.secret("webhook_secret") if connection else "",
        "api_key_hint": connection.secret_hint("api_key") if connection else "",
        "hmac_secret_hint": connection.secret_hint("hmac_secret") if connection else "",
    }  # fmt: skip
    return render(request, "integrations/connection_docuseal.html", context)


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
    registrations = {
        Provider.INVOICE_NINJA: (invoice_ninja.webhooks_register,
                                 _("Webhooks registered at Invoice Ninja, one per event, with the secret header.")),
        Provider.MAUTIC: (mautic.webhooks_register,
                          _("Webhook registered at Mautic, signed with this company's secret.")),
        Provider.REVOLUT: (revolut.revolut_webhook_register,
                           _("Webhook registered at Revolut; its signing secret is stored.")),
    }  # fmt: skip
    if provider not in registrations:
        raise Http404  # DocuSeal has no webhook API: its page says what to enter in DocuSeal
    register, done = registrations[provider]
    try:
        register(connection=connection, registered_by=request.user)
    except ProviderError as error:
        messages.error(request, _("The webhook could not be registered: %(error)s") % {"error": error.message})
    else:
        messages.success(request, done)
    return redirect(connection.get_absolute_url())


@require_POST
def revolut_consent(request: HttpRequest, company_code: str) -> HttpResponse:
    connection = _configured(request, Provider.REVOLUT, company_code)
    return redirect(revolut.revolut_consent_link(connection, user=request.user))


@require_GET
def revolut_oauth_callback(request: HttpRequest) -> HttpResponse:
    try:
        connection = revolut.revolut_consent_connection(request.GET.get("state", ""), user=request.user)
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
        revolut.revolut_consent_complete(connection=connection, code=code, user=request.user)
    except ProviderError as error:
        messages.error(request, _("Revolut refused the authorisation: %(error)s") % {"error": error.message})
    else:
        messages.success(request, _("Revolut is authorised for %(company)s.") % {"company": connection.company.name})
    return redirect(connection.get_absolute_url())
