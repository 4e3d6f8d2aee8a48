"""What Markdown becomes: headings under the title, links, and summaries."""

import time

import pytest
from bs4 import BeautifulSoup

from blog.markdown import plain_summary, render_markdown
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
