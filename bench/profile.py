"""Where an uncached page's time goes: cProfile of each measured page, in-process.

`python -m bench.profile` starts PostgreSQL and Redis, seeds the benchmark's data
(bench/seed.py), and renders each measured page through Django's WSGI handler with production
settings and every cache off (`APP_PAGE_CACHE=false`), as the "nocache" server would, and
again with the page cache on and warm (`-cached`: what a hit costs), then:

- prints the mean time per page in milliseconds (in-process: no gunicorn, no socket);
- writes `build/bench/profile-<page>.txt`: the functions that take the time, by their own time
  and by their cumulative time;
- writes `build/bench/profile-<page>.pstats` for a viewer (snakeviz, or `python -m pstats`).

`--pages`, `--requests` choose what to profile; `--data FILE` reuses a seed already made (with
DATABASE_URL and REDIS_URL pointing at its servers, for a quick loop while optimising).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.paths import BUILD, ROOT

OUT = BUILD / "bench"


def _environ(path: str) -> dict:
    path, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_X_FORWARDED_FOR": "192.0.2.10",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def _get(app, path: str) -> bytes:
    status = []
    body = b"".join(app(_environ(path), lambda s, h, *a: status.append(s)))
    if not status or not status[0].startswith("200"):
        raise SystemExit(f"{path}: {status[0] if status else 'no answer'}")
    return body


def profile(pages: dict[str, str], requests: int, suffix: str = "") -> dict[str, float]:
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    OUT.mkdir(parents=True, exist_ok=True)
    timings = {}
    for name, path in pages.items():
        for _ in range(20):  # warm: connection, lazy imports, template loading
            _get(app, path)
        started = time.perf_counter()
        for _ in range(requests):
            _get(app, path)
        timings[f"{name}{suffix}"] = (time.perf_counter() - started) / requests * 1000
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(requests):
            _get(app, path)
        profiler.disable()
        name = f"{name}{suffix}"
        profiler.dump_stats(OUT / f"profile-{name}.pstats")
        text = io.StringIO()
        mode = "page cache warm" if suffix else "every cache off"
        text.write(f"{name}: GET {path}, {requests} requests in-process, {mode}\n")
        text.write(f"mean {timings[name]:.3f} ms per request without the profiler\n\n")
        stats = pstats.Stats(profiler, stream=text).strip_dirs()
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(60)
        (OUT / f"profile-{name}.txt").write_text(text.getvalue())
    return timings


def _run_in_process(args, data: dict) -> int:
    os.environ["APP_PAGE_CACHE"] = "true" if args.cached else "false"
    from config.startup import load_settings_or_exit

    load_settings_or_exit("config.settings.production")
    import django

    django.setup()
    from bench.servers import measured_pages

    every = measured_pages(data)
    pages = {name: every[name] for name in args.pages.split(",")}
    timings = profile(pages, args.requests, "-cached" if args.cached else "")
    for name, ms in timings.items():
        print(f"{name:14} {ms:6.3f} ms per request (in-process)   build/bench/profile-{name}.txt")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--pages", default="home,detail,search,feed")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--cached", action="store_true", help="profile page-cache hits")
    parser.add_argument("--data", help="a seed's data file; DATABASE_URL/REDIS_URL set")
    args = parser.parse_args(argv)
    if args.data:
        return _run_in_process(args, json.loads(Path(args.data).read_text()))

    from bench.servers import data_servers, seeded

    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kubeblog-prof-")))
        env = data_servers(stack)
        seeded(env, work / "data.json")
        command = [sys.executable, "-m", "bench.profile", "--data", str(work / "data.json"),
                   "--pages", args.pages, "--requests", str(args.requests)]  # fmt: skip
        status = subprocess.call(command, cwd=ROOT, env=env)
        return status or subprocess.call([*command, "--cached"], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
