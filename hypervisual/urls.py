from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from finance.forms import TablerPasswordChangeForm
from finance.views import second_factor

urlpatterns = [
    # Before finance's hundred addresses: the webhooks are the Hub's most frequent requests (no path is shared).
    path("", include("integrations.urls")),
    path("", include("dashboard.urls")),
    path("", include("finance.urls")),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/",
        auth_views.PasswordChangeView.as_view(form_class=TablerPasswordChangeForm),
        name="password_change",
    ),
    path("password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("account/second-factor/enrol/", second_factor.enrol, name="second-factor-enrol"),
    path("account/second-factor/verify/", second_factor.verify, name="second-factor-verify"),
    path("account/second-factor/recovery-codes/", second_factor.recovery_codes, name="second-factor-recovery-codes"),
    # Open to signed-out visitors too: the sign-in page offers the language choice.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
]

if settings.HV_SANDBOX:
    # Provider emulators for the demo and the end-to-end tests (DESIGN.md §7); never in production.
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
