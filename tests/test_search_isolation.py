"""Search is per user: another user's 5,000 notes never show up, whatever is asked."""

import pytest

from notes.models import Note, Paper
from search import embedding, indexing, services
from search.models import Passage, UserIndexState

TOPICS = [
    "Gradient checkpointing trades compute for memory.", "Mixture of experts routes tokens to experts.",
    "Low-rank adapters fine-tune large models cheaply.", "Beam search decoding for translation.",
    "Contrastive image-text pretraining with a sigmoid loss.",
]


@pytest.fixture
def crowd(other_user):
    """5,000 notes of another user, passages and vectors in place (the texts are exactly
    what the first user will search for). Vectors are the real ones of each topic."""
    vectors = embedding.embed(TOPICS)
    notes = Note.objects.bulk_create(
        [Note(user=other_user, title=f"Secret {i}", body=TOPICS[i % len(TOPICS)]) for i in range(5000)], batch_size=1000
    )
    UserIndexState.objects.update_or_create(user=other_user, defaults={"seq": 1})
    Passage.objects.bulk_create(
        [
            Passage(
                user=other_user, kind="note", note=n, start=0, end=len(n.body), context=n.title, text=n.body,
                content_hash=f"h{n.pk}", vector=vectors[i % len(TOPICS)].tobytes(), model=embedding.model_name(), seq=1,
            )
            for i, n in enumerate(notes)
        ],
        batch_size=1000,
    )
    paper = Paper.objects.create(user=other_user, title="Secret paper on mixture of experts", abstract=TOPICS[1])
    indexing.index_paper(paper.pk)
    return {n.pk for n in notes}


@pytest.fixture
def mine(user):
    made = []
    for body in ["Notes on memory and compute trade-offs.", "A reading list about translation."]:
        note = Note.objects.create_note(user, title="", body=body)
        indexing.index_note(note.pk)
        made.append(note)
    return made


def test_another_users_notes_never_appear_in_any_mode(user, crowd, mine):
    assert services.search(user.__class__.objects.get(username="mallory"), TOPICS[0], mode="semantic").hits
    own = {n.pk for n in mine}
    for mode in ("hybrid", "semantic", "keyword"):
        for query in TOPICS + ["secret", "Secret 42", "experts"]:
            page = services.search(user, query, mode=mode, limit=50)
            assert all(h.note_id in own for h in page.hits), (mode, query)
            assert all(h.kind != "paper" for h in page.hits)
            assert page.total <= len(own)


def test_related_notes_and_status_only_count_the_users_own(user, crowd, mine):
    assert all(r.note.user_id == user.pk for r in services.related_notes(user, mine[0], limit=20))
    totals = services.index_status(user)["totals"]
    assert totals["notes"] == 2 and totals["passages"] == 2 and totals["vectors"] == 2


def test_dismissing_another_users_note_does_nothing(user, crowd, mine):
    from search.models import DismissedRelated

    services.dismiss_related(user, mine[0], next(iter(crowd)))
    assert not DismissedRelated.objects.exists()
