import pytest
from django.core.exceptions import ValidationError

from finance import identifiers


def test_che_uid_is_normalized_to_the_official_format():
    assert identifiers.normalize_che_uid("che123456788") == "CHE-123.456.788"
    assert identifiers.normalize_che_uid("CHE-123.456.788") == "CHE-123.456.788"


@pytest.mark.parametrize("value", ["CHE-123.456.789", "CHE-12.456.788", "CHE-123.456.78", "DE123456788"])
def test_che_uid_with_wrong_check_digit_or_shape_is_refused(value):
    with pytest.raises(ValidationError) as error:
        identifiers.normalize_che_uid(value)
    assert error.value.code == "invalid_che_uid"


def test_vat_number_is_normalized_and_keeps_its_language_suffix():
    assert identifiers.normalize_vat_number("CHE123456788TVA") == "CHE-123.456.788 TVA"
    assert identifiers.normalize_vat_number("CHE-123.456.788 MWST") == "CHE-123.456.788 MWST"


def test_vat_number_without_suffix_is_refused():
    with pytest.raises(ValidationError) as error:
        identifiers.normalize_vat_number("CHE-123.456.788")
    assert error.value.code == "invalid_vat_number"


def test_account_iban_is_stored_compact():
    assert identifiers.normalize_account_iban("ch93 0076 2011 6238 5295 7") == "CH9300762011623852957"


def test_iban_with_wrong_checksum_is_refused():
    with pytest.raises(ValidationError) as error:
        identifiers.normalize_account_iban("CH93 0076 2011 6238 5295 8")
    assert error.value.code == "invalid_iban"


def test_qr_iban_is_refused_as_ordinary_iban_and_accepted_as_qr_iban():
    with pytest.raises(ValidationError) as error:
        identifiers.normalize_account_iban("CH44 3199 9123 0008 8901 2")
    assert error.value.code == "qr_iban_as_iban"
    assert identifiers.normalize_qr_iban("CH44 3199 9123 0008 8901 2") == "CH4431999123000889012"


def test_ordinary_iban_is_refused_as_qr_iban():
    with pytest.raises(ValidationError) as error:
        identifiers.normalize_qr_iban("CH93 0076 2011 6238 5295 7")
    assert error.value.code == "not_qr_iban"


def test_iban_is_grouped_by_four_for_display():
    assert identifiers.format_iban("CH4431999123000889012") == "CH44 3199 9123 0008 8901 2"
