"""Configure Directus on the Hub's database over its REST API: names, hidden tables, Hub admin role, the Flow."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from finance.services.outside_edits import SHARED_TABLES
from integrations.clients.base import ProviderError
from integrations.clients.directus import DirectusClient
from integrations.directus import directus_configure, health_probe


class Command(BaseCommand):
    help = "Apply the Hub's Directus configuration (idempotent): HV_DIRECTUS_URL, HV_DIRECTUS_TOKEN and the secret."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--hub-url", default=settings.HV_PUBLIC_URL,
            help="Where Directus reaches the Hub for its events (default: HV_PUBLIC_URL).",
        )  # fmt: skip

    def handle(self, *args, hub_url: str, **options) -> None:
        if not settings.HV_DIRECTUS_TOKEN:
            raise CommandError("HV_DIRECTUS_TOKEN is empty: set it to the Directus admin's static token")
        api = DirectusClient(settings.HV_DIRECTUS_URL, settings.HV_DIRECTUS_TOKEN)
        try:
            report = directus_configure(
                api, hub_url=hub_url, secret=settings.HV_DIRECTUS_WEBHOOK_SECRET, edited_tables=SHARED_TABLES
            )
        except (ProviderError, ValueError) as error:
            raise CommandError(f"Directus at {settings.HV_DIRECTUS_URL}: {error}") from error
        self.stdout.write(f"Directus at {settings.HV_DIRECTUS_URL} configured; events go to {hub_url}")
        for line in report.lines():
            self.stdout.write(f"  {line}")
        # The status bar shows Directus' health from now on, not only after the first beat.
        self.stdout.write(f"  health: {health_probe()['detail']}")
