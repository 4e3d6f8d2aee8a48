"""Markdown to safe HTML, done once when a post or comment is saved."""

from html.parser import HTMLParser

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore

# Raw HTML in the source is shown as text (html=False); nh3 then removes anything the
# renderer could still produce that a reader's browser would run.
_md = MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False}).enable(
    ["table", "strikethrough", "linkify"]
)
# Bare URLs become links only when they name their scheme: without this, "settings.py" or
# "notes.md" would link to a host in Paraguay or Moldova. ftp: and scheme-relative "//x"
# are not links either (the sanitiser would drop their href anyway).
_md.linkify.set({"fuzzy_link": False, "fuzzy_ip": False})
_md.linkify.add("ftp:", None)
_md.linkify.add("//", None)


def _shift_headings(state: StateCore) -> None:
    """`#` becomes <h2>, `##` <h3> and so on, capped at <h6>: the page's <h1> is the title."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"


_md.core.ruler.push("shift_headings", _shift_headings)

ALLOWED_TAGS = {
    "a",
    "abbr",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
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


# Elements that end a unit of text (a paragraph, a heading, a list item, a cell): the
# summary puts a space after each, where the HTML has none ("<li>a</li><li>b</li>").
_BLOCKS = frozenset(
    {
        "address",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "li",
        "ol",
        "p",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)


class _SummaryText(HTMLParser):
    """The text of rendered HTML, block by block, without code blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.units: list[str] = []
        self._current: list[str] = []
        self._in_pre = 0

    def _end_unit(self) -> None:
        text = " ".join("".join(self._current).split())
        if text:
            self.units.append(text)
        self._current = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "pre":
            self._end_unit()
            self._in_pre += 1
        elif tag in _BLOCKS:
            self._end_unit()

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in _BLOCKS:
            self._end_unit()

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self._in_pre = max(self._in_pre - 1, 0)
        elif tag in _BLOCKS:
            self._end_unit()

    def handle_data(self, data: str) -> None:
        if not self._in_pre:
            self._current.append(data)

    def close(self) -> None:
        super().close()
        self._end_unit()


def plain_summary(html: str, limit: int = 200) -> str:
    """The first words of rendered HTML as plain text, for descriptions and feeds."""
    parser = _SummaryText()
    parser.feed(html)
    parser.close()
    text = " ".join(parser.units)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if not text[limit - 1].isspace() and " " in cut:
        # Drop the word the limit falls inside, unless it is the only one.
        cut = cut.rsplit(" ", 1)[0]
    # No dangling comma or dash (hyphen, en or em) before the ellipsis.
    return cut.rstrip(" ,;:-\u2013\u2014") + "…"
