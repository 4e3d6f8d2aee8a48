"""Figures a suite measures on the way (build time, cold start, a drill's table), printed in a
section of their own at the end of the pytest run."""

from __future__ import annotations


class Figures:
    """Lines kept during the run, written as one section of pytest's terminal summary."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        self.lines.append(line)

    def write(self, terminalreporter) -> None:
        """Call from the suite's pytest_terminal_summary hook."""
        if self.lines:
            terminalreporter.section(self.title)
            for line in self.lines:
                terminalreporter.write_line(line)
