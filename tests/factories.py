import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from stdnum.ch import uid

from finance.models import (
    BankAccount,
    BankTransaction,
    Client,
    Company,
    Invoice,
    Membership,
    Payment,
    Quote,
    Role,
    Supplier,
)
from integrations.models import Connection


def valid_che_uid(serial: int) -> str:
    """Return the first valid CHE UID at or after a serial number (mod-11 check digit)."""
    candidate = serial
    while True:
        digits = f"{candidate:08d}"
        for check in range(10):
            number = f"CHE{digits}{check}"
            if uid.is_valid(number):
                return uid.format(number)
        candidate += 1


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    password = factory.django.Password("correct horse battery")


# Two-letter codes for factory companies, avoiding the demo group's codes.
FACTORY_CODES = [f"{a}{b}" for a in "QWYZ" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: FACTORY_CODES[n % len(FACTORY_CODES)])
    name = factory.LazyAttribute(lambda c: f"Company {c.code}")
    legal_name = factory.LazyAttribute(lambda c: f"Company {c.code} SA")
    che_uid = factory.Sequence(lambda n: valid_che_uid(10_000_000 + n * 7919))
    vat_number = factory.LazyAttribute(lambda c: f"{c.che_uid} MWST")
    street = "Rue de Lausanne"
    building_number = "1"
    postal_code = "1700"
    town = "Fribourg"
    iban = "CH9300762011623852957"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    company = factory.SubFactory(CompanyFactory)
    role = Role.FINANCE


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    company = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Client {n} SA")
    street = "Rue du Marché"
    building_number = "3"
    postal_code = "1204"
    town = "Genève"


class QuoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Quote

    company = factory.SubFactory(CompanyFactory)
    client = factory.SubFactory(ClientFactory, company=factory.SelfAttribute("..company"))
    title = "Écran LED hall d'entrée"
    quote_date = datetime.date(2026, 11, 2)
    valid_until = datetime.date(2026, 12, 2)
    created_by = factory.SubFactory(UserFactory)


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    company = factory.SubFactory(CompanyFactory)
    client = factory.SubFactory(ClientFactory, company=factory.SelfAttribute("..company"))
    title = "Installation écran LED"
    created_by = factory.SubFactory(UserFactory)


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    company = factory.SubFactory(CompanyFactory)
    client = factory.SubFactory(ClientFactory, company=factory.SelfAttribute("..company"))
    received_on = datetime.date(2026, 11, 20)
    amount = Decimal("100.00")
    created_by = factory.SubFactory(UserFactory)


class SupplierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supplier

    company = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Fournisseur {n} Sàrl")
    street = "Route de la Gare"
    building_number = "12"
    postal_code = "1003"
    town = "Lausanne"
    iban = "CH5604835012345678009"
    bank_country = "CH"


class ConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connection
        django_get_or_create = ("company", "provider")

    company = factory.SubFactory(CompanyFactory)
    provider = "revolut"
    base_url = "https://sandbox-b2b.revolut.com/api/1.0"


class BankAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BankAccount

    company = factory.SubFactory(CompanyFactory)
    connection = factory.SubFactory(ConnectionFactory, company=factory.SelfAttribute("..company"))
    provider_account_id = factory.Sequence(lambda n: f"acc-{n:06d}")
    name = "Main"
    currency = "CHF"
    balance = Decimal("0.00")
    balance_updated_at = factory.LazyFunction(lambda: datetime.datetime(2026, 11, 20, 8, 0, tzinfo=datetime.UTC))


class BankTransactionFactory(factory.django.DjangoModelFactory):
    """An incoming transfer the bank completed, waiting to be matched."""

    class Meta:
        model = BankTransaction

    company = factory.SubFactory(CompanyFactory)
    account = factory.SubFactory(
        BankAccountFactory, company=factory.SelfAttribute("..company"), currency=factory.SelfAttribute("..currency")
    )
    provider_id = factory.Sequence(lambda n: f"tx-{n:06d}")
    type = "transfer"
    state = BankTransaction.State.COMPLETED
    amount = Decimal("100.00")
    currency = "CHF"
    created_on_bank = datetime.datetime(2026, 11, 20, 9, 0, tzinfo=datetime.UTC)
    completed_at = datetime.datetime(2026, 11, 20, 9, 0, tzinfo=datetime.UTC)
    match_status = BankTransaction.Match.UNMATCHED
