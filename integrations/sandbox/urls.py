from django.urls import path

from integrations.sandbox.views import revolut

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
]
