"""reverse(), kept per process, and the `{% url %}` tag on it.

Every page of the Hub links to the same few dozen pages: the sidebar alone to 18, the dashboard's status bar to 35,
and each reverse() walks the URL patterns again (15–30 µs). For the same arguments, reverse() answers the same
address as long as the URLconf, the script prefix the Hub is served under and the current application are the same,
so those are the cache's key with the arguments, and the active language (which an address under
i18n_patterns() would start with). A failed reverse() raises as before and is not kept. Only text and
whole numbers are kept as arguments: an object (a lazy translation, a model) is reversed each time.
"""

import functools

from django import template
from django.conf import settings
from django.template import defaulttags
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape
from django.utils.translation import get_language

register = template.Library()

_KEPT_TYPES = (str, int)  # a template's quoted text is a SafeString, a str; a lazy translation is neither
# A request that sets no current application of its own (Django's URLNode then takes the resolved URL's namespace).
_NOT_SET = object()


def cached_reverse(viewname: str, args: tuple = (), kwargs: dict | None = None, current_app: str | None = None) -> str:
    """reverse(viewname, args=args, kwargs=kwargs, current_app=current_app), reversed once per process."""
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    kwargs = kwargs or {}
    if not all(isinstance(value, _KEPT_TYPES) for value in (viewname, current_app or "", *args, *kwargs.values())):
        return reverse(viewname, urlconf=urlconf, args=args, kwargs=kwargs, current_app=current_app)
    return _reversed(urlconf, get_script_prefix(), get_language(), current_app, viewname, tuple(args),
                     tuple(sorted(kwargs.items())))  # fmt: skip


@functools.lru_cache(maxsize=2048)
def _reversed(urlconf: str, _script_prefix: str, _language: str | None, current_app: str | None, viewname: str,
              args: tuple, kwargs: tuple) -> str:  # fmt: skip
    return reverse(viewname, urlconf=urlconf, args=args, kwargs=dict(kwargs), current_app=current_app)


class CachedURLNode(defaulttags.URLNode):
    """Django's `{% url %}` node (same syntax, same output, `as` swallowing a failed reverse), on cached_reverse."""

    def render(self, context) -> str:
        request = getattr(context, "request", None)
        current_app = getattr(request, "current_app", _NOT_SET)
        if current_app is _NOT_SET:
            current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)
        try:
            url = cached_reverse(
                self.view_name.resolve(context),
                args=tuple(arg.resolve(context) for arg in self.args),
                kwargs={name: value.resolve(context) for name, value in self.kwargs.items()},
                current_app=current_app,
            )
        except NoReverseMatch:
            if self.asvar is None:
                raise
            url = ""
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser, token) -> CachedURLNode:
    """Parsed by Django's own `{% url %}`; rendered through the per-process cache."""
    parsed = defaulttags.url(parser, token)
    return CachedURLNode(parsed.view_name, parsed.args, parsed.kwargs, parsed.asvar)
