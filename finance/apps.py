from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FinanceConfig(AppConfig):
    name = "finance"
    verbose_name = _("Finance")

    def ready(self) -> None:
        # Subscribe the effects that follow domain events (finance.events) and register their action handlers.
        from finance.services import automatic_deposit, mautic  # noqa: F401
