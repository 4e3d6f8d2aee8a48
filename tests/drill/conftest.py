"""Print the short drill's table at the end of the run."""

from tests.drill.test_drill_short import pytest_terminal_summary  # noqa: F401
