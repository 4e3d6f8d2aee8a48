"""Support code, not tests: throwaway servers (PostgreSQL, Redis, gunicorn, podman), load
generation and reports, used by the test suites, the drill and the benchmark.

Nothing here is collected by pytest, and nothing here ships in the image.
"""
