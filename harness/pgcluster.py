"""A durable, replicated PostgreSQL 15 for drills and tests: three Patroni nodes, one etcd,
HAProxy sending connections to the primary only, and PgBouncer in front, on 127.0.0.1 only.

It stands in for production's CloudNativePG cluster (deploy/k8s/components/cloudnativepg):
HAProxy plays the `-rw` Service, PgBouncer the Pooler, with the Pooler's own timeouts.

Durability: fsync, synchronous_commit and full_page_writes are on (never the test shortcuts
of harness/servers.py). Patroni 3.0 has no quorum commit: `synchronous_mode` with
`synchronous_node_count: 1` makes Patroni pick one synchronous standby (its name goes into
synchronous_standby_names and into etcd), and Patroni only ever promotes that standby. A
commit returns once the sync standby has flushed it, so an acknowledged commit is on the node
that gets promoted. `synchronous_mode_strict` is on, as production's `dataDurability:
required`: with no standby left, commits wait rather than being acknowledged by the primary
alone (without it Patroni would drop to asynchronous replication, and a commit acknowledged
then lives on one disk only).

Timing: ttl 8, loop_wait 1, retry_timeout 3 (Patroni wants ttl >= loop_wait + 2 x
retry_timeout). With ttl 10 / loop_wait 2 / retry_timeout 4 a node crash left writes through
PgBouncer down for 12.4 s, close to the 15 s a drill allows; with these, about 11.5 s. After a
promotion, commits wait (strict mode) until a standby streams from the new primary, which
needs the replication slot Patroni creates there on its next loop: the standbys retry every
second (wal_retrieve_retry_interval), not every 5 s.

What Patroni 3.0.2 does here (`primary_start_timeout: 0`), measured on the 2-core build
machine (fault, then wait_for_leader, then a write through PgBouncer until one succeeds):
- crash_node (Patroni, postmaster and backends SIGKILLed): the leader key expires after the
  ttl, the sync standby promotes itself: primary after 8.4 s, writes back after 11.4 s.
  restart_node: crash recovery, then pg_rewind onto the new timeline, streaming again.
- kill_postmaster / stop_immediate on the primary: Patroni, still holding the lock, finds
  PostgreSQL down on its next loop. With primary_start_timeout 0 and a healthy sync standby
  it does not restart it in place as primary ("Primary crashed. Failing over."): it demotes,
  releases the lock, the sync standby promotes (2.3 s; writes back after 4.7 s) and the old
  primary comes back as a replica by itself. (With the default primary_start_timeout, 300 s,
  measured too: crash recovery in single-user mode, then the same node primary again on a
  new timeline, and nothing fails over.)
- freeze (SIGSTOP of the whole node, Patroni included, as a frozen VM): the lock expires.
  Before promoting, the sync standby asks every member's REST API whether it is further
  ahead; the frozen node's kernel accepts the connection and nothing answers, so promotion
  takes longer (10.9 s; writes back after 12.5 s). Thawed, the old Patroni sees it lost the
  lock, demotes and runs pg_rewind. A commit it took in between is never acknowledged:
  strict synchronous replication makes it wait for a standby, and they follow the new one.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from harness.paths import ROOT
from harness.servers import PG_BIN, _as_postgres, free_port, stop_process, wait_for_port

NODES = ("pg1", "pg2", "pg3")
# The primary's current timeline: the first 8 hex digits of its WAL file name (pg_control's
# checkpoint timeline changes only at the first checkpoint after a promotion).
CURRENT_TIMELINE = (
    "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int"
)
DATABASE = "kubeblog"
# The app's own role, owner of its database, as CloudNativePG's application user: never the
# superuser that Patroni, replication and pg_rewind use (migrate_locked sets the app's
# statement and idle timeouts on the app's role, which must not reach those).
APP_ROLE = "kubeblog"
HAPROXY_CONFIG = ROOT / "deploy/local/haproxy-postgres.cfg"
POOLER = ROOT / "deploy/k8s/components/cloudnativepg/pooler.yaml"
# Pooler parameters PgBouncer 1.18 knows (max_prepared_statements needs 1.21; the app sets
# prepare_threshold None behind PgBouncer, config/settings/base.py).
POOLER_PARAMETERS = (
    "default_pool_size",
    "query_timeout",
    "query_wait_timeout",
    "server_connect_timeout",
    "server_login_retry",
    "tcp_user_timeout",
)


def pooler_parameters() -> dict[str, str]:
    """The PgBouncer parameters of the production Pooler manifest that PgBouncer 1.18 has."""
    spec = yaml.safe_load(POOLER.read_text())["spec"]["pgbouncer"]["parameters"]
    return {name: str(spec[name]) for name in POOLER_PARAMETERS}


def http_json(port: int, path: str, body: dict | None = None, timeout: float = 2.0):
    """GET (or POST `body` to) Patroni's REST API on 127.0.0.1:port: (status, parsed body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if body is None:
            conn.request("GET", path)
        else:
            conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        status, text = response.status, response.read().decode()
    finally:
        conn.close()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class Node:
    """One Patroni node: its ports, data directory and the Patroni process."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.dir = root / name
        self.data = self.dir / "data"
        self.config = self.dir / "patroni.yml"
        self.log = self.dir / "patroni.log"
        self.port = free_port()
        self.api_port = free_port()
        self.process: subprocess.Popen | None = None
        self.frozen: list[int] = []  # PIDs stopped by freeze(), until thaw()

    @property
    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def postgres_pids(self) -> list[int]:
        """The postmaster and every process it started."""
        pid = self.postmaster_pid
        if pid is None:
            return []
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True
        ).stdout
        return [pid, *(int(child) for child in out.split())]


class PostgresCluster:
    """Three Patroni nodes of PostgreSQL 15 (pg1, pg2, pg3), etcd, HAProxy and PgBouncer.

    `url` is for the app (through PgBouncer), `direct_url` for migrations and checks (through
    HAProxy, to the primary). Every process is started here and stopped by its PID."""

    def __init__(self, ttl: int = 8, loop_wait: int = 1, retry_timeout: int = 3) -> None:
        self.ttl, self.loop_wait, self.retry_timeout = ttl, loop_wait, retry_timeout
        self.root = Path(tempfile.mkdtemp(prefix="kubeblog-pgcluster-"))
        self.nodes = {name: Node(self.root, name) for name in NODES}
        self.etcd_port, self.etcd_peer_port = free_port(), free_port()
        self.haproxy_port, self.pgbouncer_port = free_port(), free_port()
        self.etcd: subprocess.Popen | None = None
        self.haproxy: subprocess.Popen | None = None
        self.pgbouncer: subprocess.Popen | None = None
        self._user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        self._own(self.root)

    # -- URLs -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Through PgBouncer (transaction mode), as the app connects in production."""
        return f"postgres://{APP_ROLE}@127.0.0.1:{self.pgbouncer_port}/{DATABASE}"

    @property
    def direct_url(self) -> str:
        """Through HAProxy to the primary, for migrations and checks."""
        return (
            f"postgres://{APP_ROLE}@127.0.0.1:{self.haproxy_port}/{DATABASE}"
            "?target_session_attrs=read-write"
        )

    def node_url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.nodes[name].port}/{DATABASE}"

    # -- processes --------------------------------------------------------------------------

    def _own(self, path: Path) -> None:
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def _spawn(self, argv: list[str], log: Path, env: dict[str, str] | None = None):
        """Start a long-running process as postgres. Not through runuser, which forks: the PID
        returned here must be the server's own, to kill it."""
        as_user = {}
        if self._user is not None:
            as_user = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        with open(log, "ab") as out:
            return subprocess.Popen(
                argv,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "HOME": str(self.root), **(env or {})},
                **as_user,
            )

    def _patroni_config(self, node: Node) -> dict:
        hba = [
            "local all all trust",
            "host all all 127.0.0.1/32 trust",
            "host replication all 127.0.0.1/32 trust",
        ]
        return {
            "scope": "kubeblog",
            "name": node.name,
            "log": {"level": "INFO"},
            "restapi": {
                "listen": f"127.0.0.1:{node.api_port}",
                "connect_address": f"127.0.0.1:{node.api_port}",
            },
            # etcd's v2 API, not `etcd3`: Patroni 3.0.2 (Debian 12's) renews its leader key
            # through etcd3 with an unconditional put when its lease has expired, so a primary
            # frozen past the ttl overwrote the new leader's key when it woke up, the new
            # primary demoted itself, and acknowledged writes were lost (the drill's scenario
            # 12, docs/drill.md; fixed in Patroni 3.0.3, pull request 2689). Through the v2
            # API it renews with compare-and-swap on its own name, and steps down instead.
            "etcd": {"hosts": [f"127.0.0.1:{self.etcd_port}"]},
            "watchdog": {"mode": "off"},
            "bootstrap": {
                "dcs": {
                    "ttl": self.ttl,
                    "loop_wait": self.loop_wait,
                    "retry_timeout": self.retry_timeout,
                    "maximum_lag_on_failover": 1048576,
                    "synchronous_mode": True,
                    "synchronous_mode_strict": True,
                    "synchronous_node_count": 1,
                    # A crashed primary postmaster: fail over, do not restart it as primary.
                    "primary_start_timeout": 0,
                    "postgresql": {"use_pg_rewind": True, "use_slots": True},
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}],
                "post_bootstrap": str(self.root / "post_bootstrap.sh"),
            },
            "postgresql": {
                "listen": f"127.0.0.1:{node.port}",
                "connect_address": f"127.0.0.1:{node.port}",
                "data_dir": str(node.data),
                "bin_dir": str(PG_BIN),
                "pgpass": str(node.dir / "pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres"},
                    "replication": {"username": "postgres"},
                    "rewind": {"username": "postgres"},
                },
                "basebackup": {"checkpoint": "fast"},
                "pg_hba": hba,
                "parameters": {
                    "unix_socket_directories": str(node.dir),
                    "fsync": "on",
                    "synchronous_commit": "on",
                    "full_page_writes": "on",
                    "wal_log_hints": "on",  # pg_rewind
                    "max_connections": 100,
                    "shared_buffers": "32MB",
                    "random_page_cost": 1.1,  # as production (cloudnativepg/cluster.yaml)
                    # A standby whose primary changed retries every second, not every 5 s.
                    "wal_retrieve_retry_interval": "1s",
                },
            },
        }

    def _start_patroni(self, node: Node) -> None:
        node.process = self._spawn(["patroni", str(node.config)], node.log)

    def start(self) -> PostgresCluster:
        """Start everything; returns once a leader, a sync standby and PgBouncer are up."""
        etcd_dir = self.root / "etcd"
        self.etcd = self._spawn(
            [
                "etcd",
                "--name=etcd0",
                f"--data-dir={etcd_dir}",
                f"--listen-client-urls=http://127.0.0.1:{self.etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{self.etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{self.etcd_peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{self.etcd_peer_port}",
                f"--initial-cluster=etcd0=http://127.0.0.1:{self.etcd_peer_port}",
                "--enable-v2=true",
            ],
            self.root / "etcd.log",
        )
        wait_for_port(self.etcd_port, 15)

        script = self.root / "post_bootstrap.sh"
        script.write_text(
            f'#!/bin/sh\nexec {PG_BIN}/psql -d "$1" -v ON_ERROR_STOP=1 '
            f'-c "CREATE ROLE {APP_ROLE} LOGIN" -c "CREATE DATABASE {DATABASE} OWNER {APP_ROLE}"\n'
        )
        script.chmod(0o755)
        for node in self.nodes.values():
            node.dir.mkdir()
            self._own(node.dir)
            node.config.write_text(json.dumps(self._patroni_config(node), indent=1))
            self._start_patroni(node)
            time.sleep(0.5)  # let pg1 win the bootstrap race: fewer retries, faster start

        env = {"PG_HAPROXY_PORT": str(self.haproxy_port)}
        for name, node in self.nodes.items():
            env[f"{name.upper()}_PORT"] = str(node.port)
            env[f"{name.upper()}_API"] = str(node.api_port)
        # A copy in the cluster's own directory: the processes run as postgres, which may not
        # be able to read the checkout (a home directory of mode 700).
        config = self.root / HAPROXY_CONFIG.name
        shutil.copyfile(HAPROXY_CONFIG, config)
        self._own(config)
        self.haproxy = self._spawn(
            ["haproxy", "-db", "-f", str(config)], self.root / "haproxy.log", env
        )
        wait_for_port(self.haproxy_port, 10)

        ini = self.root / "pgbouncer.ini"
        settings = {
            "listen_addr": "127.0.0.1",
            "listen_port": self.pgbouncer_port,
            "unix_socket_dir": "",
            "auth_type": "any",  # loopback only; PgBouncer logs in as the database's user
            "pool_mode": "transaction",
            "ignore_startup_parameters": "extra_float_digits",
            **pooler_parameters(),
        }
        ini.write_text(
            f"[databases]\n{DATABASE} = host=127.0.0.1 port={self.haproxy_port} "
            f"dbname={DATABASE} user={APP_ROLE}\n\n[pgbouncer]\n"
            + "".join(f"{key} = {value}\n" for key, value in settings.items())
        )
        self.start_pooler()

        self.wait_for_leader(timeout=90)
        self.wait_for(lambda: self.sync_standby() is not None, 60, "a sync standby")
        self.wait_for(lambda: self._writable(self.url), 30, "writes through PgBouncer")
        return self

    def start_pooler(self) -> None:
        """Start PgBouncer (again) with the configuration start() wrote."""
        ini = self.root / "pgbouncer.ini"
        self.pgbouncer = self._spawn(["pgbouncer", str(ini)], self.root / "pgbouncer.log")
        wait_for_port(self.pgbouncer_port, 10)

    def stop_pooler(self) -> None:
        """SIGKILL PgBouncer: the database is unreachable for every client at once."""
        stop_process(self.pgbouncer, sig=signal.SIGKILL)

    def save_logs(self, dest: Path) -> None:
        """Copy every log of the cluster (etcd, each Patroni and its PostgreSQL, HAProxy,
        PgBouncer) into `dest`, before destroy() removes them."""
        dest.mkdir(parents=True, exist_ok=True)
        for log in self.root.rglob("*.log"):
            with contextlib.suppress(OSError):
                name = "-".join(log.relative_to(self.root).parts)
                shutil.copyfile(log, dest / f"pgcluster-{name}")

    def destroy(self) -> None:
        """Stop every process started here (by PID) and remove the temporary directory."""
        stop_process(self.pgbouncer)
        stop_process(self.haproxy)
        for node in self.nodes.values():
            for pid in node.frozen:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            stop_process(node.process, timeout=15)
            # A postmaster left without its Patroni (killed, or Patroni timed out).
            if node.postmaster_pid is not None and (node.data / "postmaster.pid").exists():
                self._pg_ctl(node, "stop", "-m", "immediate")
        stop_process(self.etcd)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        try:
            return self.start()
        except BaseException:
            self.destroy()
            raise

    def __exit__(self, *exc) -> None:
        self.destroy()

    def _pg_ctl(self, node: Node, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*_as_postgres(), str(PG_BIN / "pg_ctl"), "-D", str(node.data), *args],
            capture_output=True,
            text=True,
            cwd=self.root,
        )

    # -- state --------------------------------------------------------------------------------

    @staticmethod
    def wait_for(check, timeout: float, what: str, interval: float = 0.1):
        """Call `check` until it returns something true, for at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                result = check()
                if result:
                    return result
            time.sleep(interval)
        raise TimeoutError(f"no {what} after {timeout}s")

    @staticmethod
    def _writable(url: str) -> bool:
        import psycopg

        with psycopg.connect(url, connect_timeout=2, autocommit=True) as conn:
            return not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]

    def members(self) -> list[dict]:
        """The cluster as Patroni sees it (GET /cluster on the first node that answers):
        name, role (leader, sync_standby, replica), state, timeline, lag."""
        for node in self.nodes.values():
            with contextlib.suppress(OSError):
                status, body = http_json(node.api_port, "/cluster", timeout=1)
                if status == 200:
                    keys = ("name", "role", "state", "timeline", "lag")
                    return [{k: m.get(k) for k in keys} for m in body["members"]]
        return []

    def _role(self, role: str) -> str | None:
        for member in self.members():
            if member["role"] == role and member["state"] in ("running", "streaming"):
                return member["name"]
        return None

    def leader(self) -> str | None:
        return self._role("leader")

    def sync_standby(self) -> str | None:
        return self._role("sync_standby")

    def wait_for_leader(self, not_in=(), timeout: float = 15.0) -> tuple[str, float]:
        """Wait for a running leader whose name is not in `not_in` and that answers 200 on
        /primary: (its name, seconds waited)."""
        started = time.monotonic()

        def ready():
            name = self.leader()
            if name and name not in not_in:
                return name if http_json(self.nodes[name].api_port, "/primary")[0] == 200 else None
            return None

        name = self.wait_for(ready, timeout, f"leader outside {list(not_in)}")
        return name, time.monotonic() - started

    def timelines(self) -> dict[str, int | None]:
        """Each node's timeline as Patroni last published it (refreshed every loop_wait)."""
        return {m["name"]: m["timeline"] for m in self.members()}

    def query(self, name: str, sql: str) -> list[tuple]:
        """Run `sql` on one node directly (not through HAProxy)."""
        import psycopg

        with psycopg.connect(self.node_url(name), connect_timeout=2, autocommit=True) as conn:
            return conn.execute(sql).fetchall()

    def receiver(self, name: str) -> dict | None:
        """A replica's WAL receiver (pg_stat_wal_receiver): status, timeline, sender port."""
        rows = self.query(
            name, "SELECT status, received_tli, sender_port FROM pg_stat_wal_receiver"
        )
        return (
            dict(zip(("status", "timeline", "sender_port"), rows[0], strict=True)) if rows else None
        )

    def wait_for_replicas(self, timeout: float = 60.0) -> float:
        """Wait until every node runs, the two that are not the leader streaming from it on
        its timeline, one of them the sync standby: seconds waited."""
        started = time.monotonic()

        def healthy():
            leader = self.leader()
            tli = self.query(leader, CURRENT_TIMELINE)[0][0]
            port = self.nodes[leader].port
            replicas = [self.receiver(name) for name in self.nodes if name != leader]
            streaming = all(
                r and (r["status"], r["timeline"], r["sender_port"]) == ("streaming", tli, port)
                for r in replicas
            )
            return streaming and self.sync_standby() is not None

        self.wait_for(healthy, timeout, "three nodes streaming from the leader", interval=0.3)
        return time.monotonic() - started

    # -- faults ------------------------------------------------------------------------------

    def crash_node(self, name: str) -> None:
        """A node crash: SIGKILL its Patroni, postmaster and every PostgreSQL process at once."""
        node = self.nodes[name]
        pids = [*node.postgres_pids(), *([node.process.pid] if node.process else [])]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if node.process:
            node.process.wait(5)

    def kill_postmaster(self, name: str) -> None:
        """SIGKILL the postmaster only (its backends notice and exit); Patroni lives on."""
        pid = self.nodes[name].postmaster_pid
        if pid is not None:
            os.kill(pid, signal.SIGKILL)

    def stop_immediate(self, name: str) -> None:
        """`pg_ctl stop -m immediate` on the node's PostgreSQL; Patroni lives on."""
        self._pg_ctl(self.nodes[name], "stop", "-m", "immediate", "-w")

    def restart_node(self, name: str) -> None:
        """Start Patroni again on a crashed node; it rejoins as a replica (pg_rewind or a new
        base backup if its history diverged)."""
        node = self.nodes[name]
        if node.process is not None and node.process.poll() is None:
            raise RuntimeError(f"{name}'s Patroni still runs")
        self._start_patroni(node)

    def freeze(self, name: str) -> list[int]:
        """SIGSTOP the whole node, Patroni included (a frozen VM: the leader lock is not
        renewed, the kernel still accepts connections); returns the PIDs for thaw()."""
        node = self.nodes[name]
        pids = [node.process.pid, *node.postgres_pids()]
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        node.frozen = pids
        return pids

    def thaw(self, pids: list[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        for node in self.nodes.values():
            if node.frozen == pids:
                node.frozen = []

    def switchover(self, to: str | None = None, timeout: float = 30.0) -> tuple[str, float]:
        """A planned switchover to `to` (default: the sync standby, the only candidate Patroni
        accepts in synchronous mode): (new leader, seconds until it is primary)."""
        leader = self.leader()
        candidate = to or self.sync_standby()
        started = time.monotonic()
        status, body = http_json(
            self.nodes[leader].api_port,
            "/switchover",
            {"leader": leader, "candidate": candidate},
            timeout=timeout,
        )
        if status != 200:
            raise RuntimeError(f"switchover {leader} -> {candidate}: {status} {body}")
        name, _ = self.wait_for_leader(not_in=(leader,), timeout=timeout)
        return name, time.monotonic() - started

    # -- evidence ----------------------------------------------------------------------------

    def split_brain_check(self) -> dict:
        """Evidence that no two nodes were ever primary on diverging histories.

        Each promotion writes a timeline history file (pg_wal/0000000N.history: every earlier
        timeline and the LSN where it ended); replicas copy them from their primary. If two
        nodes had both promoted from the same timeline, two different files of the same name
        (or different system identifiers) would exist. Checked: one system identifier; every
        history file of a given name is identical on every node that has it; the running
        nodes are all on the leader's timeline (rewound or re-cloned, not on a branch of their
        own). Returns {"ok", "problems", "leader", "timelines", "histories"}.

        Rows written through a deposed primary are not visible here: check them from the
        client's side (every acknowledged write present on the new primary, and the server
        that acknowledged writes changes only at a failover, never back and forth)."""
        problems: list[str] = []
        sysids: dict[str, str] = {}
        histories: dict[str, dict[str, str]] = {}
        for name, node in self.nodes.items():
            out = subprocess.run(
                [str(PG_BIN / "pg_controldata"), str(node.data)], capture_output=True, text=True
            ).stdout
            for line in out.splitlines():
                if line.startswith("Database system identifier:"):
                    sysids[name] = line.split(":", 1)[1].strip()
            for path in sorted((node.data / "pg_wal").glob("*.history")):
                histories.setdefault(path.name, {})[name] = path.read_text()
        if len(set(sysids.values())) > 1:
            problems.append(f"system identifiers differ: {sysids}")
        for file, copies in histories.items():
            if len(set(copies.values())) > 1:
                problems.append(f"{file} differs between nodes: {copies}")
        leader = self.leader()
        timelines = {name: self.current_timeline(name, leader) for name in self.nodes}
        for name, timeline in timelines.items():
            if leader and timeline is not None and timeline != timelines[leader]:
                problems.append(
                    f"{name} on timeline {timeline}, leader {leader} on {timelines[leader]}"
                )
        return {
            "ok": not problems,
            "problems": problems,
            "leader": leader,
            "timelines": timelines,
            "histories": {file: sorted(copies) for file, copies in histories.items()},
        }

    def current_timeline(self, name: str, leader: str | None = None) -> int | None:
        """The timeline a node writes (leader) or streams (replica) now; None if it is down
        or not streaming."""
        with contextlib.suppress(Exception):
            if name == (leader or self.leader()):
                return self.query(name, CURRENT_TIMELINE)[0][0]
            receiver = self.receiver(name)
            return receiver["timeline"] if receiver else None
        return None


def main() -> int:
    """Start a cluster, show it, crash the leader, show the failover, stop everything."""
    with PostgresCluster() as cluster:
        print("url", cluster.url, "direct_url", cluster.direct_url)
        print(json.dumps(cluster.members(), indent=1))
        leader = cluster.leader()
        cluster.crash_node(leader)
        name, seconds = cluster.wait_for_leader(not_in=(leader,))
        print(f"crashed {leader}: {name} primary after {seconds:.1f}s")
        cluster.restart_node(leader)
        seconds = cluster.wait_for_replicas(timeout=60)
        print(f"{leader} restarted: streaming after {seconds:.1f}s")
        print(json.dumps(cluster.members(), indent=1))
        print(json.dumps(cluster.split_brain_check(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
