"""Before and after on the same machine: another revision against this checkout.

`python -m bench.compare REV` checks REV out into a temporary git worktree, seeds one
database as `make bench` does (bench/seed.py), starts the same app servers from both trees
against it (every cache off, and page cache on), and measures each page with wrk, round-robin,
`--repeats` times `--duration` seconds. It prints the medians side by side. Both trees must
agree on the schema (no migration between them).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench import load
from bench.servers import HTTPS, AppServer, data_servers, measured_pages, seeded
from harness.paths import ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("rev", help="the revision to compare this checkout with")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="kubeblog-compare-"))
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        tree = work / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), args.rev],
                       cwd=ROOT, check=True, capture_output=True)  # fmt: skip
        stack.callback(subprocess.run, ["git", "worktree", "remove", "--force", str(tree)],
                       cwd=ROOT, check=False, capture_output=True)  # fmt: skip
        env = data_servers(stack)
        data = seeded(env, work / "data.json")
        pages = measured_pages(data)
        servers = {}
        for label, cache in (("nocache", "false"), ("app", "true")):
            servers[f"{args.rev} {label}"] = AppServer(
                f"before-{label}", {**env, "APP_PAGE_CACHE": cache}, cwd=tree
            )
            servers[f"HEAD {label}"] = AppServer(f"after-{label}", {**env, "APP_PAGE_CACHE": cache})
        for server in servers.values():
            stack.callback(server.close)
            server.start()
        runs: dict[tuple[str, str], list[float]] = {}
        for server in servers.values():  # warm: connections, templates, caches
            for path in pages.values():
                load.wrk(server.url + path, 2, HTTPS)
        for _ in range(args.repeats):
            for page, path in pages.items():
                for name, server in servers.items():
                    run = load.wrk(server.url + path, args.duration, HTTPS)
                    runs.setdefault((page, name), []).append(run.rps)
    print(f"{'page':8} " + " ".join(f"{name:>22}" for name in servers))
    for page in pages:
        cells = [f"{statistics.median(runs[(page, n)]):>16,.0f} req/s" for n in servers]
        print(f"{page:8} " + " ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
