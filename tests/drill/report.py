"""build/drill/report.json and build/drill/timeline.png from the load's records."""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from pathlib import Path

from tests.drill.clock import Event
from tests.drill.haproxy import LogLine
from tests.drill.load import Record
from tests.drill.scenarios import Outcome, _percentile
from tests.drill.verify import Verdict


def summarize(
    outcome: Outcome,
    records: list[Record],
    verdicts: dict[int, Verdict],
    log: dict[str, list[LogLine]],
    machine: dict,
) -> dict:
    """The scenario's object in report.json; adds the database checks to its verdict."""
    inside = [r for r in records if r.phase == "load" and outcome.start <= r.sent < outcome.end]
    failures = [r for r in inside if not r.ok]
    latencies = [r.latency_ms for r in inside if r.done > r.sent]
    writes = [verdicts[r.seq] for r in inside if r.seq in verdicts]
    missing = [r.request_id for r in inside if r.seq in verdicts and verdicts[r.seq].missing]
    doubled = [r.request_id for r in inside if r.seq in verdicts and verdicts[r.seq].duplicate]
    partial = [r.request_id for r in inside if r.seq in verdicts and verdicts[r.seq].incomplete]
    if outcome.error is None:
        outcome.check(
            "every write answered as done is in the database (by id)", not missing, missing[:10]
        )
        outcome.check("no write applied twice", not doubled, doubled[:10])
        outcome.check("no write half-applied", not partial, partial[:10])
    retried = [r for r in inside if any(line.retries for line in log.get(r.request_id, []))]
    sent_twice = [r.request_id for r in inside if len(log.get(r.request_id, [])) > 1]
    if outcome.error is None:
        outcome.check("no request reached the proxy twice", not sent_twice, sent_twice[:10])
        if outcome.no_retries:
            outcome.check(
                "the proxy retried nothing",
                not retried,
                [(r.request_id, r.kind, r.server) for r in retried[:10]],
            )
    return {
        "number": outcome.number,
        "name": outcome.name,
        "requests": len(inside),
        "failed": len(failures),
        "failed_reads": sum(1 for r in failures if r.is_read),
        "failed_writes": sum(1 for r in failures if r.is_write),
        "acknowledged_writes_lost": len(missing),
        "p50_ms": _round(_percentile(latencies, 50)),
        "p99_ms": _round(_percentile(latencies, 99)),
        "passed": outcome.passed,
        "seconds": round(outcome.end - outcome.start, 1),
        "writes": len(writes),
        "writes_acknowledged": sum(1 for v in writes if v.acked),
        "writes_failed_but_applied": sum(1 for v in writes if not v.acked and v.applied),
        "retried_by_haproxy": len(retried),
        # Only possible when the connection failed, before the request reached a replica.
        "posts_retried_on_connection_failure": sum(1 for r in retried if r.method == "POST"),
        "failure_reasons": Counter(r.why for r in failures),
        **outcome.figures,
        **machine,
        "checks": outcome.checks,
        "error": outcome.error,
        "window_s": [round(outcome.start, 2), round(outcome.end, 2)],
    }


def write_report(path: Path, report: dict) -> None:
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")


def table(report: dict) -> str:
    """The report's scenarios as a Markdown table, as docs/drill.md shows it."""
    rows = [
        "| # | scenario | requests | failed | failed reads | failed writes"
        " | acknowledged writes lost | p50 ms | p99 ms | passed |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in report["scenarios"]:
        rows.append(
            f"| {s['number']} | {s['name']} | {s['requests']} | {s['failed']} | {s['failed_reads']}"
            f" | {s['failed_writes']} | {s['acknowledged_writes_lost']}"
            f" | {s['p50_ms']} | {s['p99_ms']}"
            f" | {'yes' if s['passed'] else 'NO'} |"
        )
    return "\n".join(rows)


def plot_timeline(
    path: Path,
    records: list[Record],
    events: list[Event],
    outcomes: list[Outcome],
    up_counts: list[tuple[float, int]],
    machine: list[tuple[float, float, int]],
    colors: dict[str, str],
    server_colors: dict[str, str],
    title: str,
) -> None:
    """Requests per second (by the colour of the version that answered) above the axis,
    failures below it; latency and the replicas UP in HAProxy; how busy the shared machine
    was; faults (red) and heals (green) marked across all three."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    load = [r for r in records if r.phase == "load"]
    if not load:
        return
    start = int(min(r.sent for r in load))
    end = int(max(r.sent for r in load)) + 1
    seconds = list(range(start, end))
    index = {s: i for i, s in enumerate(seconds)}
    palette = {**colors, "other": "#9e9e9e"}
    ok_by = {key: [0] * len(seconds) for key in palette}
    failed_reads = [0] * len(seconds)
    failed_writes = [0] * len(seconds)
    latency: list[list[float]] = [[] for _ in seconds]
    for r in load:
        i = index.get(int(r.sent))
        if i is None:
            continue
        latency[i].append(r.latency_ms)
        if r.ok:
            # Redirects and the feed carry no footer: attribute them by the replica HAProxy named.
            key = r.color if r.color in colors else server_colors.get(r.server or "", "other")
            ok_by[key][i] += 1
        elif r.is_read:
            failed_reads[i] -= 1
        else:
            failed_writes[i] -= 1

    fig, (top, bottom, host) = plt.subplots(
        3, 1, figsize=(16, 10), sharex=True, gridspec_kw={"height_ratios": [3, 1.6, 0.8]}
    )
    bottom_stack = [0] * len(seconds)
    for key, values in ok_by.items():
        if any(values):
            label = f"answered by {key}" if key != "other" else "answered (no version shown)"
            top.bar(
                seconds,
                values,
                width=1.0,
                bottom=bottom_stack,
                color=palette[key],
                label=label,
                linewidth=0,
            )
            bottom_stack = [a + b for a, b in zip(bottom_stack, values, strict=True)]
    top.bar(seconds, failed_reads, width=1.0, color="#d50000", label="failed reads", linewidth=0)
    top.bar(
        seconds,
        failed_writes,
        width=1.0,
        bottom=failed_reads,
        color="#6a1b9a",
        label="failed writes",
        linewidth=0,
    )
    top.axhline(0, color="black", linewidth=0.6)
    top.set_ylabel("requests per second\n(failures below the line)")
    low = min(min(a + b for a, b in zip(failed_reads, failed_writes, strict=True)), -1)
    high = max(bottom_stack) * 1.35 + 1
    top.set_ylim(low * 1.15, high)

    p50 = [_percentile(v, 50) for v in latency]
    p99 = [_percentile(v, 99) for v in latency]
    bottom.plot(seconds, [v if v else None for v in p50], color="#1565c0", linewidth=1, label="p50")
    bottom.plot(seconds, [v if v else None for v in p99], color="#ef6c00", linewidth=1, label="p99")
    bottom.set_yscale("log")
    bottom.set_ylabel("latency (ms)")
    if machine:
        host.fill_between(
            [m[0] for m in machine],
            [m[1] for m in machine],
            color="#90a4ae",
            step="post",
            linewidth=0,
        )
        host.set_ylim(0, 100)
        host.set_ylabel("machine CPU\nbusy %")
    host.set_xlabel("seconds since the drill began")
    if up_counts:
        twin = bottom.twinx()
        twin.step(
            [t for t, _ in up_counts],
            [n for _, n in up_counts],
            where="post",
            color="#2e7d32",
            linewidth=1.2,
            label="replicas UP in HAProxy",
        )
        twin.set_ylabel("replicas UP", color="#2e7d32")
        twin.set_ylim(0, max(n for _, n in up_counts) + 1.5)
        twin.legend(loc="upper right", fontsize=8)
    bottom.legend(loc="upper left", fontsize=8)

    for k, outcome in enumerate(outcomes):
        for axis in (top, bottom, host):
            axis.axvspan(
                outcome.start,
                outcome.end,
                color="#000000",
                alpha=0.04 if k % 2 else 0.0,
                linewidth=0,
            )
        verdict = "pass" if outcome.passed else "FAIL"
        # Wrapped to the scenario's width on the axis, so neighbouring names never overlap.
        share = (outcome.end - outcome.start) / max(1.0, end - start)
        name = textwrap.fill(f"{outcome.number}. {outcome.name}", max(6, int(share * 200)))
        top.text(
            (outcome.start + outcome.end) / 2, high * 0.97,
            f"{name}\n{verdict}",
            ha="center", va="top", fontsize=8, color="black" if outcome.passed else "#d50000",
            fontweight="bold",
        )  # fmt: skip
    for event in events:
        if event.kind not in ("fault", "heal"):
            continue
        color = "#d50000" if event.kind == "fault" else "#2e7d32"
        for axis in (top, bottom, host):
            axis.axvline(event.t, color=color, linestyle="--", linewidth=0.9)
        top.text(
            event.t,
            high * 0.80,
            " " + _short(event.label),
            rotation=90,
            va="top",
            ha="right",
            fontsize=6.5,
            color=color,
        )
    top.legend(loc="lower left", fontsize=8, ncol=5)
    top.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _short(label: str) -> str:
    return label if len(label) <= 46 else label[:45] + "…"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
