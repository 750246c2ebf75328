"""DocuSeal in Chromium and in French: a quote sent for signature from its page, signed on the sandbox's signing
page, and the quote's signature card afterwards, at desktop and phone widths.

No Celery worker here: Celery runs its tasks eagerly in the live server's threads (the send, the sandbox's
webhooks and their processing), against the sandbox over HTTP, so each page is looked at in a known state.
"""

from decimal import Decimal
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.core.files.base import ContentFile

from finance.models import Quote, QuoteSignature, Role
from finance.services import documents
from finance.services.documents import LineInput
from hypervisual.celery import app as celery_app
from integrations import connections, docuseal
from sandbox import docuseal as sandbox
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD
from tests.factories import ClientFactory, CompanyFactory, QuoteFactory

pytestmark = pytest.mark.browser

D = Decimal
API_KEY = "hv-browser-docuseal"


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def signing_company(transactional_db, member_of, settings, live_server, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.HV_PUBLIC_URL = live_server.url
    import_module("finance.migrations.0005_seed_swiss_vat_rates").seed_rates(django_apps, schema_editor=None)
    company = CompanyFactory(code="QS", name="Signa SA")
    ceo = member_of(company, Role.CEO, "browser-docuseal-ceo")
    sandbox.clear()
    sandbox.ensure_account(API_KEY, name=company.name)
    connection = docuseal.settings_save(
        company=company, base_url=f"{live_server.url}/sandbox/docuseal/api", api_key=API_KEY,
        template_id=sandbox.ensure_template(API_KEY, name="Devis"), cgv_version="CGV 2026-01",
        cgv_file=ContentFile(sandbox.minimal_pdf(["CGV 2026-01"]), name="cgv.pdf"), updated_by=ceo,
    )  # fmt: skip
    sandbox.configure_webhook(API_KEY, url=docuseal.webhook_url(company), secret_name="X-Webhook-Secret",
                              secret_value=connection.secret("webhook_secret"))  # fmt: skip
    assert connections.connection_probe(connection).last_probe_ok
    client = ClientFactory(company=company, name="Atelier Roux Sàrl", email="direction@roux.ch", language="fr")
    quote = QuoteFactory(company=company, client=client, title="Signalétique atelier")
    documents.quote_lines_replace(
        quote=quote, edited_by=ceo,
        lines=[LineInput(description="Enseigne", quantity=D("1"), unit_price=D("2000.00"), vat_code="standard")],
    )  # fmt: skip
    yield ceo, quote
    sandbox.clear()


def test_a_quote_sent_for_signature_and_signed_shows_its_card(page, signing_company, eager_celery):
    ceo, quote = signing_company
    sign_in(page, ceo.username, PASSWORD)
    page.wait_for_url(f"{page.base_url}/")

    page.goto(f"{page.base_url}{quote.get_absolute_url()}")
    page.click(f"form[action$='/quotes/{quote.pk}/docuseal/'] button")
    page.wait_for_selector(".toast.text-bg-success")
    signature = QuoteSignature.objects.get(quote=quote)
    page.reload()
    assert page.get_attribute("[data-testid=docuseal-status]", "data-status") == "sent"
    assert page.get_attribute("[data-testid=docuseal-link]", "href") == signature.signing_url
    screenshot(page, "docuseal-quote-sent")

    signer = page.context.new_page()
    signer.goto(signature.signing_url)
    documents_shown = signer.locator("[data-testid=form-documents] li").all_inner_texts()
    assert (len(documents_shown), documents_shown[0]) == (2, Quote.objects.get(pk=quote.pk).number.lower())
    signer.check("[data-testid=accept-terms]")
    signer.fill("[data-testid=signer-name]", "Claire Roux")
    signer.click("[data-testid=sign]")
    signer.wait_for_selector("[data-testid=form-done]")
    signer.close()

    assert Quote.objects.get(pk=quote.pk).status == "signed"
    page.reload()
    assert page.get_attribute("[data-testid=docuseal-status]", "data-status") == "completed"
    assert page.locator("[data-testid=docuseal-signed-pdf]").count() == 1
    assert page.locator("[data-testid=docuseal-audit-trail]").count() == 1
    screenshot(page, "docuseal-quote-signed-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.locator("[data-testid=docuseal-signature]").scroll_into_view_if_needed()
    screenshot(page, "docuseal-quote-signed-390")
    assert page.broken == []
