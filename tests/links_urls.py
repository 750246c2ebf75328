"""A URLconf whose addresses start with the language, for tests/test_links.py."""

from django.conf.urls.i18n import i18n_patterns
from django.http import HttpResponse
from django.urls import path

urlpatterns = i18n_patterns(path("invoices/", lambda request: HttpResponse(), name="invoices"))
