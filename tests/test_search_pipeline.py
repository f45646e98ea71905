"""Passages, embedding and indexing, called the way the worker calls them."""

import json
from pathlib import Path

import numpy as np
import pytest

from notes.models import Note, Paper, Snippet
from search import indexing, services, staleness
from search.embedding import count_tokens
from search.models import Passage, Tombstone
from search.passages import split

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "notes-corpus.json"


def make_note(user, title, body, **kwargs):
    note = Note.objects.create_note(user, title=title, body=body, **kwargs)
    indexing.index_note(note.pk)
    return note


LONG_BODY = "\n\n".join(
    f"## Section {i}\n\n" + " ".join(f"Sentence {j} of section {i} talks about diffusion guidance scales." for j in range(30))
    for i in range(6)
)


def test_every_passage_fits_the_model_with_its_title_and_keeps_offsets():
    title = "Classifier-free guidance notes"
    pieces = split(title, LONG_BODY)
    assert len(pieces) > 6
    for piece in pieces:
        assert LONG_BODY[piece.start : piece.end] == piece.text
        assert piece.context.startswith(title)
        assert count_tokens([piece.embedding_text()])[0] + 2 <= 256


@pytest.mark.skipif(not CORPUS.exists(), reason="shared corpus not present")
def test_real_notes_split_into_passages_within_256_word_pieces():
    for note in json.loads(CORPUS.read_text())[:60]:
        for piece in split(note["title"], note["body"]):
            assert note["body"][piece.start : piece.end] == piece.text
            assert count_tokens([piece.embedding_text()])[0] + 2 <= 256


def test_heading_starts_a_new_passage_and_names_it():
    body = "# Setup\n\nWe used eight GPUs.\n\n# Results\n\nThe loss went down."
    pieces = split("Run log", body)
    assert [p.text for p in pieces] == ["We used eight GPUs.", "The loss went down."]
    assert pieces[1].context == "Run log — Results"


def test_saved_note_is_found_by_meaning(user):
    make_note(user, "Cooking", "A recipe for sourdough bread with a long cold fermentation.")
    target = make_note(user, "Optimiser", "We lowered the learning rate after the loss exploded at step 3000.")
    page = services.search(user, "training became unstable so we reduced the step size", mode="semantic")
    assert page.hits[0].note_id == target.pk
    assert page.hits[0].url.startswith(target.get_absolute_url())


def test_saved_note_is_found_by_words_before_any_worker_runs(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        note = Note.objects.create_note(user, title="Tokamak", body="Plasma confinement in a tokamak reactor.")
    page = services.search(user, "tokamak", mode="keyword")
    assert [h.note_id for h in page.hits] == [note.pk]
    assert services.note_index_state(note) == "pending"


def test_editing_one_paragraph_reembeds_only_that_passage(user):
    note = make_note(user, "Long", LONG_BODY)
    before = dict(Passage.objects.filter(note=note).values_list("pk", "embedded_at"))
    edited = LONG_BODY.replace("Sentence 3 of section 4", "Sentence three of section four")
    note = note.apply_edit(base_version=note.version, title="Long", body=edited)
    indexing.index_note(note.pk)
    after = dict(Passage.objects.filter(note=note).values_list("pk", "embedded_at"))
    kept = set(before) & set(after)
    assert len(after) == len(before)
    assert len(set(after) - kept) == 1
    assert all(before[pk] == after[pk] for pk in kept)
    assert Tombstone.objects.filter(passage_id__in=set(before) - kept).count() == 1


def test_indexing_twice_changes_nothing(user):
    note = make_note(user, "Twice", "Contrastive learning of sentence embeddings.")
    rows = list(Passage.objects.filter(note=note).values_list("pk", "vector"))
    assert indexing.index_note(note.pk) == "indexed"
    assert list(Passage.objects.filter(note=note).values_list("pk", "vector")) == rows


def test_stored_vector_is_normalised_and_records_its_model(user):
    note = make_note(user, "Vec", "Attention is all you need.")
    p = Passage.objects.get(note=note)
    assert p.model == "all-MiniLM-L6-v2"
    vector = p.vector_array()
    assert vector.shape == (384,)
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
    assert services.note_index_state(note) == "indexed"


def test_task_of_an_older_version_leaves_the_later_text(user):
    note = make_note(user, "Order", "first text about graph neural networks")
    stale_fingerprint = indexing.note_fingerprint(note)
    note.apply_edit(base_version=1, title="Order", body="second text about protein folding")
    indexing.index_note(note.pk)
    # A task that read version 1 and finishes last writes nothing.
    assert indexing.note_fingerprint(Note.objects.get(pk=note.pk)) != stale_fingerprint
    texts = list(Passage.objects.filter(note=note).values_list("text", flat=True))
    assert texts == ["second text about protein folding"]


def test_deleted_note_leaves_no_passage_and_is_never_found(user):
    note = make_note(user, "Gone", "Quantum error correction with surface codes.")
    note.delete()
    assert services.search(user, "surface codes quantum", mode="hybrid").hits == []
    indexing.index_note(note.pk)
    assert not Passage.objects.filter(note_id=note.pk).exists()
    assert services.search(user, "surface codes quantum", mode="semantic").hits == []


def test_unsearchable_note_is_found_by_words_but_not_by_meaning(user):
    note = make_note(user, "Private", "Bayesian optimisation of hyperparameters.")
    note.apply_edit(base_version=1, title="Private", body=note.body, searchable=False)
    indexing.index_note(note.pk)
    assert services.note_index_state(Note.objects.get(pk=note.pk)) == "off"
    assert services.search(user, "hyperparameters bayesian", mode="semantic").hits == []
    assert [h.note_id for h in services.search(user, "hyperparameters", mode="keyword").hits] == [note.pk]


def test_papers_and_snippets_are_searchable_and_open_where_they_are(user):
    paper = Paper.objects.create(user=user, title="Denoising Diffusion Probabilistic Models", abstract="We present high quality image synthesis using diffusion probabilistic models.")
    indexing.index_paper(paper.pk)
    note = make_note(user, "Reading", "Some notes.")
    snippet = Snippet.objects.create(note=note, text="The reparameterisation trick lets gradients flow through sampling.")
    indexing.index_note(note.pk)
    hits = services.search(user, "image synthesis with diffusion", mode="hybrid").hits
    assert hits[0].kind == "paper" and hits[0].url == paper.get_absolute_url() and hits[0].note_id is None
    hits = services.search(user, "gradients through sampling reparameterisation", mode="hybrid").hits
    assert hits[0].kind == "snippet" and hits[0].object_id == snippet.pk
    assert hits[0].url == f"{note.get_absolute_url()}#snippet-{snippet.pk}"


def test_filters_narrow_results(user):
    paper = Paper.objects.create(user=user, title="Some paper")
    tagged = make_note(user, "Tagged", "Reinforcement learning from human feedback.", tags=["rl"], paper=paper)
    make_note(user, "Untagged", "Reinforcement learning from human feedback, again.")
    for filters in (services.SearchFilters(tag="rl"), services.SearchFilters(paper_id=paper.pk)):
        assert [h.note_id for h in services.search(user, "reinforcement learning", filters=filters).hits] == [tagged.pk]
    assert services.search(user, "reinforcement", filters=services.SearchFilters(kinds=("paper",))).hits == []


def test_related_notes_pair_passages_and_respect_dismissals_and_links(user):
    source = make_note(user, "Attention", "Self-attention lets every token look at every other token in the sequence.")
    near = make_note(user, "Transformers", "Transformer layers use attention so each token attends to all other tokens.")
    make_note(user, "Bread", "Sourdough needs a long cold proof in the fridge.")
    related = services.related_notes(user, source)
    assert related[0].note.pk == near.pk
    assert "attention" in related[0].source_passage.lower() and "attention" in related[0].target_passage.lower()
    assert source.pk not in [r.note.pk for r in related]
    services.dismiss_related(user, source, near.pk)
    assert near.pk not in [r.note.pk for r in services.related_notes(user, source)]
    linker = make_note(user, "Linker", "Self-attention lets every token look at every other token. See [[Bread]].")
    assert "Bread" not in [r.note.title for r in services.related_notes(user, linker, limit=10)]


def test_index_status_counts_passages_vectors_and_pending(user, django_capture_on_commit_callbacks):
    make_note(user, "Indexed", "Some indexed text about kernels.")
    with django_capture_on_commit_callbacks(execute=True):
        Note.objects.create_note(user, title="Waiting", body="Not embedded yet.")
    status = services.index_status(user)
    assert status["totals"]["notes"] == 2
    assert status["totals"]["pending"] == 1
    assert status["totals"]["vectors"] == 1
    assert status["totals"]["passages"] == 2
    assert {n["title"]: n["state"] for n in status["notes"]} == {"Indexed": "indexed", "Waiting": "pending"}


def test_two_edits_whose_tasks_finish_out_of_order_leave_the_later_texts_vectors(user, monkeypatch):
    from search import embedding

    note = make_note(user, "Order", "first text about graph neural networks")
    note = note.apply_edit(base_version=1, title="Order", body="second text about protein folding")
    real_embed = embedding.embed

    def second_edit_lands_while_embedding(texts, **kwargs):
        # The task for "second text" is still embedding when a third save lands and its
        # own task runs to completion first.
        monkeypatch.setattr(embedding, "embed", real_embed)
        Note.objects.get(pk=note.pk).apply_edit(base_version=2, title="Order", body="third text about sea ice")
        assert indexing.index_note(note.pk) == "indexed"
        return real_embed(texts, **kwargs)

    monkeypatch.setattr(embedding, "embed", second_edit_lands_while_embedding)
    assert indexing.index_note(note.pk) == "superseded"
    rows = list(Passage.objects.filter(note=note))
    assert [p.text for p in rows] == ["third text about sea ice"]
    expected = real_embed([rows[0].embedding_text()])[0]
    assert float(np.dot(rows[0].vector_array(), expected)) > 0.9999


def test_note_deleted_while_its_task_is_embedding_leaves_nothing(user, monkeypatch):
    from search import embedding

    note = Note.objects.create_note(user, title="Doomed", body="Text that is being embedded when the note goes.")
    real_embed = embedding.embed

    def delete_meanwhile(texts, **kwargs):
        monkeypatch.setattr(embedding, "embed", real_embed)
        Note.objects.get(pk=note.pk).delete()
        return real_embed(texts, **kwargs)

    monkeypatch.setattr(embedding, "embed", delete_meanwhile)
    assert indexing.index_note(note.pk) == "gone"
    assert not Passage.objects.filter(note_id=note.pk).exists()
    assert services.search(user, "being embedded when the note goes", mode="semantic").hits == []


def test_reconcile_finds_notes_whose_vectors_are_missing_stale_or_from_another_model(user):
    from search.models import IndexedSource

    never = Note.objects.create_note(user, title="Never", body="Saved while every worker was down.")
    fresh = make_note(user, "Fresh", "Indexed and current.")
    edited = make_note(user, "Edited", "Indexed, then edited with no task.")
    edited.apply_edit(base_version=1, title="Edited", body="The edit nobody indexed.")
    old_model = make_note(user, "Old model", "Embedded by a model no longer configured.")
    IndexedSource.objects.filter(object_id=old_model.pk).update(model="some-older-model")
    stale = set(staleness.stale_sources(grace_seconds=0))
    assert stale == {("note", never.pk), ("note", edited.pk), ("note", old_model.pk)}
    assert ("note", fresh.pk) not in stale
