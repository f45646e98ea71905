import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections

from lablog.env import envbool, envchoice, envint
from search.consistency import READ_ALIAS


def test_a_bad_boolean_in_the_environment_fails_loudly(monkeypatch):
    monkeypatch.setenv("ALLOW_SIGNUP", "maybe")
    with pytest.raises(ImproperlyConfigured, match="ALLOW_SIGNUP"):
        envbool("ALLOW_SIGNUP", True)


def test_a_bad_integer_in_the_environment_fails_loudly(monkeypatch):
    monkeypatch.setenv("NOTES_PER_PAGE", "twenty")
    with pytest.raises(ImproperlyConfigured, match="NOTES_PER_PAGE"):
        envint("NOTES_PER_PAGE", 20)


def test_an_unknown_choice_in_the_environment_fails_loudly(monkeypatch):
    monkeypatch.setenv("EMBEDDING_BACKEND", "gpu-please")
    with pytest.raises(ImproperlyConfigured, match="EMBEDDING_BACKEND.*auto, onnx"):
        envchoice("EMBEDDING_BACKEND", "auto", ("auto", "onnx", "torch"))


@pytest.mark.parametrize("raw,expected", [("1", True), ("yes", True), ("off", False), ("False", False)])
def test_booleans_accept_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("DEBUG", raw)
    assert envbool("DEBUG", not expected) is expected


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's own pragmas")
def test_sqlite_connections_keep_the_page_cache_a_lab_needs(db, settings):
    """Every connection, the searches' consistent-read one too, keeps SQLITE_CACHE_MB of
    pages (the default is the measured one), not SQLite's 2 MiB."""
    assert settings.SQLITE_CACHE_MB == 32
    for alias in ("default", READ_ALIAS):
        with connections[alias].cursor() as cursor:
            assert cursor.execute("PRAGMA cache_size").fetchone()[0] == -32 * 1024, alias
