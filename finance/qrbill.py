"""Swiss QR-bill: payment references, the payment part's checks, its SVG, and PDFs rendered by WeasyPrint.

Pure functions on frozen dataclasses; the invoice services map their models onto `PaymentPart`. The rules
are those of SIX's Swiss Implementation Guidelines QR-bill v2.3, which accept structured addresses (type S)
only, so `Address` has no combined form. Every rule is checked by `validate_payment_part` with a message a
user can act on, before the `qrbill` library (which raises bare ValueErrors) ever sees the data.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from iso3166 import countries_by_alpha2
from qrbill import QRBill
from stdnum import iso11649
from stdnum.ch import esr
from stdnum.iso7064 import mod_97_10

from finance.identifiers import QR_IBAN_COUNTRIES, is_qr_iban, parse_iban

ReferenceType = Literal["QRR", "SCOR", "NON"]
Language = Literal["fr", "de", "it", "en"]

CURRENCIES = ("CHF", "EUR")
CENTIME = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999.99")
QRR_PAYLOAD = re.compile(r"[0-9]{1,26}")
SCOR_PAYLOAD = re.compile(r"[0-9A-Z]{1,21}")
SCOR_SHAPE = re.compile(r"RF[0-9]{2}[0-9A-Z]{1,21}")
QRR_SHAPE = re.compile(r"[0-9]{27}")
MAX_ADDITIONAL_INFORMATION = 140
# Field lengths of a structured address (IG QR-bill v2.3).
MAX_NAME = 70
MAX_STREET = 70
MAX_BUILDING_NUMBER = 16
MAX_POSTAL_CODE = 16
MAX_TOWN = 35
# The extended Latin character set of the Swiss Payment Standards, allowed in QR-bills since 21 November 2025:
# Basic Latin, Latin-1 Supplement, Latin Extended-A, the Romanian Ș ș Ț ț and the euro sign. Anything else
# (an emoji, Cyrillic, a line break) is outside the standard and banks may reject the payment.
ALLOWED_TEXT = re.compile("[\u0020-\u007e\u00a0-\u017f\u0218-\u021b\u20ac]*")


@dataclass(frozen=True)
class Address:
    """A structured address (type S); the country is an ISO 3166 alpha-2 code such as CH."""

    name: str
    street: str
    building_number: str
    postal_code: str
    town: str
    country: str


@dataclass(frozen=True)
class PaymentPart:
    """What a QR-bill's payment part says. `amount` None leaves the amount blank for the payer to fill in;
    `debtor` None prints the blank "payable by" box. `reference` is compact: 27 digits (QRR), RF… (SCOR) or
    empty (NON), as `qr_reference` and `creditor_reference` return it."""

    account: str
    creditor: Address
    debtor: Address | None
    amount: Decimal | None
    currency: str
    reference: str
    additional_information: str = ""

    @property
    def reference_type(self) -> ReferenceType:
        # Anything that is neither empty nor RF… can only be meant as a QR reference, and is checked as one.
        if not self.reference:
            return "NON"
        if self.reference.startswith("RF"):
            return "SCOR"
        return "QRR"


def qr_reference(payload_digits: str) -> str:
    """The 27-digit QR reference (QRR) of a payload of up to 26 digits: zero-padded, then the modulo-10
    recursive check digit."""
    if not QRR_PAYLOAD.fullmatch(payload_digits):
        raise ValueError(f"A QR reference payload is 1 to 26 digits, not {payload_digits!r}.")
    padded = payload_digits.zfill(26)
    return padded + esr.calc_check_digit(padded)


def creditor_reference(payload: str) -> str:
    """The ISO 11649 creditor reference (RF + two check digits + payload) of 1 to 21 letters or digits."""
    payload = payload.upper()
    if not SCOR_PAYLOAD.fullmatch(payload):
        raise ValueError(f"A creditor reference payload is 1 to 21 letters or digits, not {payload!r}.")
    # ISO 11649 moves "RF" + check digits behind the payload and asks for ISO 7064 mod 97-10 remainder 1.
    return "RF" + mod_97_10.calc_check_digits(payload + "RF") + payload


def validate_payment_part(part: PaymentPart) -> None:
    """Raise ValidationError listing every rule of the QR-bill standard the payment part breaks."""
    errors = [*_account_errors(part), *_reference_errors(part), *_amount_errors(part)]
    if part.currency not in CURRENCIES:
        errors.append(
            ValidationError(
                _("A QR-bill is payable in CHF or EUR only, not “%(currency)s”."),
                code="qrbill_currency",
                params={"currency": part.currency},
            )
        )
    errors += _address_errors(part.creditor, party=_("Creditor"))
    if part.debtor is not None:
        errors += _address_errors(part.debtor, party=_("Debtor"))
    errors += _text_errors(part.additional_information, party=_("Additional information"), field=_("the text"))
    if len(part.additional_information) > MAX_ADDITIONAL_INFORMATION:
        errors.append(
            ValidationError(
                _("The additional information has %(length)d characters; the QR-bill allows at most %(limit)d."),
                code="qrbill_too_long",
                params={"length": len(part.additional_information), "limit": MAX_ADDITIONAL_INFORMATION},
            )
        )
    if errors:
        raise ValidationError(errors)


def _account_errors(part: PaymentPart) -> list[ValidationError]:
    try:
        iban = parse_iban(part.account)
    except ValidationError as error:
        return [error]
    if iban.country_code not in QR_IBAN_COUNTRIES:
        return [
            ValidationError(
                _("A QR-bill is payable only to a Swiss or Liechtenstein account; “%(iban)s” is not one."),
                code="qrbill_iban_country",
                params={"iban": iban.formatted},
            )
        ]
    # A QR-IBAN and a QR reference go together, both ways: banks route QR-IBAN payments by the QR reference.
    if is_qr_iban(iban) and part.reference_type != "QRR":
        return [
            ValidationError(
                _(
                    "A QR-IBAN requires a QR reference (QRR); for a creditor reference (RF) or no reference, use the account's ordinary IBAN."  # noqa: E501 - one message for translators
                ),
                code="qrbill_qr_iban_without_qrr",
            )
        ]
    if not is_qr_iban(iban) and part.reference_type == "QRR":
        return [
            ValidationError(
                _("A QR reference (QRR) can only be paid to a QR-IBAN; “%(iban)s” is an ordinary IBAN."),
                code="qrbill_qrr_without_qr_iban",
                params={"iban": iban.formatted},
            )
        ]
    return []


def _reference_errors(part: PaymentPart) -> list[ValidationError]:
    reference = part.reference
    if part.reference_type == "QRR":
        if not QRR_SHAPE.fullmatch(reference):
            return [
                ValidationError(
                    _("A QR reference (QRR) is 27 digits; “%(reference)s” is not."),
                    code="qrbill_qrr_format",
                    params={"reference": reference},
                )
            ]
        if not esr.is_valid(reference):
            return [
                ValidationError(
                    _("The QR reference “%(reference)s” has a wrong check digit."),
                    code="qrbill_qrr_checksum",
                    params={"reference": reference},
                )
            ]
    if part.reference_type == "SCOR":
        if not SCOR_SHAPE.fullmatch(reference):
            return [
                ValidationError(
                    _(
                        "A creditor reference is RF, two check digits and 1 to 21 capital letters or digits; “%(reference)s” is not."  # noqa: E501 - one message for translators
                    ),
                    code="qrbill_scor_format",
                    params={"reference": reference},
                )
            ]
        if not iso11649.is_valid(reference):
            return [
                ValidationError(
                    _("The creditor reference “%(reference)s” has wrong check digits."),
                    code="qrbill_scor_checksum",
                    params={"reference": reference},
                )
            ]
    return []


def _amount_errors(part: PaymentPart) -> list[ValidationError]:
    amount = part.amount
    if amount is None:
        return []
    errors = []
    if amount <= 0:
        errors.append(ValidationError(_("The amount of a QR-bill must be greater than zero."), code="qrbill_amount"))
    if amount > MAX_AMOUNT:
        errors.append(ValidationError(_("The amount of a QR-bill cannot exceed 999'999'999.99."), code="qrbill_amount"))
    if amount != amount.quantize(CENTIME):
        errors.append(
            ValidationError(
                _("The amount of a QR-bill has at most two decimals, not %(amount)s."),
                code="qrbill_amount",
                params={"amount": amount},
            )
        )
    return errors


def _address_errors(address: Address, *, party: str) -> list[ValidationError]:
    errors = []
    fields = (
        (_("the name"), address.name, MAX_NAME, True),
        (_("the street"), address.street, MAX_STREET, False),
        (_("the building number"), address.building_number, MAX_BUILDING_NUMBER, False),
        (_("the postal code"), address.postal_code, MAX_POSTAL_CODE, True),
        (_("the town"), address.town, MAX_TOWN, True),
    )
    for field, value, limit, required in fields:
        if required and not value.strip():
            errors.append(
                ValidationError(
                    _("%(party)s: %(field)s is required."),
                    code="qrbill_required",
                    params={"party": party, "field": field},
                )
            )
        if len(value) > limit:
            errors.append(
                ValidationError(
                    _("%(party)s: %(field)s has %(length)d characters; the QR-bill allows at most %(limit)d."),
                    code="qrbill_too_long",
                    params={"party": party, "field": field, "length": len(value), "limit": limit},
                )
            )
        errors += _text_errors(value, party=party, field=field)
    if address.country not in countries_by_alpha2:
        errors.append(
            ValidationError(
                _("%(party)s: “%(country)s” is not a two-letter ISO 3166 country code such as CH."),
                code="qrbill_country",
                params={"party": party, "country": address.country},
            )
        )
    return errors


def _text_errors(value: str, *, party: str, field: str) -> list[ValidationError]:
    if ALLOWED_TEXT.fullmatch(value):
        return []
    # repr() shows invisible characters such as line breaks; each is listed once.
    refused = dict.fromkeys(repr(character) for character in value if not ALLOWED_TEXT.fullmatch(character))
    return [
        ValidationError(
            _("%(party)s: %(field)s contains characters a QR-bill cannot carry: %(characters)s"),
            code="qrbill_characters",
            params={"party": party, "field": field, "characters": ", ".join(refused)},
        )
    ]


def payment_part_svg(part: PaymentPart, *, language: Language) -> str:
    """The standard receipt and payment part, 210 × 106 mm (A4 wide, A6 high plus the scissors line), as an
    `<svg>` element to inline at the bottom of an A4 page rendered by `render_pdf`. Raises ValidationError
    first if the payment part breaks a rule."""
    validate_payment_part(part)
    bill = QRBill(
        account=parse_iban(part.account).compact,
        creditor=_qrbill_address(part.creditor),
        debtor=_qrbill_address(part.debtor) if part.debtor else None,
        amount=part.amount.quantize(CENTIME) if part.amount is not None else None,
        currency=part.currency,
        reference_number=part.reference or None,
        additional_information=part.additional_information,
        language=language,
        # The Hub sends PDFs that payers print on plain paper: the standard then requires the dashed
        # separation lines with the scissors symbol (a perforated form would need none).
        top_line=True,
        payment_line=True,
    )
    svg = io.StringIO()
    bill.as_svg(svg)
    # The XML declaration is only legal at the start of a document, not inside an HTML page.
    return re.sub(r"^<\?xml[^>]*\?>\s*", "", svg.getvalue())


def _qrbill_address(address: Address) -> dict[str, str]:
    return {
        "name": address.name,
        "street": address.street,
        "house_num": address.building_number,
        "pcode": address.postal_code,
        "city": address.town,
        "country": address.country,
    }


def render_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """Render an HTML page to PDF. Relative URLs resolve against `base_url`; only file: and data: URLs are
    fetched, because documents carry user-typed text and rendering must never reach out to the network."""
    # Imported here: loading WeasyPrint binds Pango and HarfBuzz (close to a second), which only the
    # processes that render documents should pay for.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols=("file", "data"))
    return HTML(string=html, base_url=base_url, url_fetcher=fetcher).write_pdf()
