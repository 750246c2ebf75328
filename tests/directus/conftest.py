from importlib import import_module

import pytest
from django.apps import apps as django_apps


@pytest.fixture
def vat_rates(transactional_db):
    """Tests that commit empty every table when they end, the VAT rates of migration 0005 included."""
    import_module("finance.migrations.0005_seed_swiss_vat_rates").seed_rates(django_apps, schema_editor=None)
