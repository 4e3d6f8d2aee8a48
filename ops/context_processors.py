from django.conf import settings

from ops.replica import identity


def replica(request):
    """Expose the replica identity and the header style to every template."""
    return {"replica": identity(), "theme_style": settings.THEME_STYLE}
