"""Log-in lock-out rules django-axes has no setting for; installed as its AXES_HANDLER.

axes records every failed log-in in the database and locks the (username, client address)
pair (AXES_LOCKOUT_PARAMETERS). It compares every lockout parameter set with the one
AXES_FAILURE_LIMIT, so it cannot also give an address, which may stand for a whole office
behind NAT, a higher limit of its own: the handler below adds that check, read from axes'
own records. Every refusal is answered by `lockout_response` (AXES_LOCKOUT_CALLABLE).
"""

import math

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


class LoginThrottleHandler(AxesDatabaseHandler):
    """axes' database handler, plus a per-address limit over all usernames."""

    def is_locked(self, request: HttpRequest, credentials: dict | None = None) -> bool:
        """Whether this attempt is refused before its password is checked."""
        return super().is_locked(request, credentials) or address_is_locked(request)


def address_is_locked(request: HttpRequest) -> bool:
    """Whether the client address failed too often within the cool-off, over any usernames."""
    failures = AccessAttempt.objects.filter(
        ip_address=request.axes_ip_address,
        attempt_time__gte=get_cool_off_threshold(request),
    ).aggregate(total=Sum("failures_since_start"))["total"]
    return (failures or 0) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """The answer to a refused log-in: 429, with how long to wait in Retry-After and in words.

    A locked pair or address is free again at most the cool-off after its last failure.
    """
    retry_after = math.ceil(get_cool_off(request).total_seconds())
    response = render(
        request,
        settings.AXES_LOCKOUT_TEMPLATE,
        {"wait": in_words(retry_after)},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


def in_words(seconds: int) -> str:
    """A wait as a reader would say it: seconds up to two minutes, then whole minutes."""
    if seconds < 120:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    return f"{math.ceil(seconds / 60)} minutes"
