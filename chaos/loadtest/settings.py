"""Settings for `make loadtest`: the chaos harness's (production settings, loopback HTTP, a cheap
password hasher for the seeded users) plus the bench's URLconf, which adds the floor view
(bench/urls.py) so the floor's throughput is measured on the same server as the mix. Only
chaos/loadtest/run.py's processes read this module."""

from chaos.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
