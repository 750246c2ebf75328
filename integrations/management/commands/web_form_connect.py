"""Give every company without one a website form secret, so its websites can post leads to the Hub.

With --show, print each company's URL and secret (what the person setting up the website needs).
"""

from django.core.management.base import BaseCommand

from finance.models import Company
from integrations import web_form
from integrations.models import Provider
from integrations.selectors import usable_connection


class Command(BaseCommand):
    help = "A website form (lead webhook) secret for every company that has none; --show prints URL and secret."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--show", action="store_true", help="Print each company's webhook URL and secret.")

    def handle(self, *args, show: bool = False, **options) -> None:
        for company in Company.objects.order_by("code"):
            connection = usable_connection(company, Provider.WEB_FORM)
            if connection is None:
                connection, _secret = web_form.secret_rotate(company=company, rotated_by=None)
                state = "secret generated"
            else:
                state = "already has a secret"
            line = f"  {company.code}: {state}"
            if show:
                line += f" · {web_form.webhook_url(company)} · {connection.secret('signing_secret')}"
            self.stdout.write(line)
        self.stdout.write(f"Websites sign: {web_form.SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of the raw body>")
