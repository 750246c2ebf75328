"""Swiss identifiers of companies and bank accounts: CHE UID, VAT number, IBAN and QR-IBAN."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.ch import uid, vat
from stdnum.exceptions import ValidationError as StdnumValidationError

# QR-IBANs carry a QR-IID (positions 5-9) in this range (SIX, Swiss Implementation Guidelines QR-bill).
QR_IID_RANGE = range(30000, 32000)
QR_IBAN_COUNTRIES = ("CH", "LI")


def normalize_che_uid(value: str) -> str:
    """Return the UID as `CHE-123.456.789`, or raise ValidationError."""
    try:
        return uid.format(uid.validate(value))
    except StdnumValidationError:
        raise ValidationError(
            _(
                "“%(value)s” is not a valid Swiss company number (UID): expected CHE-123.456.789 with a valid check digit."  # noqa: E501 - one message for translators
            ),
            code="invalid_che_uid",
            params={"value": value},
        ) from None


def normalize_vat_number(value: str) -> str:
    """Return the VAT number as `CHE-123.456.789 MWST`, or raise ValidationError."""
    try:
        return vat.format(vat.validate(value))
    except StdnumValidationError:
        raise ValidationError(
            _("“%(value)s” is not a valid Swiss VAT number: expected CHE-123.456.789 MWST, TVA or IVA."),
            code="invalid_vat_number",
            params={"value": value},
        ) from None


def is_qr_iban(iban: IBAN) -> bool:
    return iban.country_code in QR_IBAN_COUNTRIES and int(iban.bank_code) in QR_IID_RANGE


def parse_iban(value: str) -> IBAN:
    try:
        return IBAN(value)
    except SchwiftyException as error:
        raise ValidationError(
            _("“%(value)s” is not a valid IBAN (%(reason)s)."),
            code="invalid_iban",
            params={"value": value, "reason": error},
        ) from None


def normalize_account_iban(value: str) -> str:
    """Return the compact IBAN of an ordinary account; a QR-IBAN is refused here."""
    iban = parse_iban(value)
    if is_qr_iban(iban):
        raise ValidationError(
            _("This is a QR-IBAN: enter it in the QR-IBAN field, and the account's ordinary IBAN here."),
            code="qr_iban_as_iban",
        )
    return iban.compact


def normalize_qr_iban(value: str) -> str:
    """Return the compact QR-IBAN, or raise ValidationError if it is not one."""
    iban = parse_iban(value)
    if not is_qr_iban(iban):
        raise ValidationError(
            _("This IBAN is not a QR-IBAN: a QR-IBAN is Swiss or Liechtenstein with a QR-IID from 30000 to 31999."),
            code="not_qr_iban",
        )
    return iban.compact


def format_iban(compact: str) -> str:
    """Group a compact IBAN by four for display: CH44 3199 9123 0008 8901 2."""
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


# A phone number after normalising: "+" and 8 to 15 digits (ITU-T E.164).
E164_DIGITS = range(8, 16)


def normalize_phone(value: str, *, default_country_code: str = "41") -> str:
    """Return the number as E.164 (`+41791234567`): Swiss national numbers get +41, `00` becomes `+`.

    Spaces, dots, dashes, slashes and brackets are dropped; anything else raises ValidationError.
    """
    compact = "".join(char for char in value.strip() if char not in " .-/()\u00a0")
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    elif compact.startswith("0"):
        compact = f"+{default_country_code}{compact[1:]}"
    elif compact and not compact.startswith("+"):
        compact = "+" + compact
    digits = compact[1:]
    if not (digits.isdigit() and digits.isascii() and len(digits) in E164_DIGITS):
        raise ValidationError(_("Enter a phone number such as 079 123 45 67 or +41 79 123 45 67."), code="phone")
    return compact
