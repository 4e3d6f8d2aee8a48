"""A fixed-window rate limit kept in the shared cache, so it holds across replicas."""

import time

from ops.cache import count


def hit(scope: str, who: str, *, limit: int, window: int) -> bool:
    """Count one event for `who`; False once it exceeds `limit` per `window` seconds.

    If the cache is down the limit is not enforced: the site stays usable and slower
    defences (moderation, login lock-out in the database) still hold.
    """
    bucket = int(time.time() // window)
    events = count(f"ratelimit:{scope}:{who}:{bucket}", timeout=window + 1)
    return events is None or events <= limit
