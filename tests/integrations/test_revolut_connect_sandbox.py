"""`make run` in demo mode connects every company to the Revolut sandbox, over HTTP, once."""

from io import StringIO

import pytest
from django.core.management import call_command

from finance.models import BankAccount
from integrations import revolut as revolut_integration
from integrations import selectors as integration_selectors
from integrations.models import Connection


@pytest.mark.django_db(transaction=True)
def test_every_company_is_connected_to_the_sandbox_and_a_second_run_changes_nothing(
    company_a, company_b, ceo, live_server, settings
):
    settings.HV_PUBLIC_URL = live_server.url
    first = StringIO()
    call_command("revolut_connect_sandbox", stdout=first)

    assert first.getvalue().splitlines() == [
        "  QA: connected to the Revolut sandbox (hv-demo-qa)",
        "  QB: connected to the Revolut sandbox (hv-demo-qb)",
    ]
    for connection in Connection.objects.select_related("company"):
        assert integration_selectors.connection_status(connection).code == "connected"
        assert connection.base_url == f"{live_server.url}/sandbox/revolut/api/1.0"
        assert connection.config["webhook_url"] == f"{live_server.url}/webhooks/revolut/{connection.company.code}/"
        assert revolut_integration.revolut_signing_secrets(connection)[0].startswith("wsk_")
        assert sorted(BankAccount.objects.filter(connection=connection).values_list("currency", flat=True)) == [
            "CHF", "EUR",
        ]  # fmt: skip
    second = StringIO()
    call_command("revolut_connect_sandbox", stdout=second)
    assert second.getvalue().splitlines() == ["  QA: already connected", "  QB: already connected"]
