"""Load generators: wrk for raw throughput and latency, locust for the reader/author mix."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
WRK = "wrk"
CONNECTIONS = 50

# wrk prints this line when it is done: exact counts and percentiles, no text to parse.
WRK_REPORT = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
"""

# Like WRK_REPORT, but each request takes the next path of a list (the soak's mixed traffic).
WRK_PATHS = r"""
local paths = {}
local i = 0
init = function(args)
  for _, p in ipairs(args) do paths[#paths + 1] = p end
end
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""


@dataclass
class Run:
    """One load run: throughput, latency percentiles and every kind of error."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def _script(text: str) -> Path:
    fd, name = tempfile.mkstemp(prefix="kubeblog-bench-", suffix=".lua")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    return Path(name)


def wrk(
    url: str,
    seconds: float,
    headers: dict[str, str] | None = None,
    paths: list[str] | None = None,
    connections: int = CONNECTIONS,
) -> Run:
    """Run wrk (one thread, `connections` keep-alive connections) against `url`."""
    script = _script((WRK_PATHS if paths else "") + WRK_REPORT)
    cmd = [WRK, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "-s", str(script)]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    if paths:
        cmd += ["--", *paths]
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=seconds + 60, check=False
        ).stdout
    finally:
        script.unlink(missing_ok=True)
    line = next((x for x in out.splitlines() if x.startswith("BENCH-JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no report for {url}:\n{out}")
    data = json.loads(line.removeprefix("BENCH-JSON "))
    duration = data["duration_us"] / 1e6
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Run(
        rps=data["requests"] / duration,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=errors,
        requests=data["requests"],
        seconds=duration,
    )


def locust(
    host: str, seconds: float, users: int, data_file: Path, workdir: Path
) -> tuple[Run, dict]:
    """Run bench/locustfile.py headless; return the aggregate and the per-request rows."""
    prefix = workdir / "locust"
    cmd = [
        str(Path(sys.executable).parent / "locust"),
        "-f",
        str(HERE / "locustfile.py"),
        "--headless",
        "--only-summary",
        "--skip-log-setup",
        "-u",
        str(users),
        "-r",
        str(min(users, 100)),
        "-t",
        f"{seconds:g}s",
        "--stop-timeout",
        "5",
        "--reset-stats",
        "-H",
        host,
        "--csv",
        str(prefix),
    ]
    env = {**os.environ, "BENCH_DATA": str(data_file)}
    subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 90, check=False)
    rows = {}
    with open(f"{prefix}_stats.csv", newline="") as stats:
        for row in csv.DictReader(stats):
            rows[f"{row['Type']} {row['Name']}".strip()] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": float(row["Requests/s"]),
                "p50_ms": float(row["50%"] or 0),
                "p99_ms": float(row["99%"] or 0),
            }
    total = rows.pop("Aggregated")
    run = Run(
        rps=total["rps"],
        p50_ms=total["p50_ms"],
        p99_ms=total["p99_ms"],
        errors=total["failures"],
        requests=total["requests"],
        seconds=seconds,
    )
    return run, rows


H2LOAD = "h2load"
REQUESTS_PER_CONNECTION = 8_000


@dataclass
class RateRun:
    """One constant-rate run: the rate asked and reached, latency percentiles, errors."""

    rate: float
    achieved: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    errors: int
    requests: int

    def as_dict(self) -> dict:
        return asdict(self)


def constant_rate(
    url: str,
    rate: float,
    seconds: float,
    headers: dict[str, str] | None = None,
    connections: int = CONNECTIONS,
    lead_in: float = 2.0,
) -> RateRun:
    """Send `rate` requests/s for about `seconds`, whatever the answers take (open loop),
    after `lead_in` seconds at that rate that are not counted.

    h2load (nghttp2) in HTTP/1.1: each of `connections` keep-alive connections sends
    rate/connections requests per second, and the connections start 1/rate s apart, so their
    requests interleave evenly instead of leaving in bursts of `connections`. More
    connections are used where one would carry more than REQUESTS_PER_CONNECTION requests:
    nginx closes a keep-alive connection after 10,000, and h2load does not open it again.
    Latency is from sending a request to its whole answer (h2load's per-request log). A
    request waits behind the one before it on its connection only if that one took longer
    than connections/rate s (167 ms at 300 req/s, 33 ms at 1,500): below that, the figures
    are not flattered by the client waiting (coordinated omission).
    """
    if lead_in:  # new connections and a server fresh from other load settle first
        constant_rate(url, rate, lead_in, headers, connections, lead_in=0)
    requests = max(connections, round(rate * seconds))
    connections = max(connections, math.ceil(requests / REQUESTS_PER_CONNECTION))
    fd, name = tempfile.mkstemp(prefix="kubeblog-bench-", suffix=".h2load")
    os.close(fd)
    log = Path(name)
    log.unlink()  # h2load appends to it
    cmd = [
        H2LOAD, "--h1", "-c", str(connections), "-n", str(requests),
        "--rps", f"{rate / connections:.3f}",
        "-r", "1", "--rate-period", f"{max(1, round(1000 / rate))}ms",
        "--log-file", str(log),
    ]  # fmt: skip
    for header, value in (headers or {}).items():
        cmd += ["-H", f"{header}: {value}"]
    cmd.append(url)
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=seconds * 3 + 60, check=False
        ).stdout
        lines = log.read_text().splitlines() if log.exists() else []
    finally:
        log.unlink(missing_ok=True)
    finished = re.search(r"finished in ([\d.]+)s", out)
    if finished is None or not lines:
        raise RuntimeError(f"h2load gave no report for {url}:\n{out}")
    latencies = sorted(int(line.split("\t")[2]) for line in lines)
    statuses = [line.split("\t")[1] for line in lines]
    done = re.search(r"(\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", out)
    failed = sum(int(n) for n in done.groups()[1:]) if done else requests
    return RateRun(
        rate=rate,
        achieved=len(lines) / float(finished.group(1)),
        p50_ms=_percentile(latencies, 0.50) / 1000,
        p99_ms=_percentile(latencies, 0.99) / 1000,
        p999_ms=_percentile(latencies, 0.999) / 1000,
        errors=failed + sum(1 for s in statuses if not s.startswith("2")),
        requests=len(lines),
    )


def _percentile(values: list[int], share: float) -> float:
    """The nearest-rank percentile of sorted `values`."""
    return values[min(len(values) - 1, max(0, math.ceil(share * len(values)) - 1))]
