from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        # Connect the Celery worker signal, and register the webhook and action handlers of each provider.
        from finance.services import leads, payouts  # noqa: F401
        from integrations import signals  # noqa: F401
        from integrations.webhooks import directus, docuseal, invoice_ninja, mautic, revolut, web_form  # noqa: F401
