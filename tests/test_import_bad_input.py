"""Bad input: a clear report of what failed and why, every good item imported, nothing half-written."""

import io
import zipfile

import pytest

from exchange.importers import import_bytes
from notes.models import Note, Paper

GOOD = b"---\ntitle: Good note\n---\nFine text."


def zipped(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def reasons(report) -> dict:
    return {f["item"]: f["reason"] for f in report.as_dict()["failed"]}


def test_zip_slip_entries_are_refused_and_the_rest_imported(user):
    data = zipped([("../../etc/evil.md", b"x"), ("/abs/evil.md", b"x"), ("C:\\evil.md", b"x"),
                   ("vault/good.md", GOOD)])
    report = import_bytes(user, "vault.zip", data)
    failed = reasons(report)
    assert set(failed) == {"../../etc/evil.md", "/abs/evil.md", "C:\\evil.md"}
    assert all("unsafe path" in r for r in failed.values())
    assert list(Note.objects.filter(user=user).values_list("title", flat=True)) == ["Good note"]


def test_zip_bomb_entry_is_refused(user, settings):
    data = zipped([("bomb.md", b"a" * 5_000_000), ("good.md", GOOD)])
    report = import_bytes(user, "vault.zip", data)
    assert "zip bomb" in reasons(report)["bomb.md"]
    assert Note.objects.filter(user=user).count() == 1


def test_zip_over_the_uncompressed_cap_is_refused_whole(user, settings):
    settings.EXCHANGE_ZIP_MAX_UNCOMPRESSED_BYTES = 1000
    data = zipped([("a.md", b"x" * 800), ("b.md", b"y" * 800)])
    report = import_bytes(user, "vault.zip", data)
    assert "zip bomb" in reasons(report)["vault.zip"]
    assert not Note.objects.filter(user=user).exists()


def test_zip_with_too_many_files_is_refused(user, settings):
    settings.EXCHANGE_ZIP_MAX_FILES = 2
    report = import_bytes(user, "vault.zip", zipped([(f"{i}.md", GOOD) for i in range(3)]))
    assert "over the limit of 2" in reasons(report)["vault.zip"]


def test_not_a_zip_is_reported(user):
    assert reasons(import_bytes(user, "vault.zip", b"PK\x03\x04 garbage")) == {"vault.zip": "not a valid zip file"}


def test_malformed_yaml_fails_that_file_only(user):
    data = zipped([("bad.md", b"---\ntitle: [unclosed\n---\nbody"), ("list.md", b"---\n- a\n- b\n---\nbody"),
                   ("good.md", GOOD)])
    failed = reasons(import_bytes(user, "vault.zip", data))
    assert failed["bad.md"].startswith("front matter is not valid YAML at line")
    assert failed["list.md"] == "front matter must be a YAML mapping (key: value lines)"
    assert Note.objects.filter(user=user).count() == 1


def test_non_utf8_text_is_reported_not_garbled(user):
    data = zipped([("latin1.md", "caf\u00e9 na\u00efve".encode("latin-1")), ("good.md", GOOD)])
    failed = reasons(import_bytes(user, "vault.zip", data))
    assert "not UTF-8" in failed["latin1.md"]
    assert "not UTF-8" in reasons(import_bytes(user, "log.txt", "Paper - caf\u00e9".encode("cp1252")))["log.txt"]
    assert Note.objects.filter(user=user).count() == 1


@pytest.mark.parametrize("text", ["{not json", '{"format": "lablog", "version": 1, "notes": 5}', "[1, 2]"])
def test_malformed_json_is_reported(user, text):
    failed = reasons(import_bytes(user, "export.json", text.encode()))
    assert list(failed) == ["export.json"]
    assert not Note.objects.filter(user=user).exists()


def test_ten_megabyte_single_line_fails_alone(user):
    huge = "Paper - [2305.01625] Unlimiformer\n" + "x" * 10_000_000 + "\n[2101.03961] Switch Transformers\nok\n"
    report = import_bytes(user, "log.txt", huge.encode(), fmt="log")
    failed = reasons(report)
    assert list(failed) == ["Paper - [2305.01625] Unlimiformer"]
    assert "the limit is 1,000,000" in failed["Paper - [2305.01625] Unlimiformer"]
    # Nothing half-written: the failed entry's paper was rolled back with it.
    assert list(Paper.objects.filter(user=user).values_list("arxiv_id", flat=True)) == ["2101.03961"]
    assert Note.objects.filter(user=user).count() == 1


def test_duplicate_titles_are_all_imported_and_reported(user):
    Note.objects.create_note(user, title="Good note", body="already here")
    data = zipped([("a/good.md", GOOD), ("b/good.md", GOOD)])
    report = import_bytes(user, "vault.zip", data).as_dict()
    assert report["created"]["notes"] == 2 and report["failed"] == []
    titles = sorted(Note.objects.filter(user=user).values_list("title", flat=True))
    assert titles == ["Good note", "Good note (2)", "Good note (3)"]
    assert [n["message"] for n in report["notices"]] == [
        "another note has this title: imported as “Good note (2)”",
        "another note has this title: imported as “Good note (3)”",
    ]
