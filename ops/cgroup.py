"""How many CPUs this container may use: its cgroup quota, not the host's core count."""

import math
import os
from pathlib import Path


def cpu_quota(root: str = "/sys/fs/cgroup") -> float | None:
    """CPUs allowed by the cgroup (v2 `cpu.max`, else v1 CFS quota), or None if unlimited."""
    base = Path(root)
    try:
        quota, period = (base / "cpu.max").read_text().split()[:2]
        if quota == "max":
            return None
        return int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((base / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((base / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def available_cpus(root: str = "/sys/fs/cgroup") -> int:
    """Whole CPUs this process may use: the quota rounded up, bounded by its CPU affinity."""
    usable = len(os.sched_getaffinity(0))
    quota = cpu_quota(root)
    if quota is None:
        return usable
    return max(1, min(usable, math.ceil(quota)))
