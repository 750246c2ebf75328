from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FinanceConfig(AppConfig):
    name = "finance"
    verbose_name = _("Finance")

    def ready(self) -> None:
        # Subscribe the effects that follow domain events (finance.events) and register the action handlers
        # (`@action_handler`) of every provider's effects.
        from finance.services import (  # noqa: F401
            automatic_deposit,
            capture,
            docuseal,
            invoice_ninja,
            leads,
            mautic,
            revolut,
        )
