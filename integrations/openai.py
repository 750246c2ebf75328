"""A company's OpenAI connection: its settings (API key encrypted, base URL, model), the client and the probe."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from finance.models import Company
from finance.services.audit import audit_record
from integrations.clients import openai as openai_client
from integrations.clients.base import ProviderError
from integrations.connections import connection_for_update, outcome_recorder, status_probe
from integrations.models import Connection, Provider

DEFAULT_BASE_URL = openai_client.DEFAULT_BASE_URL
# A small model with structured outputs; each company may choose another on its settings page.
DEFAULT_MODEL = "gpt-4.1-mini"

# Tests replace this with a factory returning an httpx2.Client on a MockTransport (None: the SDK's own).
http_client_factory = None


def model_of(connection: Connection) -> str:
    return connection.config.get("model") or DEFAULT_MODEL


@transaction.atomic
def settings_save(
    *, company: Company, base_url: str, api_key: str, model: str, updated_by: AbstractBaseUser | None
) -> Connection:
    """Store the OpenAI settings; a blank API key keeps the stored one."""
    connection = connection_for_update(company, Provider.OPENAI)
    connection.base_url = (base_url.strip() or DEFAULT_BASE_URL).rstrip("/")
    connection.config = {**connection.config, "model": model.strip() or DEFAULT_MODEL}
    if api_key.strip():
        connection.set_secrets(api_key=api_key.strip())
    elif not connection.secret("api_key"):
        raise ValidationError({"api_key": _("Paste an API key of the OpenAI project (platform.openai.com).")})
    connection.full_clean()
    connection.save()
    audit_record(
        actor=updated_by, company=company, action="connection.updated", target=connection,
        changes={"provider": Provider.OPENAI, "base_url": connection.base_url, "model": model_of(connection),
                 "secret_replaced": bool(api_key.strip())},
    )  # fmt: skip
    return connection


def client_for(connection: Connection) -> openai_client.OpenAIClient:
    return openai_client.OpenAIClient(
        api_key=connection.secret("api_key"), base_url=connection.base_url, scope=connection.company.code,
        model=model_of(connection), on_outcome=outcome_recorder(connection),
        http_client=http_client_factory() if http_client_factory else None,
    )  # fmt: skip


@status_probe(Provider.OPENAI)
def probe(connection: Connection) -> tuple[bool, str]:
    """A real call: the models the key may use, and whether the chosen model is among them."""
    try:
        models = client_for(connection).models()
    except ProviderError as error:
        return False, error.message
    model = model_of(connection)
    if model not in models:
        return False, _("The key works, but model %(model)s is not available to it.") % {"model": model}
    return True, _("%(count)s model(s) available, %(model)s among them.") % {"count": len(models), "model": model}
