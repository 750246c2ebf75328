"""Website contact forms: a lead posted as JSON or form-encoded, signed `X-Hub-Signature-256: sha256=<hex>`.

The signature (HMAC-SHA256 of the raw body with the company's secret) is checked before anything is read.
A signed body that is not a lead (not UTF-8, not an object, a field of the wrong type, no e-mail and no
phone) is refused with a 400 that says why; every refusal is stored for the Webhooks page. The same body
twice is one delivery; processing (in Celery) takes the lead in through the lead service.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from urllib.parse import parse_qsl

from django import forms
from django.http import HttpRequest, JsonResponse
from django.utils import translation

from finance.models import Currency, Language, Lead, ProjectType
from finance.services import leads
from integrations import web_form
from integrations.models import Connection, Provider, WebhookDelivery
from integrations.webhooks import inbox

# A contact form is a few kilobytes; anything much larger is not one.
MAX_BODY_BYTES = 64 * 1024
FORM_ENCODED = "application/x-www-form-urlencoded"


class LeadPayloadForm(forms.Form):
    """The fields a website may send; unknown fields (honeypots, tracking ids) are ignored."""

    first_name = forms.CharField(max_length=80, required=False)
    last_name = forms.CharField(max_length=80, required=False)
    organisation = forms.CharField(max_length=120, required=False)
    email = forms.EmailField(required=False)
    phone = forms.CharField(max_length=40, required=False)
    language = forms.ChoiceField(choices=Language.choices, required=False)
    town = forms.CharField(max_length=35, required=False)
    project_type = forms.ChoiceField(choices=ProjectType.choices, required=False)
    budget = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False)
    currency = forms.ChoiceField(choices=Currency.choices, required=False)
    event_date = forms.DateField(input_formats=["%Y-%m-%d", "%d.%m.%Y"], required=False)
    message = forms.CharField(max_length=5000, required=False)

    def clean(self):
        data = super().clean()
        if not data.get("email") and not data.get("phone") and not {"email", "phone"} & set(self.errors):
            raise forms.ValidationError("give email or phone")
        return data

    def lead_input(self) -> leads.LeadInput:
        data = self.cleaned_data
        return leads.LeadInput(
            source=Lead.Source.WEBSITE, first_name=data["first_name"], last_name=data["last_name"],
            organisation=data["organisation"], email=data["email"], phone=data["phone"],
            language=data["language"] or Language.FRENCH, town=data["town"],
            project_type=data["project_type"] or ProjectType.OTHER, budget=data["budget"],
            currency=data["currency"] or Currency.CHF, event_date=data["event_date"], message=data["message"],
        )  # fmt: skip


class PayloadError(ValueError):
    """The body is not a lead; the message says why (it is sent back to the website)."""


def payload_form(raw_body: bytes, content_type: str) -> LeadPayloadForm:
    """The validated form of a raw body, or PayloadError."""
    if len(raw_body) > MAX_BODY_BYTES:
        raise PayloadError(f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        text = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8") from None
    if "\x00" in text:
        raise PayloadError("body contains NUL characters")
    if content_type == FORM_ENCODED:
        fields: object = dict(parse_qsl(text, keep_blank_values=True))
    else:
        try:
            fields = json.loads(text)
        except ValueError as error:
            raise PayloadError(f"body is not JSON: {error}") from None
    if not isinstance(fields, dict):
        raise PayloadError("body must be a JSON object of the form's fields")
    known = {name: value for name, value in fields.items() if name in LeadPayloadForm.base_fields}
    for name, value in known.items():
        if isinstance(value, bool) or not (value is None or isinstance(value, str | int | float)):
            raise PayloadError(f"{name}: expected a string or a number")
        if isinstance(value, str) and "\x00" in value:
            raise PayloadError(f"{name}: contains NUL characters")
    form = LeadPayloadForm({name: "" if value is None else str(value) for name, value in known.items()})
    # The reasons go back to the website's developer: in English, whatever the request's language.
    with translation.override("en"):
        if not form.is_valid():
            problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
            raise PayloadError(problems.replace("__all__: ", ""))
    return form


def receive(request: HttpRequest, connection: Connection) -> JsonResponse:
    company = connection.company
    raw_body = request.body
    if not web_form.signature_valid(connection, raw_body, request.headers.get(web_form.SIGNATURE_HEADER, "")):
        reason = f"missing or wrong {web_form.SIGNATURE_HEADER}"
        inbox.delivery_reject(provider=Provider.WEB_FORM, company=company, headers=request.headers,
                              body=inbox.body_text(raw_body), reason=reason)  # fmt: skip
        return JsonResponse({"error": reason}, status=401)
    try:
        payload_form(raw_body, request.content_type)
    except PayloadError as error:
        reason = f"not a lead: {error}"
        inbox.delivery_reject(provider=Provider.WEB_FORM, company=company, headers=request.headers,
                              body=inbox.body_text(raw_body), reason=reason)  # fmt: skip
        return JsonResponse({"error": reason}, status=400)
    _delivery_id, created = inbox.delivery_accept(
        provider=Provider.WEB_FORM, company=company,
        event_key=f"{company.code}:{hashlib.sha256(raw_body).hexdigest()}", event_type="lead",
        headers=request.headers, body=raw_body.decode("utf-8"),
    )  # fmt: skip
    return JsonResponse({"status": "accepted" if created else "duplicate"}, status=202 if created else 200)


@inbox.delivery_handler(Provider.WEB_FORM)
def process(delivery: WebhookDelivery) -> None:
    content_type = delivery.headers.get("Content-Type", "").split(";")[0].strip()
    form = payload_form(delivery.body.encode("utf-8"), content_type)
    leads.lead_receive(company=delivery.company, data=form.lead_input(), actor=None, delivery_id=delivery.pk)
