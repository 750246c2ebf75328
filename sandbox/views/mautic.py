"""HTTP face of the Mautic 5 sandbox: the paths of the real service, under /sandbox/mautic/.

Also the sandbox's own page: what a marketer does in Mautic (change a contact's e-mail address) and
what a recipient's mail client does (open a sent e-mail), each firing its webhook.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from sandbox import mautic
from sandbox.forms import MauticContactEmailForm, MauticOpenEmailForm

# Delivery attempts and sent e-mails per instance shown on the sandbox's page, newest first.
DASHBOARD_DELIVERIES = 30
DASHBOARD_SENT = 50
DELIVERY_OUTCOME_LABELS = {
    mautic.DELIVERED: gettext_lazy("Delivered"),
    mautic.FAILED: gettext_lazy("Failed"),
    mautic.UNPUBLISHED: gettext_lazy("Webhook unpublished"),
}

ApiView = Callable[..., HttpResponse]


def _json(data: object, *, status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status, safe=False)
    # Every API answer names the Mautic version (FetchCommonApiController::view).
    response["Mautic-Version"] = mautic.MAUTIC_VERSION
    return response


def mautic_api(*methods: str) -> Callable[[ApiView], ApiView]:
    """An endpoint of the emulated API: Basic or Bearer credentials of an instance are required.

    The view receives the user name (its instance) after `request`; refusals are Mautic's JSON.
    """

    def decorate(view: ApiView) -> ApiView:
        @wraps(view)
        def endpoint(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                username = mautic.authenticate(request.headers.get("Authorization", ""))
                return view(request, username, *args, **kwargs)
            except mautic.ApiError as error:
                return _json(error.body, status=error.status)

        return login_not_required(csrf_exempt(never_cache(require_http_methods(methods)(endpoint))))

    return decorate


def _body(request: HttpRequest) -> object:
    """A JSON body (FOSRest's body listener), or the form fields of a form-encoded one."""
    if request.content_type == "application/x-www-form-urlencoded":
        return request.POST.dict()
    try:
        return json.loads(request.body or b"{}")
    except ValueError:
        raise mautic.ApiError(400, {"errors": [{"code": 400, "message": mautic.INVALID_JSON, "details": [],
                                                "type": None}]}) from None  # fmt: skip


# OAuth2


@login_not_required
@csrf_exempt
@never_cache
@require_POST
def token(request: HttpRequest) -> JsonResponse:
    """POST /oauth/v2/token (client_credentials); the client may also authenticate with HTTP Basic."""
    fields = request.POST.dict() if request.content_type != "application/json" else _json_fields(request)
    client_id, client_secret = fields.get("client_id", ""), fields.get("client_secret", "")
    scheme, _space, credentials = request.headers.get("Authorization", "").partition(" ")
    if not client_id and scheme.lower() == "basic":
        try:
            client_id, _colon, client_secret = base64.b64decode(credentials.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            client_id = ""
    try:
        grant = mautic.issue_token(fields.get("grant_type", ""), client_id, client_secret)
    except mautic.ApiError as error:
        return JsonResponse(error.body, status=error.status)
    response = JsonResponse(grant)
    response["Cache-Control"] = "no-store"
    return response


def _json_fields(request: HttpRequest) -> dict:
    try:
        fields = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return {key: str(value) for key, value in fields.items()} if isinstance(fields, dict) else {}


# Contacts


@mautic_api("GET")
def contacts(request: HttpRequest, username: str) -> JsonResponse:
    total, page = mautic.find_contacts(username, request.GET)
    # LeadRepository answers the contacts keyed by id and the total as a string; none is an empty array.
    keyed = {str(contact["id"]): contact for contact in page}
    return _json({"total": str(total), "contacts": keyed or []})


@mautic_api("POST")
def contact_new(request: HttpRequest, username: str) -> JsonResponse:
    status, contact = mautic.create_contact(username, _body(request))
    return _json({"contact": contact}, status=status)


@mautic_api("GET")
def contact_detail(request: HttpRequest, username: str, contact_id: int) -> JsonResponse:
    return _json({"contact": mautic.get_contact(username, contact_id)})


@mautic_api("GET")
def contact_activity(request: HttpRequest, username: str, contact_id: int) -> JsonResponse:
    return _json(mautic.contact_activity(username, contact_id, request.GET))


@mautic_api("PATCH", "PUT")
def contact_edit(request: HttpRequest, username: str, contact_id: int) -> JsonResponse:
    replace = request.method == "PUT"
    status, contact = mautic.edit_contact(username, contact_id, _body(request), replace=replace)
    return _json({"contact": contact}, status=status)


# E-mails


@mautic_api("GET")
def emails(request: HttpRequest, username: str) -> JsonResponse:
    total, page = mautic.list_emails(username, request.GET)
    return _json({"total": total, "emails": page})


@mautic_api("GET")
def email_detail(request: HttpRequest, username: str, email_id: int) -> JsonResponse:
    return _json({"email": mautic.get_email(username, email_id)})


@mautic_api("POST")
def email_send(request: HttpRequest, username: str, email_id: int, contact_id: int) -> JsonResponse:
    try:
        mautic.send_email(username, email_id, contact_id, _body(request))
    except mautic.SendFailed as failure:
        return _json({"success": False, "failed": [str(failure)]})
    return _json({"success": True})


# Webhooks


@mautic_api("GET")
def hooks(request: HttpRequest, username: str) -> JsonResponse:
    total, page = mautic.list_hooks(username, request.GET)
    return _json({"total": total, "hooks": page})


@mautic_api("POST")
def hook_new(request: HttpRequest, username: str) -> JsonResponse:
    return _json({"hook": mautic.create_hook(username, _body(request))}, status=201)


@mautic_api("GET")
def hook_triggers(request: HttpRequest, username: str) -> JsonResponse:
    """GET /api/hooks/triggers: the event types a hook may subscribe to (WebhookModel::getEvents)."""
    triggers = {event: {"label": label, "description": label} for event, label in mautic.TRIGGERS.items()}
    return _json({"triggers": triggers})


@mautic_api("GET")
def hook_detail(request: HttpRequest, username: str, hook_id: int) -> JsonResponse:
    return _json({"hook": mautic.get_hook(username, hook_id)})


@mautic_api("PATCH", "PUT")
def hook_edit(request: HttpRequest, username: str, hook_id: int) -> JsonResponse:
    status, hook = mautic.edit_hook(username, hook_id, _body(request), replace=request.method == "PUT")
    return _json({"hook": hook}, status=status)


@mautic_api("DELETE")
def hook_delete(request: HttpRequest, username: str, hook_id: int) -> JsonResponse:
    return _json({"hook": mautic.delete_hook(username, hook_id)})


# The sandbox's own page


@require_http_methods(["GET"])
def dashboard(request: HttpRequest) -> HttpResponse:
    """Every emulated Mautic: contacts, template e-mails, the sent log, webhooks and their deliveries."""
    return render(request, "sandbox/mautic_dashboard.html", {"instances": [_panel(u) for u in mautic.usernames()]})


@require_POST
def dashboard_change_email(request: HttpRequest) -> HttpResponse:
    """A contact's new e-mail address, saved as in Mautic's contact form: fires lead_post_save_update."""
    form = MauticContactEmailForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a valid e-mail address."))
        return redirect("sandbox:mautic-dashboard")
    data = form.cleaned_data
    try:
        mautic.contact_change_email(data["username"], data["contact_id"], data["email"])
    except mautic.ApiError as error:
        messages.error(request, _api_error_text(error))
    else:
        messages.success(request, _("E-mail address of contact %(id)s changed.") % {"id": data["contact_id"]})
    return redirect("sandbox:mautic-dashboard")


@require_POST
def dashboard_open_email(request: HttpRequest) -> HttpResponse:
    """The "Simulate the opening" button: the recipient opens a sent e-mail, which fires email_on_open."""
    form = MauticOpenEmailForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The e-mail to open is missing."))
        return redirect("sandbox:mautic-dashboard")
    try:
        entry = mautic.open_email(form.cleaned_data["username"], form.cleaned_data["stat_id"])
    except mautic.ApiError as error:
        messages.error(request, _api_error_text(error))
    else:
        messages.success(request, _("E-mail “%(subject)s” opened.") % {"subject": entry["subject"]})
    return redirect("sandbox:mautic-dashboard")


def _panel(username: str) -> dict:
    return {
        **mautic.instance(username),
        "contacts": mautic.contacts(username),
        "emails": mautic.list_emails(username, {"limit": "1000"})[1],
        "sent": [
            {**entry, "sent": _moment(entry["dateSent"]), "read": _moment(entry["dateRead"])}
            for entry in mautic.sent_log(username)[:DASHBOARD_SENT]
        ],
        "hooks": mautic.hooks(username),
        "deliveries": [
            {
                **delivery,
                "sent": _moment(delivery["sent_at"]),
                "outcome_label": DELIVERY_OUTCOME_LABELS[delivery["outcome"]],
            }
            for delivery in mautic.delivery_log(username)[:DASHBOARD_DELIVERIES]
        ],
    }


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _api_error_text(error: mautic.ApiError) -> str:
    errors = error.body.get("errors") or [{}]
    return str(errors[0].get("message") or error.body.get("error_description") or error)
