"""Links shared anywhere show a preview: canonical link, OpenGraph and Twitter card tags."""

import pytest
from bs4 import BeautifulSoup

from blog import images, media
from blog.models import PostImage
from blog.tests import imagefiles
from blog.tests.factories import PostFactory

pytestmark = pytest.mark.django_db


def _meta(html: str) -> dict[str, str]:
    soup = BeautifulSoup(html, "html5lib")
    found = {
        m.get("property") or m.get("name"): m["content"]
        for m in soup.find_all("meta")
        if m.has_attr("content")
    }
    found["canonical"] = soup.find("link", rel="canonical")["href"]
    return found


@pytest.fixture
def site_url(settings):
    settings.SITE_URL = "https://blog.example.com"
    settings.MEDIA_URL = "https://media.example.net/"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    return settings.SITE_URL


def test_a_post_is_an_article_with_its_featured_image(client, site_url):
    post = PostFactory(title='Kites & "hills"', body="About kites.")
    prepared = images.prepare(imagefiles.upload(imagefiles.encoded("JPEG", 1200, 630)))
    featured = media.record(
        post, prepared, media.store(prepared), alt="A kite", role=PostImage.FEATURED
    )
    meta = _meta(client.get(post.get_absolute_url(), HTTP_HOST="localhost").content.decode())
    url = "https://blog.example.com" + post.get_absolute_url()
    image = f"https://media.example.net/{featured.folder}/original.jpg"
    assert meta["canonical"] == meta["og:url"] == url  # on SITE_URL, not the request's host
    assert (meta["og:type"], meta["og:title"], meta["og:description"]) == (
        "article",
        'Kites & "hills"',
        "About kites.",
    )
    assert meta["article:published_time"] == post.published_date.isoformat()
    assert meta["article:author"] == post.author.get_username()
    assert (meta["og:image"], meta["og:image:alt"], meta["og:image:width"]) == (
        image,
        "A kite",
        "1200",
    )
    assert (meta["twitter:card"], meta["twitter:image"], meta["twitter:title"]) == (
        "summary_large_image",
        image,
        'Kites & "hills"',
    )


def test_a_post_without_an_image_gets_a_summary_card(client, site_url):
    post = PostFactory(title="Plain")
    meta = _meta(client.get(post.get_absolute_url()).content.decode())
    assert meta["twitter:card"] == "summary" and "og:image" not in meta


def test_other_pages_describe_themselves_as_pages_of_the_site(client, site_url):
    PostFactory.create_batch(11)
    meta = _meta(client.get("/?page=2").content.decode())
    assert (meta["og:type"], meta["canonical"]) == ("website", "https://blog.example.com/?page=2")
    assert _meta(client.get("/").content.decode())["canonical"] == "https://blog.example.com/"
    assert "article:author" not in meta


def test_a_draft_and_the_comment_form_do_not_claim_to_be_the_article(client, author, site_url):
    draft = PostFactory(author=author, draft=True)
    client.force_login(author)
    assert _meta(client.get(draft.get_absolute_url()).content.decode())["og:type"] == "website"
    client.logout()
    post = PostFactory()
    meta = _meta(client.get(f"/post/{post.pk}/comment/").content.decode())
    assert (meta["og:type"], meta["og:url"]) == (
        "website",
        f"https://blog.example.com/post/{post.pk}/comment/",
    )


def test_a_relative_media_url_becomes_absolute_on_the_site(client, site_url, settings):
    settings.MEDIA_URL = "/media/"
    post = PostFactory()
    prepared = images.prepare(imagefiles.upload(imagefiles.encoded("PNG", 300, 200), "a.png"))
    media.record(post, prepared, media.store(prepared), alt="a", role=PostImage.FEATURED)
    meta = _meta(client.get(post.get_absolute_url()).content.decode())
    assert meta["og:image"].startswith("https://blog.example.com/media/images/")


def test_a_posts_tags_are_article_tags(client, site_url):
    from blog.services import _set_tags

    post = PostFactory()
    _set_tags(post, ["Kubernetes", "Django"])
    soup = BeautifulSoup(client.get(post.get_absolute_url()).content.decode(), "html5lib")
    tags = [m["content"] for m in soup.find_all("meta", property="article:tag")]
    assert tags == ["Django", "Kubernetes"]
