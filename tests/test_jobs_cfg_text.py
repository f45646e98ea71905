"""cfg_text end to end with a tiny random-weight GPT-2 built here (no download), on a real worker."""

import csv
import io

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from notes.models import Note
from tests.waiting import wait_for_run_end
from workers.jobs import get_kind
from workers.models import Run


def build_tiny_gpt2(directory) -> str:
    """A 2-layer GPT-2 with random weights and a byte-level BPE tokenizer trained on one sentence."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(["Very polite and friendly answers to: How are you doing? 1. Fine, thanks."] * 10, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    fast.save_pretrained(directory)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(fast), n_positions=128, n_embd=64, n_layer=2, n_head=2,
                        bos_token_id=fast.eos_token_id, eos_token_id=fast.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(directory)
    return str(directory)


@pytest.fixture
def tiny_model(tmp_path, settings):
    settings.CFG_TEXT_MODEL = build_tiny_gpt2(tmp_path / "tiny-gpt2")
    return settings.CFG_TEXT_MODEL


@pytest.mark.worker
def test_text_guidance_runs_both_rules_and_a_failing_job_does_not_stop_the_worker(
    auth_client, user, tiny_model, celery_worker, tmp_path
):
    note = Note.objects.create_note(user, title="CFG for LLMs")
    worker = celery_worker(queues=["gpu"], extra_env={"CFG_TEXT_MODEL": tiny_model})
    url = reverse("workers:runnable_add", args=[note.pk])
    form = {"kind": "cfg_text", "positive_prompt": "Very polite answers:", "negative_prompt": "Very rude answers:",
            "guidance_scales": "1, 3, 5", "max_new_tokens": "6", "run": "1"}

    # A job that raises: failed, with the error and traceback shown to the owner.
    auth_client.post(url, {**form, "model": str(tmp_path / "missing")})
    broken = wait_for_run_end(Run.objects.get(), worker)
    assert broken.status == Run.FAILED
    assert "FileNotFoundError" in broken.error and "Traceback" in broken.traceback
    page = auth_client.get(reverse("workers:run", args=[broken.pk])).content.decode()
    assert "FileNotFoundError" in page and "Traceback (most recent call last)" in page

    # The same worker carries on with the next job.
    auth_client.post(url, {**form, "model": ""})
    run = wait_for_run_end(Run.objects.exclude(pk=broken.pk).get(), worker)
    assert run.status == Run.SUCCEEDED, f"{run.error}\n{run.traceback}"
    assert run.device == "cpu"

    ranks = run.metrics["max_rank_pos"]
    assert set(ranks) == {"log", "prob"} and set(ranks["log"]) == {"1", "3", "5"}
    # w=1 is no guidance under either rule: every token is the positive prompt's greedy choice.
    assert ranks["log"]["1"] == ranks["prob"]["1"] == 1

    names = set(run.artifacts.values_list("name", flat=True))
    assert {"generations.csv", "tokens.csv", "generations.md", "ranks.png", "metrics.json"} <= names
    with default_storage.open(run.artifacts.get(name="tokens.csv").path) as f:
        rows = list(csv.DictReader(io.StringIO(f.read().decode())))
    # One row per generated token: at most 6 for each of 3 scales × 2 rules, at least the first.
    assert 6 <= len(rows) <= 36
    assert {(r["guidance_scale"], r["rule"]) for r in rows if r["step"] == "0"} == {
        (w, rule) for w in ("1", "3", "5") for rule in ("log", "prob")
    }
    assert all(int(r["rank_positive"]) >= 1 and 0 <= float(r["p_negative"]) <= 1 for r in rows)
    panel = auth_client.get(reverse("workers:note_runnables", args=[note.pk])).content.decode()
    assert f'<img src="/runs/{run.pk}/artifacts/ranks.png"' in panel


def test_without_a_model_the_kind_is_unavailable_with_the_reason(settings, tmp_path):
    kind = get_kind("cfg_text")
    settings.CFG_TEXT_MODEL = ""
    available, reason = kind.available()
    assert not available and "no language model configured" in reason and "CFG_TEXT_MODEL" in reason
    settings.CFG_TEXT_MODEL = str(tmp_path)
    available, reason = kind.available()
    assert not available and "no config.json" in reason

