"""DocuSeal end to end: a real Celery worker, the web app (live server) and the DocuSeal sandbox over HTTP.

"Envoyer pour signature" creates the submission; the client opens the sandbox's signing page, accepts the
terms and signs; DocuSeal's webhooks come back and the quote ends signed in the Hub, with the signed PDF and
the audit trail stored, once. A decline rejects the quote with the client's reason.
"""

import re
import signal
from decimal import Decimal
from importlib import import_module

import pytest
import requests
from django.apps import apps as django_apps
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from finance.models import AuditEvent, Quote, QuoteSignature, Role
from finance.services import documents
from finance.services.documents import LineInput
from integrations import connections, docuseal
from integrations.models import ActionRun, WebhookDelivery
from sandbox import docuseal as sandbox
from tests.conftest import start_celery_worker
from tests.factories import ClientFactory, CompanyFactory, QuoteFactory
from tests.integrations.test_revolut_end_to_end import wait_until

D = Decimal
TERMS = b"%PDF-1.4\n% CGV QS\n"


@pytest.fixture
def company(transactional_db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    # Live-server tests empty every table when they end, the VAT rates of migration 0005 included.
    import_module("finance.migrations.0005_seed_swiss_vat_rates").seed_rates(django_apps, schema_editor=None)
    return CompanyFactory(code="QS", name="Signa SA")


@pytest.fixture
def worker(company, tmp_path):
    """A real Celery worker storing files where this process reads them (the signed PDF, the terms)."""
    process = start_celery_worker(HV_MEDIA_ROOT=str(tmp_path))
    yield process
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def ceo(company, member_of):
    return member_of(company, Role.CEO, "e2e-docuseal-ceo")


@pytest.fixture
def connected(company, ceo, live_server, settings):
    """The company connected to the sandbox as the settings page and a person in DocuSeal do it."""
    settings.HV_PUBLIC_URL = live_server.url
    sandbox.clear()
    api_key = "e2e-docuseal-qs"
    sandbox.ensure_account(api_key, name=company.name)
    template_id = sandbox.ensure_template(api_key, name="Offre")
    connection = docuseal.settings_save(
        company=company, base_url=f"{live_server.url}/sandbox/docuseal/api", api_key=api_key,
        template_id=template_id, cgv_version="CGV 2026-01", cgv_file=ContentFile(TERMS, name="cgv.pdf"),
        updated_by=ceo,
    )  # fmt: skip
    sandbox.configure_webhook(api_key, url=docuseal.webhook_url(company), secret_name="X-Webhook-Secret",
                              secret_value=connection.secret("webhook_secret"), hmac_secret="whsec_e2e")  # fmt: skip
    connection.set_secrets(hmac_secret="whsec_e2e")
    connection.save()
    connection = connections.connection_probe(connection)
    assert connection.last_probe_ok, connection.last_probe_detail
    yield api_key
    sandbox.set_create_delay(0)
    sandbox.clear()


def draft_quote(company, user) -> Quote:
    client = ClientFactory(company=company, name="Atelier Roux Sàrl", email="direction@roux.ch", language="fr")
    quote = QuoteFactory(company=company, client=client, title="Signalétique atelier")
    return documents.quote_lines_replace(
        quote=quote, edited_by=user,
        lines=[LineInput(description="Enseigne", quantity=D("1"), unit_price=D("2000.00"), vat_code="standard")],
    )  # fmt: skip


def send_for_signature(quote, user) -> ActionRun:
    browser = Client()
    browser.force_login(user)
    response = browser.post(reverse("finance:quote-send-docuseal", kwargs={"pk": quote.pk}))
    assert response.status_code == 302
    return ActionRun.objects.get(action="docuseal.sign", target_id=quote.pk)


def signing_form(url: str) -> tuple[requests.Session, str]:
    """Open the signing link as the client's browser does; the CSRF token of its form."""
    session = requests.Session()
    page = session.get(url, timeout=10)
    assert page.status_code == 200
    return session, re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def all_processed(company, count):
    deliveries = WebhookDelivery.objects.filter(company=company, provider="docuseal")
    return deliveries.count() >= count and not deliveries.exclude(status="processed").exists()


@pytest.mark.timeout(180)
def test_a_quote_signed_in_the_docuseal_sandbox_ends_signed_in_the_hub_with_its_files(company, ceo, connected, worker):
    quote = draft_quote(company, ceo)

    run = send_for_signature(quote, ceo)
    wait_until(lambda: ActionRun.objects.get(pk=run.pk).is_final, what="the submission to be created")
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("succeeded", 1), run.last_error
    signature = QuoteSignature.objects.get(quote=quote)
    assert signature.signing_url == run.result["signing_url"]
    [submitter] = [p for s in sandbox.submissions_for_page(connected) for p in s["signers"]]
    assert (submitter["external_id"], submitter["email"]) == (f"quote-QS-{quote.pk}", "direction@roux.ch")

    session, token = signing_form(signature.signing_url)
    wait_until(lambda: Quote.objects.get(pk=quote.pk).status == "viewed", what="the quote to be viewed")
    form = {"csrfmiddlewaretoken": token, "action": "sign", "accept_terms": "on", "name": "Claire Roux"}
    signed = session.post(signature.signing_url, data=form, timeout=10)
    assert signed.status_code == 200
    assert "Signed on" in signed.text

    wait_until(lambda: Quote.objects.get(pk=quote.pk).status == "signed", what="the quote to be signed")
    wait_until(lambda: all_processed(company, 3), what="every webhook to be processed")
    signature.refresh_from_db()
    assert (signature.status, signature.signer_name, signature.cgv_version) == (
        "completed",
        "Claire Roux",
        "CGV 2026-01",
    )
    assert signature.signed_pdf.read().startswith(b"%PDF-")
    assert b"Claire Roux" in signature.audit_trail.read()
    assert AuditEvent.objects.filter(action="signature.completed", object_id=str(quote.pk)).count() == 1
    assert AuditEvent.objects.filter(action="quote.signed", object_id=str(quote.pk)).count() == 1
    events = sorted(WebhookDelivery.objects.filter(company=company).values_list("event_type", flat=True))
    assert events == ["form.completed", "form.viewed", "submission.completed"]


@pytest.mark.timeout(180)
def test_a_quote_declined_in_the_sandbox_is_rejected_with_the_reason(company, ceo, connected, worker):
    quote = draft_quote(company, ceo)
    run = send_for_signature(quote, ceo)
    wait_until(lambda: ActionRun.objects.get(pk=run.pk).is_final, what="the submission to be created")
    signature = QuoteSignature.objects.get(quote=quote)

    session, token = signing_form(signature.signing_url)
    session.post(signature.signing_url, data={"csrfmiddlewaretoken": token, "action": "decline",
                                              "decline_reason": "Budget reporté à 2027"}, timeout=10)  # fmt: skip

    wait_until(lambda: Quote.objects.get(pk=quote.pk).status == "rejected", what="the quote to be rejected")
    assert Quote.objects.get(pk=quote.pk).rejection_reason == "Budget reporté à 2027"
    assert QuoteSignature.objects.get(pk=signature.pk).status == "declined"


@pytest.mark.timeout(180)
def test_a_worker_killed_while_docuseal_stores_the_submission_sends_it_once_after_restart(
    company, ceo, connected, worker, tmp_path
):
    quote = draft_quote(company, ceo)
    # The sandbox stores the submission, then holds its answer: the worker is killed while it waits.
    sandbox.set_create_delay(5)
    run = send_for_signature(quote, ceo)
    wait_until(lambda: sandbox.submissions_for_page(connected), what="the sandbox to store the submission")
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("running", 1)
    assert not QuoteSignature.objects.filter(quote=quote).exists()
    sandbox.set_create_delay(0)

    restarted = start_celery_worker(HV_MEDIA_ROOT=str(tmp_path))
    try:
        wait_until(lambda: ActionRun.objects.get(pk=run.pk).is_final, what="the run to finish")
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)

    run.refresh_from_db()
    assert (run.status, run.attempts) == ("succeeded", 2), run.last_error
    [submission] = sandbox.submissions_for_page(connected)
    assert QuoteSignature.objects.get(quote=quote).submission_id == submission["id"]
    assert [email["to"] for email in sandbox.account(connected)["emails"]] == ["direction@roux.ch"]
