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


def damage_snapshot(user, damage):
    path = data_file(user)
    if damage == "deleted":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))
    elif damage == "same size, one byte changed":  # hnswlib would trust it blindly
        raw = bytearray(path.read_bytes())
        raw[100] ^= 0xFF
        path.write_bytes(bytes(raw))
    elif damage == "manifest_garbage":
        hnsw.manifest_path(user.pk).write_text("{not json")
    else:
        hnsw.manifest_path(user.pk).unlink()


@pytest.fixture
def large_collection(settings):
    """Every collection counts as too large to build in a request (4 notes would be built at once)."""
    settings.SEARCH_REQUEST_BUILD_MAX_VECTORS = 0


DAMAGES = ["deleted", "truncated", "garbage", "same size, one byte changed", "manifest_garbage", "manifest_deleted"]


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_snapshot_is_never_loaded_search_answers_by_words_and_the_writer_rebuilds_it(
    user, indexed, damage, large_collection
):
    expected = semantic_results(user)
    damage_snapshot(user, damage)
    hnsw.forget()  # a new web process
    with pytest.raises(hnsw.WarmingUp):
        hnsw.get_index(user.pk)
    # Meaning search warms up: answered by words meanwhile, and the page can say so.
    page = services.search(user, "sourdough fridge", mode="semantic")
    assert [h.title for h in page.hits] == ["Bread"]
    assert hnsw.warming_up(user.pk)
    assert services.related_notes(user, indexed[1]) == []
    report = hnsw.write_snapshot(user.pk)  # what the index writer's task does
    assert report["rebuilt"]
    assert restart(user).loaded_from == "snapshot"
    assert not hnsw.warming_up(user.pk)
    assert semantic_results(user) == expected


def test_a_small_collection_without_a_snapshot_is_built_in_the_request(user, indexed):
    expected = semantic_results(user)
    damage_snapshot(user, "manifest_deleted")
    assert restart(user).loaded_from == "database"
    assert semantic_results(user) == expected


def test_a_reader_still_loads_the_snapshot_it_chose_while_the_writer_replaces_it(user, indexed):
    expected = semantic_results(user)
    manifest_before = hnsw.manifest_path(user.pk).read_text()
    hnsw.write_snapshot(user.pk, compact=True)  # a new data file, the old one replaced
    # A reader that read the old manifest just before the swap opens the file it names.
    hnsw.manifest_path(user.pk).write_text(manifest_before)
    assert restart(user).loaded_from == "snapshot"
    assert semantic_results(user) == expected


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
