from django import forms
from django.contrib.auth.forms import PasswordChangeForm
from django.utils.translation import gettext_lazy as _

from finance.identifiers import format_iban
from finance.models import Company
from finance.services.companies import EDITABLE_FIELDS


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
