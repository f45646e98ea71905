"""Runnable entries: a job kind with parameters attached to a note, its runs and their artifacts.

A run is written by one worker at a time: `claim()` takes a lease (a random owner id) and
every later write is filtered on that owner and on status=running, so a worker that lost
its lease (the reaper failed the run, or the run was re-delivered) can no longer change it.

Every time a worker writes (claim, heartbeat, progress, finish) and every time the reaper
judges a heartbeat, the timestamp is the database's own clock (`Now()`), never the worker's:
a GPU host whose clock is minutes off keeps its lease.

A run is delivered at least once: `dispatch()` records when its message was sent, or why it could
not be (the broker was down); the reaper re-sends queued runs that were never delivered, and `claim`
makes every copy after the first a no-op.
"""

import datetime
import logging
import re

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models.functions import Concat, Now, Right
from django.urls import reverse
from django.utils import timezone

from notes.models import Note
from workers.signals import run_finished

logger = logging.getLogger(__name__)

ARTIFACT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class RunnableQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(note__user=user)


class Runnable(models.Model):
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="runnables")
    kind = models.CharField(max_length=64)
    params = models.JSONField(default=dict)
    created = models.DateTimeField(default=timezone.now)

    objects = RunnableQuerySet.as_manager()

    class Meta:
        ordering = ["created", "pk"]

    def __str__(self):
        return f"{self.kind} on note {self.note_id}"

    @property
    def job(self):
        from workers.jobs import get_kind

        return get_kind(self.kind)

    def update_params(self, params: dict) -> None:
        """New parameters for later runs (runs keep the parameters they ran with)."""
        self.params = params
        self.save(update_fields=["params"])

    def start_run(self, params: dict | None = None) -> "Run":
        """Create a queued run (with these params, else the runnable's) and send it once committed."""
        with transaction.atomic():
            run = Run.objects.create(runnable=self, params=dict(self.params if params is None else params))
            run.dispatch()
        return run


class RunQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(runnable__note__user=user)

    def lost(self, now=None):
        """Running runs whose worker stopped stamping the heartbeat, judged on the database clock
        (`now` only in tests that move time forward)."""
        cutoff = (now if now is not None else Now()) - datetime.timedelta(seconds=settings.RUNS_LEASE_SECONDS)
        return self.filter(status=Run.RUNNING, heartbeat__lt=cutoff)

    def undelivered(self, now=None, idle_queues=frozenset()):
        """Queued runs whose message may never reach a worker: sending failed, the process died
        before sending, or it was sent long ago while a worker on its queue sits idle (the
        broker lost it, e.g. Redis restarted without its data)."""
        cutoff = (now if now is not None else Now()) - datetime.timedelta(seconds=settings.RUNS_REDISPATCH_SECONDS)
        candidates = self.filter(status=Run.QUEUED, cancel_requested=False).filter(
            ~models.Q(dispatch_error="")
            | models.Q(dispatched__isnull=True, created__lt=cutoff)
            | models.Q(dispatched__lt=cutoff)
        )
        return [
            run for run in candidates
            if run.dispatch_error or run.dispatched is None or run.queue in idle_queues
        ]


class Run(models.Model):
    QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
    STATUS_CHOICES = [(s, s.capitalize()) for s in (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)]
    ENDED = (SUCCEEDED, FAILED, CANCELLED)
    WORKER_LOST = "worker lost: no heartbeat from its worker"

    runnable = models.ForeignKey(Runnable, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=64)
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=QUEUED, db_index=True)
    progress = models.FloatField(default=0.0, help_text="Percent done, 0 to 100.")
    step = models.CharField(max_length=200, blank=True)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    device = models.CharField(max_length=200, blank=True, help_text='Where it ran: "cuda:0" or "cpu".')
    device_name = models.CharField(max_length=200, blank=True, help_text='e.g. "NVIDIA H200" or the CPU model.')
    peak_memory_bytes = models.PositiveBigIntegerField(null=True, blank=True, help_text="Peak GPU memory allocated.")
    worker_host = models.CharField(max_length=200, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    dispatched = models.DateTimeField(null=True, blank=True, help_text="When its message was last sent.")
    dispatch_error = models.CharField(max_length=300, blank=True, help_text="Why the last send failed.")
    cancel_requested = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-pk"]

    def __str__(self):
        return f"run {self.pk} ({self.kind}, {self.status})"

    def save(self, *args, **kwargs):
        if not self.kind:
            self.kind = self.runnable.kind
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("workers:run", args=[self.pk])

    @property
    def ended(self) -> bool:
        return self.status in self.ENDED

    @property
    def queue(self) -> str:
        """The queue of its kind and model: only a worker that can run it consumes it."""
        from workers.jobs import get_kind

        kind = get_kind(self.kind)
        return kind.route(self.params) if kind else f"gpu.{self.kind}"

    @property
    def waiting_for(self) -> str:
        """"waiting for a worker that can run cfg_text with model notes-gpt": what a queued run that
        no live worker can take is waiting for (pages show it when its queue has no live worker)."""
        from workers.panel import waiting_message

        return waiting_message(self.kind, self.params)

    @property
    def elapsed(self) -> datetime.timedelta | None:
        if not self.started:
            return None
        return (self.finished or timezone.now()) - self.started

    def log_tail(self, lines: int = 12) -> str:
        return "\n".join(self.log.splitlines()[-lines:])

    def dispatch(self) -> None:
        """Send the run to its kind's queue once the transaction that created it commits."""
        transaction.on_commit(self.send, robust=True)

    def send(self) -> bool:
        """Publish the run's message now and record the outcome; a broker that is down does not
        raise (the request still succeeds, the run stays queued and the reaper sends it again)."""
        from workers.tasks import run_job

        try:
            run_job.apply_async(args=[self.pk], queue=self.queue)
        except Exception as exc:
            logger.warning("run %s: could not send to queue %s: %r", self.pk, self.queue, exc)
            self.dispatch_error = "the task queue was unreachable; the run is sent again automatically once it is back"
            Run.objects.filter(pk=self.pk, status=Run.QUEUED).update(dispatch_error=self.dispatch_error)
            return False
        self.dispatched, self.dispatch_error = timezone.now(), ""  # this copy's guess; the row has the database's
        Run.objects.filter(pk=self.pk, status=Run.QUEUED).update(dispatched=Now(), dispatch_error="")
        return True

    @classmethod
    def redispatch_undelivered(cls, now=None, idle_queues=frozenset()) -> int:
        """Send again the queued runs that never reached a worker; the number sent."""
        return sum(run.send() for run in cls.objects.undelivered(now, idle_queues))

    def _announce_finished(self) -> None:
        """`run_finished` for an end not written by a worker (reaped, cancelled while queued)."""
        pk, status = self.pk, self.status
        note_id, user_id = Run.objects.filter(pk=pk).values_list("runnable__note_id", "runnable__note__user_id").get()
        transaction.on_commit(
            lambda: run_finished.send(sender=Run, run_id=pk, note_id=note_id, user_id=user_id, status=status)
        )

    def rerun(self) -> "Run":
        return self.runnable.start_run(self.params)

    # --- state changes from the web ---------------------------------------------------
    def request_cancel(self) -> None:
        """A queued run is cancelled at once; a running one stops at its job's next check."""
        cancelled = Run.objects.filter(pk=self.pk, status=Run.QUEUED).update(
            status=Run.CANCELLED, finished=Now(), cancel_requested=True, step="cancelled before it started"
        )
        Run.objects.filter(pk=self.pk, status=Run.RUNNING).update(cancel_requested=True)
        self.refresh_from_db()
        if cancelled:
            self._announce_finished()

    # --- state changes from the worker (only the lease holder) --------------------------
    def _mine(self, owner: str):
        return Run.objects.filter(pk=self.pk, lease_owner=owner, status=Run.RUNNING)

    def claim(self, owner: str, worker_host: str) -> bool:
        """Take the lease of a queued run; False when it was cancelled, taken or already ended."""
        taken = Run.objects.filter(pk=self.pk, status=Run.QUEUED, cancel_requested=False).update(
            status=Run.RUNNING, lease_owner=owner, worker_host=worker_host, started=Now(), heartbeat=Now(),
            step="starting",
        )
        if taken:
            self.refresh_from_db()
        return bool(taken)

    def beat(self, owner: str) -> tuple[bool, bool]:
        """Stamp the heartbeat: (still the lease holder, cancel requested)."""
        if not self._mine(owner).update(heartbeat=Now()):
            return False, False
        return True, Run.objects.filter(pk=self.pk, cancel_requested=True).exists()

    def record(self, owner: str, log_append: str = "", **fields) -> bool:
        """Write progress, step, device or metrics, and append to the log; False when the lease is gone."""
        if log_append:
            fields["log"] = self.appended_log(log_append)
        return bool(self._mine(owner).update(heartbeat=Now(), **fields))

    @staticmethod
    def appended_log(text: str):
        """The log with `text` added at its end, in SQL: the row's log is never sent back whole,
        and only its last RUNS_LOG_MAX_CHARS characters are kept."""
        return Right(Concat(models.F("log"), models.Value(text), output_field=models.TextField()),
                     settings.RUNS_LOG_MAX_CHARS)

    def finish(self, owner: str, status: str, *, error: str = "", traceback: str = "", log_append: str = "",
               **fields) -> bool:
        assert status in Run.ENDED
        if status == Run.SUCCEEDED:
            fields.setdefault("progress", 100.0)
        if log_append:
            fields["log"] = self.appended_log(log_append)
        return bool(
            self._mine(owner).update(
                status=status, error=error, traceback=traceback, finished=Now(), heartbeat=Now(), **fields
            )
        )

    @classmethod
    def reap_lost(cls, now=None) -> int:
        """Fail running runs whose heartbeat stopped (the worker was killed or its machine is gone)."""
        reaped = 0
        for run in cls.objects.lost(now):
            # Row by row, re-checking the heartbeat: a run that beat in between is left alone.
            if cls.objects.lost(now).filter(pk=run.pk).update(
                status=cls.FAILED, error=cls.WORKER_LOST, finished=Now(), lease_owner=""
            ):
                run.status = cls.FAILED
                run._announce_finished()
                reaped += 1
        return reaped

    def save_artifact(self, owner: str, name: str, data: bytes, content_type: str) -> "RunArtifact":
        """A file written by the lease holder (LeaseLost otherwise); see RunArtifact.store."""
        if not self._mine(owner).exists():
            raise LeaseLost(self.pk)
        return RunArtifact.store(self, name, data, content_type)


class LeaseLost(Exception):
    """This worker no longer holds the run (the reaper failed it, or another worker took it)."""


class RunArtifactManager(models.Manager):
    def get_queryset(self):
        # Lists of artifacts (run cards, the API) never carry their bytes; read_bytes() loads them.
        return super().get_queryset().defer("data")


class RunArtifact(models.Model):
    """A file a run wrote (image, JSON, CSV, text).

    Up to RUNS_ARTIFACT_DB_MAX_BYTES it is kept in the row itself (`data`): a worker on another
    machine shares only the database and Redis with the web app, so the database is the one
    place both can reach. Larger files go to Django's default storage (`path`), which must then
    be shared storage (an S3-compatible bucket through django-storages) when workers run elsewhere.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="artifacts")
    name = models.CharField(max_length=100)
    path = models.CharField(max_length=300, blank=True, help_text="Name in the default storage; empty when in `data`.")
    data = models.BinaryField(null=True, blank=True, editable=False, help_text="The bytes, when small enough.")
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)

    objects = RunArtifactManager()

    class Meta:
        ordering = ["name"]
        base_manager_name = "objects"
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="artifact_unique_name_per_run")]

    def __str__(self):
        return f"{self.run_id}/{self.name}"

    def get_absolute_url(self):
        return reverse("workers:artifact", args=[self.run_id, self.name])

    @property
    def is_image(self) -> bool:
        return self.content_type in ("image/png", "image/jpeg")

    def read_bytes(self) -> bytes:
        """The file's bytes, from the row or the default storage (FileNotFoundError when gone)."""
        if self.data is not None:
            return bytes(self.data)
        if not self.path:
            raise FileNotFoundError(f"artifact {self} has no data")
        with default_storage.open(self.path, "rb") as f:
            return f.read()

    @classmethod
    def store(cls, run: "Run", name: str, data: bytes, content_type: str) -> "RunArtifact":
        """Write (or replace) the run's artifact `name`; no lease check (Run.save_artifact has it,
        imports call this directly). ValueError for a name that is not a plain file name."""
        if not ARTIFACT_NAME.match(name) or ".." in name:
            raise ValueError(f"bad artifact name {name!r}")
        data = bytes(data)
        if len(data) <= settings.RUNS_ARTIFACT_DB_MAX_BYTES:
            path, inline = "", data
        else:
            path, inline = default_storage.save(f"runs/{run.pk}/{name}", ContentFile(data)), None
        fields = {"path": path, "data": inline, "content_type": content_type, "size": len(data)}
        with transaction.atomic():
            artifact, created = cls.objects.select_for_update().get_or_create(run=run, name=name, defaults=fields)
            old = "" if created else artifact.path
            if not created:
                for key, value in fields.items():
                    setattr(artifact, key, value)
                artifact.save(update_fields=list(fields))
        if old and old != path:
            default_storage.delete(old)
        return artifact
