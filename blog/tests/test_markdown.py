"""What Markdown becomes: headings under the title, and summaries."""

import pytest
from bs4 import BeautifulSoup

from blog.markdown import plain_summary, render_markdown


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
