"""Markdown to safe HTML, done once when a post or comment is saved."""

import re
from html import unescape

import nh3
from markdown_it import MarkdownIt

# Raw HTML in the source is shown as text (html=False); nh3 then removes anything the
# renderer could still produce that a reader's browser would run.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)

ALLOWED_TAGS = {
    "a",
    "abbr",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
}
ALLOWED_SCHEMES = {"http", "https", "mailto"}


def render_markdown(source: str) -> str:
    """Render Markdown to HTML that is safe to show to any reader."""
    html = _md.render(source)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def plain_summary(html: str, limit: int = 200) -> str:
    """The first words of rendered HTML as plain text, for descriptions and feeds."""
    text = _SPACE.sub(" ", unescape(_TAG.sub(" ", html))).strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0] + "…"
