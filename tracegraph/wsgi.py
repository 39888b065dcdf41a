import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracegraph.settings")
application = get_wsgi_application()

# Import the URLconf, and with it the views, networkx and the graph code, as
# the worker boots rather than in its first request: 0.3 s the first user of
# each worker would otherwise wait (measured on a 2-core machine).
get_resolver().url_patterns  # noqa: B018
