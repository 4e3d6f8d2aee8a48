from django.db import DatabaseError
from django.utils.functional import SimpleLazyObject

from blog.models import Comment


def comments_awaiting(request) -> dict:
    """How many comments wait for this user's approval, counted only if a page shows it
    (pages for people who are logged in: the page cache never keeps those).

    Without the database the header shows no count: the 503 page that says so uses this
    header too, and must not fail on it."""

    def count() -> int:
        user = getattr(request, "user", None)  # itself lazy: nothing is read before it is shown
        try:
            if user is None or not user.is_authenticated:
                return 0
            return Comment.objects.awaiting_moderation().editable_by(user).count()
        except DatabaseError:
            return 0

    return {"comments_awaiting": SimpleLazyObject(count)}
