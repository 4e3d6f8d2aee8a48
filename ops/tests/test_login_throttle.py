"""Log-in lock-out through the real login view: who a guesser can and cannot lock out."""

import math

import pytest
from axes.models import AccessAttempt
from django.test import Client

from blog.tests.factories import PASSWORD, UserFactory
from ops import login_throttle
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


class Clock:
    """The slowdown's clock, moved by the test instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(login_throttle, "now", clock)
    return clock


def fail_from_many_addresses(username: str, count: int, network: str = "192.0.2") -> None:
    """`count` wrong passwords, four from each address: below every pair and address limit."""
    for i in range(count):
        response = attempt(username, f"guess{i}", f"{network}.{i // 4 + 1}")
        assert response.status_code == 200, i


def test_the_wait_doubles_from_the_threshold_up_to_a_minute(settings):
    assert (settings.LOGIN_SLOWDOWN_AFTER, settings.LOGIN_SLOWDOWN_MAX_WAIT) == (20, 60)
    waits = [login_throttle.wait_after(n) for n in range(18, 28)]
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 60, 60]
    assert login_throttle.wait_after(10_000) == 60


def test_a_username_failing_everywhere_is_slowed_down_not_locked(clock):
    author = UserFactory(username="alice")
    # Nineteen failures from five addresses: nothing waits yet.
    fail_from_many_addresses("alice", 19)
    at_home = Client()
    assert attempt("alice", "typo", HOME, at_home).status_code == 200

    # From the twentieth failure on, each sets a longer wait; meanwhile every attempt, even
    # with the right password, is answered at once with 429 and how long is left.
    for k, wait in enumerate([1, 2, 4, 8]):
        refused = attempt("alice", PASSWORD, HOME, at_home)
        assert refused.status_code == 429
        assert refused["Retry-After"] == str(wait)
        assert f"Please try again in {wait} second" in refused.content.decode()
        clock.advance(wait / 2)
        assert attempt("alice", PASSWORD, HOME, at_home)["Retry-After"] == str(math.ceil(wait / 2))
        clock.advance(wait / 2)
        assert attempt("alice", f"next{k}", f"203.0.113.{k + 100}").status_code == 200

    # A correct password once the wait is over logs the author in: the ten refusals from
    # her address checked no password and locked nothing.
    assert attempt("alice", PASSWORD, HOME, at_home)["Retry-After"] == "16"
    clock.advance(16)
    assert attempt("alice", PASSWORD, HOME, at_home).status_code == 302
    assert at_home.session["_auth_user_id"] == str(author.pk)


def test_a_success_starts_the_username_count_again(clock):
    UserFactory(username="alice")
    fail_from_many_addresses("alice", 20)
    assert attempt("alice", PASSWORD, HOME).status_code == 429
    clock.advance(1)
    assert attempt("alice", PASSWORD, HOME).status_code == 302

    fail_from_many_addresses("alice", 19, network="198.18.0")
    assert attempt("alice", PASSWORD, HOME).status_code == 302


def test_once_the_wait_is_over_one_attempt_at_a_time(clock):
    UserFactory(username="alice")
    fail_from_many_addresses("alice", 20)
    clock.advance(1)
    # The first request claims the turn; a second at the same moment waits for what the
    # first one's failure would set.
    assert login_throttle.slowdown_wait("alice") == 0
    assert login_throttle.slowdown_wait("alice") == 2
    assert login_throttle.slowdown_wait("bob") == 0


def test_with_the_cache_down_the_slowdown_lapses_and_the_database_locks_hold(settings, clock):
    from config.settings.base import cache_from_url
    from harness.servers import free_port

    # A Redis no server answers for: every cache call fails, and is taken as a miss.
    settings.CACHES = {"default": cache_from_url(f"redis://127.0.0.1:{free_port()}/0")}
    UserFactory(username="alice")
    fail_from_many_addresses("alice", 24)
    assert attempt("alice", PASSWORD, HOME).status_code == 302

    for i in range(5):
        attempt("alice", f"guess{i}", ATTACKER)
    assert attempt("alice", PASSWORD, ATTACKER).status_code == 429
