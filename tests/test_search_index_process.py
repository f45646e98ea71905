"""searchd, the machine's one search-index process: web processes search through it (over
SEARCH_INDEX_SOCKET) with the results they would get holding the index themselves, see
every committed passage, never another user's, answer by words with a notice while it is
down, pick it up again when it comes back, and it keeps to its memory budget."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from notes.models import Note
from search import hnsw, indexing, services
from search.hnsw import files, registry, remote
from search.models import Passage
from tests.celery_worker import ROOT
from tests.celery_worker import test_database_url as database_url  # (not collected as a test)
from tests.search_fixtures import QUERIES, TEXTS, index_notes
from tests.waiting import wait_until

NOTICE = "Meaning search is warming up"


class Searchd:
    """`manage.py searchd` in a subprocess, on the test database and this test's index files."""

    def __init__(self, settings, **env):
        self.dir = tempfile.mkdtemp(prefix="searchd-", dir="/tmp")  # socket paths must stay short
        self.socket = os.path.join(self.dir, "searchd.sock")
        self.env = dict(os.environ, DATABASE_URL=database_url(), SEARCH_INDEX_DIR=settings.SEARCH_INDEX_DIR,
                        SEARCH_INDEX_SOCKET=self.socket, **env)
        self.log_path = Path(self.dir) / "searchd.log"
        self.proc = None

    def start(self) -> "Searchd":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "manage.py", "searchd"], cwd=ROOT, env=self.env,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        wait_until(self.answers, 60, lambda: f"searchd did not come up:\n{self.log_path.read_text()}")
        return self

    def answers(self) -> bool:
        try:
            return remote.stats()["pid"] == self.proc.pid
        except remote.Unavailable:
            assert self.proc.poll() is None, self.log_path.read_text()
            return False

    def stats(self) -> dict:
        return remote.stats()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def searchd(transactional_db, settings):
    """Start searchd (extra settings as environment variables) and point this process at it;
    it reads committed rows only, hence a transactional test."""
    started = []

    def start(**env):
        daemon = Searchd(settings, **env)
        settings.SEARCH_INDEX_SOCKET = daemon.socket
        started.append(daemon.start())
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


@contextmanager
def restarted(settings, daemon: Searchd):
    """A new searchd on a killed one's socket, for the block."""
    again = Searchd(settings)
    again.socket, again.env["SEARCH_INDEX_SOCKET"] = daemon.socket, daemon.socket
    again.start()
    try:
        yield again
    finally:
        again.stop()


def through_searchd(settings, socket: str | None):
    settings.SEARCH_INDEX_SOCKET = socket or ""
    hnsw.forget()


def everything_found(user, notes) -> dict:
    """What a user sees of search by meaning: each query's hits in each mode, and each note's
    related notes, as (note id, rounded score)."""
    found = {}
    for query in QUERIES.values():
        for mode in ("hybrid", "semantic"):
            found[(mode, query)] = [(h.note_id, round(h.score, 5)) for h in services.search(user, query, mode=mode).hits]
    for note in notes:
        found[("related", note.pk)] = [(r.note.pk, round(r.score, 5), r.target_passage)
                                       for r in services.related_notes(user, note)]
    return found


def make_user(name):
    return get_user_model().objects.create_user(name, password="correct horse battery")


def test_searches_through_searchd_find_what_an_in_process_index_finds(user, settings, searchd):
    notes = index_notes(user)
    held_here = everything_found(user, notes)
    assert any(held_here[("related", n.pk)] for n in notes)  # the comparison covers related notes
    daemon = searchd()
    hnsw.forget()
    assert everything_found(user, notes) == held_here
    assert registry.held_keys() == []  # this process held nothing: searchd answered
    assert [key[0] for key in daemon.stats()["held"]] == [user.pk]


def test_a_passage_committed_after_searchd_loaded_the_index_is_found_by_meaning(user, settings, searchd):
    index_notes(user)
    searchd()
    services.search(user, "baking", mode="semantic")  # searchd loads the snapshot
    late = Note.objects.create_note(user, title="Chess", body="The Sicilian defence answers e4 with c5.")
    indexing.index_note(late.pk)
    hits = services.search(user, "chess opening", mode="semantic").hits
    assert hits[0].note_id == late.pk
    assert files.read_manifest(user.pk, hnsw.get_index(user.pk).model)[0]["seq"] < hnsw.position(user.pk)[0]  # not from a new snapshot


def test_a_user_never_gets_another_users_passages_through_searchd(user, other_user, settings, searchd):
    mine = index_notes(user)
    theirs = Note.objects.create_note(other_user, title="Bread too", body=TEXTS[1][1])
    indexing.index_note(theirs.pk)
    hnsw.write_snapshot(other_user.pk)
    searchd()
    their_ids = set(Passage.objects.filter(note__user=other_user).values_list("pk", flat=True))
    my_ids = set(Passage.objects.filter(note__user=user).values_list("pk", flat=True))

    hits = services.search(other_user, QUERIES["Bread"], mode="semantic").hits
    assert {h.note_id for h in hits} == {theirs.pk}
    index = hnsw.get_index(other_user.pk)
    found = index.query(services.embedding.embed_query("sourdough", index.model), 10)
    assert {label for label, _ in found} <= their_ids
    assert index.live and index.live <= their_ids
    assert index.vectors(sorted(my_ids)).shape[0] == 0  # refused, not read from the other index
    assert services.related_notes(other_user, mine[1]) == []

    # Were an index ever to answer with another user's passages, the page would not show them:
    # services read every hit back through its owner.
    real_query = remote.RemoteIndex.query
    remote.RemoteIndex.query = lambda self, vector, k: [(pk, 0.9) for pk in my_ids]
    try:
        assert services.search(other_user, "anything", mode="semantic").hits == []
    finally:
        remote.RemoteIndex.query = real_query


def test_with_searchd_down_search_answers_by_words_with_the_notice_and_comes_back_with_it(user, settings, searchd):
    notes = index_notes(user)
    staff = make_user("root")
    staff.is_staff = True
    staff.save()
    client, admin = Client(), Client()
    client.force_login(user)
    admin.force_login(staff)
    daemon = searchd()
    assert admin.get(reverse("healthz")).json()["searchd"]["ok"]
    page = client.get("/search/", {"q": QUERIES["Bread"], "mode": "hybrid"}).content.decode()
    assert notes[1].title in page and NOTICE not in page

    daemon.kill()
    for mode in ("hybrid", "semantic"):
        response = client.get("/search/", {"q": "sourdough fridge", "mode": mode})
        assert response.status_code == 200
        assert NOTICE in response.content.decode() and notes[1].title in response.content.decode()
    assert services.related_notes(user, notes[1]) == []
    assert client.get(reverse("notes:note", args=[notes[1].pk])).status_code == 200
    health = admin.get(reverse("healthz")).json()
    assert not health["searchd"]["ok"]

    with restarted(settings, daemon):
        page = client.get("/search/", {"q": QUERIES["Bread"], "mode": "semantic"}).content.decode()
        assert notes[1].title in page and NOTICE not in page  # by meaning: "baking" shares no word with it


def test_a_search_whose_lookup_failed_when_searchd_died_midway_is_not_kept(user, settings, searchd, monkeypatch):
    """searchd killed after a search opened the user's index: no hits by meaning this time,
    and once it is back the same question finds by meaning (the empty answer was not kept)."""
    notes = index_notes(user)
    daemon = searchd()
    question = QUERIES["Bread"]  # shares no word with the note it finds
    real_query = remote.RemoteIndex.query

    def dies_first(index, vector, k):
        daemon.kill()
        return real_query(index, vector, k)

    monkeypatch.setattr(remote.RemoteIndex, "query", dies_first)
    assert services.search(user, question, mode="semantic").hits == []
    monkeypatch.undo()
    with restarted(settings, daemon):
        assert notes[1].pk in [h.note_id for h in services.search(user, question, mode="semantic").hits]


def test_searchd_says_when_a_users_index_is_warming_up(user, settings, searchd):
    notes = index_notes(user)
    files.remove(user.pk, hnsw.get_index(user.pk).model)
    searchd(SEARCH_REQUEST_BUILD_MAX_VECTORS="0")  # as with a lab-sized collection
    hnsw.forget()
    client = Client()
    client.force_login(user)
    page = client.get("/search/", {"q": "sourdough fridge", "mode": "hybrid"}).content.decode()
    assert NOTICE in page and notes[1].title in page
    assert hnsw.warming_up(user.pk)


def test_searchd_keeps_to_its_memory_budget_dropping_the_least_recently_used(settings, searchd):
    # Each user's index takes ~1.7 MB (capacity 1024 elements): a 4 MB budget holds two.
    users = [make_user(name) for name in ("ann", "bob", "cy")]
    for u in users:
        index_notes(u)
    daemon = searchd(SEARCH_INDEX_MEMORY_MB="4")
    query = QUERIES["Bread"]
    for u in users:
        services.search(u, query, mode="semantic")
    assert [key[0] for key in daemon.stats()["held"]] == [users[1].pk, users[2].pk]
    assert daemon.stats()["memory_bytes"] <= 4 * 2**20
    services.search(users[1], query, mode="semantic")  # bob is now the most recently used
    services.search(users[0], query, mode="semantic")  # ann comes back, cy goes
    assert [key[0] for key in daemon.stats()["held"]] == [users[1].pk, users[0].pk]
    hits = services.search(users[2], query, mode="semantic").hits  # cy's next search loads again
    assert hits and hits[0].note_id == Note.objects.get(user=users[2], title="Bread").pk


def test_searchd_refuses_what_is_not_a_message(settings, searchd):
    import socket as sockets

    daemon = searchd()
    raw = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
    raw.connect(daemon.socket)
    raw.sendall(b"\xff\xff\xff\xffnot a message")
    raw.settimeout(5)
    try:
        assert raw.recv(100) == b""  # closed on it, unread
    except ConnectionResetError:
        pass  # closed on it, unread
    raw.close()
    with pytest.raises(remote.Unavailable, match="bad_request"):  # 5 floats are no vector
        remote.call({"op": "query", "user": 1, "model": "m", "rows": 1, "k": 3}, np.zeros(5, dtype=np.float32).tobytes())
    assert daemon.answers()  # and it still serves everyone else


def test_a_searchd_that_stops_answering_costs_one_timeout_then_words_with_the_notice(user, settings, searchd):
    notes = index_notes(user)
    settings.SEARCH_INDEX_TIMEOUT = 0.5
    daemon = searchd()
    client = Client()
    client.force_login(user)
    assert NOTICE not in client.get("/search/", {"q": QUERIES["Bread"], "mode": "hybrid"}).content.decode()
    daemon.proc.send_signal(signal.SIGSTOP)  # alive, holding its socket, answering nothing
    try:
        for _ in range(2):
            response = client.get("/search/", {"q": "sourdough fridge", "mode": "hybrid"})
            assert response.status_code == 200
            assert NOTICE in response.content.decode() and notes[1].title in response.content.decode()
        started = time.perf_counter()
        services.search(user, "sourdough fridge", mode="semantic")
        assert time.perf_counter() - started < settings.SEARCH_INDEX_TIMEOUT  # it does not wait again meanwhile
    finally:
        daemon.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: NOTICE not in client.get("/search/", {"q": QUERIES["Bread"], "mode": "semantic"}).content.decode(),
               remote.PAUSE_AFTER_TIMEOUT + 30, "meaning search did not come back once searchd answered again")
