"""Create the demo group through the services: five companies, the CEO and one staff user each."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from finance.models import Company, Membership, Role
from finance.services.companies import company_create, membership_grant, user_create

# Fictitious identities with valid check digits (UID mod 11, IBAN mod 97) at real Swiss banks.
DEMO_COMPANIES = [
    {
        "code": "HV",
        "name": "HYPERVISUAL",
        "legal_name": "HYPERVISUAL Sàrl",
        "che_uid": "CHE-123.456.788",
        "vat_number": "CHE-123.456.788 TVA",
        "street": "Boulevard de Pérolles",
        "building_number": "10",
        "postal_code": "1700",
        "town": "Fribourg",
        "iban": "CH8300768000123456789",
        "qr_iban": "CH0830768000123456789",
        "colour": "#206bc4",
    },
    {
        "code": "DA",
        "name": "DAINAMICS",
        "legal_name": "DAINAMICS SA",
        "che_uid": "CHE-234.567.895",
        "vat_number": "CHE-234.567.895 TVA",
        "street": "Rue de Romont",
        "building_number": "24",
        "postal_code": "1700",
        "town": "Fribourg",
        "iban": "CH2809000000017654321",
        "qr_iban": "CH2430000000017654321",
        "colour": "#7048e8",
    },
    {
        "code": "LX",
        "name": "LEXAIA",
        "legal_name": "LEXAIA Sàrl",
        "che_uid": "CHE-345.678.915",
        "vat_number": "CHE-345.678.915 TVA",
        "street": "Avenue de la Gare",
        "building_number": "12",
        "postal_code": "1003",
        "town": "Lausanne",
        "iban": "CH5200767000234567890",
        "qr_iban": "CH7430767000234567890",
        "colour": "#0ca678",
    },
    {
        "code": "ER",
        "name": "ENKI REALTY",
        "legal_name": "ENKI REALTY SA",
        "che_uid": "CHE-456.789.123",
        "vat_number": "CHE-456.789.123 TVA",
        "street": "Rue du Rhône",
        "building_number": "30",
        "postal_code": "1204",
        "town": "Genève",
        "iban": "CH8600240000345678901",
        "colour": "#f59f00",
        "payment_terms_days": 10,
    },
    {
        "code": "TO",
        "name": "TAKEOUT",
        "legal_name": "TakeOut Factory Sàrl",
        "che_uid": "CHE-678.912.344",
        "vat_number": "CHE-678.912.344 MWST",
        "street": "Bahnhofplatz",
        "building_number": "5",
        "postal_code": "3011",
        "town": "Bern",
        "iban": "CH5600790000456789012",
        "colour": "#d63939",
        "vat_method": Company.VatMethod.NET_RATE,
    },
]

# (username, first name, last name, company code, role); the CEO is given every company.
DEMO_STAFF = [
    ("hv.finance", "Léa", "Morel", "HV", Role.FINANCE),
    ("da.finance", "Noah", "Rochat", "DA", Role.FINANCE),
    ("lx.sales", "Chloé", "Bersier", "LX", Role.SALES),
    ("er.operations", "Luca", "Pittet", "ER", Role.OPERATIONS),
    ("to.viewer", "Sara", "Brunner", "TO", Role.VIEWER),
]
CEO_USERNAME = "ceo"


class Command(BaseCommand):
    help = "Seed the demo group (companies and users). With --if-empty, only on a database without companies."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if any company exists.")

    def handle(self, *args, if_empty: bool = False, **options) -> None:
        if Company.objects.exists():
            if not if_empty:
                self.stderr.write("Companies already exist: the demo seed only fills an empty database.")
                raise SystemExit(1)
            self.stdout.write("Database already holds companies: demo seed skipped.")
        else:
            self.seed(password=settings.HV_DEMO_PASSWORD)
            self.stdout.write(self.style.SUCCESS(f"Demo group seeded: {len(DEMO_COMPANIES)} companies."))
        self.print_logins()

    @transaction.atomic
    def seed(self, *, password: str) -> None:
        companies = {data["code"]: company_create(created_by=None, **data) for data in DEMO_COMPANIES}
        ceo = user_create(username=CEO_USERNAME, password=password, first_name="Camille", last_name="Favre")
        for company in companies.values():
            membership_grant(user=ceo, company=company, role=Role.CEO, granted_by=None)
        for username, first_name, last_name, code, role in DEMO_STAFF:
            user = user_create(username=username, password=password, first_name=first_name, last_name=last_name)
            membership_grant(user=user, company=companies[code], role=role, granted_by=None)

    def print_logins(self) -> None:
        demo_usernames = [CEO_USERNAME, *(username for username, *_ in DEMO_STAFF)]
        memberships = Membership.objects.filter(user__username__in=demo_usernames).select_related("user", "company")
        if not memberships:
            return
        self.stdout.write(f"Demo logins (password: {settings.HV_DEMO_PASSWORD}):")
        for username in demo_usernames:
            mine = [m for m in memberships if m.user.username == username]
            if mine:
                where = "all companies" if mine[0].role == Role.CEO else mine[0].company.code
                self.stdout.write(f"  {username:<15} {mine[0].get_role_display():<12} {where}")
