"""nginx for the benchmark: the static-file reference and the edge cache, on 127.0.0.1.

The edge cache runs the very file the Kubernetes component ships
(deploy/k8s/components/edge-cache/nginx.conf); only its upstream server and listen port are
replaced, each of which must appear exactly once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from harness.paths import ROOT
from harness.servers import free_port, stop_process, wait_for_port

EDGE_CONF = ROOT / "deploy" / "k8s" / "components" / "edge-cache" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

STATIC_CONF = """
worker_processes 1;
pid nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
    client_body_temp_path client_body_temp;
    proxy_temp_path proxy_temp;
    fastcgi_temp_path fastcgi_temp;
    uwsgi_temp_path uwsgi_temp;
    scgi_temp_path scgi_temp;
    default_type text/html;
    server_tokens off;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65s;
    keepalive_requests 10000;
    server {
        listen 127.0.0.1:PORT;
        root ROOT;
    }
}
"""


def _replace_once(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise RuntimeError(f"{EDGE_CONF}: expected {old!r} exactly once")
    return text.replace(old, new)


def edge_config(upstream_port: int, port: int) -> str:
    """The shipped edge-cache configuration, pointed at a local app server."""
    text = EDGE_CONF.read_text()
    text = _replace_once(text, "server web:80;", f"server 127.0.0.1:{upstream_port};")
    return _replace_once(text, "listen 8080;", f"listen 127.0.0.1:{port};")


class Nginx:
    """One nginx master (daemon off) with its own prefix folder, stopped by its PID."""

    def __init__(self, name: str, config: str, port: int) -> None:
        self.name = name
        self.port = port
        self.prefix = Path(tempfile.mkdtemp(prefix=f"kubeblog-bench-{name}-"))
        self.conf = self.prefix / "nginx.conf"
        self.conf.write_text(config)
        self.log = self.prefix / "output.log"
        self.process: subprocess.Popen | None = None
        # nginx creates its cache and temporary folders here, owned by its worker user.
        os.chmod(self.prefix, 0o755)  # noqa: S103 - the workers (nobody, as root) enter it

    @classmethod
    def static(cls, root: Path) -> Nginx:
        port = free_port()
        config = STATIC_CONF.replace("PORT", str(port)).replace("ROOT", str(root))
        return cls("static", config, port)

    @classmethod
    def edge(cls, upstream_port: int) -> Nginx:
        port = free_port()
        return cls("edge", edge_config(upstream_port, port), port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Nginx:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    NGINX,
                    "-e",
                    "stderr",
                    "-p",
                    str(self.prefix),
                    "-c",
                    str(self.conf),
                    "-g",
                    "daemon off;",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(
                f"nginx {self.name} did not start:\n{self.log.read_text()}"
            ) from None
        return self

    def stop(self) -> None:
        stop_process(self.process, sig=signal.SIGQUIT)  # graceful: workers finish, then exit
        self.process = None
        shutil.rmtree(self.prefix, ignore_errors=True)
