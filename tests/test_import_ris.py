"""RIS, as Zotero, Mendeley and EndNote export it: one paper per record, the same fields a
BibTeX entry gives, found again on a second import, and a bad record failing alone."""

from datetime import date

from exchange.importers import detect, import_bytes
from notes.models import Paper

# Zotero's export, trimmed: CRLF line ends, a byte-order mark, a tag continued on the next line.
RIS = (
    "\ufeffTY  - JOUR\r\n"
    "TI  - Classifier-Free Diffusion Guidance\r\n"
    "AU  - Ho, Jonathan\r\n"
    "AU  - Salimans, Tim\r\n"
    "T2  - arXiv\r\n"
    "AB  - Classifier guidance is a recently introduced method to trade off mode coverage\r\n"
    "and sample fidelity.\r\n"
    "DA  - 2022/07/26/\r\n"
    "PY  - 2022\r\n"
    "DO  - 10.48550/arXiv.2207.12598\r\n"
    "UR  - http://arxiv.org/abs/2207.12598\r\n"
    "KW  - Computer Science - Machine Learning\r\n"
    "ER  - \r\n"
    "\r\n"
    "TY  - CONF\r\n"
    "T1  - Diffusion Models Beat GANs on Image Synthesis\r\n"
    "A1  - Dhariwal, Prafulla\r\n"
    "A1  - Nichol, Alexander\r\n"
    "BT  - Advances in Neural Information Processing Systems\r\n"
    "PY  - 2021///\r\n"
    "SP  - 8780\r\n"
    "ER  - \r\n"
    "\r\n"
    "TY  - GEN\r\n"
    "AU  - Nobody, Known\r\n"
    "PY  - 2020\r\n"
    "ER  - \r\n"
).encode()


def test_each_record_becomes_a_paper_with_its_fields(user):
    report = import_bytes(user, "My Library.ris", RIS).as_dict()
    assert report["created"]["papers"] == 2
    assert [f["reason"] for f in report["failed"]] == ["the record has no title (TI or T1)"]
    cfg = Paper.objects.get(user=user, arxiv_id="2207.12598")
    assert cfg.title == "Classifier-Free Diffusion Guidance"
    assert cfg.authors == "Jonathan Ho\nTim Salimans"
    assert (cfg.year, cfg.published, cfg.doi, cfg.venue) == (2022, date(2022, 7, 26), "10.48550/arXiv.2207.12598", "arXiv")
    assert cfg.abstract == "Classifier guidance is a recently introduced method to trade off mode coverage and sample fidelity."
    beat = Paper.objects.get(user=user, title="Diffusion Models Beat GANs on Image Synthesis")
    assert (beat.authors, beat.year, beat.venue) == ("Prafulla Dhariwal\nAlexander Nichol", 2021,
                                                      "Advances in Neural Information Processing Systems")


def test_importing_the_library_again_updates_the_same_papers(user):
    import_bytes(user, "library.ris", RIS)
    again = import_bytes(user, "library.ris", RIS.replace(b"trade off", b"balance")).as_dict()
    assert again["created"]["papers"] == 0 and again["updated"]["papers"] == 2
    assert Paper.objects.filter(user=user).count() == 2
    assert "balance mode coverage" in Paper.objects.get(user=user, arxiv_id="2207.12598").abstract


def test_ris_is_recognised_by_its_name_or_its_first_line():
    assert detect("export.ris", b"") == "ris"
    assert detect("export.txt", RIS) == "ris"
    assert detect("notes.txt", b"TYPE - not a RIS line\nhello") != "ris"


def test_a_ris_file_in_a_zipped_vault_brings_its_papers(user):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("refs/library.ris", RIS)
        archive.writestr("Guidance.md", "Notes on guidance.")
    report = import_bytes(user, "vault.zip", buffer.getvalue()).as_dict()
    assert report["created"] == {"notes": 1, "papers": 2, "snippets": 0, "runs": 0, "files": 0}
