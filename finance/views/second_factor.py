"""The second step of signing in for the CEO and finance: enrol an authenticator, then type its code."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from finance.forms import SecondFactorCodeForm
from finance.services import second_factor

# The recovery codes are shown once, on the page after the enrolment; they wait in the session until then.
RECOVERY_CODES_SESSION_KEY = "second_factor_recovery_codes"


def _step(name: str, next_url: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': next_url})}"


def _next_url(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return wanted
    return "/"


@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """Scan the key into an authenticator app and confirm it with a first code."""
    if second_factor.confirmed_totp_device(request.user) and not request.user.is_verified():
        # Replacing an authenticator takes the current one first: a stolen password is not enough.
        return redirect(_step("second-factor-verify", _next_url(request)))
    enrolment = second_factor.enrolment_start(request.user)
    form = SecondFactorCodeForm(request.POST or None)
    form.fields["code"].help_text = ""  # no recovery codes yet: the page says which digits to type
    if request.method == "POST" and form.is_valid():
        codes = second_factor.enrolment_confirm(device=enrolment.device, code=form.cleaned_data["code"])
        if codes is None:
            form.add_error("code", _("This code does not match: check the time of your phone and try the next one."))
        else:
            otp_login(request, enrolment.device)
            request.session[RECOVERY_CODES_SESSION_KEY] = codes
            return redirect(_step("second-factor-recovery-codes", _next_url(request)))
    return render(request, "registration/second_factor_enrol.html",
                  {"form": form, "enrolment": enrolment, "next": _next_url(request)})  # fmt: skip


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """Type the authenticator's code (or a recovery code) after signing in."""
    if second_factor.confirmed_totp_device(request.user) is None:
        return redirect(_step("second-factor-enrol", _next_url(request)))
    form = SecondFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = second_factor.second_factor_verify(request.user, form.cleaned_data["code"])
        if result.device is not None:
            otp_login(request, result.device)
            if result.device.persistent_id.startswith("otp_static"):
                left = result.device.token_set.count()
                messages.warning(request, _("Recovery code used: %(left)s left.") % {"left": left})
            return redirect(_next_url(request))
        if result.wait_seconds:
            form.add_error("code", _("Too many wrong codes: wait %(seconds)s s before the next try.")
                           % {"seconds": result.wait_seconds})  # fmt: skip
        else:
            form.add_error("code", _("This code does not match."))
    return render(request, "registration/second_factor_verify.html", {"form": form, "next": _next_url(request)})


def recovery_codes(request: HttpRequest) -> HttpResponse:
    """The recovery codes of the enrolment just done, shown this once."""
    codes = request.session.pop(RECOVERY_CODES_SESSION_KEY, None)
    if not codes:
        return redirect(_next_url(request))
    return render(request, "registration/second_factor_recovery_codes.html",
                  {"codes": codes, "next": _next_url(request)})  # fmt: skip
