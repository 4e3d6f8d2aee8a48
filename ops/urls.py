from django.urls import path

from ops import views

# The probes are not here: ops.probes.ProbeMiddleware answers them before URL routing.
urlpatterns = [
    path("whoami", views.whoami, name="whoami"),
    path("metrics", views.metrics_view, name="metrics"),
]
