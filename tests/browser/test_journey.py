"""A person in Chromium: log in, write a draft, give it images, publish it, comment, approve
the comment from the moderation queue."""

import os
import time

import pytest
from playwright.sync_api import expect

from blog.tests import imagefiles
from harness.gunicorn import Gunicorn, manage, production_env
from harness.paths import BUILD, project_version
from harness.worker import WorkerProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = BUILD / "screenshots"
PASSWORD = "browser-test-password-4821"


@pytest.fixture(scope="module")
def site(pg_server, redis_server, s3_server):
    env = production_env(
        pg_server.url,
        REDIS_URL=redis_server.url,
        APP_VERSION=project_version(),
        THEME_COLOR="orange",
        **s3_server.env(),  # images come from the bucket, another origin than the pages
    )
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth.models import User;"
        f"User.objects.filter(username='writer').exists() or "
        f"User.objects.create_user('writer', password='{PASSWORD}')",
    )
    worker = WorkerProcess(pg_server.url, **{k: v for k, v in env.items() if k != "PATH"})
    with Gunicorn(env) as server:
        worker.start()  # it makes the images' renditions
        try:
            yield server
        finally:
            worker.terminate()


def _loaded_width(page, selector: str) -> int:
    """The natural width of the image the browser loaded for `selector` (0: none loaded)."""
    page.wait_for_function(
        "s => { const i = document.querySelector(s); return i && i.complete; }", arg=selector
    )
    return page.locator(selector).first.evaluate("img => img.naturalWidth")


def _wait_for_renditions(page, timeout: float = 30.0) -> None:
    """Reload until the worker's renditions are in both images' srcset (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        srcsets = page.locator("article img").evaluate_all("l => l.map(i => i.srcset)")
        if len(srcsets) == 2 and all("480w" in s for s in srcsets):
            return
        time.sleep(0.5)
        page.reload()
    raise AssertionError(f"no renditions after {timeout} s: {srcsets}")


def _wider_than_the_screen(page) -> list[str]:
    """The elements that reach past the viewport's right edge (the page would scroll)."""
    return page.evaluate(
        "[...document.querySelectorAll('body *')]"
        ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)"
        ".map(e => `${e.tagName}.${e.className} ${e.getAttribute('src') || ''}`)"
    )


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_author_and_reader_journey(site, browser):
    base = f"http://localhost:{site.port}"
    author = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    author.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    author.goto(f"{base}/")
    expect(author.locator(".version")).to_have_text(project_version())
    author.get_by_role("link", name="Log in").click()
    author.get_by_label("Username").fill("writer")
    author.get_by_label("Password").fill(PASSWORD)
    author.get_by_role("button", name="Log in").click()
    expect(author.get_by_role("link", name="writer", exact=True)).to_be_visible()
    expect(author.get_by_text("Logged in as writer.")).to_be_visible()

    author.get_by_role("link", name="New post").click()
    author.get_by_label("Title").fill("Hello from Chromium")
    author.get_by_label("Body").fill("Written in a **real** browser.\n\n- one\n- two")
    _shot(author, "1-new-post")
    author.get_by_role("button", name="Save draft").click()
    expect(author.locator(".badge", has_text="Draft")).to_be_visible()

    # A featured image, then one in the body: plain forms, no JavaScript needed.
    photo, diagram = BUILD / "journey-photo.jpg", BUILD / "journey-diagram.png"
    photo.write_bytes(imagefiles.jpeg_with_gps(1600, 1000))
    diagram.write_bytes(imagefiles.encoded("PNG", 1000, 400))
    author.get_by_role("link", name="Edit").click()
    author.get_by_label("Featured image").set_input_files(str(photo))
    author.locator("#id_image_alt").fill("A kite over a hill")
    author.get_by_role("button", name="Save draft").click()
    expect(author.locator(".featured-image img[alt='A kite over a hill']")).to_be_visible()
    author.get_by_role("link", name="Edit").click()
    author.locator("#id_inline-image").set_input_files(str(diagram))
    author.get_by_label("Alt text").last.fill("A diagram of the replicas")
    author.get_by_role("button", name="Add image").click()
    expect(author.get_by_text("Image added.")).to_be_visible()
    reference = author.get_by_label("Markdown to paste into the body").input_value()
    body = author.get_by_role("textbox", name="Body:")
    body.fill(body.input_value() + "\n\n" + reference)
    _shot(author, "1-editing-images")
    author.get_by_role("button", name="Save draft").click()
    expect(author.locator(".post-body img[alt='A diagram of the replicas']")).to_be_visible()
    assert _loaded_width(author, ".featured-image img") > 0
    author.get_by_role("link", name="Drafts").click()
    expect(author.get_by_role("link", name="Hello from Chromium", exact=True)).to_be_visible()
    author.get_by_role("link", name="Hello from Chromium", exact=True).click()
    author.get_by_role("button", name="Publish").click()
    expect(author.get_by_text("Published.")).to_be_visible()
    _wait_for_renditions(author)
    _shot(author, "2-published")

    reader_context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    reader = reader_context.new_page()
    reader.goto(f"{base}/")
    expect(reader.get_by_role("link", name="Hello from Chromium", exact=True)).to_be_visible()
    _shot(reader, "3-home-on-a-phone")
    assert _loaded_width(reader, ".summary-image") > 0
    reader.get_by_role("link", name="Hello from Chromium", exact=True).click()
    expect(reader.locator(".post-body strong", has_text="real")).to_be_visible()
    # The phone gets a rendition no wider than it needs, and the page never scrolls sideways.
    reader.locator(".post-body img").scroll_into_view_if_needed()
    for selector in (".featured-image img", ".post-body img"):
        assert 0 < _loaded_width(reader, selector) <= 960, selector
    assert _wider_than_the_screen(reader) == []
    _shot(reader, "3-post-with-images-on-a-phone")
    reader.get_by_role("link", name="Leave a comment").click()
    reader.get_by_label("Your name").fill("Rita Reader")
    reader.get_by_label("Comment").fill("Lovely *post*!")
    reader.get_by_role("button", name="Send comment").click()
    expect(reader.get_by_text("will appear once the author approves it")).to_be_visible()
    expect(reader.get_by_text("Lovely")).to_have_count(0)
    _shot(reader, "4-comment-waiting")

    author.reload()
    expect(author.locator(".pending", has_text="Lovely")).to_be_visible()
    # The header counts what waits; the queue lists it, and approving there stays there.
    author.get_by_role("link", name="Comments 1 awaiting approval").click()
    expect(author.get_by_role("heading", name="Comments awaiting approval")).to_be_visible()
    _shot(author, "5-moderation-queue")
    author.get_by_role("button", name="Approve").click()
    expect(author.get_by_text("Comment approved.")).to_be_visible()
    expect(author.get_by_text("No comments are waiting")).to_be_visible()
    _shot(author, "5-approved")

    reader.goto(reader.url)
    expect(reader.locator(".comment-body em", has_text="post")).to_be_visible()
    _shot(reader, "6-comment-shown")

    author.get_by_role("button", name="Log out").click()
    expect(author.get_by_text("You have logged out.")).to_be_visible()
    expect(author.get_by_role("link", name="Log in")).to_be_visible()
    assert errors == [], f"browser console errors (CSP violations show here): {errors}"
    reader_context.close()
    assert len(os.listdir(SHOTS)) >= 6
