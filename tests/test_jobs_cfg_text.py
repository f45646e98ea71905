"""cfg_text end to end on a real worker: with no model configured it trains its own tiny GPT-2
(nothing downloaded) and shows how the two guidance rules move the next-token distribution;
with CFG_TEXT_MODEL it uses that model; a job that fails does not stop the worker."""

import csv
import io

import pytest
from django.urls import reverse

from notes.models import Note
from tests.waiting import wait_for_run_end
from workers.jobs import cfg_text
from workers.models import Run, Runnable

# Training demos: run once, in the PostgreSQL pass of `make test` (they do not depend on the database engine).
pytestmark = pytest.mark.jobs

FORM = {
    **{p.name: p.format(p.default) for p in cfg_text.KIND.params},  # the form as a user first sees it
    "kind": "cfg_text", "guidance_scales": "1, 3, 10", "max_new_tokens": "10", "run": "1",
}
RULES = ("log", "prob")


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


def _csv(run, name) -> list[dict]:
    return list(csv.DictReader(io.StringIO(run.artifacts.get(name=name).read_bytes().decode())))


@pytest.mark.worker
def test_with_no_model_configured_it_trains_its_own_and_shows_log_vs_prob_guidance(
    auth_client, user, celery_worker, tmp_path
):
    note = Note.objects.create_note(user, title="CFG for LLMs", body="A short note.")
    worker = celery_worker(queues=["gpu"], extra_env={"CFG_TEXT_MODEL": "", "RUNS_CACHE_DIR": str(tmp_path)})
    response = auth_client.post(reverse("workers:runnable_add", args=[note.pk]), FORM)
    assert response.status_code == 302
    run = wait_for_run_end(Runnable.objects.get(note=note).runs.get(), worker)
    assert run.status == Run.SUCCEEDED, f"{run.error}\n{run.traceback}\n{worker.log()}"
    assert run.params["model"] == "notes-gpt"

    m = run.metrics
    # Labelled for what it is: a toy trained here, on the job's text since the user has one short note.
    assert "tiny GPT-2" in m["model"] and "not a real language model" in m["model"]
    assert f"for {cfg_text.EXAMPLE_STEPS} steps" in m["model"]
    assert "example text" in m["model"] and "26 characters in your 1 note, under 20,000" in m["model"]
    for rule in RULES:
        for name in ("next_token_top1_rank_positive", "next_token_top1_p_positive",
                     "next_token_mass_outside_positive_top10", "next_token_entropy_bits",
                     "generated_max_rank_positive"):
            assert set(m[f"{name}_{rule}"]) == {"1", "3", "10"}, name
    # w = 1 is no guidance under either rule: the positive prompt's own distribution.
    for name in ("next_token_top1_rank_positive", "next_token_entropy_bits", "next_token_mass_outside_positive_top10"):
        assert m[f"{name}_log"]["1"] == m[f"{name}_prob"]["1"]
    assert m["next_token_top1_rank_positive_log"]["1"] == 1
    # What the post shows: at a large scale the log rule picks tokens far down the positive
    # prompt's list (a ratio of two small probabilities is large); the prob rule stays near its top.
    assert m["generated_max_rank_positive_log"]["10"] > 3 * m["generated_max_rank_positive_prob"]["10"], m
    outside = "next_token_mass_outside_positive_top10"
    assert m[f"{outside}_log"]["10"] > m[f"{outside}_prob"]["10"], m  # the log rule spreads to the tail

    table = _csv(run, "next_token.csv")
    assert len(table) == 3 * 2 * cfg_text.TOP_TOKENS
    assert all(0 <= float(r["p_guided"]) <= 1 and int(r["rank_positive"]) >= 1 for r in table)
    names = set(run.artifacts.values_list("name", flat=True))
    assert {"next_token.csv", "next_token.md", "next_token.png", "generations.csv", "tokens.csv",
            "generations.md", "ranks.png", "metrics.json"} <= names
    assert "| # | token | p guided | p positive | rank positive |" in run.artifacts.get(
        name="next_token.md").read_bytes().decode()
    page = auth_client.get(reverse("workers:run", args=[run.pk])).content.decode()
    assert "not a real language model" in page

    # Trained once per corpus on this worker: the next run loads it.
    again = wait_for_run_end(Runnable.objects.get(note=note).start_run(), worker)
    assert again.status == Run.SUCCEEDED and "reused checkpoint" in again.log
    assert again.metrics["generated_max_rank_positive_log"] == m["generated_max_rank_positive_log"]


@pytest.mark.worker
def test_a_configured_model_is_used_and_a_failing_job_does_not_stop_the_worker(
    auth_client, user, celery_worker, tmp_path
):
    model_dir = tmp_path / "tiny-gpt2"
    build_tiny_gpt2(model_dir)
    note = Note.objects.create_note(user, title="CFG with a worker's model")
    worker = celery_worker(queues=["gpu"], extra_env={"CFG_TEXT_MODEL": str(model_dir),
                                                      "RUNS_CACHE_DIR": str(tmp_path / "cache")})
    url = reverse("workers:runnable_add", args=[note.pk])
    form = {**FORM, "guidance_scales": "1, 3, 5", "max_new_tokens": "6", "model": "tiny-gpt2"}

    auth_client.post(url, form)
    run = wait_for_run_end(Run.objects.get(), worker)
    assert run.status == Run.SUCCEEDED, f"{run.error}\n{run.traceback}"
    assert "tiny-gpt2 (the worker's CFG_TEXT_MODEL" in run.metrics["model"]
    # w=1 is no guidance under either rule: every token is the positive prompt's greedy choice.
    worst = "generated_max_rank_positive"
    assert run.metrics[f"{worst}_log"]["1"] == run.metrics[f"{worst}_prob"]["1"] == 1
    rows = _csv(run, "tokens.csv")
    assert {(r["guidance_scale"], r["rule"]) for r in rows if r["step"] == "0"} == {
        (w, rule) for w in ("1", "3", "5") for rule in RULES
    }

    # The model's weights vanish from the worker: the job fails, with the error shown to the owner...
    (model_dir / "model.safetensors").unlink()
    broken = wait_for_run_end(Runnable.objects.get(note=note).start_run(), worker)
    assert broken.status == Run.FAILED and "Traceback" in broken.traceback, broken.error
    page = auth_client.get(reverse("workers:run", args=[broken.pk])).content.decode()
    assert "Traceback (most recent call last)" in page
    # ...and the same worker carries on with the next job.
    runnable = Runnable.objects.get(note=note)
    runnable.params = {**runnable.params, "model": "notes-gpt", "training_steps": 20}
    runnable.save(update_fields=["params"])
    after = wait_for_run_end(runnable.start_run(), worker)
    assert after.status == Run.SUCCEEDED, after.error


def test_the_tiny_model_learns_only_its_owners_notes(user, other_user):
    Note.objects.create_note(other_user, title="Mallory's secret", body="the launch code is 0000 " * 2000)
    text, corpus, from_notes = cfg_text._corpus(user)
    assert not from_notes and "example text" in corpus and "0 characters in your 0 notes" in corpus
    assert "launch code" not in text
    for i in range(6):
        Note.objects.create_note(user, title=f"Log {i}", body=f"Ada's diffusion log entry {i}. " * 150)
    text, corpus, from_notes = cfg_text._corpus(user)
    assert from_notes and corpus.startswith("your 6 notes") and "Ada's diffusion log entry 5" in text
    assert "launch code" not in text and "polite" not in text


def test_workers_offer_the_tiny_model_always_and_a_configured_one_by_its_directory_name(settings, tmp_path):
    settings.CFG_TEXT_MODEL = ""
    assert cfg_text.capabilities() == {"models": ["notes-gpt"]}
    settings.CFG_TEXT_MODEL = str(tmp_path / "missing")
    assert cfg_text.capabilities() == {"models": ["notes-gpt"]}  # not a model directory: not offered
    settings.CFG_TEXT_MODEL = build_tiny_gpt2(tmp_path / "My GPT 2")
    assert cfg_text.capabilities() == {"models": ["notes-gpt", "My-GPT-2"]}
