"""Stored XSS: hostile Markdown and HTML never reach a reader as live markup."""

import re
import time
from xml.etree import ElementTree

import pytest
from bs4 import BeautifulSoup

from blog.markdown import render_markdown
from blog.models import Post
from blog.tests.factories import CommentFactory, PostFactory
from blog.tests.html_safety import live_markup_problems, load_payloads, user_content_regions

PAYLOADS = load_payloads()


def test_the_corpus_is_large_enough():
    assert len(PAYLOADS) >= 100


def test_the_checker_catches_live_markup():
    # The oracle itself must be able to fail, or every test below passes vacuously.
    for hostile in [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        '<a href="jav&#x09;ascript:x">x</a>',
        '<iframe src="https://x.example"></iframe>',
        '<p style="x">y</p>',
    ]:
        assert live_markup_problems(hostile, fragment=True), hostile


@pytest.mark.corpus
@pytest.mark.parametrize("payload", PAYLOADS)
def test_rendered_markdown_has_no_live_markup(payload):
    assert live_markup_problems(render_markdown(payload), fragment=True) == []


def test_links_get_rel_nofollow_and_safe_links_survive():
    html = render_markdown("[ok](https://ok.example/path?x=1) and ![pic](https://ok.example/p.png)")
    soup = BeautifulSoup(html, "html5lib")
    link = soup.find("a")
    assert link["href"] == "https://ok.example/path?x=1"
    assert set(link["rel"]) == {"nofollow", "noopener", "noreferrer"}
    assert soup.find("img")["src"] == "https://ok.example/p.png"


def test_raw_html_is_shown_as_text():
    html = render_markdown("before <b>bold</b> after")
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_a_one_megabyte_body_renders_in_bounded_time():
    body = "A paragraph with *emphasis*, `code` and a [link](https://ok.example).\n\n" * 20_000
    body = body[:1_000_000]
    started = time.process_time()
    html = render_markdown(body)
    elapsed = time.process_time() - started
    assert html.count("<p>") > 10_000
    print(f"1 MB of Markdown rendered in {elapsed:.2f} s of CPU")
    # A generous bound (not a speed target): catches quadratic behaviour, which takes minutes.
    assert elapsed < 30


@pytest.mark.django_db
@pytest.mark.corpus
@pytest.mark.parametrize("payload", PAYLOADS)
def test_pages_show_hostile_posts_and_comments_as_inert_text(client, payload):
    post = PostFactory(title=payload[:200], body=payload)
    CommentFactory(post=post, text=payload[:5000], author_name=payload[:80], approved=True)
    # The title's slug in the address: letters, digits and dashes only, percent-encoded.
    assert re.fullmatch(r"/post/\d+/[a-z0-9%A-F_-]+/", post.get_absolute_url())
    for url in (post.get_absolute_url(), "/", "/feed/"):
        response = client.get(url)
        assert response.status_code == 200
        if url == "/feed/":
            # The feed carries the sanitised HTML escaped inside XML; unescaped, it is inert.
            feed = ElementTree.fromstring(response.content)  # noqa: S314 - our own output
            summaries = list(feed.iter("{http://www.w3.org/2005/Atom}summary"))
            assert summaries
            for summary in summaries:
                assert live_markup_problems(summary.text or "", fragment=True) == []
            continue
        page = response.content.decode()
        assert live_markup_problems(page) == [], url
        for region in user_content_regions(page):
            assert live_markup_problems(region, fragment=True) == [], url
    assert Post.objects.get(pk=post.pk).body == payload


@pytest.fixture
def one_image(settings):
    """A prepared image, and an empty in-memory bucket to store it in."""
    from blog import images
    from blog.tests import imagefiles

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    return images.prepare(imagefiles.upload(imagefiles.encoded("PNG", 40, 30), "a.png"))


@pytest.mark.django_db
@pytest.mark.corpus
@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_alt_texts_are_inert_wherever_the_image_is_shown(client, one_image, payload):
    from blog import images, media
    from blog.models import PostImage

    post = PostFactory()
    alt = payload[:300]
    featured = media.record(post, one_image, media.store(one_image), alt=alt, role="featured")
    inline = media.record(post, one_image, media.store(one_image), alt=alt, role=PostImage.BODY)
    post.body = f"{images.markdown_reference(inline)}\n\n![{payload}]({images.url(inline.folder)})"
    post.save()
    assert PostImage.objects.get(pk=featured.pk).alt == alt
    client.force_login(post.author)
    for url in (post.get_absolute_url(), "/", f"/post/{post.pk}/edit/"):
        page = client.get(url).content.decode()
        assert live_markup_problems(page) == [], url
        for region in user_content_regions(page):
            assert live_markup_problems(region, fragment=True) == [], url


@pytest.mark.django_db
def test_an_uploads_file_name_is_never_used(author_client, one_image):
    from django.core.files.storage import default_storage

    from blog.models import PostImage
    from blog.tests import imagefiles

    names = ['"><img src=x onerror=alert(1)>.png', "../../etc/passwd.png", "<svg onload=x>.png"]
    for name in names:
        author_client.post(
            "/post/new/",
            {
                "title": "t",
                "body": "b",
                "image": imagefiles.upload(imagefiles.encoded("PNG", 40, 30), name, "image/png"),
                "image_alt": "alt",
                "creation_token": "",
            },
        )
    folders = list(PostImage.objects.values_list("folder", flat=True))
    assert len(folders) == len(names)
    for post in Post.objects.all():
        page = author_client.get(post.get_absolute_url()).content.decode()
        assert "passwd" not in page and "onerror" not in page and "onload" not in page
    assert set(default_storage.listdir("images")[0]) == {f.split("/")[1] for f in folders}
