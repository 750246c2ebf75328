"""Connect every company to its own ERPNext sandbox site, as a person would: keys saved, tested, read once."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from finance.models import Company, Supplier
from integrations import connections, erpnext, selectors
from integrations.clients.base import ProviderError
from integrations.models import Provider
from sandbox import erpnext as sandbox_erpnext
from sandbox.management.demo import demo_ceo

# Two suppliers ERPNext knows and the Hub does not: "Create in the Hub" has something to do in the demo.
UNKNOWN_SUPPLIERS = (
    {"name": "Muster Logistik AG", "tax_id": "CHE-109.322.551", "iban": "CH24 0070 0000 1234 5678 9",
     "street": "Industriestrasse 12", "pincode": "8004", "city": "Zürich", "default_currency": "CHF"},
    {"name": "Beispiel Elektro GmbH", "tax_id": "CHE-116.281.710", "iban": "CH73 0070 0000 9876 5432 1",
     "street": "Rue du Rhône 4", "pincode": "1204", "city": "Genève", "default_currency": "CHF"},
)  # fmt: skip


def known_suppliers(company: Company) -> list[dict]:
    """The company's first Hub suppliers as ERPNext would spell them: one found by its UID, one by its IBAN."""
    suppliers = list(Supplier.objects.filter(company=company).order_by("pk")[:2])
    found = []
    for index, supplier in enumerate(suppliers):
        by_uid = index == 0 and supplier.che_uid
        found.append({
            "name": f"{supplier.name} (ERPNext)", "tax_id": supplier.che_uid if by_uid else "",
            "iban": "" if by_uid else supplier.iban, "street": f"{supplier.street} {supplier.building_number}".strip(),
            "pincode": supplier.postal_code, "city": supplier.town, "default_currency": supplier.currency,
        })  # fmt: skip
    return found


class Command(BaseCommand):
    help = "Demo mode: an ERPNext connection to a sandbox site for every company (stock, purchasing, leave)."

    def handle(self, *args, **options) -> None:
        ceo = demo_ceo()
        for company in Company.objects.order_by("code"):
            existing = selectors.connection_get(company, Provider.ERPNEXT)
            if existing is not None and selectors.connection_status(existing).usable:
                self.stdout.write(f"  {company.code}: already connected")
                continue
            site = company.code.lower()
            api_key, api_secret = f"hv-demo-erpnext-{site}", f"demo-secret-{site}"
            sandbox_erpnext.site_add(site, api_key=api_key, api_secret=api_secret, user=f"hub@{site}.example.ch")
            sandbox_erpnext.company_seed(
                site, company=company.name, abbr=company.code, currency=company.currency,
                today=timezone.localdate(), suppliers=known_suppliers(company) + list(UNKNOWN_SUPPLIERS),
            )  # fmt: skip
            connection = erpnext.settings_save(
                company=company, base_url=f"{settings.HV_PUBLIC_URL}/sandbox/erpnext/{site}", api_key=api_key,
                api_secret=api_secret, erpnext_company=company.name, updated_by=ceo,
            )  # fmt: skip
            connection = connections.connection_probe(connection)
            if not connection.last_probe_ok:
                raise CommandError(f"{company.code}: {connection.last_probe_detail}")
            try:
                erpnext.snapshot_refresh(connection)
            except ProviderError as error:
                raise CommandError(f"{company.code}: {error.message}") from error
            self.stdout.write(f"  {company.code}: connected to the ERPNext sandbox (site {site})")
