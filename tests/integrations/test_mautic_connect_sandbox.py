"""`make run` in demo mode connects every company to the Mautic sandbox, over HTTP, once."""

from io import StringIO

import pytest
from django.core.management import call_command

from finance.models import DunningText
from integrations import mautic
from integrations import selectors as integration_selectors
from integrations.models import Connection
from sandbox import mautic as sandbox


@pytest.fixture(autouse=True)
def _empty_sandbox():
    sandbox.clear()
    yield
    sandbox.clear()


@pytest.mark.django_db(transaction=True)
def test_every_company_is_connected_with_its_templates_and_webhook_and_a_second_run_changes_nothing(
    company_a, company_b, ceo, live_server, settings
):
    settings.HV_PUBLIC_URL = live_server.url
    first = StringIO()
    call_command("mautic_connect_sandbox", stdout=first)

    assert first.getvalue().splitlines() == [
        "  QA: connected to the Mautic sandbox (hv-demo-qa)",
        "  QB: connected to the Mautic sandbox (hv-demo-qb)",
    ]
    for connection in Connection.objects.filter(provider="mautic").select_related("company"):
        code = connection.company.code
        assert integration_selectors.connection_status(connection).code == "connected"
        assert connection.base_url == f"{live_server.url}/sandbox/mautic"
        (hook,) = sandbox.hooks(f"hv-demo-{code.lower()}")
        assert hook["webhookUrl"] == f"{live_server.url}/webhooks/mautic/{code}/"
        assert hook["secret"] == connection.secret("webhook_secret")
        assert sorted(hook["triggers"]) == sorted(str(event) for event in mautic.SUBSCRIBED_EVENTS)
        texts = DunningText.objects.filter(level__policy__company=connection.company)
        assert texts.count() == 12  # three levels × four languages
        first_french = sandbox.get_email(
            f"hv-demo-{code.lower()}", texts.get(level__level=1, language="fr").mautic_email_id
        )
        assert (first_french["language"], first_french["emailType"]) == ("fr", "template")
        assert "{amount_due}" in first_french["customHtml"]
    second = StringIO()
    call_command("mautic_connect_sandbox", stdout=second)
    assert second.getvalue().splitlines() == ["  QA: already connected", "  QB: already connected"]
    assert len(sandbox.hooks("hv-demo-qa")) == 1
