"""Parts of pages rendered once per content, not once per request.

A list page shows ten post summaries and a post shows its comments; each is the same HTML
for every request until the post or comment changes, yet Django's templates made them again
each time (most of an uncached page's 5 ms). A fragment here is rendered once per process
and kept under a key made of *every value it is rendered from*, so it can never be stale:
an edit, a new comment count or a scheduled post going live is a new key, and the old entry
simply ages out. Nothing per request or per user is in a fragment (no CSRF token, no user),
so private pages can share them too.

The memo is per process, bounded (least recently used entries go first) and thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

MEMO_SIZE = 4096  # fragments of ~1 KB: a few MB per worker at most


class Memo:
    """Rendered HTML by the key of everything it was rendered from (LRU, bounded)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, SafeString] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, render: Callable[[], str]) -> SafeString:
        with self._lock:
            html = self._items.get(key)
            if html is not None:
                self._items.move_to_end(key)
                return html
        html = mark_safe(render())  # noqa: S308 - a template's output, escaped by it
        with self._lock:
            self._items[key] = html
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        return html

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


MEMO = Memo(MEMO_SIZE)


def post_summary(post, heading: str = "h2", read_more: bool = False) -> SafeString:
    """A post in a list (blog/_post_summary.html): title, state, date, author, featured
    image, summary and, with `read_more`, the approved-comment count (the post needs
    `comment_count`, and `PostQuerySet.for_lists`' featured image fields)."""
    comment_count = post.comment_count if read_more else None
    key = (
        "post_summary",
        heading,
        comment_count,
        post.pk,
        post.title,
        post.summary,
        post.published_date,
        post.created_date,
        post.is_published,
        post.author.get_username(),
        *(getattr(post, f"featured_{f}", None) for f in ("folder", "alt", "width", "height")),
        tuple(getattr(post, "featured_renditions", None) or ()),
        post.tags_joined,
    )
    context = {"post": post, "heading": heading, "read_more": read_more}
    return MEMO.get(key, lambda: render_to_string("blog/_post_summary.html", context))


def comment_content(comment) -> SafeString:
    """An approved comment's author, time and text (blog/_comment.html)."""
    key = ("comment", comment.pk, comment.author_name, comment.created_date, comment.text_html)
    return MEMO.get(key, lambda: render_to_string("blog/_comment.html", {"comment": comment}))
