"""Count the SQL queries each anonymous page makes, with the app cache off.

`python -m bench.queries PATH...` runs the production settings in-process against the
benchmark database and prints {path: queries} as JSON. The driver runs it after each seeding
stage, so a page whose query count grows with posts or comments shows it.
"""

from __future__ import annotations

import json
import os
import sys

from config.startup import load_settings_or_exit


def count(paths: list[str]) -> dict[str, int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1", HTTP_X_FORWARDED_PROTO="https")
    counts = {}
    for path in paths:
        client.get(path)  # first use: connection set-up, lazy imports
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}")
        counts[path] = len(captured)
    return counts


def main(argv: list[str]) -> int:
    os.environ["APP_PAGE_CACHE"] = "false"
    load_settings_or_exit("config.settings.production")
    import django

    django.setup()
    print(json.dumps(count(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
