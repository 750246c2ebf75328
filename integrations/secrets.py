"""Secrets at rest: Fernet with the keys of HV_SECRETS_KEYS (the first encrypts; all decrypt, for rotation)."""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Characters of a secret a page may show at each end; shorter secrets are shown masked entirely.
HINT_VISIBLE = 4


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("HV_SECRETS_KEYS is empty: set a Fernet key to store provider secrets.")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt(plaintext: str) -> str:
    return _fernet(tuple(settings.HV_SECRETS_KEYS)).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(tuple(settings.HV_SECRETS_KEYS)).decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured("Stored secrets cannot be decrypted with HV_SECRETS_KEYS (key changed?).") from None


def hint(secret: str) -> str:
    if not secret:
        return ""
    if len(secret) <= HINT_VISIBLE * 3:
        return "•" * 8
    return f"{secret[:HINT_VISIBLE]}…{secret[-HINT_VISIBLE:]}"
