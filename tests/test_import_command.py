"""`manage.py import` and `manage.py export` from the shell."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from notes.models import Note, Paper

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def run_import(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_command_prints_the_report_as_json_on_its_last_line(user, tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("Paper: [2305.01625] Unlimiformer: Long inputs\nkNN over the encoder states.\n"
                   "[2101.03961] Switch Transformers\nSparse experts.\n")
    out, err = run_import(str(log), "--user", user.username, "--json")
    report = json.loads(out.strip().splitlines()[-1])
    assert report["created"] == {"notes": 2, "papers": 2, "snippets": 0, "runs": 0, "files": 0}
    assert report["updated"] == {"notes": 0, "papers": 0, "snippets": 0, "runs": 0, "files": 0}
    assert report["failed"] == []
    assert "2/2" in err  # the progress bar
    assert Note.objects.get(user=user, paper__arxiv_id="2305.01625").body == "kNN over the encoder states."


def test_import_command_with_a_given_format_and_unknown_user(user, tmp_path):
    bib = tmp_path / "refs.txt"
    bib.write_text("@misc{k, title={A Title}}")
    out, _ = run_import(str(bib), "--user", user.username, "--format", "bibtex", "--json")
    assert json.loads(out.splitlines()[-1])["created"]["papers"] == 1
    with pytest.raises(CommandError, match="no user"):
        run_import(str(bib), "--user", "nobody")


def test_export_command_writes_what_import_reads(user, other_user, tmp_path):
    Note.objects.create_note(user, title="One", body="text", tags=["t"])
    target = tmp_path / "out.json"
    call_command("export", "--user", user.username, "-o", str(target), stderr=StringIO())
    out, _ = run_import(str(target), "--user", other_user.username, "--json")
    assert json.loads(out.splitlines()[-1])["created"]["notes"] == 1
    assert Note.objects.get(user=other_user).tag_names() == ["t"]


def test_whole_shared_data_set_imports_from_the_shell(user):
    if not DATA.exists():
        pytest.skip(f"{DATA} is not on this machine")
    totals = {"notes": 0, "papers": 0}
    for name in ("research-log.txt", "daily-papers-1.txt", "daily-papers-2.txt", "blog-feed.txt"):
        out, _ = run_import(str(DATA / name), "--user", user.username, "--json")
        report = json.loads(out.splitlines()[-1])
        assert report["failed"] == []
        for kind in totals:
            totals[kind] += report["created"][kind]
    assert totals == {"notes": 147, "papers": 122 + 72 + 16}
    assert Paper.objects.filter(user=user).exclude(abstract="").count() == 88
