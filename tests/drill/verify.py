"""What the database holds after the drill, checked write by write, by id and token."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from tests.drill.load import Record

POSTS_SQL = (
    "SELECT p.id, u.username, p.title, p.body, p.body_html, p.summary, p.created_date,"
    " p.updated_date, p.published_date FROM blog_post p JOIN auth_user u ON u.id = p.author_id"
    " ORDER BY p.id"
)
APPROVED_COMMENTS_SQL = (
    "SELECT id, post_id, author_name, text, text_html, created_date FROM blog_comment"
    " WHERE approved ORDER BY id"
)


@dataclass
class Verdict:
    acked: bool  # the app answered it as done
    applied: bool  # the database holds it
    duplicate: bool = False  # applied more than once: the write was replayed
    incomplete: bool = False  # applied, but not as it was sent (half-applied)

    @property
    def missing(self) -> bool:
        return self.acked and not self.applied


def read_site(url: str) -> tuple[dict, dict]:
    """Every post (id -> row) and every comment (id -> (post, text, approved))."""
    with psycopg.connect(url, autocommit=True) as conn:
        posts = {row[0]: row for row in conn.execute(POSTS_SQL)}
        comments = {
            row[0]: row[1:]
            for row in conn.execute("SELECT id, post_id, text, approved FROM blog_comment")
        }
    return posts, comments


def verify_writes(records: list[Record], url: str) -> dict[int, Verdict]:
    """A verdict for every write the load sent (answered or not), by record seq."""
    posts, comments = read_site(url)
    posts_by_token: dict[str, list[int]] = {}
    for pk, row in posts.items():
        token = _token(row[2], "p-")
        if token:
            posts_by_token.setdefault(token, []).append(pk)
    comments_by_token: dict[str, list[int]] = {}
    for pk, (_, text, _) in comments.items():
        token = _token(text, "c-")
        if token:
            comments_by_token.setdefault(token, []).append(pk)

    verdicts: dict[int, Verdict] = {}
    for record in records:
        write = record.write
        if write is None or record.method != "POST":
            continue
        if record.kind == "create":
            ids = posts_by_token.get(write["token"], [])
            complete = all(
                posts[pk][2] == write["title"] and posts[pk][3] == write["body"] and posts[pk][4]
                for pk in ids
            )
            applied = bool(ids) and (not record.ok or write.get("post_id") in ids)
            verdicts[record.seq] = Verdict(record.ok, applied, len(ids) > 1, not complete)
        elif record.kind == "publish":
            row = posts.get(write["post_id"])
            verdicts[record.seq] = Verdict(record.ok, row is not None and row[8] is not None)
        elif record.kind == "comment":
            ids = comments_by_token.get(write["token"], [])
            complete = all(
                comments[pk][0] == write["post_id"] and comments[pk][1] == write["text"]
                for pk in ids
            )
            verdicts[record.seq] = Verdict(record.ok, bool(ids), len(ids) > 1, not complete)
        elif record.kind == "approve":
            row = comments.get(write["comment_id"])
            verdicts[record.seq] = Verdict(record.ok, row is not None and row[2] is True)
    return verdicts


def _token(text: str, prefix: str) -> str | None:
    for word in text.replace(".", " ").replace("(", " ").replace(")", " ").split():
        if word.startswith(prefix) and len(word) == len(prefix) + 12:
            return word
    return None
