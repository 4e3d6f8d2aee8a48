from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from blog.forms import LoginForm

admin.site.site_header = "kubeblog administration"
admin.site.site_title = "kubeblog admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "accounts/login/", auth_views.LoginView.as_view(authentication_form=LoginForm), name="login"
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("ops.urls")),
    path("", include("blog.urls")),
]

handler500 = "ops.views.server_error"
