from django.urls import path

from finance import views

app_name = "finance"

urlpatterns = [
    path("scope/", views.scope_switch, name="scope-switch"),
    path("companies/", views.company_list, name="company-list"),
    path("companies/<str:code>/", views.company_detail, name="company-detail"),
    path("companies/<str:code>/edit/", views.company_edit, name="company-edit"),
]
