from django.utils.functional import SimpleLazyObject

from blog.models import Comment


def comments_awaiting(request) -> dict:
    """How many comments wait for this user's approval, counted only if a page shows it
    (pages for people who are logged in: the page cache never keeps those)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "comments_awaiting": SimpleLazyObject(
            lambda: Comment.objects.awaiting_moderation().editable_by(user).count()
        )
    }
