"""Print the current code of the demo's authenticator key (HV_DEMO_TOTP_KEY), for a demo without a phone."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django_otp.oath import totp


class Command(BaseCommand):
    help = "Print the current 6-digit code of the demo CEO and finance logins' second factor."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"{totp(bytes.fromhex(settings.HV_DEMO_TOTP_KEY)):06d}")
