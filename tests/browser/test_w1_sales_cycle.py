"""W1 end to end, for two companies, in Chromium and in French, with a real Celery worker and beat, the live
server and every sandbox over HTTP (DESIGN.md §2):

a website posts a signed lead → the CEO makes the quote from it → "Envoyer pour signature" → the client signs
on DocuSeal's signing page → the quote is signed in the Hub, its deposit invoice issued and sent via Invoice
Ninja by itself → the client pays it by Revolut with the QR reference → matched, the project starts → the
"project started" e-mail is in Mautic's sent log → every step is on the quote's and the project's timelines.
"""

import io
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from django.core.management import call_command

from finance.models import Invoice, Lead, Project, Quote, QuoteSignature
from integrations import web_form
from integrations.models import Connection, Provider
from sandbox import invoice_ninja as sandbox_invoice_ninja
from sandbox import mautic as sandbox_mautic
from sandbox import revolut as sandbox_revolut
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import database_url_of_test_database, start_celery_worker
from tests.integrations.test_revolut_end_to_end import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

D = Decimal
# One per company: who writes in, what for, the budget that becomes the quote's first line.
ENQUIRIES = {
    "HV": {"first_name": "Sophie", "last_name": "Grandjean", "organisation": "Pharmacie du Marché SA",
           "email": "sophie@pharmacie-marche.ch", "phone": "+41 21 312 45 67", "language": "fr",
           "town": "Lausanne", "project_type": "digital_signage", "budget": "12000.00", "currency": "CHF",
           "message": "Deux écrans en vitrine et un au comptoir, pour le printemps."},
    "DA": {"first_name": "Marc", "last_name": "Bühler", "organisation": "Bühler Logistik AG",
           "email": "marc.buehler@buehler-logistik.ch", "phone": "+41 44 555 12 34", "language": "fr",
           "town": "Zürich", "project_type": "software", "budget": "24000.00", "currency": "CHF",
           "message": "Un tableau de bord pour nos entrepôts, avec accès mobile."},
}  # fmt: skip


@pytest.fixture
def hub_processes(demo_group, live_server, tmp_path, settings):
    """A real worker and beat, building their links on the live server and storing files where it reads them."""
    settings.MEDIA_ROOT = str(tmp_path)
    environment = {"HV_PUBLIC_URL": live_server.url, "HV_MEDIA_ROOT": str(tmp_path)}
    worker = start_celery_worker(**environment)
    beat = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "--app", "hypervisual", "beat", "--loglevel", "WARNING",
         "--schedule", str(tmp_path / "beat-schedule")],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
             "DATABASE_URL": database_url_of_test_database(), **environment},
        cwd=settings.BASE_DIR,
    )  # fmt: skip
    yield
    for process in (beat, worker):
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def connected(demo_group, live_server, hub_processes, settings):
    """Every company connected to every sandbox, as `make run` does in demo mode."""
    settings.HV_PUBLIC_URL = live_server.url
    for command in ("revolut_connect_sandbox", "invoice_ninja_connect_sandbox", "mautic_connect_sandbox",
                    "docuseal_connect_sandbox", "openai_connect_sandbox", "web_form_connect"):  # fmt: skip
        call_command(command, stdout=io.StringIO())


def post_lead(live_server, code: str) -> requests.Response:
    """What the company's website does with its contact form: JSON signed with the company's secret."""
    secret = Connection.objects.get(company__code=code, provider=Provider.WEB_FORM).secret("signing_secret")
    body = json.dumps(ENQUIRIES[code]).encode()
    return requests.post(
        f"{live_server.url}/webhooks/leads/{code}/", data=body, timeout=10,
        headers={"Content-Type": "application/json", web_form.SIGNATURE_HEADER: web_form.signature(body, secret)},
    )  # fmt: skip


def post_button(page, action_suffix: str) -> None:
    with page.expect_navigation():
        page.click(f".page-header form[action$='{action_suffix}'] button[type=submit]")


def both_widths(page, name: str) -> None:
    screenshot(page, f"{name}-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, f"{name}-390")
    page.set_viewport_size({"width": 1440, "height": 900})


def run_w1(page, live_server, code: str) -> None:
    enquiry = ENQUIRIES[code]
    slug = code.lower()

    # 1. The website posts a signed lead; the worker takes it in and OpenAI (sandbox) qualifies it.
    answer = post_lead(live_server, code)
    assert (answer.status_code, answer.json()) == (202, {"status": "accepted"})
    lead = wait_until(lambda: Lead.objects.filter(company__code=code, email=enquiry["email"]).first(),
                      what=f"{code}: the lead")  # fmt: skip
    wait_until(lambda: Lead.objects.get(pk=lead.pk).ai_score is not None, what=f"{code}: the AI qualification")
    lead.refresh_from_db()
    assert (lead.status, lead.source, lead.budget, lead.received_count) == ("new", "website", D(enquiry["budget"]), 1)
    assert 1 <= lead.ai_score <= 10
    assert lead.rule_score > 0

    # 2. The CEO opens it from the lead list and makes the quote from it.
    page.goto(f"{page.base_url}/leads/?company={code}&q={enquiry['last_name']}")
    with page.expect_navigation():
        page.click(f"a[href='/leads/{lead.pk}/']")
    assert enquiry["organisation"] in page.inner_text("body")
    both_widths(page, f"w1-{slug}-1-lead")
    page.click("[data-testid=lead-quote]")
    page.fill("#id_street", "Rue Centrale")
    page.fill("#id_building_number", "5")
    page.fill("#id_postal_code", "1003")
    page.fill("#id_town", enquiry["town"])
    page.click(".page-body form button[type=submit]")
    page.wait_for_url("**/quotes/*/edit/")
    quote = Quote.objects.get(leads=lead)
    page.click("text=Enregistrer le devis")
    page.wait_for_url(f"**/quotes/{quote.pk}/")
    quote.refresh_from_db()
    net = D(enquiry["budget"])
    assert (quote.status, quote.net_total, quote.client.email) == ("draft", net, enquiry["email"])

    # 3. "Envoyer pour signature": numbered, sent, the submission created at DocuSeal by the worker.
    post_button(page, f"/quotes/{quote.pk}/docuseal/")
    signature = wait_until(lambda: QuoteSignature.objects.filter(quote=quote).exclude(signing_url="").first(),
                           what=f"{code}: the DocuSeal submission")  # fmt: skip
    quote.refresh_from_db()
    assert (quote.status, quote.number[:3]) == ("sent", f"{code}-")
    page.reload()
    assert page.locator("[data-testid=docuseal-link]").get_attribute("href") == signature.signing_url

    # 4. The client signs on DocuSeal's signing page.
    client_page = page.context.new_page()
    client_page.goto(signature.signing_url)
    client_page.check("[data-testid=accept-terms]")
    client_page.fill("[data-testid=signer-name]", f"{enquiry['first_name']} {enquiry['last_name']}")
    screenshot(client_page, f"w1-{slug}-2-docuseal-signing")
    client_page.click("[data-testid=sign]")
    client_page.wait_for_selector("[data-testid=form-done]")
    client_page.close()

    # 5. Signed in the Hub; the deposit invoice issued and sent via Invoice Ninja by itself.
    wait_until(lambda: Quote.objects.get(pk=quote.pk).status == "signed", what=f"{code}: the quote signed")
    deposit = wait_until(
        lambda: Invoice.objects.filter(quote=quote, kind="deposit", invoice_ninja_sent_at__isnull=False).first(),
        what=f"{code}: the deposit invoice sent via Invoice Ninja",
    )  # fmt: skip
    quote.refresh_from_db()
    expected = (net * quote.deposit_percent / 100).quantize(D("0.01"))
    assert (deposit.status, deposit.net_total) == ("issued", expected)
    signature.refresh_from_db()
    assert (signature.status, signature.signer_name) == ("completed", f"{enquiry['first_name']} {enquiry['last_name']}")
    assert signature.signed_pdf.read().startswith(b"%PDF-")
    assert re.fullmatch(r"[0-9a-f]{64}", signature.cgv_sha256)
    token = Connection.objects.get(company__code=code, provider=Provider.INVOICE_NINJA).secret("api_token")
    [pushed] = [i for i in sandbox_invoice_ninja.list_invoices(token) if i["number"] == deposit.number]
    assert D(str(pushed["amount"])) == deposit.payable_total
    assert Lead.objects.get(pk=lead.pk).status == "won"

    # 6. The client pays the deposit by Revolut, with the QR reference.
    revolut = Connection.objects.get(company__code=code, provider=Provider.REVOLUT)
    sandbox_revolut.inject_incoming_transfer(
        client_id=revolut.config["client_id"], currency=deposit.currency, amount=deposit.payable_total,
        reference=deposit.qr_reference, payer_name=quote.client.name,
    )  # fmt: skip
    wait_until(lambda: Invoice.objects.get(pk=deposit.pk).status == "paid", what=f"{code}: the deposit paid")
    project = Project.objects.get(quote=quote)
    wait_until(lambda: Project.objects.get(pk=project.pk).acknowledged_at is not None,
               what=f"{code}: the project-started e-mail")  # fmt: skip
    project.refresh_from_db()
    assert project.status == "deposit_received"

    # 7. The acknowledgement is in Mautic's sent log, to the client, with the amount received.
    username = Connection.objects.get(company__code=code, provider=Provider.MAUTIC).config["username"]
    [sent] = [entry for entry in sandbox_mautic.sent_log(username) if entry["contact_email"] == enquiry["email"]]
    assert sent["subject"] == f"Votre projet {project.name} démarre"
    assert f"CHF {deposit.payable_total:,.2f}".replace(",", "'") in sent["body"]
    assert quote.number in sent["body"]

    # 8. Every step on the quote's and the project's timelines, seen in the browser.
    page.goto(f"{page.base_url}/quotes/{quote.pk}/")
    timeline = page.locator(".timeline").inner_text()
    for step in ("Devis envoyé", "Devis signé"):
        assert step in timeline, step
    assert page.locator("[data-testid=docuseal-status]").inner_text().strip() != ""
    assert page.locator("[data-testid=automatic-deposit] .badge").first.inner_text().strip() == "Réussie"
    both_widths(page, f"w1-{slug}-3-quote-signed")
    page.goto(f"{page.base_url}/projects/{project.pk}/")
    project_timeline = page.locator(".timeline").inner_text()
    assert "Client informé du démarrage du projet (Mautic)" in project_timeline
    assert re.search(r"\d{2}\.\d{2}\.\d{4}", page.locator("[data-testid=acknowledgement]").inner_text())
    both_widths(page, f"w1-{slug}-4-project-started")


def test_w1_runs_end_to_end_for_two_companies(page, live_server, connected, settings):
    sign_in(page, "ceo", settings.HV_DEMO_PASSWORD)
    page.wait_for_url(f"{page.base_url}/")
    for code in ("HV", "DA"):
        run_w1(page, live_server, code)
    assert page.broken == []
