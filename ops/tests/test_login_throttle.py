"""Log-in lock-out through the real login view: who a guesser can and cannot lock out."""

import pytest
from axes.models import AccessAttempt
from django.test import Client

from blog.tests.factories import PASSWORD, UserFactory
from ops.login_throttle import in_words

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ATTACKER = "203.0.113.7"
HOME = "198.51.100.20"


def attempt(username: str, password: str, address: str, client: Client | None = None):
    """One log-in through the real view from `address` (no proxy is trusted in tests)."""
    client = client or Client()
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_five_wrong_passwords_from_one_address_do_not_stop_the_author_elsewhere(settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    author = UserFactory(username="alice")
    statuses = [attempt("alice", f"guess{i}", ATTACKER).status_code for i in range(5)]
    assert statuses == [200, 200, 200, 200, 429]

    at_home = Client()
    response = attempt("alice", PASSWORD, HOME, at_home)
    assert response.status_code == 302
    assert at_home.session["_auth_user_id"] == str(author.pk)


def test_the_attacking_address_is_locked_for_that_username_only():
    UserFactory(username="alice")
    UserFactory(username="bob")
    for i in range(5):
        attempt("alice", f"guess{i}", ATTACKER)

    # Even alice's right password is refused from there ...
    refused = Client()
    assert attempt("alice", PASSWORD, ATTACKER, refused).status_code == 429
    assert not logged_in(refused)
    # ... while another user behind the same address logs in.
    assert attempt("bob", PASSWORD, ATTACKER).status_code == 302


def test_a_locked_pair_is_told_how_long_to_wait():
    UserFactory(username="alice")
    for i in range(5):
        attempt("alice", f"guess{i}", ATTACKER)
    response = attempt("alice", PASSWORD, ATTACKER)
    assert response.status_code == 429
    assert response["Retry-After"] == "900"  # AXES_COOLOFF_MINUTES, 15
    assert "try again in 15 minutes at most" in " ".join(response.content.decode().split())


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(1, "1 second"), (4, "4 seconds"), (119, "119 seconds"), (120, "2 minutes"),
     (121, "3 minutes"), (900, "15 minutes")],
)  # fmt: skip
def test_waits_in_words(seconds, words):
    assert in_words(seconds) == words


def test_a_refused_attempt_is_not_counted_as_a_failure():
    UserFactory(username="alice")
    for i in range(5):
        attempt("alice", f"guess{i}", ATTACKER)
    for i in range(10):
        assert attempt("alice", f"more{i}", ATTACKER).status_code == 429
    assert [a.failures_since_start for a in AccessAttempt.objects.all()] == [5]


def test_an_address_failing_over_many_usernames_is_refused(settings):
    assert settings.LOGIN_ADDRESS_FAILURE_LIMIT == 20
    UserFactory(username="alice")
    # Credential stuffing: one guess each for twenty usernames, never five for one.
    statuses = [attempt(f"user{i}", "password1", ATTACKER).status_code for i in range(20)]
    assert statuses == [200] * 20

    refused = Client()
    assert attempt("alice", PASSWORD, ATTACKER, refused).status_code == 429
    assert not logged_in(refused)
    assert attempt("alice", PASSWORD, HOME).status_code == 302
