from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from finance.scope import SESSION_KEY, CompanyScope


class CompanyScopeMiddleware:
    """Attach `request.company_scope`, built on first use from the user and the switcher's choice."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.company_scope = SimpleLazyObject(
            lambda: CompanyScope(user=request.user, selected_code=request.session.get(SESSION_KEY))
        )
        return self.get_response(request)
