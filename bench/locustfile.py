"""The reader/author mix, through the edge cache (bench/__main__ runs it headless).

Readers (no think time) read the home page and its next pages, random posts, searches and the
feed, and now and then leave a comment (which waits for moderation). Authors, logged in with
sessions the seed created, read their private pages and save a draft every half minute or so;
each save retires every cached page, as it does in production. Readers and comments come from
their own client addresses (X-Forwarded-For, trusted through the two proxies the app is told
about), so the per-address comment limit applies as it would on the internet.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re

from locust import FastHttpUser, between, constant, task

DATA = json.loads(open(os.environ["BENCH_DATA"]).read())  # noqa: SIM115
POSTS = DATA["post_pks"]
POST_URLS = DATA["post_urls"]
TOPICS = DATA["topics"]
_addresses = itertools.count(1)
_sessions = itertools.cycle(DATA["sessions"])
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
HTTPS = {"X-Forwarded-Proto": "https"}


class Reader(FastHttpUser):
    weight = 9
    wait_time = constant(0)

    def on_start(self) -> None:
        self.headers = {**HTTPS, "X-Forwarded-For": _address()}
        self.host_origin = self.host.replace("http://", "https://").rsplit(":", 1)[0]

    def _get(self, path: str, name: str) -> None:
        self.client.get(path, headers=self.headers, name=name)

    @task(30)
    def home(self) -> None:
        self._get("/", "/")

    @task(5)
    def older_posts(self) -> None:
        self._get(f"/?page={random.randint(2, 20)}", "/?page=N")

    @task(40)
    def post(self) -> None:
        self._get(random.choice(POST_URLS), "/post/N/slug/")

    @task(8)
    def search(self) -> None:
        self._get(f"/search/?q={random.choice(TOPICS)}", "/search/?q=T")

    @task(6)
    def feed(self) -> None:
        self._get("/feed/", "/feed/")

    @task(1)
    def comment(self) -> None:
        # Each comment comes from its own address: many readers comment once, none floods.
        headers = {**HTTPS, "X-Forwarded-For": _address()}
        _submit_form(
            self,
            f"/post/{random.choice(POSTS)}/comment/",
            {"author_name": "Bench reader", "text": "A reader's comment, waiting for moderation."},
            headers,
            names=("comment form", "comment post"),
        )
        # Forget the cookies (csrftoken, the flash message) like a new visitor would arrive.
        self.client.cookiejar.clear()


class Author(FastHttpUser):
    weight = 1
    wait_time = between(1, 3)

    def on_start(self) -> None:
        session = next(_sessions)
        self.posts = session["posts"] or POST_URLS[:10]
        self.client.cookiejar.set_cookie(_cookie("sessionid", session["sessionid"]))
        self.host_origin = self.host.replace("http://", "https://").rsplit(":", 1)[0]

    @task(4)
    def home(self) -> None:
        self.client.get("/", headers=HTTPS, name="author /")

    @task(3)
    def own_post(self) -> None:
        self.client.get(random.choice(self.posts), headers=HTTPS, name="author post")

    @task(2)
    def drafts(self) -> None:
        self.client.get("/drafts/", headers=HTTPS, name="author /drafts/")

    @task(1)
    def save_draft(self) -> None:
        _submit_form(
            self,
            "/post/new/",
            {
                "title": "A draft from the benchmark",
                "body": "Written *during* the benchmark.\n\n- one\n- two\n",
            },
            HTTPS,
            names=("author new form", "author save draft"),
        )


def _submit_form(
    user: FastHttpUser, path: str, data: dict, headers: dict, names: tuple[str, str]
) -> None:
    """GET the form, then POST it with the token it carries, an Origin and a Referer, as a
    browser does; `names` are the two requests' names in the figures."""
    form = user.client.get(path, headers=headers, name=names[0])
    match = _CSRF.search(form.text or "")
    if not match:
        return
    user.client.post(
        path,
        data={"csrfmiddlewaretoken": match.group(1), **data},
        headers={**headers, "Origin": user.host_origin, "Referer": user.host_origin + "/"},
        name=names[1],
    )


def _address() -> str:
    n = next(_addresses)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


def _cookie(name: str, value: str):
    from http.cookiejar import Cookie

    return Cookie(
        0, name, value, None, False, "127.0.0.1", False, False, "/", True, False, None, False,
        None, None, {},
    )  # fmt: skip
