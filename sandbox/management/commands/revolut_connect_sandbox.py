"""Connect every company to the Revolut sandbox, over HTTP, as a person would in the Integrations page."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from finance.models import Company
from finance.services.revolut import revolut_sync
from integrations import revolut as revolut_integration
from integrations import selectors
from integrations.clients.base import ProviderError
from integrations.models import Provider
from sandbox import revolut as sandbox_revolut
from sandbox.management.demo import demo_ceo


class Command(BaseCommand):
    help = "Demo mode: settings, consent, webhook registration and a first sync for every company (Revolut sandbox)."

    def handle(self, *args, **options) -> None:
        ceo = demo_ceo()
        sandbox = f"{settings.HV_PUBLIC_URL}/sandbox/revolut"
        for company in Company.objects.order_by("code"):
            existing = selectors.connection_get(company, Provider.REVOLUT)
            if existing is not None and selectors.connection_status(existing).usable:
                self.stdout.write(f"  {company.code}: already connected")
                continue
            client_id = f"hv-demo-{company.code.lower()}"
            try:
                connection = revolut_integration.revolut_settings_save(
                    company=company, base_url=f"{sandbox}/api/1.0", consent_url=f"{sandbox}/app-confirm",
                    client_id=client_id, private_key="", generate_key=True, updated_by=ceo,
                )  # fmt: skip
                # The consent a person gives on Revolut's page; everything after it goes over HTTP.
                code = sandbox_revolut.authorize(client_id)
                connection = revolut_integration.revolut_consent_complete(connection=connection, code=code, user=ceo)
                connection = revolut_integration.revolut_webhook_register(connection=connection, registered_by=ceo)
                revolut_sync(connection)
            except ProviderError as error:
                raise CommandError(f"{company.code}: {error}") from error
            self.stdout.write(f"  {company.code}: connected to the Revolut sandbox ({client_id})")
