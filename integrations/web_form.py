"""The group's website forms: each company's signing secret and how a lead posted to the Hub is verified.

A website posts its form as JSON (or form-encoded) to /webhooks/leads/<company code>/ with the header
`X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw body keyed with the company's secret
(GitHub's scheme, which most form plugins can produce). After a rotation, the previous secret stays valid
for PREVIOUS_SECRET_HOURS so that the website can be updated without losing a lead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from finance.models import Company
from finance.services.audit import audit_record
from integrations.connections import connection_for_update
from integrations.models import Connection, Provider

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
# Hours a rotated-out secret is still accepted.
PREVIOUS_SECRET_HOURS = 24


def webhook_url(company: Company) -> str:
    return settings.HV_PUBLIC_URL + reverse("integrations:webhook-leads", kwargs={"company_code": company.code})


def signature(raw_body: bytes, secret: str) -> str:
    """The header value a website sends: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def accepted_secrets(connection: Connection) -> list[str]:
    found = [connection.secret("signing_secret")]
    until = connection.config.get("previous_secret_until")
    if until and dt.datetime.fromisoformat(until) > timezone.now():
        found.append(connection.secret("previous_signing_secret"))
    return [secret for secret in found if secret]


def signature_valid(connection: Connection, raw_body: bytes, presented: str) -> bool:
    if not presented.startswith(SIGNATURE_PREFIX):
        return False
    return any(
        hmac.compare_digest(signature(raw_body, secret).encode(), presented.strip().encode())
        for secret in accepted_secrets(connection)
    )


@transaction.atomic
def secret_rotate(*, company: Company, rotated_by: AbstractBaseUser | None) -> tuple[Connection, str]:
    """Give the company a new signing secret (the first one, or a replacement); return it once, to show."""
    connection = connection_for_update(company, Provider.WEB_FORM)
    previous = connection.secret("signing_secret") if connection.pk else ""
    new_secret = secrets.token_urlsafe(32)
    connection.base_url = webhook_url(company)
    connection.set_secrets(signing_secret=new_secret, previous_signing_secret=previous or None)
    if previous:
        until = timezone.now() + dt.timedelta(hours=PREVIOUS_SECRET_HOURS)
        connection.config = {**connection.config, "previous_secret_until": until.isoformat()}
    connection.full_clean()
    connection.save()
    audit_record(
        actor=rotated_by, company=company, action="connection.updated", target=connection,
        changes={"provider": Provider.WEB_FORM, "secret_replaced": bool(previous)},
    )  # fmt: skip
    return connection, new_secret
