from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from finance.forms import TablerFormMixin
from sandbox import invoice_ninja, revolut

# Joins a company id and an invoice id in one choice value; neither id contains it.
CHOICE_SEPARATOR = ":"


class IncomingTransferForm(TablerFormMixin, forms.Form):
    """A payer's bank transfer to one of the Revolut sandbox businesses."""

    client_id = forms.ChoiceField(label=_("Business (client id)"))
    currency = forms.ChoiceField(label=_("Currency"), choices=[(c, c) for _n, c, _b in revolut.SEED_ACCOUNTS])
    amount = forms.DecimalField(label=_("Amount"), min_value=Decimal("0.01"), max_digits=12, decimal_places=2)
    reference = forms.CharField(label=_("Reference"), max_length=revolut.MAX_REFERENCE_LENGTH)
    payer_name = forms.CharField(label=_("Payer"), max_length=140)
    payer_iban = forms.CharField(label=_("Payer IBAN"), max_length=34, required=False)
    state = forms.ChoiceField(
        label=_("Settles to"),
        choices=[(state, state) for state in revolut.INJECTABLE_STATES],
        help_text=_("The transfer is pending first, then moves to this state a few seconds later."),
    )

    def __init__(self, *args, client_ids: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client_id"].choices = [(client_id, client_id) for client_id in client_ids]


class RecordPaymentForm(TablerFormMixin, forms.Form):
    """A payment a finance user records in Invoice Ninja against one open invoice."""

    invoice = forms.ChoiceField(label=_("Invoice"))
    amount = forms.DecimalField(label=_("Amount"), min_value=Decimal("0.01"), max_digits=12, decimal_places=2)
    transaction_reference = forms.CharField(label=_("Transaction reference"), max_length=190, required=False)

    def __init__(self, *args, invoices: list[tuple[str, str, str]], **kwargs) -> None:
        """`invoices`: (company id, invoice id, label) of each open invoice."""
        super().__init__(*args, **kwargs)
        self.fields["invoice"].choices = [
            (f"{company_id}{CHOICE_SEPARATOR}{invoice_id}", label) for company_id, invoice_id, label in invoices
        ]

    def clean_invoice(self) -> tuple[str, str]:
        """(company id, invoice id) of the chosen invoice."""
        company_id, _separator, invoice_id = self.cleaned_data["invoice"].partition(CHOICE_SEPARATOR)
        return company_id, invoice_id


class ApproveQuoteForm(forms.Form):
    """The hidden fields of a quote's "Approve" button on the sandbox's page."""

    company_id = forms.CharField(max_length=invoice_ninja.ID_LENGTH)
    quote_id = forms.CharField(max_length=invoice_ninja.ID_LENGTH)


class MauticContactEmailForm(forms.Form):
    """A contact's new e-mail address, as a marketer changes it in Mautic's contact form."""

    username = forms.CharField(max_length=180)
    contact_id = forms.IntegerField(min_value=1)
    email = forms.EmailField(label=_("E-mail"))


class MauticOpenEmailForm(forms.Form):
    """The hidden fields of a sent e-mail's "Simulate the opening" button."""

    username = forms.CharField(max_length=180)
    stat_id = forms.IntegerField(min_value=1)
