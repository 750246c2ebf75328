from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from finance.forms import TablerFormMixin
from integrations.sandbox import revolut


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
