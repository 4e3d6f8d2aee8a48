"""A form that creates something, sent again (a retry after a timeout or a 503, a double click,
two sendings at once), shows what the first sending created and never makes a second copy."""

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from django.contrib.messages import get_messages
from django.db import connection, models, transaction
from django.test import Client

from blog import services
from blog.models import Comment, Post
from blog.tests.factories import PostFactory
from blog.views import (
    COMMENT_ALREADY_RECEIVED,
    COMMENT_RECEIVED,
    DRAFT_ALREADY_SAVED,
    DRAFT_SAVED,
)

pytestmark = pytest.mark.django_db

SENDERS = 8  # threads sending one form at the same moment


@dataclass
class CreateForm:
    """One of the forms that create something, and what sending it should do."""

    url: str
    data: dict[str, str]
    model: type[models.Model]
    page: Callable[[models.Model], str]  # where the object is shown
    saved: str
    already_saved: str
    refused_status: int  # the status of the form shown again with errors
    # The most queries for a first sending and for a sending again (savepoints included,
    # as the tests run inside a transaction).
    queries: tuple[int, int]


def _post_form() -> CreateForm:
    # Queries: the user, the INSERT; again: the same, its rollback and the look-up.
    return CreateForm(
        "/post/new/", {"title": "Once", "body": "Sent *once*, however often."}, Post,
        lambda post: post.get_absolute_url(), DRAFT_SAVED, DRAFT_ALREADY_SAVED, 200, (4, 6),
    )  # fmt: skip


def _comment_form(post: Post) -> CreateForm:
    # Queries: the post, the look-up, the INSERT, and the author's mail (lock the author, look
    # for a queued mail, enqueue one) inside the savepoints; again: the post, the look-up.
    return CreateForm(
        f"/post/{post.pk}/comment/", {"author_name": "Rita", "text": "Said *once*, however often."},
        Comment, lambda comment: comment.post.get_absolute_url(), COMMENT_RECEIVED,
        COMMENT_ALREADY_RECEIVED, 400, (10, 2),
    )  # fmt: skip


@pytest.fixture(params=["post", "comment"])
def form(request, author) -> CreateForm:
    if request.param == "post":
        return _post_form()
    return _comment_form(PostFactory(author=author))


@pytest.fixture
def sender(client, author) -> Client:
    """alice: she may write posts, and comment like anyone else."""
    client.force_login(author)
    return client


def _send(client, form: CreateForm, token: str | None) -> tuple[str, list[str]]:
    """Send the form and follow its redirect, as a browser does: (where it led, the messages
    shown there)."""
    data = form.data if token is None else {**form.data, "creation_token": token}
    response = client.post(form.url, data, follow=True)
    [(location, status)] = response.redirect_chain
    assert status == 302
    # From the request, not response.context, which threads sending at once would share.
    return location, [m.message for m in get_messages(response.wsgi_request)]


def _token(response) -> str:
    return response.context["form"]["creation_token"].value()


def _at_once(send: Callable[[int], object]) -> list[object]:
    """Call send(0) ... send(SENDERS - 1), each in a thread of its own, all at one moment."""
    start = threading.Barrier(SENDERS)

    def run(i):
        try:
            start.wait(timeout=10)
            return send(i)
        finally:
            connection.close()  # each thread has a connection of its own

    with ThreadPoolExecutor(SENDERS) as pool:
        return list(pool.map(run, range(SENDERS)))


def test_each_form_carries_a_token_of_its_own_that_no_cache_keeps(client, author, form):
    if form.model is Post:
        client.force_login(author)  # only members write posts; anyone comments
    first, second = client.get(form.url), client.get(form.url)
    token = _token(first)
    assert uuid.UUID(token).version == 4
    assert _token(second) != token
    assert f'<input type="hidden" name="creation_token" value="{token}"' in first.content.decode()
    # Never shared by the page cache or the edge, or two readers would send one token.
    assert first["Cache-Control"] == "private, no-store"


def test_the_same_form_sent_twice_creates_once(sender, form):
    token = _token(sender.get(form.url))
    first = _send(sender, form, token)
    again = _send(sender, form, token)
    created = form.model.objects.get()
    assert created.creation_token == uuid.UUID(token)
    assert first == (form.page(created), [form.saved])
    assert again == (form.page(created), [form.already_saved])


def test_a_form_from_before_tokens_creates_every_time(sender, form):
    # Rendered by the previous release during a rolling update: no token, no protection.
    answers = [_send(sender, form, None) for _ in range(2)]
    assert [messages for _, messages in answers] == [[form.saved], [form.saved]]
    assert list(form.model.objects.values_list("creation_token", flat=True)) == [None, None]


@pytest.mark.parametrize("token", ["not-a-uuid", "1" * 33, "' OR 1=1 --"])
def test_a_damaged_token_is_refused(sender, form, token):
    response = sender.post(form.url, {**form.data, "creation_token": token})
    assert response.status_code == form.refused_status
    assert response.context["form"].errors["creation_token"] == [
        "This form was damaged on its way. Please open it again and resend."
    ]
    assert not form.model.objects.exists()


def test_sending_and_sending_again_cost_a_bounded_number_of_queries(
    sender, form, django_assert_max_num_queries
):
    data = {**form.data, "creation_token": str(uuid.uuid4())}
    for most in form.queries:
        with django_assert_max_num_queries(most):
            assert sender.post(form.url, data).status_code == 302


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_form_sent_at_once_from_threads_creates_once(author, form):
    token = str(uuid.uuid4())
    clients = [Client() for _ in range(SENDERS)]
    for client in clients:
        client.force_login(author)
    answers = _at_once(lambda i: _send(clients[i], form, token))
    created = form.model.objects.get()
    assert sorted(answers) == sorted(
        [(form.page(created), [form.saved])]
        + [(form.page(created), [form.already_saved])] * (SENDERS - 1)
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_comments_sent_at_once_to_the_service_make_one(published_post):
    # The view looks for an earlier sending first; here every thread reaches the INSERT.
    token = uuid.uuid4()
    answers = _at_once(
        lambda i: services.comment_create(
            post=published_post, author_name=f"Rita {i}", text="Hi", creation_token=token
        )
    )
    comment = Comment.objects.get()
    assert sorted(answers, key=lambda answer: not answer[1]) == [(comment, True)] + [
        (comment, False)
    ] * (SENDERS - 1)


def test_another_authors_token_makes_a_post_of_ones_own(client, author, other_user):
    # Tokens are unique per author: mallory's sending cannot find alice's draft, nor tell
    # whether alice ever used the token; it is a new form of her own.
    token = str(uuid.uuid4())
    client.force_login(author)
    alices = _send(client, _post_form(), token)
    client.force_login(other_user)
    mallorys = _send(client, _post_form(), token)
    alice_post = Post.objects.get(author=author)
    mallory_post = Post.objects.get(author=other_user)
    assert alices == (alice_post.get_absolute_url(), [DRAFT_SAVED])
    assert mallorys == (mallory_post.get_absolute_url(), [DRAFT_SAVED])


def test_a_comment_token_belongs_to_its_post(client, author, published_post):
    token = str(uuid.uuid4())
    other_post = PostFactory(author=author)
    for post in (published_post, other_post):
        url = f"/post/{post.pk}/comment/"
        client.post(url, {"author_name": "Rita", "text": "Hi", "creation_token": token})
    assert sorted(Comment.objects.values_list("post_id", flat=True)) == sorted(
        [published_post.pk, other_post.pk]
    )


def test_a_comment_sent_again_does_not_count_against_the_rate_limit(
    client, published_post, settings
):
    settings.COMMENT_RATE_LIMIT = 1
    url = f"/post/{published_post.pk}/comment/"
    data = {"author_name": "Rita", "text": "Hi", "creation_token": str(uuid.uuid4())}
    assert [client.post(url, data).status_code for _ in range(3)] == [302, 302, 302]
    another = client.post(url, {**data, "creation_token": str(uuid.uuid4())})
    assert another.status_code == 429
    assert Comment.objects.count() == 1


def test_a_post_form_shown_again_with_errors_keeps_its_token(author_client):
    token = str(uuid.uuid4())
    data = {"title": "Once", "body": "Text", "creation_token": token}
    refused = author_client.post("/post/new/", {**data, "title": ""})
    assert _token(refused) == token
    author_client.post("/post/new/", data)
    author_client.post("/post/new/", data)
    assert Post.objects.get().creation_token == uuid.UUID(token)


def test_a_post_sent_again_inside_a_transaction_leaves_it_usable(author):
    token = uuid.uuid4()
    with transaction.atomic():
        first = services.post_create(author=author, title="t", body="b", creation_token=token)
        again = services.post_create(author=author, title="t", body="b", creation_token=token)
        # On PostgreSQL a failed statement outside a savepoint would abort the transaction.
        assert Post.objects.count() == 1
    assert again == (first[0], False)
    assert first[1] is True
