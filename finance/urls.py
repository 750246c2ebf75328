from django.urls import path

from finance.views import clients, companies, invoices, quotes

app_name = "finance"

urlpatterns = [
    path("scope/", companies.scope_switch, name="scope-switch"),
    path("companies/", companies.company_list, name="company-list"),
    path("companies/<str:code>/", companies.company_detail, name="company-detail"),
    path("companies/<str:code>/edit/", companies.company_edit, name="company-edit"),
    path("companies/<str:code>/deposit-rules/new/", companies.deposit_rule_form, name="deposit-rule-new"),
    path("companies/<str:code>/deposit-rules/<int:pk>/", companies.deposit_rule_form, name="deposit-rule-edit"),
    path(
        "companies/<str:code>/deposit-rules/<int:pk>/delete/",
        companies.deposit_rule_delete_view,
        name="deposit-rule-delete",
    ),  # fmt: skip
    path("clients/", clients.client_list, name="client-list"),
    path("clients/new/", clients.client_new, name="client-new"),
    path("clients/<int:pk>/", clients.client_detail, name="client-detail"),
    path("clients/<int:pk>/edit/", clients.client_edit, name="client-edit"),
    path("clients/<int:client_pk>/contacts/new/", clients.contact_form, name="contact-new"),
    path("clients/<int:client_pk>/contacts/<int:pk>/", clients.contact_form, name="contact-edit"),
    path("clients/<int:client_pk>/payments/new/", invoices.payment_new, name="payment-new"),
    path("payments/<int:pk>/undo/", invoices.payment_undo_view, name="payment-undo"),
    path("quotes/", quotes.quote_list, name="quote-list"),
    path("quotes/new/", quotes.quote_form, name="quote-new"),
    path("quotes/lines/", quotes.quote_lines_preview, name="quote-lines-preview"),
    path("quotes/<int:pk>/", quotes.quote_detail, name="quote-detail"),
    path("quotes/<int:pk>/edit/", quotes.quote_form, name="quote-edit"),
    path("quotes/<int:pk>/send/", quotes.quote_send, name="quote-send"),
    path("quotes/<int:pk>/viewed/", quotes.quote_mark_viewed, name="quote-viewed"),
    path("quotes/<int:pk>/signed/", quotes.quote_mark_signed, name="quote-signed"),
    path("quotes/<int:pk>/reject/", quotes.quote_reject, name="quote-reject"),
    path("quotes/<int:pk>/invoice/deposit/", quotes.quote_invoice_deposit, name="quote-invoice-deposit"),
    path("quotes/<int:pk>/invoice/balance/", quotes.quote_invoice_balance, name="quote-invoice-balance"),
    path("quotes/<int:pk>/invoice/full/", quotes.quote_invoice_full, name="quote-invoice-full"),
    path("quotes/<int:pk>/pdf/", quotes.quote_pdf, name="quote-pdf"),
    path("invoices/", invoices.invoice_list, name="invoice-list"),
    path("invoices/<int:pk>/", invoices.invoice_detail, name="invoice-detail"),
    path("invoices/<int:pk>/issue/", invoices.invoice_issue, name="invoice-issue"),
    path("invoices/<int:pk>/cancel/", invoices.invoice_cancel, name="invoice-cancel"),
    path("invoices/<int:pk>/pdf/", invoices.invoice_pdf, name="invoice-pdf"),
    path("invoices/<int:pk>/credit-note/", invoices.credit_note_new, name="credit-note-new"),
]
