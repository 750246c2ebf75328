"""`manage.py bench_webhooks` at size XS (real gunicorn, signed Revolut deliveries, nothing left behind), and the
intake path it measures."""

import io

import pytest

from finance.models import Company
from integrations.management.commands import bench_webhooks
from integrations.models import Connection, Provider, WebhookDelivery
from integrations.revolut import revolut_signing_secrets
from integrations.views.webhooks import _receiving_connection
from integrations.webhooks.inbox import process_webhook_delivery
from tests.integrations.test_connections import CLIENT_ID, SIGNING_SECRET, revolut_connection
from tests.integrations.test_webhooks import created_event, post


def queued_messages() -> int:
    with process_webhook_delivery.app.connection_for_write() as broker:
        channel = broker.default_channel
        queue = process_webhook_delivery.app.conf.task_default_queue
        return sum(channel.client.llen(channel._q_for_pri(queue, step)) for step in channel.priority_steps)


@pytest.mark.timeout(120)
def test_the_bench_answers_each_delivery_as_expected_and_leaves_the_database_and_queue_as_found(transactional_db):
    out = io.StringIO()

    figures = bench_webhooks.run(size="XS", out=out)

    # 40 posted: 2 badly signed, 8 repeats of earlier events, 30 distinct events.
    assert (figures["deliveries"], figures["senders"]) == (40, bench_webhooks.SENDERS)
    assert (figures["accepted"], figures["duplicate"], figures["refused"], figures["other"]) == (30, 8, 2, 0)
    assert (figures["stored"], figures["tasks_removed"]) == (30, 30)
    assert not Company.objects.exists()
    assert not Connection.objects.exists()
    assert not WebhookDelivery.objects.exists()
    assert queued_messages() == 0
    printed = out.getvalue().splitlines()
    assert printed[0] == "Webhook intake (Revolut, gunicorn 2 workers), size XS"
    assert "30 accepted, 8 duplicate, 2 refused, 0 other" in out.getvalue()
    assert printed[-1] == "target met" or printed[-1].startswith("target missed: ")


@pytest.mark.django_db
def test_a_verified_delivery_reads_its_connection_and_company_in_one_query(
    django_assert_num_queries, django_capture_on_commit_callbacks, enqueued, company_a
):
    revolut_connection(company_a)
    body = created_event()

    # The connection with its company (no sort), then the delivery written by one statement that counts it as a
    # duplicate instead if the event is known; the processing task is sent once the delivery is committed.
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(2) as captured:
        response = post(body, company_code=company_a.code)

    assert response.json() == {"status": "accepted"}
    assert captured.captured_queries[0]["sql"].startswith("SELECT connection.id")
    assert "ORDER BY" not in captured.captured_queries[0]["sql"]
    assert captured.captured_queries[1]["sql"].split()[:3] == ["INSERT", "INTO", "integrations_webhookdelivery"]
    assert "ON CONFLICT (provider, event_key)" in captured.captured_queries[1]["sql"]
    assert [task.args for task in enqueued] == [(WebhookDelivery.objects.get().pk,)]


@pytest.mark.django_db
def test_the_receiving_connection_comes_with_its_company_whose_other_fields_load_on_first_use(
    django_assert_num_queries, company_a, company_b
):
    revolut_connection(company_a)
    revolut_connection(company_b)

    with django_assert_num_queries(1):
        connection = _receiving_connection(Provider.REVOLUT, company_b.code)
        assert (connection.company.pk, connection.company.code) == (company_b.pk, company_b.code)
        assert revolut_signing_secrets(connection) == [SIGNING_SECRET]
        assert connection.config["client_id"] == CLIENT_ID
    assert connection.company.get_deferred_fields() >= {"name", "iban"}
    with django_assert_num_queries(1):
        assert connection.company.name == company_b.name
    assert _receiving_connection(Provider.MAUTIC, company_b.code) is None
    assert _receiving_connection(Provider.REVOLUT, "ZZ") is None
