from django.urls import path

from ops import views

# /healthz and /readyz are answered by ops.middleware.ProbeMiddleware before URL routing;
# they are routed here too so that reverse() and the URL list name them.
urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("whoami", views.whoami, name="whoami"),
    path("metrics", views.metrics_view, name="metrics"),
]
