"""Runnable-entry job tasks (queue `gpu` and friends).

A run is not retried by Celery: recovery is the run's own lease. A re-delivered or re-sent
message finds its run already claimed or ended and exits; a run whose worker died is failed by
the reaper and re-run by its owner with one click; a run whose message never reached a worker
(Redis was down or lost it) is sent again by the reaper.
"""

from celery import shared_task

from workers.runner import execute_run, recover_runs


@shared_task(name="workers.run_job", bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=0)
def run_job(self, run_id: int):
    """Sent to the run's kind's queue by `Run.dispatch()`."""
    return execute_run(run_id, worker_host=self.request.hostname or "")


@shared_task(name="workers.reap_lost_runs", max_retries=0)
def reap_lost_runs() -> dict:
    """Beat sends this every RUNS_REAPER_SECONDS: fail runs whose heartbeat stopped and
    send again queued runs that never reached a worker."""
    return recover_runs()
