import pytest

from notes.models import EditConflict, Note, Revision


@pytest.fixture
def note(user):
    return Note.objects.create_note(user, title="Guidance", body="first text", tags=["cfg"])


def test_every_save_keeps_the_previous_version_as_a_revision(note):
    note = note.apply_edit(base_version=1, title="Guidance", body="second text")
    assert note.version == 2
    revision = Revision.objects.get(note=note)
    assert (revision.version, revision.body, revision.tags) == (1, "first text", "cfg")


def test_save_on_a_stale_version_is_refused_and_keeps_the_newer_text(note):
    note.apply_edit(base_version=1, title="Guidance", body="from tab A")
    with pytest.raises(EditConflict) as conflict:
        note.apply_edit(base_version=1, title="Guidance", body="from tab B")
    assert conflict.value.current.body == "from tab A"
    assert Note.objects.get(pk=note.pk).body == "from tab A"


def test_repeating_a_save_that_already_landed_is_not_a_conflict(note):
    note.apply_edit(base_version=1, title="Guidance", body="typed once")
    again = note.apply_edit(base_version=1, title="Guidance", body="typed once")
    assert again.version == 2
    assert Revision.objects.filter(note=note).count() == 1


def test_restoring_a_revision_makes_it_latest_and_keeps_what_it_replaced(note):
    note = note.apply_edit(base_version=1, title="Guidance", body="rewritten", tags=["other"])
    note = note.restore(Revision.objects.get(note=note, version=1), base_version=2)
    assert (note.version, note.body, note.tag_names()) == (3, "first text", ["cfg"])
    assert list(Revision.objects.filter(note=note).values_list("body", flat=True)) == ["rewritten", "first text"]


def test_creating_twice_with_one_client_id_makes_one_note(user):
    import uuid

    key = uuid.uuid4()
    a = Note.objects.create_note(user, body="# Heading line\nmore", client_id=key)
    b = Note.objects.create_note(user, body="# Heading line\nmore", client_id=key)
    assert a.pk == b.pk and Note.objects.count() == 1
    assert a.title == "Heading line"


def test_empty_title_is_derived_from_the_first_body_line(user):
    note = Note.objects.create_note(user, title="  ", body="\n\n- [ ] check the *guidance* scale\n")
    assert note.title == "check the *guidance* scale"
