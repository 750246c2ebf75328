"""What every list page shares: filters from the query string, sorting, pagination and CSV export."""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django import forms
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from finance import tables
from finance.forms import DateInput, TablerFormMixin
from finance.models import Invoice
from finance.scope import CompanyScope
from finance.selectors import AGEING_BUCKETS, DocumentFilters

PAGE_SIZE = 25


class ListFilterForm(TablerFormMixin, forms.Form):
    """The filters above a list; every field optional, invalid values are ignored with a field error."""

    q = forms.CharField(label=_("Search"), required=False)
    company = forms.ChoiceField(label=_("Company"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput())
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    # Narrowings the dashboard's links add (a card shows exactly the rows of the list it links to).
    open = forms.BooleanField(label=_("Open only"), required=False, widget=forms.HiddenInput)
    bucket = forms.ChoiceField(
        label=_("Age"), required=False, widget=forms.HiddenInput,
        choices=[("", "")] + [(bucket.key, bucket.label) for bucket in AGEING_BUCKETS],
    )  # fmt: skip
    kind = forms.CharField(label=_("Kind"), required=False, max_length=16, widget=forms.HiddenInput)
    due_by = forms.DateField(label=_("Due by"), required=False, widget=forms.HiddenInput)

    def __init__(self, data, *, scope: CompanyScope, statuses: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(data)
        self.fields["company"].choices = [("", _("All companies"))] + [(c.code, c.name) for c in scope.companies]
        self.fields["status"].choices = [("", _("All statuses")), *statuses]
        self.fields["q"].widget.attrs["placeholder"] = _("Number, client, title…")

    def filters(self) -> DocumentFilters:
        if not self.is_valid():
            return DocumentFilters()
        data = self.cleaned_data
        return DocumentFilters(
            search=data["q"].strip(), company_code=data["company"], status=data["status"],
            date_from=data["date_from"], date_to=data["date_to"], overdue=data["overdue"],
            open=data["open"], bucket=data["bucket"], kind=data["kind"], due_by=data["due_by"],
        )  # fmt: skip

    def narrowings(self) -> list[str]:
        """What the hidden dashboard narrowings keep out, in words, for the notice above the list."""
        if not self.is_valid():
            return []
        data, shown = self.cleaned_data, []
        if data["open"]:
            shown.append(str(_("open only")))
        if data["bucket"]:
            shown.append(str(dict(self.fields["bucket"].choices)[data["bucket"]]))
        if data["kind"]:
            shown.append(str(dict(Invoice.Kind.choices).get(data["kind"], data["kind"])))
        if data["due_by"]:
            shown.append(str(_("due by %(date)s")) % {"date": data["due_by"].strftime("%d.%m.%Y")})
        return shown


def sorted_by(request: HttpRequest, queryset: QuerySet, *, sorts: dict[str, tuple[str, ...]], default: str):
    """Order by the `sort` query parameter (a key of `sorts`, `-` for descending); unknown keys use `default`."""
    key = request.GET.get("sort", default)
    if key.lstrip("-") not in sorts:
        key = default
    fields = sorts[key.lstrip("-")]
    if key.startswith("-"):
        fields = tuple(f"-{field}" for field in fields)
    return queryset.order_by(*fields, "-pk" if key.startswith("-") else "pk"), key


def paginated(request: HttpRequest, queryset: QuerySet):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def query_without(request: HttpRequest, *names: str) -> str:
    """The current query string without some parameters, to build sort and page links that keep filters."""
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


def csv_amount(amount: Decimal) -> str:
    """Amounts as Swiss spreadsheets read them: point decimal, two places, no thousands separator."""
    return f"{amount:.2f}"


def csv_date(value: date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


def xlsx_response(filename: str, header: list[str], rows: Iterable[list], *, sheet: str) -> HttpResponse:
    stamp = timezone.localdate().strftime("%Y-%m-%d")
    response = HttpResponse(tables.xlsx_bytes(header, rows, sheet=sheet), content_type=tables.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.xlsx"'
    return response


def csv_response(filename: str, header: list[str], rows: Iterable[list]) -> HttpResponse:
    """A `;`-separated UTF-8 CSV with a byte-order mark, so Excel on a Swiss desktop opens it as is."""
    stamp = timezone.localdate().strftime("%Y-%m-%d")
    response = HttpResponse(tables.csv_bytes(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    return response
