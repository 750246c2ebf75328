"""Dunning pages: the list of overdue invoices, the daily run's preview, each company's policy, and the invoice
page's actions (send a reminder, put it on hold); the reminder PDF, also for clients through a signed link."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from finance import pdf, selectors
from finance.forms import DunningHoldForm, DunningLevelForm, DunningLevelFormSet, DunningPolicyForm, TablerFormMixin
from finance.models import InvoiceDunning, Reminder
from finance.permissions import can_bill, require_billing
from finance.services import dunning, mautic
from finance.views.lists import csv_amount, csv_date, csv_response, paginated, query_without


class DunningFilterForm(TablerFormMixin, forms.Form):
    q = forms.CharField(label=gettext_lazy("Search"), required=False)
    company = forms.ChoiceField(label=gettext_lazy("Company"), required=False)
    level = forms.TypedChoiceField(label=gettext_lazy("Level"), required=False, coerce=int, empty_value=None)
    paused = forms.TypedChoiceField(
        label=gettext_lazy("Paused"), required=False, empty_value=None, coerce=lambda value: value == "yes",
        choices=[("", gettext_lazy("Paused or not")), ("yes", gettext_lazy("Paused")),
                 ("no", gettext_lazy("Not paused"))],
    )  # fmt: skip

    def __init__(self, data, *, scope) -> None:
        super().__init__(data)
        self.fields["company"].choices = [("", _("All companies"))] + [(c.code, c.name) for c in scope.companies]
        self.fields["level"].choices = [("", _("Every level")), ("0", _("No reminder yet"))] + [
            (str(level), _("Level %(level)s") % {"level": level}) for level in range(1, 4)
        ]
        self.fields["q"].widget.attrs["placeholder"] = _("Number, client, title…")

    def filters(self) -> selectors.DunningFilters:
        if not self.is_valid():
            return selectors.DunningFilters()
        data = self.cleaned_data
        return selectors.DunningFilters(search=data["q"].strip(), company_code=data["company"], level=data["level"],
                                        paused=data["paused"])  # fmt: skip


@require_GET
def dunning_list(request: HttpRequest) -> HttpResponse:
    scope = request.company_scope
    today = timezone.localdate()
    filter_form = DunningFilterForm(request.GET, scope=scope)
    invoices = selectors.dunning_list(scope=scope, today=today, filters=filter_form.filters())
    first_days = selectors.dunning_first_level_days(scope=scope)
    if request.GET.get("export") == "csv":
        return csv_response(
            "dunning",
            [_("Number"), _("Company"), _("Client"), _("E-mail"), _("Due date"), _("Days late"), _("Currency"),
             _("Balance due"), _("Level reached"), _("Last reminder"), _("Next reminder due"), _("Paused")],
            ([i.number, i.company.code, i.client.name, i.client.email, csv_date(i.due_date),
              (today - i.due_date).days, i.currency, csv_amount(i.balance_due), s.level, csv_date(s.last_sent_on),
              csv_date(s.next_level_on), s.get_paused_reason_display() if s.paused_reason else ""]
             for i, s in ((i, _state(i, first_days)) for i in invoices)),
        )  # fmt: skip
    page = paginated(request, invoices)
    rows = [(invoice, _state(invoice, first_days), (today - invoice.due_date).days) for invoice in page]
    context = {
        "page": page, "rows": rows, "filter_form": filter_form, "page_query": query_without(request, "page"),
        "previewable": [company for company in scope.companies if can_bill(scope, company)],
    }  # fmt: skip
    return render(request, "finance/dunning_list.html", context)


def _state(invoice, first_days: dict[int, int]) -> InvoiceDunning:
    """The stored state, or that of an invoice no run has looked at yet: nothing sent, level 1 due on its day."""
    try:
        return invoice.dunning
    except InvoiceDunning.DoesNotExist:
        days = first_days.get(invoice.company_id)
        next_on = invoice.due_date + timedelta(days=days) if days is not None else None
        return InvoiceDunning(invoice=invoice, company=invoice.company, next_level_on=next_on)


@require_GET
def dunning_preview(request: HttpRequest, code: str) -> HttpResponse:
    """The daily run's dry run: what it would send today for the company, and why it leaves the rest."""
    scope = request.company_scope
    company = selectors.company_get(scope=scope, code=code)
    require_billing(scope, company)
    today = timezone.localdate()
    plan = dunning.dunning_plan(company, today=today)
    policy = dunning.dunning_policy_ensure(company)
    context = {
        "company": company, "policy": policy, "today": today,
        "to_send": [entry for entry in plan if not entry.blocker],
        "left": [entry for entry in plan if entry.blocker],
    }  # fmt: skip
    return render(request, "finance/dunning_preview.html", context)


@require_http_methods(["GET", "POST"])
def dunning_settings(request: HttpRequest, code: str) -> HttpResponse:
    scope = request.company_scope
    company = selectors.company_get(scope=scope, code=code)
    require_billing(scope, company)
    policy = dunning.dunning_policy_ensure(company)
    form = DunningPolicyForm(request.POST or None, instance=policy)
    levels = DunningLevelFormSet(
        request.POST or None, prefix="levels",
        initial=[DunningLevelForm.initial_for(level) for level in policy.levels.prefetch_related("texts")],
    )  # fmt: skip
    if request.method == "POST" and form.is_valid() and levels.is_valid():
        level_inputs = [
            dunning.LevelInput(
                level=row.cleaned_data["level"],
                name=row.cleaned_data["name"],
                days_after_due=row.cleaned_data["days_after_due"],
                fee=row.cleaned_data["fee"] or 0,
                mautic_emails=row.mautic_emails(),
            )  # fmt: skip
            for row in levels
            if not row.is_blank()
        ]
        fields = {name: form.cleaned_data[name] for name in DunningPolicyForm.Meta.fields}
        try:
            dunning.dunning_policy_save(company=company, levels=level_inputs, saved_by=request.user, **fields)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Dunning policy of %(company)s saved.") % {"company": company.name})
            return redirect("finance:dunning-settings", code=company.code)
    context = {"company": company, "form": form, "levels": levels, "policy": policy}
    return render(request, "finance/dunning_settings.html", context)


@require_POST
def invoice_reminder_send(request: HttpRequest, pk: int) -> HttpResponse:
    scope = request.company_scope
    invoice = selectors.invoice_get(scope=scope, pk=pk)
    require_billing(scope, invoice.company)
    try:
        reminder = dunning.reminder_send_start(
            invoice=invoice, today=timezone.localdate(), requested_by=request.user, trigger=Reminder.Trigger.MANUAL
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Level %(level)s reminder of %(number)s is being sent via Mautic.")
                         % {"level": reminder.level, "number": invoice.number})  # fmt: skip
    return redirect(invoice)


@require_POST
def invoice_dunning_hold(request: HttpRequest, pk: int) -> HttpResponse:
    scope = request.company_scope
    invoice = selectors.invoice_get(scope=scope, pk=pk)
    require_billing(scope, invoice.company)
    form = DunningHoldForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The hold was not changed: %(errors)s")
                       % {"errors": " ".join(e for errors in form.errors.values() for e in errors)})  # fmt: skip
        return redirect(invoice)
    try:
        dunning.dunning_hold_set(
            invoice=invoice, hold=form.cleaned_data["hold"], until=form.cleaned_data["until"],
            note=form.cleaned_data["note"], set_by=request.user, today=timezone.localdate(),
        )  # fmt: skip
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Dunning hold saved."))
    return redirect(invoice)


def _pdf_response(reminder: Reminder, *, inline: bool) -> HttpResponse:
    response = HttpResponse(pdf.reminder_pdf(reminder), content_type="application/pdf")
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{reminder.invoice.number}-{reminder.level}.pdf"'
    return response


@require_GET
def reminder_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    reminder = selectors.reminder_get(scope=request.company_scope, pk=pk)
    try:
        return _pdf_response(reminder, inline=False)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(reminder.invoice)


@login_not_required
@require_GET
def reminder_pdf_public(request: HttpRequest, token: str) -> HttpResponse:
    """The link of the reminder e-mail: the client opens the reminder and its QR-bill without an account."""
    try:
        reminder = mautic.reminder_for_pdf_token(token)
    except Reminder.DoesNotExist:
        raise Http404 from None
    return _pdf_response(reminder, inline=True)
