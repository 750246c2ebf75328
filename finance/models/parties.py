from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from finance import identifiers
from hypervisual.constraints import ChecksInOneQuery


class Language(models.TextChoices):
    FRENCH = "fr", _("French")
    GERMAN = "de", _("German")
    ENGLISH = "en", _("English")
    ITALIAN = "it", _("Italian")


class Client(ChecksInOneQuery):
    """Someone a company sells to: an organisation or a person, with the address QR-bills require."""

    class Kind(models.TextChoices):
        ORGANISATION = "organisation", _("Organisation")
        PERSON = "person", _("Person")

    company = models.ForeignKey("finance.Company", on_delete=models.PROTECT, related_name="clients")
    kind = models.CharField(
        _("kind"), max_length=16, choices=Kind.choices, default=Kind.ORGANISATION, db_default=Kind.ORGANISATION
    )
    name = models.CharField(_("name"), max_length=70, help_text=_("As printed on documents and QR-bills."))
    street = models.CharField(_("street"), max_length=70)
    building_number = models.CharField(_("building number"), max_length=16, blank=True, default="", db_default="")
    postal_code = models.CharField(_("postal code"), max_length=16)
    town = models.CharField(_("town"), max_length=35)
    country = models.CharField(_("country"), max_length=2, default="CH", db_default="CH")
    che_uid = models.CharField(_("UID"), max_length=15, blank=True, default="", db_default="")
    email = models.EmailField(_("e-mail"), blank=True, default="", db_default="")
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.FRENCH, db_default=Language.FRENCH
    )
    payment_terms_days = models.PositiveSmallIntegerField(
        _("payment terms (days)"), null=True, blank=True, help_text=_("Empty: the company's terms.")
    )
    invoice_ninja_id = models.CharField(_("Invoice Ninja id"), max_length=40, blank=True, default="", db_default="")
    # Invoice Ninja's contact id per e-mail address (lower case): an update must name every contact by its id.
    invoice_ninja_contacts = models.JSONField(_("Invoice Ninja contacts"), default=dict, db_default={}, blank=True)
    # The Mautic contact reminders go to: kept so that a changed address updates that contact, never a second.
    mautic_id = models.CharField(_("Mautic id"), max_length=32, blank=True, default="", db_default="")
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)
    updated_at = models.DateTimeField(_("updated"), db_default=Now(), editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        indexes = [models.Index(fields=["company", "name"], name="client_company_name")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["organisation", "person"]), name="client_kind_known"),
            models.CheckConstraint(condition=Q(language__in=Language.values), name="client_language_known"),
            models.CheckConstraint(condition=Q(country__regex=r"^[A-Z]{2}$"), name="client_country_iso"),
            models.CheckConstraint(
                condition=Q(che_uid="") | Q(che_uid__regex=r"^CHE-\d{3}\.\d{3}\.\d{3}$"), name="client_uid_format"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("finance:client-detail", kwargs={"pk": self.pk})

    def clean(self) -> None:
        """Normalise the UID and country; a Swiss address needs a four-digit postal code (QR-bill rule)."""
        errors = {}
        self.country = self.country.strip().upper()
        if self.che_uid:
            try:
                self.che_uid = identifiers.normalize_che_uid(self.che_uid)
            except ValidationError as error:
                errors["che_uid"] = error
        if self.country == "CH" and not (len(self.postal_code) == 4 and self.postal_code.isdigit()):
            errors["postal_code"] = ValidationError(_("A Swiss postal code has four digits, e.g. 1700."))
        if errors:
            raise ValidationError(errors)


class Contact(models.Model):
    """A person to write to at a client."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=120)
    email = models.EmailField(_("e-mail"), blank=True, default="", db_default="")
    phone = models.CharField(_("phone"), max_length=32, blank=True, default="", db_default="")
    role = models.CharField(_("role"), max_length=80, blank=True, default="", db_default="")
    mautic_id = models.CharField(_("Mautic id"), max_length=32, blank=True, default="", db_default="")
    created_at = models.DateTimeField(_("created"), db_default=Now(), editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return self.client.get_absolute_url()
