import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from hypervisual.heap import settle_loaded_heap

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hypervisual.settings")

application = get_wsgi_application()

# Fail at start-up rather than at the first request: reading an empty SECRET_KEY raises
# ImproperlyConfigured, so a server without DJANGO_SECRET_KEY never starts.
settings.SECRET_KEY  # noqa: B018

settle_loaded_heap()
