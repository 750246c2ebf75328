"""Connect every company to the Mautic sandbox, over HTTP, as a person would: the reminder templates
are created in Mautic, the connection saved, tested and its webhook registered, and the company's
dunning levels pointed at the templates."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from finance.models import Company, DunningText
from finance.services.dunning import dunning_policy_ensure
from integrations import connections, mautic, selectors
from integrations.models import MAUTIC_AUTH_BASIC, Provider
from sandbox import mautic as sandbox_mautic
from sandbox.management.demo import demo_ceo

# What a finance team writes in Mautic once: one template e-mail per level and language, with the Hub's tokens.
SUBJECTS = {
    "fr": "{reminder_name} – facture {invoice_number}",
    "de": "{reminder_name} – Rechnung {invoice_number}",
    "en": "{reminder_name} – invoice {invoice_number}",
    "it": "{reminder_name} – fattura {invoice_number}",
}
BODIES = {
    "fr": "<p>Bonjour,</p><p>Notre facture {invoice_number} échue le {due_date} reste impayée depuis {days_late} "
    "jours. Montant dû : <strong>{amount_due}</strong> (dont frais {fees} et intérêts {interest}).</p>"
    '<p><a href="{qr_bill_url}">Rappel et QR-facture (PDF)</a></p><p>{company_name}</p>',
    "de": "<p>Guten Tag</p><p>Unsere Rechnung {invoice_number}, fällig am {due_date}, ist seit {days_late} Tagen "
    "offen. Offener Betrag: <strong>{amount_due}</strong> (inkl. Gebühren {fees} und Zins {interest}).</p>"
    '<p><a href="{qr_bill_url}">Mahnung mit QR-Rechnung (PDF)</a></p><p>{company_name}</p>',
    "en": "<p>Hello,</p><p>Our invoice {invoice_number}, due on {due_date}, has been unpaid for {days_late} days. "
    "Amount due: <strong>{amount_due}</strong> (fees {fees}, interest {interest}).</p>"
    '<p><a href="{qr_bill_url}">Reminder and QR-bill (PDF)</a></p><p>{company_name}</p>',
    "it": "<p>Buongiorno,</p><p>La nostra fattura {invoice_number}, scaduta il {due_date}, è insoluta da {days_late} "
    "giorni. Importo dovuto: <strong>{amount_due}</strong> (spese {fees}, interessi {interest}).</p>"
    '<p><a href="{qr_bill_url}">Richiamo e QR-fattura (PDF)</a></p><p>{company_name}</p>',
}


# The "project started" e-mail (W1's acknowledgement), one template per language.
ACKNOWLEDGEMENT_SUBJECTS = {
    "fr": "Votre projet {project} démarre",
    "de": "Ihr Projekt {project} startet",
    "en": "Your project {project} is starting",
    "it": "Il vostro progetto {project} inizia",
}
ACKNOWLEDGEMENT_BODIES = {
    "fr": "<p>Bonjour,</p><p>Merci pour votre signature de l'offre {quote_number} et pour votre acompte de "
    "{amount_received}. Votre projet <strong>{project}</strong> démarre : prochaine étape {next_milestone}.</p>"
    "<p>Votre interlocuteur : {contact_person}</p><p>{company_name}</p>",
    "de": "<p>Guten Tag</p><p>Vielen Dank für Ihre Unterschrift der Offerte {quote_number} und Ihre Anzahlung von "
    "{amount_received}. Ihr Projekt <strong>{project}</strong> startet: nächster Schritt {next_milestone}.</p>"
    "<p>Ihre Ansprechperson: {contact_person}</p><p>{company_name}</p>",
    "en": "<p>Hello,</p><p>Thank you for signing quote {quote_number} and for your deposit of {amount_received}. "
    "Your project <strong>{project}</strong> is starting: next step {next_milestone}.</p>"
    "<p>Your contact: {contact_person}</p><p>{company_name}</p>",
    "it": "<p>Buongiorno,</p><p>Grazie per aver firmato l'offerta {quote_number} e per l'acconto di "
    "{amount_received}. Il vostro progetto <strong>{project}</strong> inizia: prossima tappa {next_milestone}.</p>"
    "<p>Il vostro referente: {contact_person}</p><p>{company_name}</p>",
}


def acknowledgement_templates_ensure(connection, username: str, ceo) -> None:
    """The "project started" template e-mails a finance team writes once, chosen on the Mautic page."""
    if mautic.acknowledgement_emails(connection):
        return
    company = connection.company
    emails = {
        language: sandbox_mautic.ensure_template_email(
            username, name=f"{company.code} project started ({language})", subject=subject,
            body=ACKNOWLEDGEMENT_BODIES[language], language=language,
        )
        for language, subject in ACKNOWLEDGEMENT_SUBJECTS.items()
    }  # fmt: skip
    mautic.acknowledgement_emails_save(connection=connection, emails=emails, updated_by=ceo)


class Command(BaseCommand):
    help = "Demo mode: reminder templates, connection test and webhook for every company (Mautic sandbox)."

    def handle(self, *args, **options) -> None:
        ceo = demo_ceo()
        for company in Company.objects.order_by("code"):
            existing = selectors.connection_get(company, Provider.MAUTIC)
            if existing is not None and selectors.connection_status(existing).usable:
                acknowledgement_templates_ensure(existing, existing.config.get("username", ""), ceo)
                self.stdout.write(f"  {company.code}: already connected")
                continue
            # The API user a person would create in Mautic and type into the Hub.
            username, password = f"hv-demo-{company.code.lower()}", f"hv-demo-{company.code.lower()}-password"
            sandbox_mautic.ensure_instance(username, password, name=company.name)
            policy = dunning_policy_ensure(company)
            for level in policy.levels.all():
                for language, subject in SUBJECTS.items():
                    email_id = sandbox_mautic.ensure_template_email(
                        username, name=f"{company.code} {level.level}. {level.name} ({language})", subject=subject,
                        body=BODIES[language], language=language,
                    )  # fmt: skip
                    DunningText.objects.update_or_create(level=level, language=language,
                                                         defaults={"mautic_email_id": email_id})  # fmt: skip
            connection = mautic.settings_save(
                company=company, base_url=f"{settings.HV_PUBLIC_URL}/sandbox/mautic", auth_method=MAUTIC_AUTH_BASIC,
                username=username, password=password, client_id="", client_secret="", updated_by=ceo,
            )  # fmt: skip
            connection = connections.connection_probe(connection)
            if not connection.last_probe_ok:
                raise CommandError(f"{company.code}: {connection.last_probe_detail}")
            mautic.webhooks_register(connection=connection, registered_by=ceo)
            acknowledgement_templates_ensure(connection, username, ceo)
            self.stdout.write(f"  {company.code}: connected to the Mautic sandbox ({username})")
