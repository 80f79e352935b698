"""Container health check of a web node: GET /healthz on this container's gunicorn. Sent with the
portal's own host name, which ALLOWED_HOSTS accepts; /healthz is exempt from the HTTPS redirect.
Exit 0 when healthy, 1 otherwise (Docker's convention).

The node is healthy when /healthz answers 200, or 503 with only site-wide checks failing (outbox,
beat, safety tasks, worker): those are not this node's to fix, and marking every web node unhealthy
because beat stopped would turn a silent failure into an outage. They are printed, and alerted on
through ``manage.py check_health`` (docs/operations.md).
"""

import json
import os
import sys
import urllib.error
import urllib.request

NODE_CHECKS = ("database", "broker", "cache")


def node_healthy(status: int, body: bytes) -> tuple[bool, str]:
    if status == 200:
        return True, ""
    try:
        checks = json.loads(body).get("checks", {})
    except (ValueError, AttributeError):
        return False, f"healthz answered {status}"
    failing = "; ".join(f"{name}: {state}" for name, state in checks.items() if state != "ok")
    ok = status == 503 and all(checks.get(name) == "ok" for name in NODE_CHECKS)
    return ok, failing


def main() -> int:
    host = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost").split(",")[0].strip().lstrip(".")
    request = urllib.request.Request("http://127.0.0.1:8000/healthz", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (a fixed http:// address)
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:  # a 503 arrives as an error, with its body
        status, body = error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        print(f"healthz: {error}", file=sys.stderr)
        return 1
    ok, failing = node_healthy(status, body)
    if failing:
        print(f"healthz: {failing}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
