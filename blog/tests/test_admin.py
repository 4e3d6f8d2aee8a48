from datetime import timedelta

import pytest
from django.utils import timezone

from blog.models import Comment
from blog.tests.factories import CommentFactory, PostFactory

pytestmark = pytest.mark.django_db


def test_the_status_filter_follows_the_sites_rule(admin_client, author):
    live = PostFactory(author=author, title="Live")
    draft = PostFactory(author=author, title="Draft", draft=True)
    later = PostFactory(author=author, title="Later", published_date=timezone.now() + timedelta(1))

    def listed(status):
        page = admin_client.get("/admin/blog/post/", {"status": status})
        return set(page.context["cl"].result_list)

    assert listed("published") == {live}
    assert listed("unpublished") == {draft, later}


def test_the_approve_action_approves_only_what_waits(admin_client, published_post):
    waiting = CommentFactory(post=published_post, approved=False)
    shown = CommentFactory(post=published_post, approved=True)
    response = admin_client.post(
        "/admin/blog/comment/",
        {"action": "approve", "_selected_action": [waiting.pk, shown.pk]},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == ["1 comment(s) approved."]
    assert set(Comment.objects.filter(approved=True)) == {waiting, shown}
