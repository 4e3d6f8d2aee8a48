"""The load: a fixed number of requests per second through HAProxy, whatever happens.

An asyncio client (aiohttp) in its own thread sends one request every 1/rate seconds (open
loop: a slow answer never slows the sending down), mixing anonymous reads with the reads and
writes of logged-in authors. Every request is recorded: when it was sent and answered, what it
asked for, the status, and which replica and version answered it (from the page footer, which
the app renders on every page, and from the X-Drill-Server header HAProxy adds to every
response). Every write carries a unique token, so the drill can later find it in the database
by id and token, not by counting.
"""

from __future__ import annotations

import asyncio
import random
import re
import resource
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from harness.http import signed_in_as
from tests.drill.clock import Clock

# Per 100 requests. Reads: 82, of which 10 by logged-in authors. Writes: 18.
MIX = {
    "home": 24,
    "post": 30,
    "search": 10,
    "feed": 8,
    "drafts": 5,  # an author's drafts page: proves the author is still logged in
    "moderate": 5,  # an author's own post page, with the comments waiting for approval
    "create": 7,
    "publish": 5,
    "comment": 4,
    "approve": 2,
}
READS = frozenset({"home", "post", "search", "feed", "drafts", "moderate", "login-form"})
LOGGED_IN_READS = frozenset({"drafts", "moderate"})
WORDS = ["replica", "kubernetes", "postgres", "drain", "rollout", "cache", "probe", "redis"]
# The client never holds more; beyond it a request is recorded as dropped (and failed). Enough
# for 20 s of answers at 60 requests/s: the site's answers and timeouts decide, not this cap.
MAX_IN_FLIGHT = 1200
# Seconds; longer than the proxy's read timeout (the Ingress' 60 s), after which it gives up on
# a replica (and tries a GET elsewhere).
CLIENT_TIMEOUT = 70.0
# A browser keeps an idle connection about this long (Chromium: 60 s here); the proxy keeps it
# longer (75 s), as ingress-nginx does.
KEEPALIVE = 60.0
SEED_POSTS = 12

_REPLICA = re.compile(rb'<span class="replica">([^<]*)</span>')
_VERSION = re.compile(rb'<span class="version">([^<]*)</span>')
_COLOR = re.compile(rb"--theme:([^};]*)")
_POST_URL = re.compile(r"^/post/(\d+)/")  # a post's address: /post/<pk>/<slug>/
_PENDING = re.compile(rb'<article class="comment pending">(.*?)</article>', re.S)
_APPROVE = re.compile(rb'action="/comment/(\d+)/approve/"')
_TOKEN = re.compile(rb"\b(c-[0-9a-f]{12})\b")


@dataclass
class Record:
    seq: int
    kind: str
    method: str
    path: str
    request_id: str
    sent: float  # drill clock, seconds
    done: float = 0.0
    status: int | None = None
    ok: bool = False
    why: str = ""  # why it counts as failed
    replica: str | None = None  # from the page footer
    version: str | None = None
    color: str | None = None
    server: str | None = None  # from HAProxy's X-Drill-Server
    retry_after: str | None = None  # the answer's Retry-After, if any
    stale: bool = False  # served from the page cache while the page could not be made again
    user: str | None = None
    write: dict | None = None  # what a write sent, and the ids it got back
    phase: str = "load"

    @property
    def is_read(self) -> bool:
        return self.kind in READS

    @property
    def is_write(self) -> bool:
        return not self.is_read

    @property
    def latency_ms(self) -> float:
        return (self.done - self.sent) * 1000

    def as_json(self) -> dict:
        data = asdict(self)
        data["latency_ms"] = round(self.latency_ms, 1)
        return data


@dataclass
class Author:
    username: str
    password: str
    session: aiohttp.ClientSession | None = None
    drafts: list[int] = field(default_factory=list)  # acknowledged drafts, not yet published
    commented: set[int] = field(default_factory=set)  # own posts that got comments
    approvable: list[tuple[int, int]] = field(default_factory=list)  # (comment pk, post id)


class Load:
    def __init__(
        self, base_url: str, authors: list[tuple[str, str]], clock: Clock, rate: float
    ) -> None:
        self.base = base_url
        self.clock = clock
        self.rate = rate
        self.authors = [Author(u, p) for u, p in authors]
        self.records: list[Record] = []
        self.published: list[int] = []  # posts whose publishing was acknowledged
        self.address: dict[int, str] = {}  # each post's address, as its creation answered
        self.post_author: dict[int, Author] = {}
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._rng = random.Random(6)
        self._seq = 0
        self._stopping = False
        self._anonymous: aiohttp.ClientSession | None = None
        self._pending: dict[int, float] = {}  # requests sent and not answered yet: seq -> sent
        self._thread = threading.Thread(target=self._thread_main, name="load", daemon=True)
        self._lock = threading.Lock()

    # --- control, from the drill's thread ----------------------------------------------------
    def start(self, timeout: float = 120.0) -> None:
        """Log the authors in, publish the first posts, then send at the fixed rate."""
        # One socket per request in flight, and more: lift a 1024 soft limit if there is one.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = (
            4 * MAX_IN_FLIGHT if hard == resource.RLIM_INFINITY else min(hard, 4 * MAX_IN_FLIGHT)
        )
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        self._thread.start()
        if not self.ready.wait(timeout) or self.error:
            self._stopping = True
            raise RuntimeError(f"the load could not start: {self.error!r}")

    def stop(self) -> None:
        self._stopping = True
        self._thread.join(CLIENT_TIMEOUT + 15)

    def snapshot(self) -> list[Record]:
        with self._lock:
            return list(self.records)

    def wait_answered(self, sent_before: float, timeout: float = CLIENT_TIMEOUT + 10) -> None:
        """Wait until every request sent before that time has its answer (or its error)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not any(sent < sent_before for sent in self._pending.values()):
                    return
            time.sleep(0.1)

    # --- the client --------------------------------------------------------------------------
    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced by start()
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        self._anonymous = session(aiohttp.DummyCookieJar())
        for author in self.authors:
            # unsafe=True: keep cookies of a host that is an IP address (127.0.0.1).
            author.session = session(aiohttp.CookieJar(unsafe=True))
        try:
            for author in self.authors:
                await self._login(author)
            await self._seed()
            self.ready.set()
            await self._send_at_rate()
        finally:
            await self._anonymous.close()
            for author in self.authors:
                await author.session.close()

    async def _login(self, author: Author) -> None:
        for _ in range(10):
            await self._request(
                "login-form", author.session, "GET", "/accounts/login/", phase="setup"
            )
            record, _ = await self._request(
                "login",
                author.session,
                "POST",
                "/accounts/login/",
                data={"username": author.username, "password": author.password},
                user=author,
                phase="setup",
            )
            if record.status == 302:
                return
            await asyncio.sleep(0.5)
        raise RuntimeError(f"{author.username} cannot log in")

    async def _seed(self) -> None:
        """A few published posts with approved comments, so that reads have something."""
        for i in range(SEED_POSTS):
            author = self.authors[i % len(self.authors)]
            await self._create(author, phase="setup")
            await self._publish(author, phase="setup")
        for i in range(len(self.authors) * 2):
            author = self.authors[i % len(self.authors)]
            await self._comment(author, phase="setup")
        for author in self.authors:
            await self._moderate(author, phase="setup")
            await self._approve(author, phase="setup")
        if len(self.published) < SEED_POSTS // 2:
            raise RuntimeError(f"seeding published only {len(self.published)} posts")

    async def _send_at_rate(self) -> None:
        kinds, weights = zip(*MIX.items(), strict=True)
        interval = 1.0 / self.rate
        in_flight: set[asyncio.Task] = set()
        next_at = self.clock.now()
        for _ in range(int(self.rate * 3600)):  # bounded: an hour at most
            if self._stopping:
                break
            delay = next_at - self.clock.now()
            if delay > 0:
                await asyncio.sleep(delay)
            next_at += interval
            kind = self._rng.choices(kinds, weights)[0]
            if len(in_flight) >= MAX_IN_FLIGHT:
                self._dropped(kind)
                continue
            task = asyncio.create_task(self._one(kind))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.wait(in_flight, timeout=CLIENT_TIMEOUT + 5)

    def _dropped(self, kind: str) -> None:
        now = self.clock.now()
        with self._lock:
            self._seq += 1
            self.records.append(
                Record(self._seq, kind, "-", "-", "-", now, now, why="client: too many in flight")
            )

    async def _one(self, kind: str) -> None:
        author = self._rng.choice(self.authors)
        if kind == "home":
            path = "/" if self._rng.random() < 0.8 else "/?page=2"
            await self._request(kind, self._anonymous, "GET", path)
        elif kind == "post":
            post = self._rng.choice(self.published)
            await self._request(kind, self._anonymous, "GET", self.address[post])
        elif kind == "search":
            await self._request(
                kind, self._anonymous, "GET", f"/search/?q={self._rng.choice(WORDS)}"
            )
        elif kind == "feed":
            await self._request(kind, self._anonymous, "GET", "/feed/")
        elif kind == "drafts":
            await self._request(kind, author.session, "GET", "/drafts/", user=author)
        elif kind == "moderate":
            await self._moderate(author)
        elif kind == "create":
            await self._create(author)
        elif kind == "publish":
            await self._publish(author)
        elif kind == "comment":
            await self._comment(author)
        elif kind == "approve":
            await self._approve(author)

    # --- the writes, and the read that finds comments to approve ------------------------------
    async def _create(self, author: Author, phase: str = "load") -> None:
        token = "p-" + secrets.token_hex(6)
        words = self._rng.sample(WORDS, 2)
        title = f"Drill {token} on {words[0]}"
        body = (
            f"A post written under load ({token}).\n\n"
            f"It is about *{words[0]}* and **{words[1]}**.\n\n- one\n- two\n"
        )
        write = {"token": token, "title": title, "body": body}
        record, _ = await self._request(
            "create", author.session, "POST", "/post/new/",
            data={"title": title, "body": body}, user=author, write=write, phase=phase,
        )  # fmt: skip
        if record.ok:
            post = int(_POST_URL.match(write["location"]).group(1))
            write["post_id"] = post
            self.address[post] = write["location"]
            self.post_author[post] = author
            author.drafts.append(post)

    async def _publish(self, author: Author, phase: str = "load") -> None:
        if not author.drafts:
            return await self._create(author, phase)
        post = author.drafts.pop(0)
        write = {"token": f"publish-{post}", "post_id": post}
        record, _ = await self._request(
            "publish", author.session, "POST", f"/post/{post}/publish/",
            user=author, write=write, phase=phase,
        )  # fmt: skip
        if record.ok:
            self.published.append(post)

    async def _comment(self, author: Author, phase: str = "load") -> None:
        if not self.published:
            return None
        post = self._rng.choice(self.published)
        token = "c-" + secrets.token_hex(6)
        text = f"A comment under load: {token}."
        write = {"token": token, "post_id": post, "text": text}
        record, _ = await self._request(
            "comment", author.session, "POST", f"/post/{post}/comment/",
            data={"author_name": author.username, "text": text},
            user=author, write=write, phase=phase,
        )  # fmt: skip
        if record.ok and post in self.post_author:
            self.post_author[post].commented.add(post)

    async def _moderate(self, author: Author, phase: str = "load") -> None:
        if not author.commented:
            await self._request(
                "drafts", author.session, "GET", "/drafts/", user=author, phase=phase
            )
            return
        post = self._rng.choice(sorted(author.commented))
        record, body = await self._request(
            "moderate", author.session, "GET", self.address[post], user=author, phase=phase
        )
        if not record.ok:
            return
        found = 0
        for block in _PENDING.findall(body):
            approve = _APPROVE.search(block)
            if approve and _TOKEN.search(block):
                pk = int(approve.group(1))
                if (pk, post) not in author.approvable:
                    author.approvable.append((pk, post))
                found += 1
        if not found:
            author.commented.discard(post)

    async def _approve(self, author: Author, phase: str = "load") -> None:
        if not author.approvable:
            return await self._moderate(author, phase)
        pk, post = author.approvable.pop(0)
        write = {"token": f"approve-{pk}", "comment_id": pk, "post_id": post}
        await self._request(
            "approve", author.session, "POST", f"/comment/{pk}/approve/",
            user=author, write=write, phase=phase,
        )  # fmt: skip

    # --- one request ---------------------------------------------------------------------------
    async def _request(
        self,
        kind: str,
        session: aiohttp.ClientSession,
        method: str,
        path: str,
        *,
        data: dict | None = None,
        user: Author | None = None,
        write: dict | None = None,
        phase: str = "load",
    ) -> tuple[Record, bytes]:
        with self._lock:
            self._seq += 1
            seq = self._seq
            record = Record(
                seq, kind, method, path, f"drill-{seq:07d}", self.clock.now(),
                user=user.username if user else None, write=write, phase=phase,
            )  # fmt: skip
            self._pending[seq] = record.sent
        if method == "POST":
            data = {**(data or {}), "csrfmiddlewaretoken": _csrf_token(session, self.base)}
        body = b""
        headers: CIMultiDict = CIMultiDict()
        answered = False
        try:
            async with session.request(
                method,
                self.base + path,
                data=data,
                headers={"X-Request-ID": record.request_id},
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=CLIENT_TIMEOUT),
            ) as response:
                # Status and headers first: a body cut short still says who started it.
                record.status = response.status
                headers = CIMultiDict(response.headers)
                body = await response.read()
                answered = True
        except (TimeoutError, aiohttp.ClientError) as exc:
            record.why = f"client: {type(exc).__name__} {str(exc)[:80]}".strip()
        finally:
            # Recorded whatever happened, even if the task is cancelled at the very end.
            record.done = self.clock.now()
            record.server = headers.get("X-Drill-Server")
            record.retry_after = headers.get("Retry-After")
            record.stale = "X-Served-Stale" in headers
            if answered:
                _judge(record, body, headers)
            elif not record.why:
                record.why = "client: no answer"
            with self._lock:
                self.records.append(record)
                self._pending.pop(seq, None)
        return record, body


def session(cookie_jar: aiohttp.abc.AbstractCookieJar) -> aiohttp.ClientSession:
    """A client session that keeps idle connections as a browser does and never sends a
    request twice by itself: aiohttp re-sends an idempotent request once when a kept-alive
    connection turns out closed, which would hide exactly the failures the drill looks for
    (tests/drill/test_load_client.py holds it to that)."""
    client = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=MAX_IN_FLIGHT, keepalive_timeout=KEEPALIVE),
        cookie_jar=cookie_jar,
    )
    if not hasattr(client, "_retry_connection"):
        raise RuntimeError("aiohttp changed: find how to turn its silent retry off")
    client._retry_connection = False
    return client


def _csrf_token(session: aiohttp.ClientSession, base: str) -> str:
    cookie = session.cookie_jar.filter_cookies(URL(base)).get("csrftoken")
    return cookie.value if cookie else ""


def _judge(record: Record, body: bytes, headers: CIMultiDict) -> None:
    """Decide whether the answer is the one a working site gives; say why not."""
    for attribute, pattern in (("replica", _REPLICA), ("version", _VERSION), ("color", _COLOR)):
        match = pattern.search(body)
        if match:
            setattr(record, attribute, match.group(1).decode().strip())
    status = record.status
    location = headers.get("Location", "")
    if record.method == "POST":
        if status == 302 and location.startswith("/accounts/login/"):
            record.why = "logged out"
        elif status == 302 and _POST_URL.match(location):
            record.ok = True
            if record.write is not None:
                record.write["location"] = location
        else:
            record.why = f"status {status}"
        if record.kind == "login" and status == 302:
            record.ok, record.why = True, ""
        return
    if status != 200:
        login = status == 302 and location.startswith("/accounts/login/")
        record.why = "logged out" if login else f"status {status}"
        return
    if record.kind == "feed":
        record.ok = b"<feed" in body
    elif record.kind in LOGGED_IN_READS:
        record.ok = signed_in_as(record.user) in body
        record.why = "" if record.ok else "logged out"
        return
    else:
        record.ok = record.replica is not None
    record.why = "" if record.ok else "unexpected page"
