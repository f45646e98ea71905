"""Celery worker signals, connected from WorkersConfig.ready()."""

from celery.signals import worker_ready, worker_shutdown

from workers.liveness import Heartbeat

_heartbeat: Heartbeat | None = None


def _start_heartbeat(sender=None, **kwargs):
    global _heartbeat
    consumer = sender
    queues = [q.name for q in consumer.task_consumer.queues] if consumer.task_consumer else []
    _heartbeat = Heartbeat(consumer.hostname, queues)
    _heartbeat.start()


def _stop_heartbeat(**kwargs):
    if _heartbeat is not None:
        _heartbeat.stop()


def connect() -> None:
    worker_ready.connect(_start_heartbeat, weak=False, dispatch_uid="lablog-heartbeat-start")
    worker_shutdown.connect(_stop_heartbeat, weak=False, dispatch_uid="lablog-heartbeat-stop")
