"""Container health check: GET /healthz on this container's gunicorn (database, broker and cache
answer: 200; else 503). Sent with the portal's own host name, which ALLOWED_HOSTS accepts; /healthz
is exempt from the HTTPS redirect. Exit 0 when healthy, 1 otherwise (Docker's convention)."""

import os
import sys
import urllib.error
import urllib.request

host = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost").split(",")[0].strip().lstrip(".")
request = urllib.request.Request("http://127.0.0.1:8000/healthz", headers={"Host": host})
try:
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (a fixed http:// address)
        sys.exit(0 if response.status == 200 else 1)
except (urllib.error.URLError, OSError) as error:
    print(f"healthz: {error}", file=sys.stderr)
    sys.exit(1)
