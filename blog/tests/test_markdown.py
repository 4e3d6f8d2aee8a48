"""What Markdown becomes: headings under the title, links, highlighted code, and summaries."""

import time

import pytest
from bs4 import BeautifulSoup

from blog.markdown import (
    HIGHLIGHT_MAX_CHARS,
    PYGMENTS_CLASSES,
    plain_summary,
    render_markdown,
    sanitise,
)
from blog.tests.html_safety import live_markup_problems


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html5lib")


# Headings


@pytest.mark.parametrize(
    ("source", "tag"),
    [("# A", "h2"), ("## A", "h3"), ("### A", "h4"), ("#### A", "h5"), ("##### A", "h6")],
)
def test_headings_start_below_the_page_title(source, tag):
    assert render_markdown(source) == f"<{tag}>A</{tag}>\n"


def test_the_deepest_headings_stay_h6():
    assert render_markdown("###### A") == "<h6>A</h6>\n"
    assert render_markdown("A\n=\n\nB\n-") == "<h2>A</h2>\n<h3>B</h3>\n"


def test_a_body_never_has_an_h1():
    html = render_markdown("# One\n\nText\n\n# Two\n\nSetext\n======")
    assert soup(html).find("h1") is None
    assert [h.name for h in soup(html).find_all(["h2", "h3"])] == ["h2", "h2", "h2"]


# Bare URLs


def test_a_bare_url_becomes_a_link_with_rel_nofollow():
    html = render_markdown("See https://ok.example/a_b?x=1&y=2, then stop.")
    assert html == (
        '<p>See <a href="https://ok.example/a_b?x=1&amp;y=2" rel="nofollow noopener noreferrer">'
        "https://ok.example/a_b?x=1&amp;y=2</a>, then stop.</p>\n"
    )


def test_a_megabyte_of_bare_urls_renders_in_bounded_time():
    body = ("See https://ok.example/a?b=c, http://x.example and me@ok.example.\n\n" * 20_000)[
        :1_000_000
    ]
    started = time.process_time()
    html = render_markdown(body)
    elapsed = time.process_time() - started
    assert html.count("<a href=") > 25_000
    # A generous bound, as for the 1 MB body in test_sanitising: catches quadratic behaviour.
    assert elapsed < 30


def test_bare_http_and_mailto_become_links():
    links = soup(render_markdown("http://ok.example and mailto:me@ok.example")).find_all("a")
    assert [a["href"] for a in links] == ["http://ok.example", "mailto:me@ok.example"]


@pytest.mark.parametrize(
    "text",
    [
        "settings.py",  # .py is a country's domain; a file name is not a link
        "www.ok.example",
        "ftp://ok.example/file",
        "//ok.example/path",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
    ],
)
def test_only_http_https_and_mailto_text_becomes_a_link(text):
    html = render_markdown(f"Look: {text} here")
    assert soup(html).find("a") is None, html
    assert live_markup_problems(html, fragment=True) == []


# Code


def test_fenced_code_with_a_language_is_highlighted_once_at_render_time():
    html = render_markdown('```python\ndef f(x):\n    return "<b>" & x\n```')
    assert html == (
        '<pre tabindex="0"><code class="highlight">'
        '<span class="k">def</span><span class="w"> </span><span class="nf">f</span>'
        '<span class="p">(</span><span class="n">x</span><span class="p">):</span>\n'
        '    <span class="k">return</span> <span class="s2">"&lt;b&gt;"</span> '
        '<span class="o">&amp;</span> <span class="n">x</span>\n'
        "</code></pre>\n"
    )


def test_the_language_name_is_case_insensitive_and_extra_words_are_ignored():
    html = render_markdown("```Python linenos\nx = 1\n```")
    assert soup(html).select("code.highlight span.mi")[0].text == "1"


@pytest.mark.parametrize("info", ["", "nosuchlanguage", "<script>"])
def test_code_without_a_known_language_is_plain_escaped_text(info):
    html = render_markdown(f"```{info}\na < b && c\n```")
    assert html == '<pre tabindex="0"><code>a &lt; b &amp;&amp; c\n</code></pre>\n'


def test_indented_code_is_a_focusable_plain_block():
    assert render_markdown("    x = 1") == '<pre tabindex="0"><code>x = 1\n</code></pre>\n'


def test_inline_code_is_not_highlighted():
    assert render_markdown("Use `x = 1`.") == "<p>Use <code>x = 1</code>.</p>\n"


def test_highlighted_spans_carry_only_pygments_class_names():
    source = "\n\n".join(
        f"```{lang}\n{code}\n```"
        for lang, code in [
            ("python", "@decorator\nclass A(B):\n    '''doc'''\n    x: int = 0x1f  # c"),
            ("javascript", "const re = /a+/g; let s = `t ${x}`;"),
            ("html", '<a href="#x" onclick="y">z</a><!-- c -->'),
            ("bash", 'for f in *; do echo "$f"; done'),
            ("sql", "SELECT 1 FROM t WHERE a = 'b';"),
            ("yaml", "a: [1, 'b']\n# c"),
        ]
    )
    html = render_markdown(source)
    spans = soup(html).find_all("span")
    assert len(spans) > 50
    for span in spans:
        assert set(span.attrs) <= {"class"}
        assert set(span.get("class", [])) <= PYGMENTS_CLASSES, span
    # The HTML inside a code sample is text, never markup.
    assert soup(html).find("a") is None
    assert live_markup_problems(html, fragment=True) == []


def test_the_largest_highlighted_block_renders_in_bounded_time():
    body = "```python\n" + 'x = "a" + b  # comment\n' * 2_000 + "```\n"
    assert len(body) < HIGHLIGHT_MAX_CHARS
    started = time.process_time()
    html = render_markdown(body)
    elapsed = time.process_time() - started
    assert html.count('<span class="c1">') == 2_000
    assert elapsed < 10


def test_a_huge_code_block_is_shown_plain_in_bounded_time():
    body = "```python\n" + 'x = "a" + b  # comment\n' * 40_000 + "```\n"
    started = time.process_time()
    html = render_markdown(body)
    elapsed = time.process_time() - started
    assert html.startswith('<pre tabindex="0"><code>x = "a"')
    assert "<span" not in html
    assert elapsed < 10


# The sanitiser's rules for the attributes the renderer adds


@pytest.mark.parametrize(
    ("hostile", "safe"),
    [
        ('<span class="x onerror">a</span>', '<span class="x">a</span>'),
        ('<span class="evil">a</span>', '<span class="">a</span>'),
        ('<span class="k" onmouseover="alert(1)" id="k">a</span>', '<span class="k">a</span>'),
        ('<span style="color:red">a</span>', "<span>a</span>"),
        ('<code class="highlight language-js">a</code>', '<code class="highlight">a</code>'),
        ('<code class="k">a</code>', '<code class="">a</code>'),
        ('<pre class="k">a</pre>', "<pre>a</pre>"),
        ('<pre tabindex="-1">a</pre>', "<pre>a</pre>"),
        ('<pre tabindex="1">a</pre>', "<pre>a</pre>"),
        ('<pre tabindex="0" onfocus="alert(1)" autofocus>a</pre>', '<pre tabindex="0">a</pre>'),
        ('<table tabindex="9"></table>', "<table></table>"),
        ('<p tabindex="0" class="k">a</p>', "<p>a</p>"),
        ('<h1 class="k">a</h1>', "a"),
    ],
)
def test_the_sanitiser_allows_only_the_classes_and_tabindex_the_renderer_emits(hostile, safe):
    assert sanitise(hostile) == safe


# Summaries


@pytest.mark.parametrize(
    ("source", "summary"),
    [
        # Before: "Drafts Keep them: drafts , publishing"
        ("# Drafts\n\nKeep them:\n\n- drafts\n- publishing", "Drafts Keep them: drafts publishing"),
        # Before: "Publish it once , then relax ."
        ("Publish it *once*, then **relax**.", "Publish it once, then relax."),
        # Before: "Run it: def f(): return 1 Done."
        ("Run it:\n\n```python\ndef f():\n    return 1\n```\n\nDone.", "Run it: Done."),
        ("Indented:\n\n    secret = 1\n\nAfter.", "Indented: After."),
        # Inline code keeps its text, and no space appears around it.
        ("Set `DEBUG`=false, then `make`.", "Set DEBUG=false, then make."),
        ("> Quoted\n\nAnswer", "Quoted Answer"),
        ("| a | b |\n|---|---|\n| 1 | 2 |", "a b 1 2"),
        ("Line one  \nline two", "Line one line two"),
        ("A &amp; B &lt;tag&gt;", "A & B <tag>"),
        ("See https://ok.example/x.", "See https://ok.example/x."),
        ("", ""),
    ],
)
def test_summaries_keep_word_boundaries_and_leave_code_blocks_out(source, summary):
    assert plain_summary(render_markdown(source)) == summary


def test_a_long_summary_is_cut_at_a_word_boundary():
    html = render_markdown("One two three, four five six seven.")
    assert plain_summary(html, limit=20) == "One two three, four…"
    assert plain_summary(html, limit=19) == "One two three…"
    assert plain_summary(html, limit=15) == "One two three…"
    assert plain_summary(html, limit=14) == "One two…"


def test_a_summary_is_never_longer_than_its_limit():
    html = render_markdown("word " * 300)
    summary = plain_summary(html)
    assert len(summary) <= 200
    assert summary.endswith(" word…")


def test_a_single_long_word_is_cut_inside_it():
    assert plain_summary(render_markdown("x" * 500), limit=10) == "x" * 9 + "…"
