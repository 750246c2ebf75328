"""DocuSeal on the pages: the settings page (save, errors, test), the quote's button and its signature card."""

import hashlib
import json
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation

from finance.models import Company, QuoteSignature, Role
from finance.services import documents
from integrations import docuseal
from integrations.models import ActionRun, Connection
from integrations.selectors import connection_status
from tests.integrations.test_docuseal_signatures import BASE, KEY, TERMS, quote  # noqa: F401 - the fixture

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "docuseal"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def seller(company_a, member_of):
    return member_of(company_a, Role.SALES, "seller-qa")


@pytest.fixture
def boss(company_a, member_of):
    return member_of(company_a, Role.CEO, "boss-qa")


def browser(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def settings_url(code="QA") -> str:
    return reverse("integrations:connection", kwargs={"provider": "docuseal", "company_code": code})


def test_the_settings_page_saves_the_key_template_and_terms_and_shows_the_webhook(company_a, boss):
    page = browser(boss)

    response = page.post(settings_url(), {
        "base_url": BASE, "api_key": KEY, "template_id": "1000001", "cgv_version": "CGV 2026-01",
        "cgv_file": SimpleUploadedFile("cgv.pdf", TERMS, content_type="application/pdf"),
        "secret_header_name": "X-Webhook-Secret", "hmac_secret": "",
    })  # fmt: skip

    assert response.status_code == 302
    connection = Connection.objects.get(company=company_a, provider="docuseal")
    assert (connection.base_url, connection.secret("api_key"), connection.config["template_id"]) == (BASE, KEY, 1000001)
    assert connection.config["cgv_sha256"] == hashlib.sha256(TERMS).hexdigest()
    shown = page.get(settings_url()).content.decode()
    assert docuseal.webhook_url(company_a).endswith("/webhooks/docuseal/QA/")
    assert docuseal.webhook_url(company_a) in shown
    assert connection.secret("webhook_secret") in shown
    assert KEY not in shown


def test_a_first_save_without_the_terms_says_so_on_the_field(company_a, boss):
    response = browser(boss).post(settings_url(), {
        "base_url": BASE, "api_key": KEY, "template_id": "1000001", "cgv_version": "CGV 2026-01",
        "secret_header_name": "X-Webhook-Secret",
    })  # fmt: skip

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "cgv_file": ["Upload the general terms (CGV) the client accepts by signing."]
    }
    assert not Connection.objects.filter(provider="docuseal").exists()


def test_the_connection_test_reads_the_template(company_a, boss, http):
    docuseal.settings_save(
        company=company_a, base_url=BASE, api_key=KEY, template_id=1000001, cgv_version="CGV 2026-01",
        cgv_file=ContentFile(TERMS, name="cgv.pdf"), updated_by=boss,
    )  # fmt: skip
    http.get(f"{BASE}/templates/1000001", json=json.loads((FIXTURES / "template.json").read_text()))

    response = browser(boss).post(
        reverse("integrations:connection-test", kwargs={"provider": "docuseal", "company_code": "QA"})
    )

    assert response.status_code == 302
    connection = Connection.objects.get(provider="docuseal")
    assert (connection.last_probe_ok, connection.last_probe_detail) == (True, "Template “Offre” readable "
                                                                              "(signer: First Party).")  # fmt: skip
    assert connection.config["template_role"] == "First Party"
    assert connection_status(connection).code == "connected"


def test_sales_people_do_not_see_the_settings(company_a, seller):
    assert browser(seller).get(settings_url()).status_code == 404


@pytest.fixture
def connected(company_a, boss):
    return docuseal.settings_save(
        company=company_a, base_url=BASE, api_key=KEY, template_id=1000001, cgv_version="CGV 2026-01",
        cgv_file=ContentFile(TERMS, name="cgv.pdf"), updated_by=boss,
    )  # fmt: skip


def quote_page(user, quote):  # noqa: F811
    return browser(user).get(reverse("finance:quote-detail", kwargs={"pk": quote.pk}))


def send_button(response):
    [action] = [action for action in response.context["actions"] if action.label == "Send for signature"]
    return action


def test_the_button_is_enabled_for_a_connected_docuseal_company(connected, quote, seller):  # noqa: F811
    response = quote_page(seller, quote)

    assert send_button(response).reason == ""
    assert 'data-testid="docuseal-signature"' in response.content.decode()
    assert "Not sent for signature yet." in response.content.decode()


def test_the_button_says_why_when_the_company_signs_in_invoice_ninja(connected, quote, seller):  # noqa: F811
    Company.objects.filter(pk=quote.company_id).update(signature_channel="invoice_ninja")

    response = quote_page(seller, quote)

    assert send_button(response).reason == "Alpha has its quotes signed in Invoice Ninja client portal, not DocuSeal."
    assert 'data-testid="docuseal-signature"' not in response.content.decode()


def test_the_button_says_why_without_docuseal(quote, seller):  # noqa: F811
    assert send_button(quote_page(seller, quote)).reason == (
        "DocuSeal is not set up for Alpha (API key, template and general terms)."
    )


def test_clicking_sends_the_draft_and_queues_the_run(connected, quote, seller, django_capture_on_commit_callbacks,  # noqa: F811
                                                     enqueued):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = browser(seller).post(reverse("finance:quote-send-docuseal", kwargs={"pk": quote.pk}))

    assert response.status_code == 302
    run = ActionRun.objects.get(action="docuseal.sign")
    assert (run.status, run.target_id, len(enqueued)) == ("queued", quote.pk, 1)
    page = quote_page(seller, quote).content.decode()
    assert f'id="action-run-{run.pk}"' in page


def test_a_viewer_cannot_send(connected, quote, member_of, company_a):  # noqa: F811
    viewer = member_of(company_a, Role.VIEWER, "viewer-qa")

    response = browser(viewer).post(reverse("finance:quote-send-docuseal", kwargs={"pk": quote.pk}))

    assert response.status_code == 403
    assert not ActionRun.objects.exists()


def file_url(quote, signature, kind="signed") -> str:  # noqa: F811
    return reverse("finance:quote-signature-file", kwargs={"pk": quote.pk, "signature_pk": signature.pk, "kind": kind})


def test_the_card_shows_a_signed_quote_and_serves_its_files(connected, quote, seller):  # noqa: F811
    quote = documents.quote_send(quote=quote, sent_by=seller)
    signature = QuoteSignature.objects.create(
        company=quote.company, quote=quote, submission_id=55, submitter_id=101, external_id=f"quote-QA-{quote.pk}",
        slug="pAMimKcyrLjqVt", signing_url="https://docuseal.com/s/pAMimKcyrLjqVt", status="completed",
        completed_at="2024-05-10T11:15:02Z", cgv_version="CGV 2026-01", cgv_sha256="a" * 64,
        cgv_accepted_at="2024-05-10T11:15:02Z", signer_name="Anna Muster", reminders_sent=2,
    )  # fmt: skip
    signature.signed_pdf.save("signed.pdf", ContentFile(b"%PDF-1.4 signed"))
    signature.audit_trail.save("audit.pdf", ContentFile(b"%PDF-1.4 audit"))

    page = quote_page(seller, quote).content.decode()
    signed = browser(seller).get(file_url(quote, signature))

    assert 'data-testid="docuseal-status" data-status="completed">Signed<' in page
    assert 'data-testid="docuseal-cgv">CGV 2026-01<' in page
    assert 'data-testid="docuseal-reminders">2<' in page
    assert 'data-testid="docuseal-remind"' not in page  # nothing to remind once signed
    assert (signed.status_code, b"".join(signed.streaming_content)) == (200, b"%PDF-1.4 signed")


def test_another_companys_signature_file_is_404(connected, quote, seller, company_b, member_of):  # noqa: F811
    quote = documents.quote_send(quote=quote, sent_by=seller)
    signature = QuoteSignature.objects.create(company=quote.company, quote=quote, submission_id=55, submitter_id=101,
                                              external_id="k", status="sent")  # fmt: skip
    outsider = member_of(company_b, Role.CEO, "outsider")

    response = browser(outsider).get(file_url(quote, signature))

    assert response.status_code == 404
