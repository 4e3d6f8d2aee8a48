"""Who is answering: this replica's name, version and header colour."""

from django.conf import settings


def identity() -> dict[str, str]:
    """The replica, version and colour, as /whoami and every page show them."""
    return {
        "replica": settings.POD_NAME,
        "version": settings.APP_VERSION,
        "color": settings.THEME_COLOR,
    }
