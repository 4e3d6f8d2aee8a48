"""Markdown to safe HTML, done once when a post or comment is saved."""

from html import escape
from html.parser import HTMLParser

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

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

# Which renderer made a post's or comment's stored HTML. Raise it whenever the same Markdown
# would give different HTML: what an older one rendered is rendered again in the background
# (blog.tasks.render_again, queued by housekeeping). Stored HTML from before it was counted
# has none.
RENDERING = 1

# The class on a highlighted block's <code>; static/css/site.css scopes the colours under it.
HIGHLIGHT_CLASS = "highlight"
# The short class names Pygments puts on its <span>s ("k", "nf", "s2", ...); a lexer's own
# token types add longer names, which the sanitiser drops, leaving the standard parent's.
PYGMENTS_CLASSES = frozenset(name for name in STANDARD_TYPES.values() if name)
# Lexers are regular expressions; a block this long is shown plain rather than risk seconds
# of CPU inside the request that saves it.
HIGHLIGHT_MAX_CHARS = 50_000
_formatter = HtmlFormatter(nowrap=True)


def _shift_headings(state: StateCore) -> None:
    """`#` becomes <h2>, `##` <h3> and so on, capped at <h6>: the page's <h1> is the title."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"


_md.core.ruler.push("shift_headings", _shift_headings)


def _focusable_tables(state: StateCore) -> None:
    """Wide tables scroll (static/css/site.css), and a region that scrolls must be reachable
    by keyboard (axe: scrollable-region-focusable)."""
    for token in state.tokens:
        if token.type == "table_open":
            token.attrSet("tabindex", "0")


_md.core.ruler.push("focusable_tables", _focusable_tables)


def _code_html(code: str, language: str) -> str:
    """A code block as <pre>: highlighted when its language is known, else plain text."""
    language = language.strip().split(maxsplit=1)[0].lower() if language.strip() else ""
    lexer = None
    if language and len(code) <= HIGHLIGHT_MAX_CHARS:
        try:
            lexer = get_lexer_by_name(language, stripnl=False)
        except ClassNotFound:
            lexer = None
    if lexer is None:
        inner = f"<code>{escape(code, quote=False)}</code>"
    else:
        inner = f'<code class="{HIGHLIGHT_CLASS}">{highlight(code, lexer, _formatter)}</code>'
    # Long lines scroll inside the <pre>, which keyboard users must be able to focus.
    return f'<pre tabindex="0">{inner}</pre>\n'


def _render_fence(self, tokens, idx, options, env) -> str:
    return _code_html(tokens[idx].content, tokens[idx].info)


def _render_code_block(self, tokens, idx, options, env) -> str:
    return _code_html(tokens[idx].content, "")


_md.add_render_rule("fence", _render_fence)
_md.add_render_rule("code_block", _render_code_block)

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
    "span",
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
# Attributes allowed with one exact value only; any other value removes the attribute.
ALLOWED_ATTRIBUTE_VALUES = {
    "pre": {"tabindex": {"0"}},
    "table": {"tabindex": {"0"}},
}
# Class names allowed per tag; any other name is removed from the class attribute.
ALLOWED_CLASSES = {
    "code": {HIGHLIGHT_CLASS},
    "span": set(PYGMENTS_CLASSES),
}
ALLOWED_SCHEMES = {"http", "https", "mailto"}


def sanitise(html: str) -> str:
    """Remove from `html` everything but the tags, attributes and URLs a body may have."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        tag_attribute_values=ALLOWED_ATTRIBUTE_VALUES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


def render_markdown(source: str) -> str:
    """Render Markdown to HTML that is safe to show to any reader."""
    return sanitise(_md.render(source))


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
