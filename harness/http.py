"""HTTP to the servers under test on 127.0.0.1: one plain GET, and forms sent as a browser
sends them (the CSRF token from the cookie, a Referer)."""

from __future__ import annotations

import http.client
import re

import requests


def http_get(
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 5.0
) -> tuple[int, dict[str, str], bytes]:
    """GET http://127.0.0.1:port/path on a fresh connection: (status, lower-cased headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def submit_form(
    session: requests.Session, url: str, data: dict[str, str], headers: dict[str, str] | None = None
) -> requests.Response:
    """GET the form at `url` (for the CSRF cookie), then POST `data` with the CSRF token and a
    Referer, as a browser does; the POST's answer, redirects not followed."""
    headers = headers or {}
    session.get(url, headers=headers, timeout=10)
    return session.post(
        url,
        data={**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={**headers, "Referer": url},
        allow_redirects=False,
        timeout=10,
    )


def login(
    session: requests.Session,
    base_url: str,
    username: str,
    password: str,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """Log the session in through the login form; the answer is a 302 when the password is right."""
    form = {"username": username, "password": password}
    return submit_form(session, f"{base_url}/accounts/login/", form, headers)


def logged_in(
    base_url: str, username: str, password: str, headers: dict[str, str] | None = None
) -> requests.Session:
    """A new session, logged in through the login form (or an AssertionError)."""
    session = requests.Session()
    answer = login(session, base_url, username, password, headers)
    if answer.status_code != 302:
        raise AssertionError(f"login as {username} answered {answer.status_code}")
    return session


def signed_in_as(username: str) -> bytes:
    """What every page's header shows to a signed-in user (templates/base.html)."""
    return f'title="Signed in: your author page">{username}</a>'.encode()


def post_url(location: str, action: str = "") -> str:
    """The address of `action` (publish, remove, comment, ...) on the post that a redirect's
    Location names (a post's own address is /post/<pk>/<slug>/)."""
    pk = re.match(r"^/post/(\d+)/", location).group(1)
    return f"/post/{pk}/{action}/" if action else f"/post/{pk}/"
