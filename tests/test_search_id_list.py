"""Rows picked by a list of ids sent as one SQL parameter (search/id_list.py), as `__in` picks them."""

import pytest
from django.db.models import F

from notes.models import Note
from search.id_list import InIds

# More than SQLite's limit on variables in one statement (32,766 on stock builds).
PAST_SQLITE_VARIABLE_LIMIT = 40_000


@pytest.mark.django_db
def test_an_id_list_picks_exactly_its_rows_however_long(user):
    notes = [Note.objects.create_note(user, title=f"Note {n}", body="text") for n in range(4)]
    wanted = {notes[0].pk, notes[2].pk}
    absent = range(10**7, 10**7 + PAST_SQLITE_VARIABLE_LIMIT)
    picked = Note.objects.filter(InIds(F("pk"), [*wanted, *absent]))
    assert set(picked.values_list("pk", flat=True)) == wanted
    assert set(Note.objects.filter(InIds(F("pk"), wanted)).values_list("pk", flat=True)) == set(
        Note.objects.filter(pk__in=wanted).values_list("pk", flat=True)
    )
    assert not Note.objects.filter(InIds(F("pk"), [])).exists()
    assert Note.objects.exclude(InIds(F("pk"), wanted)).count() == 2
