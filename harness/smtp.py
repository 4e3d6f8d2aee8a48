"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests and drills, keeping what it receives.

It speaks SMTP as a relay does: a mail counts as received when the server has answered the
final "." of DATA with 250. It can be made slow (`hold()`: each RCPT TO waits until
`release()`), as a relay under load is, and stopped and started again on the same port, as a
relay that goes down and comes back.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from harness.servers import free_port


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        deadline = time.monotonic() + 120
        while self.server.held.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.server.lock:
            self.server.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
            self.server.arrivals.append((str(message["Subject"]).strip(), time.time()))
        return "250 Message accepted for delivery"


class SmtpServer:
    """`with SmtpServer() as smtp:` ... `smtp.wait_for(1)` → the parsed messages."""

    def __init__(self) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.held = threading.Event()
        self.received: list[tuple[str, list[str], EmailMessage]] = []
        self.arrivals: list[tuple[str, float]] = []  # (subject, when received)
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.release()
        self.stop()

    def hold(self) -> None:
        """From now on, RCPT TO is answered only after release()."""
        self.held.set()

    def release(self) -> None:
        self.held.clear()

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [message for _, _, message in self.received]

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        with self.lock:
            return [(sender, rcpts) for sender, rcpts, _ in self.received]

    def wait_for(self, count: int, timeout: float) -> list[EmailMessage]:
        """Wait until `count` messages have arrived (or `timeout` seconds): all received."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages

    def env(self) -> dict[str, str]:
        """What a worker needs to send its mail here."""
        return {
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.port),
            "EMAIL_USE_TLS": "false",
            "EMAIL_TIMEOUT": "30",
        }
