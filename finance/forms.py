from decimal import Decimal

from django import forms
from django.contrib.auth.forms import PasswordChangeForm
from django.utils.translation import gettext_lazy as _

from finance.identifiers import format_iban
from finance.models import Client, Company, Contact, Currency, DepositRule, Invoice, Payment, Quote, VatCode
from finance.services.companies import EDITABLE_FIELDS
from finance.services.parties import CLIENT_FIELDS, CONTACT_FIELDS, DEPOSIT_RULE_FIELDS


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

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("iban", "qr_iban"):
            self.initial[name] = format_iban(self.initial.get(name) or "")

    class Meta:
        model = Company
        fields = EDITABLE_FIELDS
        widgets = {"colour": forms.TextInput(attrs={"type": "color", "class": "form-control-color"})}
        help_texts = {
            "iban": _("The account's ordinary IBAN, e.g. CH93 0076 2011 6238 5295 7."),
            "qr_iban": _("Optional. With a QR-IBAN, QR-bills carry a QR reference."),
        }


class TablerPasswordChangeForm(TablerFormMixin, PasswordChangeForm):
    pass


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
        fields = ("client", "title", "quote_date", "valid_until", "project_type", "currency", "notes")
        widgets = {
            "quote_date": DateInput(),
            "valid_until": DateInput(),
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
