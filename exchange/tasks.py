"""Import tasks (queue `default`): a web upload is imported in the background."""

from celery import shared_task


@shared_task(name="exchange.import_job", queue="default", acks_late=True)
def import_job(job_id: int) -> None:
    from exchange.services import run_import_job

    run_import_job(job_id)
