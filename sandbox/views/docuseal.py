"""HTTP face of the DocuSeal sandbox: the API paths of a self-hosted DocuSeal under /sandbox/docuseal/api/,
its file links, the signer's page (/sandbox/docuseal/s/<slug>) and the sandbox's own page."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sandbox import docuseal

ApiView = Callable[..., HttpResponse]


def docuseal_api(*methods: str) -> Callable[[ApiView], ApiView]:
    """An endpoint of the emulated API: `X-Auth-Token` of an account required; refusals are `{"error": ...}`."""

    def decorate(view: ApiView) -> ApiView:
        @wraps(view)
        def endpoint(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                api_key = docuseal.authenticate(request.headers.get("X-Auth-Token", ""))
                return view(request, api_key, *args, **kwargs)
            except docuseal.ApiError as error:
                return JsonResponse(error.body, status=error.status)

        return login_not_required(csrf_exempt(never_cache(require_http_methods(methods)(endpoint))))

    return decorate


def _body(request: HttpRequest) -> object:
    try:
        return json.loads(request.body or b"{}")
    except ValueError:
        raise docuseal.ApiError(400, "Invalid JSON") from None


@docuseal_api("GET")
def templates(request: HttpRequest, api_key: str) -> JsonResponse:
    found = docuseal.templates(api_key)
    return JsonResponse({"data": found, "pagination": {"count": len(found), "next": None, "prev": None}})


@docuseal_api("GET")
def template_detail(request: HttpRequest, api_key: str, template_id: int) -> JsonResponse:
    return JsonResponse(docuseal.get_template(api_key, template_id))


@docuseal_api("GET")
def submissions(request: HttpRequest, api_key: str) -> JsonResponse:
    return JsonResponse(docuseal.list_submissions(api_key, request.GET.dict()))


@docuseal_api("POST")
def submission_from_pdf(request: HttpRequest, api_key: str) -> JsonResponse:
    submission = docuseal.create_submission_from_pdf(api_key, _body(request))
    # Lets an end-to-end test stop the Hub's worker while a stored submission has not been answered yet.
    if delay := docuseal.create_delay_seconds():
        time.sleep(delay)
    return JsonResponse(submission)


@docuseal_api("GET")
def submission_detail(request: HttpRequest, api_key: str, submission_id: int) -> JsonResponse:
    return JsonResponse(docuseal.get_submission(api_key, submission_id))


@docuseal_api("GET")
def submitters(request: HttpRequest, api_key: str) -> JsonResponse:
    return JsonResponse(docuseal.list_submitters(api_key, request.GET.dict()))


@docuseal_api("GET", "PUT")
def submitter_detail(request: HttpRequest, api_key: str, submitter_id: int) -> JsonResponse:
    if request.method == "PUT":
        return JsonResponse(docuseal.update_submitter(api_key, submitter_id, _body(request)))
    return JsonResponse(docuseal.get_submitter(api_key, submitter_id))


@login_not_required
@require_GET
def file(request: HttpRequest, key: str, filename: str) -> HttpResponse:
    """A document or audit log link: public, as DocuSeal's file links are."""
    found = docuseal.blob(key)
    if found is None:
        raise Http404
    response = HttpResponse(found[1], content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def signing(request: HttpRequest, slug: str) -> HttpResponse:
    """What the signer sees: the documents, "I accept the general terms", a typed name, Sign or Decline."""
    found = docuseal.form(slug)
    if found is None:
        raise Http404
    error = ""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "decline":
                docuseal.form_decline(slug, reason=request.POST.get("decline_reason", ""))
            else:
                docuseal.form_sign(
                    slug, name=request.POST.get("name", ""), accepted_terms=request.POST.get("accept_terms") == "on",
                    ip=request.META.get("REMOTE_ADDR", ""), user_agent=request.headers.get("User-Agent", "")[:300],
                )  # fmt: skip
        except docuseal.ApiError as refused:
            error = refused.body["error"]
        else:
            return redirect("sandbox:docuseal-signing", slug=slug)
    else:
        docuseal.form_open(slug)
    submission, person = docuseal.form(slug)
    documents = [{"name": item["name"], "url": docuseal.public_url("docuseal-file", key=item["key"],
                                                                  filename=f"{item['name']}.pdf")}
                 for item in submission["files"]]  # fmt: skip
    context = {"submission": submission, "person": person, "documents": documents, "error": error}
    return render(request, "sandbox/docuseal_signing.html", context)


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    accounts = [
        {**docuseal.account(key), "submissions_shown": docuseal.submissions_for_page(key)}
        for key in docuseal.api_keys()
    ]
    return render(request, "sandbox/docuseal_dashboard.html", {"accounts": accounts})


@require_POST
def dashboard_webhook(request: HttpRequest) -> HttpResponse:
    """DocuSeal → Settings → Webhooks: the address and the secret a person copies from the Hub's page."""
    api_key = request.POST.get("api_key", "")
    if docuseal.account(api_key) is None:
        raise Http404
    docuseal.configure_webhook(
        api_key, url=request.POST.get("url", "").strip(), secret_name=request.POST.get("secret_name", "").strip(),
        secret_value=request.POST.get("secret_value", "").strip(), hmac_secret=request.POST.get("hmac_secret", ""),
    )  # fmt: skip
    messages.success(request, "Webhook saved.")
    return redirect("sandbox:docuseal-dashboard")
