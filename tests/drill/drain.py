"""A write in flight when SIGTERM arrives: proof that a replica's own drain finishes it.

Kubernetes sends SIGTERM after preStop, once the endpoint is gone from the proxies, so only
requests already under way are left: a slow client's upload, a request on a connection the
ingress opened earlier. This one is such a request: a comment whose form is sent half before
SIGTERM and half after it, straight to the replica's port (as on the ingress' kept-alive
connection). gunicorn must let it finish: the answer is the redirect to the post, and the
comment is in the database.
"""

from __future__ import annotations

import http.client
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode

_CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
_HEADERS = {"Host": "localhost", "X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http"}


@dataclass
class HeldWrite:
    port: int
    post_id: int
    token: str = field(default_factory=lambda: "drain-" + secrets.token_hex(6))
    status: int | None = None
    location: str = ""
    error: str = ""
    first_half_at: float = 0.0
    second_half_at: float = 0.0
    answered_at: float = 0.0

    def run(self, send_first_at: float, sigterm_sent, clock, timeout: float = 30.0) -> None:
        """Fetch the form, send half the POST at `send_first_at` (drill time), the rest a
        second after `sigterm_sent()` returns a time, then read the answer."""
        try:
            cookie, csrf = self._form()
            body = urlencode(
                {
                    "author_name": "drain",
                    "text": f"Sent across SIGTERM: {self.token}.",
                    "csrfmiddlewaretoken": csrf,
                }
            ).encode()
            head = "".join(
                [
                    f"POST /post/{self.post_id}/comment/ HTTP/1.1\r\n",
                    *(f"{k}: {v}\r\n" for k, v in _HEADERS.items()),
                    "Content-Type: application/x-www-form-urlencoded\r\n",
                    f"Content-Length: {len(body)}\r\n",
                    f"Cookie: csrftoken={cookie}\r\n",
                    f"X-Request-ID: {self.token}\r\n",
                    "Connection: close\r\n\r\n",
                ]
            ).encode()
            time.sleep(max(0.0, send_first_at - clock.now()))
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
                sock.sendall(head + body[: len(body) // 2])
                self.first_half_at = clock.now()
                deadline = time.monotonic() + timeout
                while sigterm_sent() is None and time.monotonic() < deadline:
                    time.sleep(0.05)
                time.sleep(1.0)
                sock.sendall(body[len(body) // 2 :])
                self.second_half_at = clock.now()
                answer = _read_all(sock, deadline)
            self.answered_at = clock.now()
            status_line, _, rest = answer.partition(b"\r\n")
            self.status = int(status_line.split()[1]) if status_line else None
            match = re.search(rb"\r\nLocation: ([^\r]+)", b"\r\n" + rest, re.I)
            self.location = match.group(1).decode() if match else ""
        except (OSError, ValueError, IndexError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"

    def _form(self) -> tuple[str, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", f"/post/{self.post_id}/comment/", headers=_HEADERS)
            response = conn.getresponse()
            page = response.read()
            cookies = SimpleCookie()
            for value in response.headers.get_all("Set-Cookie") or []:
                cookies.load(value)
        finally:
            conn.close()
        match = _CSRF.search(page)
        if response.status != 200 or not match or "csrftoken" not in cookies:
            raise ValueError(f"no comment form on :{self.port} (status {response.status})")
        return cookies["csrftoken"].value, match.group(1).decode()

    def start(self, send_first_at: float, sigterm_sent, clock) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, args=(send_first_at, sigterm_sent, clock), name="held-write"
        )
        thread.start()
        return thread

    def figures(self) -> dict:
        return {
            "status": self.status,
            "location": self.location,
            "error": self.error,
            "first_half_at": round(self.first_half_at, 2),
            "second_half_at": round(self.second_half_at, 2),
            "answered_at": round(self.answered_at, 2),
        }


def _read_all(sock: socket.socket, deadline: float) -> bytes:
    chunks = []
    while time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)
