from django.urls import path

from integrations.sandbox.views import invoice_ninja, revolut

app_name = "sandbox"

# Paths of the real services, each under its provider's prefix (research/api-contracts.md).
urlpatterns = [
    path("revolut/", revolut.dashboard, name="revolut-dashboard"),
    path("revolut/app-confirm", revolut.app_confirm, name="revolut-app-confirm"),
    path("revolut/api/1.0/auth/token", revolut.token, name="revolut-token"),
    path("revolut/api/1.0/accounts", revolut.accounts, name="revolut-accounts"),
    path("revolut/api/1.0/counterparties", revolut.counterparties, name="revolut-counterparties"),
    path("revolut/api/1.0/counterparty", revolut.counterparty_create, name="revolut-counterparty-create"),
    path(
        "revolut/api/1.0/counterparty/<str:counterparty_id>",
        revolut.counterparty_detail,
        name="revolut-counterparty",
    ),
    path("revolut/api/1.0/pay", revolut.pay, name="revolut-pay"),
    path("revolut/api/1.0/transactions", revolut.transactions, name="revolut-transactions"),
    path("revolut/api/1.0/transaction/<str:transaction_id>", revolut.transaction_detail, name="revolut-transaction"),
    path(
        "revolut/api/1.0/sandbox/transactions/<str:transaction_id>/<str:action>",
        revolut.sandbox_transaction_action,
        name="revolut-sandbox-transaction-action",
    ),
    path("revolut/api/1.0/rate", revolut.rate, name="revolut-rate"),
    path("revolut/api/2.0/webhooks", revolut.webhooks, name="revolut-webhooks"),
    path("revolut/api/2.0/webhooks/<str:webhook_id>", revolut.webhook_detail, name="revolut-webhook"),
    path("invoice-ninja/", invoice_ninja.dashboard, name="invoice-ninja-dashboard"),
    path("invoice-ninja/approve-quote", invoice_ninja.dashboard_approve_quote, name="invoice-ninja-approve-quote"),
    path("invoice-ninja/client/invoice/<str:key>", invoice_ninja.portal_invoice, name="invoice-ninja-portal-invoice"),
    path("invoice-ninja/client/quote/<str:key>", invoice_ninja.portal_quote, name="invoice-ninja-portal-quote"),
    path("invoice-ninja/api/v1/clients", invoice_ninja.clients, name="invoice-ninja-clients"),
    path("invoice-ninja/api/v1/clients/<str:entity_id>", invoice_ninja.client_detail, name="invoice-ninja-client"),
    path("invoice-ninja/api/v1/products", invoice_ninja.products, name="invoice-ninja-products"),
    path("invoice-ninja/api/v1/products/<str:entity_id>", invoice_ninja.product_detail, name="invoice-ninja-product"),
    # bulk before {id}: "bulk" would read as an invoice id.
    path("invoice-ninja/api/v1/invoices/bulk", invoice_ninja.invoices_bulk, name="invoice-ninja-invoices-bulk"),
    path("invoice-ninja/api/v1/invoices", invoice_ninja.invoices, name="invoice-ninja-invoices"),
    path("invoice-ninja/api/v1/invoices/<str:entity_id>", invoice_ninja.invoice_detail, name="invoice-ninja-invoice"),
    path(
        "invoice-ninja/api/v1/invoices/<str:entity_id>/<str:action>",
        invoice_ninja.invoice_action,
        name="invoice-ninja-invoice-action",
    ),
    path("invoice-ninja/api/v1/quotes", invoice_ninja.quotes, name="invoice-ninja-quotes"),
    path("invoice-ninja/api/v1/quotes/<str:entity_id>", invoice_ninja.quote_detail, name="invoice-ninja-quote"),
    path(
        "invoice-ninja/api/v1/quotes/<str:entity_id>/<str:action>",
        invoice_ninja.quote_action,
        name="invoice-ninja-quote-action",
    ),
    path("invoice-ninja/api/v1/emails", invoice_ninja.emails, name="invoice-ninja-emails"),
    path("invoice-ninja/api/v1/payments", invoice_ninja.payments, name="invoice-ninja-payments"),
    path("invoice-ninja/api/v1/payments/<str:entity_id>", invoice_ninja.payment_detail, name="invoice-ninja-payment"),
    path("invoice-ninja/api/v1/webhooks", invoice_ninja.webhooks, name="invoice-ninja-webhooks"),
    path("invoice-ninja/api/v1/webhooks/<str:entity_id>", invoice_ninja.webhook_detail, name="invoice-ninja-webhook"),
]
