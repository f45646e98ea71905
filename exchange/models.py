"""An import started from the web: the upload waits here for the worker, which
records its progress and, at the end, the report."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class ImportJobQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(user=user)


class ImportJob(models.Model):
    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUS_CHOICES = [(QUEUED, "Queued"), (RUNNING, "Running"), (DONE, "Done"), (FAILED, "Failed")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_jobs")
    filename = models.CharField(max_length=255)
    # Empty means "detect it".
    format = models.CharField(max_length=16, blank=True)
    # The uploaded bytes, cleared once imported.
    payload = models.BinaryField(default=b"")
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    report = models.JSONField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    finished = models.DateTimeField(null=True, blank=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-pk"]

    def __str__(self):
        return f"import {self.filename} ({self.status})"

    def get_absolute_url(self):
        return reverse("exchange:import_job", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in (self.DONE, self.FAILED)

    @property
    def percent(self) -> int:
        if self.status == self.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    def set_progress(self, done: int, total: int) -> None:
        ImportJob.objects.filter(pk=self.pk).update(status=self.RUNNING, done=done, total=total)

    def record_choice(self, notice: int, title: str) -> None:
        """Remember the title the user chose for a notice's note (the report then says so)."""
        self.report["notices"][notice]["chosen"] = title
        self.save(update_fields=["report"])

    def finish(self, report: dict) -> None:
        self.status, self.report, self.payload, self.finished = self.DONE, report, b"", timezone.now()
        self.done = self.total = max(self.total, self.done)
        self.save(update_fields=["status", "report", "payload", "finished", "done", "total"])
