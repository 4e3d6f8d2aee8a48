"""The replicated PostgreSQL data tier of harness/pgcluster.py, on real servers: three Patroni
nodes with synchronous replication behind HAProxy and PgBouncer. A crashed primary loses no
acknowledged commit, and writes through PgBouncer work again within 15 s."""

from __future__ import annotations

import shutil
import threading
import time

import psycopg
import pytest

from harness.pgcluster import PostgresCluster
from harness.report import Figures

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

FIGURES = Figures("kubeblog PostgreSQL cluster figures")
WRITES_BACK_WITHIN = 15.0  # seconds from a node crash to writes acknowledged again


def pytest_terminal_summary(terminalreporter) -> None:
    FIGURES.write(terminalreporter)


@pytest.fixture(scope="module")
def cluster():
    missing = [b for b in ("patroni", "etcd", "pgbouncer", "haproxy") if not shutil.which(b)]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (scripts/system-deps.sh test)")
    with PostgresCluster() as pg:
        with psycopg.connect(pg.direct_url, autocommit=True) as conn:
            conn.execute("CREATE TABLE acked (id int PRIMARY KEY, port int NOT NULL)")
        yield pg


class Writer(threading.Thread):
    """Commits one row at a time through PgBouncer, as the app does, and records every
    acknowledged commit: id -> (when, port of the PostgreSQL server that acknowledged it).
    A failed attempt is retried with a new id on a new connection; stops by itself."""

    def __init__(self, url: str, first_id: int, limit: float = 60.0) -> None:
        super().__init__(daemon=True)
        self.url, self.next_id, self.limit = url, first_id, limit
        self.acked: dict[int, tuple[float, int]] = {}
        self.failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        conn = None
        deadline = time.monotonic() + self.limit
        while not self.stop.is_set() and time.monotonic() < deadline:
            row, self.next_id = self.next_id, self.next_id + 1
            try:
                if conn is None:
                    conn = psycopg.connect(
                        self.url, autocommit=True, connect_timeout=2, prepare_threshold=None
                    )
                port = conn.execute(
                    "INSERT INTO acked VALUES (%s, inet_server_port()) RETURNING port", (row,)
                ).fetchone()[0]
                self.acked[row] = (time.monotonic(), port)
            except psycopg.Error:
                self.failures += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
        if conn is not None:
            conn.close()

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count and time.monotonic() < deadline and self.is_alive():
            time.sleep(0.02)
        assert len(self.acked) >= count, f"only {len(self.acked)} commits acknowledged"


def rows_on(cluster: PostgresCluster, name: str) -> set[int]:
    return {row[0] for row in cluster.query(name, "SELECT id FROM acked")}


def test_leader_sync_standby_and_durable_settings(cluster):
    leader, sync = cluster.leader(), cluster.sync_standby()
    assert leader and sync and leader != sync
    with psycopg.connect(cluster.direct_url, autocommit=True) as conn:
        show = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("fsync", "synchronous_commit", "full_page_writes", "wal_log_hints")
        }
        standby_names = conn.execute("SHOW synchronous_standby_names").fetchone()[0]
        port = conn.execute("SELECT inet_server_port()").fetchone()[0]
    assert show == dict.fromkeys(show, "on")
    assert sync in standby_names
    assert port == cluster.nodes[leader].port  # HAProxy sends connections to the primary
    # The pooled URL reaches the primary too.
    with psycopg.connect(cluster.url, autocommit=True, prepare_threshold=None) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is False


def test_node_crash_loses_no_acknowledged_commit(cluster):
    old = cluster.leader()
    old_port = cluster.nodes[old].port
    writer = Writer(cluster.url, first_id=1)
    writer.start()
    try:
        writer.wait_for(50, timeout=15)
        crashed_at = time.monotonic()
        cluster.crash_node(old)
        new, promotion = cluster.wait_for_leader(not_in=(old,), timeout=WRITES_BACK_WITHIN)
        acked_before = {r for r, (at, _) in writer.acked.items() if at < crashed_at}
        writer.wait_for(len(acked_before) + 20, timeout=WRITES_BACK_WITHIN)
    finally:
        writer.stop.set()
        writer.join(10)

    new_port = cluster.nodes[new].port
    first_new = min(at for at, port in writer.acked.values() if port == new_port)
    last_old = max(at for at, port in writer.acked.values() if port == old_port)
    writes_back = first_new - crashed_at
    FIGURES.add(
        f"node crash of the primary {old}: {new} promoted after {promotion:.1f}s, "
        f"writes through PgBouncer back after {writes_back:.1f}s "
        f"(no commit acknowledged for {first_new - last_old:.1f}s, "
        f"{writer.failures} failed attempts, {len(writer.acked)} commits acknowledged)"
    )
    assert writes_back < WRITES_BACK_WITHIN
    # Every acknowledged commit is on the new primary.
    missing = set(writer.acked) - rows_on(cluster, new)
    assert not missing, f"acknowledged but lost: {sorted(missing)}"
    # Acknowledged first by the old primary only, then by the new one only: never two
    # primaries taking writes at the same time.
    ports = [port for _, (_, port) in sorted(writer.acked.items())]
    switch = ports.index(new_port)
    assert set(ports[:switch]) == {old_port}
    assert set(ports[switch:]) == {new_port}


def test_crashed_node_rejoins_as_a_streaming_replica(cluster):
    crashed = next(name for name, node in cluster.nodes.items() if node.process.poll() is not None)
    leader = cluster.leader()
    cluster.restart_node(crashed)
    seconds = cluster.wait_for_replicas(timeout=60)
    FIGURES.add(f"{crashed} restarted: streaming from {leader} after {seconds:.1f}s")
    receiver = cluster.receiver(crashed)
    assert receiver["status"] == "streaming"
    assert receiver["sender_port"] == cluster.nodes[leader].port
    evidence = cluster.split_brain_check()
    assert evidence["ok"], evidence["problems"]
    assert evidence["timelines"][crashed] == evidence["timelines"][leader] >= 2
    # It has every row the leader has, replayed from the new timeline.
    with psycopg.connect(cluster.direct_url, autocommit=True) as conn:
        lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    cluster.wait_for(
        lambda: cluster.query(crashed, f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'")[0][0],
        10,
        "replay on the rejoined node",
    )
    assert rows_on(cluster, crashed) == rows_on(cluster, leader)


def test_switchover(cluster):
    old, candidate = cluster.leader(), cluster.sync_standby()
    new, seconds = cluster.switchover()
    assert new == candidate
    FIGURES.add(f"switchover {old} -> {new}: primary after {seconds:.1f}s")
    cluster.wait_for(
        lambda: (
            {m["name"]: m["role"] for m in cluster.members()}[old] != "leader"
            and cluster.receiver(old)["status"] == "streaming"
        ),
        30,
        f"{old} streaming as a replica",
    )
    cluster.wait_for_replicas(timeout=30)
    with psycopg.connect(cluster.url, autocommit=True, prepare_threshold=None) as conn:
        cluster.wait_for(
            lambda: (
                conn.execute("SELECT inet_server_port()").fetchone()[0] == cluster.nodes[new].port
            ),
            10,
            "PgBouncer on the new primary",
        )
    evidence = cluster.split_brain_check()
    assert evidence["ok"], evidence["problems"]


def test_killed_postmaster_fails_over(cluster):
    """primary_start_timeout 0: a primary whose postmaster died is not restarted in place as
    primary; Patroni hands over to the sync standby, and the old primary rejoins by itself."""
    old, sync = cluster.leader(), cluster.sync_standby()
    cluster.kill_postmaster(old)
    new, promotion = cluster.wait_for_leader(not_in=(old,), timeout=WRITES_BACK_WITHIN)
    assert new == sync
    seconds = cluster.wait_for_replicas(timeout=60)
    FIGURES.add(
        f"postmaster of the primary {old} killed: {new} promoted after {promotion:.1f}s, "
        f"{old} streaming from it {seconds:.1f}s later"
    )
    evidence = cluster.split_brain_check()
    assert evidence["ok"], evidence["problems"]


def test_a_frozen_primary_that_wakes_up_steps_down_and_loses_nothing(cluster):
    """A primary frozen past the ttl (a paused VM): a standby is promoted and takes writes;
    when the old one wakes up it must step down, never take its leader key back (Patroni
    3.0.2 through etcd3 did, and the commits the new primary had acknowledged were lost:
    docs/drill.md, "What the drill found")."""
    old = cluster.leader()
    writer = Writer(cluster.url, first_id=100_000)
    writer.start()
    try:
        writer.wait_for(20, timeout=15)
        frozen = cluster.freeze(old)
        try:
            new, promotion = cluster.wait_for_leader(not_in=(old,), timeout=20)
            new_port = cluster.nodes[new].port
            cluster.wait_for(
                lambda: sum(port == new_port for _, port in writer.acked.values()) >= 20,
                15,
                "commits acknowledged by the new primary",
            )
        finally:
            cluster.thaw(frozen)
        woke = time.monotonic()
        writer.wait_for(len(writer.acked) + 40, timeout=20)  # writes go on after the thaw
    finally:
        writer.stop.set()
        writer.join(10)
    seconds = cluster.wait_for_replicas(timeout=60)
    leader = cluster.leader()
    FIGURES.add(
        f"primary {old} frozen: {new} promoted after {promotion:.1f}s; {old} thawed, "
        f"streaming from {leader} {time.monotonic() - woke:.1f}s later ({seconds:.1f}s waited)"
    )
    assert leader == new, f"the leader changed again after the thaw: {leader}"
    missing = set(writer.acked) - rows_on(cluster, leader)
    assert not missing, f"acknowledged but lost: {sorted(missing)[:20]}"
    evidence = cluster.split_brain_check()
    assert evidence["ok"], evidence["problems"]
