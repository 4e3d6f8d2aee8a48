from django.db import DatabaseError
from django.utils.functional import SimpleLazyObject

from blog.models import Comment
from ops.health import database_believed_down


def comments_awaiting(request) -> dict:
    """How many comments wait for this user's approval, counted only if a page shows it
    (pages for people who are logged in: the page cache never keeps those).

    Without the database the header shows no count, at once: the 503 page that says so uses
    this header too, and must neither fail on it nor wait for a connection (its request's
    deadline is spent)."""

    def count() -> int:
        if database_believed_down():
            return 0
        user = getattr(request, "user", None)  # itself lazy: nothing is read before it is shown
        try:
            if user is None or not user.is_authenticated:
                return 0
            return Comment.objects.awaiting_moderation().editable_by(user).count()
        except DatabaseError:
            return 0

    return {"comments_awaiting": SimpleLazyObject(count)}
