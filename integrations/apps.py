from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        # Connect the Celery worker signal, register each provider's connection test (`@status_probe`) and
        # webhook handlers. The action handlers are registered by the finance services (finance.apps).
        import integrations.docuseal
        import integrations.erpnext
        import integrations.invoice_ninja
        import integrations.mautic
        import integrations.openai
        import integrations.revolut
        import integrations.signals
        import integrations.webhooks.directus
        import integrations.webhooks.docuseal
        import integrations.webhooks.invoice_ninja
        import integrations.webhooks.mautic
        import integrations.webhooks.revolut
        import integrations.webhooks.web_form  # noqa: F401
