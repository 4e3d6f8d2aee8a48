"""axe-core in Chromium over every kind of page, at a desktop and a phone width, as a visitor
and as an author: no violation. And a keyboard-only author: write, preview, publish.

Screenshots of each page at both widths go to build/screenshots/a11y-*.png."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from harness.gunicorn import Gunicorn, manage, production_env
from harness.paths import BUILD, project_version

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = BUILD / "screenshots"
PASSWORD = "a11y-test-password-7730"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}

# Content with every kind of thing a page can show: headings, code, a table, a quote, links,
# tags, comments approved and waiting, a draft, a featured image, enough posts for two pages.
SEED = f"""
from django.contrib.auth.models import User
from blog import images, media, services
from blog.models import AuthorProfile, Comment, PostImage
from blog.tests import imagefiles
user = User.objects.create_user("ada", password="{PASSWORD}", email="ada@example.com")
AuthorProfile.objects.create(user=user, display_name="Ada", bio="Writes about replicas.")
body = '''Intro with a https://example.com link and `code`.

# A heading

> A quote worth keeping.

```python
def replicas(n):
    return [f"web-{{i}}" for i in range(n)]
```

| replica | state |
|---|---|
| web-1 | ready |

- one
- two
'''
for i in range(12):
    post, _ = services.post_create(author=user, title=f"Post {{i}}", body=body,
                                   tags=["kubernetes", "django"])
    services.post_publish(post=post)
rich = post
prepared = images.prepare(imagefiles.upload(imagefiles.encoded("JPEG", 1200, 600)))
media.record(rich, prepared, media.store(prepared), alt="A kite", role=PostImage.FEATURED)
Comment.objects.create(post=rich, author_name="Rita", text="Lovely *post*!", approved=True)
Comment.objects.create(post=rich, author_name="Sam", text="Waiting.", approved=False)
services.post_create(author=user, title="A draft", body="Not yet.")
print(rich.pk)
"""


@pytest.fixture(scope="module")
def site(pg_server, redis_server, s3_server):
    env = production_env(
        pg_server.url,
        REDIS_URL=redis_server.url,
        APP_VERSION=project_version(),
        **s3_server.env(),
    )
    seeded = manage(env, "shell", "-c", SEED)
    with Gunicorn(env) as server:
        server.rich = int(seeded.strip().splitlines()[-1])
        yield server


def _pages(rich: int) -> dict[str, list[str]]:
    return {
        "visitor": [
            "/",
            "/?page=2",
            f"/post/{rich}/",
            f"/post/{rich}/comment/",
            "/search/?q=replicas",
            "/search/?q=nothing-matches-this",
            "/tag/kubernetes/",
            "/author/ada/",
            "/accounts/login/",
            "/accounts/password-reset/",
            "/no-such-page/",
            f"/post/{rich}/publish/",  # a GET on a POST-only URL: the 405 page
        ],
        "author": [
            f"/post/{rich}/",
            "/post/new/",
            f"/post/{rich}/edit/",
            "/drafts/",
            "/moderation/",
            f"/post/{rich}/remove/",
            "/account/profile/",
        ],
    }


def _log_in(page, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")


def _name(path: str) -> str:
    return path.strip("/").replace("/", "-").replace("?", "-").replace("=", "-") or "home"


@pytest.mark.parametrize("width", list(WIDTHS))
def test_no_page_has_an_axe_violation(site, browser, width):
    base = f"http://localhost:{site.port}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    axe = Axe()
    found: dict[str, list[str]] = {}
    for who, paths in _pages(site.rich).items():
        width_px, height_px = WIDTHS[width]
        context = browser.new_context(viewport={"width": width_px, "height": height_px})
        page = context.new_page()
        if who == "author":
            _log_in(page, base)
        for path in paths:
            page.goto(base + path)
            results = axe.run(page)
            page.screenshot(
                path=str(SHOTS / f"a11y-{width}-{who}-{_name(path)}.png"), full_page=True
            )
            violations = results.response["violations"]
            if violations:
                found[f"{who} {path}"] = [
                    f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
                    for v in violations
                ]
        context.close()
    assert found == {}


def _tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until `selector` has the focus (at most `limit` times)."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never got the focus with Tab")


def _log_in_by_keyboard(page, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    _tab_to(page, "#id_username")
    page.keyboard.type("ada")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/")


def test_an_author_writes_previews_and_publishes_with_the_keyboard_alone(site, browser):
    base = f"http://localhost:{site.port}"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _log_in_by_keyboard(page, base)
    _tab_to(page, "a[href='/post/new/']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/post/new/")
    _tab_to(page, "#id_title")
    page.keyboard.type("Typed without a mouse")
    page.keyboard.press("Tab")
    page.keyboard.type("Every **key** counts.")
    _tab_to(page, "button[value='preview']")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Preview (not saved)")
    assert page.locator(".preview strong").inner_text() == "key"
    _tab_to(page, "button[value='publish']")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Published.")
    page.screenshot(path=str(SHOTS / "a11y-keyboard-published.png"), full_page=True)
    assert page.locator("h1").inner_text() == "Typed without a mouse"
    page.close()


def test_an_author_cancels_then_confirms_a_delete_with_the_keyboard_alone(site, browser):
    base = f"http://localhost:{site.port}"
    page = browser.new_page(viewport={"width": 390, "height": 844})
    _log_in_by_keyboard(page, base)
    page.goto(f"{base}/post/new/")
    page.fill("#id_title", "Soon to go")
    page.fill("#id_body", "Nothing to keep.")
    page.click("button[value='publish']")
    page.wait_for_selector("text=Published.")
    address = page.url

    for choice in ("Cancel", "Delete"):
        _tab_to(page, "form[action$='/remove/'] button.danger")
        page.keyboard.press("Enter")
        page.wait_for_selector("section.confirm")
        assert page.url.split("?")[0].endswith("/remove/")
        assert page.locator("h1").inner_text() == "Delete “Soon to go”?"
        if choice == "Cancel":
            _tab_to(page, "section.confirm a")
            page.keyboard.press("Enter")
            page.wait_for_url(address)  # back where the button was, the post still there
            assert page.locator("h1").inner_text() == "Soon to go"
        else:
            _tab_to(page, "section.confirm button.danger")
            assert page.evaluate("document.activeElement.textContent") == choice
            page.keyboard.press("Enter")
            page.wait_for_selector("text=Deleted “Soon to go”.")
    page.screenshot(path=str(SHOTS / "a11y-keyboard-deleted.png"), full_page=True)
    assert page.goto(address).status == 404
    page.close()


def test_a_signed_in_header_stays_on_one_row_at_1280_px(site, browser):
    base = f"http://localhost:{site.port}"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _log_in(page, base)
    rows = page.evaluate(
        "['.site-name', 'nav[aria-label=Main]', 'form.search']"
        ".map(s => Math.round(document.querySelector(s).getBoundingClientRect().top))"
    )
    page.close()
    assert max(rows) - min(rows) < 20, rows
