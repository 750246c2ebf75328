"""`make run` in demo mode connects every company to the Invoice Ninja sandbox, over HTTP, once."""

from io import StringIO

import pytest
from django.core.management import call_command

from integrations import invoice_ninja
from integrations import selectors as integration_selectors
from integrations.models import Connection
from sandbox import invoice_ninja as sandbox


@pytest.mark.django_db(transaction=True)
def test_every_company_is_connected_with_its_webhooks_and_a_second_run_changes_nothing(
    company_a, company_b, ceo, live_server, settings
):
    settings.HV_PUBLIC_URL = live_server.url
    first = StringIO()
    call_command("invoice_ninja_connect_sandbox", stdout=first)

    assert first.getvalue().splitlines() == [
        "  QA: connected to the Invoice Ninja sandbox (hv-demo-qa)",
        "  QB: connected to the Invoice Ninja sandbox (hv-demo-qb)",
    ]
    for connection in Connection.objects.filter(provider="invoice_ninja").select_related("company"):
        assert integration_selectors.connection_status(connection).code == "connected"
        assert connection.base_url == f"{live_server.url}/sandbox/invoice-ninja"
        token = f"hv-demo-{connection.company.code.lower()}"
        registered = sorted((int(hook["event_id"]), hook["target_url"]) for hook in sandbox.list_webhooks(token))
        assert registered == sorted(
            (int(event), f"{live_server.url}/webhooks/invoice-ninja/{connection.company.code}/{int(event)}/")
            for event in invoice_ninja.SUBSCRIBED_EVENTS
        )
        assert {hook["headers"]["X-Webhook-Secret"] for hook in sandbox.list_webhooks(token)} == {
            connection.secret("webhook_secret")
        }
    second = StringIO()
    call_command("invoice_ninja_connect_sandbox", stdout=second)
    assert second.getvalue().splitlines() == ["  QA: already connected", "  QB: already connected"]
    assert len(sandbox.list_webhooks("hv-demo-qa")) == len(invoice_ninja.SUBSCRIBED_EVENTS)
