"""A form that creates something, sent again (a retry after a timeout or a 503, a double click,
two sendings at once), shows what the first sending created and never makes a second copy."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.test import Client

from blog import services
from blog.models import Post
from blog.views import DRAFT_ALREADY_SAVED, DRAFT_SAVED

pytestmark = pytest.mark.django_db

SENDERS = 8  # threads sending one form at the same moment


def _send(client, url: str, data: dict[str, str]) -> tuple[str, list[str]]:
    """Send a form and follow its redirect, as a browser does: (where it led, the messages
    shown there)."""
    response = client.post(url, data, follow=True)
    [(location, status)] = response.redirect_chain
    assert status == 302
    # From the request, not response.context, which threads sending at once would share.
    return location, [m.message for m in get_messages(response.wsgi_request)]


def _new_post(token: str | None = None, title: str = "Once") -> dict[str, str]:
    data = {"title": title, "body": "Sent *once*, however often."}
    if token is not None:
        data["creation_token"] = token
    return data


def _token(response) -> str:
    return response.context["form"]["creation_token"].value()


def test_each_new_post_form_carries_a_token_of_its_own_that_no_cache_keeps(author_client):
    first, second = author_client.get("/post/new/"), author_client.get("/post/new/")
    token = _token(first)
    assert uuid.UUID(token).version == 4
    assert _token(second) != token
    assert f'<input type="hidden" name="creation_token" value="{token}"' in first.content.decode()
    assert first["Cache-Control"] == "private, no-store"


def test_the_same_new_post_form_sent_twice_makes_one_post(author_client, author):
    token = _token(author_client.get("/post/new/"))
    first = _send(author_client, "/post/new/", _new_post(token))
    again = _send(author_client, "/post/new/", _new_post(token))
    post = Post.objects.get()
    assert (post.author, post.creation_token) == (author, uuid.UUID(token))
    assert first == (f"/post/{post.pk}/", [DRAFT_SAVED])
    assert again == (f"/post/{post.pk}/", [DRAFT_ALREADY_SAVED])


def test_another_authors_token_makes_a_post_of_ones_own(client, author, other_user):
    # Tokens are unique per author: mallory's sending cannot find alice's draft, nor tell
    # whether alice ever used the token; it is a new form of her own.
    token = str(uuid.uuid4())
    client.force_login(author)
    alices = _send(client, "/post/new/", _new_post(token, title="Alice's draft"))
    client.force_login(other_user)
    mallorys = _send(client, "/post/new/", _new_post(token, title="Mallory's draft"))
    alice_post = Post.objects.get(author=author)
    mallory_post = Post.objects.get(author=other_user)
    assert alices == (f"/post/{alice_post.pk}/", [DRAFT_SAVED])
    assert mallorys == (f"/post/{mallory_post.pk}/", [DRAFT_SAVED])
    assert mallory_post.title == "Mallory's draft"


def test_a_form_from_before_tokens_creates_every_time(author_client):
    # Rendered by the previous release during a rolling update: no token, no protection.
    answers = [_send(author_client, "/post/new/", _new_post()) for _ in range(2)]
    assert [messages for _, messages in answers] == [[DRAFT_SAVED], [DRAFT_SAVED]]
    assert list(Post.objects.values_list("creation_token", flat=True)) == [None, None]


@pytest.mark.parametrize("token", ["not-a-uuid", "1" * 33, "' OR 1=1 --"])
def test_a_damaged_token_is_refused(author_client, token):
    response = author_client.post("/post/new/", _new_post(token))
    assert response.status_code == 200
    assert response.context["form"].errors["creation_token"] == [
        "This form was damaged on its way. Please open it again and resend."
    ]
    assert not Post.objects.exists()


def test_a_form_shown_again_with_errors_keeps_its_token(author_client):
    token = str(uuid.uuid4())
    refused = author_client.post("/post/new/", _new_post(token, title=""))
    assert _token(refused) == token
    author_client.post("/post/new/", _new_post(token))
    author_client.post("/post/new/", _new_post(token))
    assert Post.objects.get().creation_token == uuid.UUID(token)


def test_a_post_sent_again_inside_a_transaction_leaves_it_usable(author):
    token = uuid.uuid4()
    with transaction.atomic():
        post, created = services.post_create(
            author=author, title="t", body="b", creation_token=token
        )
        again, created_again = services.post_create(
            author=author, title="t", body="b", creation_token=token
        )
        # On PostgreSQL a failed statement outside a savepoint would abort the transaction.
        assert Post.objects.count() == 1
    assert (created, created_again) == (True, False)
    assert again == post


def test_creating_and_finding_a_post_cost_a_bounded_number_of_queries(
    author_client, django_assert_max_num_queries
):
    token = str(uuid.uuid4())
    # The user, then the INSERT in a savepoint (here inside the test's transaction).
    with django_assert_max_num_queries(4):
        assert author_client.post("/post/new/", _new_post(token)).status_code == 302
    # The same, the failed INSERT rolled back, and the lookup of the first sending's post.
    with django_assert_max_num_queries(6):
        assert author_client.post("/post/new/", _new_post(token)).status_code == 302


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_new_post_form_sent_at_once_from_threads_makes_one_post(author):
    token = str(uuid.uuid4())
    clients = [Client() for _ in range(SENDERS)]
    for client in clients:
        client.force_login(author)
    start = threading.Barrier(SENDERS)

    def send(client):
        try:
            start.wait(timeout=10)
            return _send(client, "/post/new/", _new_post(token))
        finally:
            connection.close()

    with ThreadPoolExecutor(SENDERS) as pool:
        answers = list(pool.map(send, clients))
    post = Post.objects.get()
    assert sorted(answers) == sorted(
        [(f"/post/{post.pk}/", [DRAFT_SAVED])]
        + [(f"/post/{post.pk}/", [DRAFT_ALREADY_SAVED])] * (SENDERS - 1)
    )
