"""A plain-text research log and a blog feed come in whole: every line stays a line,
"- " lines stay a list, pasted code becomes a highlighted code block, and entries whose
first line is a bare link get a readable title. Asserted on the note pages' HTML."""

import re
from collections import defaultdict

import pytest
from django.urls import reverse

from exchange.importers import import_bytes, import_path, plain_text, research_log
from exchange.importers.base import key
from notes.models import Note, Paper, Revision
from tests.test_import_files import data_file

URL_TITLE = re.compile(r"^(paper\s*[-:]?\s*)?https?://", re.I)


@pytest.fixture
def imported_log(user):
    report = import_path(user, data_file("research-log.txt")).as_dict()
    assert report["failed"] == []
    return Note.objects.for_user(user)


def page(client, note) -> str:
    response = client.get(reverse("notes:note", args=[note.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_pasted_python_is_a_highlighted_code_block_not_bold_text(imported_log, auth_client):
    galore = imported_log.get(paper__arxiv_id="2403.03507")
    html = page(auth_client, galore)
    assert "<strong>init</strong>" not in html
    block = re.search(r'<pre class="highlight"><code class="language-python">(.*?)</code></pre>', html, re.S)
    assert block, "the GaLore optimizer is not a Python code block"
    code = re.sub(r"<[^>]+>", "", block.group(1))
    assert "class GaLoreAdam:" in code and "def __init__(self, params" in code
    assert "self.step_count += 1" in code
    # Each source line is a line of the block, in order.
    assert code.index("def step(self):") < code.index("p.add_(G_t, alpha=-self.lr)")
    # The prose before the code stays prose.
    assert "<p>The code is actually quite simple." in html


def test_every_pasted_program_in_the_log_is_one_code_block(imported_log):
    blocks = {n.paper.arxiv_id if n.paper else n.title: n.html().count("<pre") for n in imported_log if "<pre" in n.html()}
    # GGML's quantizer (fenced by the writer), GaLore, ORPO, entropix: four programs, four blocks.
    assert sum(blocks.values()) == 4
    assert blocks["2403.03507"] == blocks["2403.07691"] == 1


def test_one_thought_per_line_renders_as_separate_paragraphs(imported_log, auth_client):
    note = imported_log.get(paper__arxiv_id="2303.16634")
    html = page(auth_client, note)
    for line in [
        "Also, for GPT-4, calculated logprobs manually",
        "Works quite well in mac",
        "Terminal interface quite good, can pipe input/output as well",
    ]:
        assert f"<p>{line}</p>" in html


def test_dash_lines_stay_a_list(imported_log, auth_client):
    note = next(n for n in imported_log if "Compute the max of each row of S" in n.body)
    html = page(auth_client, note)
    items = re.findall(r"<li>(.*?)</li>", html, re.S)
    assert any(i.startswith("Compute the max of each row of S (step 10)") for i in items)
    assert any(i.startswith("Compute the sum of each row of P (step 10)") for i in items)


def test_every_source_line_of_the_log_is_in_some_note(imported_log):
    text = data_file("research-log.txt").read_text()

    def words(line):  # a line without Markdown's list marks and escapes
        return re.sub(r"^\s*[-*•]\s+", "", line.replace("\\", "")).strip()

    bodies = "\n".join(words(line) for n in imported_log for line in n.body.split("\n"))
    missing = [
        line for _, body in research_log.split_entries(text) for line in body.split("\n")
        if words(line) and words(line) not in bodies
    ]
    assert missing == []


def test_titles_are_readable_not_links(imported_log, user):
    url_titled = [n.title for n in imported_log if URL_TITLE.match(n.title)]
    # Only entries that are nothing but a link (no text, no title anywhere) keep it.
    assert len(url_titled) <= 5, url_titled
    # From the table of contents.
    assert imported_log.get(paper__arxiv_id="2301.12050").title == "DECKARD - RL Agent that dreams"
    assert imported_log.get(paper__arxiv_id="2306.00978").title == "Activation-aware Weight Quantisation (AWQ)"
    assert imported_log.get(paper__arxiv_id="2409.02634").title == "Loopy - Make images speak and sing"
    # From the paper's name elsewhere in the log, and the words on the reference line.
    assert imported_log.filter(paper__arxiv_id="2212.10496").order_by("created")[0].title == (
        "Precise Zero-Shot Dense Retrieval without Relevance Labels"
    )
    assert imported_log.filter(title="vLLM paper, paged attention, how to scale up LLM inference basically").exists()
    # From its first sentence.
    assert imported_log.get(paper__arxiv_id="2303.17580").title == "Seems to be the end of NLPcels."
    # The link the title no longer shows is the note's first line.
    assert imported_log.get(paper__arxiv_id="2303.17580").body.startswith("https://arxiv.org/pdf/2303.17580.pdf\n\n")
    papers = Paper.objects.for_user(user)
    assert papers.get(arxiv_id="2212.10496").title == "Precise Zero-Shot Dense Retrieval without Relevance Labels"
    assert papers.get(arxiv_id="2301.12050").title == "DECKARD - RL Agent that dreams"
    # A paper only the table of contents names takes that title.
    assert papers.get(arxiv_id="2409.02634").title == "Loopy - Make images speak and sing"
    # Papers nothing in the log names keep their id (37 before the log's titles were read, 29 now).
    assert papers.filter(title__startswith="arXiv:").count() <= 29


def test_the_report_names_every_note_and_paper_left_without_a_readable_title(user):
    report = import_path(user, data_file("research-log.txt")).as_dict()
    said, links = defaultdict(str), {}
    for notice in report["notices"]:
        said[notice["item"]] += notice["message"]
        links.setdefault(notice["item"], notice.get("url"))
    notes = Note.objects.for_user(user)
    url_titled = [n.title for n in notes if URL_TITLE.match(n.title)]
    assert url_titled and all("titled by its link" in said[title] for title in url_titled)
    # Each links to the note to rename.
    assert all(links[title] == notes.get(title=title).get_absolute_url() for title in url_titled)
    unnamed = Paper.objects.for_user(user).filter(title__startswith="arXiv:")
    assert unnamed.filter(arxiv_id="2407.01449").exists()  # ColPali: its entry is the bare link alone
    # ...and the user is offered the titles its section may have, its own among them.
    colpali = next(n for n in report["notices"] if n.get("note") == notes.get(paper__arxiv_id="2407.01449").pk)
    assert colpali["choices"][:2] == ["ColPali - Multimodal RAG made simpler and faster", "Janus - Deepseek goes multimodal"]
    for paper in unnamed:
        assert all(f"“{paper.title}”" in said[note.title] for note in notes.filter(paper=paper))
    # Titled notes and named papers are not reported.
    assert "Loopy - Make images speak and sing" not in said
    assert "Precise Zero-Shot Dense Retrieval without Relevance Labels" not in said


def test_a_first_import_reports_each_paper_once_as_created(user):
    """Several entries cite the same paper (ST-MoE's two notes): the report counts the paper
    once, as created, not as updated by the later entries."""
    report = import_path(user, data_file("research-log.txt")).as_dict()
    papers = Paper.objects.for_user(user)
    assert Note.objects.for_user(user).filter(paper__arxiv_id="2202.08906").count() == 2
    assert report["created"]["papers"] == papers.count() == 122 and report["updated"]["papers"] == 0
    again = import_path(user, data_file("research-log.txt")).as_dict()
    assert again["created"]["papers"] == 0 and again["updated"]["papers"] == papers.count() == 122


def test_reimport_over_an_earlier_import_updates_in_place_with_a_revision(user):
    """Notes made by the earlier importer (title = the reference line, raw text) have the same
    source keys: importing again edits them, keeping the old text as a revision."""
    text = data_file("research-log.txt").read_text()
    seen = {}
    for heading, body in research_log.split_entries(text):
        seen[heading] = seen.get(heading, 0) + 1
        Note.objects.create_note(user, title=heading, body=body, source_key=key("log", heading, str(seen[heading])))
    report = import_path(user, data_file("research-log.txt")).as_dict()
    assert report["created"]["notes"] == 0 and report["updated"]["notes"] == 143
    notes = Note.objects.for_user(user)
    assert notes.count() == 143
    galore = notes.get(paper__arxiv_id="2403.03507")
    assert galore.version == 2 and "```python" in galore.body
    old = Revision.objects.get(note=galore, version=1)
    assert old.body.startswith("So their idea is the following") and "```" not in old.body
    deckard = notes.get(paper__arxiv_id="2301.12050")
    assert deckard.title == "DECKARD - RL Agent that dreams"
    assert deckard.revisions.get().title == "Paper - https://arxiv.org/pdf/2301.12050.pdf"


def test_blog_feed_keeps_paragraphs_lists_and_code(user, auth_client):
    import_path(user, data_file("blog-feed.txt"))
    cfg = Note.objects.for_user(user).get(title__startswith="Classifier-free guidance for LLMs")
    html = page(auth_client, cfg)
    blocks = re.findall(r'<pre class="highlight"><code class="language-python">(.*?)</code></pre>', html, re.S)
    code = [re.sub(r"<[^>]+>", "", b) for b in blocks]
    assert any("def __call__(self, input_ids, scores):" in c and "return scores_processed" in c for c in code)
    assert "<strong>call</strong>" not in html
    stereo = Note.objects.for_user(user).get(title__startswith="Mono to Stereo")
    html = page(auth_client, stereo)
    assert "<li>Elvis Presley: Thats All&nbsp;Right</li>" in html
    assert "<p>Listen to the difference between the first snippet" in html


@pytest.mark.parametrize("text, expected", [
    ("one\ntwo", "one\n\ntwo"),
    ("- a\n- b\nafter", "- a\n- b\n\nafter"),
    ("• a\n• b", "- a\n- b"),
    ("# not a heading", "\\# not a heading"),
    ("call __init__ twice", "call \\_\\_init\\_\\_ twice"),
    ("x = 1\ny = f(x)", "```\nx = 1\ny = f(x)\n```"),
    ("```\nkeep   this\n```", "```\nkeep   this\n```"),
    ("Rating = 2 for a very mundane memory", "Rating = 2 for a very mundane memory"),
])
def test_plain_text_to_markdown(text, expected):
    assert plain_text.to_markdown(text) == expected


def test_pasted_log_text_imports_the_same_as_the_file(user):
    data = data_file("research-log.txt").read_bytes()
    report = import_bytes(user, "pasted.txt", data).as_dict()
    assert report["created"]["notes"] == 143
