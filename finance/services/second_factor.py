"""The second factor of the people who approve payouts and keep the books: a TOTP app, and recovery codes.

django-otp keeps the devices and verifies the codes; it also throttles them (each wrong code doubles the
wait before the next try, per device), which is the second step's counterpart of the login throttling.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image

from finance.models import Role
from finance.services.audit import audit_record

# The roles that move money: they sign in with a second factor.
SECOND_FACTOR_ROLES = (Role.CEO, Role.FINANCE)
RECOVERY_CODES = 10
TOTP_DIGITS = 6
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"


def second_factor_required(user: AbstractBaseUser, *, roles: Iterable[str]) -> bool:
    """Whether the user, holding `roles` in their companies (the request's scope has them), needs one."""
    if not settings.HV_MFA_REQUIRED or not user.is_authenticated:
        return False
    return user.is_superuser or any(role in SECOND_FACTOR_ROLES for role in roles)


def confirmed_totp_device(user: AbstractBaseUser) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


@dataclass(frozen=True)
class Enrolment:
    device: TOTPDevice
    secret: str  # base32, as authenticator apps take it when typed in
    qr_svg_data_uri: str


def enrolment_start(user: AbstractBaseUser) -> Enrolment:
    """The user's pending authenticator (a new key the first time), with what the page shows to scan or type."""
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    svg = io.BytesIO()
    write_qrcode_image(device.config_url, svg)
    return Enrolment(
        device=device,
        secret=base64.b32encode(device.bin_key).decode(),
        qr_svg_data_uri="data:image/svg+xml;base64," + base64.b64encode(svg.getvalue()).decode(),
    )


@transaction.atomic
def enrolment_confirm(*, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm the pending authenticator with a code it shows; returns the new recovery codes, or None."""
    if not device.verify_token(code.strip()):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    codes = recovery_codes_replace(device.user)
    audit_record(actor=device.user, company=None, action="user.second_factor_enrolled", target=device.user)
    return codes


def recovery_codes_replace(user: AbstractBaseUser) -> list[str]:
    """New single-use recovery codes (the previous ones stop working), to be shown once."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


@dataclass(frozen=True)
class Verification:
    device: TOTPDevice | StaticDevice | None
    wait_seconds: int = 0  # > 0: throttled, no code is tried before then


def second_factor_verify(user: AbstractBaseUser, code: str) -> Verification:
    """Check a code: six digits on the user's authenticator, anything else as a recovery code (used up when it
    matches). Each device counts its own wrong codes, so a mistyped recovery code slows the app's codes down
    no more than the reverse."""
    code = code.strip().replace(" ", "")
    if code.isascii() and code.isdigit() and len(code) == TOTP_DIGITS:
        device = confirmed_totp_device(user)
    else:
        device = StaticDevice.objects.devices_for_user(user, confirmed=True).first()
    if device is None:
        return Verification(device=None)
    allowed, details = device.verify_is_allowed()
    if not allowed:
        return Verification(device=None, wait_seconds=_seconds_until(details))
    return Verification(device=device if device.verify_token(code) else None)


def _seconds_until(details: dict | None) -> int:
    locked_until = (details or {}).get("locked_until")
    return max(int((locked_until - timezone.now()).total_seconds()) + 1, 1) if locked_until else 1


def demo_totp_device_set(user: AbstractBaseUser, *, hex_key: str) -> TOTPDevice:
    """The demo's authenticator: a known key, so that `make run` can print it (never in production data)."""
    TOTPDevice.objects.filter(user=user).delete()
    return TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, key=hex_key, confirmed=True)
