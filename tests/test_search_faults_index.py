"""The HNSW snapshot files: damaged, missing or foreign files never break search, and
every search sees every committed vector whatever the snapshot's age."""

import json
import threading

import numpy as np
import pytest

from notes.models import Note
from search import hnsw, indexing, services
from search.check import check_user
from tests.search_fixtures import TEXTS, index_notes, semantic_results



@pytest.fixture
def indexed(user):
    return index_notes(user)


def restart(user):
    """What a new web process does: forget the in-memory index and load from disk."""
    hnsw.forget()
    return hnsw.get_index(user.pk)


def data_file(user):
    manifest = json.loads(hnsw.manifest_path(user.pk).read_text())
    return hnsw.index_dir() / manifest["file"]


def test_a_new_process_loads_the_snapshot_and_answers_the_same(user, indexed):
    expected = semantic_results(user)
    assert restart(user).loaded_from == "snapshot"
    assert semantic_results(user) == expected


@pytest.mark.parametrize("damage", ["deleted", "truncated", "garbage", "manifest_garbage", "manifest_deleted"])
def test_damaged_snapshot_is_rebuilt_from_the_database_with_the_same_results(user, indexed, damage):
    expected = semantic_results(user)
    path = data_file(user)
    if damage == "deleted":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))
    elif damage == "manifest_garbage":
        hnsw.manifest_path(user.pk).write_text("{not json")
    else:
        hnsw.manifest_path(user.pk).unlink()
    assert restart(user).loaded_from == "database"
    assert semantic_results(user) == expected


def test_a_file_with_a_matching_size_but_another_checksum_is_never_loaded(user, indexed):
    path = data_file(user)
    raw = bytearray(path.read_bytes())
    raw[100] ^= 0xFF  # same size, one byte changed: hnswlib would trust it blindly
    path.write_bytes(bytes(raw))
    assert restart(user).loaded_from == "database"


def test_another_users_snapshot_is_not_loaded_as_mine(user, other_user, indexed):
    mine = hnsw.manifest_path(user.pk)
    theirs = hnsw.manifest_path(other_user.pk)
    theirs.write_text(mine.read_text())  # a foreign manifest (user id inside says otherwise)
    assert hnsw.UserIndex.from_snapshot(other_user.pk, "all-MiniLM-L6-v2") is None


def test_vectors_committed_after_the_snapshot_are_found(user, indexed):
    restart(user)
    late = Note.objects.create_note(user, title="Volcano", body="Basaltic lava flows from a shield volcano.")
    indexing.index_note(late.pk)
    assert services.search(user, "eruption of molten rock", mode="semantic").hits[0].note_id == late.pk
    assert restart(user).loaded_from == "snapshot"
    assert services.search(user, "eruption of molten rock", mode="semantic").hits[0].note_id == late.pk


def test_changed_and_deleted_passages_never_come_back_even_from_an_old_snapshot(user, indexed):
    bread = indexed[1]
    bread.apply_edit(base_version=1, title="Bread", body="Quantum chromodynamics describes the strong force.")
    indexing.index_note(bread.pk)
    optimiser = indexed[0].pk
    indexed[0].delete()
    indexing.remove_note(optimiser)
    for _ in range(2):  # the live process, then a new one loading the old snapshot
        hits = services.search(user, "sourdough proof fridge", mode="semantic", limit=10).hits
        assert all("Sourdough" not in h.passage for h in hits)
        assert optimiser not in [h.note_id for h in services.search(user, "learning rate", mode="hybrid").hits]
        restart(user)
    assert check_user(user.pk)["problems"] == []


def test_compaction_erases_deleted_vectors_once_past_the_threshold(user, indexed, settings):
    settings.SEARCH_COMPACT_RATIO = 0.2
    note = indexed[2]
    sizes, rebuilt = [], []
    for i in range(8):
        note = note.apply_edit(base_version=note.version, title="Attention", body=f"Edit number {i} of the attention note.")
        indexing.index_note(note.pk)
        report = hnsw.write_snapshot(user.pk)  # what the periodic snapshot task does
        rebuilt.append(report["rebuilt"])
        sizes.append(restart(user).index.get_current_count())
    assert any(rebuilt)
    # The file never holds more than the live vectors plus the allowed share of deleted ones.
    assert max(sizes) <= len(TEXTS) / (1 - settings.SEARCH_COMPACT_RATIO) + 1
    assert services.index_status(user)["totals"]["deleted_not_erased"] <= 1
    assert check_user(user.pk)["problems"] == []


def test_searches_keep_answering_while_another_thread_adds_vectors(user, indexed):
    index = restart(user)
    errors = []
    stop = threading.Event()
    query = np.asarray(index.vectors([next(iter(index.live))])[0], dtype=np.float32)

    def read():
        while not stop.is_set():
            try:
                assert index.query(query, 3)
            except Exception as exc:  # pragma: no cover - the failure being guarded against
                errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    rng = np.random.default_rng(1)
    try:
        for start in range(10_000, 12_000, 100):
            vectors = rng.normal(size=(100, 384)).astype(np.float32)
            with index.lock.write():
                index._add(list(range(start, start + 100)), vectors)
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert errors == []
    assert len(index.live) == len(TEXTS) + 2000
