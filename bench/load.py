"""Load generators: wrk for raw throughput and latency, locust for the reader/author mix."""

from __future__ import annotations

import csv
import json
import os
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
