"""CSRF, login lock-out, request limits, error pages."""

import pytest
from django.test import Client

from blog.models import AuthorProfile, Comment, Post, PostImage
from blog.tests.factories import PASSWORD, CommentFactory, PostFactory, UserFactory

pytestmark = pytest.mark.django_db


def _post_urls(world) -> dict[str, str]:
    post, draft, comment = world
    return {
        "post_new": "/post/new/",
        "post_edit": f"/post/{post.pk}/edit/",
        "post_publish": f"/post/{draft.pk}/publish/",
        "post_unpublish": f"/post/{post.pk}/unpublish/",
        "post_remove": f"/post/{post.pk}/remove/",
        "add_comment_to_post": f"/post/{post.pk}/comment/",
        "comment_approve": f"/comment/{comment.pk}/approve/",
        "comment_remove": f"/comment/{comment.pk}/remove/",
        "login": "/accounts/login/",
        "logout": "/accounts/logout/",
        "password_reset": "/accounts/password-reset/",
        "password_reset_confirm": "/accounts/reset/MQ/set-password/",
        "post_image_add": f"/post/{post.pk}/images/",
        "post_image_remove": f"/image/{post.images.get().pk}/remove/",
        "edit_profile": "/account/profile/",
    }


@pytest.fixture
def world(author):
    post = PostFactory(author=author)
    PostImage.objects.create(
        post=post, role=PostImage.BODY, folder="images/x", ext="png", width=9, height=9, alt="x"
    )
    return post, PostFactory(author=author, draft=True), CommentFactory(post=post, approved=False)


def test_every_post_without_a_csrf_token_is_refused(world):
    author = world[0].author
    client = Client(enforce_csrf_checks=True)
    client.force_login(author)
    before = (Post.objects.count(), Comment.objects.count(), PostImage.objects.count())
    for name, url in _post_urls(world).items():
        response = client.post(url, {"title": "t", "body": "b", "author_name": "a", "text": "c"})
        assert response.status_code == 403, name
        assert b"This form has expired" in response.content
    assert (Post.objects.count(), Comment.objects.count(), PostImage.objects.count()) == before
    assert not AuthorProfile.objects.exists()
    assert Post.objects.get(pk=world[1].pk).published_date is None
    assert Post.objects.get(pk=world[0].pk).published_date is not None


def test_the_csrf_table_names_every_view_that_accepts_post(world):
    # Every URL in the permission table that accepts POST must be in the CSRF test above.
    from config.tests.test_authorization import RULES

    accepting_post = {
        name.split(":")[0]
        for name, rule in RULES.items()
        if any(status not in (405, "login") for status in rule.post.values())
    }
    assert accepting_post - {"admin"} == set(_post_urls(world))


def test_a_post_with_the_token_is_accepted(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world[0].author)
    page = client.get("/post/new/")
    token = page.context["csrf_token"]
    response = client.post(
        "/post/new/", {"title": "With token", "body": "ok", "csrfmiddlewaretoken": str(token)}
    )
    assert response.status_code == 302


def test_login_brute_force_locks_the_account_from_that_address(settings):
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="victim")
    client = Client()
    statuses = [
        client.post(
            "/accounts/login/",
            {"username": "victim", "password": f"guess{i}"},
            REMOTE_ADDR="203.0.113.7",
        ).status_code
        for i in range(3)
    ]
    assert statuses == [200, 200, 429]
    # Even the right password is refused from that address ...
    locked = client.post(
        "/accounts/login/", {"username": "victim", "password": PASSWORD}, REMOTE_ADDR="203.0.113.7"
    )
    assert locked.status_code == 429
    assert b"Too many failed log-in attempts" in locked.content
    assert "_auth_user_id" not in client.session
    # ... but not from the account holder's own: usernames are public, so a guesser must not
    # be able to lock anyone out.
    elsewhere = Client()
    response = elsewhere.post(
        "/accounts/login/", {"username": "victim", "password": PASSWORD}, REMOTE_ADDR="10.0.0.99"
    )
    assert response.status_code == 302
    assert "_auth_user_id" in elsewhere.session


def test_login_brute_force_from_one_address_over_many_accounts(settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 4
    for i in range(5):
        UserFactory(username=f"user{i}")
    client = Client()
    statuses = [
        client.post(
            "/accounts/login/",
            {"username": f"user{i}", "password": "wrong" if i < 4 else PASSWORD},
            REMOTE_ADDR="203.0.113.7",
        ).status_code
        for i in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]


def test_a_successful_login_before_the_limit_resets_the_count(settings):
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="forgetful")
    client = Client()
    for attempt in ["a", "b", PASSWORD, "c", "d", PASSWORD]:
        response = client.post("/accounts/login/", {"username": "forgetful", "password": attempt})
    assert response.status_code == 302


def test_request_body_size_is_bounded(world):
    client = Client()
    client.force_login(world[0].author)
    response = client.post("/post/new/", {"title": "big", "body": "x" * 3_000_000})
    assert response.status_code == 400
    assert not Post.objects.filter(title="big").exists()


def test_form_field_count_is_bounded(world):
    client = Client()
    data = {f"field{i}": "x" for i in range(500)}
    response = client.post(f"/post/{world[0].pk}/comment/", data)
    assert response.status_code == 400


def test_error_pages_show_no_traceback_or_settings(client, settings, monkeypatch):
    from blog import views

    def explode(*args, **kwargs):
        raise RuntimeError("secret detail of the failure")

    monkeypatch.setattr(views.PostListView, "get_queryset", explode)
    client.raise_request_exception = False
    response = client.get("/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Traceback" not in body and "secret detail" not in body
    assert settings.SECRET_KEY not in body
    for status_url in ["/post/999999/", "/nothing-here/"]:
        page = client.get(status_url).content.decode()
        assert "Traceback" not in page and settings.SECRET_KEY not in page
