"""Print the cluster suite's figures (failover and switchover times) at the end of the run."""

from tests.cluster.test_pgcluster import pytest_terminal_summary  # noqa: F401
