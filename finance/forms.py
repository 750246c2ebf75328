from decimal import Decimal

from django import forms
from django.contrib.auth.forms import PasswordChangeForm
from django.utils.translation import gettext_lazy as _

from finance.identifiers import format_iban
from finance.models import (
    AccountMap,
    Client,
    Company,
    Contact,
    Currency,
    DepositRule,
    DunningLevel,
    DunningPolicy,
    Invoice,
    InvoiceDunning,
    Lead,
    Milestone,
    Payment,
    Project,
    ProjectType,
    ProviderAssignment,
    Quote,
    Supplier,
    SupplierCategory,
    SupplierInvoice,
    VatCode,
)
from finance.services.companies import ACCOUNT_MAP_FIELDS, EDITABLE_FIELDS
from finance.services.parties import CLIENT_FIELDS, CONTACT_FIELDS, DEPOSIT_RULE_FIELDS
from finance.services.projects import ASSIGNMENT_FIELDS, PROJECT_FIELDS
from finance.services.purchases import SUPPLIER_FIELDS, SUPPLIER_INVOICE_FIELDS, SupplierLineInput


class TablerFormMixin:
    """Give every widget Tabler's classes, and mark fields with errors as invalid."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
                widget.attrs["aria-invalid"] = "true"


class CompanyForm(TablerFormMixin, forms.ModelForm):
    """A company's identity; IBANs are shown grouped by four, as printed on the company's papers."""

    net_tax_rate_2_project_types = forms.MultipleChoiceField(
        label=_("Project types at net tax rate 2"), choices=ProjectType.choices, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("iban", "qr_iban"):
            self.initial[name] = format_iban(self.initial.get(name) or "")
        self.fields["net_tax_rate_2_project_types"].widget.attrs["class"] = "form-check-input"

    class Meta:
        model = Company
        fields = EDITABLE_FIELDS
        widgets = {"colour": forms.TextInput(attrs={"type": "color", "class": "form-control-color"})}
        help_texts = {
            "iban": _("The account's ordinary IBAN, e.g. CH93 0076 2011 6238 5295 7."),
            "qr_iban": _("Optional. With a QR-IBAN, QR-bills carry a QR reference."),
        }


class AccountMapForm(TablerFormMixin, forms.ModelForm):
    class Meta:
        model = AccountMap
        fields = ACCOUNT_MAP_FIELDS


class TablerPasswordChangeForm(TablerFormMixin, PasswordChangeForm):
    pass


class SecondFactorCodeForm(TablerFormMixin, forms.Form):
    code = forms.CharField(
        label=_("Code"), max_length=16, strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
        help_text=_("The 6 digits your authenticator app shows, or one of your recovery codes."),
    )  # fmt: skip


class DateInput(forms.DateInput):
    """A native date picker; the browser shows it in the user's locale and posts ISO dates."""

    input_type = "date"

    def __init__(self, attrs=None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class ClientForm(TablerFormMixin, forms.ModelForm):
    """A client's identity; a new client also asks which company it buys from (when there is a choice)."""

    def __init__(self, *args, companies=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if companies is not None:
            self.fields["company"] = forms.ModelChoiceField(
                label=_("Company"), queryset=companies, initial=companies.first() if companies.count() == 1 else None,
                widget=forms.Select(attrs={"class": "form-select"}),
            )  # fmt: skip

    class Meta:
        model = Client
        fields = CLIENT_FIELDS
        help_texts = {"country": _("Two letters (ISO 3166), e.g. CH, FR, DE.")}


class ContactForm(TablerFormMixin, forms.ModelForm):
    class Meta:
        model = Contact
        fields = CONTACT_FIELDS


class DepositRuleForm(TablerFormMixin, forms.ModelForm):
    class Meta:
        model = DepositRule
        fields = DEPOSIT_RULE_FIELDS
        help_texts = {"project_type": _("Empty: the rule for every other project type.")}


class QuoteForm(TablerFormMixin, forms.ModelForm):
    """A quote's header; the client list is limited to the companies the user works for."""

    def __init__(self, *args, clients, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = clients
        self.fields["client"].label_from_instance = lambda client: f"{client.name} ({client.company.code})"

    class Meta:
        model = Quote
        fields = ("client", "title", "quote_date", "valid_until", "supply_from", "supply_to", "project_type",
                  "currency", "notes")  # fmt: skip
        widgets = {
            "quote_date": DateInput(),
            "valid_until": DateInput(),
            "supply_from": DateInput(),
            "supply_to": DateInput(),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }


class LineForm(TablerFormMixin, forms.Form):
    """One line of a quote as typed in the line editor."""

    description = forms.CharField(label=_("Description"), max_length=300)
    quantity = forms.DecimalField(label=_("Qty"), max_digits=12, decimal_places=3, min_value=Decimal("0.001"))
    unit = forms.CharField(label=_("Unit"), max_length=16, required=False)
    unit_price = forms.DecimalField(label=_("Unit price"), max_digits=12, decimal_places=2, min_value=0)
    discount_percent = forms.DecimalField(
        label=_("Discount %"), max_digits=5, decimal_places=2, min_value=0, max_value=100, initial=Decimal("0")
    )
    vat_code = forms.ChoiceField(label=_("VAT"), choices=VatCode.choices, initial=VatCode.STANDARD)


class BaseLineFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        super().clean()
        if not any(form.cleaned_data for form in self.forms if form.is_valid()):
            raise forms.ValidationError(_("A quote needs at least one line."))


# A quote longer than this is a mistake (or an attack on the line editor), not a quote.
MAX_LINES = 200
LineFormSet = forms.formset_factory(
    LineForm, formset=BaseLineFormSet, extra=0, max_num=MAX_LINES, validate_max=True, absolute_max=MAX_LINES
)


class InvoiceIssueForm(TablerFormMixin, forms.Form):
    issue_date = forms.DateField(label=_("Issue date"), widget=DateInput())
    supply_from = forms.DateField(
        label=_("Supply date"), widget=DateInput(), required=False,
        help_text=_("When the goods were delivered or the work done, if not on the issue date: its VAT rates apply."),
    )  # fmt: skip
    supply_to = forms.DateField(label=_("Supply until"), widget=DateInput(), required=False)


class CreditNoteForm(TablerFormMixin, forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300)
    amount = forms.DecimalField(
        label=_("Amount incl. VAT"), max_digits=12, decimal_places=2, required=False, min_value=Decimal("0.01"),
        help_text=_("Empty: credit the whole invoice."),
    )  # fmt: skip


class PaymentForm(TablerFormMixin, forms.Form):
    """A payment received, with one allocation field per open invoice of the client."""

    received_on = forms.DateField(label=_("Received on"), widget=DateInput())
    amount = forms.DecimalField(label=_("Amount"), max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    currency = forms.ChoiceField(label=_("Currency"), choices=Currency.choices)
    method = forms.ChoiceField(label=_("Method"), choices=Payment.Method.choices)
    reference = forms.CharField(label=_("Reference"), max_length=140, required=False)

    def __init__(self, *args, open_invoices: list[Invoice], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.open_invoices = open_invoices
        for invoice in open_invoices:
            self.fields[self.allocation_field(invoice)] = forms.DecimalField(
                label=invoice.number, max_digits=12, decimal_places=2, required=False, min_value=Decimal("0.01"),
                widget=forms.NumberInput(attrs={"class": "form-control text-end", "step": "0.01"}),
            )  # fmt: skip

    @staticmethod
    def allocation_field(invoice: Invoice) -> str:
        return f"allocate_{invoice.pk}"

    def allocation_rows(self):
        return [(invoice, self[self.allocation_field(invoice)]) for invoice in self.open_invoices]

    def allocations(self) -> list[tuple[Invoice, Decimal]]:
        return [
            (invoice, self.cleaned_data[self.allocation_field(invoice)])
            for invoice in self.open_invoices
            if self.cleaned_data.get(self.allocation_field(invoice))
        ]


# --- Purchases ----------------------------------------------------------------------------------


class SupplierForm(TablerFormMixin, forms.ModelForm):
    """A supplier's identity and bank account; a new one also asks for its company when there is a choice."""

    categories = forms.MultipleChoiceField(
        label=_("Categories"), choices=SupplierCategory.choices, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, companies=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial["iban"] = format_iban(self.initial.get("iban") or "")
        self.fields["categories"].widget.attrs["class"] = "form-check-input"
        if companies is not None:
            self.fields["company"] = forms.ModelChoiceField(
                label=_("Company"), queryset=companies, initial=companies.first() if companies.count() == 1 else None,
                widget=forms.Select(attrs={"class": "form-select"}),
            )  # fmt: skip

    class Meta:
        model = Supplier
        fields = SUPPLIER_FIELDS
        help_texts = {"country": _("Two letters (ISO 3166), e.g. CH, FR, DE.")}


class SupplierInvoiceForm(TablerFormMixin, forms.ModelForm):
    """The header of a supplier invoice; its VAT lines come in `SupplierLineFormSet`."""

    def __init__(self, *args, suppliers, projects, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["supplier"].queryset = suppliers
        self.fields["supplier"].label_from_instance = lambda supplier: f"{supplier.name} ({supplier.company.code})"
        self.fields["project"].queryset = projects
        self.fields["project"].label_from_instance = lambda project: f"{project.name} ({project.company.code})"
        self.fields["creditor_iban"].required = False
        self.initial["creditor_iban"] = format_iban(self.initial.get("creditor_iban") or "")

    class Meta:
        model = SupplierInvoice
        fields = ("supplier", *SUPPLIER_INVOICE_FIELDS)
        widgets = {"invoice_date": DateInput(), "due_date": DateInput()}
        labels = {"supplier": _("Supplier"), "project": _("Project")}
        help_texts = {
            "creditor_iban": _("Empty: the supplier's IBAN. A QR-bill's account may differ: copy it from the bill."),
            "source_document": _("The invoice as received: PDF or image."),
        }

    def _get_validation_exclusions(self):
        # The duplicate check of finance.services.purchases answers "entered already" with a link to
        # the first invoice; the model's bare unique-constraint message must not pre-empt it.
        return {*super()._get_validation_exclusions(), "supplier_number"}

    def clean_source_document(self):
        document = self.cleaned_data.get("source_document")
        if document and hasattr(document, "content_type"):
            if document.content_type not in SOURCE_DOCUMENT_TYPES:
                raise forms.ValidationError(_("Upload a PDF, JPEG or PNG file."))
            if document.size > SOURCE_DOCUMENT_MAX_BYTES:
                raise forms.ValidationError(_("The file is larger than 15 MB."))
        return document


class CaptureReviewForm(SupplierInvoiceForm):
    """A captured document's draft: the supplier invoice header, or the new supplier proposed from the reading."""

    create_supplier = forms.BooleanField(label=_("Create the supplier proposed below"), required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["source_document"]
        self.fields["supplier"].required = False

    def clean(self) -> dict:
        cleaned = super().clean()
        if not cleaned.get("supplier") and not cleaned.get("create_supplier"):
            self.add_error("supplier", _("Choose the supplier, or tick the box to create the one proposed."))
        return cleaned


class CaptureUploadForm(TablerFormMixin, forms.Form):
    """The company documents are received for, when the person buys for more than one."""

    def __init__(self, *args, companies, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["company"] = forms.ModelChoiceField(
            label=_("Company"), queryset=companies, initial=companies.first() if len(companies) == 1 else None,
            widget=forms.Select(attrs={"class": "form-select"}),
        )  # fmt: skip


SOURCE_DOCUMENT_TYPES = ("application/pdf", "image/jpeg", "image/png")
SOURCE_DOCUMENT_MAX_BYTES = 15 * 1024 * 1024


class SupplierLineForm(TablerFormMixin, forms.Form):
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    net_amount = forms.DecimalField(label=_("Net"), max_digits=12, decimal_places=2, min_value=0)
    vat_code = forms.ChoiceField(label=_("VAT"), choices=VatCode.choices, initial=VatCode.STANDARD)
    input_vat_recoverable = forms.BooleanField(label=_("Input VAT recoverable"), required=False, initial=True)
    is_investment = forms.BooleanField(
        label=_("Investment"), required=False, help_text=_("Equipment or other investment: VAT return box 405.")
    )


class BaseSupplierLineFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        super().clean()
        if not any(form.cleaned_data for form in self.forms if form.is_valid() and form.has_changed()):
            raise forms.ValidationError(_("Enter at least one VAT line."))

    def lines(self) -> list[SupplierLineInput]:
        return [
            SupplierLineInput(
                net_amount=form.cleaned_data["net_amount"], vat_code=form.cleaned_data["vat_code"],
                description=form.cleaned_data["description"],
                input_vat_recoverable=form.cleaned_data["input_vat_recoverable"],
                is_investment=form.cleaned_data.get("is_investment", False),
            )
            for form in self.forms
            if form.cleaned_data and form.has_changed()
        ]  # fmt: skip


SupplierLineFormSet = forms.formset_factory(
    SupplierLineForm, formset=BaseSupplierLineFormSet, extra=3, max_num=20, absolute_max=20
)


class ReasonForm(TablerFormMixin, forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class ApprovalForm(TablerFormMixin, forms.Form):
    override_reason = forms.CharField(
        label=_("Reason for paying over the quote"), max_length=500, required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Needed when the invoices run more than 5 % over the provider's accepted quote."),
    )  # fmt: skip


class PaidForm(TablerFormMixin, forms.Form):
    paid_on = forms.DateField(label=_("Paid on"), widget=DateInput())


# --- Projects -----------------------------------------------------------------------------------


class ProjectForm(TablerFormMixin, forms.ModelForm):
    """A project agreed outside a quote; the client list is limited to the companies the user works for."""

    def __init__(self, *args, clients=None, managers, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if clients is not None:
            self.fields["client"] = forms.ModelChoiceField(
                label=_("Client"), queryset=clients, widget=forms.Select(attrs={"class": "form-select"})
            )
            self.fields["client"].label_from_instance = lambda client: f"{client.name} ({client.company.code})"
        self.fields["manager"].queryset = managers
        if self.instance.pk and self.instance.quote_id:
            self.fields["budget"].disabled = True

    class Meta:
        model = Project
        fields = PROJECT_FIELDS


class MilestoneForm(TablerFormMixin, forms.ModelForm):
    def __init__(self, *args, invoices, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["invoice"].queryset = invoices
        self.fields["invoice"].label_from_instance = lambda invoice: f"{invoice.number} · {invoice.get_kind_display()}"

    class Meta:
        model = Milestone
        fields = ("title", "due_date", "status", "billable_amount", "invoice")
        widgets = {"due_date": DateInput()}


class AssignmentForm(TablerFormMixin, forms.ModelForm):
    def __init__(self, *args, suppliers, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["supplier"].queryset = suppliers

    class Meta:
        model = ProviderAssignment
        fields = ASSIGNMENT_FIELDS
        widgets = {"accepted_on": DateInput()}


class DunningPolicyForm(TablerFormMixin, forms.ModelForm):
    class Meta:
        model = DunningPolicy
        fields = [
            "daily_run_enabled", "run_at", "terms_allow_fees", "interest_rate", "minimum_amount",
            "pause_when_disputed", "pause_during_payment_plan", "partial_payment_pause_days",
        ]  # fmt: skip
        widgets = {"run_at": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}


class DunningLevelForm(TablerFormMixin, forms.Form):
    """One level of the policy and its Mautic template e-mail per language; a row left blank is no level."""

    level = forms.IntegerField(label=_("Level"), min_value=1, max_value=9, required=False)
    name = forms.CharField(label=_("Name"), max_length=80, required=False)
    days_after_due = forms.IntegerField(label=_("Days after the due date"), min_value=1, max_value=365, required=False)
    fee = forms.DecimalField(label=_("Fee"), min_value=0, max_digits=8, decimal_places=2, required=False)
    email_fr = forms.IntegerField(label=_("French"), min_value=1, required=False)
    email_de = forms.IntegerField(label=_("German"), min_value=1, required=False)
    email_en = forms.IntegerField(label=_("English"), min_value=1, required=False)
    email_it = forms.IntegerField(label=_("Italian"), min_value=1, required=False)

    LANGUAGES = ("fr", "de", "en", "it")
    # Widths of the inputs in the levels table, so that each shows its whole value on one line.
    WIDTHS = {"level": "4rem", "name": "11rem", "days_after_due": "5rem", "fee": "6rem"}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.widget.attrs["style"] = f"min-width: {self.WIDTHS.get(name, '4.5rem')}"
            field.widget.attrs["aria-label"] = field.label

    def clean(self) -> dict:
        data = super().clean()
        if self.is_blank():
            return data
        for name in ("level", "name", "days_after_due"):
            if data.get(name) in (None, ""):
                self.add_error(name, _("Required for a level."))
        return data

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return not any(data.get(name) not in (None, "") for name in ("level", "name", "days_after_due"))

    def mautic_emails(self) -> dict[str, int | None]:
        return {language: self.cleaned_data[f"email_{language}"] for language in self.LANGUAGES}

    @classmethod
    def initial_for(cls, level: DunningLevel) -> dict:
        emails = {text.language: text.mautic_email_id for text in level.texts.all()}
        return {
            "level": level.level, "name": level.name, "days_after_due": level.days_after_due, "fee": level.fee,
            **{f"email_{language}": emails.get(language) for language in cls.LANGUAGES},
        }  # fmt: skip


DunningLevelFormSet = forms.formset_factory(DunningLevelForm, extra=1)


class DunningHoldForm(TablerFormMixin, forms.Form):
    hold = forms.ChoiceField(label=_("Hold"), choices=InvoiceDunning.Hold.choices, required=False)
    until = forms.DateField(label=_("Payment plan until"), required=False, widget=DateInput())
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


class LeadForm(TablerFormMixin, forms.ModelForm):
    """A lead typed in by hand (a call, an e-mail, a fair); a new one asks which company it is for."""

    def __init__(self, *args, companies=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if companies is not None:
            self.fields = {
                "company": forms.ModelChoiceField(
                    label=_("Company"), queryset=companies,
                    initial=companies.first() if companies.count() == 1 else None,
                    widget=forms.Select(attrs={"class": "form-select"}),
                ),
                **self.fields,
            }  # fmt: skip
        self.fields["phone"].max_length = 40
        self.fields["phone"].widget.attrs["maxlength"] = 40

    class Meta:
        model = Lead
        fields = (
            "source", "first_name", "last_name", "organisation", "email", "phone", "language", "town",
            "project_type", "budget", "currency", "event_date", "message",
        )  # fmt: skip
        widgets = {"event_date": DateInput(), "message": forms.Textarea(attrs={"rows": 4})}

    def _post_clean(self) -> None:
        # The service normalises the phone and checks the whole lead; the model's checks run there.
        pass


class LeadLostForm(TablerFormMixin, forms.Form):
    reason = forms.CharField(label=_("Why is it lost?"), max_length=300)


class LeadOwnerForm(TablerFormMixin, forms.Form):
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=None, required=False, empty_label=_("Nobody"))

    def __init__(self, *args, users, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = users
        self.fields["owner"].label_from_instance = lambda user: user.get_full_name() or user.get_username()


class LeadClientForm(TablerFormMixin, forms.ModelForm):
    """The client a lead's quote is for, when none of the company's clients matches it."""

    class Meta:
        model = Client
        fields = ("kind", "name", "street", "building_number", "postal_code", "town", "country", "email", "language")
