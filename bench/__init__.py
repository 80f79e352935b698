"""`make bench`: synthetic clinic-network data, server-side page timings, the reminder pipeline
through a real worker and Redis, and peak RSS. See docs/performance.md."""
