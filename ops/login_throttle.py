"""Log-in lock-out rules django-axes has no setting for; installed as its AXES_HANDLER.

axes records every failed log-in in the database and locks the (username, client address)
pair (AXES_LOCKOUT_PARAMETERS). It compares every lockout parameter set with the one
AXES_FAILURE_LIMIT, so it cannot also give an address, which may stand for a whole office
behind NAT, a higher limit of its own: the handler below adds that check, read from axes'
own records.
"""

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest


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
