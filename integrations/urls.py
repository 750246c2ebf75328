from django.urls import path

from integrations.views import actions, connections, erpnext, health, webhooks

app_name = "integrations"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("integrations/", connections.connection_list, name="connection-list"),
    path("erpnext/", erpnext.erpnext_overview, name="erpnext"),
    path("erpnext/sync/", erpnext.erpnext_sync, name="erpnext-sync"),
    path("integrations/<str:provider>/<str:company_code>/", connections.connection_detail, name="connection"),
    path("integrations/<str:provider>/<str:company_code>/test/", connections.connection_test, name="connection-test"),
    path(
        "integrations/<str:provider>/<str:company_code>/webhook/",
        connections.connection_register_webhook,
        name="connection-register-webhook",
    ),
    path(
        "integrations/mautic/<str:company_code>/acknowledgement/",
        connections.mautic_acknowledgement_emails,
        name="mautic-acknowledgement-emails",
    ),
    path("integrations/revolut/<str:company_code>/consent/", connections.revolut_consent, name="revolut-consent"),
    path("integrations/revolut/oauth/callback/", connections.revolut_oauth_callback, name="revolut-oauth-callback"),
    path("webhooks/", webhooks.delivery_list, name="webhook-list"),
    path("webhooks/<int:pk>/replay/", webhooks.delivery_replay, name="webhook-replay"),
    path("webhooks/revolut/<str:company_code>/", webhooks.revolut_webhook, name="webhook-revolut"),
    path(
        "webhooks/invoice-ninja/<str:company_code>/<int:event_id>/",
        webhooks.invoice_ninja_webhook,
        name="webhook-invoice-ninja",
    ),
    path("webhooks/mautic/<str:company_code>/", webhooks.mautic_webhook, name="webhook-mautic"),
    path("webhooks/leads/<str:company_code>/", webhooks.leads_webhook, name="webhook-leads"),
    path("webhooks/docuseal/<str:company_code>/", webhooks.docuseal_webhook, name="webhook-docuseal"),
    path("webhooks/directus/", webhooks.directus_webhook, name="webhook-directus"),
    path("actions/<int:pk>/", actions.action_run_status, name="action-run-status"),
    path("actions/<int:pk>/retry/", actions.action_run_retry, name="action-run-retry"),
]
