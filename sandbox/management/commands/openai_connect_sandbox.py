"""Connect every company to the OpenAI sandbox, as a person would: key saved, connection tested."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from finance.models import Company
from integrations import connections, selectors
from integrations import openai as openai_connection
from integrations.models import Provider
from sandbox import openai as sandbox_openai
from sandbox.management.demo import demo_ceo


class Command(BaseCommand):
    help = "Demo mode: an OpenAI connection to the sandbox for every company (AI qualification of leads)."

    def handle(self, *args, **options) -> None:
        ceo = demo_ceo()
        for company in Company.objects.order_by("code"):
            existing = selectors.connection_get(company, Provider.OPENAI)
            if existing is not None and selectors.connection_status(existing).usable:
                self.stdout.write(f"  {company.code}: already connected")
                continue
            api_key = f"sk-hv-demo-{company.code.lower()}"
            sandbox_openai.key_add(api_key)
            connection = openai_connection.settings_save(
                company=company, base_url=f"{settings.HV_PUBLIC_URL}/sandbox/openai/v1", api_key=api_key,
                model=openai_connection.DEFAULT_MODEL, updated_by=ceo,
            )  # fmt: skip
            connection = connections.connection_probe(connection)
            if not connection.last_probe_ok:
                raise CommandError(f"{company.code}: {connection.last_probe_detail}")
            self.stdout.write(f"  {company.code}: connected to the OpenAI sandbox ({api_key})")
