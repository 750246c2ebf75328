"""Connect every company to the Invoice Ninja sandbox, over HTTP, as a person would in the Integrations page."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from finance.models import Company
from integrations import connections, invoice_ninja, selectors
from integrations.models import Provider
from sandbox import invoice_ninja as sandbox_invoice_ninja
from sandbox.management.demo import demo_ceo


class Command(BaseCommand):
    help = "Demo mode: token, connection test and webhook registration for every company (Invoice Ninja sandbox)."

    def handle(self, *args, **options) -> None:
        ceo = demo_ceo()
        for company in Company.objects.order_by("code"):
            existing = selectors.connection_get(company, Provider.INVOICE_NINJA)
            if existing is not None and selectors.connection_status(existing).usable:
                self.stdout.write(f"  {company.code}: already connected")
                continue
            # The API token a person would create in Invoice Ninja's settings and paste into the Hub.
            token = f"hv-demo-{company.code.lower()}"
            sandbox_invoice_ninja.ensure_company(token, company.name)
            connection = invoice_ninja.settings_save(
                company=company, base_url=f"{settings.HV_PUBLIC_URL}/sandbox/invoice-ninja", api_token=token,
                api_secret="", signature_channel=company.signature_channel, updated_by=ceo,
            )  # fmt: skip
            connection = connections.connection_probe(connection)
            if not connection.last_probe_ok:
                raise CommandError(f"{company.code}: {connection.last_probe_detail}")
            invoice_ninja.webhooks_register(connection=connection, registered_by=ceo)
            self.stdout.write(f"  {company.code}: connected to the Invoice Ninja sandbox ({token})")
