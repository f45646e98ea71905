from django.contrib import admin

from lablog.admin import GuardedAdmin
from workers.models import Run, RunArtifact, Runnable


@admin.register(Runnable)
class RunnableAdmin(GuardedAdmin):
    list_display = ["pk", "kind", "note", "created"]
    list_filter = ["kind"]
    raw_id_fields = ["note"]


class RunArtifactInline(admin.TabularInline):
    model = RunArtifact
    extra = 0
    readonly_fields = ["name", "path", "content_type", "size", "created"]
    exclude = ["data"]  # the bytes (served by the artifact view), not for a form


@admin.register(Run)
class RunAdmin(GuardedAdmin):
    list_display = ["pk", "kind", "status", "progress", "device", "device_name", "peak_memory_bytes", "worker_host",
                    "created", "finished"]
    list_filter = ["status", "kind"]
    raw_id_fields = ["runnable"]
    inlines = [RunArtifactInline]
