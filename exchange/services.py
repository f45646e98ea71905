"""Web imports: queue an upload for the worker, and the work the worker does."""

from django.db import transaction
from django.utils import timezone

from exchange.importers import import_bytes
from exchange.importers.base import Report, has_placeholder_title
from exchange.models import ImportJob
from notes.models import Note


def start_import(user, filename: str, data: bytes, fmt: str = "") -> ImportJob:
    """Keep the upload and have a worker import it once this transaction commits."""
    from exchange.tasks import import_job

    job = ImportJob.objects.create(user=user, filename=filename[:255], format=fmt, payload=data)
    transaction.on_commit(lambda: import_job.delay(job.pk))
    return job


def run_import_job(job_id: int) -> None:
    """Import a queued upload; safe to run twice (every importer updates what it made before)."""
    job = ImportJob.objects.filter(pk=job_id).select_related("user").first()
    if job is None or job.status in (ImportJob.DONE, ImportJob.FAILED):
        return
    job.set_progress(0, 0)
    try:
        report = import_bytes(job.user, job.filename, bytes(job.payload), job.format or None, job.set_progress)
    except Exception as exc:  # noqa: BLE001 - the user must see that it stopped, not a spinner forever
        report = Report()
        report.fail(job.filename, f"the import stopped: {type(exc).__name__}: {exc}")
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.FAILED, report=report.as_dict(), payload=b"", finished=timezone.now()
        )
        raise
    job.refresh_from_db(fields=["done", "total"])
    job.finish(report.as_dict())


class NoSuchChoice(LookupError):
    """The notice or the title is not in the job's report, or its note is gone."""


def choose_title(job: ImportJob, notice: int, choice: int) -> Note:
    """Give a notice's note the title the user picked among its choices (the table of contents'
    titles its section may have), and its paper too while nothing names that."""
    notices = (job.report or {}).get("notices", [])
    if not 0 <= notice < len(notices) or not 0 <= choice < len(notices[notice].get("choices", [])):
        raise NoSuchChoice
    title = notices[notice]["choices"][choice]
    with transaction.atomic():
        note = Note.objects.for_user(job.user).select_related("paper").filter(pk=notices[notice]["note"]).first()
        if note is None:
            raise NoSuchChoice
        note = note.apply_edit(base_version=note.version, title=title, body=note.body)
        if note.paper is not None and has_placeholder_title(note.paper):
            note.paper.apply_edit(base_version=note.paper.version, title=title)
        job.record_choice(notice, title)
    return note
