"""Banque: the accounts' balances with the group total in CHF, and the reconciliation of incoming transfers."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from finance import selectors
from finance.models import BankTransaction
from finance.permissions import can_bill, require_billing
from finance.services import bank_files
from finance.services import reconciliation as reconciliation_service
from finance.views.lists import ListFilterForm, paginated, query_without

ROW_TEMPLATE = "finance/reconciliation.html#transaction-row"


@require_GET
def bank_account_list(request: HttpRequest) -> HttpResponse:
    scope = request.company_scope
    overview = selectors.bank_account_overview(scope=scope)
    importers = [company for company in scope.companies if can_bill(scope, company)]
    return render(request, "finance/bank_accounts.html", {"overview": overview, "import_companies": importers})


@require_POST
def bank_statement_import(request: HttpRequest) -> HttpResponse:
    """A camt.053 or camt.054 file of an account not on Revolut: its entries imported and matched."""
    scope = request.company_scope
    company = next((c for c in scope.companies if c.code == request.POST.get("company") and can_bill(scope, c)), None)
    upload = request.FILES.get("statement")
    if company is None or upload is None:
        messages.error(request, _("Choose the company and the statement file."))
        return redirect("finance:bank-accounts")
    try:
        result = bank_files.camt_import(company=company, content=upload.read(), imported_by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("finance:bank-accounts")
    counts = {"new": result.new, "known": result.known, "matched": result.matched}
    messages.success(request, _("%(new)s new entries imported (%(known)s already known), %(matched)s matched to "
                                "invoices.") % counts)  # fmt: skip
    return redirect("finance:reconciliation")


@require_GET
def reconciliation(request: HttpRequest) -> HttpResponse:
    scope = request.company_scope
    statuses = [choice for choice in BankTransaction.Match.choices if choice[0] != BankTransaction.Match.NOT_APPLICABLE]
    filter_form = ListFilterForm(request.GET, scope=scope, statuses=statuses)
    filter_form.fields["q"].widget.attrs["placeholder"] = _("Payer, reference, amount…")
    filters = filter_form.filters()
    page = paginated(request, selectors.bank_transaction_to_reconcile_list(scope=scope, filters=filters))
    reconciled = selectors.bank_transaction_reconciled_list(scope=scope, filters=filters)
    context = {
        "page": page,
        "rows": [_row(request, transaction) for transaction in page],
        "reconciled_rows": [_row(request, transaction) for transaction in reconciled],
        # What the manual match field proposes, per company the user may match for.
        "open_invoices": [
            (company, selectors.invoice_open_for_matching_list(company=company))
            for company in scope.companies
            if can_bill(scope, company)
        ],
        "alerts": reconciliation_service.unmatched_alerts(scope.companies, now=timezone.now()),
        "alert_days": reconciliation_service.UNMATCHED_ALERT_DAYS,
        "bank_connected": bool(selectors.company_with_revolut_ids(scope=scope)),
        "filter_form": filter_form,
        "page_query": query_without(request, "page"),
    }
    return render(request, "finance/reconciliation.html", context)


def _row(request: HttpRequest, transaction: BankTransaction, **extra) -> dict:
    """What one transaction's row shows: its suggestions with their reasons, and whether the user may act."""
    allowed = can_bill(request.company_scope, transaction.company)
    allocations = list(transaction.payment.allocations.all()) if transaction.payment else []
    return {
        "transaction": transaction,
        "suggestions": [(s, reconciliation_service.suggestion_reasons(s)) for s in transaction.suggestions.all()],
        "allocations": allocations,
        # An over-payment: what the invoice did not need stays the client's credit.
        "credit": transaction.amount - sum(a.amount for a in allocations) if allocations else None,
        "refusal": "" if allowed else _("Only the CEO and finance can match or ignore bank transfers."),
        **extra,
    }


def _transaction_for_billing(request: HttpRequest, pk: int) -> BankTransaction:
    transaction = selectors.bank_transaction_get(scope=request.company_scope, pk=pk)
    require_billing(request.company_scope, transaction.company)
    return transaction


def _answer(request: HttpRequest, pk: int, *, outcome: str = "", error: str = "") -> HttpResponse:
    """With HTMX the updated row alone; without JavaScript, back to the page with a message."""
    if request.htmx:
        transaction = selectors.bank_transaction_get(scope=request.company_scope, pk=pk)
        return render(request, ROW_TEMPLATE, {"row": _row(request, transaction, outcome=outcome, error=error)})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, outcome)
    return redirect("finance:reconciliation")


@require_POST
def transaction_match(request: HttpRequest, pk: int) -> HttpResponse:
    transaction = _transaction_for_billing(request, pk)
    number = request.POST.get("invoice_number", "").strip()
    invoice = selectors.invoice_by_number(company=transaction.company, number=number)
    if invoice is None:
        error = _("%(company)s has no invoice numbered “%(number)s”.") % {
            "company": transaction.company.name,
            "number": number,
        }
        return _answer(request, pk, error=error)
    try:
        reconciliation_service.transaction_match_manual(
            transaction=transaction, invoice=invoice, matched_by=request.user
        )
    except ValidationError as error:
        return _answer(request, pk, error=" ".join(error.messages))
    return _answer(request, pk, outcome=_("Matched with %(number)s.") % {"number": invoice.number})


@require_POST
def transaction_match_undo(request: HttpRequest, pk: int) -> HttpResponse:
    transaction = _transaction_for_billing(request, pk)
    try:
        reconciliation_service.transaction_match_undo(transaction=transaction, undone_by=request.user)
    except ValidationError as error:
        return _answer(request, pk, error=" ".join(error.messages))
    return _answer(request, pk, outcome=_("Undone: the transfer is back among those to reconcile."))


@require_POST
def transaction_ignore(request: HttpRequest, pk: int) -> HttpResponse:
    transaction = _transaction_for_billing(request, pk)
    try:
        reconciliation_service.transaction_ignore(
            transaction=transaction, ignored_by=request.user, reason=request.POST.get("reason", "")
        )
    except ValidationError as error:
        return _answer(request, pk, error=" ".join(error.messages))
    return _answer(request, pk, outcome=_("Ignored: it pays no invoice."))
