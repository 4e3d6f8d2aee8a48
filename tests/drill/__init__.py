"""The drill: several replicas of the real image behind HAProxy, with real PostgreSQL and
Redis, under a fixed load, while replicas, PostgreSQL and Redis fail on purpose.

`python -m tests.drill` (or `make drill`) runs the full drill; `--short` (or DRILL_SHORT=1)
the same scenarios with shorter waits, as `make test` does. See docs/drill.md.
"""
