"""Create the demo group through the services: five companies, their users, and a year of sales, projects and
purchases each."""

from __future__ import annotations

import base64
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum
from functools import partial
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone, translation
from schwifty import IBAN

from finance.models import (
    Client,
    Company,
    Currency,
    Invoice,
    Language,
    Lead,
    Membership,
    Milestone,
    Payment,
    ProjectType,
    Quote,
    Role,
    Supplier,
    SupplierCategory,
    SupplierInvoice,
    VatCode,
)
from finance.models import Project as ProjectRecord
from finance.qrbill import creditor_reference, qr_reference
from finance.services.automatic_deposit import DEPOSIT_ACTION
from finance.services.companies import company_create, membership_grant, user_create
from finance.services.documents import (
    LineInput,
    credit_note_create,
    invoice_balance_due,
    invoice_cancel_draft,
    invoice_create_balance,
    invoice_create_deposit,
    invoice_create_full,
    invoice_issue,
    quote_create,
    quote_lines_replace,
    quote_mark_signed,
    quote_mark_viewed,
    quote_reject,
    quote_send,
    quotes_expire,
)
from finance.services.leads import LeadInput, lead_mark_answered, lead_owner_set, lead_receive
from finance.services.mautic import ACKNOWLEDGEMENT_ACTION
from finance.services.parties import client_create, contact_create, deposit_rule_save
from finance.services.payments import payment_record, payment_undo
from finance.services.projects import (
    assignment_save,
    milestone_save,
    project_advance,
    project_cancel,
    project_create_from_quote,
    project_hold,
)
from finance.services.purchases import (
    SupplierLineInput,
    supplier_create,
    supplier_invoice_approve,
    supplier_invoice_create,
    supplier_invoice_deviation,
    supplier_invoice_dispute,
    supplier_invoice_mark_paid,
    supplier_invoice_reject,
    supplier_invoice_schedule,
    supplier_invoice_submit,
)
from finance.services.second_factor import SECOND_FACTOR_ROLES, demo_totp_device_set
from integrations.actions import action_runs_cancel_queued

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
        "vat_period": Company.VatPeriod.SEMESTER,
        "net_tax_rate_1": Decimal("5.10"),
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
# Enters the purchases of the companies without finance staff, so that the CEO approves what someone else entered.
GROUP_ACCOUNTANT = ("group.finance", "Nadia", "Baeriswyl", ("ER", "LX", "TO"))

# --- Clients ------------------------------------------------------------------------------------


class DemoClient(NamedTuple):
    name: str
    street: str
    building_number: str
    postal_code: str
    town: str
    # The reserved .example domain: no demo e-mail can ever reach a real mailbox.
    email: str
    phone_prefix: str
    language: str = Language.FRENCH
    kind: str = Client.Kind.ORGANISATION
    country: str = "CH"


PERSON = Client.Kind.PERSON
DE = Language.GERMAN

DEMO_CLIENTS: dict[str, tuple[DemoClient, ...]] = {
    "HV": (
        DemoClient("Gruyère Événements SA", "Rue de Vevey", "34", "1630", "Bulle",
                   "info@gruyere-evenements.example", "+41 26"),
        DemoClient("Garage du Moléson SA", "Route de Riaz", "12", "1630", "Bulle",
                   "contact@garage-moleson.example", "+41 26"),
        DemoClient("Pharmacie de Pérolles Sàrl", "Boulevard de Pérolles", "55", "1700", "Fribourg",
                   "officine@pharmacie-perolles.example", "+41 26"),
        DemoClient("Centre sportif de la Sarine SA", "Route de la Glâne", "107", "1752", "Villars-sur-Glâne",
                   "accueil@sport-sarine.example", "+41 26"),
        DemoClient("Hôtel des Remparts Sàrl", "Rue de Lausanne", "48", "1700", "Fribourg",
                   "reception@hotel-remparts.example", "+41 26"),
        DemoClient("Zürcher Messebau AG", "Hardstrasse", "201", "8005", "Zürich",
                   "info@zuercher-messebau.example", "+41 44", DE),
        DemoClient("Bärenplatz Apotheke AG", "Bärenplatz", "7", "3011", "Bern",
                   "kontakt@baerenplatz-apotheke.example", "+41 31", DE),
        DemoClient("Lumière et Signal SARL", "Rue de la République", "14", "69002", "Lyon",
                   "bonjour@lumiere-signal.example", "+33 4", country="FR"),
        DemoClient("Marc Dousse", "Route de Marly", "25", "1723", "Marly",
                   "marc.dousse@bluemail.example", "+41 26", kind=PERSON),
        DemoClient("Sophie Jungo", "Chemin des Kybourg", "8", "1700", "Fribourg",
                   "sophie.jungo@bluemail.example", "+41 26", kind=PERSON),
    ),
    "DA": (
        DemoClient("Fiduciaire Sarine SA", "Avenue de la Gare", "9", "1700", "Fribourg",
                   "info@fiduciaire-sarine.example", "+41 26"),
        DemoClient("Logistique Broye SA", "Route de l'Industrie", "21", "1530", "Payerne",
                   "direction@logistique-broye.example", "+41 26"),
        DemoClient("Cabinet dentaire des Alpes Sàrl", "Rue des Alpes", "30", "1700", "Fribourg",
                   "cabinet@dentaire-alpes.example", "+41 26"),
        DemoClient("Horizon Prévoyance SA", "Rue Saint-Pierre", "6", "1700", "Fribourg",
                   "contact@horizon-prevoyance.example", "+41 26"),
        DemoClient("Imprimerie de la Glâne Sàrl", "Rue du Château", "3", "1680", "Romont",
                   "atelier@imprimerie-glane.example", "+41 26"),
        DemoClient("Vully Vins et Terroir SA", "Route Principale", "52", "1786", "Sugiez",
                   "cave@vully-terroir.example", "+41 26"),
        DemoClient("Datenwerk Zürich GmbH", "Badenerstrasse", "549", "8048", "Zürich",
                   "hallo@datenwerk-zh.example", "+41 44", DE),
        DemoClient("Praxisgemeinschaft Länggasse AG", "Länggassstrasse", "44", "3012", "Bern",
                   "praxis@laenggasse-med.example", "+41 31", DE),
        DemoClient("Breisgau Robotik GmbH", "Hans-Bunte-Strasse", "8", "79108", "Freiburg im Breisgau",
                   "info@breisgau-robotik.example", "+49 761", DE, country="DE"),
        DemoClient("Julien Bapst", "Route du Jura", "37", "1700", "Fribourg",
                   "julien.bapst@bluemail.example", "+41 26", kind=PERSON),
    ),
    "LX": (
        DemoClient("Boulangerie Cretegny Sàrl", "Rue de Bourg", "22", "1003", "Lausanne",
                   "commande@boulangerie-cretegny.example", "+41 21"),
        DemoClient("Architectes Léman Associés SA", "Avenue de Cour", "58", "1007", "Lausanne",
                   "bureau@leman-architectes.example", "+41 21"),
        DemoClient("Ouchy Biotech SA", "Avenue d'Ouchy", "76", "1006", "Lausanne",
                   "legal@ouchy-biotech.example", "+41 21"),
        DemoClient("Garage de la Riviera SA", "Rue du Simplon", "40", "1800", "Vevey",
                   "info@garage-riviera.example", "+41 21"),
        DemoClient("Horlogerie de Morges Sàrl", "Grand-Rue", "65", "1110", "Morges",
                   "atelier@horlogerie-morges.example", "+41 21"),
        DemoClient("Bergmann Treuhand AG", "Seefeldstrasse", "123", "8008", "Zürich",
                   "empfang@bergmann-treuhand.example", "+41 44", DE),
        DemoClient("Gurten Gastro AG", "Monbijoustrasse", "68", "3007", "Bern",
                   "verwaltung@gurten-gastro.example", "+41 31", DE),
        DemoClient("Savoie Innovations SAS", "Avenue de Genève", "15", "74000", "Annecy",
                   "contact@savoie-innovations.example", "+33 4", country="FR"),
        DemoClient("Isabelle Chappuis", "Chemin de Montolieu", "12", "1010", "Lausanne",
                   "i.chappuis@bluemail.example", "+41 21", kind=PERSON),
        DemoClient("Thomas Berset", "Avenue de Rumine", "9", "1005", "Lausanne",
                   "thomas.berset@bluemail.example", "+41 21", kind=PERSON),
    ),
    "ER": (
        DemoClient("Rhône Capital Partners SA", "Quai du Mont-Blanc", "19", "1201", "Genève",
                   "office@rhone-capital.example", "+41 22"),
        DemoClient("Société Immobilière Les Tilleuls SA", "Rue de Carouge", "98", "1205", "Genève",
                   "gerance@les-tilleuls.example", "+41 22"),
        DemoClient("Résidence Parc des Eaux-Vives SA", "Rue du Lac", "8", "1207", "Genève",
                   "residence@parc-eaux-vives.example", "+41 22"),
        DemoClient("Nyon Medical Center SA", "Route de Divonne", "50", "1260", "Nyon",
                   "admin@nyon-medical.example", "+41 22"),
        DemoClient("Biotech Meyrin SA", "Route de Meyrin", "260", "1217", "Meyrin",
                   "hr@biotech-meyrin.example", "+41 22"),
        DemoClient("Limmat Vorsorge Stiftung", "Stampfenbachstrasse", "73", "8006", "Zürich",
                   "immobilien@limmat-vorsorge.example", "+41 44", DE),
        DemoClient("Markus Zimmermann", "Kramgasse", "49", "3011", "Bern",
                   "m.zimmermann@bluemail.example", "+41 31", DE, kind=PERSON),
        DemoClient("Genevois Développement SAS", "Rue de la Gare", "3", "74100", "Annemasse",
                   "projets@genevois-dev.example", "+33 4", country="FR"),
        DemoClient("Hélène Fontana", "Chemin de la Montagne", "20", "1224", "Chêne-Bougeries",
                   "helene.fontana@bluemail.example", "+41 22", kind=PERSON),
        DemoClient("Pierre-Alain Mottier", "Route de Florissant", "62", "1206", "Genève",
                   "pa.mottier@bluemail.example", "+41 22", kind=PERSON),
    ),
    "TO": (
        DemoClient("Kulturhaus Aarehof", "Marzilistrasse", "47", "3005", "Bern",
                   "events@kulturhaus-aarehof.example", "+41 31", DE),
        DemoClient("Treuhand Bubenberg AG", "Bubenbergplatz", "10", "3011", "Bern",
                   "sekretariat@bubenberg-treuhand.example", "+41 31", DE),
        DemoClient("Wankdorf Kongress AG", "Papiermühlestrasse", "71", "3014", "Bern",
                   "catering@wankdorf-kongress.example", "+41 31", DE),
        DemoClient("Ingenieurbüro Nydegg GmbH", "Gerechtigkeitsgasse", "31", "3011", "Bern",
                   "buero@nydegg-ing.example", "+41 31", DE),
        DemoClient("Limmatquai Beratung AG", "Limmatquai", "92", "8001", "Zürich",
                   "empfang@limmatquai-beratung.example", "+41 44", DE),
        DemoClient("Association des commerçants de Bienne", "Rue de Nidau", "33", "2502", "Biel/Bienne",
                   "info@commerce-bienne.example", "+41 32"),
        DemoClient("Crèche Les Petits Pas Sàrl", "Rue de Morat", "15", "1700", "Fribourg",
                   "direction@petits-pas.example", "+41 26"),
        DemoClient("Schwarzwald Reisen GmbH", "Bertoldstrasse", "45", "79098", "Freiburg im Breisgau",
                   "gruppen@schwarzwald-reisen.example", "+49 761", DE, country="DE"),
        DemoClient("Anna Gerber", "Effingerstrasse", "16", "3008", "Bern",
                   "anna.gerber@bluemail.example", "+41 31", DE, kind=PERSON),
        DemoClient("Reto Känzig", "Thunstrasse", "88", "3006", "Bern",
                   "reto.kaenzig@bluemail.example", "+41 31", DE, kind=PERSON),
    ),
}  # fmt: skip

# Contacts of organisations are drawn from these, in the client's language (French or German).
CONTACT_FIRST_NAMES = {
    Language.FRENCH: ("Camille", "Julien", "Nathalie", "Olivier", "Sandrine", "Laurent", "Valérie", "Nicolas"),
    Language.GERMAN: ("Andrea", "Daniel", "Sabine", "Thomas", "Monika", "Stefan", "Claudia", "Martin"),
}
CONTACT_LAST_NAMES = {
    Language.FRENCH: ("Favre", "Bulliard", "Clément", "Chassot", "Rey", "Kolly", "Perroud", "Gobet", "Décorvet"),
    Language.GERMAN: ("Müller", "Schneider", "Zbinden", "Aebischer", "Baumann", "Hofer", "Steiner", "Wyss", "Lüthi"),
}
CONTACT_ROLES = {
    Language.FRENCH: ("Direction", "Comptabilité", "Responsable marketing", "Achats", "Responsable technique"),
    Language.GERMAN: ("Geschäftsleitung", "Buchhaltung", "Marketingleitung", "Einkauf", "Technische Leitung"),
}
# How the digits after the country and area prefix are grouped; # is a digit.
PHONE_LAYOUTS = {"CH": "### ## ##", "FR": "## ## ## ##", "DE": "#######"}

# --- What each company sells --------------------------------------------------------------------

Text = tuple[str, str]  # (French, German)

PIECE: Text = ("pce", "Stk.")
HOUR: Text = ("h", "Std.")
DAY: Text = ("jour", "Tag")
FLAT: Text = ("forfait", "Pauschale")
MONTH: Text = ("mois", "Monat")
YEAR: Text = ("an", "Jahr")
NIGHT: Text = ("nuit", "Nacht")
GUEST: Text = ("pers.", "Pers.")
BOTTLE: Text = ("bout.", "Fl.")

STANDARD, REDUCED, ACCOMMODATION, EXEMPT = VatCode.STANDARD, VatCode.REDUCED, VatCode.ACCOMMODATION, VatCode.EXEMPT


class Article(NamedTuple):
    text: Text
    unit: Text
    unit_price: str
    vat_code: str
    quantities: tuple[int, ...]


class Project(NamedTuple):
    title: Text
    project_type: str
    # Always on the quote, and enough on its own for the deposit-rule threshold, even discounted and exempt.
    main: Article
    extras: tuple[Article, ...]


LEGAL_ADVICE = Article(("Conseil juridique", "Rechtsberatung"), HOUR, "320.00", STANDARD, (2, 4, 6))
VALUATION = Article(("Estimation de la valeur vénale", "Schätzung des Verkehrswerts"), FLAT, "1200.00", STANDARD, (1,))
LISTING_PHOTOS = Article(("Photos professionnelles et visite virtuelle", "Profifotos und virtueller Rundgang"),
                         FLAT, "650.00", STANDARD, (1,))  # fmt: skip
PORTAL_ADS = Article(("Annonces sur les portails immobiliers", "Inserate auf Immobilienportalen"),
                     MONTH, "290.00", STANDARD, (2, 3, 4))  # fmt: skip

DEMO_PROJECTS: dict[str, tuple[Project, ...]] = {
    "HV": (
        Project(("Affichage dynamique en vitrine", "Digital Signage im Schaufenster"), ProjectType.DIGITAL_SIGNAGE,
            Article(("Écran professionnel 55\" 4K haute luminosité", "Profi-Display 55\" 4K, hohe Leuchtdichte"),
                    PIECE, "2890.00", STANDARD, (2, 3, 4)), (
            Article(("Lecteur multimédia avec licence CMS 12 mois", "Mediaplayer mit CMS-Lizenz für 12 Monate"),
                    PIECE, "690.00", STANDARD, (2, 3, 4)),
            Article(("Pose, câblage et mise en service", "Montage, Verkabelung und Inbetriebnahme"),
                    HOUR, "115.00", STANDARD, (6, 8, 12)),
            Article(("Création de contenus animés", "Gestaltung animierter Inhalte"),
                    HOUR, "125.00", STANDARD, (6, 10, 16)),
            Article(("Formation des utilisateurs au CMS", "Schulung der Benutzer im CMS"),
                    FLAT, "480.00", EXEMPT, (1,)),
        )),
        Project(("Mur vidéo LED de la salle de conférence", "LED-Videowand im Konferenzraum"),
                ProjectType.DIGITAL_SIGNAGE,
            Article(("Mur vidéo 3×3 écrans 55\" bord fin, structure comprise",
                     "Videowand 3×3 Displays 55\", schmaler Rand, inkl. Gestell"), FLAT, "24500.00", STANDARD, (1,)), (
            Article(("Contrôleur vidéo et processeur de mosaïque", "Videocontroller und Mosaikprozessor"),
                    PIECE, "3200.00", STANDARD, (1,)),
            Article(("Installation par deux techniciens", "Installation durch zwei Techniker"),
                    DAY, "1440.00", STANDARD, (1, 2)),
            Article(("Hébergement des techniciens", "Unterkunft der Techniker"),
                    NIGHT, "165.00", ACCOMMODATION, (2, 4)),
            Article(("Contrat de maintenance annuel", "Jährlicher Wartungsvertrag"), YEAR, "1800.00", STANDARD, (1,)),
        )),
        Project(("Totem tactile d'orientation", "Interaktive Orientierungsstele"), ProjectType.DIGITAL_SIGNAGE,
            Article(("Totem tactile 49\" double face", "Touch-Stele 49\", doppelseitig"),
                    PIECE, "6400.00", STANDARD, (1, 2)), (
            Article(("Développement du plan interactif", "Entwicklung des interaktiven Plans"),
                    HOUR, "135.00", STANDARD, (12, 20, 30)),
            Article(("Livraison et mise en place", "Lieferung und Aufstellung"), FLAT, "380.00", STANDARD, (1,)),
            Article(("Guide d'utilisation imprimé", "Gedruckte Bedienungsanleitung"), PIECE, "28.00", REDUCED, (5, 10)),
        )),
        Project(("Atelier contenus d'affichage dynamique", "Workshop Inhalte für Digital Signage"),
                ProjectType.TRAINING,
            Article(("Atelier de formation d'une journée", "Ganztägiger Schulungsworkshop"),
                    DAY, "1800.00", EXEMPT, (1, 2)), (
            Article(("Support de cours imprimé", "Gedruckte Kursunterlagen"), PIECE, "35.00", REDUCED, (6, 10, 12)),
            Article(("Repas de midi des participants", "Mittagessen der Teilnehmenden"),
                    GUEST, "32.00", STANDARD, (6, 10, 12)),
        )),
    ),
    "DA": (
        Project(("Assistant IA pour le service client", "KI-Assistent für den Kundendienst"), ProjectType.SOFTWARE,
            Article(("Développement et intégration du chatbot", "Entwicklung und Integration des Chatbots"),
                    DAY, "1350.00", STANDARD, (10, 12, 18)), (
            Article(("Atelier de cadrage et analyse des besoins", "Kick-off-Workshop und Anforderungsanalyse"),
                    FLAT, "2400.00", STANDARD, (1,)),
            Article(("Hébergement et supervision du modèle", "Hosting und Überwachung des Modells"),
                    MONTH, "390.00", STANDARD, (6, 12)),
            Article(("Formation des équipes support", "Schulung der Support-Teams"), FLAT, "1200.00", EXEMPT, (1,)),
        )),
        Project(("Automatisation des factures fournisseurs", "Automatisierung der Lieferantenrechnungen"),
                ProjectType.SOFTWARE,
            Article(("Pipeline OCR et contrôle comptable", "OCR-Pipeline und buchhalterische Prüfung"),
                    DAY, "1350.00", STANDARD, (10, 15)), (
            Article(("Connecteur vers l'ERP", "Schnittstelle zum ERP"), FLAT, "4800.00", STANDARD, (1,)),
            Article(("Crédits de reconnaissance, 1'000 pages", "Erkennungsguthaben, 1'000 Seiten"),
                    PIECE, "180.00", STANDARD, (5, 10, 20)),
            Article(("Formation des utilisateurs", "Benutzerschulung"), FLAT, "900.00", EXEMPT, (1,)),
        )),
        Project(("Audit de maturité des données", "Audit der Datenreife"), ProjectType.CONSULTING,
            Article(("Audit et feuille de route data et IA", "Audit und Roadmap für Daten und KI"),
                    DAY, "1500.00", STANDARD, (3, 5, 8)), (
            Article(("Rapport de synthèse imprimé et relié", "Gedruckter und gebundener Schlussbericht"),
                    PIECE, "45.00", REDUCED, (3, 5)),
            Article(("Séminaire de direction sur l'IA", "Führungsseminar zu KI"), FLAT, "2200.00", EXEMPT, (1,)),
        )),
    ),
    "LX": (
        Project(("Constitution d'une Sàrl", "Gründung einer GmbH"), ProjectType.LEGAL,
            Article(("Rédaction des statuts et de l'acte constitutif", "Statuten und Gründungsurkunde"),
                    FLAT, "2400.00", STANDARD, (1,)), (
            LEGAL_ADVICE,
            Article(("Émoluments du registre du commerce (débours)", "Handelsregistergebühren (Auslagen)"),
                    FLAT, "620.00", EXEMPT, (1,)),
        )),
        Project(("Contrats de travail et règlement du personnel", "Arbeitsverträge und Personalreglement"),
                ProjectType.LEGAL,
            Article(("Rédaction du règlement du personnel", "Ausarbeitung des Personalreglements"),
                    FLAT, "3800.00", STANDARD, (1,)), (
            Article(("Modèles de contrats de travail", "Arbeitsvertragsvorlagen"),
                    PIECE, "450.00", STANDARD, (2, 3, 4)),
            LEGAL_ADVICE,
            Article(("Séance d'information aux cadres", "Informationsveranstaltung für Kader"),
                    FLAT, "1100.00", EXEMPT, (1,)),
        )),
        Project(("Mise en conformité nLPD", "Umsetzung des revDSG"), ProjectType.CONSULTING,
            Article(("Audit de conformité à la protection des données", "Datenschutz-Konformitätsaudit"),
                    FLAT, "5200.00", STANDARD, (1,)), (
            Article(("Registre des activités de traitement", "Verzeichnis der Bearbeitungstätigkeiten"),
                    FLAT, "1600.00", STANDARD, (1,)),
            LEGAL_ADVICE,
            Article(("Formation du personnel à la protection des données", "Datenschutzschulung für Mitarbeitende"),
                    FLAT, "1400.00", EXEMPT, (1,)),
        )),
        Project(("Litige de bail commercial", "Streitigkeit um eine Geschäftsmiete"), ProjectType.LEGAL,
            Article(("Représentation en procédure de conciliation", "Vertretung im Schlichtungsverfahren"),
                    HOUR, "350.00", STANDARD, (8, 12, 20)), (
            Article(("Frais de justice avancés (débours)", "Vorgeschossene Gerichtskosten (Auslagen)"),
                    FLAT, "800.00", EXEMPT, (1,)),
            Article(("Copies et envois recommandés", "Kopien und Einschreiben"), FLAT, "85.00", STANDARD, (1,)),
        )),
    ),
    "ER": (
        Project(("Mandat de vente d'un appartement", "Verkaufsmandat für eine Wohnung"), ProjectType.REAL_ESTATE,
            Article(("Commission de courtage sur la vente", "Maklerprovision auf dem Verkauf"),
                    FLAT, "14800.00", STANDARD, (1,)),
            (VALUATION, LISTING_PHOTOS, PORTAL_ADS)),
        Project(("Mandat de vente d'une villa", "Verkaufsmandat für eine Villa"), ProjectType.REAL_ESTATE,
            Article(("Commission de courtage sur la vente", "Maklerprovision auf dem Verkauf"),
                    FLAT, "36500.00", STANDARD, (1,)), (
            VALUATION,
            LISTING_PHOTOS,
            PORTAL_ADS,
            Article(("Dossier de vente imprimé", "Gedruckte Verkaufsdokumentation"), PIECE, "38.00", REDUCED, (10, 20)),
        )),
        Project(("Relocation d'un collaborateur", "Relocation eines Mitarbeitenden"), ProjectType.CONSULTING,
            Article(("Recherche de logement et accompagnement", "Wohnungssuche und Begleitung"),
                    FLAT, "4800.00", STANDARD, (1,)), (
            Article(("Logement temporaire meublé", "Möblierte Übergangswohnung"),
                    NIGHT, "180.00", ACCOMMODATION, (14, 21, 30)),
            Article(("État des lieux d'entrée accompagné", "Begleitete Wohnungsübergabe"),
                    HOUR, "140.00", STANDARD, (2, 3)),
            Article(("Avance du premier loyer", "Vorschuss der ersten Monatsmiete"), MONTH, "3200.00", EXEMPT, (1,)),
        )),
        Project(("Gérance d'un immeuble locatif", "Verwaltung einer Mietliegenschaft"), ProjectType.REAL_ESTATE,
            Article(("Honoraires de gérance", "Verwaltungshonorar"), MONTH, "1250.00", STANDARD, (12,)), (
            Article(("Décomptes de charges des locataires", "Nebenkostenabrechnungen der Mieter"),
                    FLAT, "1800.00", STANDARD, (1,)),
            Article(("Visites de relocation des appartements", "Besichtigungen zur Wiedervermietung"),
                    HOUR, "120.00", STANDARD, (4, 8)),
        )),
    ),
    "TO": (
        Project(("Apéritif dînatoire", "Apéro riche"), ProjectType.FOOD_SERVICE,
            Article(("Apéritif dînatoire, 12 pièces par personne, service compris",
                     "Apéro riche, 12 Stück pro Person, inkl. Service"), GUEST, "38.00", STANDARD, (40, 60, 90, 120)), (
            Article(("Boissons sans alcool à discrétion", "Alkoholfreie Getränke nach Belieben"),
                    GUEST, "9.50", STANDARD, (40, 60, 90)),
            Article(("Sélection de vins vaudois et bernois", "Auswahl Waadtländer und Berner Weine"),
                    BOTTLE, "29.00", STANDARD, (12, 24, 36)),
            Article(("Personnel de service", "Servicepersonal"), HOUR, "58.00", STANDARD, (8, 12, 16)),
            Article(("Location de vaisselle et nappage", "Miete von Geschirr und Tischwäsche"),
                    FLAT, "240.00", STANDARD, (1,)),
        )),
        Project(("Plateaux-repas pour séminaire", "Lunchboxen für ein Seminar"), ProjectType.FOOD_SERVICE,
            Article(("Plateau-repas livré, sans service", "Gelieferte Lunchbox, ohne Service"),
                    PIECE, "24.50", REDUCED, (20, 35, 50, 80)), (
            Article(("Salade de fruits en portion, livrée", "Fruchtsalat portioniert, geliefert"),
                    PIECE, "6.80", REDUCED, (20, 35, 50)),
            Article(("Café et thé livrés en thermos", "Kaffee und Tee in Thermoskannen geliefert"),
                    GUEST, "3.50", REDUCED, (20, 35, 50)),
            Article(("Livraison et reprise du matériel", "Lieferung und Abholung des Materials"),
                    FLAT, "85.00", STANDARD, (1,)),
        )),
        Project(("Repas de fin d'année", "Weihnachtsessen"), ProjectType.FOOD_SERVICE,
            Article(("Menu de fête trois plats, servi à table", "Festmenü mit drei Gängen, am Tisch serviert"),
                    GUEST, "89.00", STANDARD, (30, 45, 60, 100)), (
            Article(("Forfait boissons avec vins", "Getränkepauschale mit Weinen"),
                    GUEST, "35.00", STANDARD, (30, 45, 60)),
            Article(("Décoration florale des tables", "Tischdekoration mit Blumen"), FLAT, "420.00", STANDARD, (1,)),
            Article(("Biscuits de Noël à emporter", "Weihnachtsguetzli zum Mitnehmen"),
                    PIECE, "7.50", REDUCED, (30, 45, 60)),
        )),
        Project(("Cours de cuisine d'équipe", "Team-Kochkurs"), ProjectType.TRAINING,
            Article(("Cours de cuisine encadré par un chef", "Kochkurs unter Leitung eines Küchenchefs"),
                    GUEST, "145.00", EXEMPT, (8, 12, 16)), (
            Article(("Denrées et boissons du cours", "Lebensmittel und Getränke des Kurses"),
                    GUEST, "42.00", STANDARD, (8, 12, 16)),
        )),
    ),
}  # fmt: skip

# (project type, deposit %, from a quote total of, due in days); the blank type is the company's default.
# Each company has one project type without deposit, invoiced in full once signed.
DEMO_DEPOSIT_RULES: dict[str, tuple[tuple[str, str, str, int], ...]] = {
    "HV": (("", "30", "0", 10), (ProjectType.DIGITAL_SIGNAGE, "40", "5000", 10), (ProjectType.TRAINING, "0", "0", 10)),
    "DA": (("", "30", "0", 10), (ProjectType.SOFTWARE, "50", "10000", 15), (ProjectType.CONSULTING, "0", "0", 10)),
    "LX": (("", "30", "0", 10), (ProjectType.LEGAL, "50", "0", 10), (ProjectType.CONSULTING, "0", "0", 10)),
    "ER": (("", "30", "0", 10), (ProjectType.REAL_ESTATE, "20", "10000", 10), (ProjectType.CONSULTING, "0", "0", 10)),
    "TO": (("", "30", "0", 10), (ProjectType.FOOD_SERVICE, "50", "0", 5), (ProjectType.TRAINING, "0", "0", 10)),
}

# Screens shipped abroad and advice to foreign businesses are supplied outside Switzerland, so no Swiss
# VAT; real-estate and catering services stay taxable where the building or the meal is.
EXPORT_EXEMPT_COMPANIES = {"HV", "DA", "LX"}

# --- A year of quotes ---------------------------------------------------------------------------


class Settlement(Enum):
    """What becomes of an issued invoice."""

    PAID = "paid"
    UNPAID = "unpaid"
    PARTIALLY_PAID = "partially paid"
    OVERPAID = "overpaid, the rest kept as credit"
    RETURNED_THEN_PAID = "paid, the transfer returned (payment undone), paid again"
    CREDITED_IN_FULL = "cancelled by a credit note for its whole amount"
    CREDITED_IN_PART = "reduced by a goodwill credit note, the rest paid"


class Work(NamedTuple):
    """A provider's part of a project: their accepted quote, and the invoices they sent against it."""

    # The company's first or second supplier, its project providers.
    provider: int
    # The agreed net amount, as a share of the project's budget.
    share: str
    # (share of the agreed amount, status) of each invoice; over 1 in total runs over their quote.
    invoices: tuple[tuple[str, str], ...] = ()


class Story(NamedTuple):
    """One quote's life; days count back from today (each story is moved back 0 to 3 more days)."""

    status: str
    days_ago: int
    viewed: bool = True
    signed_days_ago: int | None = None
    # Signed quotes of a project type without deposit are invoiced in full, the others deposit first.
    with_deposit: bool = True
    # The invoice that closes the quote: its balance, or the whole of it without deposit.
    closing_days_ago: int | None = None
    deposit: Settlement = Settlement.PAID
    closing: Settlement = Settlement.PAID
    # The first deposit draft is cancelled and drafted again.
    deposit_redrafted: bool = False
    # Where its project stands today, opened when the quote is sent; None: no project.
    project: str | None = None
    works: tuple[Work, ...] = ()


Status = Quote.Status
Stage = ProjectRecord.Status
Payable = SupplierInvoice.Status
DRAFT, TO_APPROVE, APPROVED, SCHEDULED = Payable.DRAFT, Payable.TO_APPROVE, Payable.APPROVED, Payable.SCHEDULED
PAID, REJECTED, DISPUTED = Payable.PAID, Payable.REJECTED, Payable.DISPUTED
QUOTE_STORIES = (
    Story(Status.CONVERTED, 340, signed_days_ago=333, closing_days_ago=300),
    Story(Status.EXPIRED, 320, viewed=False),
    Story(Status.CONVERTED, 290, signed_days_ago=282, closing_days_ago=250, deposit=Settlement.RETURNED_THEN_PAID,
          closing=Settlement.OVERPAID, project=Stage.CLOSED,
          works=(Work(0, "0.35", (("1.00", PAID),)), Work(1, "0.12", (("0.95", PAID),)))),
    Story(Status.REJECTED, 260),
    # Cancelled after its first phase: the provider's work so far is paid.
    Story(Status.CONVERTED, 230, signed_days_ago=224, closing_days_ago=195, closing=Settlement.CREDITED_IN_FULL,
          project=Stage.CANCELLED, works=(Work(0, "0.30", (("0.40", PAID),)),)),
    Story(Status.CONVERTED, 205, signed_days_ago=200, with_deposit=False, closing_days_ago=178),
    # The provider's extra work, 12 % over their quote, was approved with a written reason.
    Story(Status.CONVERTED, 190, signed_days_ago=181, closing_days_ago=150, closing=Settlement.CREDITED_IN_PART,
          deposit_redrafted=True, project=Stage.CLOSED, works=(Work(0, "0.40", (("1.12", PAID),)),)),
    Story(Status.EXPIRED, 150),
    Story(Status.CONVERTED, 100, signed_days_ago=93, closing_days_ago=65, closing=Settlement.PARTIALLY_PAID),
    # The provider's second invoice takes them 4 % over their quote: the approver is warned.
    Story(Status.CONVERTED, 80, signed_days_ago=74, closing_days_ago=48, closing=Settlement.UNPAID,
          project=Stage.DELIVERED, works=(Work(0, "0.38", (("0.60", PAID), ("0.44", TO_APPROVE))),)),
    Story(Status.CONVERTED, 70, signed_days_ago=66, with_deposit=False, closing_days_ago=38, project=Stage.CLOSED),
    # The second provider invoices 8 % over their quote: approval is blocked until the CEO gives a reason.
    Story(Status.SIGNED, 50, signed_days_ago=44, project=Stage.INSTALLING,
          works=(Work(0, "0.40", (("0.50", PAID),)), Work(1, "0.20", (("1.08", TO_APPROVE),)))),
    Story(Status.CONVERTED, 40, signed_days_ago=35, closing_days_ago=4, closing=Settlement.UNPAID,
          project=Stage.DELIVERED, works=(Work(0, "0.42", (("1.00", APPROVED),)),)),
    Story(Status.SIGNED, 36, signed_days_ago=31, project=Stage.ORDERING,
          works=(Work(0, "0.40", (("0.30", SCHEDULED),)),)),
    Story(Status.REJECTED, 30),
    Story(Status.SIGNED, 26, signed_days_ago=20, deposit=Settlement.UNPAID, project=Stage.SIGNED),
    Story(Status.SIGNED, 22, signed_days_ago=17, project=Stage.IN_PREPARATION, works=(Work(0, "0.35"),)),
    Story(Status.VIEWED, 12, project=Stage.ON_HOLD),
    Story(Status.SIGNED, 10, signed_days_ago=7, project=Stage.DEPOSIT_RECEIVED),
    Story(Status.SENT, 5, viewed=False, project=Stage.QUOTE_SENT),
    Story(Status.DRAFT, 2, viewed=False),
)  # fmt: skip
QUOTE_VALIDITY_DAYS = 30

CREDIT_IN_FULL_REASON: Text = (
    "Solde annulé : le client renonce à la seconde phase du projet",
    "Restbetrag storniert: Der Kunde verzichtet auf die zweite Projektphase",
)
GOODWILL_REASON: Text = ("Geste commercial pour le retard de livraison", "Kulanz für die Lieferverzögerung")

# --- Projects -----------------------------------------------------------------------------------

# Where work stopped before a project was cancelled.
WORK_STOPPED_AT = {Stage.CANCELLED: Stage.IN_PREPARATION}
# How many of a project's milestones are done, as the end of a slice: delivered leaves the client's acceptance open.
MILESTONES_DONE = {
    Stage.DEPOSIT_RECEIVED: 0, Stage.IN_PREPARATION: 0, Stage.ORDERING: 1, Stage.INSTALLING: 2, Stage.DELIVERED: -1,
    Stage.CLOSED: None, Stage.CANCELLED: 1,
}  # fmt: skip
# The project team writes in the group's working language, whoever the client is.
HOLD_REASON = "Le client suspend sa décision jusqu'à la validation de son budget"
CANCEL_REASON = "Le client renonce à la seconde phase du projet"
# A step added to the project being installed: (title, days from today, share of the budget billed with it).
EXTRA_MILESTONES = {
    "HV": ("Formation des utilisateurs au CMS", 12, "0.05"),
    "DA": ("Atelier de transfert de compétences", 15, "0.08"),
    "LX": ("Séance de signature chez le notaire", 9, "0.10"),
    "ER": ("Remise des clés et état des lieux", 20, "0.10"),
    "TO": ("Dégustation du menu avec le client", 6, "0.05"),
}

# --- Suppliers and their invoices ---------------------------------------------------------------


class DemoSupplier(NamedTuple):
    name: str
    street: str
    building_number: str
    postal_code: str
    town: str
    che_uid: str
    # The IBAN is built from the clearing number and account, so its check digits are right; a clearing
    # number from 30000 to 31999 makes it a QR-IBAN, paid with QR references.
    bank_code: str
    account: str
    contact_name: str
    # The reserved .example domain, as for clients.
    email: str
    phone: str
    categories: tuple[str, ...]
    # What their invoices are for, as they print it, and at which VAT rate.
    work: str
    vat_code: str = STANDARD
    # A project provider's role; a general supplier's usual net amount per invoice.
    role: str = ""
    amount: str = ""
    # The reference of a supplier without QR-IBAN.
    reference_type: str = SupplierInvoice.ReferenceType.NON
    country: str = "CH"
    currency: str = Currency.CHF


SCOR = SupplierInvoice.ReferenceType.SCOR
HARDWARE, INSTALLATION, SUBCONTRACTING, SOFTWARE, TRANSPORT, PREMISES, SERVICES, GOODS = (
    SupplierCategory.HARDWARE, SupplierCategory.INSTALLATION, SupplierCategory.SUBCONTRACTING,
    SupplierCategory.SOFTWARE, SupplierCategory.TRANSPORT, SupplierCategory.PREMISES, SupplierCategory.SERVICES,
    SupplierCategory.OTHER,
)  # fmt: skip

# Per company: the two providers who work on its projects (the first paid by QR-bill), then a supplier who
# invoices every quarter and two who invoice now and then. Fictitious, with valid UIDs and IBANs.
DEMO_SUPPLIERS: dict[str, tuple[DemoSupplier, ...]] = {
    "HV": (
        DemoSupplier("Électro-Gruyère Installations SA", "Rue de la Condémine", "22", "1630", "Bulle",
                     "CHE-526.018.151", "30768", "482915004", "Pascal Overney", "chantiers@electro-gruyere.example",
                     "+41 26 912 45 80", (INSTALLATION,), "Pose, câblage et raccordement des écrans",
                     role="Pose et câblage"),
        DemoSupplier("Swiss Display Distribution AG", "Industriestrasse", "12", "6343", "Rotkreuz",
                     "CHE-908.301.668", "00787", "612048801", "Daniel Meier", "verkauf@swissdisplay.example",
                     "+41 41 790 22 10", (HARDWARE,), "Professionelle Displays und Mediaplayer",
                     role="Fourniture des écrans", reference_type=SCOR),
        DemoSupplier("Mediaplay Software GmbH", "Technoparkstrasse", "1", "8005", "Zürich", "CHE-131.860.915",
                     "00700", "110394527", "Sabine Keller", "billing@mediaplay-software.example", "+41 44 445 18 30",
                     (SOFTWARE,), "CMS-Lizenzen Digital Signage, Quartal", amount="1450.00", reference_type=SCOR),
        DemoSupplier("Transports Sarine Express SA", "Route du Tir-Fédéral", "10", "1762", "Givisiez",
                     "CHE-390.996.037", "00768", "527716304", "Michel Bapst", "dispo@sarine-express.example",
                     "+41 26 466 31 15", (TRANSPORT,), "Transport et livraison de matériel", amount="680.00"),
        # Goods from abroad carry no Swiss VAT on the invoice: import VAT is paid at the border.
        DemoSupplier("Rheinland Display Technik GmbH", "Butzweilerhofallee", "3", "50829", "Köln", "",
                     "37040044", "215448700", "Jens Hoffmann", "rechnung@rheinland-display.example",
                     "+49 221 5970 4410", (HARDWARE,), "LED-Module und Ersatzteile", EXEMPT, amount="3200.00",
                     reference_type=SCOR, country="DE", currency=Currency.EUR),
    ),
    "DA": (
        DemoSupplier("Sarine Data Engineering Sàrl", "Route de la Fonderie", "8", "1700", "Fribourg",
                     "CHE-948.219.932", "30000", "176402583", "Yannick Clément", "factures@sarine-data.example",
                     "+41 26 422 70 54", (SUBCONTRACTING, SOFTWARE), "Développement sous-traité",
                     role="Développement et intégration"),
        DemoSupplier("Code Aare GmbH", "Schwanengasse", "5", "3011", "Bern", "CHE-518.190.931", "00790",
                     "420117965", "Lukas Aebersold", "office@code-aare.example", "+41 31 311 84 20",
                     (SUBCONTRACTING,), "Testing und Qualitätssicherung", role="Tests et assurance qualité",
                     reference_type=SCOR),
        DemoSupplier("Alpine Cloud Hosting AG", "Hardturmstrasse", "161", "8005", "Zürich", "CHE-786.579.750",
                     "00230", "938401277", "Martina Frei", "billing@alpine-cloud.example", "+41 44 562 90 00",
                     (SOFTWARE,), "Cloud-Hosting und GPU-Rechenzeit, Quartal", amount="2850.00", reference_type=SCOR),
        DemoSupplier("Espace Coworking Pérolles SA", "Passage du Cardinal", "1", "1700", "Fribourg",
                     "CHE-432.319.488", "00768", "305599812", "Aline Bourqui", "salles@coworking-perolles.example",
                     "+41 26 300 12 40", (PREMISES,), "Location de salles de réunion et d'atelier", amount="780.00"),
        DemoSupplier("Traductions Lémaniques Sàrl", "Avenue de la Harpe", "14", "1007", "Lausanne",
                     "CHE-757.491.188", "00767", "604281133", "Claire Jaccard", "devis@traductions-lemaniques.example",
                     "+41 21 616 47 02", (SERVICES,), "Traduction de documentation technique FR-DE", amount="1120.00"),
    ),
    "LX": (
        DemoSupplier("Étude de notaires Rochat & Dubois", "Place Saint-François", "7", "1003", "Lausanne",
                     "CHE-625.276.018", "30767", "285530046", "Anne Rochat", "etude@notaires-rochat-dubois.example",
                     "+41 21 312 55 80", (SUBCONTRACTING,), "Instrumentation d'actes notariés",
                     role="Actes notariés"),
        DemoSupplier("Juris Traductions Sàrl", "Rue Centrale", "15", "1003", "Lausanne", "CHE-895.559.793", "00767",
                     "771904312", "Marc Tschumi", "contact@juris-traductions.example", "+41 21 320 61 44",
                     (SERVICES,), "Traduction juridique certifiée", role="Traduction juridique", reference_type=SCOR),
        # Renting premises is exempt from VAT.
        DemoSupplier("Régie du Flon SA", "Voie du Chariot", "6", "1003", "Lausanne", "CHE-711.471.040", "00767",
                     "119083455", "Sylvie Mercier", "gerance@regie-flon.example", "+41 21 213 40 00", (PREMISES,),
                     "Loyer des bureaux, Avenue de la Gare 12, trimestre", EXEMPT, amount="5400.00"),
        DemoSupplier("LexBase Suisse SA", "Chemin de Maillefer", "36", "1052", "Le Mont-sur-Lausanne",
                     "CHE-974.650.750", "00230", "550218764", "Julie Perrin", "abonnements@lexbase.example",
                     "+41 21 644 30 30", (SOFTWARE,), "Abonnement à la base de données juridique", amount="1960.00",
                     reference_type=SCOR),
        DemoSupplier("Coursiers Lausannois Sàrl", "Avenue de Sévelin", "20", "1004", "Lausanne", "CHE-291.703.421",
                     "09000", "170554239", "Kevin Rossier", "courses@coursiers-lausannois.example", "+41 21 625 10 10",
                     (TRANSPORT,), "Courses urgentes et envois recommandés", amount="240.00"),
    ),
    "ER": (
        DemoSupplier("Léman Photo Immobilier Sàrl", "Rue des Bains", "35", "1205", "Genève", "CHE-366.712.765",
                     "30788", "640017258", "Sébastien Girod", "studio@leman-photo-immo.example", "+41 22 328 19 63",
                     (SERVICES,), "Reportage photo et visite virtuelle", role="Photos et visite virtuelle"),
        DemoSupplier("Résidences Meublées du Lac SA", "Rue de Lausanne", "80", "1202", "Genève", "CHE-842.684.655",
                     "00788", "392275106", "Nadine Dufour", "reservations@residences-du-lac.example",
                     "+41 22 906 77 00", (PREMISES,), "Nuitées en appartement meublé", ACCOMMODATION,
                     role="Logement temporaire", reference_type=SCOR),
        DemoSupplier("Portail Immo Romand SA", "Rue du Grand-Pré", "70", "1202", "Genève", "CHE-632.122.337",
                     "00240", "804413927", "Laurent Morand", "facturation@portail-immo-romand.example",
                     "+41 22 737 15 15", (SOFTWARE,), "Abonnement aux annonces immobilières, trimestre",
                     amount="1350.00", reference_type=SCOR),
        DemoSupplier("Déménagements Rhône-Arve SA", "Route des Jeunes", "43", "1227", "Carouge", "CHE-685.995.281",
                     "00788", "217760441", "Antonio Ferreira", "devis@rhone-arve-demenagements.example",
                     "+41 22 342 88 20", (TRANSPORT,), "Déménagement et garde-meubles", amount="2400.00"),
        DemoSupplier("Nettoyages du Salève Sàrl", "Route de Troinex", "12", "1256", "Troinex", "CHE-907.866.666",
                     "80808", "115093284", "Fatima Benali", "contact@nettoyages-saleve.example", "+41 22 784 03 35",
                     (SERVICES,), "Nettoyage de fin de bail", amount="890.00"),
    ),
    "TO": (
        DemoSupplier("Metzgerei Aaretal AG", "Bernstrasse", "18", "3110", "Münsingen", "CHE-176.031.370", "30790",
                     "507731852", "Urs Stettler", "bestellung@metzgerei-aaretal.example", "+41 31 721 14 56",
                     (GOODS,), "Fleisch- und Wurstwaren", REDUCED, role="Viandes et charcuterie"),
        DemoSupplier("Eventpersonal Bern GmbH", "Laupenstrasse", "10", "3008", "Bern", "CHE-281.590.138", "00790",
                     "633190477", "Nicole Zürcher", "einsatz@eventpersonal-bern.example", "+41 31 382 60 60",
                     (SUBCONTRACTING,), "Servicepersonal für Anlässe", role="Personnel de service",
                     reference_type=SCOR),
        DemoSupplier("Immobilien Weyermannshaus AG", "Murtenstrasse", "145", "3008", "Bern", "CHE-962.459.576",
                     "00790", "148820593", "Peter Moser", "verwaltung@weyermannshaus-immo.example", "+41 31 992 45 00",
                     (PREMISES,), "Miete Produktionsküche, Quartal", EXEMPT, amount="7800.00"),
        DemoSupplier("Gemüse Seeland Genossenschaft", "Hauptstrasse", "22", "3232", "Ins", "CHE-117.777.416",
                     "80808", "290046615", "Barbara Schwab", "verkauf@gemuese-seeland.example", "+41 32 313 22 70",
                     (GOODS,), "Gemüse und Früchte", REDUCED, amount="940.00", reference_type=SCOR),
        DemoSupplier("Weinkellerei Bielersee AG", "Dorfgasse", "9", "2513", "Twann", "CHE-215.472.805", "00790",
                     "771208346", "Hans Teutsch", "keller@weinkellerei-bielersee.example", "+41 32 315 11 86",
                     (GOODS,), "Weine vom Bielersee", amount="1680.00"),
    ),
}  # fmt: skip


class Bill(NamedTuple):
    """An invoice of one of a company's general suppliers (its third to fifth), dated days back from today."""

    supplier: int
    days_ago: int
    status: str
    # Of the supplier's usual amount.
    share: str = "1.00"


# Due 30 days after their date, the open ones fall in every ageing bucket: not due, and 1-30, 31-60, 61-90
# and over 90 days overdue (each bill is moved back 0 to 3 more days).
GENERAL_BILLS = (
    Bill(2, 92, PAID), Bill(2, 2, SCHEDULED),
    Bill(3, 240, PAID, "1.15"), Bill(3, 140, DISPUTED, "1.35"), Bill(3, 105, TO_APPROVE, "0.80"),
    Bill(3, 1, DRAFT, "1.10"),
    Bill(4, 160, REJECTED, "1.20"), Bill(4, 75, APPROVED, "0.95"), Bill(4, 42, APPROVED),
)  # fmt: skip
SUPPLIER_PAYMENT_DAYS = 30
# How suppliers number their invoices.
SUPPLIER_NUMBER_STYLES = ("{year}-{n:04d}", "F{n:06d}", "RE-{year}-{n:05d}", "{year}{n:05d}", "{n}")
DISPUTE_REASON = "Quantités facturées supérieures au bon de livraison signé"
REJECTION_REASON = "Facture adressée à la mauvaise société du groupe"
DEVIATION_OVERRIDE_REASON = "Travaux supplémentaires demandés par le client sur place, confirmés par écrit"

ZERO = Decimal("0.00")
CENTIME = Decimal("0.01")


def in_language(text: Text, language: str) -> str:
    return text[1] if language == Language.GERMAN else text[0]


def to_tens(amount: Decimal) -> Decimal:
    """Providers quote round tens of francs."""
    return (amount / 10).quantize(Decimal(1)) * 10


def ascii_slug(name: str) -> str:
    """'Décorvet' -> 'decorvet', for e-mail addresses."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().replace(" ", "-")


@dataclass
class Deal:
    """A quote and the invoices and project it leads to, filled in as the year is replayed."""

    client: Client
    story: Story
    quote: Quote | None = None
    deposit: Invoice | None = None
    closing: Invoice | None = None
    # The model, not this module's Project (what a company sells).
    project: ProjectRecord | None = None
    # The day of the replay the project started: signed, and its deposit paid where one is due.
    started_on: date | None = None


@dataclass
class SupplierAccount:
    """The company's account at a supplier: how they number their invoices, and its number in their references."""

    supplier: Supplier
    row: DemoSupplier
    number_style: str
    last_number: int
    customer_number: str


class Purchase(NamedTuple):
    """A supplier invoice to enter: all are gathered first, then entered in date order."""

    invoice_date: date
    account: SupplierAccount
    net_amount: Decimal
    status: str
    project: ProjectRecord | None = None


# Enquiries of the last days: (hours ago, first name, last name, organisation, language, budget, message).
DEMO_LEADS = (
    (75, "Nadia", "Perret", "Hôtel du Lac", "fr", "18000", "Nous aimerions des écrans dans le hall et au bar."),
    (30, "Jonas", "Meier", "Meier Sport AG", "de", "9500", "Offerte für eine Anzeige im Schaufenster, bitte."),
    (2, "Chloé", "Baud", "Cave Baud", "fr", "4000", "Un devis pour notre salon des vins en mars ?"),
)
DEMO_LEAD_TYPES = {
    "HV": ProjectType.DIGITAL_SIGNAGE, "DA": ProjectType.SOFTWARE, "LX": ProjectType.LEGAL,
    "ER": ProjectType.REAL_ESTATE, "TO": ProjectType.FOOD_SERVICE,
}  # fmt: skip


class CompanyYear:
    """Replay a year of one company's sales day by day, so that every number follows its date; then take its
    projects and purchases to where the year leaves them."""

    def __init__(
        self, *, company: Company, seller: AbstractBaseUser, bookkeeper: AbstractBaseUser, clerk: AbstractBaseUser,
        approver: AbstractBaseUser, today: date,
    ):  # fmt: skip
        self.company, self.seller, self.bookkeeper, self.today = company, seller, bookkeeper, today
        # Supplier invoices are entered by the clerk and approved by someone else (four eyes).
        self.clerk, self.approver = clerk, approver
        self.rng = random.Random(company.code)  # noqa: S311 - reproducible demo data, not a secret
        rules = DEMO_DEPOSIT_RULES[company.code]
        self.types_without_deposit = {project_type for project_type, percent, *_ in rules if Decimal(percent) == 0}

    def seed(self) -> None:
        for project_type, percent, min_quote_total, due_days in DEMO_DEPOSIT_RULES[self.company.code]:
            deposit_rule_save(
                company=self.company, saved_by=self.bookkeeper, project_type=project_type, percent=Decimal(percent),
                min_quote_total=Decimal(min_quote_total), due_days=due_days,
            )  # fmt: skip
        clients = [self.client_create(row) for row in DEMO_CLIENTS[self.company.code]]
        # Every client gets a quote before any gets a second one.
        rotation = self.rng.sample(clients, len(clients))
        steps, deals = [], []
        for story_number, story in enumerate(QUOTE_STORIES):
            deal = Deal(client=rotation[story_number % len(rotation)], story=story)
            deals.append(deal)
            for position, (day, action) in enumerate(self.plan(deal, story)):
                steps.append((day, position, story_number, deal.client.language, action))
        for *_order, language, action in sorted(steps, key=lambda step: step[:3]):
            # Titles the services write (deposit, balance, credit note) read in the client's language.
            with translation.override(language):
                action()
        projects = [deal for deal in deals if deal.project is not None]
        for deal in projects:
            self.project_follow(deal)
        accounts = [self.supplier_create(row) for row in DEMO_SUPPLIERS[self.company.code]]
        purchases = [purchase for deal in projects for purchase in self.project_works(deal, accounts)]
        purchases += [self.general_bill(bill, accounts[bill.supplier]) for bill in GENERAL_BILLS]
        # In date order, so that each supplier's invoice numbers follow their dates.
        for purchase in sorted(purchases, key=lambda purchase: purchase.invoice_date):
            self.supplier_invoice(purchase)
        self.leads()

    def leads(self) -> None:
        """This week's enquiries: one answered and owned, one nobody answered for over a day, one just in."""
        now = timezone.now()
        for index, (hours_ago, first_name, last_name, organisation, language, budget, message) in enumerate(DEMO_LEADS):
            domain, mailbox = (
                unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "-")
                for text in (organisation, first_name)
            )
            data = LeadInput(
                source=(Lead.Source.WEBSITE, Lead.Source.PHONE, Lead.Source.WEBSITE)[index % 3],
                first_name=first_name, last_name=last_name, organisation=organisation,
                email=f"{mailbox}@{domain}-{self.company.code.lower()}.ch",
                language=language, project_type=DEMO_LEAD_TYPES[self.company.code], budget=Decimal(budget),
                event_date=self.today + timedelta(days=45 + 15 * index), message=message,
            )  # fmt: skip
            lead, _created = lead_receive(company=self.company, data=data, actor=None,
                                          now=now - timedelta(hours=hours_ago))  # fmt: skip
            if hours_ago > 48:
                lead_owner_set(lead=lead, owner=self.seller, actor=self.seller)
                lead_mark_answered(lead=lead, actor=self.seller)

    # --- Parties --------------------------------------------------------------------------------

    def client_create(self, row: DemoClient) -> Client:
        fields = row._asdict()
        del fields["phone_prefix"]
        client = client_create(company=self.company, created_by=self.seller, **fields)
        if row.kind == Client.Kind.PERSON:
            contact_create(client=client, created_by=self.seller, name=row.name, email=row.email, phone=self.phone(row))
            return client
        language = Language.GERMAN if row.language == Language.GERMAN else Language.FRENCH
        first_names = self.rng.sample(CONTACT_FIRST_NAMES[language], self.rng.choice((1, 2)))
        roles = self.rng.sample(CONTACT_ROLES[language], len(first_names))
        domain = row.email.split("@")[1]
        for first_name, role in zip(first_names, roles, strict=True):
            last_name = self.rng.choice(CONTACT_LAST_NAMES[language])
            contact_create(
                client=client, created_by=self.seller, name=f"{first_name} {last_name}", role=role,
                email=f"{ascii_slug(first_name)}.{ascii_slug(last_name)}@{domain}", phone=self.phone(row),
            )  # fmt: skip
        return client

    def phone(self, row: DemoClient) -> str:
        digits = "".join(
            str(self.rng.randint(1 if position == 0 else 0, 9)) if char == "#" else char
            for position, char in enumerate(PHONE_LAYOUTS[row.country])
        )
        return f"{row.phone_prefix} {digits}"

    # --- The plan of one quote ------------------------------------------------------------------

    def plan(self, deal: Deal, story: Story) -> list[tuple[date, Callable[[], None]]]:
        """The dated steps of a story; drawn now so the random sequence never depends on the replay."""
        shift = self.rng.randint(0, 3)

        def days_ago(days: int) -> date:
            return self.today - timedelta(days=days + shift)

        quote_date = days_ago(story.days_ago)
        projects = DEMO_PROJECTS[self.company.code]
        if story.signed_days_ago is not None:
            projects = [p for p in projects if (p.project_type in self.types_without_deposit) != story.with_deposit]
        project = self.rng.choice(projects)
        steps = [(quote_date, partial(self.quote_open, deal, project, quote_date, self.lines(project, deal.client)))]
        if story.status == Quote.Status.DRAFT:
            return steps
        steps.append((quote_date, partial(self.quote_send, deal)))
        if story.viewed:
            steps.append((quote_date + timedelta(days=1), partial(self.quote_view, deal)))
        if story.status == Quote.Status.REJECTED:
            steps.append((self.later(quote_date, 4, 12), partial(self.quote_reject, deal)))
        if story.signed_days_ago is not None:
            signed_on = days_ago(story.signed_days_ago)
            steps.append((signed_on, partial(self.quote_sign, deal, signed_on)))
            if story.with_deposit:
                steps.append((signed_on, partial(self.invoice_deposit, deal, signed_on, story.deposit_redrafted)))
                steps.extend(self.settlement_steps(deal, "deposit", story.deposit, issued_on=signed_on))
        if story.closing_days_ago is not None:
            closing_on = days_ago(story.closing_days_ago)
            steps.append((closing_on, partial(self.invoice_closing, deal, closing_on)))
            steps.extend(self.settlement_steps(deal, "closing", story.closing, issued_on=closing_on))
        return steps

    def settlement_steps(
        self, deal: Deal, which: str, settlement: Settlement, *, issued_on: date
    ) -> list[tuple[date, Callable[[], None]]]:
        if settlement == Settlement.UNPAID:
            return []
        first_on = self.later(issued_on, 3, 20)
        # When the money arrives after a returned transfer or a credit note.
        then_on = self.later(first_on, 5, 15)
        return [(first_on, partial(self.settle, deal, which, settlement, first_on, then_on))]

    def later(self, start: date, low: int, high: int) -> date:
        return min(start + timedelta(days=self.rng.randint(low, high)), self.today)

    def lines(self, project: Project, client: Client) -> list[LineInput]:
        chosen = [project.main, *self.rng.sample(project.extras, self.rng.randint(0, min(3, len(project.extras))))]
        exported = client.country != "CH" and self.company.code in EXPORT_EXEMPT_COMPANIES
        # A tenth of the quotes give 10 % off the main line, as negotiated deals do.
        main_discount = Decimal("10") if self.rng.random() < 0.1 else ZERO
        return [
            LineInput(
                description=in_language(line.text, client.language), unit=in_language(line.unit, client.language),
                quantity=Decimal(self.rng.choice(line.quantities)), unit_price=Decimal(line.unit_price),
                vat_code=EXEMPT if exported else line.vat_code,
                discount_percent=main_discount if line is project.main else ZERO,
            )
            for line in chosen
        ]  # fmt: skip

    # --- Steps ----------------------------------------------------------------------------------

    def quote_open(self, deal: Deal, project: Project, quote_date: date, lines: list[LineInput]) -> None:
        # Clients abroad are quoted in euros.
        currency = self.company.currency if deal.client.country == "CH" else Currency.EUR
        quote = quote_create(
            client=deal.client, title=in_language(project.title, deal.client.language), quote_date=quote_date,
            valid_until=quote_date + timedelta(days=QUOTE_VALIDITY_DAYS), project_type=project.project_type,
            currency=currency, created_by=self.seller,
        )  # fmt: skip
        deal.quote = quote_lines_replace(quote=quote, lines=lines, edited_by=self.seller)

    def quote_send(self, deal: Deal) -> None:
        deal.quote = quote_send(quote=deal.quote, sent_by=self.seller)
        if deal.story.project is not None:
            deal.project = project_create_from_quote(quote=deal.quote, created_by=self.seller, manager=self.seller)

    def quote_view(self, deal: Deal) -> None:
        # Views and signatures come from the client through the providers, not from a user.
        deal.quote = quote_mark_viewed(quote=deal.quote, actor=None)

    def quote_reject(self, deal: Deal) -> None:
        deal.quote = quote_reject(quote=deal.quote, actor=self.seller)

    def quote_sign(self, deal: Deal, signed_on: date) -> None:
        deal.quote = quote_mark_signed(quote=deal.quote, actor=None)
        self.note_start(deal, signed_on)

    def note_start(self, deal: Deal, on: date) -> None:
        """Remember the day the services started the project (at signature without deposit, else when paid)."""
        if deal.project is None or deal.started_on is not None:
            return
        deal.project.refresh_from_db()
        if deal.project.status == Stage.DEPOSIT_RECEIVED:
            deal.started_on = on

    def invoice_deposit(self, deal: Deal, issued_on: date, redraft: bool) -> None:
        if redraft:
            draft = invoice_create_deposit(quote=deal.quote, created_by=self.bookkeeper)
            invoice_cancel_draft(invoice=draft, cancelled_by=self.bookkeeper)
        deposit = invoice_create_deposit(quote=deal.quote, created_by=self.bookkeeper)
        deal.deposit = invoice_issue(invoice=deposit, issued_by=self.bookkeeper, issue_date=issued_on)

    def invoice_closing(self, deal: Deal, issued_on: date) -> None:
        if deal.deposit is None:
            closing = invoice_create_full(quote=deal.quote, created_by=self.bookkeeper)
        else:
            closing = invoice_create_balance(quote=deal.quote, created_by=self.bookkeeper)
        deal.closing = invoice_issue(invoice=closing, issued_by=self.bookkeeper, issue_date=issued_on)

    def settle(self, deal: Deal, which: str, settlement: Settlement, on: date, then_on: date) -> None:
        invoice = getattr(deal, which)
        language = deal.client.language
        due = invoice_balance_due(invoice)
        if settlement == Settlement.PAID:
            self.pay(invoice, on, amount=due)
        elif settlement == Settlement.PARTIALLY_PAID:
            self.pay(invoice, on, amount=(due / 2 // 10 * 10).quantize(CENTIME))
        elif settlement == Settlement.OVERPAID:
            # The client rounds up to the next thousand.
            self.pay(invoice, on, amount=((due // 1000 + 1) * 1000).quantize(CENTIME), allocate=due)
        elif settlement == Settlement.RETURNED_THEN_PAID:
            returned = self.pay(invoice, on, amount=due)
            payment_undo(payment=returned, undone_by=self.bookkeeper)
            self.pay(invoice, then_on, amount=due)
        elif settlement == Settlement.CREDITED_IN_FULL:
            note = credit_note_create(
                invoice=invoice, created_by=self.bookkeeper, reason=in_language(CREDIT_IN_FULL_REASON, language)
            )
            invoice_issue(invoice=note, issued_by=self.bookkeeper, issue_date=on)
        elif settlement == Settlement.CREDITED_IN_PART:
            goodwill = (invoice.payable_total / 10 // 10 * 10).quantize(CENTIME)
            note = credit_note_create(
                invoice=invoice, created_by=self.bookkeeper, reason=in_language(GOODWILL_REASON, language),
                amount=goodwill,
            )  # fmt: skip
            invoice_issue(invoice=note, issued_by=self.bookkeeper, issue_date=on)
            self.pay(invoice, then_on, amount=invoice_balance_due(invoice))
        self.note_start(deal, on)

    def pay(self, invoice: Invoice, on: date, *, amount: Decimal, allocate: Decimal | None = None) -> Payment:
        return payment_record(
            client=invoice.client, received_on=on, amount=amount, currency=invoice.currency,
            method=Payment.Method.BANK_TRANSFER, reference=invoice.qr_reference,
            allocations=[(invoice, amount if allocate is None else allocate)], recorded_by=self.bookkeeper,
        )  # fmt: skip

    # --- Projects -------------------------------------------------------------------------------

    def project_follow(self, deal: Deal) -> None:
        """Take the project to where its story ends: the services brought it as far as its quote and deposit."""
        stage = deal.story.project
        if deal.started_on is not None:
            self.milestones_follow(deal)
            stopped_at = WORK_STOPPED_AT.get(stage, stage)
            while deal.project.status != stopped_at:
                deal.project = project_advance(project=deal.project, advanced_by=self.seller)
        if stage == Stage.INSTALLING:
            title, days, share = EXTRA_MILESTONES[self.company.code]
            milestone_save(
                project=deal.project, saved_by=self.seller, title=title, due_date=self.today + timedelta(days=days),
                billable_amount=to_tens(deal.project.budget * Decimal(share)),
            )  # fmt: skip
        elif stage == Stage.ON_HOLD:
            deal.project = project_hold(project=deal.project, held_by=self.seller, reason=HOLD_REASON)
        elif stage == Stage.CANCELLED:
            deal.project = project_cancel(project=deal.project, cancelled_by=self.seller, reason=CANCEL_REASON)

    def milestones_follow(self, deal: Deal) -> None:
        """Date the milestones from the day the project started and mark done those its stage has passed.

        The services dated them from the real day of activation; a project invoiced in full ran its plan
        between its start and that invoice, so those left open are late.
        """
        project = deal.project
        activated_on = timezone.localtime(project.activated_at).date()
        milestones = list(project.milestones.all())
        offsets = [(milestone.due_date - activated_on).days for milestone in milestones]
        span = offsets[-1] if deal.closing is None else (deal.closing.issue_date - deal.started_on).days
        done = milestones[: MILESTONES_DONE[deal.story.project]]
        for milestone, offset in zip(milestones, offsets, strict=True):
            due_date = deal.started_on + timedelta(days=offset * span // offsets[-1])
            fields, done_on = {"due_date": due_date}, None
            if milestone in done:
                fields["status"] = Milestone.Status.DONE
                done_on = min(max(due_date + timedelta(days=self.rng.randint(-2, 3)), deal.started_on), self.today)
            elif deal.story.project == Stage.CANCELLED:
                fields["status"] = Milestone.Status.CANCELLED
            milestone_save(project=project, saved_by=self.seller, milestone=milestone, today=done_on, **fields)

    # --- Purchases ------------------------------------------------------------------------------

    def supplier_create(self, row: DemoSupplier) -> SupplierAccount:
        iban = IBAN.generate(row.country, bank_code=row.bank_code, account_code=row.account)
        supplier = supplier_create(
            company=self.company, created_by=self.clerk, name=row.name, street=row.street,
            building_number=row.building_number, postal_code=row.postal_code, town=row.town, country=row.country,
            che_uid=row.che_uid, iban=iban.compact, currency=row.currency, contact_name=row.contact_name,
            email=row.email, phone=row.phone, categories=list(row.categories),
        )  # fmt: skip
        return SupplierAccount(
            supplier=supplier, row=row, number_style=self.rng.choice(SUPPLIER_NUMBER_STYLES),
            last_number=self.rng.randint(100, 3000), customer_number=str(self.rng.randint(100000, 999999)),
        )  # fmt: skip

    def project_works(self, deal: Deal, accounts: list[SupplierAccount]) -> list[Purchase]:
        """Assign the project's providers; their invoices, spread over the work, are entered later in date order."""
        purchases = []
        # Work the client was invoiced for in full ended with that invoice; the rest is still under way.
        ends_on = self.today if deal.closing is None else deal.closing.issue_date
        for work in deal.story.works:
            account = accounts[work.provider]
            agreed = to_tens(deal.project.budget * Decimal(work.share))
            accepted_on = min(deal.started_on + timedelta(days=self.rng.randint(1, 4)), self.today)
            assignment_save(
                project=deal.project, saved_by=self.seller, supplier=account.supplier, role=account.row.role,
                agreed_amount=agreed, quote_reference=f"{accepted_on.year}-{self.rng.randint(100, 999)}",
                accepted_on=accepted_on,
            )  # fmt: skip
            days = max((ends_on - accepted_on).days, 0)
            for number, (share, status) in enumerate(work.invoices, start=1):
                invoice_date = accepted_on + timedelta(days=days * number // (len(work.invoices) + 1))
                net_amount = (agreed * Decimal(share)).quantize(CENTIME)
                purchases.append(Purchase(invoice_date, account, net_amount, status, deal.project))
        return purchases

    def general_bill(self, bill: Bill, account: SupplierAccount) -> Purchase:
        invoice_date = self.today - timedelta(days=bill.days_ago + self.rng.randint(0, 3))
        net_amount = (Decimal(account.row.amount) * Decimal(bill.share)).quantize(CENTIME)
        return Purchase(invoice_date, account, net_amount, bill.status)

    def supplier_invoice(self, purchase: Purchase) -> None:
        """Enter the invoice as the supplier sent it, then take it through approval to its status."""
        account, row, project = purchase.account, purchase.account.row, purchase.project
        account.last_number += self.rng.randint(3, 40)
        number = account.number_style.format(year=purchase.invoice_date.year, n=account.last_number)
        if account.supplier.has_qr_iban:
            reference_type = SupplierInvoice.ReferenceType.QRR
            reference = qr_reference(f"{account.customer_number}{account.last_number:08d}")
        elif row.reference_type == SCOR:
            reference_type, reference = SCOR, creditor_reference(f"{account.customer_number}{account.last_number}")
        else:
            # Without a structured reference, suppliers ask for their invoice number as the message.
            reference_type, reference = SupplierInvoice.ReferenceType.NON, number
        due_date = purchase.invoice_date + timedelta(days=SUPPLIER_PAYMENT_DAYS)
        description = row.work if project is None else f"{row.work} – {project.name}"
        invoice = supplier_invoice_create(
            supplier=account.supplier, created_by=self.clerk,
            lines=[SupplierLineInput(net_amount=purchase.net_amount, vat_code=row.vat_code, description=description)],
            supplier_number=number, invoice_date=purchase.invoice_date, due_date=due_date, project=project,
            # Providers invoice in the project's currency, so that its margin compares like with like.
            currency=account.supplier.currency if project is None else project.currency,
            reference_type=reference_type, payment_reference=reference,
        )  # fmt: skip
        if purchase.status == DRAFT:
            return
        invoice = supplier_invoice_submit(invoice=invoice, submitted_by=self.clerk)
        if purchase.status == REJECTED:
            supplier_invoice_reject(invoice=invoice, rejected_by=self.approver, reason=REJECTION_REASON)
        elif purchase.status == DISPUTED:
            supplier_invoice_dispute(invoice=invoice, disputed_by=self.approver, reason=DISPUTE_REASON)
        elif purchase.status != TO_APPROVE:
            deviation = supplier_invoice_deviation(invoice)
            override_reason = DEVIATION_OVERRIDE_REASON if deviation is not None and deviation.blocks else ""
            invoice = supplier_invoice_approve(
                invoice=invoice, approved_by=self.approver, override_reason=override_reason
            )
            if purchase.status in (SCHEDULED, PAID):
                invoice = supplier_invoice_schedule(invoice=invoice, scheduled_by=self.clerk)
            if purchase.status == PAID:
                paid_on = min(due_date - timedelta(days=self.rng.randint(0, 8)), self.today)
                supplier_invoice_mark_paid(invoice=invoice, paid_by=self.clerk, paid_on=paid_on)


class Command(BaseCommand):
    help = (
        "Seed the demo group (companies, users, and a year of quotes, invoices, payments, projects, suppliers "
        "and their invoices). "
        "With --if-empty, only on a database without companies."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if any company exists.")

    def handle(self, *args, if_empty: bool = False, **options) -> None:
        if Company.objects.exists():
            if not if_empty:
                self.stderr.write("Companies already exist: the demo seed only fills an empty database.")
                raise SystemExit(1)
            self.stdout.write("Database already holds companies: demo seed skipped.")
        else:
            self.seed(password=settings.HV_DEMO_PASSWORD, today=timezone.localdate())
            self.stdout.write(self.style.SUCCESS(f"Demo group seeded: {len(DEMO_COMPANIES)} companies."))
            self.stdout.write(
                f"  {Client.objects.count()} clients, {Quote.objects.count()} quotes, "
                f"{Invoice.objects.count()} invoices, {Payment.objects.count()} payments."
            )
            self.stdout.write(
                f"  {Supplier.objects.count()} suppliers, {SupplierInvoice.objects.count()} supplier invoices, "
                f"{ProjectRecord.objects.count()} projects."
            )
        self.print_logins()

    @transaction.atomic
    def seed(self, *, password: str, today: date) -> None:
        companies = {data["code"]: company_create(created_by=None, **data) for data in DEMO_COMPANIES}
        ceo = user_create(username=CEO_USERNAME, password=password, first_name="Camille", last_name="Favre")
        for company in companies.values():
            membership_grant(user=ceo, company=company, role=Role.CEO, granted_by=None)
        username, first_name, last_name, codes = GROUP_ACCOUNTANT
        accountant = user_create(username=username, password=password, first_name=first_name, last_name=last_name)
        for code in codes:
            membership_grant(user=accountant, company=companies[code], role=Role.FINANCE, granted_by=None)
        for username, first_name, last_name, code, role in DEMO_STAFF:
            user = user_create(username=username, password=password, first_name=first_name, last_name=last_name)
            membership_grant(user=user, company=companies[code], role=role, granted_by=None)
            # Staff who may not sell or keep the books leave that to the CEO.
            CompanyYear(
                company=companies[code],
                seller=user if role in (Role.FINANCE, Role.SALES) else ceo,
                bookkeeper=user if role == Role.FINANCE else ceo,
                clerk=user if role == Role.FINANCE else accountant,
                approver=ceo,
                today=today,
            ).seed()
        # The demo's CEO and finance sign in with a second factor like everyone in those roles: a known key.
        for user in get_user_model().objects.filter(memberships__role__in=SECOND_FACTOR_ROLES).distinct():
            demo_totp_device_set(user, hex_key=settings.HV_DEMO_TOTP_KEY)
        # The daily run that expires quotes left unanswered, caught up for the whole year.
        quotes_expire(today=today)
        # This history happened before the Hub ran: its signed quotes were invoiced and its clients told when
        # their projects started back then, so the follow-ups the seed's signatures queued are closed, not run.
        action_runs_cancel_queued(
            action_names=[DEPOSIT_ACTION, ACKNOWLEDGEMENT_ACTION], reason="Demo history: done before the Hub."
        )

    def print_logins(self) -> None:
        demo_usernames = [CEO_USERNAME, *(username for username, *_ in DEMO_STAFF), GROUP_ACCOUNTANT[0]]
        memberships = Membership.objects.filter(user__username__in=demo_usernames).select_related("user", "company")
        if not memberships:
            return
        self.stdout.write(f"Demo logins (password: {settings.HV_DEMO_PASSWORD}):")
        for username in demo_usernames:
            mine = [m for m in memberships if m.user.username == username]
            if mine:
                where = "all companies" if mine[0].role == Role.CEO else ", ".join(m.company.code for m in mine)
                self.stdout.write(f"  {username:<15} {mine[0].get_role_display():<12} {where}")
        if settings.HV_MFA_REQUIRED:
            key = base64.b32encode(bytes.fromhex(settings.HV_DEMO_TOTP_KEY)).decode()
            self.stdout.write(f"Second factor of the CEO and finance logins: add the key {key} to an authenticator app")
            self.stdout.write('  (TOTP, 6 digits, 30 s), or print the current code: make manage ARGS="demo_totp_code"')
