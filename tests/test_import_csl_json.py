"""CSL JSON, as Zotero, Better BibTeX, Pandoc and doi.org give it: one paper per reference
with the fields a BibTeX entry gives, recognised by its content, found again on a second
import (or after a RIS import of the same library), and a bad reference failing alone."""

import json
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from exchange.importers import detect, import_bytes
from exchange.models import ImportJob
from notes.models import Paper
from tests.waiting import wait_for_htmx_stop

# Zotero's "Export Library… → CSL JSON", trimmed: years as strings, an item URL as id, the
# preprint's arXiv id as its number, rich text in a title; then Better BibTeX's citation-key
# id with a name particle and an institution; then an item with no title (a bare web page).
LIBRARY = [
    {
        "id": "http://zotero.org/users/local/kWCJAXtU/items/7QJ8Z2MP", "type": "article",
        "abstract": "Classifier guidance is a recently introduced method to trade off mode coverage and sample fidelity.",
        "DOI": "10.48550/arXiv.2207.12598", "note": "arXiv:2207.12598 [cs]", "number": "arXiv:2207.12598",
        "publisher": "arXiv", "source": "arXiv.org", "title": "Classifier-Free Diffusion Guidance",
        "URL": "http://arxiv.org/abs/2207.12598",
        "author": [{"family": "Ho", "given": "Jonathan"}, {"family": "Salimans", "given": "Tim"}],
        "accessed": {"date-parts": [["2024", 1, 15]]}, "issued": {"date-parts": [["2022", 7, 25]]},
    },
    {
        "id": "http://zotero.org/users/local/kWCJAXtU/items/Q2VZ4N7K", "type": "paper-conference",
        "container-title": "Advances in Neural Information Processing Systems", "page": "8780–8794", "volume": "34",
        "title": "Diffusion Models Beat <i>GANs</i> on Image Synthesis",
        "author": [{"family": "Dhariwal", "given": "Prafulla"}, {"family": "Nichol", "given": "Alexander"}],
        "issued": {"date-parts": [["2021"]]},
    },
    {
        "id": "vandenoord2017neural", "type": "paper-conference", "title": "Neural Discrete Representation Learning",
        "container-title": "NeurIPS", "URL": "https://arxiv.org/abs/1711.00937",
        "author": [{"family": "Oord", "given": "Aäron", "non-dropping-particle": "van den"},
                   {"family": "Vinyals", "given": "Oriol"}, {"literal": "Google DeepMind"}],
        "issued": {"raw": "2017-11-02"},
    },
    {"id": "http://zotero.org/users/local/kWCJAXtU/items/AB12CD34", "type": "webpage", "URL": "https://example.org/"},
]
CSL = json.dumps(LIBRARY, ensure_ascii=False, indent="\t").encode()


def test_each_reference_becomes_a_paper_with_its_fields(user):
    report = import_bytes(user, "My Library.json", CSL).as_dict()
    assert report["created"]["papers"] == 3
    # Named by what else says which one it is: it has no title to be named by.
    assert report["failed"] == [{"item": "item 4: https://example.org/", "reason": "the reference has no title"}]
    cfg = Paper.objects.get(user=user, arxiv_id="2207.12598")
    assert (cfg.title, cfg.authors) == ("Classifier-Free Diffusion Guidance", "Jonathan Ho\nTim Salimans")
    assert (cfg.year, cfg.published, cfg.doi, cfg.venue) == (2022, date(2022, 7, 25), "10.48550/arXiv.2207.12598", "arXiv")
    assert cfg.abstract.startswith("Classifier guidance is a recently introduced method")
    assert cfg.citation_key == ""  # Zotero's id is an item URL, not a key to cite by
    beat = Paper.objects.get(user=user, title="Diffusion Models Beat GANs on Image Synthesis")
    assert (beat.authors, beat.year, beat.published) == ("Prafulla Dhariwal\nAlexander Nichol", 2021, None)
    assert beat.venue == "Advances in Neural Information Processing Systems"
    vq = Paper.objects.get(user=user, arxiv_id="1711.00937")
    assert vq.authors == "Aäron van den Oord\nOriol Vinyals\nGoogle DeepMind"
    assert (vq.citation_key, vq.year, vq.published, vq.venue) == ("vandenoord2017neural", 2017, date(2017, 11, 2), "NeurIPS")


def test_the_library_exported_again_by_another_tool_updates_the_same_papers(user):
    import_bytes(user, "My Library.json", CSL)
    # Better BibTeX's export of the same library a month later: citation keys as ids, an abstract edited.
    rekeyed = [{**item, "id": f"key{n}"} for n, item in enumerate(LIBRARY)]
    rekeyed[0]["abstract"] = "Guidance without a classifier."
    again = import_bytes(user, "Better Library.json", json.dumps(rekeyed).encode()).as_dict()
    assert (again["created"]["papers"], again["updated"]["papers"]) == (0, 3)
    assert Paper.objects.filter(user=user).count() == 3
    cfg = Paper.objects.get(user=user, arxiv_id="2207.12598")
    assert (cfg.abstract, cfg.citation_key) == ("Guidance without a classifier.", "key0")


def test_a_library_imported_as_ris_then_as_csl_json_is_not_doubled(user):
    ris = ("TY  - CONF\r\nTI  - Diffusion Models Beat GANs on Image Synthesis\r\nAU  - Dhariwal, Prafulla\r\n"
           "PY  - 2021\r\nER  - \r\nTY  - JOUR\r\nTI  - Classifier-Free Diffusion Guidance\r\n"
           "UR  - http://arxiv.org/abs/2207.12598\r\nPY  - 2022\r\nER  - \r\n")
    import_bytes(user, "library.ris", ris.encode())
    report = import_bytes(user, "library.json", CSL).as_dict()
    assert (report["created"]["papers"], report["updated"]["papers"]) == (1, 2)  # only the VQ-VAE paper is new
    assert Paper.objects.filter(user=user).count() == 3


def test_a_zipped_obsidian_vault_brings_the_papers_of_its_csl_json_library_and_leaves_its_settings(user):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Zotero/My Library.json", CSL)  # the export Obsidian's citation plugins read
        archive.writestr(".obsidian/app.json", json.dumps({"type": "split", "id": "a1b2", "children": []}))
        archive.writestr(".obsidian/plugins/citations/data.json", json.dumps({"citationExportPath": "Zotero/My Library.json"}))
        archive.writestr("Guidance.md", "Notes on [[Classifier-Free Diffusion Guidance]].")
    report = import_bytes(user, "vault.zip", buffer.getvalue()).as_dict()
    assert report["created"] == {"notes": 1, "papers": 3, "snippets": 0, "runs": 0, "files": 0}
    assert report["failed"] == [{"item": "item 4: https://example.org/", "reason": "the reference has no title"}]


def test_csl_json_is_recognised_by_its_content_and_a_lablog_export_still_is_one():
    assert detect("My Library.json", CSL) == "csl"
    assert detect("", CSL) == "csl"  # pasted
    assert detect("", b'\xef\xbb\xbf[{"id": "k", "type": "article-journal", "title": "T"}]') == "csl"
    # doi.org's answer for one DOI: the reference alone, not in a list
    assert detect("10.48550.json", json.dumps(LIBRARY[0]).encode()) == "csl"
    assert detect("export.json", b'{"format": "lablog", "version": 3, "notes": []}') == "json"
    assert detect("data.json", b'[{"name": "no type here"}]') == "json"
    assert detect("pages.json", b'[{"id": 1, "type": "page", "title": "Another app\'s page"}]') == "json"


def test_bad_csl_json_says_why_and_the_good_references_still_come_in(user):
    broken = import_bytes(user, "My Library.json", CSL[: len(CSL) // 2]).as_dict()
    assert broken["failed"][0]["reason"].startswith("not valid JSON:") and "line" in broken["failed"][0]["reason"]
    assert not Paper.objects.filter(user=user).exists()
    not_a_list = import_bytes(user, "refs.json", b'{"references": []}', fmt="csl").as_dict()
    assert not_a_list["failed"][0]["reason"] == "not CSL JSON: expected a list of references, each an object with a title"
    # Crossref gives titles as lists; a stray string or number in the list fails alone.
    mixed = [{"type": "article-journal", "title": ["Attention Is All You Need"], "issued": {"date-parts": [[2017, 6]]}},
             {"type": "book", "title": "Deep Learning", "issued": {"literal": "Autumn 2016"}},
             "a stray string", 42, {"type": "article-journal", "title": {"nested": "object"}}]
    report = import_bytes(user, "crossref.json", json.dumps(mixed).encode()).as_dict()
    assert report["created"]["papers"] == 2
    assert report["failed"] == [
        {"item": 'item 3: "a stray string"', "reason": "expected an object (a reference with a title)"},
        {"item": "item 4: 42", "reason": "expected an object (a reference with a title)"},
        {"item": "item 5", "reason": "the reference has no title"},
    ]
    attention = Paper.objects.get(user=user, title="Attention Is All You Need")
    assert (attention.year, attention.published) == (2017, date(2017, 6, 1))
    book = Paper.objects.get(user=user, title="Deep Learning")
    assert (book.year, book.published) == (2016, None)


@pytest.mark.worker
def test_a_zotero_export_uploaded_on_the_import_page_is_imported_and_reported(celery_worker, auth_client, user):
    celery_worker(queues=["default"])
    auth_client.post(reverse("exchange:import"), {"file": SimpleUploadedFile("My Library.json", CSL)})
    job = ImportJob.objects.get(user=user)
    html = wait_for_htmx_stop(auth_client, job.get_absolute_url(), 60, "the import did not finish").content.decode()
    job.refresh_from_db()
    assert job.report["created"]["papers"] == 3
    assert "the reference has no title" in html
    assert Paper.objects.filter(user=user, title="Classifier-Free Diffusion Guidance").exists()
