import time
from collections.abc import Callable

from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject
from django.utils.http import urlencode

from finance.scope import SESSION_KEY, CompanyScope
from finance.services.second_factor import confirmed_totp_device, second_factor_required


class RefuseNulMiddleware:
    """Refuse an address whose path or query holds a NUL character, with 400.

    PostgreSQL text cannot hold NUL: such a value, used to look a row up or filter a list, would make the
    database fail and the page answer 500. No person or provider sends one; forms refuse it in their fields.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or any("\x00" in key + value for key, value in request.GET.items()):
            return HttpResponseBadRequest("NUL character in the address", content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class CompanyScopeMiddleware:
    """Attach `request.company_scope`, built on first use from the user and the switcher's choice."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.company_scope = SimpleLazyObject(
            lambda: CompanyScope(user=request.user, selected_code=request.session.get(SESSION_KEY))
        )
        return self.get_response(request)


# When the session was last renewed (Unix seconds), and how often it is renewed at most.
SESSION_RENEWED_AT_KEY = "hv_renewed_at"
SESSION_RENEWAL_SECONDS = 60


def _renewal_due(session) -> bool:
    renewed_at = session.get(SESSION_RENEWED_AT_KEY)
    return not isinstance(renewed_at, int) or not 0 <= time.time() - renewed_at < SESSION_RENEWAL_SECONDS


class IdleSessionMiddleware(SessionMiddleware):
    """Django's session middleware, except that background refreshes do not count as the user's activity, and that
    a session is renewed at most once a minute.

    Sessions end after an idle time because the user's requests renew them (SESSION_SAVE_EVERY_REQUEST);
    a dashboard left open refreshes itself every minute and would otherwise never log out. Renewing means writing
    the session's row and waiting for its commit: once a minute is enough for a two-hour idle time, and a page's
    requests after the first skip that write.
    """

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and not session.is_empty():
            accessed = session.accessed  # by the request, before the renewal's own look below
            # Views set `is_background_refresh` on requests the page makes by itself (dashboard partials).
            if not session.modified and (getattr(request, "is_background_refresh", False) or not _renewal_due(session)):
                if accessed:
                    patch_vary_headers(response, ("Cookie",))
                return response
            session[SESSION_RENEWED_AT_KEY] = int(time.time())  # saved below, with whatever else changed
        return super().process_response(request, response)


class SecondFactorMiddleware:
    """People whose role moves money (CEO, finance) reach no page before their second factor is verified.

    They are sent to enrol an authenticator the first time, to type its code after every sign-in; the
    pages of that step, signing out and the language choice stay open. Runs after django-otp's
    OTPMiddleware, which tells whether this session's second factor was verified.
    """

    OPEN_URL_NAMES = frozenset(
        {"second-factor-enrol", "second-factor-verify", "second-factor-recovery-codes", "logout", "set_language"}
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated or user.is_verified() or request.resolver_match.url_name in self.OPEN_URL_NAMES:
            return None
        # The scope's roles are read once per request and shared with the view: no query of their own here.
        if not second_factor_required(user, roles=request.company_scope.roles.values()):
            return None
        step = "second-factor-verify" if confirmed_totp_device(user) else "second-factor-enrol"
        url = f"{reverse(step)}?{urlencode({'next': request.get_full_path()})}"
        if request.headers.get("HX-Request"):
            return HttpResponse(status=204, headers={"HX-Redirect": url})
        return redirect(url)
