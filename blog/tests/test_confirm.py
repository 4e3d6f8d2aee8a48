"""Delete, Remove and Remove image ask first: a GET shows the question, the POST acts."""

from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup
from django.test import Client

from blog.models import Comment, Post, PostImage
from blog.tests.factories import CommentFactory, PostFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def post(author):
    return PostFactory(author=author, title="Tea & biscuits")


@pytest.fixture
def comment(post):
    return CommentFactory(post=post, author_name="Reader", text="First!", approved=False)


@pytest.fixture
def image(post):
    return PostImage.objects.create(
        post=post, role=PostImage.BODY, folder="images/x", ext="png", width=9, height=9, alt="x"
    )


def _page(response):
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    return BeautifulSoup(response.content, "html.parser")


def _confirm_form(page, url):
    form = page.select_one("main form[method=post]")
    assert form["action"] == url
    assert form.select_one("input[name=csrfmiddlewaretoken]") is not None
    return form


def test_delete_asks_first_naming_the_post_and_changes_nothing(author_client, post):
    url = f"/post/{post.pk}/remove/"
    page = _page(author_client.get(url))
    assert page.h1.get_text() == "Delete “Tea & biscuits”?"
    form = _confirm_form(page, url)
    assert form.button["class"] == ["danger"] and form.button.get_text() == "Delete"
    assert (
        page.select_one("main a[href]:-soup-contains('Cancel')")["href"] == post.get_absolute_url()
    )
    assert Post.objects.filter(pk=post.pk).exists()


def test_remove_comment_asks_first_and_cancel_goes_back_to_the_queue(author_client, comment):
    url = f"/comment/{comment.pk}/remove/"
    page = _page(author_client.get(url, {"next": "/moderation/"}))
    assert page.h1.get_text() == "Remove the comment by “Reader” on “Tea & biscuits”?"
    form = _confirm_form(page, url)
    assert form.select_one("input[name=next]")["value"] == "/moderation/"
    assert page.select_one("main a:-soup-contains('Cancel')")["href"] == "/moderation/"
    assert Comment.objects.filter(pk=comment.pk).exists()


def test_remove_comment_from_the_post_page_goes_back_to_the_post(author_client, comment):
    page = _page(author_client.get(f"/comment/{comment.pk}/remove/", {"next": "//evil.example/"}))
    assert page.select_one("main input[name=next]") is None
    assert (
        page.select_one("main a:-soup-contains('Cancel')")["href"]
        == comment.post.get_absolute_url()
    )


def test_remove_image_asks_first_and_cancel_goes_back_to_the_edit_page(author_client, image):
    url = f"/image/{image.pk}/remove/"
    page = _page(author_client.get(url))
    assert page.h1.get_text() == "Remove this image from “Tea & biscuits”?"
    _confirm_form(page, url)
    cancel = page.select_one("main a:-soup-contains('Cancel')")["href"]
    assert cancel == f"/post/{image.post_id}/edit/#body-images"
    assert PostImage.objects.filter(pk=image.pk).exists()


def test_the_buttons_on_the_pages_lead_to_the_question(author_client, post, comment, image):
    detail = BeautifulSoup(author_client.get(post.get_absolute_url()).content, "html.parser")
    delete = detail.select_one(f"form[action='/post/{post.pk}/remove/']")
    assert delete["method"] == "get"
    remove = detail.select_one(f"form[action='/comment/{comment.pk}/remove/']")
    assert remove["method"] == "get"
    queue = BeautifulSoup(author_client.get("/moderation/").content, "html.parser")
    remove = queue.select_one(f"form[action='/comment/{comment.pk}/remove/']")
    assert remove["method"] == "get"
    assert remove.select_one("input[name=next]")["value"] == "/moderation/"
    edit = BeautifulSoup(author_client.get(f"/post/{post.pk}/edit/").content, "html.parser")
    assert edit.select_one(f"form[action='/image/{image.pk}/remove/']")["method"] == "get"


def test_publish_and_approve_stay_one_click(author_client, author, comment):
    draft = PostFactory(author=author, draft=True)
    detail = BeautifulSoup(author_client.get(draft.get_absolute_url()).content, "html.parser")
    assert detail.select_one(f"form[action='/post/{draft.pk}/publish/']")["method"] == "post"
    queue = BeautifulSoup(author_client.get("/moderation/").content, "html.parser")
    assert queue.select_one(f"form[action='/comment/{comment.pk}/approve/']")["method"] == "post"


def test_a_visitor_logs_in_and_comes_back_to_the_question(client, comment):
    url = f"/comment/{comment.pk}/remove/?next=/moderation/"
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={quote(url, safe='/')}"


def test_someone_else_gets_a_404_and_sees_nothing(client, other_user, post):
    client.force_login(other_user)
    assert client.get(f"/post/{post.pk}/remove/").status_code == 404


def _token(client, url, **params):
    page = BeautifulSoup(client.get(url, params).content, "html.parser")
    return page.select_one("main input[name=csrfmiddlewaretoken]")["value"]


@pytest.fixture
def csrf_client(author):
    client = Client(enforce_csrf_checks=True)
    client.force_login(author)
    return client


def test_the_confirmed_delete_deletes(csrf_client, post):
    url = f"/post/{post.pk}/remove/"
    response = csrf_client.post(url, {"csrfmiddlewaretoken": _token(csrf_client, url)})
    assert (response.status_code, response["Location"]) == (302, "/")
    assert not Post.objects.filter(pk=post.pk).exists()


def test_the_confirmed_remove_removes_and_goes_back_to_the_queue(csrf_client, comment):
    url = f"/comment/{comment.pk}/remove/"
    token = _token(csrf_client, url, next="/moderation/")
    response = csrf_client.post(url, {"csrfmiddlewaretoken": token, "next": "/moderation/"})
    assert (response.status_code, response["Location"]) == (302, "/moderation/")
    assert not Comment.objects.filter(pk=comment.pk).exists()


def test_the_confirmed_image_removal_removes(csrf_client, image):
    url = f"/image/{image.pk}/remove/"
    response = csrf_client.post(url, {"csrfmiddlewaretoken": _token(csrf_client, url)})
    assert response.status_code == 302
    assert response["Location"] == f"/post/{image.post_id}/edit/#body-images"
    assert not PostImage.objects.filter(pk=image.pk).exists()


@pytest.mark.parametrize("kind", ["post", "comment", "image"])
def test_the_post_still_needs_the_csrf_token(csrf_client, post, comment, image, kind):
    url = {
        "post": f"/post/{post.pk}/remove/",
        "comment": f"/comment/{comment.pk}/remove/",
        "image": f"/image/{image.pk}/remove/",
    }[kind]
    response = csrf_client.post(url)
    assert response.status_code == 403
    assert Post.objects.filter(pk=post.pk).exists()
    assert Comment.objects.filter(pk=comment.pk).exists()
    assert PostImage.objects.filter(pk=image.pk).exists()


def test_hostile_titles_and_comments_are_inert_on_the_question(author_client, author):
    from blog.tests.html_safety import live_markup_problems

    post = PostFactory(
        author=author, title='<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    )
    comment = CommentFactory(post=post, author_name="<b onmouseover=alert(3)>", text="<script>x")
    for url in (f"/post/{post.pk}/remove/", f"/comment/{comment.pk}/remove/"):
        assert live_markup_problems(author_client.get(url).content.decode()) == []
