"""Connect every company to the DocuSeal sandbox, over HTTP, as a person would: an account and its API key,
a quote template, the settings saved with the general terms (CGV) PDF, the webhook entered in DocuSeal with
the address and secret the Hub's page shows, and the connection tested."""

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError

from finance.models import Company
from integrations import connections, docuseal, selectors
from integrations.models import Provider
from sandbox import docuseal as sandbox_docuseal
from sandbox.management.demo import demo_ceo

TEMPLATE_NAME = "Devis – signature et CGV"
CGV_VERSION = "2026-01"


def demo_terms(company: Company) -> bytes:
    """The general terms a company would upload: a small PDF naming its version."""
    return sandbox_docuseal.minimal_pdf([
        f"{company.name} - Conditions generales de vente ({CGV_VERSION})",
        "1. Les offres sont valables 30 jours.", "2. Un acompte est facture a la signature.",
        "3. Les factures sont payables a 30 jours net.", "4. For juridique: Suisse.",
    ])  # fmt: skip


class Command(BaseCommand):
    help = "Demo mode: DocuSeal account, quote template, CGV, webhook and connection test for every company (sandbox)."

    def handle(self, *args, **options) -> None:
        ceo = demo_ceo()
        for company in Company.objects.order_by("code"):
            existing = selectors.connection_get(company, Provider.DOCUSEAL)
            if existing is not None and selectors.connection_status(existing).usable:
                self.stdout.write(f"  {company.code}: already connected")
                continue
            # The API key a person copies from DocuSeal → Settings → API.
            api_key = f"hv-demo-docuseal-{company.code.lower()}"
            sandbox_docuseal.ensure_account(api_key, name=company.name)
            template_id = sandbox_docuseal.ensure_template(api_key, name=TEMPLATE_NAME)
            terms = ContentFile(demo_terms(company), name=f"cgv-{company.code.lower()}.pdf")
            connection = docuseal.settings_save(
                company=company, base_url=sandbox_docuseal.api_base_url(), api_key=api_key, template_id=template_id,
                cgv_version=CGV_VERSION, cgv_file=terms, updated_by=ceo,
            )  # fmt: skip
            sandbox_docuseal.configure_webhook(
                api_key, url=docuseal.webhook_url(company), secret_name=docuseal.webhook_secret_name(connection),
                secret_value=connection.secret("webhook_secret"),
            )  # fmt: skip
            connection = connections.connection_probe(connection)
            if not connection.last_probe_ok:
                raise CommandError(f"{company.code}: {connection.last_probe_detail}")
            channel = (
                "" if company.signature_channel == Company.SignatureChannel.DOCUSEAL else " (signs in Invoice Ninja)"
            )
            self.stdout.write(f"  {company.code}: connected to the DocuSeal sandbox{channel}")
