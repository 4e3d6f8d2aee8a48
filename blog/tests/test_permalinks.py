"""A post's address is /post/<pk>/<slug>/; the tutorial's /post/<pk>/ and a stale slug answer
301 to it, so old links keep working; the redirect is shared like a page."""

from urllib.parse import unquote

import pytest
from django.urls import reverse

from blog.tests.factories import PostFactory

pytestmark = pytest.mark.django_db


def test_a_posts_address_carries_its_title():
    post = PostFactory(title="Zero-downtime upgrades, at last!")
    assert post.get_absolute_url() == f"/post/{post.pk}/zero-downtime-upgrades-at-last/"


def test_the_tutorials_address_answers_301_keeping_the_query(client):
    post = PostFactory(title="Old links")
    response = client.get(f"/post/{post.pk}/?utm=feed")
    assert response.status_code == 301
    assert response["Location"] == f"/post/{post.pk}/old-links/?utm=feed"
    assert response["Cache-Control"].startswith("public")
    assert client.get(response["Location"]).status_code == 200


def test_a_stale_slug_answers_301_to_the_current_one(client):
    post = PostFactory(title="First title")
    old = post.get_absolute_url()
    post.title = "Second title"
    post.save()
    response = client.get(old)
    assert (response.status_code, response["Location"]) == (301, post.get_absolute_url())


def test_a_title_that_is_an_action_word_does_not_shadow_the_action(author_client, author):
    post = PostFactory(author=author, title="Edit")
    assert post.get_absolute_url() == f"/post/{post.pk}/edit-post/"
    assert author_client.get(post.get_absolute_url()).status_code == 200
    editor = author_client.get(reverse("post_edit", kwargs={"pk": post.pk}))
    assert b"<form" in editor.content and editor.status_code == 200


def test_titles_in_any_script_keep_their_words(client):
    post = PostFactory(title="Ρεπλίκες και Kubernetes")
    url = post.get_absolute_url()
    assert unquote(url) == f"/post/{post.pk}/ρεπλίκες-και-kubernetes/"
    assert client.get(url).status_code == 200
    assert PostFactory(title="!!!").get_absolute_url().endswith("/post/")


def test_a_draft_redirects_only_its_author(client, author):
    draft = PostFactory(author=author, draft=True)
    assert client.get(f"/post/{draft.pk}/").status_code == 404
    client.force_login(author)
    assert client.get(f"/post/{draft.pk}/").status_code == 301
