import pytest
from django.core.exceptions import ImproperlyConfigured

from lablog.env import envbool, envchoice, envint


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
