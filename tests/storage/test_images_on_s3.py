"""Images end to end on a real S3 server (harness.s3, SeaweedFS), with the production settings:
gunicorn replicas, a task worker, PostgreSQL and Redis, all on 127.0.0.1.

- an image uploaded through one replica is on the page another renders, and the bytes its
  MEDIA_URL serves are the re-encoded image, without the photo's EXIF;
- the worker adds renditions, the page lists them; deleting the post deletes every object;
- each bad file is a form error and leaves no object;
- with the object store down, pages render and an upload fails with a clear message;
- the sweep deletes an orphan and keeps what a post refers to.
"""

import io
import re
import uuid
from datetime import timedelta

import pytest
import requests
from PIL import Image

from blog.tests import imagefiles
from harness.gunicorn import Gunicorn, site_with_editor
from harness.http import logged_in, post_url, submit_form
from harness.s3 import S3Server
from harness.servers import PostgresServer, RedisServer
from harness.worker import WorkerProcess, wait_until

pytestmark = pytest.mark.slow

HOST = {"Host": "localhost"}
EDITOR = ("editor", "editor-pass-123456")
NOT_STORED = "The image could not be stored just now, so nothing was saved."


def _site(pg, redis, s3) -> dict[str, str]:
    # No page cache: every read below sees the latest state.
    return site_with_editor(pg.url, EDITOR, REDIS_URL=redis.url, APP_PAGE_CACHE="false", **s3.env())


def _logged_in(app: Gunicorn) -> requests.Session:
    return logged_in(app.url, *EDITOR, HOST)


def _send_post(session, app, title: str, image: tuple[str, bytes, str], alt: str = "An alt"):
    """The new-post form with a featured image, as a browser sends it (multipart)."""
    url = f"{app.url}/post/new/"
    session.get(url, headers=HOST, timeout=10)
    return session.post(
        url,
        data={
            "title": title,
            "body": "Words.",
            "image_alt": alt,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        files={"image": image},
        headers={**HOST, "Referer": url},
        allow_redirects=False,
        timeout=20,
    )


def _img_src(page: str, alt: str) -> str:
    found = re.search(rf'<img src="([^"]+)" alt="{re.escape(alt)}"[^>]*>', page)
    assert found, f"no image with alt {alt!r} on the page"
    return found.group(1)


def test_an_image_uploaded_through_one_replica_is_served_on_the_other_and_goes_with_its_post(s3):
    photo = imagefiles.jpeg_with_gps(1200, 800)
    with PostgresServer() as pg, RedisServer() as redis:
        env = _site(pg, redis, s3)
        with Gunicorn(env) as one, Gunicorn(env) as other:
            session = _logged_in(one)
            created = _send_post(
                session, one, "A kite", ("IMG_0001.jpg", photo, "image/jpeg"), "A red kite"
            )
            assert created.status_code == 302, created.text[-2000:]
            path = created.headers["Location"]
            assert (
                submit_form(session, one.url + post_url(path, "publish"), {}, HOST).status_code
                == 302
            )

            page = requests.get(other.url + path, headers=HOST, timeout=10).text
            src = _img_src(page, "A red kite")
            assert re.fullmatch(
                re.escape(s3.public_url) + r"images/[0-9a-f]{32}/original\.jpg", src
            )
            key = src.removeprefix(s3.public_url)
            served = requests.get(src, timeout=10)  # as a reader's browser: no credentials
            assert served.status_code == 200
            assert served.headers["Content-Type"] == "image/jpeg"
            assert "immutable" in served.headers.get("Cache-Control", "")
            stored = s3.client().get_object(Bucket=s3.bucket, Key=key)["Body"].read()
            assert served.content == stored != photo
            clean = Image.open(io.BytesIO(served.content))
            assert clean.size == (1200, 800) and dict(clean.getexif()) == {}
            assert b"PhoneMaker" not in served.content and b"taken at home" not in served.content
            assert "IMG_0001" not in page and "IMG_0001" not in " ".join(s3.keys())

            folder = key.rsplit("/", 1)[0]
            worker = WorkerProcess(pg.url, REDIS_URL=redis.url, **s3.env()).start()
            try:
                made = [f"{folder}/{n}" for n in ("original.jpg", "w480.webp", "w960.webp")]
                assert wait_until(lambda: s3.keys("images/") == made, 30), s3.keys()
                assert wait_until(
                    lambda: (
                        f"{folder}/w960.webp 960w"
                        in requests.get(one.url + path, headers=HOST, timeout=10).text
                    ),
                    10,
                )
                rendition = requests.get(f"{s3.public_url}{folder}/w480.webp", timeout=10)
                assert Image.open(io.BytesIO(rendition.content)).size == (480, 320)

                assert (
                    submit_form(session, one.url + post_url(path, "remove"), {}, HOST).status_code
                    == 302
                )
                assert wait_until(lambda: s3.keys("images/") == [], 30), s3.keys()
            finally:
                worker.terminate()
            assert requests.get(src, timeout=10).status_code == 404


def test_every_bad_file_is_a_form_error_and_leaves_nothing_in_the_bucket(s3):
    with PostgresServer() as pg, RedisServer() as redis:
        env = _site(pg, redis, s3)
        with Gunicorn(env) as app:
            session = _logged_in(app)
            for name, (filename, data, content_type) in imagefiles.bad_files().items():
                answer = _send_post(session, app, f"bad {name}", (filename, data, content_type))
                assert answer.status_code == 200, name
                assert 'class="errorlist' in answer.text, name
            drafts = session.get(f"{app.url}/drafts/", headers=HOST, timeout=10).text
    assert "bad " not in drafts
    assert s3.keys() == []


def test_with_the_object_store_down_pages_render_and_an_upload_fails_clearly():
    with S3Server() as s3, PostgresServer() as pg, RedisServer() as redis:
        env = _site(pg, redis, s3)
        with Gunicorn(env) as app:
            session = _logged_in(app)
            first = _send_post(
                session, app, "Before", ("a.png", imagefiles.encoded("PNG"), "image/png")
            )
            path = first.headers["Location"]
            submit_form(session, app.url + post_url(path, "publish"), {}, HOST)
            before = s3.keys()
            s3.stop()
            try:
                page = requests.get(app.url + path, headers=HOST, timeout=10)
                assert page.status_code == 200 and _img_src(page.text, "An alt")
                assert requests.get(app.url + "/", headers=HOST, timeout=10).status_code == 200
                title = f"while down {uuid.uuid4().hex[:6]}"
                refused = _send_post(
                    session, app, title, ("b.png", imagefiles.encoded("PNG"), "image/png")
                )
                drafts = session.get(f"{app.url}/drafts/", headers=HOST, timeout=10).text
            finally:
                s3.start()
            assert (refused.status_code, refused.headers.get("Retry-After")) == (503, "30")
            assert NOT_STORED in refused.text and title in refused.text  # the text is kept
            assert title not in drafts
            assert s3.keys() == before


@pytest.mark.django_db
def test_the_sweep_deletes_an_orphan_and_keeps_what_a_post_refers_to(s3, settings, monkeypatch):
    from config.settings.base import media_storage

    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    settings.STORAGES = {**settings.STORAGES, "default": media_storage(s3.bucket)}
    settings.MEDIA_URL = s3.public_url

    from blog import images, media
    from blog.models import PostImage
    from blog.tests.factories import PostFactory

    prepared = images.prepare(imagefiles.upload(imagefiles.encoded("PNG", 600, 300), "a.png"))
    post = PostFactory()
    kept = media.record(post, prepared, media.store(prepared), alt="k", role=PostImage.BODY)
    media.make_renditions.call(kept.pk)
    orphan = media.store(prepared)
    assert media.sweep_orphans() == 0  # younger than an upload can take to be recorded
    assert media.sweep_orphans(older_than=timedelta(0)) == 1
    assert s3.keys() == [f"{kept.folder}/original.png", f"{kept.folder}/w480.webp"]
    remaining = s3.keys()
    assert not any(key.startswith(orphan) for key in remaining)
