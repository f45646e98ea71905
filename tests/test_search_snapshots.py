"""A long-running searching process and the snapshots the index writer keeps writing: it
swaps in a compacted snapshot (never a damaged one) without holding searches up, and
once old tombstones are pruned it reloads rather than keep a deleted passage."""

import json
import threading

import pytest

from search import hnsw, indexing, reindex, services
from search.check import check_user
from search.models import Passage, Tombstone, UserIndexState
from tests.search_fixtures import TEXTS, index_notes, semantic_results
from tests.waiting import wait_until



@pytest.fixture
def notes(user):
    return index_notes(user)


@pytest.fixture
def look_every_time(monkeypatch):
    monkeypatch.setattr(hnsw.registry, "RELOAD_CHECK_SECONDS", 0.0)


def edit_many_times(note, times=8):
    """Edits, each followed by a search in this process (its index marks the old vector deleted)."""
    for i in range(times):
        note = note.apply_edit(base_version=note.version, title=note.title, body=f"{note.body} Revision {i}.")
        indexing.index_note(note.pk)
        hnsw.get_index(note.user_id)
    note = note.apply_edit(base_version=note.version, title=note.title, body=TEXTS[2][1])
    indexing.index_note(note.pk)


def searched_index(user):
    """What the next search in this process uses, background loads settled."""
    hnsw.get_index(user.pk)
    hnsw.wait_for_background_loads()
    return hnsw.get_index(user.pk)


def test_a_running_process_swaps_in_the_compacted_snapshot_with_identical_results(user, notes, look_every_time):
    loaded = hnsw.get_index(user.pk)
    edit_many_times(notes[2])
    expected = semantic_results(user)
    assert loaded.deleted >= 8
    assert hnsw.write_snapshot(user.pk, compact=True)["rebuilt"]  # the index writer's periodic task
    index = searched_index(user)
    assert index is not loaded and index.loaded_from == "snapshot"
    assert index.deleted == 0
    assert semantic_results(user) == expected
    assert check_user(user.pk)["problems"] == []


def test_a_damaged_newer_snapshot_is_never_loaded(user, notes, look_every_time):
    loaded = hnsw.get_index(user.pk)
    edit_many_times(notes[2])
    expected = semantic_results(user)
    hnsw.write_snapshot(user.pk, compact=True)
    manifest = json.loads(hnsw.manifest_path(user.pk).read_text())
    data = hnsw.index_dir() / manifest["file"]
    raw = bytearray(data.read_bytes())
    raw[100] ^= 0xFF  # same size, one byte changed: only the checksum tells
    data.write_bytes(bytes(raw))
    assert searched_index(user) is loaded
    assert semantic_results(user) == expected


def test_searches_answer_from_the_old_index_while_the_new_snapshot_loads(user, notes, look_every_time, monkeypatch):
    loaded = hnsw.get_index(user.pk)
    edit_many_times(notes[2])
    expected = semantic_results(user)
    hnsw.write_snapshot(user.pk, compact=True)
    release = threading.Event()
    real_load = hnsw.UserIndex.from_snapshot_file

    def slow_load(user_id, model):
        release.wait(30)
        return real_load(user_id, model)

    monkeypatch.setattr(hnsw.UserIndex, "from_snapshot_file", staticmethod(slow_load))
    hnsw.get_index(user.pk)  # starts the load
    assert semantic_results(user) == expected  # answered while the load is still waiting
    assert hnsw.get_index(user.pk) is loaded
    release.set()
    assert searched_index(user).deleted == 0


def test_a_process_behind_the_pruned_position_never_returns_a_deleted_passage(user, notes):
    behind = hnsw.get_index(user.pk)  # a process that then stays idle
    gone = notes[1].pk
    gone_passages = set(Passage.objects.filter(note_id=gone).values_list("pk", flat=True))
    notes[1].delete()
    indexing.remove_note(gone)
    assert gone_passages <= behind.live
    assert reindex.prune_tombstones(user.pk) == 0  # tombstones within the retention stay
    assert reindex.prune_tombstones(user.pk, retention_seconds=0) == 0  # not covered by the snapshot yet
    hnsw.write_snapshot(user.pk)
    pruned = reindex.prune_tombstones(user.pk, retention_seconds=0)
    assert pruned and UserIndexState.objects.get(user=user).pruned_seq == pruned
    assert not Tombstone.objects.filter(user=user).exists()
    assert behind.seq < pruned
    hnsw.forget(user.pk)
    index = hnsw.get_index(user.pk)
    # The idle process: catching up from the database would miss the pruned tombstones.
    hnsw.registry._indexes[(user.pk, index.model)] = behind
    found = {pk for pk, _ in services.semantic_passages(user.pk, "sourdough bread proof", 10)}
    assert not found & gone_passages
    assert not hnsw.get_index(user.pk).live & gone_passages
    assert check_user(user.pk)["problems"] == []


def test_the_periodic_snapshot_task_prunes_old_tombstones(user, notes, monkeypatch):
    monkeypatch.setattr(reindex, "TOMBSTONE_RETENTION_SECONDS", 0)
    edit_many_times(notes[2], times=2)
    assert Tombstone.objects.filter(user=user).exists()
    reindex.snapshot_all()
    assert not Tombstone.objects.filter(user=user).exists()
    assert UserIndexState.objects.get(user=user).pruned_seq == hnsw.snapshot_info(user.pk)["seq"]
    hnsw.forget()
    assert semantic_results(user)[2][0][0] == notes[2].pk


def test_the_periodic_pass_hands_each_user_behind_to_the_index_worker(user, other_user, celery_worker, settings):
    from search.tasks import snapshot_all

    index_notes(user, snapshot=False)
    index_notes(other_user, snapshot=False)
    assert set(reindex.users_behind()) == {(user.pk, hnsw.get_index(user.pk).model), (other_user.pk, hnsw.get_index(other_user.pk).model)}
    celery_worker(queues=["index"], extra_env={"SEARCH_INDEX_DIR": settings.SEARCH_INDEX_DIR})
    snapshot_all.delay()
    wait_until(lambda: not reindex.users_behind(), 60, "the index worker did not write every user's snapshot")
    for someone in (user, other_user):
        assert hnsw.snapshot_info(someone.pk)["seq"] == hnsw.current_seq(someone.pk)
