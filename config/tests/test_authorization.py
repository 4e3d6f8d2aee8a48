"""Who may do what: every URL of the site, every role, GET and POST, in one table.

A URL pattern without a row here fails test_every_url_pattern_has_a_rule, so a new view
cannot ship without its permissions being stated and checked.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from blog.models import Comment, Post, PostImage, Tag
from blog.tests import imagefiles
from blog.tests.factories import CommentFactory, PostFactory

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "other", "author", "staff")
LOGIN = "login"  # a redirect to the login page


@dataclass
class World:
    author: object
    other: object
    staff: object
    post: Post
    draft: Post
    comment: Comment
    image: PostImage


@pytest.fixture
def world(author, other_user, staff) -> World:
    post = PostFactory(author=author, title="Published")
    return World(
        author=author,
        other=other_user,
        staff=staff,
        post=post,
        draft=PostFactory(author=author, title="Draft", draft=True),
        comment=CommentFactory(post=post, approved=False, text="pending"),
        image=PostImage.objects.create(
            post=post, role=PostImage.BODY, folder="images/x", ext="png", width=9, height=9, alt="x"
        ),
    )


@dataclass
class Rule:
    path: Callable[[World], str]
    get: dict[str, int | str]
    post: dict[str, int | str]
    data: Callable[[World], dict] = lambda w: {}
    # After a POST by each role: did the change happen? (None: nothing to check.)
    changed: Callable[[World], bool] | None = None


def everyone(status):
    return dict.fromkeys(ROLES, status)


def members(status, anonymous=LOGIN, other=None):
    return {
        "anonymous": anonymous,
        "other": status if other is None else other,
        "author": status,
        "staff": status,
    }


def read_only(path: str) -> Rule:
    """A page anyone may read, and nobody may POST to."""
    return Rule(lambda w: path, everyone(200), everyone(405))


def owners_action(path, changed) -> Rule:
    """A POST-only change that only the post's author and staff may make (others: 404)."""
    return Rule(path, everyone(405), members(302, other=404), changed=changed)


def confirmed_action(path, changed) -> Rule:
    """A change that cannot be undone: the GET asks to confirm it (and changes nothing),
    the POST makes it; only the post's author and staff see either (others: 404)."""
    return Rule(path, members(200, other=404), members(302, other=404), changed=changed)


def _published(w):
    return Post.objects.get(pk=w.draft.pk).published_date is not None


def _unpublished(w):
    return Post.objects.get(pk=w.post.pk).published_date is None


def _post_gone(w):
    return not Post.objects.filter(pk=w.post.pk).exists()


def _post_edited(w):
    return Post.objects.get(pk=w.post.pk).title == "Edited title"


def _tagged(w) -> str:
    """The page of a tag the published post has (made on first use)."""
    tag, _ = Tag.objects.get_or_create(slug="kubernetes", defaults={"name": "Kubernetes"})
    w.post.tags.add(tag)
    return "/tag/kubernetes"


def _body_image_added(w):
    return w.post.images.filter(alt="A").exists()


def _image_gone(w):
    return not PostImage.objects.filter(pk=w.image.pk).exists()


def _comment_approved(w):
    return Comment.objects.get(pk=w.comment.pk).approved


def _comment_gone(w):
    return not Comment.objects.filter(pk=w.comment.pk).exists()


RULES: dict[str, Rule] = {
    "post_list": read_only("/"),
    "post_detail": Rule(lambda w: w.post.get_absolute_url(), everyone(200), everyone(405)),
    # The tutorial's address of a post: a permanent redirect to its address, for everyone.
    "post_detail_short": Rule(lambda w: f"/post/{w.post.pk}/", everyone(301), everyone(405)),
    "post_detail:draft": Rule(
        lambda w: w.draft.get_absolute_url(),
        {"anonymous": 404, "other": 404, "author": 200, "staff": 200},
        everyone(405),
    ),
    "post_new": Rule(
        lambda w: "/post/new/",
        members(200),
        members(302),
        data=lambda w: {"title": "New", "body": "Text"},
    ),
    "post_edit": Rule(
        lambda w: f"/post/{w.post.pk}/edit/",
        members(200, other=404),
        members(302, other=404),
        data=lambda w: {"title": "Edited title", "body": "New text"},
        changed=_post_edited,
    ),
    "post_draft_list": Rule(lambda w: "/drafts/", members(200), members(405)),
    "post_publish": owners_action(lambda w: f"/post/{w.draft.pk}/publish/", changed=_published),
    "post_unpublish": owners_action(
        lambda w: f"/post/{w.post.pk}/unpublish/", changed=_unpublished
    ),
    "post_remove": confirmed_action(lambda w: f"/post/{w.post.pk}/remove/", changed=_post_gone),
    "post_image_add": Rule(
        lambda w: f"/post/{w.post.pk}/images/",
        everyone(405),
        members(302, other=404),
        data=lambda w: {
            "inline-image": imagefiles.upload(imagefiles.encoded("PNG", 90, 60)),
            "inline-alt": "A",
        },
        changed=_body_image_added,
    ),
    "post_image_remove": confirmed_action(
        lambda w: f"/image/{w.image.pk}/remove/", changed=_image_gone
    ),
    "add_comment_to_post": Rule(
        lambda w: f"/post/{w.post.pk}/comment/",
        everyone(200),
        everyone(302),
        data=lambda w: {"author_name": "Reader", "text": "Hello"},
    ),
    "add_comment_to_post:draft": Rule(
        lambda w: f"/post/{w.draft.pk}/comment/",
        everyone(404),
        everyone(404),
        data=lambda w: {"author_name": "Reader", "text": "Hello"},
    ),
    "comment_approve": owners_action(
        lambda w: f"/comment/{w.comment.pk}/approve/", changed=_comment_approved
    ),
    "comment_remove": confirmed_action(
        lambda w: f"/comment/{w.comment.pk}/remove/", changed=_comment_gone
    ),
    "search": read_only("/search/?q=published"),
    "feed": read_only("/feed/"),
    "sitemap": read_only("/sitemap.xml"),
    "robots_txt": read_only("/robots.txt"),
    "login": Rule(
        lambda w: "/accounts/login/",
        everyone(200),
        everyone(200),
        data=lambda w: {"username": "nobody", "password": "wrong"},
    ),
    "logout": Rule(lambda w: "/accounts/logout/", everyone(405), everyone(302)),
    # Anyone may ask for a reset link (for any address: the same answer; rate-limited).
    "password_reset": Rule(
        lambda w: "/accounts/password-reset/",
        everyone(200),
        everyone(302),
        data=lambda w: {"email": "nobody@example.com"},
    ),
    "password_reset_done": read_only("/accounts/password-reset/sent/"),
    # A link with a token that is not valid shows why, and changes nothing.
    "password_reset_confirm": Rule(
        lambda w: "/accounts/reset/MQ/not-a-token/",
        everyone(200),
        everyone(200),
        data=lambda w: {"new_password1": "x", "new_password2": "x"},
    ),
    "password_reset_complete": read_only("/accounts/reset/done/"),
    "tag": Rule(lambda w: _tagged(w) + "/", everyone(200), everyone(405)),
    "tag_feed": Rule(lambda w: _tagged(w) + "/feed/", everyone(200), everyone(405)),
    "author": read_only("/author/alice/"),
    "author_feed": read_only("/author/alice/feed/"),
    # Each member edits their own profile; there is no one else's to reach.
    "edit_profile": Rule(
        lambda w: "/account/profile/",
        members(200),
        members(302),
        data=lambda w: {"display_name": "A name", "bio": ""},
    ),
    # Each user sees the comments awaiting their own approval (none for `other`).
    "moderation_queue": Rule(lambda w: "/moderation/", members(200), members(405)),
    "healthz": read_only("/healthz"),
    "readyz": read_only("/readyz"),
    "whoami": read_only("/whoami"),
    "metrics": read_only("/metrics"),
    # The admin site has its own rules (staff only); its index stands for all its pages.
    "admin": Rule(
        lambda w: "/admin/",
        {"anonymous": LOGIN, "other": LOGIN, "author": LOGIN, "staff": 200},
        {"anonymous": LOGIN, "other": LOGIN, "author": LOGIN, "staff": 200},
    ),
}


def _names(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                yield "admin"
            else:
                yield from _names(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            yield pattern.name


def test_every_url_pattern_has_a_rule():
    names = set(_names(get_resolver().url_patterns))
    assert None not in names, "every URL pattern needs a name"
    missing = names - {key.split(":")[0] for key in RULES}
    assert not missing, f"URL patterns without an authorization rule: {sorted(missing)}"


def _client_for(client, world, role):
    user = {"anonymous": None, "other": world.other, "author": world.author, "staff": world.staff}[
        role
    ]
    if user is not None:
        client.force_login(user)
    return client


def _check(response, expected):
    if expected == LOGIN:
        assert response.status_code == 302, response
        assert response["Location"].startswith(("/accounts/login/", "/admin/login/"))
    else:
        assert response.status_code == expected


CASES = [(name, role) for name in RULES for role in ROLES]


@pytest.mark.parametrize(("name", "role"), CASES, ids=[f"{n}-{r}" for n, r in CASES])
def test_get(client, world, name, role):
    rule = RULES[name]
    before = rule.changed(world) if rule.changed else None
    response = _client_for(client, world, role).get(rule.path(world))
    _check(response, rule.get[role])
    if rule.changed is not None:
        assert rule.changed(world) is before, f"a GET by {role} changed data through {name}"


@pytest.mark.parametrize(("name", "role"), CASES, ids=[f"{n}-{r}" for n, r in CASES])
def test_post(client, world, name, role):
    rule = RULES[name]
    before = rule.changed(world) if rule.changed else None
    response = _client_for(client, world, role).post(rule.path(world), rule.data(world))
    expected = rule.post[role]
    _check(response, expected)
    if rule.changed is not None:
        allowed = expected == 302 and role in ("author", "staff")
        assert rule.changed(world) is (allowed or before), (
            f"{role} {'could not' if allowed else 'could'} change data through {name}"
        )
