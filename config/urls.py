from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.core.files.storage import FileSystemStorage, storages
from django.urls import include, path, re_path
from django.views.static import serve

from blog.forms import LoginForm
from blog.views import PasswordResetView

admin.site.site_header = "kubeblog administration"
admin.site.site_title = "kubeblog admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "accounts/login/", auth_views.LoginView.as_view(authentication_form=LoginForm), name="login"
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Password reset: Django's views; the mail is queued for the worker (blog.tasks).
    path("accounts/password-reset/", PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("", include("ops.urls")),
    path("", include("blog.urls")),
]

# `make run` keeps uploaded images under var/media/ and serves them itself; everywhere else
# they come from the bucket's public URL (MEDIA_URL), never through the app.
if isinstance(storages["default"], FileSystemStorage) and settings.MEDIA_URL.startswith("/"):
    urlpatterns.insert(
        0,
        re_path(
            rf"^{settings.MEDIA_URL.lstrip('/')}(?P<path>images/.+)$",
            serve,
            {"document_root": settings.MEDIA_ROOT},
            name="media",
        ),
    )

# Django renders a 400 without the request (no header or footer); ours renders with it.
handler400 = "ops.views.bad_request"
handler500 = "ops.views.server_error"
