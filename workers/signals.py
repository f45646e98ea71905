"""Celery worker signals and model signals, connected from WorkersConfig.ready()."""

import logging

from celery.signals import celeryd_after_setup, worker_ready, worker_shutdown
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import Signal

from workers.liveness import Heartbeat

# Sent when a run ended (succeeded, failed or cancelled): run_id, note_id, user_id, status.
# For listeners such as search indexing of run summaries.
run_finished = Signal()

logger = logging.getLogger(__name__)

_heartbeat: Heartbeat | None = None
_offers: dict[str, dict] = {}  # what this worker announces per job kind it can run


def _subscribe_job_queues(sender=None, instance=None, **kwargs):
    """A worker started on a kind's base queue (`--queues gpu`) also consumes the queue of every
    kind it can run here, and of each model it has: runs are only ever sent to those."""
    from workers.jobs import kinds

    queues = instance.app.amqp.queues
    consumed = set(queues.consume_from)
    for kind in kinds().values():
        if kind.queue not in consumed:
            continue
        try:
            offer = kind.worker_offer()
        except Exception:  # a broken check must not stop the worker; the kind is just not offered
            logger.exception("job kind %s: could not tell what this worker offers", kind.name)
            continue
        if offer is None:
            logger.info("job kind %s is unavailable on this worker: %s", kind.name, kind.available()[1])
            continue
        _offers[kind.name] = offer
        for name in kind.worker_queues(offer):
            queues.select_add(name, exchange=name, exchange_type="direct", routing_key=name)


def _start_heartbeat(sender=None, **kwargs):
    global _heartbeat
    from workers.devices import devices

    consumer = sender
    queues = [q.name for q in consumer.task_consumer.queues] if consumer.task_consumer else []
    _heartbeat = Heartbeat(consumer.hostname, queues, devices=devices() if _offers else [], kinds=_offers)
    _heartbeat.start()


def _stop_heartbeat(**kwargs):
    if _heartbeat is not None:
        _heartbeat.stop()


def _delete_artifact_file(sender, instance, **kwargs):
    """An artifact row deleted (with its run, runnable or note): its file goes once committed."""
    from django.core.files.storage import default_storage

    path = instance.path
    if path:  # empty: the bytes were in the row and went with it
        transaction.on_commit(lambda: default_storage.delete(path))


def _run_ended(sender, note_id, **kwargs):
    from workers.summaries import reindex_note

    reindex_note(note_id)


def _runnable_deleted(sender, instance, **kwargs):
    """Its runs went with it: their summaries leave the note's search passages."""
    from workers.summaries import reindex_note

    reindex_note(instance.note_id)


def connect() -> None:
    from workers.models import Runnable, RunArtifact

    post_delete.connect(_delete_artifact_file, sender=RunArtifact, dispatch_uid="lablog-artifact-file")
    post_delete.connect(_runnable_deleted, sender=Runnable, dispatch_uid="lablog-runnable-summaries")
    run_finished.connect(_run_ended, dispatch_uid="lablog-run-summaries")
    celeryd_after_setup.connect(_subscribe_job_queues, weak=False, dispatch_uid="lablog-job-queues")
    worker_ready.connect(_start_heartbeat, weak=False, dispatch_uid="lablog-heartbeat-start")
    worker_shutdown.connect(_stop_heartbeat, weak=False, dispatch_uid="lablog-heartbeat-stop")
