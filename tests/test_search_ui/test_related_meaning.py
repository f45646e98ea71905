"""Related notes are about meaning: code and imports weigh little, and a snippet pasted into
two notes is no reason to relate them (the GaLore note was "related" to the CFG-for-LLMs post
through `torch.device('cpu')`)."""

import pytest
from django.contrib.auth import get_user_model

from search import services
from search.passages import prose_share
from tests.search_fixtures import corpus_entries, load_corpus

SNIPPET = """import torch
from torch import nn

device = torch.device('cpu')
model = nn.Linear(16, 16).to(device)
for step in range(100):
    loss = model(torch.randn(4, 16)).pow(2).mean()
    loss.backward()"""


def test_code_lines_are_not_prose_and_sentences_are():
    assert prose_share(SNIPPET) == 0.0
    assert prose_share("```\nThis is inside a fence, so it is code.\n```") == 0.0
    assert prose_share("The gradient matrices tend to have lower rank as training progresses (see Fig. 2).") == 1.0
    galore = next(e["body"] for e in corpus_entries() if "GaLore" in e["title"])
    code = galore[galore.index("class GaLoreAdam") :]
    assert prose_share(code) < 0.1
    assert prose_share(galore[: galore.index("class GaLoreAdam")]) == 1.0


def test_a_snippet_pasted_into_two_notes_does_not_relate_them(user, write_note):
    bread = write_note(user, "Sourdough starter", f"Feeding the starter twice a day made the dough rise faster and taste sour.\n\n{SNIPPET}")
    write_note(user, "Attention heads", f"Some attention heads only attend to the previous token.\n\n{SNIPPET}")
    write_note(user, "Baking at home", "A long cold proof gives the bread a more open crumb and a tangier taste.")
    related = services.related_notes(user, bread)
    assert [r.note.title for r in related][0] == "Baking at home"
    attention = next(r for r in related if r.note.title == "Attention heads")
    assert attention.score < related[0].score / 2


def test_similar_code_weighs_little_next_to_shared_meaning(user, write_note):
    bread = write_note(user, "Sourdough starter", f"Feeding the starter twice a day made the dough rise faster.\n\n{SNIPPET}")
    write_note(user, "Attention heads", "Heads attend to the previous token.\n\n" + SNIPPET.replace("cpu", "cuda").replace("range(100)", "range(10)"))
    write_note(user, "Baking at home", "A long cold proof gives the bread a more open crumb.")
    assert services.related_notes(user, bread)[0].note.title == "Baking at home"


@pytest.fixture
def corpus_reader(db):
    user = get_user_model().objects.create_user("corpus-reader", password="correct horse battery")
    return user, load_corpus(user)


def test_galore_is_not_related_to_the_cfg_for_llms_post_by_its_pasted_code(corpus_reader):
    user, notes = corpus_reader
    galore = next(note for title, note in notes.items() if "GaLore" in title)
    related = services.related_notes(user, galore, limit=5)
    assert len(related) == 5
    assert "Classifier-free guidance for LLMs performance enhancing" not in [r.note.title for r in related]
    assert all(prose_share(r.source_passage) > 0.5 for r in related)  # what connects them is what it says
