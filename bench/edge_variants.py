"""What the edge cache's configuration costs per request, one directive at a time.

`python -m bench.edge_variants` starts PostgreSQL, Redis, one app server (production
settings, app cache on) and nginx serving the 10 KB reference page, then measures the home
page through the shipped edge config (deploy/k8s/components/edge-cache/nginx.conf) and
through copies of it with one thing changed, round-robin with the static reference:

- no access log;
- no access log and neither `add_header` (X-Request-ID, X-Cache-Status);
- `open_file_cache` on (the cached page's file kept open between requests).

wrk, 1 thread, 50 connections, `--duration` s a run, `--repeats` rounds; it prints req/s
per variant and as a share of nginx static. The page is seeded with two posts: this
measures nginx, not the app (every request is an edge hit).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from bench import load
from bench.nginx import Nginx, edge_config
from bench.pages import reference_page
from bench.servers import HTTPS, AppServer, data_servers
from harness.servers import free_port

LOG = "access_log /dev/stdout edge buffer=64k flush=1s;"
HEADERS = (
    "add_header X-Request-ID $edge_request_id always;",
    "add_header X-Cache-Status $upstream_cache_status always;",
)
OPEN_FILES = "open_file_cache max=10000 inactive=30s;\n    proxy_cache_path"


def _without(text: str, *lines: str) -> str:
    for line in lines:
        if text.count(line) != 1:
            raise RuntimeError(f"edge config: expected {line!r} exactly once")
        text = text.replace(line, "")
    return text


VARIANTS = {
    "as shipped": lambda c: c,
    "no access log": lambda c: _without(c, LOG),
    "no access log, no add_header": lambda c: _without(c, LOG, *HEADERS),
    "open_file_cache": lambda c: c.replace("proxy_cache_path", OPEN_FILES, 1),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.edge_variants", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rps: dict[str, list[float]] = {"nginx static": [], **{name: [] for name in VARIANTS}}
    with contextlib.ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="kubeblog-edge-"))
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        env = data_servers(stack)
        app = AppServer("app", env)
        stack.callback(app.close)
        app.start()
        (work / "ref.html").write_bytes(reference_page())
        os.chmod(work, 0o755)  # noqa: S103 - nginx's workers (nobody) read the page
        static = Nginx.static(work).start()
        stack.callback(static.stop)
        for _ in range(args.repeats):
            rps["nginx static"].append(load.wrk(static.url + "/ref.html", args.duration).rps)
            for name, change in VARIANTS.items():
                port = free_port()
                edge = Nginx("edge", change(edge_config(app.port, port)), port).start()
                try:
                    load.wrk(edge.url + "/", 1, HTTPS)  # stored at the edge, warm
                    rps[name].append(load.wrk(edge.url + "/", args.duration, HTTPS).rps)
                finally:
                    edge.stop()
    static_rps = statistics.median(rps["nginx static"])
    for name, runs in rps.items():
        median = statistics.median(runs)
        print(f"{name:30} {median:10,.0f} req/s  {median / static_rps:5.0%} of nginx static")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
