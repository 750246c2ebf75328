"""A synthetic history of the group for benchmarking the CEO dashboard (`manage.py generate_dataset`).

Ten years of the five group companies' sales, purchases, projects, payments and bank movements, shaped like
what the dashboard reads: revenue growing over the years with the seasons, old invoices paid, recent ones
open or overdue, quotes waiting for an answer, late milestones, and bank balances their transactions add up to.

Rows are plain tuples streamed into PostgreSQL with COPY, one company and calendar year at a time, so memory
stays bounded at a million invoices; a background thread generates the next chunk while the database loads
the current one. Every generated row is recognisable: its author is the dataset user, or it carries the
dataset e-mail domain, bank account prefix or exchange rate source. A later run replaces those rows and
nothing else.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib import import_module
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from schwifty import IBAN

from finance import qrbill
from finance.management.commands.seed_demo import DEMO_COMPANIES
from finance.models import (
    BankAccount,
    Company,
    DocumentSequence,
    Invoice,
    Milestone,
    Payment,
    ProjectType,
    SupplierCategory,
    SupplierInvoice,
    VatCode,
)
from finance.services.companies import company_create
from finance.services.numbering import NUMBER_FORMATS
from finance.services.purchases import approval_fingerprint
from finance.vat import rounds_to_five_centimes
from integrations.models import Connection, Provider
from integrations.revolut import REVOLUT_PRODUCTION_URL

# What marks a generated row, for the next run to find and replace it.
ENTRY_USERNAME = "dataset-entry"
APPROVER_USERNAME = "dataset-approver"
EMAIL_DOMAIN = "dataset.example"
ACCOUNT_PREFIX = "dataset-"
FX_SOURCE = "dataset"

YEARS = 10
DEFAULT_SEED = 2026


@dataclass(frozen=True)
class DatasetSize:
    invoices: int
    clients: int
    quotes: int
    projects: int
    suppliers: int
    supplier_invoices: int
    bank_transactions: int
    # Recent incoming transfers nobody matched yet, for the reconciliation figures.
    unmatched_transactions: int


SIZES = {
    "XS": DatasetSize(300, 40, 80, 15, 10, 30, 150, 10),
    "S": DatasetSize(10_000, 300, 2_000, 200, 30, 500, 5_000, 100),
    "M": DatasetSize(100_000, 1_500, 20_000, 1_000, 100, 5_000, 50_000, 200),
    "L": DatasetSize(1_000_000, 5_000, 100_000, 5_000, 250, 50_000, 500_000, 300),
}
# XS only exists for the tests.
PUBLIC_SIZES = ("S", "M", "L")


class DatasetExists(Exception):
    """The companies already hold generated rows and the caller did not ask to replace them."""


# --- How each company does business ---------------------------------------------------------------------


class Offer(NamedTuple):
    description: str
    unit: str
    # Whole units, or hours counted by the half hour.
    quantities: tuple[int, int]
    # CHF per unit in the first year; prices follow inflation afterwards.
    prices: tuple[int, int]


@dataclass(frozen=True)
class Profile:
    # The company's part of the group's invoices, and how fast their number grows each year.
    share: float
    growth: float
    project_type: str
    deposit_percent: int
    offers: tuple[Offer, ...]
    titles: tuple[str, ...]
    # Net CHF of one supplier invoice line: purchases stay around an eighth of the revenue.
    purchase_line_net: tuple[int, int]
    supplier_categories: tuple[str, ...]
    supplier_work: tuple[str, ...]


PROFILES = {
    "HV": Profile(
        share=0.28, growth=0.16, project_type=ProjectType.DIGITAL_SIGNAGE, deposit_percent=30,
        offers=(
            Offer("Écran LED professionnel 55 pouces", "pce", (1, 6), (1200, 3500)),
            Offer("Mediaplayer et licence CMS (12 mois)", "pce", (1, 6), (350, 900)),
            Offer("Installation et câblage", "h", (4, 40), (120, 160)),
            Offer("Conception de contenus", "h", (2, 20), (110, 150)),
            Offer("Contrat de maintenance annuel", "forfait", (1, 1), (800, 4000)),
        ),
        titles=("Affichage dynamique", "Écrans vitrine", "Mur d'images", "Signalétique digitale", "Maintenance"),
        purchase_line_net=(3000, 21000),
        supplier_categories=(SupplierCategory.HARDWARE, SupplierCategory.INSTALLATION, SupplierCategory.TRANSPORT),
        supplier_work=("Écrans et mediaplayers", "Pose et raccordement", "Transport de matériel"),
    ),
    "DA": Profile(
        share=0.22, growth=0.22, project_type=ProjectType.SOFTWARE, deposit_percent=20,
        offers=(
            Offer("Développement logiciel", "h", (10, 160), (140, 190)),
            Offer("Abonnement plateforme SaaS", "mois", (1, 12), (200, 1500)),
            Offer("Conseil en données et IA", "h", (4, 40), (180, 240)),
            Offer("Hébergement et exploitation", "mois", (1, 3), (150, 600)),
        ),
        titles=("Application métier", "Plateforme de données", "Intégration API", "Abonnement", "Audit technique"),
        purchase_line_net=(6000, 36000),
        supplier_categories=(SupplierCategory.SOFTWARE, SupplierCategory.SUBCONTRACTING, SupplierCategory.SERVICES),
        supplier_work=("Licences logicielles", "Développement sous-traité", "Hébergement cloud"),
    ),
    "LX": Profile(
        share=0.18, growth=0.10, project_type=ProjectType.LEGAL, deposit_percent=0,
        offers=(
            Offer("Conseil juridique", "h", (1, 30), (250, 420)),
            Offer("Rédaction de contrat", "forfait", (1, 1), (800, 4500)),
            Offer("Représentation et audience", "h", (2, 20), (300, 450)),
            Offer("Frais et débours", "forfait", (1, 1), (30, 400)),
        ),
        titles=("Droit du travail", "Droit des sociétés", "Contrat commercial", "Litige", "Conformité"),
        purchase_line_net=(3000, 18000),
        supplier_categories=(SupplierCategory.SERVICES, SupplierCategory.PREMISES, SupplierCategory.SOFTWARE),
        supplier_work=("Expertise externe", "Loyer des bureaux", "Bases de données juridiques"),
    ),
    "ER": Profile(
        share=0.10, growth=0.06, project_type=ProjectType.REAL_ESTATE, deposit_percent=0,
        offers=(
            Offer("Commission de courtage", "forfait", (1, 1), (5000, 45000)),
            Offer("Gérance d'immeuble", "mois", (1, 3), (800, 3500)),
            Offer("Estimation immobilière", "forfait", (1, 1), (900, 2500)),
            Offer("Frais de dossier", "forfait", (1, 1), (150, 500)),
        ),
        titles=("Vente", "Gérance", "Estimation", "Mise en location", "Courtage"),
        purchase_line_net=(8000, 46000),
        supplier_categories=(SupplierCategory.SERVICES, SupplierCategory.PREMISES, SupplierCategory.OTHER),
        supplier_work=("Travaux d'entretien", "Photographie et visites virtuelles", "Annonces immobilières"),
    ),
    "TO": Profile(
        share=0.22, growth=0.14, project_type=ProjectType.FOOD_SERVICE, deposit_percent=0,
        offers=(
            Offer("Plateaux repas", "pce", (10, 120), (18, 35)),
            Offer("Buffet traiteur", "pers.", (20, 200), (28, 65)),
            Offer("Livraison", "forfait", (1, 1), (40, 150)),
            Offer("Service et personnel", "h", (4, 24), (45, 60)),
        ),
        titles=("Repas d'entreprise", "Apéritif", "Séminaire", "Événement", "Livraisons du mois"),
        purchase_line_net=(2000, 11000),
        supplier_categories=(SupplierCategory.OTHER, SupplierCategory.TRANSPORT, SupplierCategory.PREMISES),
        supplier_work=("Denrées alimentaires", "Transport frigorifique", "Location de cuisine"),
    ),
}  # fmt: skip

# The dashboard's months are not all alike: the summer is quiet, the year ends busy.
MONTH_WEIGHTS = (0.85, 0.9, 1.05, 1.0, 1.05, 1.0, 0.8, 0.7, 1.05, 1.1, 1.15, 1.35)
WEEKEND_WEIGHT = 0.1
INFLATION = 0.015
EUR_SHARE = 0.10

# Swiss towns clients and suppliers live in, with the language they read.
SWISS_TOWNS = (
    ("1700", "Fribourg", "fr"), ("1630", "Bulle", "fr"), ("1003", "Lausanne", "fr"), ("1204", "Genève", "fr"),
    ("2000", "Neuchâtel", "fr"), ("1950", "Sion", "fr"), ("1800", "Vevey", "fr"), ("1260", "Nyon", "fr"),
    ("3011", "Bern", "de"), ("8001", "Zürich", "de"), ("4051", "Basel", "de"), ("6003", "Luzern", "de"),
    ("9000", "St. Gallen", "de"), ("2502", "Biel/Bienne", "de"), ("6900", "Lugano", "it"), ("6500", "Bellinzona", "it"),
)  # fmt: skip
# Clients abroad pay in euros; services exported to them carry no Swiss VAT.
FOREIGN_TOWNS = (
    ("DE", "10115", "Berlin", "de"), ("DE", "80331", "München", "de"), ("FR", "75002", "Paris", "fr"),
    ("FR", "69002", "Lyon", "fr"), ("IT", "20121", "Milano", "it"), ("AT", "1010", "Wien", "de"),
)  # fmt: skip
STREETS = (
    "Rue de Lausanne", "Route de la Gare", "Avenue de la Gare", "Rue du Marché", "Bahnhofstrasse", "Hauptstrasse",
    "Rue de Romont", "Chemin des Vignes", "Via Nassa", "Industriestrasse", "Rue du Centre", "Boulevard de Pérolles",
)  # fmt: skip
ACTIVITIES = (
    "Garage", "Pharmacie", "Hôtel", "Boulangerie", "Fiduciaire", "Clinique", "Restaurant", "Menuiserie",
    "Cabinet dentaire", "Imprimerie", "Auto-école", "Boutique", "Centre sportif", "Agence", "Bureau d'architectes",
    "Laboratoire", "Immobilière", "Transports", "Électricité", "Fromagerie", "Cave", "Institut", "Librairie",
)  # fmt: skip
PLACE_NAMES = (
    "du Lac", "des Alpes", "du Moléson", "de la Gare", "du Centre", "Saint-Michel", "des Remparts", "du Jura",
    "de la Sarine", "Beau-Site", "Bellevue", "du Marché", "de l'Industrie", "du Léman", "des Trois-Rois", "du Pont",
    "de la Tour", "Horizon", "Mont-Blanc", "des Vergers", "du Soleil", "de la Broye", "Riviera", "Panorama",
)  # fmt: skip
LEGAL_FORMS = ("SA", "Sàrl", "SA", "Sàrl", "AG", "GmbH")
FIRST_NAMES = ("Léa", "Noah", "Chloé", "Luca", "Sara", "Julien", "Emma", "David", "Laura", "Marc", "Anna", "Nicolas")
LAST_NAMES = (
    "Morel", "Rochat", "Bersier", "Pittet", "Brunner", "Favre", "Meier", "Keller", "Rossi", "Dubois", "Schmid",
    "Baeriswyl", "Overney", "Gerber", "Monnier", "Bianchi", "Weber", "Python", "Clerc", "Jaquet",
)  # fmt: skip
FOREIGN_NAMES = ("Müller", "Schneider", "Fischer", "Lefebvre", "Moreau", "Bianchi", "Ferrari", "Huber", "Gruber")
FOREIGN_LEGAL_FORMS = {"DE": "GmbH", "AT": "GmbH", "FR": "SAS", "IT": "S.r.l."}
SUPPLIER_ACTIVITIES = ("Distribution", "Services", "Technique", "Logistique", "Solutions", "Partenaires")
# Clearing numbers of real Swiss banks, so that supplier IBANs validate; none in the QR-IBAN range.
CLEARING_NUMBERS = ("00768", "00700", "00787", "00767", "09000", "00240", "00790")
GERMAN_BANK_CODE = "37040044"
SUPPLIER_NUMBER_STYLES = ("{n}", "F-{year}-{n:05d}", "RE{n:06d}", "{year}/{n}")

MILESTONE_TITLES = (
    "Lancement", "Analyse des besoins", "Conception", "Commande", "Réalisation", "Installation",
    "Mise en service", "Formation", "Réception",
)  # fmt: skip
# Money leaving the bank besides supplier invoices: (type, counterparty, reference, relative size).
OUTFLOWS = (
    ("transfer", "Salaires du personnel", "Salaires", 8.0),
    ("transfer", "Régie du Centre SA", "Loyer des bureaux", 3.0),
    ("transfer", "Caisse de compensation AVS", "Cotisations sociales", 2.5),
    ("transfer", "Helvetia Assurances", "Prime d'assurance", 1.0),
    ("transfer", "Administration fédérale des contributions", "TVA décompte trimestriel", 2.0),
    ("card_payment", "Swisscom", "Téléphonie et internet", 0.3),
    ("card_payment", "CFF SBB FFS", "Billets de train", 0.2),
    ("card_payment", "Coop", "Fournitures", 0.2),
    ("fee", "Revolut", "Frais bancaires", 0.05),
)

SETTLED_AFTER_DAYS = 90  # older invoices have had every chance to be paid
TERMS_DAYS = 30
QUOTE_VALIDITY_DAYS = 30

# Columns each table is loaded with, in the order of the generated tuples; tables in foreign key order.
LINE_COLUMNS = ("id", "position", "description", "quantity", "unit", "unit_price", "discount_percent", "vat_code",
                "vat_rate")  # fmt: skip
DOCUMENT_COLUMNS = ("id", "company_id", "client_id", "number", "title", "notes", "created_by_id", "created_at",
                    "updated_at", "currency", "net_total", "vat_total", "gross_total", "rounding",
                    "payable_total")  # fmt: skip
COLUMNS = {
    "finance_client": ("id", "company_id", "kind", "name", "street", "building_number", "postal_code", "town",
                       "country", "che_uid", "email", "language", "created_at", "updated_at"),
    "finance_supplier": ("id", "company_id", "name", "street", "building_number", "postal_code", "town", "country",
                         "che_uid", "iban", "bank_country", "currency", "contact_name", "email", "phone", "categories",
                         "revolut_counterparty_id", "created_at", "updated_at"),
    "finance_fxrate": ("id", "currency", "quote_currency", "rate", "rate_date", "source", "fetched_at"),
    "finance_quote": (*DOCUMENT_COLUMNS, "status", "quote_date", "valid_until", "project_type", "deposit_percent",
                      "sent_at", "signed_at"),
    "finance_quoteline": (*LINE_COLUMNS, "quote_id"),
    "finance_project": ("id", "company_id", "client_id", "quote_id", "name", "project_type", "currency", "budget",
                        "status", "status_before_hold", "activated_at", "created_by_id", "created_at", "updated_at"),
    "finance_milestone": ("id", "project_id", "position", "title", "due_date", "status", "done_on", "billable_amount"),
    "finance_invoice": (*DOCUMENT_COLUMNS, "credited_invoice_id", "kind", "status", "issue_date", "due_date",
                        "qr_reference", "issued_at"),
    "finance_invoiceline": (*LINE_COLUMNS, "invoice_id"),
    "finance_payment": ("id", "company_id", "client_id", "received_on", "amount", "currency", "method", "reference",
                        "created_by_id", "created_at"),
    "finance_paymentallocation": ("id", "payment_id", "invoice_id", "amount"),
    "finance_supplierinvoice": ("id", "company_id", "supplier_id", "project_id", "supplier_number", "invoice_date",
                                "due_date", "currency", "net_total", "vat_total", "gross_total", "creditor_iban",
                                "reference_type", "payment_reference", "source_document", "status",
                                "deviation_override_reason", "rejection_reason", "dispute_reason", "created_by_id",
                                "submitted_at", "approved_by_id", "approved_at", "approval_fingerprint", "paid_on",
                                "created_at", "updated_at"),
    "finance_supplierinvoiceline": ("id", "invoice_id", "position", "description", "net_amount", "vat_code",
                                    "vat_rate", "vat_amount", "input_vat_recoverable"),
    "finance_banktransaction": ("id", "company_id", "account_id", "provider_id", "type", "state", "request_id",
                                "reference", "amount", "currency", "counterparty_name", "created_on_bank",
                                "completed_at", "raw", "match_status", "payment_id", "matched_at", "received_at",
                                "updated_at"),
}  # fmt: skip
TABLES = tuple(COLUMNS)

# Issued invoices and their lines are frozen by triggers (finance migration 0007); loading history writes lines of
# issued invoices, and replacing it deletes issued invoices, so both triggers are off for that transaction.
# Row by row, the dashboard's open-invoice triggers would recompute a balance per loaded payment.
OPEN_INVOICE_TRIGGERS = import_module("dashboard.migrations.0003_open_invoices").TRIGGERS
GUARD_TRIGGERS = (
    ("finance_invoice", "finance_invoice_frozen_once_issued"),
    ("finance_invoiceline", "finance_invoiceline_frozen_once_issued"),
    # Replacing a dataset deletes its generated payments, which the database otherwise never lets go (0025).
    ("finance_payment", "finance_payment_kept"),
    ("finance_paymentallocation", "finance_paymentallocation_kept"),
)

# Generated rows, by their markers: the parents' ids are gathered once, then children are deleted before parents.
GENERATED_IDS = (
    "CREATE TEMP TABLE generated_invoice AS SELECT id FROM finance_invoice WHERE created_by_id = %(entry)s",
    "CREATE TEMP TABLE generated_payment AS SELECT id FROM finance_payment WHERE created_by_id = %(entry)s",
    "CREATE TEMP TABLE generated_quote AS SELECT id FROM finance_quote WHERE created_by_id = %(entry)s",
    "CREATE TEMP TABLE generated_project AS SELECT id FROM finance_project WHERE created_by_id = %(entry)s",
    "CREATE TEMP TABLE generated_supplier_invoice AS "
    "SELECT id FROM finance_supplierinvoice WHERE created_by_id = %(entry)s",
    "CREATE TEMP TABLE generated_account AS "
    "SELECT id FROM finance_bankaccount WHERE provider_account_id LIKE %(account_prefix)s",
    "CREATE TEMP TABLE generated_transaction AS "
    "SELECT id FROM finance_banktransaction WHERE account_id IN (SELECT id FROM generated_account)",
    "CREATE TEMP TABLE generated_client AS SELECT id FROM finance_client WHERE email LIKE %(email_domain)s",
)
DELETE_GENERATED = (
    "DELETE FROM finance_matchsuggestion WHERE transaction_id IN (SELECT id FROM generated_transaction) "
    "OR invoice_id IN (SELECT id FROM generated_invoice)",
    "DELETE FROM finance_banktransaction WHERE id IN (SELECT id FROM generated_transaction)",
    "DELETE FROM finance_bankaccount WHERE id IN (SELECT id FROM generated_account)",
    "DELETE FROM finance_paymentallocation WHERE payment_id IN (SELECT id FROM generated_payment) "
    "OR invoice_id IN (SELECT id FROM generated_invoice)",
    "DELETE FROM finance_payment WHERE id IN (SELECT id FROM generated_payment)",
    "DELETE FROM finance_invoicedunning WHERE invoice_id IN (SELECT id FROM generated_invoice)",
    "DELETE FROM finance_reminder WHERE invoice_id IN (SELECT id FROM generated_invoice)",
    "DELETE FROM finance_milestone WHERE project_id IN (SELECT id FROM generated_project)",
    "DELETE FROM finance_invoiceline WHERE invoice_id IN (SELECT id FROM generated_invoice)",
    "DELETE FROM finance_invoice WHERE id IN (SELECT id FROM generated_invoice)",
    "DELETE FROM finance_supplierinvoiceline WHERE invoice_id IN (SELECT id FROM generated_supplier_invoice)",
    "DELETE FROM finance_outgoingpayment WHERE supplier_invoice_id IN (SELECT id FROM generated_supplier_invoice)",
    "DELETE FROM finance_supplierinvoice WHERE id IN (SELECT id FROM generated_supplier_invoice)",
    "DELETE FROM finance_providerassignment WHERE project_id IN (SELECT id FROM generated_project)",
    "DELETE FROM finance_project WHERE id IN (SELECT id FROM generated_project)",
    "DELETE FROM finance_quoteline WHERE quote_id IN (SELECT id FROM generated_quote)",
    "DELETE FROM finance_quote WHERE id IN (SELECT id FROM generated_quote)",
    "DELETE FROM finance_contact WHERE client_id IN (SELECT id FROM generated_client)",
    "DELETE FROM finance_supplier WHERE email LIKE %(email_domain)s",
    "DELETE FROM finance_client WHERE id IN (SELECT id FROM generated_client)",
    "DELETE FROM finance_fxrate WHERE source = %(fx_source)s",
    "DROP TABLE generated_invoice, generated_payment, generated_quote, generated_project, generated_supplier_invoice, "
    "generated_account, generated_transaction, generated_client",
)
GENERATED_ROWS_EXIST = """
SELECT EXISTS (SELECT 1 FROM finance_client WHERE email LIKE %(email_domain)s)
    OR EXISTS (SELECT 1 FROM finance_invoice WHERE created_by_id = %(entry)s)
    OR EXISTS (SELECT 1 FROM finance_quote WHERE created_by_id = %(entry)s)
    OR EXISTS (SELECT 1 FROM finance_bankaccount WHERE provider_account_id LIKE %(account_prefix)s)
    OR EXISTS (SELECT 1 FROM finance_fxrate WHERE source = %(fx_source)s)
"""
# The highest number in use per company, document family and year, whoever numbered it.
NUMBERS_IN_USE = r"""
SELECT company_id, CASE WHEN kind = 'credit_note' THEN 'credit_note' ELSE 'invoice' END,
       split_part(number, '-', -2)::int, max(split_part(number, '-', -1)::int)
FROM finance_invoice WHERE company_id = ANY(%(companies)s) AND number ~ '^[A-Z]{2}-(NC-)?\d{4}-\d+$'
GROUP BY 1, 2, 3
UNION ALL
SELECT company_id, 'quote', split_part(number, '-', -2)::int, max(split_part(number, '-', -1)::int)
FROM finance_quote WHERE company_id = ANY(%(companies)s) AND number ~ '^[A-Z]{2}-DEV-\d{4}-\d+$'
GROUP BY 1, 2, 3
"""


@dataclass
class DatasetResult:
    rows: dict[str, int]
    seconds: float


def dataset_generate(
    *, size: str, seed: int = DEFAULT_SEED, replace: bool = False, report: Callable[[str], None] = print
) -> DatasetResult:
    """Generate the group's history at a size; with `replace`, the rows of an earlier run are deleted first."""
    started = time.perf_counter()
    today = timezone.localdate()
    with transaction.atomic():
        entry, approver = _dataset_users()
        companies = [_group_company(data) for data in DEMO_COMPANIES]
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {', '.join(TABLES)}, finance_documentsequence IN EXCLUSIVE MODE")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # checked per COPY: no queue of millions of checks
            for table, trigger in GUARD_TRIGGERS + OPEN_INVOICE_TRIGGERS:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
            replaced = _generated_rows_delete(cursor, entry=entry, replace=replace)
            if replaced:
                report(f"Deleted the previous dataset: {sum(replaced.values())} rows.")
            accounts = _bank_accounts(companies)
            rng = random.Random(seed)  # noqa: S311 - reproducible data, not a secret
            builder = DatasetBuilder(
                size=SIZES[size], rng=rng, today=today, entry=entry, approver=approver,
                companies=companies, accounts=accounts,
                first_ids={table: _last_id(cursor, table) + 1 for table in TABLES},
                numbers_in_use=_numbers_in_use(cursor, companies),
            )  # fmt: skip
            loader = Loader(cursor)
            loader.load(builder.reference_rows())
            for rows, progress in _prefetched(builder.chunks()):
                loader.load(rows)
                if progress:
                    report(f"{progress} ({time.perf_counter() - started:.0f} s)")
            report("Finishing: sequences, bank balances, statistics…")
            _document_sequences_save(cursor, builder.numbers_taken())
            _bank_balances_save(cursor, accounts)
            for table in TABLES:
                if loader.rows[table]:
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM {table}))",  # noqa: S608
                        [table],
                    )
                    cursor.execute(f"ANALYZE {table}")
            for table, trigger in GUARD_TRIGGERS + OPEN_INVOICE_TRIGGERS:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
            # The open-invoice triggers were off: their table is rebuilt in one statement instead.
            cursor.execute("SELECT dashboard_open_invoice_rebuild()")
            # Planned without statistics, the dashboard's reads of it take a bitmap scan over a few rows' guess.
            cursor.execute("ANALYZE dashboard_openinvoice")
    _figures_refresh()
    return DatasetResult(rows=loader.rows, seconds=time.perf_counter() - started)


def _dataset_users() -> list:
    """Who the generated documents say entered them, and approved the supplier invoices: nobody can sign in."""
    user_model = get_user_model()
    users = []
    for username, last_name in ((ENTRY_USERNAME, "Entry"), (APPROVER_USERNAME, "Approver")):
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"first_name": "Dataset", "last_name": last_name}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        users.append(user)
    return users


def _group_company(data: dict) -> Company:
    company = Company.objects.filter(code=data["code"]).first()
    return company or company_create(created_by=None, **data)


def _bank_accounts(companies: list[Company]) -> dict[tuple[int, str], int]:
    """One CHF and one EUR account per company at Revolut; their balances are set once loaded."""
    accounts = {}
    now = timezone.now()
    for company in companies:
        revolut, _created = Connection.objects.get_or_create(
            company=company, provider=Provider.REVOLUT, defaults={"base_url": REVOLUT_PRODUCTION_URL}
        )
        for currency in ("CHF", "EUR"):
            account = BankAccount.objects.create(
                company=company, connection=revolut, provider_account_id=f"{ACCOUNT_PREFIX}{company.code}-{currency}",
                name=f"{company.name} {currency}", currency=currency, balance=Decimal("0.00"), balance_updated_at=now,
            )  # fmt: skip
            accounts[company.pk, currency] = account.pk
    return accounts


def _marker_params(entry) -> dict:
    return {
        "entry": entry.pk,
        "account_prefix": f"{ACCOUNT_PREFIX}%",
        "email_domain": f"%@{EMAIL_DOMAIN}",
        "fx_source": FX_SOURCE,
    }


def _generated_rows_delete(cursor, *, entry, replace: bool) -> dict[str, int]:
    params = _marker_params(entry)
    cursor.execute(GENERATED_ROWS_EXIST, params)
    if not cursor.fetchone()[0]:
        return {}
    if not replace:
        raise DatasetExists("The group companies already hold a generated dataset: pass --replace to replace it.")
    for statement in GENERATED_IDS:
        cursor.execute(statement, params)
    deleted = {}
    for statement in DELETE_GENERATED:
        cursor.execute(statement, params)
        if statement.startswith("DELETE") and cursor.rowcount:
            deleted[statement.split()[2]] = cursor.rowcount
    return deleted


def _last_id(cursor, table: str) -> int:
    """The highest id the table or its sequence ever gave, so generated ids never meet an existing one."""
    cursor.execute(
        f"SELECT GREATEST((SELECT max(id) FROM {table}), "  # noqa: S608 - table names are constants of this module
        "pg_sequence_last_value(pg_get_serial_sequence(%s, 'id')::regclass), 0)",
        [table],
    )
    return cursor.fetchone()[0]


def _numbers_in_use(cursor, companies: list[Company]) -> dict[tuple[int, str, int], int]:
    cursor.execute(NUMBERS_IN_USE, {"companies": [company.pk for company in companies]})
    return {(company_id, family, year): number for company_id, family, year, number in cursor.fetchall()}


def _document_sequences_save(cursor, numbers: dict[tuple[int, str, int], int]) -> None:
    """Move each sequence to the last generated number, so the Hub's next document follows it."""
    cursor.executemany(
        "INSERT INTO finance_documentsequence (company_id, family, year, last_number) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (company_id, family, year) "
        "DO UPDATE SET last_number = GREATEST(finance_documentsequence.last_number, EXCLUDED.last_number)",
        [(company_id, family, year, number) for (company_id, family, year), number in sorted(numbers.items())],
    )


def _bank_balances_save(cursor, accounts: dict[tuple[int, str], int]) -> None:
    cursor.execute(
        "UPDATE finance_bankaccount account SET balance = COALESCE("
        "(SELECT sum(amount) FROM finance_banktransaction WHERE account_id = account.id AND state = 'completed'), 0) "
        "WHERE id = ANY(%s)",
        [list(accounts.values())],
    )


def _figures_refresh() -> None:
    """Recompute the dashboard's materialized views from the new history, once the dashboard can."""
    from dashboard import figures

    if hasattr(figures, "figures_refresh"):
        figures.figures_refresh()


def _prefetched(chunks: Iterator) -> Iterator:
    """Yield from `chunks` while a thread generates the next item: Python generates as PostgreSQL loads."""
    ready: queue.Queue = queue.Queue(maxsize=1)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in chunks:
                ready.put(item)
                if stop.is_set():
                    return
            ready.put(done)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which raises it
            ready.put(error)

    worker = threading.Thread(target=produce, name="dataset-generator", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        # Unblock a producer waiting to hand over an item nobody will take.
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.1)
        worker.join()


class Loader:
    """COPY rows into their tables, parents before children, and count them."""

    def __init__(self, cursor) -> None:
        self.cursor = cursor
        self.rows = dict.fromkeys(TABLES, 0)

    def load(self, rows: dict[str, list[tuple]]) -> None:
        for table in TABLES:
            batch = rows.get(table)
            if not batch:
                continue
            with self.cursor.copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row(row)
            self.rows[table] += len(batch)


# --- Arithmetic on integer cents: exact, and much faster than Decimal at a million invoices --------------


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def divide_rounded(numerator: int, denominator: int) -> int:
    """numerator / denominator, rounded half away from zero like finance.vat (numerator ≥ 0)."""
    return (2 * numerator + denominator) // (2 * denominator)


def standard_vat_rate(on: date) -> int:
    """The Swiss standard VAT rate in hundredths of a percent on a day."""
    if on >= date(2024, 1, 1):
        return 810
    if on >= date(2018, 1, 1):
        return 770
    return 800


class PricedLine(NamedTuple):
    description: str
    quantity: str
    unit: str
    unit_price: str
    discount_percent: str
    vat_code: str
    vat_rate: str
    net: int
    vat: int


class Totals(NamedTuple):
    net: int
    vat: int
    gross: int
    rounding: int
    payable: int

    def columns(self) -> tuple[str, str, str, str, str]:
        return money(self.net), money(self.vat), money(self.gross), money(self.rounding), money(self.payable)


def totals_of(lines: list[PricedLine], *, five_centimes: bool) -> Totals:
    """The totals finance.vat.document_totals gives: VAT per line, the payable rounded to 0.05 if asked."""
    net = sum(line.net for line in lines)
    vat = sum(line.vat for line in lines)
    gross = net + vat
    payable = divide_rounded(gross, 5) * 5 if five_centimes else gross
    return Totals(net, vat, gross, payable - gross, payable)


# --- What the builder keeps between chunks ----------------------------------------------------------------


class ClientRecord(NamedTuple):
    id: int
    name: str
    currency: str
    abroad: bool
    active_from: date
    weight: float


class SupplierRecord(NamedTuple):
    id: int
    name: str
    iban: str
    currency: str
    abroad: bool
    terms: int
    number_style: str
    work: str
    weight: float


class Movement(NamedTuple):
    """A bank transaction before its id and the balance walk: `adjustable` outflows shrink to fit the balance."""

    when: datetime
    amount: int
    type: str
    reference: str
    counterparty: str
    match_status: str
    payment_id: int | None
    adjustable: bool


class SignedQuote(NamedTuple):
    """What a project starts from: a signed quote, or a handshake (no id) for the amount of a typical one."""

    id: int | None
    client: ClientRecord
    signed_on: date
    net: int
    currency: str
    project_type: str
    title: str


class OpenInvoice(NamedTuple):
    number: str
    payable: int
    currency: str
    client: ClientRecord


@dataclass
class CompanyState:
    company: Company
    profile: Profile
    clients: list[ClientRecord] = field(default_factory=list)
    suppliers: list[SupplierRecord] = field(default_factory=list)
    supplier_numbers: dict[int, int] = field(default_factory=dict)
    # (created day, id) of the company's projects, in the order they were created.
    projects: list[tuple[date, int]] = field(default_factory=list)
    balances: dict[int, int] = field(default_factory=dict)
    cash_floors: dict[int, int] = field(default_factory=dict)


@dataclass
class Chunk:
    state: CompanyState
    days: list[date]
    cumulative_weights: list[float]
    invoices: int
    quotes: int
    projects: int
    supplier_invoices: int
    bank_transactions: int
    unmatched_transactions: int
    first: bool
    rows: dict[str, list[tuple]] = field(default_factory=lambda: defaultdict(list))
    movements: dict[int, list[Movement]] = field(default_factory=lambda: defaultdict(list))
    signed_quotes: list[SignedQuote] = field(default_factory=list)
    open_invoices: list[OpenInvoice] = field(default_factory=list)

    @property
    def company(self) -> Company:
        return self.state.company

    @property
    def profile(self) -> Profile:
        return self.state.profile


def split_count(total: int, weights: list[float]) -> list[int]:
    """Share `total` out in proportion to `weights`, rounding so that the parts add up to it exactly."""
    cumulative = list(itertools.accumulate(weights))
    bounds = [round(total * part / cumulative[-1]) for part in cumulative]
    return [high - low for low, high in zip([0, *bounds], bounds, strict=False)]


def currency_weights(parties: list[ClientRecord] | list[SupplierRecord]) -> list[float]:
    """The parties' weights, scaled so that those paid in euros weigh EUR_SHARE of the total together.

    A few big foreign parties would otherwise make the euro business of a company whatever chance gave it.
    """
    totals = {"EUR": 0.0, "CHF": 0.0}
    for party in parties:
        totals[party.currency] += party.weight
    if not totals["EUR"] or not totals["CHF"]:
        return [party.weight for party in parties]
    scales = {"EUR": EUR_SHARE / totals["EUR"], "CHF": (1 - EUR_SHARE) / totals["CHF"]}
    return [party.weight * scales[party.currency] for party in parties]


class DatasetBuilder:
    """Generates the rows of every table as plain tuples; touches no database."""

    def __init__(
        self, *, size: DatasetSize, rng: random.Random, today: date, entry, approver, companies: list[Company],
        accounts: dict[tuple[int, str], int], first_ids: dict[str, int],
        numbers_in_use: dict[tuple[int, str, int], int],
    ) -> None:  # fmt: skip
        self.rng = rng
        self.today = today
        self.entry_id = entry.pk
        self.approver_id = approver.pk
        self.accounts = accounts
        self.ids = {table: itertools.count(first) for table, first in first_ids.items()}
        self.numbers = dict(numbers_in_use)
        self.generated_numbers: dict[tuple[int, str, int], int] = {}
        self.zone = ZoneInfo(settings.TIME_ZONE)
        self.midnights: dict[date, datetime] = {}
        self.now = timezone.now()
        self.first_day = _years_before(today, YEARS) + timedelta(days=1)
        self.days = [self.first_day + timedelta(days=offset) for offset in range((today - self.first_day).days + 1)]
        self.states = [CompanyState(company, PROFILES[company.code]) for company in companies]
        self.day_weights = {state.company.code: self._day_weights(state.profile) for state in self.states}
        codes = [state.company.code for state in self.states]
        shares = [state.profile.share for state in self.states]
        self.company_counts = {
            name: dict(zip(codes, split_count(getattr(size, name), shares), strict=True))
            for name in ("invoices", "clients", "quotes", "projects", "suppliers", "supplier_invoices",
                         "bank_transactions", "unmatched_transactions")
        }  # fmt: skip
        # Incoming transfers are a sample of the payments: the bank sees this share of them.
        self.bank_payment_share = min(1.0, size.bank_transactions * 0.45 / size.invoices / 0.9)

    # --- Calendar and helpers ---

    def _day_weights(self, profile: Profile) -> list[float]:
        weights = []
        for day in self.days:
            years = (day - self.first_day).days / 365.25
            weekday = 1.0 if day.weekday() < 5 else WEEKEND_WEIGHT
            weights.append((1 + profile.growth) ** years * MONTH_WEIGHTS[day.month - 1] * weekday)
        return weights

    def _at(self, day: date, minutes: int) -> datetime:
        """A moment of a day in the Hub's time zone, `minutes` after midnight."""
        midnight = self.midnights.get(day)
        if midnight is None:
            midnight = self.midnights[day] = datetime(day.year, day.month, day.day, tzinfo=self.zone)
        return midnight + timedelta(minutes=minutes)

    def _office_hours(self, day: date) -> datetime:
        """A moment of the working day; today, never later than now."""
        return min(self._at(day, self.rng.randint(7 * 60 + 30, 18 * 60)), self.now)

    def _number(self, company: Company, family: str, year: int) -> str:
        key = (company.pk, family, year)
        number = self.numbers.get(key, 0) + 1
        self.numbers[key] = self.generated_numbers[key] = number
        return NUMBER_FORMATS[family].format(code=company.code, year=year, number=number)

    def numbers_taken(self) -> dict[tuple[int, str, int], int]:
        return self.generated_numbers

    def _price_factor(self, day: date) -> float:
        return (1 + INFLATION) ** ((day - self.first_day).days / 365.25)

    def _priced_lines(self, offers: tuple[Offer, ...], day: date, *, abroad: bool, count: int) -> list[PricedLine]:
        rng = self.rng
        vat_code, rate = (VatCode.EXEMPT, 0) if abroad else (VatCode.STANDARD, standard_vat_rate(day))
        rate_text = money(rate)
        factor = self._price_factor(day)
        lines = []
        for offer in rng.sample(offers, min(count, len(offers))):
            low, high = offer.quantities
            quantity = rng.randint(low * 2, high * 2) * 500 if offer.unit == "h" else rng.randint(low, high) * 1000
            price = round(rng.randint(*offer.prices) * factor) * 100
            discount = 0 if rng.random() < 0.85 else rng.choice((500, 1000))
            net = divide_rounded(quantity * price * (10_000 - discount), 10_000_000)
            lines.append(
                PricedLine(
                    offer.description,
                    f"{quantity // 1000}.{quantity % 1000:03d}",
                    offer.unit,
                    money(price),
                    money(discount),
                    vat_code,
                    rate_text,
                    net,
                    divide_rounded(net * rate, 10_000),
                )
            )
        return lines

    def _line_rows(self, table: str, parent_id: int, lines: list[PricedLine], rows: dict) -> None:
        ids = self.ids[table]
        rows[table].extend((next(ids), position, *line[:7], parent_id) for position, line in enumerate(lines, start=1))

    # --- Reference data: clients, suppliers, exchange rates ---

    def reference_rows(self) -> dict[str, list[tuple]]:
        rows: dict[str, list[tuple]] = defaultdict(list)
        for state in self.states:
            self._clients(state, rows)
            self._suppliers(state, rows)
        self._fx_rates(rows)
        return rows

    def _clients(self, state: CompanyState, rows: dict) -> None:
        rng = self.rng
        code = state.company.code
        count = self.company_counts["clients"][code]
        arrival_weights = list(itertools.accumulate(self.day_weights[code]))
        names_taken = set()
        for serial in range(count):
            abroad = rng.random() < EUR_SHARE
            person = not abroad and rng.random() < 0.15
            if abroad:
                country, postal_code, town, language = rng.choice(FOREIGN_TOWNS)
                name = f"{rng.choice(FOREIGN_NAMES)} {rng.choice(ACTIVITIES)} {FOREIGN_LEGAL_FORMS[country]}"
            else:
                postal_code, town, language = rng.choice(SWISS_TOWNS)
                country = "CH"
                if person:
                    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                else:
                    name = f"{rng.choice(ACTIVITIES)} {rng.choice(PLACE_NAMES)} {rng.choice(LEGAL_FORMS)}"
            if name in names_taken:
                name = f"{name} ({town})"
            names_taken.add(name)
            # A third of the clients are there from the start, the others arrive as the business grows.
            active_from = (
                self.first_day if rng.random() < 0.3 else rng.choices(self.days, cum_weights=arrival_weights)[0]
            )
            client = ClientRecord(
                next(self.ids["finance_client"]), name, "EUR" if abroad else "CHF", abroad, active_from,
                rng.paretovariate(1.5),
            )  # fmt: skip
            state.clients.append(client)
            created = self._office_hours(active_from)
            email = f"{slugify(name)[:40]}-{serial}@{EMAIL_DOMAIN}"
            rows["finance_client"].append(
                (client.id, state.company.pk, "person" if person else "organisation", name[:70], rng.choice(STREETS),
                 str(rng.randint(1, 120)), postal_code, town, country, "", email, language, created, created)
            )  # fmt: skip

    def _suppliers(self, state: CompanyState, rows: dict) -> None:
        rng = self.rng
        profile = state.profile
        created = self._at(self.first_day, 8 * 60)
        for serial in range(max(self.company_counts["suppliers"][state.company.code], 3)):
            abroad = rng.random() < EUR_SHARE
            category_index = rng.randrange(len(profile.supplier_categories))
            if abroad:
                iban = IBAN.generate("DE", bank_code=GERMAN_BANK_CODE, account_code=f"{rng.randrange(10**10):010d}")
                country, postal_code, town, _language = rng.choice(FOREIGN_TOWNS[:2])
                name = f"{rng.choice(FOREIGN_NAMES)} {rng.choice(SUPPLIER_ACTIVITIES)} GmbH"
            else:
                account_number = f"{rng.randrange(10**9):09d}"
                iban = IBAN.generate("CH", bank_code=rng.choice(CLEARING_NUMBERS), account_code=account_number)
                postal_code, town, _language = rng.choice(SWISS_TOWNS)
                country = "CH"
                name = f"{rng.choice(LAST_NAMES)} {rng.choice(SUPPLIER_ACTIVITIES)} {rng.choice(LEGAL_FORMS)}"
            supplier = SupplierRecord(
                next(self.ids["finance_supplier"]), name, iban.compact, "EUR" if abroad else "CHF", abroad,
                rng.choices((30, 10, 60), (0.7, 0.1, 0.2))[0], rng.choice(SUPPLIER_NUMBER_STYLES),
                profile.supplier_work[category_index], rng.paretovariate(1.5),
            )  # fmt: skip
            state.suppliers.append(supplier)
            state.supplier_numbers[supplier.id] = rng.randint(100, 3000)
            rows["finance_supplier"].append(
                (supplier.id, state.company.pk, name, rng.choice(STREETS), str(rng.randint(1, 120)), postal_code,
                 town, country, "", supplier.iban, supplier.iban[:2], supplier.currency,
                 f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", f"factures-{serial}@{EMAIL_DOMAIN}", "",
                 f"{{{profile.supplier_categories[category_index]}}}", "", created, created)
            )  # fmt: skip

    def _fx_rates(self, rows: dict) -> None:
        """EUR in CHF on the first of every month and today, wandering between 0.93 and 0.98."""
        rng = self.rng
        days = [day for day in self.days if day.day == 1]
        if days[-1] != self.today:
            days.append(self.today)
        rate = 0.955
        for day in days:
            rate = min(0.98, max(0.93, rate + rng.gauss(0, 0.006)))
            rows["finance_fxrate"].append(
                (next(self.ids["finance_fxrate"]), "EUR", "CHF", f"{rate:.4f}", day, FX_SOURCE, self._at(day, 16 * 60))
            )

    # --- Chunks: one company and calendar year at a time ---

    def chunks(self) -> Iterator[tuple[dict[str, list[tuple]], str]]:
        """Yield each chunk's rows, with a progress line after each company's last year."""
        for state in self.states:
            code = state.company.code
            weights = self.day_weights[code]
            years = sorted({day.year for day in self.days})
            year_weights = [sum(w for day, w in zip(self.days, weights, strict=True) if day.year == y) for y in years]
            per_year = {
                name: split_count(self.company_counts[name][code], year_weights)
                for name in ("invoices", "quotes", "projects", "supplier_invoices", "bank_transactions")
            }
            for index, year in enumerate(years):
                positions = [i for i, day in enumerate(self.days) if day.year == year]
                chunk = Chunk(
                    state=state, days=self.days[positions[0] : positions[-1] + 1],
                    cumulative_weights=list(itertools.accumulate(weights[positions[0] : positions[-1] + 1])),
                    invoices=per_year["invoices"][index], quotes=per_year["quotes"][index],
                    projects=per_year["projects"][index], supplier_invoices=per_year["supplier_invoices"][index],
                    bank_transactions=per_year["bank_transactions"][index],
                    unmatched_transactions=self.company_counts["unmatched_transactions"][code]
                    if year == self.today.year else 0,
                    first=index == 0,
                )  # fmt: skip
                self._quotes(chunk)
                self._projects(chunk)
                self._invoices(chunk)
                self._purchases(chunk)
                self._bank(chunk)
                progress = f"{code}: {years[0]}–{year} loaded" if index == len(years) - 1 else ""
                yield chunk.rows, progress

    def _dates(self, chunk: Chunk, count: int) -> list[date]:
        return sorted(self.rng.choices(chunk.days, cum_weights=chunk.cumulative_weights, k=count))

    def _clients_for(self, chunk: Chunk, count: int) -> list[ClientRecord]:
        """Clients of the chunk's documents, the biggest ones most often; only those already known then."""
        start = chunk.days[0]
        eligible = [c for c in chunk.state.clients if c.active_from <= start] or chunk.state.clients
        return self.rng.choices(eligible, weights=currency_weights(eligible), k=count)

    # --- Quotes ---

    def _quotes(self, chunk: Chunk) -> None:
        rng, today, company, profile = self.rng, self.today, chunk.company, chunk.profile
        rows = chunk.rows
        ids = self.ids["finance_quote"]
        dates = self._dates(chunk, chunk.quotes)
        for quote_date, client in zip(dates, self._clients_for(chunk, chunk.quotes), strict=True):
            valid_until = quote_date + timedelta(days=QUOTE_VALIDITY_DAYS)
            if valid_until < today:
                status = rng.choices(
                    ("converted", "rejected", "expired", "signed"), (0.42, 0.22, 0.33, 0.03)
                )[0]  # fmt: skip
            else:
                status = rng.choices(
                    ("draft", "sent", "viewed", "signed", "converted", "rejected"), (0.12, 0.33, 0.25, 0.12, 0.08, 0.1)
                )[0]  # fmt: skip
            lines = self._priced_lines(profile.offers, quote_date, abroad=client.abroad, count=rng.randint(1, 5))
            totals = totals_of(lines, five_centimes=rounds_to_five_centimes(company, client.currency))
            quote_id = next(ids)
            created = self._office_hours(quote_date)
            updated = created
            number, sent_at, signed_at = "", None, None
            if status != "draft":
                number = self._number(company, DocumentSequence.Family.QUOTE, quote_date.year)
                sent_at = min(created + timedelta(minutes=rng.randint(5, 240)), self.now)
                updated = sent_at
            if status in ("signed", "converted"):
                signed_on = quote_date + timedelta(days=rng.randint(0, min(25, (today - quote_date).days)))
                signed_at = updated = self._office_hours(signed_on)
            elif status == "expired":
                updated = self._at(valid_until + timedelta(days=1), 6 * 60)
            project_type = profile.project_type if rng.random() < 0.85 else ProjectType.CONSULTING
            title = f"{rng.choice(profile.titles)} – {client.name}"[:200]
            rows["finance_quote"].append(
                (quote_id, company.pk, client.id, number, title, "", self.entry_id, created, updated, client.currency,
                 *totals.columns(), status, quote_date, valid_until, project_type, money(profile.deposit_percent * 100),
                 sent_at, signed_at)
            )  # fmt: skip
            self._line_rows("finance_quoteline", quote_id, lines, rows)
            if signed_at is not None:
                chunk.signed_quotes.append(
                    SignedQuote(quote_id, client, signed_at.date(), totals.net, client.currency, project_type, title)
                )

    # --- Projects and milestones ---

    def _projects(self, chunk: Chunk) -> None:
        rng = self.rng
        quotes = rng.sample(chunk.signed_quotes, min(chunk.projects, len(chunk.signed_quotes)))
        # A project without a quote: agreed on a handshake, budget of a typical quote.
        extra_dates = self._dates(chunk, chunk.projects - len(quotes))
        for day, client in zip(extra_dates, self._clients_for(chunk, len(extra_dates)), strict=True):
            lines = self._priced_lines(chunk.profile.offers, day, abroad=client.abroad, count=3)
            title = f"{rng.choice(chunk.profile.titles)} – {client.name}"[:200]
            quotes.append(
                SignedQuote(None, client, day, sum(line.net for line in lines), client.currency,
                            chunk.profile.project_type, title)
            )  # fmt: skip
        for quote in sorted(quotes, key=lambda q: q.signed_on):
            self._project(chunk, quote)

    def _project(self, chunk: Chunk, quote: SignedQuote) -> None:
        rng, today = self.rng, self.today
        age = (today - quote.signed_on).days
        if age > 540:
            status = rng.choices(("closed", "cancelled", "delivered"), (0.8, 0.1, 0.1))[0]
        elif age > 180:
            status = rng.choices(
                ("closed", "delivered", "installing", "ordering", "in_preparation", "on_hold", "cancelled"),
                (0.45, 0.2, 0.1, 0.05, 0.05, 0.07, 0.08),
            )[0]  # fmt: skip
        else:
            status = rng.choices(
                ("signed", "deposit_received", "in_preparation", "ordering", "installing", "on_hold", "delivered"),
                (0.15, 0.15, 0.22, 0.17, 0.17, 0.05, 0.09),
            )[0]  # fmt: skip
        project_id = next(self.ids["finance_project"])
        created = self._office_hours(quote.signed_on)
        activated = None
        if status not in ("signed", "cancelled"):
            activated = min(created + timedelta(days=rng.randint(3, 20)), self.now)
        chunk.rows["finance_project"].append(
            (project_id, chunk.company.pk, quote.client.id, quote.id, quote.title, quote.project_type,
             quote.currency, money(quote.net), status,
             rng.choice(("in_preparation", "ordering", "installing")) if status == "on_hold" else "", activated,
             self.entry_id, created, activated or created)
        )  # fmt: skip
        chunk.state.projects.append((quote.signed_on, project_id))
        count = rng.randint(2, 5)
        start = rng.randrange(len(MILESTONE_TITLES) - count + 1)
        shares = split_count(quote.net, [1.0] * count)
        due = quote.signed_on
        for position, title in enumerate(MILESTONE_TITLES[start : start + count], start=1):
            due += timedelta(days=rng.randint(10, 45))
            milestone_status, done_on = self._milestone_state(status, due)
            billable = money(shares[position - 1]) if rng.random() < 0.5 else None
            chunk.rows["finance_milestone"].append(
                (next(self.ids["finance_milestone"]), project_id, position, title, due, milestone_status, done_on,
                 billable)
            )  # fmt: skip

    def _milestone_state(self, project_status: str, due: date) -> tuple[str, date | None]:
        """Finished projects finished their milestones; running ones have some past due and not done: late."""
        rng, today = self.rng, self.today
        done_on = min(due + timedelta(days=rng.randint(-5, 5)), today)
        if project_status in ("closed", "delivered"):
            return Milestone.Status.DONE, done_on
        if project_status == "cancelled":
            if due < today and rng.random() < 0.5:
                return Milestone.Status.DONE, done_on
            return Milestone.Status.CANCELLED, None
        if due < today:
            if rng.random() < 0.75:
                return Milestone.Status.DONE, done_on
            return rng.choice((Milestone.Status.PLANNED, Milestone.Status.IN_PROGRESS)), None
        return (Milestone.Status.IN_PROGRESS if rng.random() < 0.2 else Milestone.Status.PLANNED), None

    # --- Invoices, credit notes, payments ---

    def _invoices(self, chunk: Chunk) -> None:
        dates = self._dates(chunk, chunk.invoices)
        for issue_date, client in zip(dates, self._clients_for(chunk, chunk.invoices), strict=True):
            self._invoice(chunk, issue_date, client)

    def _payment_delay(self) -> int:
        """Days from issue to payment: most clients pay within the 30 days, some take up to twice as long."""
        roll = self.rng.random()
        if roll < 0.6:
            return self.rng.randint(3, 30)
        if roll < 0.9:
            return self.rng.randint(31, 45)
        return self.rng.randint(46, 60)

    def _invoice(self, chunk: Chunk, issue_date: date, client: ClientRecord) -> None:
        rng, today, company = self.rng, self.today, chunk.company
        rows = chunk.rows
        age = (today - issue_date).days
        lines = self._priced_lines(
            chunk.profile.offers, issue_date, abroad=client.abroad, count=rng.choices((1, 2, 3, 4), (35, 30, 20, 15))[0]
        )
        five_centimes = rounds_to_five_centimes(company, client.currency)
        totals = totals_of(lines, five_centimes=five_centimes)
        payable = totals.payable
        invoice_id = next(self.ids["finance_invoice"])
        created = self._office_hours(issue_date)
        title = f"{rng.choice(chunk.profile.titles)} – {client.name}"[:200]
        roll = rng.random()
        # (day, amount) of each payment; `credited` invoices are cancelled by a credit note instead.
        payments: list[tuple[date, int]] = []
        credited = False
        if age <= 14 and roll < 0.03:
            rows["finance_invoice"].append(
                (invoice_id, company.pk, client.id, "", title, "", self.entry_id, created, created, client.currency,
                 *totals.columns(), None, Invoice.Kind.STANDARD, Invoice.Status.DRAFT, None, None, "", None)
            )  # fmt: skip
            self._line_rows("finance_invoiceline", invoice_id, lines, rows)
            return
        if age > SETTLED_AFTER_DAYS:
            # About 97.5 % paid in full; the rest credited, written off unpaid or left partially paid.
            paid_on = issue_date + timedelta(days=self._payment_delay())
            if roll < 0.018:
                credited = True
            elif roll < 0.022:
                pass
            elif roll < 0.025:
                payments.append((paid_on, self._part_of(payable, five_centimes)))
            elif rng.random() < 0.04:
                first = self._part_of(payable, five_centimes)
                halfway = issue_date + timedelta(days=(paid_on - issue_date).days // 2)
                payments += [(halfway, first), (paid_on, payable - first)]
            else:
                payments.append((paid_on, payable))
        elif age >= 20 and roll > 0.985:
            credited = True
        else:
            paid_on = issue_date + timedelta(days=self._payment_delay())
            if paid_on <= today:
                paid_amount = self._part_of(payable, five_centimes) if rng.random() < 0.05 else payable
                payments.append((paid_on, paid_amount))
        paid = sum(amount for _day, amount in payments)
        if credited:
            status = Invoice.Status.CANCELLED
        elif not payments:
            status = Invoice.Status.ISSUED
        else:
            status = Invoice.Status.PAID if paid == payable else Invoice.Status.PARTIALLY_PAID
        number = self._number(company, DocumentSequence.Family.INVOICE, issue_date.year)
        reference = self._qr_reference(company, invoice_id)
        updated = created
        for received_on, amount in payments:
            updated = self._office_hours(received_on)
            self._payment(chunk, client, received_on, amount, reference, invoice_id, updated)
        if credited:
            updated = self._credit_note(chunk, client, invoice_id, number, issue_date, lines, totals)
        rows["finance_invoice"].append(
            (invoice_id, company.pk, client.id, number, title, "", self.entry_id, created, updated, client.currency,
             *totals.columns(), None, Invoice.Kind.STANDARD, status, issue_date,
             issue_date + timedelta(days=TERMS_DAYS), reference, created)
        )  # fmt: skip
        self._line_rows("finance_invoiceline", invoice_id, lines, rows)
        if status != Invoice.Status.PAID and status != Invoice.Status.CANCELLED and age <= SETTLED_AFTER_DAYS:
            chunk.open_invoices.append(OpenInvoice(number, payable - paid, client.currency, client))

    def _part_of(self, payable: int, five_centimes: bool) -> int:
        """Between 30 and 70 % of an amount, in the steps the currency is paid in."""
        step = 5 if five_centimes else 1
        part = round(payable * self.rng.uniform(0.3, 0.7) / step) * step
        return min(max(part, step), payable - step) if payable > step else payable

    def _qr_reference(self, company: Company, invoice_id: int) -> str:
        """The reference the Hub gives an issued invoice (finance.services.documents._qr_reference)."""
        if company.qr_iban:
            return qrbill.qr_reference(f"{company.pk:06d}{invoice_id:020d}")
        return qrbill.creditor_reference(f"{company.pk}{invoice_id:010d}")

    def _payment(
        self, chunk: Chunk, client: ClientRecord, received_on: date, amount: int, reference: str, invoice_id: int,
        recorded: datetime,
    ) -> None:  # fmt: skip
        rng = self.rng
        payment_id = next(self.ids["finance_payment"])
        method = rng.choices(
            (Payment.Method.BANK_TRANSFER, Payment.Method.CARD, Payment.Method.CASH, Payment.Method.OTHER),
            (0.9, 0.07, 0.01, 0.02),
        )[0]  # fmt: skip
        chunk.rows["finance_payment"].append(
            (payment_id, chunk.company.pk, client.id, received_on, money(amount), client.currency, method,
             reference if method == Payment.Method.BANK_TRANSFER else "", self.entry_id, recorded)
        )  # fmt: skip
        chunk.rows["finance_paymentallocation"].append(
            (next(self.ids["finance_paymentallocation"]), payment_id, invoice_id, money(amount))
        )
        if method == Payment.Method.BANK_TRANSFER and rng.random() < self.bank_payment_share:
            account = self.accounts[chunk.company.pk, client.currency]
            chunk.movements[account].append(
                Movement(recorded - timedelta(minutes=rng.randint(30, 300)), amount, "transfer", reference,
                         client.name, "matched", payment_id, adjustable=False)
            )  # fmt: skip

    def _credit_note(
        self, chunk: Chunk, client: ClientRecord, invoice_id: int, number: str, issue_date: date,
        lines: list[PricedLine], totals: Totals,
    ) -> datetime:  # fmt: skip
        """A full credit note on the invoice, a few days after it; returns when it was issued."""
        note_id = next(self.ids["finance_invoice"])
        note_date = min(issue_date + timedelta(days=self.rng.randint(3, 30)), self.today)
        issued = self._office_hours(note_date)
        note_number = self._number(chunk.company, DocumentSequence.Family.CREDIT_NOTE, note_date.year)
        chunk.rows["finance_invoice"].append(
            (note_id, chunk.company.pk, client.id, note_number, f"Note de crédit sur {number}",
             "Erreur de facturation", self.entry_id, issued, issued, client.currency, *totals.columns(), invoice_id,
             Invoice.Kind.CREDIT_NOTE, Invoice.Status.ISSUED, note_date, note_date + timedelta(days=TERMS_DAYS), "",
             issued)
        )  # fmt: skip
        self._line_rows("finance_invoiceline", note_id, lines, chunk.rows)
        return issued

    # --- Purchases ---

    def _purchases(self, chunk: Chunk) -> None:
        rng, today, state = self.rng, self.today, chunk.state
        suppliers = rng.choices(state.suppliers, currency_weights(state.suppliers), k=chunk.supplier_invoices)
        for invoice_date, supplier in zip(self._dates(chunk, chunk.supplier_invoices), suppliers, strict=True):
            due = invoice_date + timedelta(days=supplier.terms)
            if due < today - timedelta(days=5):
                status = rng.choices(("paid", "rejected"), (0.98, 0.02))[0]
            else:
                status = rng.choices(
                    ("draft", "to_approve", "approved", "scheduled", "paid", "disputed", "rejected"),
                    (0.05, 0.3, 0.25, 0.2, 0.14, 0.04, 0.02),
                )[0]  # fmt: skip
            self._supplier_invoice(chunk, supplier, invoice_date, due, status)

    def _supplier_invoice(self, chunk: Chunk, supplier: SupplierRecord, invoice_date: date, due: date, status: str):
        rng, today = self.rng, self.today
        invoice_id = next(self.ids["finance_supplierinvoice"])
        state = chunk.state
        state.supplier_numbers[supplier.id] += 1
        supplier_number = supplier.number_style.format(n=state.supplier_numbers[supplier.id], year=invoice_date.year)
        rate = 0 if supplier.abroad else standard_vat_rate(invoice_date)
        factor = self._price_factor(invoice_date)
        nets = [round(rng.randint(*chunk.profile.purchase_line_net) * factor * 100) for _ in range(rng.randint(1, 2))]
        vats = [divide_rounded(net * rate, 10_000) for net in nets]
        net, vat = sum(nets), sum(vats)
        reference = f"Facture {supplier_number}"
        entered_on = min(invoice_date + timedelta(days=rng.randint(0, 4)), today)
        created = self._office_hours(entered_on)
        submitted = min(created + timedelta(minutes=rng.randint(5, 120)), self.now) if status != "draft" else None
        approved_by = approved_at = paid_on = None
        fingerprint = ""
        if status in ("approved", "scheduled", "paid"):
            approved_by = self.approver_id
            approved_at = min(submitted + timedelta(days=rng.randint(0, 3)), self.now)
            fingerprint = approval_fingerprint(
                SupplierInvoice(creditor_iban=supplier.iban, gross_total=Decimal(money(net + vat)),
                                currency=supplier.currency, payment_reference=reference)
            )  # fmt: skip
        if status == "paid":
            paid_on = min(max(due - timedelta(days=rng.randint(0, 7)), approved_at.date()), today)
            account = self.accounts[state.company.pk, supplier.currency]
            chunk.movements[account].append(
                Movement(self._office_hours(paid_on), -(net + vat), "transfer", reference, supplier.name, "n/a", None,
                         adjustable=False)
            )  # fmt: skip
        project_id = self._project_for(state, invoice_date) if rng.random() < 0.3 else None
        updated = max(moment for moment in (created, submitted, approved_at) if moment is not None)
        chunk.rows["finance_supplierinvoice"].append(
            (invoice_id, state.company.pk, supplier.id, project_id, supplier_number, invoice_date, due,
             supplier.currency, money(net), money(vat), money(net + vat), supplier.iban,
             SupplierInvoice.ReferenceType.NON, reference, "", status, "",
             "Facture en double" if status == "rejected" else "",
             "Quantités livrées contestées" if status == "disputed" else "", self.entry_id, submitted, approved_by,
             approved_at, fingerprint, paid_on, created, updated)
        )  # fmt: skip
        ids = self.ids["finance_supplierinvoiceline"]
        vat_code = VatCode.EXEMPT if supplier.abroad else VatCode.STANDARD
        chunk.rows["finance_supplierinvoiceline"].extend(
            (
                next(ids),
                invoice_id,
                position,
                supplier.work,
                money(line_net),
                vat_code,
                money(rate),
                money(line_vat),
                True,
            )
            for position, (line_net, line_vat) in enumerate(zip(nets, vats, strict=True), start=1)
        )

    def _project_for(self, state: CompanyState, day: date) -> int | None:
        """A project of the company started within the year before `day`, if any."""
        recent = [project_id for started, project_id in state.projects[-200:] if 0 <= (day - started).days <= 365]
        return self.rng.choice(recent) if recent else None

    # --- Bank ---

    def _bank(self, chunk: Chunk) -> None:
        """Fill the chunk's bank budget with everyday outflows, then walk each account in time order."""
        rng, state = self.rng, chunk.state
        company_id = state.company.pk
        accounts = [self.accounts[company_id, currency] for currency in ("CHF", "EUR")]
        # What clients paid net of suppliers, per account; most of it leaves again in salaries, rent and the like.
        surplus = {account: max(sum(m.amount for m in chunk.movements[account]), 0) for account in accounts}
        if chunk.first:
            self._opening_balances(chunk, accounts)
        if chunk.unmatched_transactions:
            self._unmatched_transfers(chunk)
        planned = sum(len(chunk.movements[account]) for account in accounts)
        everyday = split_count(max(chunk.bank_transactions - planned, 0), [surplus[a] + 1 for a in accounts])
        for account, count in zip(accounts, everyday, strict=True):
            kinds = rng.choices(OUTFLOWS, [kind[3] for kind in OUTFLOWS], k=count)
            scale = surplus[account] * 0.85 / (sum(kind[3] for kind in kinds) or 1)
            for kind_type, counterparty, reference, weight in kinds:
                amount = max(round(weight * scale * rng.uniform(0.6, 1.4)), 500)
                chunk.movements[account].append(
                    Movement(self._office_hours(rng.choice(chunk.days)), -amount, kind_type, reference, counterparty,
                             "n/a", None, adjustable=True)
                )  # fmt: skip
        for account, currency in zip(accounts, ("CHF", "EUR"), strict=True):
            self._walk(chunk, account, currency)

    def _opening_balances(self, chunk: Chunk, accounts: list[int]) -> None:
        """Start each account with about three months of what comes in, so payments never overdraw it."""
        days = len(chunk.days)
        for account in accounts:
            inflow = sum(m.amount for m in chunk.movements[account] if m.amount > 0)
            opening = max(round(inflow * 90 // days, -5), 1_000_000)
            chunk.state.cash_floors[account] = opening // 4
            chunk.state.balances[account] = 0
            chunk.movements[account].append(
                Movement(self._at(chunk.days[0], 8 * 60), opening, "transfer", "Solde d'ouverture",
                         chunk.company.legal_name, "n/a", None, adjustable=False)
            )  # fmt: skip

    def _unmatched_transfers(self, chunk: Chunk) -> None:
        """Recent incoming transfers nobody matched: half quote an open invoice's number, half say nothing useful."""
        rng, today = self.rng, self.today
        for _ in range(chunk.unmatched_transactions):
            days_ago = rng.randint(0, 4) if rng.random() < 0.6 else rng.randint(5, 27)
            when = self._office_hours(today - timedelta(days=days_ago))
            if chunk.open_invoices and rng.random() < 0.5:
                invoice = rng.choice(chunk.open_invoices)
                amount, currency, reference, payer = invoice.payable, invoice.currency, invoice.number, invoice.client
            else:
                payer = rng.choice(chunk.state.clients)
                amount, currency, reference = rng.randint(150, 9500) * 100, payer.currency, ""
            chunk.movements[self.accounts[chunk.company.pk, currency]].append(
                Movement(when, amount, "transfer", reference, payer.name, "unmatched", None, adjustable=False)
            )  # fmt: skip

    def _walk(self, chunk: Chunk, account: int, currency: str) -> None:
        """Write the account's transactions in time order; the balance never falls below its floor.

        Everyday outflows shrink to what the balance allows; before a supplier payment it cannot cover,
        the group tops the account up.
        """
        state = chunk.state
        balance, floor = state.balances[account], state.cash_floors[account]
        rows = chunk.rows["finance_banktransaction"]
        ids = self.ids["finance_banktransaction"]
        company_id = state.company.pk
        for movement in sorted(chunk.movements[account], key=lambda m: m.when):
            amount = movement.amount
            if amount < 0 and movement.adjustable:
                amount = -min(-amount, max(balance - floor, 0) // 2)
                if amount > -500:
                    continue
            elif amount < 0 and balance + amount < floor:
                top_up = -(-(2 * floor - balance - amount) // 100_000) * 100_000
                self._transaction_row(
                    rows, next(ids), company_id, account, currency,
                    movement._replace(when=movement.when - timedelta(hours=1), amount=top_up,
                                      reference="Apport de trésorerie du groupe", counterparty=state.company.legal_name,
                                      match_status="n/a", payment_id=None),
                )  # fmt: skip
                balance += top_up
            balance += amount
            self._transaction_row(rows, next(ids), company_id, account, currency, movement._replace(amount=amount))
        state.balances[account] = balance

    def _transaction_row(self, rows: list, transaction_id: int, company_id: int, account: int, currency: str,
                         movement: Movement) -> None:  # fmt: skip
        completed = movement.when + timedelta(minutes=2)
        matched_at = completed + timedelta(minutes=1) if movement.payment_id else None
        rows.append(
            (transaction_id, company_id, account, f"{ACCOUNT_PREFIX}{transaction_id}", movement.type, "completed", "",
             movement.reference, money(movement.amount), currency, movement.counterparty, movement.when, completed,
             "{}", movement.match_status, movement.payment_id, matched_at, completed, matched_at or completed)
        )  # fmt: skip


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)
