"""The web process's heap once the Hub is loaded: kept out of the garbage collector's full passes.

Loading Django, the apps and the URLconf leaves about 185,000 objects that live as long as the process. Python's
cyclic garbage collector walks all of them in each full (oldest-generation) pass, which the objects that requests
keep alive for their duration set off now and then (once in 40 dashboard pages, measured): 100 ms on these machines,
added to the one request that happens to run it. Frozen, they are never walked again (the same pass then takes
microseconds); what requests allocate is collected as before.
"""

import gc

from django.urls import get_resolver


def settle_loaded_heap() -> None:
    """Load the URLconf (and through it every view module), then freeze what is loaded. Call once per process,
    after the WSGI application was made and before it serves a request."""
    get_resolver().url_patterns  # noqa: B018 - importing the views is the point
    gc.collect()
    gc.freeze()
