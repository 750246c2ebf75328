"""`make run` in demo mode connects every company to the DocuSeal sandbox, over HTTP, once."""

import hashlib
from io import StringIO

import pytest
from django.core.management import call_command

from finance.models import Company
from integrations import docuseal
from integrations import selectors as integration_selectors
from integrations.models import Connection, Provider
from sandbox import docuseal as sandbox


@pytest.fixture(autouse=True)
def _empty_sandbox(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    sandbox.clear()
    yield
    sandbox.clear()


@pytest.mark.django_db(transaction=True)
def test_every_company_is_connected_with_its_template_terms_and_webhook_and_a_second_run_changes_nothing(
    company_a, company_b, ceo, live_server, settings
):
    settings.HV_PUBLIC_URL = live_server.url
    Company.objects.filter(pk=company_b.pk).update(signature_channel="invoice_ninja")
    first = StringIO()
    call_command("docuseal_connect_sandbox", stdout=first)

    assert first.getvalue().splitlines() == [
        "  QA: connected to the DocuSeal sandbox",
        "  QB: connected to the DocuSeal sandbox (signs in Invoice Ninja)",
    ]
    for connection in Connection.objects.filter(provider="docuseal").select_related("company"):
        code = connection.company.code.lower()
        assert integration_selectors.connection_status(connection).code == "connected"
        assert connection.base_url == f"{live_server.url}/sandbox/docuseal/api"
        assert integration_selectors.usable_connection(connection.company, Provider.DOCUSEAL) is not None
        assert connection.config["template_role"] == "First Party"
        terms = docuseal.cgv_content(connection)
        assert connection.config["cgv_sha256"] == hashlib.sha256(terms).hexdigest()
        hook = sandbox.account(f"hv-demo-docuseal-{code}")["webhook"]
        assert (hook["url"], hook["secret_name"], hook["secret_value"]) == (
            f"{live_server.url}/webhooks/docuseal/{connection.company.code}/", "X-Webhook-Secret",
            connection.secret("webhook_secret"),
        )  # fmt: skip
    second = StringIO()
    call_command("docuseal_connect_sandbox", stdout=second)
    assert second.getvalue().splitlines() == ["  QA: already connected", "  QB: already connected"]
    assert len(sandbox.templates("hv-demo-docuseal-qa")) == 1
