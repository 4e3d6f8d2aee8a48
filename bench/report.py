"""report.json, the table printed and pasted into docs/performance.md, and summary.png."""

from __future__ import annotations

import json
import re
from pathlib import Path

DOCS_BEGIN = "<!-- bench:table:begin -->"
DOCS_END = "<!-- bench:table:end -->"


def _measured(row: dict) -> str:
    if row.get("measured"):
        return row["measured"]
    if row.get("rps") is not None:
        text = f"{row['rps']:,.0f} req/s, p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms"
        if row.get("share") is not None:
            text += f" ({row['share']:.0%} of {row['reference']})"
        if row.get("errors"):
            text += f", {row['errors']} errors"
        return text
    return ""


def _met(row: dict) -> str:
    return {True: "met", False: "NOT MET", None: "reported"}[row["met"]]


def table(report: dict) -> list[tuple[str, str, str, str]]:
    refs = report["references"]
    rows = [
        (
            "reference: nginx static 10 KB, 1 worker",
            f"{refs['nginx_static_rps']:,.0f} req/s",
            "(ceiling)",
            "",
        ),
        (
            "reference: bare Django 10 KB, same gunicorn",
            f"{refs['django_bare_rps']:,.0f} req/s",
            "(ceiling)",
            "",
        ),
    ]
    for row in report["results"]:
        rows.append((row["name"], _measured(row), row["target"], _met(row)))
    return rows


def print_table(report: dict) -> None:
    rows = table(report)
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    header = ("figure", "measured (median)", "target", "")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))


def markdown(report: dict) -> str:
    machine = report["machine"]
    lines = [
        f"Measured {machine['date']} on commit `{machine['commit']}` with `{report['command']}` "
        f"({report['settings']['repeats']} runs of {report['settings']['duration_s']:g} s per "
        f"figure, medians; throughput with wrk, 1 thread, {report['settings']['connections']} "
        f"connections; latency at a stated rate with h2load over as many connections, after "
        f"2 s at that rate; total {report['elapsed_s'] / 60:.1f} min).",
        "",
        f"Machine: {machine['cpu']}, {machine['cpus']} CPUs, {machine['memory_gb']:.0f} GiB, "
        f"{machine['os']}, Python {machine['python']}, Django {machine['django']}, "
        f"gunicorn {machine['gunicorn']} ({report['settings']['gunicorn']}), "
        f"nginx {machine['nginx']}, PostgreSQL {machine['postgresql']}, "
        f"Redis {machine['redis']}; load average {machine['loadavg_start']} at the start, "
        f"{machine['loadavg_end']} at the end.",
        "",
        "| figure | measured (median) | target | |",
        "|---|---|---|---|",
    ]
    for row in table(report):
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |")
    return "\n".join(lines) + "\n"


def update_docs(doc: Path, report: dict) -> None:
    """Replace the table between the markers in docs/performance.md."""
    text = doc.read_text()
    block = f"{DOCS_BEGIN}\n{markdown(report)}{DOCS_END}"
    pattern = re.compile(re.escape(DOCS_BEGIN) + ".*?" + re.escape(DOCS_END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{doc}: markers {DOCS_BEGIN} / {DOCS_END} not found")
    doc.write_text(pattern.sub(lambda _: block, text))


SHAPE = ("name", "rps", "p50_ms", "p99_ms", "errors", "target", "met")


def normalise(report: dict) -> dict:
    """Every result has the issue's fields first (null where they do not apply), then extras."""
    report["results"] = [
        {**{key: row.get(key) for key in SHAPE}, **row} for row in report["results"]
    ]
    return report


def write(report: dict, out: Path) -> None:
    normalise(report)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(markdown(report))
    chart(report, out / "summary.png")


def chart(report: dict, path: Path) -> None:
    """Bars: throughput as a share of its reference; the other figures as a share of target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    throughput = [r for r in report["results"] if r.get("share") is not None]
    others = [r for r in report["results"] if r.get("of_target") is not None]
    fig, (left, right) = plt.subplots(
        1,
        2,
        figsize=(18, max(6, 0.32 * max(len(throughput), len(others)) + 1.5)),
    )
    colours = {True: "#2e7d32", False: "#c62828", None: "#607d8b"}

    names = [r["name"] for r in throughput][::-1]
    shares = [100 * r["share"] for r in throughput][::-1]
    left.barh(names, shares, color=[colours[r["met"]] for r in throughput][::-1])
    for y, row in enumerate(throughput[::-1]):
        left.text(shares[y], y, f" {shares[y]:.0f}%", va="center", fontsize=8)
        if row.get("target_share") is not None:
            left.plot([100 * row["target_share"]] * 2, [y - 0.4, y + 0.4], color="black", lw=1.5)
    left.set_xlabel("requests/s as % of its reference (black tick: target)")
    left.set_title("Throughput vs nginx static (edge) / bare Django (app)")
    left.tick_params(axis="y", labelsize=8)

    names = [r["name"] for r in others][::-1]
    shares = [100 * r["of_target"] for r in others][::-1]
    right.barh(names, shares, color=[colours[r["met"]] for r in others][::-1])
    right.axvline(100, color="black", lw=1)
    for y, value in enumerate(shares):
        right.text(value, y, f" {value:.0f}%", va="center", fontsize=8)
    right.set_xlabel("% of its limit (lower is better; 100% = the target)")
    right.set_title("Latency, memory, start-up, queries: % of their limit")
    right.tick_params(axis="y", labelsize=8)

    machine = report["machine"]
    fig.suptitle(
        f"kubeblog bench {machine['date']} · {machine['commit']} · {machine['cpus']} CPUs · "
        f"nginx {report['references']['nginx_static_rps']:,.0f} req/s · bare Django "
        f"{report['references']['django_bare_rps']:,.0f} req/s"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
