"""Fault-injection and load harness for issue 6 (docs/reliability.md): `make chaos`, `make loadtest`."""
