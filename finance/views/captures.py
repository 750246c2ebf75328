"""Achats → Documents reçus: supplier documents uploaded (drop zone, invoice form), read, checked, saved."""

import io

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from finance import capture_qr, selectors
from finance.forms import CaptureReviewForm, SupplierForm, SupplierLineFormSet
from finance.models import SupplierInvoiceCapture
from finance.permissions import require_purchase
from finance.services import capture as capture_service
from finance.views.lists import paginated
from finance.views.purchases import LINES_PREFIX, _add_service_errors, _invoice_form_choices, capture_upload_form

# Files one upload takes at most: a pile of scans, not a whole archive.
MAX_FILES = 20
CONTENT_TYPES = {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png", "heic": "image/heic"}
# Capture fields shown on the form's fields (the supplier's go to the new-supplier block).
FORM_FIELDS = {
    "invoice_number": "supplier_number", "invoice_date": "invoice_date", "due_date": "due_date",
    "currency": "currency", "iban": "creditor_iban", "reference_type": "reference_type",
    "reference": "payment_reference",
}  # fmt: skip
SUPPLIER_FIELDS = {
    "supplier_name": "name", "supplier_street": "street", "supplier_building_number": "building_number",
    "supplier_postal_code": "postal_code", "supplier_town": "town", "supplier_country": "country",
    "supplier_uid": "che_uid",
}  # fmt: skip
PREVIEW_DPI = 110


@require_GET
def capture_list(request: HttpRequest) -> HttpResponse:
    show_all = request.GET.get("all") == "1"
    captures = selectors.capture_list(scope=request.company_scope, open_only=not show_all)
    page = paginated(request, captures)
    runs = capture_service.capture_read_runs(list(page))
    for capture in page:
        capture.read_run = runs.get(capture.pk)
    context = {"page": page, "show_all": show_all, "upload_form": capture_upload_form(request)}
    return render(request, "finance/capture_list.html", context)


@require_POST
def capture_upload(request: HttpRequest) -> HttpResponse:
    """Receive one or more documents; one opens its review, several go to the inbox."""
    form = capture_upload_form(request, request.POST)
    if form is None:
        raise PermissionDenied(_("Only the CEO, finance and operations can enter supplier invoices."))
    files = request.FILES.getlist("documents")
    back = request.POST.get("next") if request.POST.get("next") in ("list", "form") else "list"
    if not form.is_valid() or not files or len(files) > MAX_FILES:
        problem = (
            " ".join(" ".join(errors) for errors in form.errors.values()) if not form.is_valid()
            else _("Choose at least one file.") if not files
            else _("At most %(count)s files at once.") % {"count": MAX_FILES}
        )  # fmt: skip
        messages.error(request, problem)
        return redirect("finance:supplier-invoice-new" if back == "form" else "finance:capture-list")
    company = form.cleaned_data["company"]
    received = []
    for upload in files:
        if upload.size > capture_qr.MAX_DOCUMENT_BYTES:
            messages.error(request, _("%(name)s: the file is larger than 15 MB.") % {"name": upload.name})
            continue
        try:
            capture, created = capture_service.capture_receive(
                company=company, data=upload.read(), filename=upload.name or "", received_by=request.user
            )
        except ValidationError as error:
            messages.error(request, f"{upload.name}: {' '.join(error.messages)}")
            continue
        if not created:
            messages.warning(request, _("%(name)s was received already: opened the first one.") % {"name": upload.name})
        received.append(capture)
    if len(received) == 1:
        return redirect(received[0].get_absolute_url())
    if received:
        messages.success(request, _("%(count)s documents received: they are being read.") % {"count": len(received)})
    return redirect("finance:supplier-invoice-new" if back == "form" and not received else "finance:capture-list")


def _review_forms(request: HttpRequest, capture: SupplierInvoiceCapture):
    suppliers, projects = _invoice_form_choices(request.company_scope)
    suppliers = suppliers.filter(company=capture.company)
    projects = projects.filter(company=capture.company)
    initial, lines = capture_service.review_initial(capture)
    data = request.POST if request.method == "POST" else None
    form = CaptureReviewForm(data, initial=initial, suppliers=suppliers, projects=projects)
    supplier_form = SupplierForm(data, prefix="new_supplier", initial=capture_service.new_supplier_initial(capture))
    formset = SupplierLineFormSet(data, prefix=LINES_PREFIX, initial=lines)
    return form, supplier_form, formset


def _mark_doubts(capture: SupplierInvoiceCapture, form, supplier_form) -> dict[str, str]:
    """Mark each doubtful field on its form field; return the doubts no field shows (total, VAT lines)."""
    unmarked = {}
    for name, doubt in capture.doubtful().items():
        if name in FORM_FIELDS:
            field = form.fields[FORM_FIELDS[name]]
        elif name in SUPPLIER_FIELDS:
            field = supplier_form.fields[SUPPLIER_FIELDS[name]]
        else:
            unmarked[name] = doubt
            continue
        field.widget.attrs["class"] = f"{field.widget.attrs.get('class', '')} is-doubtful".strip()
        field.doubt = doubt  # read by finance/_capture_field.html
    return unmarked


@require_http_methods(["GET", "POST"])
def capture_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The document beside its draft: fields filled from the reading, doubtful ones marked, saved by a person."""
    scope = request.company_scope
    capture = selectors.capture_get(scope=scope, pk=pk)
    if request.method == "POST":
        require_purchase(scope, capture.company)
    form, supplier_form, formset = _review_forms(request, capture)
    if request.method == "POST" and capture.status == SupplierInvoiceCapture.Status.TO_CHECK:
        creating = request.POST.get("create_supplier") == "on" and not request.POST.get("supplier")
        if form.is_valid() and formset.is_valid() and (not creating or supplier_form.is_valid()):
            fields = {
                name: value for name, value in form.cleaned_data.items() if name not in ("supplier", "create_supplier")
            }
            if not fields.get("creditor_iban"):
                fields.pop("creditor_iban")
            new_supplier = dict(supplier_form.cleaned_data) if creating else None
            try:
                invoice = capture_service.capture_save(
                    capture=capture, saved_by=request.user, supplier=form.cleaned_data.get("supplier"),
                    new_supplier=new_supplier, lines=formset.lines(), submit="submit" in request.POST, **fields,
                )  # fmt: skip
            except ValidationError as error:
                _add_service_errors(form, error)
            else:
                saved = (
                    _("Supplier invoice %(number)s saved and submitted for approval.")
                    if invoice.status == "to_approve" else _("Supplier invoice %(number)s saved.")
                )  # fmt: skip
                messages.success(request, saved % {"number": invoice.supplier_number})
                return redirect(invoice.get_absolute_url())
    context = {
        "capture": capture, "form": form, "supplier_form": supplier_form, "formset": formset,
        "run": capture_service.capture_read_run(capture),
        "can_edit": capture.status == SupplierInvoiceCapture.Status.TO_CHECK,
        "page_numbers": range(1, max(capture.pages, 1) + 1),
        "other_doubts": _mark_doubts(capture, form, supplier_form),
        "line_doubts": [line["doubt"] for line in capture.vat_lines if line.get("doubt")],
    }  # fmt: skip
    return render(request, "finance/capture_detail.html", context)


@require_GET
def capture_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The reading's progress, polled by the review page while the document is being read."""
    capture = selectors.capture_get(scope=request.company_scope, pk=pk)
    context = {"capture": capture, "run": capture_service.capture_read_run(capture)}
    response = render(request, "finance/capture_detail.html#reading-status", context)
    if capture.status != SupplierInvoiceCapture.Status.READING and request.htmx:
        response["HX-Refresh"] = "true"
    return response


@require_GET
def capture_document(request: HttpRequest, pk: int) -> FileResponse:
    """The original as received."""
    capture = selectors.capture_get(scope=request.company_scope, pk=pk)
    response = FileResponse(capture.document.open("rb"), content_type=CONTENT_TYPES[capture.kind],
                            as_attachment=capture.kind == "heic", filename=capture.filename)  # fmt: skip
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@require_GET
def capture_page(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """One page as a PNG, for the review page beside the form (a browser shows no HEIC, and no PDF on phones)."""
    capture = selectors.capture_get(scope=request.company_scope, pk=pk)
    with capture.document.open("rb") as handle:
        data = handle.read()
    try:
        pages = capture_qr.document_pages(data, dpi=PREVIEW_DPI, max_pages=number)
    except capture_qr.UnsupportedDocument:
        raise Http404 from None
    if not 1 <= number <= len(pages):
        raise Http404
    out = io.BytesIO()
    pages[number - 1].save(out, "PNG", optimize=False)
    response = HttpResponse(out.getvalue(), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _capture_action(request: HttpRequest, pk: int, act, success: str) -> HttpResponse:
    capture = selectors.capture_get(scope=request.company_scope, pk=pk)
    require_purchase(request.company_scope, capture.company)
    try:
        act(capture)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, success)
    return redirect(capture.get_absolute_url())


@require_POST
def capture_read_again(request: HttpRequest, pk: int) -> HttpResponse:
    return _capture_action(
        request, pk, lambda c: capture_service.capture_read_again(capture=c, actor=request.user),
        _("The document is being read again."),
    )  # fmt: skip


@require_POST
def capture_discard(request: HttpRequest, pk: int) -> HttpResponse:
    return _capture_action(
        request, pk,
        lambda c: capture_service.capture_discard(capture=c, actor=request.user, reason=request.POST.get("reason", "")),
        _("Document discarded."),
    )  # fmt: skip
