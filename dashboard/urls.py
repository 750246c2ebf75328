from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/parts/<slug:name>/", views.partial, name="partial"),
    path("dashboard/urgent/snooze/", views.urgent_snooze, name="urgent-snooze"),
    path("dashboard/refresh/", views.figures_refresh, name="figures-refresh"),
    path("dashboard/refresh/status/", views.figures_refresh_status, name="figures-refresh-status"),
    path("dashboard/failed-actions/", views.failed_actions, name="failed-actions"),
]
