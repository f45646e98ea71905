"""manage.py search / index_status / check_index / reindex."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from notes.models import Note
from search import indexing
from search.models import Passage


@pytest.fixture
def notes(user):
    made = []
    for title, body in [("Volcano", "Basaltic lava from a shield volcano."), ("Bread", "Sourdough with a cold proof.")]:
        note = Note.objects.create_note(user, title=title, body=body)
        indexing.index_note(note.pk)
        made.append(note)
    return made


def run(*args, **kwargs) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **kwargs)
    return out.getvalue()


def test_search_command_prints_ranked_notes_as_text_and_json(user, notes):
    text = run("search", "molten rock eruption", "--user", "ada", "--mode", "semantic", "--limit", "1")
    assert "Volcano" in text and "Bread" not in text
    rows = [json.loads(line) for line in run("search", "sourdough", "--user", str(user.pk), "--json").splitlines()]
    assert rows[0]["title"] == "Bread" and rows[0]["rank"] == 1 and rows[0]["note_id"] == notes[1].pk


def test_search_command_needs_a_user_when_there_are_several(user, other_user, notes):
    with pytest.raises(CommandError):
        run("search", "bread")


def test_index_status_command_reports_totals(user, notes):
    status = json.loads(run("index_status", "--json", "--user", "ada"))
    assert status["totals"]["notes"] == 2 and status["totals"]["vectors"] == 2
    assert "pending=0" in run("index_status")


def test_check_index_finds_a_vector_missing_from_the_index(user, notes):
    assert "agree" in run("check_index")
    # A passage row written behind the index's back (no position bump) is reported.
    row = Passage.objects.filter(user=user).first()
    row.pk = None
    row.content_hash = "x" * 64
    row.save()
    with pytest.raises(CommandError):
        run("check_index", "--user", "ada")


def test_reindex_command_re_embeds_every_note(user, notes):
    before = set(Passage.objects.values_list("pk", flat=True))
    run("reindex", "--user", "ada")
    after = set(Passage.objects.values_list("pk", flat=True))
    assert len(after) == len(before) and not after & before
    with pytest.raises(CommandError):
        run("reindex", "--model", "/nonexistent")
