"""Which scenarios the drill runs, in order: the stateless tier's, then the data tier's."""

from tests.drill import failover, scenarios, worker_loss

SCENARIOS = [
    (1, "rolling update", scenarios.rolling_update),
    (2, "self-healing (SIGKILL)", scenarios.self_healing),
    (3, "scale 3 → 1 → 3", scenarios.scale_down_and_up),
    (4, "database unreachable", scenarios.database_unreachable),
    (5, "Redis killed", scenarios.redis_outage),
    (6, "hung replica (SIGSTOP)", scenarios.hung_replica),
    (7, "backup and restore", scenarios.backup_and_restore),
    (8, "primary crash (node killed)", failover.primary_crash),
    (9, "primary postmaster killed", failover.postmaster_killed),
    (10, "primary stopped (-m immediate)", failover.immediate_stop),
    (11, "planned switchover", failover.switchover),
    (12, "primary frozen (SIGSTOP)", failover.primary_frozen),
    (13, "worker killed mid-task (SIGKILL, SIGTERM)", worker_loss.worker_killed),
]
# The short drill, in `make test`: every scenario but the two crash variants that fail over
# the same way as scenario 8 (`make drill` runs them).
SHORT = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13})
