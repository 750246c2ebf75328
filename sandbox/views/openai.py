"""HTTP face of the OpenAI sandbox: the paths of the real API, under /sandbox/openai/v1/."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from sandbox import openai


def _error(error: openai.ApiError) -> JsonResponse:
    return JsonResponse(error.body, status=error.status)


@login_not_required
@never_cache
@require_GET
def models(request: HttpRequest) -> JsonResponse:
    try:
        openai.authenticate(request.headers.get("Authorization", ""))
    except openai.ApiError as error:
        return _error(error)
    return JsonResponse(openai.models_list())


@csrf_exempt
@login_not_required
@never_cache
@require_POST
def responses(request: HttpRequest) -> JsonResponse:
    try:
        api_key = openai.authenticate(request.headers.get("Authorization", ""))
        try:
            body = json.loads(request.body)
        except ValueError:
            raise openai.ApiError(400, "We could not parse the JSON body of your request.") from None
        return JsonResponse(openai.response_create(api_key, body))
    except openai.ApiError as error:
        return _error(error)


@csrf_exempt
@login_not_required
@never_cache
@require_POST
def script(request: HttpRequest) -> JsonResponse:
    """Sandbox only (no such path at OpenAI): queue the next answer, {"status": 500} or {"output_text": "…"}."""
    try:
        api_key = openai.authenticate(request.headers.get("Authorization", ""))
        body = json.loads(request.body or b"{}")
        openai.script_push(api_key, status=int(body.get("status", 200)), output_text=body.get("output_text"))
    except openai.ApiError as error:
        return _error(error)
    except (ValueError, TypeError, AttributeError):
        return JsonResponse({"error": {"message": 'expected {"status": int} or {"output_text": str}'}}, status=400)
    return JsonResponse({"queued": True})
