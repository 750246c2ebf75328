"""HTTP face of the ERPNext sandbox: Frappe's paths under /sandbox/erpnext/<site>/, and a page to change stock."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from sandbox import erpnext


def _error(error: erpnext.ApiError) -> JsonResponse:
    return JsonResponse(error.body, status=error.status)


@login_not_required
@never_cache
@require_GET
def resource(request: HttpRequest, site: str, doctype: str) -> JsonResponse:
    try:
        erpnext.authenticate(site, request.headers.get("Authorization", ""))
        return JsonResponse({"data": erpnext.resource_list(site, doctype, request.GET)})
    except erpnext.ApiError as error:
        return _error(error)


@login_not_required
@never_cache
@require_GET
def logged_user(request: HttpRequest, site: str) -> JsonResponse:
    try:
        return JsonResponse({"message": erpnext.authenticate(site, request.headers.get("Authorization", ""))})
    except erpnext.ApiError as error:
        return _error(error)


@require_GET
def desk_document(request: HttpRequest, site: str, slug: str, name: str) -> JsonResponse:
    """Where the Hub's links point (ERPNext's desk): the document itself, as the sandbox has no desk."""
    try:
        return JsonResponse({"data": erpnext.document_get(site, slug, name)}, json_dumps_params={"indent": 2})
    except erpnext.ApiError as error:
        return _error(error)


class StockLevelForm(forms.Form):
    site = forms.CharField(max_length=40)
    item_code = forms.CharField(max_length=140)
    warehouse = forms.CharField(max_length=140)
    actual_qty = forms.DecimalField(min_value=0, max_digits=12, decimal_places=3)


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Every emulated ERPNext site and its stock, each bin's quantity editable."""
    sites = [{"site": site, "bins": erpnext.stock_levels(site)} for site in erpnext.sites()]
    return render(request, "sandbox/erpnext_dashboard.html", {"sites": sites})


@require_POST
def stock_set(request: HttpRequest) -> HttpResponse:
    form = StockLevelForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a quantity of zero or more."))
        return redirect("sandbox:erpnext-dashboard")
    data = form.cleaned_data
    try:
        erpnext.stock_set(data["site"], item_code=data["item_code"], warehouse=data["warehouse"],
                          actual_qty=float(data["actual_qty"]))  # fmt: skip
    except erpnext.ApiError as error:
        messages.error(request, str(error))
    else:
        values = {"item": data["item_code"], "warehouse": data["warehouse"], "qty": data["actual_qty"].normalize()}
        messages.success(request, _("%(item)s in %(warehouse)s: %(qty)s in stock.") % values)
    return redirect("sandbox:erpnext-dashboard")
