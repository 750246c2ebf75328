"""A company's DocuSeal connection: API key, quote template, general terms (CGV), the probe and the webhook check.

DocuSeal has no API to register webhooks: a person enters the Hub's address and a secret header in DocuSeal →
Settings → Webhooks. The Hub generates the header's value and shows it with the address; every delivery must
carry it (compared in constant time), and, when DocuSeal signs with `X-Docuseal-Signature` and the HMAC secret
shown there was pasted here, the signature must match too (research/api-contracts.md §4.3).
The CGV PDF is kept in the media storage under its SHA-256, which each signature records with its version.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from finance.models import Company
from finance.services.audit import audit_record
from integrations.clients import docuseal
from integrations.clients.base import ProviderError
from integrations.connections import connection_for_update, outcome_recorder, status_probe
from integrations.models import Connection, Provider

DOCUSEAL_GLOBAL_URL = "https://api.docuseal.com"
# The header name a person types into DocuSeal → Settings → Webhooks → Secret (key); the value is generated.
DEFAULT_SECRET_HEADER = "X-Webhook-Secret"  # noqa: S105 - a header name, not a secret
DEFAULT_ROLE = "First Party"
# A CGV larger than this is refused: DocuSeal receives it base64 in a JSON body with the quote.
CGV_MAX_BYTES = 5 * 1024 * 1024


def webhook_url(company: Company) -> str:
    return settings.HV_PUBLIC_URL + reverse("integrations:webhook-docuseal", kwargs={"company_code": company.code})


def cgv_content(connection: Connection) -> bytes:
    with default_storage.open(connection.config["cgv_path"], "rb") as stored:
        return stored.read()


@transaction.atomic
def settings_save(
    *, company: Company, base_url: str, api_key: str, template_id: int, cgv_version: str, cgv_file=None,
    secret_header_name: str = DEFAULT_SECRET_HEADER, hmac_secret: str = "", regenerate_secret: bool = False,
    updated_by: AbstractBaseUser,
) -> Connection:  # fmt: skip
    """Store DocuSeal's settings; a blank API key or HMAC secret keeps the stored one, no file keeps the CGV.

    `cgv_file` is an uploaded file (or any object with `read()` and `name`); its SHA-256 is kept with it.
    """
    connection = connection_for_update(company, Provider.DOCUSEAL)
    connection.base_url = base_url.strip().rstrip("/")
    if api_key.strip():
        connection.set_secrets(api_key=api_key.strip())
    elif not connection.secret("api_key"):
        raise ValidationError({"api_key": _("Paste the API key from DocuSeal → Settings → API.")})
    if hmac_secret.strip():
        connection.set_secrets(hmac_secret=hmac_secret.strip())
    config = {**connection.config, "template_id": int(template_id), "cgv_version": cgv_version.strip(),
              "webhook_secret_name": secret_header_name.strip() or DEFAULT_SECRET_HEADER}  # fmt: skip
    if cgv_file is not None:
        content = cgv_file.read()
        if not content.startswith(b"%PDF-"):
            raise ValidationError({"cgv_file": _("The general terms must be a PDF file.")})
        if len(content) > CGV_MAX_BYTES:
            raise ValidationError({"cgv_file": _("The general terms PDF may not exceed 5 MB.")})
        digest = hashlib.sha256(content).hexdigest()
        path = f"docuseal/cgv/{company.code}/{digest}.pdf"
        if not default_storage.exists(path):
            path = default_storage.save(path, ContentFile(content))
        config.update(cgv_path=path, cgv_sha256=digest, cgv_filename=getattr(cgv_file, "name", "") or "cgv.pdf")
    elif not config.get("cgv_path"):
        raise ValidationError({"cgv_file": _("Upload the general terms (CGV) the client accepts by signing.")})
    connection.config = config
    if regenerate_secret or not connection.secret("webhook_secret"):
        connection.set_secrets(webhook_secret=secrets.token_urlsafe(32))
    connection.full_clean()
    connection.save()
    audit_record(
        actor=updated_by, company=company, action="connection.updated", target=connection,
        changes={"provider": Provider.DOCUSEAL, "base_url": connection.base_url, "template_id": int(template_id),
                 "cgv_version": config["cgv_version"], "cgv_sha256": config.get("cgv_sha256", ""),
                 "secret_replaced": bool(api_key.strip() or hmac_secret.strip() or regenerate_secret)},
    )  # fmt: skip
    return connection


def docuseal_client(connection: Connection) -> docuseal.DocuSealClient:
    return docuseal.DocuSealClient(
        connection.base_url, scope=connection.company.code, api_key=connection.secret("api_key"),
        on_outcome=outcome_recorder(connection),
    )  # fmt: skip


@status_probe(Provider.DOCUSEAL)
def probe(connection: Connection) -> tuple[bool, str]:
    """A real call: the quote template, whose signer role is kept (the submission's submitter must have it)."""
    try:
        template = docuseal_client(connection).template_get(int(connection.config.get("template_id") or 0))
    except ProviderError as error:
        return False, error.message
    role = template.roles[0] if template.roles else DEFAULT_ROLE
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        locked.config = {**locked.config, "template_name": template.name, "template_role": role}
        locked.save(update_fields=["config"])
    connection.config = {**connection.config, "template_name": template.name, "template_role": role}
    return True, _("Template “%(name)s” readable (signer: %(role)s).") % {"name": template.name, "role": role}


def webhook_refusal(connection: Connection, raw_body: bytes, headers: Mapping[str, str]) -> str:
    """Why a request to the company's webhook address is not DocuSeal's, or ""."""
    return docuseal.webhook_refusal(
        raw_body, headers, secret_name=webhook_secret_name(connection),
        secret_value=connection.secret("webhook_secret"), hmac_secret=connection.secret("hmac_secret"),
    )  # fmt: skip


def webhook_secret_name(connection: Connection) -> str:
    return connection.config.get("webhook_secret_name") or DEFAULT_SECRET_HEADER
