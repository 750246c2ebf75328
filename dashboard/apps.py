from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = _("Dashboard")

    def ready(self) -> None:
        from django.core.signals import request_finished, request_started

        from dashboard import selectors
        from dashboard.concurrent import concurrent_reads

        request_started.connect(selectors.history_rows.request_started, dispatch_uid="dashboard-history-started")
        request_finished.connect(selectors.history_rows.request_finished, dispatch_uid="dashboard-history-finished")
        concurrent_reads.carry(selectors.history_rows.request_state)
