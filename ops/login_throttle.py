"""Log-in lock-out rules django-axes has no setting for; installed as its AXES_HANDLER.

axes records every failed log-in in the database and locks the (username, client address)
pair (AXES_LOCKOUT_PARAMETERS). It compares every lockout parameter set with the one
AXES_FAILURE_LIMIT, so it cannot also give an address, which may stand for a whole office
behind NAT, a higher limit of its own: the handler below adds that check, read from axes'
own records.

Nor can axes slow a username down without locking it: its cool-off is at once the window in
which failures count, the length of the lock and the age past which it deletes every
record, so a cool-off that varied per username would wipe other usernames' locks. The
handler therefore keeps a username's failures from all addresses in the shared cache, where
they hold across replicas: from the LOGIN_SLOWDOWN_AFTER-th on, each failure makes the next
attempt wait (1 s, 2 s, 4 s ... at most LOGIN_SLOWDOWN_MAX_WAIT), one attempt at a time,
and a successful log-in starts the count again. A refused attempt is answered at once;
nothing sleeps in a request thread.

While the cache is down the slowdown lapses (its reads are misses): the pair and address
locks in the database still bound a guesser, and refusing every log-in instead would hand
anyone who can break Redis the lock-out this module exists to prevent.

Every refusal is answered by `lockout_response` (AXES_LOCKOUT_CALLABLE).
"""

import hashlib
import math
import time

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.core.cache import cache
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ops.cache import count


def now() -> float:
    """Wall-clock seconds, the same on every replica (tests move it instead of sleeping)."""
    return time.time()


class LoginThrottleHandler(AxesDatabaseHandler):
    """axes' database handler, plus a per-address limit and a per-username slowdown."""

    def is_locked(self, request: HttpRequest, credentials: dict | None = None) -> bool:
        """Whether this attempt is refused before its password is checked."""
        if super().is_locked(request, credentials) or address_is_locked(request):
            return True
        wait = slowdown_wait(get_client_username(request, credentials))
        if wait:
            request.login_slowdown_wait = math.ceil(wait)
        return bool(wait)

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs) -> None:
        # The axes backend flags an attempt it refused, whose password was never checked.
        refused = getattr(request, "axes_locked_out", False)
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is not None and not refused:
            record_failure(get_client_username(request, credentials))

    def user_logged_in(self, sender, request, user, **kwargs) -> None:
        super().user_logged_in(sender, request, user, **kwargs)
        if settings.AXES_RESET_ON_SUCCESS:
            cache.delete_many(_keys(user.get_username()))


def address_is_locked(request: HttpRequest) -> bool:
    """Whether the client address failed too often within the cool-off, over any usernames."""
    failures = AccessAttempt.objects.filter(
        ip_address=request.axes_ip_address,
        attempt_time__gte=get_cool_off_threshold(request),
    ).aggregate(total=Sum("failures_since_start"))["total"]
    return (failures or 0) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT


def wait_after(failures: int) -> int:
    """Seconds a username's nth failure makes the next attempt wait: 0 below the threshold."""
    over = failures - settings.LOGIN_SLOWDOWN_AFTER
    if over < 0:
        return 0
    return min(2 ** min(over, 16), settings.LOGIN_SLOWDOWN_MAX_WAIT)


def slowdown_wait(username: str | None) -> float:
    """Seconds this username must still wait before a password is checked; 0 lets it through.

    Once its wait is over, one attempt at a time: the first request to claim the turn has its
    password checked, the others wait for the wait that its failure would set.
    """
    if not username:
        return 0
    failures_key, not_before_key = _keys(username)
    state = cache.get_many([failures_key, not_before_key])
    failures = state.get(failures_key) or 0
    if failures < settings.LOGIN_SLOWDOWN_AFTER:
        return 0
    not_before = state.get(not_before_key, 0.0)
    remaining = not_before - now()
    if remaining > 0:
        return remaining
    # Keyed by the time the turn opened, which a success or the next failure replaces.
    turn = f"{not_before_key}:{not_before!r}"
    if cache.add(turn, 1, timeout=settings.LOGIN_SLOWDOWN_MAX_WAIT) is False:
        return wait_after(failures + 1)
    return 0


def record_failure(username: str | None) -> None:
    """Count a wrong password for the username, from wherever it came, and set the next wait."""
    if not username:
        return
    failures_key, not_before_key = _keys(username)
    # Failures are forgotten a cool-off after the last one, like axes' own records.
    remember = math.ceil(get_cool_off().total_seconds())
    failures = count(failures_key, timeout=remember)
    if failures is None:  # the cache is down
        return
    cache.touch(failures_key, remember)
    wait = wait_after(failures)
    if wait:
        cache.set(not_before_key, now() + wait, timeout=remember)


def _keys(username: str) -> tuple[str, str]:
    """The cache keys of a username's failure count and of the time its next attempt may come."""
    key = "login-slowdown:" + hashlib.sha256(username.encode()).hexdigest()
    return f"{key}:failures", f"{key}:not-before"


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """The answer to a refused log-in: 429, with how long to wait in Retry-After and in words.

    A locked pair or address is free again at most the cool-off after its last failure.
    """
    slowed_down = getattr(request, "login_slowdown_wait", None)
    retry_after = slowed_down or math.ceil(get_cool_off(request).total_seconds())
    response = render(
        request,
        settings.AXES_LOCKOUT_TEMPLATE,
        {"wait": in_words(retry_after), "slowed_down": bool(slowed_down)},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


def in_words(seconds: int) -> str:
    """A wait as a reader would say it: seconds up to two minutes, then whole minutes."""
    if seconds < 120:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    return f"{math.ceil(seconds / 60)} minutes"
