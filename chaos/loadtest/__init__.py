"""`make loadtest` and `make loadtest-capacity`: the clinic's mix of users driven by locust
against gunicorn, PostgreSQL and Redis on loopback (docs/performance.md, "Load test")."""
