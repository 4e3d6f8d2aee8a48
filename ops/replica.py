"""Who is answering: this replica's name, version and header colour."""

from django.conf import settings
from django.utils.html import escape

# How the site's footer names the replica (templates/base.html); restamp() relies on it.
REPLICA_MARKUP = '<span class="replica">{}</span>'


def identity() -> dict[str, str]:
    """The replica, version and colour, as /whoami and every page show them."""
    return {
        "replica": settings.POD_NAME,
        "version": settings.APP_VERSION,
        "color": settings.THEME_COLOR,
    }


def restamp(content: bytes, rendered_by: str) -> bytes:
    """A page another replica rendered, as this one would have: the footer names this one."""
    if rendered_by == settings.POD_NAME:
        return content
    old = REPLICA_MARKUP.format(escape(rendered_by)).encode()
    new = REPLICA_MARKUP.format(escape(settings.POD_NAME)).encode()
    return content.replace(old, new, 1)
