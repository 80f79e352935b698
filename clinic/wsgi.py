import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

application = get_wsgi_application()

# Import every view (the URLconf) now, then put all that start-up left in memory out of the cyclic
# collector's reach: a full collection then walks what requests create, not the whole framework,
# so the slowest requests lose their ~50-100 ms pauses (docs/performance.md). Nothing is leaked:
# frozen objects are only the ones that live as long as the process anyway.
get_resolver().url_patterns  # noqa: B018
gc.freeze()
