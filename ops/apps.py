from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from ops import (
            deadlines,  # noqa: F401 - guards each request's database connection
            tracing,
        )

        tracing.connect_signals()  # a task queued in a traced request joins its trace
