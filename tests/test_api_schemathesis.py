"""Property-based fuzzing of the JSON API against its own OpenAPI schema: for every operation,
with a real token of a user who owns notes, papers and snippets, no request gets a 5xx, and every
answer has a documented status code and matches the documented body schema."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from api.models import ApiToken
from notes.models import Note, Paper, Snippet
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from workers.models import Run, Runnable

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
ID_PARAMETERS = {"note_id", "paper_id", "snippet_id", "runnable_id", "run_id"}


# Loaded at collection: one test per operation (pytest-django has set Django up by then).
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_test_connection(db):
    # The WSGI handler closes the database connection after each request, which would end the
    # test's transaction; Django's own test client disconnects the same receivers.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def owned(user):
    """Objects of the token's owner, so generated ids sometimes reach real rows (not only 404s)."""
    paper = Paper.objects.create(user=user, title="Attention is all you need", arxiv_id="1706.03762")
    note = Note.objects.create_note(user, title="Transformers", body="Self-attention $x^2$", tags=["ml"], paper=paper)
    Note.objects.create_note(user, title="Diffusion", body="Classifier-free guidance")
    snippet = Snippet.objects.create(note=note, text="scaled dot-product attention", position=0)
    runnable = Runnable.objects.create(note=note, kind="cfg_diffusion", params={})
    run = Run.objects.create(runnable=runnable, params={})
    _, secret = ApiToken.issue(user, "fuzz", 1)
    return {
        "secret": secret,
        "ids": {"note_id": note.pk, "paper_id": paper.pk, "snippet_id": snippet.pk,
                "runnable_id": runnable.pk, "run_id": run.pk},
    }


@schema.parametrize()
@settings(max_examples=12, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_api_operation_answers_as_documented_without_server_errors(case, owned):
    for name, value in (case.path_parameters or {}).items():
        if name in ID_PARAMETERS and isinstance(value, int) and value % 2:
            case.path_parameters[name] = owned["ids"][name]  # half the ids hit the owner's real rows
    case.call_and_validate(headers={"Authorization": f"Bearer {owned['secret']}"}, checks=CHECKS)
