from django.contrib import admin

from ops.models import OutgoingMail, WorkerBeat


@admin.register(OutgoingMail)
class OutgoingMailAdmin(admin.ModelAdmin):
    list_display = ("subject", "to", "created_at", "sent_at")
    list_filter = ("sent_at",)
    search_fields = ("to", "key")
    readonly_fields = ("key", "to", "subject", "body", "message_id", "created_at", "sent_at")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(WorkerBeat)
class WorkerBeatAdmin(admin.ModelAdmin):
    list_display = ("worker_id", "host", "started_at", "beat_at")

    def has_add_permission(self, request) -> bool:
        return False
