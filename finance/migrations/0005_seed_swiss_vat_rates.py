from datetime import date
from decimal import Decimal

from django.db import migrations

# Federal VAT rates (ESTV/AFC): 2018-01-01 to 2023-12-31, then from 2024-01-01.
SWISS_VAT_RATES = [
    ("standard", Decimal("7.70"), date(2018, 1, 1), date(2023, 12, 31)),
    ("reduced", Decimal("2.50"), date(2018, 1, 1), date(2023, 12, 31)),
    ("accommodation", Decimal("3.70"), date(2018, 1, 1), date(2023, 12, 31)),
    ("exempt", Decimal("0.00"), date(2018, 1, 1), None),
    ("standard", Decimal("8.10"), date(2024, 1, 1), None),
    ("reduced", Decimal("2.60"), date(2024, 1, 1), None),
    ("accommodation", Decimal("3.80"), date(2024, 1, 1), None),
]


def seed_rates(apps, schema_editor):
    VatRate = apps.get_model("finance", "VatRate")
    for code, rate, valid_from, valid_to in SWISS_VAT_RATES:
        VatRate.objects.update_or_create(
            code=code, valid_from=valid_from, defaults={"rate": rate, "valid_to": valid_to}
        )


def remove_rates(apps, schema_editor):
    VatRate = apps.get_model("finance", "VatRate")
    for code, _rate, valid_from, _valid_to in SWISS_VAT_RATES:
        VatRate.objects.filter(code=code, valid_from=valid_from).delete()


class Migration(migrations.Migration):
    dependencies = [("finance", "0004_vat_rates")]

    operations = [migrations.RunPython(seed_rates, remove_rates)]
