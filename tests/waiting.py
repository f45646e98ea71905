"""Waiting in tests for what another process does (a worker, beat, a broker coming back)."""

import time

from workers.models import Run


def wait_until(predicate, timeout, message, interval=0.3):
    """Calls predicate until it returns something truthy, and returns that.

    After `timeout` seconds raises AssertionError with `message`, or with `message()` when it
    is callable, so diagnostics such as a worker's log are gathered only on failure.
    """
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(message() if callable(message) else message)
        time.sleep(interval)
    return value


def wait_for_run_end(run: Run, worker, timeout=120) -> Run:
    """The run, refreshed, once it has ended on `worker`."""

    def ended():
        run.refresh_from_db()
        return run.ended

    wait_until(ended, timeout, lambda: f"run {run.pk} still {run.status} after {timeout}s: {run.step}\n"
                                       f"{run.log}\n{worker.log()}")
    return run


def wait_for_htmx_stop(client, url, timeout, message, while_polling_says=""):
    """GETs an htmx polling fragment until it answers 286 (htmx stops polling) and returns that
    answer; every answer before it must be a 200 saying `while_polling_says`."""

    def stopped():
        response = client.get(url, HTTP_HX_REQUEST="true")
        if response.status_code == 286:
            return response
        assert response.status_code == 200 and while_polling_says in response.content.decode()
        return None

    return wait_until(stopped, timeout, message)
