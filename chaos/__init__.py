"""Fault-injection harness for issue 6 (docs/reliability.md): `make chaos`. Its stack control and seed are
reused by the load test (chaos/loadtest/run.py)."""
