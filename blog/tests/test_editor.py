"""The post form's buttons: Save, Publish now or at a chosen moment, Preview, Cancel; and
Unpublish on the post's page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from blog.models import Post
from blog.tests.factories import PostFactory

pytestmark = pytest.mark.django_db


def _send(client, url, action, **fields):
    data = {"title": "T", "body": "# Heading\n\nWords.", "action": action, **fields}
    return client.post(url, data)


def test_save_keeps_a_draft_and_publish_publishes_now(author_client):
    _send(author_client, reverse("post_new"), "save")
    post = Post.objects.get()
    assert post.published_date is None
    response = _send(author_client, reverse("post_edit", kwargs={"pk": post.pk}), "publish")
    assert response.status_code == 302
    assert Post.objects.get().is_published


def test_publish_at_a_moment_to_come_schedules_the_post(author_client):
    at = (timezone.localtime() + timedelta(days=2)).replace(second=0, microsecond=0)
    response = _send(
        author_client, reverse("post_new"), "publish", publish_at=at.strftime("%Y-%m-%dT%H:%M")
    )
    post = Post.objects.get()
    assert post.published_date == at and post.is_scheduled
    assert "Scheduled for" in author_client.get(response["Location"]).content.decode()
    drafts = author_client.get(reverse("post_draft_list")).content.decode()
    assert "Scheduled" in drafts
    assert "T" not in [p.title for p in Post.objects.published()]


def test_a_moment_past_is_refused(author_client):
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = _send(author_client, reverse("post_new"), "publish", publish_at=past)
    assert response.status_code == 200
    assert "Choose a moment still to come" in response.content.decode()
    assert not Post.objects.exists()


def test_preview_shows_the_body_and_saves_nothing(author_client, author):
    response = _send(author_client, reverse("post_new"), "preview")
    html = response.content.decode()
    assert response.status_code == 200 and "Preview (not saved)" in html
    assert "<h2>Heading</h2>" in html  # rendered as readers will see it
    assert not Post.objects.exists()
    post = PostFactory(author=author, body="Old words.")
    _send(author_client, reverse("post_edit", kwargs={"pk": post.pk}), "preview", body="New")
    assert Post.objects.get(pk=post.pk).body == "Old words."


def test_the_form_offers_the_buttons_that_fit_the_post(author_client, author):
    new = author_client.get(reverse("post_new")).content.decode()
    for button in ('value="save">Save draft', 'value="publish">Publish', 'value="preview"'):
        assert button in new
    assert f'href="{reverse("post_draft_list")}">Cancel' in new
    published = PostFactory(author=author)
    edit = author_client.get(reverse("post_edit", kwargs={"pk": published.pk})).content.decode()
    assert 'value="save">Save changes' in edit and 'value="publish"' not in edit
    assert "publish_at" not in edit
    assert f'href="{published.get_absolute_url()}">Cancel' in edit


def test_unpublish_returns_a_post_to_the_drafts(author_client, author):
    post = PostFactory(author=author, title="Going back")
    page = author_client.get(post.get_absolute_url()).content.decode()
    assert reverse("post_unpublish", kwargs={"pk": post.pk}) in page
    author_client.post(reverse("post_unpublish", kwargs={"pk": post.pk}))
    assert Post.objects.get(pk=post.pk).published_date is None
    assert "Going back" in author_client.get(reverse("post_draft_list")).content.decode()
