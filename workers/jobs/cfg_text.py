"""cfg_text: classifier-free guidance for a causal language model with a negative prompt.

Two rules, at each guidance scale w:
- "log" (the standard rule, as in transformers' UnbatchedClassifierFreeGuidanceLogitsProcessor):
  score = log p_neg + w·(log p_pos − log p_neg)
- "prob" (the rule the post "Classifier-free guidance for LLMs performance enhancing" proposes):
  score = p_neg + w·(p_pos − p_neg), on plain probabilities.
The job shows how the next-token distribution after the prompts moves with w under each rule
(the guided top tokens with their probability and rank under the unguided positive and negative
prompts), then decodes greedily under each rule and records the same for every chosen token:
the artefact the post describes is a token far down both lists that the log rule promotes to
first (a ratio of two tiny probabilities is large).

The model is one a worker offers: "notes-gpt", a tiny GPT-2 the worker trains (once per corpus,
then cached) on the run owner's notes, or on the job's own example text when the owner has few
notes, so the demo runs on a fresh install with nothing downloaded; or the local causal LM
directory in the worker's CFG_TEXT_MODEL setting, offered under its directory name.
"""

import re
from pathlib import Path

from django.conf import settings

from workers.jobs import JobKind, Param

RULES = ("log", "prob")
# A chosen token ranked below this under both unguided distributions counts as "promoted from far down".
FAR_DOWN_RANK = 100
TOP_TOKENS = 10  # rows of the next-token table for each scale and rule

TINY_MODEL = "notes-gpt"
TINY_VERSION = 1  # bump when the tiny model, its tokenizer or its training change
TINY_CONFIG = {"n_embd": 96, "n_layer": 2, "n_head": 4, "n_positions": 64}
TINY_VOCAB = 1024
TINY_BATCH = 32
# Training steps when the run leaves it to the job (training_steps = 0). On the 4.5 kB example
# text 150 steps give a fluent model that does not yet memorise (trained to memorisation its
# distributions are so peaked that both rules pick the same tokens at every scale); on a few
# hundred kB of notes 450 steps give one whose log rule at w = 5 already promotes a token ranked
# ~450th by the positive prompt to first, the post's point, in under a minute of one CPU core.
EXAMPLE_STEPS = 150
NOTES_STEPS = 450
# Fewer characters of notes than this, and the tiny model learns the job's example text instead.
MIN_NOTES_CHARS = 20_000
MAX_CORPUS_CHARS = 400_000  # the most recent notes up to this size: training time is bounded anyway
EXAMPLE_TEXT = Path(__file__).with_name("_cfg_text_corpus.txt")


def local_model_name() -> str | None:
    """The name this worker offers its CFG_TEXT_MODEL under (its directory name), None without one."""
    directory = settings.CFG_TEXT_MODEL
    if not directory or not (Path(directory) / "config.json").is_file():
        return None
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(directory).resolve().name).strip("-._")[:64] or "local-model"
    return name if name != TINY_MODEL else f"local-{name}"


def capabilities() -> dict:
    return {"models": [TINY_MODEL, *filter(None, [local_model_name()])]}


def cost(p: dict) -> float:
    # Forward passes: two branches per new token, per scale and rule, plus the tiny model's
    # training steps (a batch forward and backward, counted as three).
    return 2 * p["max_new_tokens"] * len(p["guidance_scales"]) * len(RULES) + 3 * (p["training_steps"] or NOTES_STEPS)


def run(ctx) -> None:
    import torch

    p = ctx.params
    device = ctx.torch_device()
    if p["model"] == TINY_MODEL:
        lm = _tiny_model(ctx, device)
    elif p["model"] == local_model_name():
        lm = _local_model(ctx, settings.CFG_TEXT_MODEL, device)
    else:
        offered = ", ".join(capabilities()["models"])
        raise ValueError(f"this worker has no model {p['model']!r} (it offers {offered})")
    ctx.log(f"model: {lm.label}")

    positive, negative = lm.encode(p["positive_prompt"], device), lm.encode(p["negative_prompt"], device)
    scales = p["guidance_scales"]
    metrics = {"model": lm.label, "device": ctx.device_label}

    ctx.progress(62, "next-token distributions")
    with torch.no_grad():
        p_pos, p_neg = lm.next_probs(positive), lm.next_probs(negative)
    table, tracked = _next_token_table(lm, p_pos, p_neg, scales)
    for name, values in _next_token_series(p_pos, p_neg, scales).items():
        metrics[name] = values
    ctx.set_metrics(metrics)
    ctx.save_csv(
        "next_token.csv",
        ["guidance_scale", "rule", "guided_rank", "token_id", "token", "p_guided", "p_positive", "rank_positive",
         "p_negative", "rank_negative"],
        table,
    )
    ctx.save_artifact("next_token.md", _next_token_markdown(p, lm, table))
    ctx.save_figure("next_token.png", _next_token_figure(lm, p_pos, p_neg, scales, tracked))

    rows, token_rows = [], []
    ranks = {rule: {} for rule in RULES}
    total = len(scales) * len(RULES)
    for i, (w, rule) in enumerate((w, rule) for w in scales for rule in RULES):
        ctx.progress(65 + 30 * i / total, f"w={w:g}, {rule} rule")
        tokens = _generate(ctx, lm, positive, negative, w, rule, p["max_new_tokens"])
        text = lm.decode([t["id"] for t in tokens])
        key = f"{w:g}"
        rows.append([key, rule, text])
        ranks[rule][key] = [t["rank_pos"] for t in tokens]
        for step, t in enumerate(tokens):
            token_rows.append([
                key, rule, step, t["id"], lm.decode([t["id"]]),
                f"{t['p_pos']:.6g}", t["rank_pos"], f"{t['p_neg']:.6g}", t["rank_neg"],
            ])
        metrics.setdefault(f"generated_max_rank_positive_{rule}", {})[key] = max(ranks[rule][key], default=0)
        metrics.setdefault(f"generated_tokens_far_down_both_{rule}", {})[key] = sum(
            t["rank_pos"] > FAR_DOWN_RANK and t["rank_neg"] > FAR_DOWN_RANK for t in tokens
        )
        ctx.log(f"w={w:g} {rule}: {text!r}")
        ctx.set_metrics(metrics)

    ctx.progress(96, "writing results")
    ctx.save_csv("generations.csv", ["guidance_scale", "rule", "generation"], rows)
    ctx.save_csv(
        "tokens.csv",
        ["guidance_scale", "rule", "step", "token_id", "token", "p_positive", "rank_positive", "p_negative",
         "rank_negative"],
        token_rows,
    )
    ctx.save_artifact("generations.md", _generations_markdown(p, lm, rows))
    ctx.save_figure("ranks.png", _ranks_figure(scales, ranks))
    ctx.save_json("metrics.json", ctx.metrics)


# --- the language models ------------------------------------------------------------------

class _LM:
    """A causal LM and its tokenizer, as the job uses them."""

    def __init__(self, model, encode, decode, eos_id, label):
        self.model, self._encode, self.decode, self.eos_id, self.label = model, encode, decode, eos_id, label
        self.context = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", 0)

    def encode(self, text: str, device):
        import torch

        ids = self._encode(text)
        if not ids:
            raise ValueError(f"the prompt {text!r} has no tokens")
        return torch.tensor([ids], dtype=torch.long, device=device)

    def next_probs(self, ids):
        """The next-token distribution after `ids` (the last `context` tokens of it)."""
        if self.context:
            ids = ids[:, -self.context:]
        return self.model(ids).logits[0, -1].float().softmax(-1)

    def token(self, token_id: int) -> str:
        return self.decode([token_id])


def _local_model(ctx, directory: str, device) -> _LM:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ctx.log(f"loading {directory} on {ctx.device_label}")
    ctx.progress(2, "loading model")
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory, use_safetensors=True).to(device).eval()
    ctx.progress(60, "model loaded")
    return _LM(
        model, lambda text: tokenizer(text).input_ids, tokenizer.decode, tokenizer.eos_token_id,
        f"{local_model_name()} (the worker's CFG_TEXT_MODEL, {_millions(model)} M parameters)",
    )


def _tiny_model(ctx, device) -> _LM:
    """notes-gpt: trained once per corpus and config on this worker, then loaded from its cache."""
    import hashlib
    import json

    import torch
    from tokenizers import Tokenizer
    from transformers import GPT2Config, GPT2LMHeadModel

    from workers.jobs import _checkpoints

    text, corpus, from_notes = _corpus(ctx.run.runnable.note.user)
    steps = ctx.params["training_steps"] or (NOTES_STEPS if from_notes else EXAMPLE_STEPS)
    key = json.dumps({"version": TINY_VERSION, "config": TINY_CONFIG, "vocab": TINY_VOCAB, "batch": TINY_BATCH,
                      "steps": steps, "device": device.type, "corpus": hashlib.sha256(text.encode()).hexdigest()},
                     sort_keys=True)
    checkpoint = ctx.cache_dir / f"notes-gpt-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"
    saved = _checkpoints.load_or_retrain(ctx, checkpoint, map_location=device)
    if saved is not None:
        tokenizer = Tokenizer.from_str(saved["tokenizer"])
        model = GPT2LMHeadModel(GPT2Config.from_dict(json.loads(saved["config"])))
        model.load_state_dict(saved["state"])
        ctx.log(f"reused checkpoint {checkpoint.name}")
        ctx.progress(60, "checkpoint reused")
    else:
        tokenizer = _train_tokenizer(text)
        eos = tokenizer.token_to_id("<|endoftext|>")
        torch.manual_seed(0)
        config = GPT2Config(vocab_size=tokenizer.get_vocab_size(), bos_token_id=eos, eos_token_id=eos,
                            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **TINY_CONFIG)
        model = GPT2LMHeadModel(config).to(device)
        ctx.log(f"training {TINY_MODEL} on {corpus} ({_millions(model)} M parameters, {steps} steps)")
        _train_tiny(ctx, model, tokenizer.encode(text).ids, steps, device)
        _checkpoints.save(ctx, checkpoint, {
            "tokenizer": tokenizer.to_str(), "config": config.to_json_string(),
            "state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        })
        ctx.log(f"saved checkpoint {checkpoint.name}")
    model = model.to(device).eval()
    label = (f"{TINY_MODEL}: a tiny GPT-2 ({TINY_CONFIG['n_layer']} layers, {_millions(model)} M parameters) "
             f"trained on this worker for {steps} steps on {corpus}; a toy for seeing guidance at work, "
             f"not a real language model")
    return _LM(model, lambda s: tokenizer.encode(s).ids, tokenizer.decode, tokenizer.token_to_id("<|endoftext|>"),
               label)


def _corpus(user) -> tuple[str, str, bool]:
    """The owner's notes (newest first, up to MAX_CORPUS_CHARS) when there are enough of them,
    else the job's example text; a description of which, for the run's label; whether notes."""
    from notes.models import Note

    parts, size = [], 0
    for title, body in Note.objects.for_user(user).order_by("-created", "-pk").values_list("title", "body"):
        part = f"{title}\n{body}".strip()
        if size + len(part) > MAX_CORPUS_CHARS:
            break
        parts.append(part)
        size += len(part)
    if size >= MIN_NOTES_CHARS:
        return "\n<|endoftext|>\n".join(parts), f"your {len(parts)} notes ({size / 1000:.0f} kB)", True
    text = EXAMPLE_TEXT.read_text()
    why = f"{size:,} characters in your {len(parts)} note{'s' if len(parts) != 1 else ''}, under {MIN_NOTES_CHARS:,}"
    return text, f"the job's example text ({len(text) / 1000:.1f} kB of polite and rude answers; {why})", False


def _train_tokenizer(text: str):
    """A byte-level BPE tokenizer learnt from the corpus itself: nothing to download."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=TINY_VOCAB, special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(text.splitlines(), trainer)
    return tokenizer


def _train_tiny(ctx, model, ids: list[int], steps: int, device) -> None:
    """Next-token training on random windows of the corpus; progress 5-60 %."""
    import torch

    context = TINY_CONFIG["n_positions"]
    data = torch.tensor(ids, dtype=torch.long, device=device)
    if data.numel() <= context:
        data = data.repeat(context // max(1, data.numel()) + 2)
    gen = torch.Generator(device=device).manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    model.train()
    report_every = max(1, steps // 10)
    for step in range(steps):
        starts = torch.randint(0, data.numel() - context, (TINY_BATCH,), generator=gen, device=device)
        batch = torch.stack([data[s:s + context] for s in starts.tolist()])
        loss = model(batch, labels=batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        ctx.check_cancelled()
        if step % report_every == 0 or step == steps - 1:
            ctx.progress(5 + 55 * (step + 1) / steps, f"training {TINY_MODEL} {step + 1}/{steps}")
            ctx.log(f"step {step + 1}/{steps}: loss {loss.item():.3f}")


def _millions(model) -> str:
    return f"{sum(q.numel() for q in model.parameters()) / 1e6:.2g}"


# --- guidance ------------------------------------------------------------------------------

def guided(p_pos, p_neg, w: float, rule: str):
    """The guided next-token distribution under a rule. The prob rule's scores can be negative:
    those tokens get no probability (the rule's argmax, which decoding uses, is unchanged)."""
    if rule == "log":
        lp, ln = p_pos.clamp_min(1e-30).log(), p_neg.clamp_min(1e-30).log()
        return (ln + w * (lp - ln)).softmax(-1)
    score = (p_neg + w * (p_pos - p_neg)).clamp_min(0)
    return score / score.sum()


def _rank(probs, token: int) -> int:
    """1 = the most probable token."""
    return int((probs > probs[token]).sum()) + 1


def _next_token_series(p_pos, p_neg, scales) -> dict:
    """Chart data, one series per quantity and rule, keyed by the scale."""
    top_pos = set(p_pos.topk(min(TOP_TOKENS, p_pos.numel())).indices.tolist())
    series = {}
    for rule in RULES:
        for w in scales:
            q = guided(p_pos, p_neg, w, rule)
            top = int(q.argmax())
            key = f"{w:g}"
            outside = 1.0 - float(q[list(top_pos)].sum())
            values = {
                "next_token_top1_rank_positive": _rank(p_pos, top),
                "next_token_top1_p_positive": round(float(p_pos[top]), 6),
                "next_token_mass_outside_positive_top10": round(max(0.0, outside), 6),
                "next_token_entropy_bits": round(float(-(q * q.clamp_min(1e-30).log2()).sum()), 4),
            }
            for name, value in values.items():
                series.setdefault(f"{name}_{rule}", {})[key] = value
    return series


def _next_token_table(lm, p_pos, p_neg, scales):
    """The guided top tokens for each scale and rule, and the tokens worth following on the chart
    (the unguided favourites of each prompt and each rule's choice at the largest scale)."""
    rows, tracked = [], []
    for w in scales:
        for rule in RULES:
            q = guided(p_pos, p_neg, w, rule)
            for rank, token in enumerate(q.topk(TOP_TOKENS).indices.tolist(), 1):
                rows.append([
                    f"{w:g}", rule, rank, token, lm.token(token), f"{float(q[token]):.6g}",
                    f"{float(p_pos[token]):.6g}", _rank(p_pos, token), f"{float(p_neg[token]):.6g}",
                    _rank(p_neg, token),
                ])
    candidates = [*p_pos.topk(3).indices.tolist(), *p_neg.topk(3).indices.tolist()]
    candidates += [int(guided(p_pos, p_neg, max(scales), rule).argmax()) for rule in RULES]
    for token in candidates:
        if token not in tracked:
            tracked.append(token)
    return rows, tracked


def _generate(ctx, lm, positive, negative, w: float, rule: str, max_new: int) -> list[dict]:
    """Greedy decoding under one rule; the generated tokens are appended to both prompts."""
    import torch

    out = []
    generated = positive.new_zeros((1, 0))
    with torch.no_grad():
        for _ in range(max_new):
            ctx.check_cancelled()
            p_pos = lm.next_probs(torch.cat([positive, generated], dim=1))
            p_neg = lm.next_probs(torch.cat([negative, generated], dim=1))
            if rule == "log":
                score = p_neg.clamp_min(1e-30).log() + w * (p_pos.clamp_min(1e-30).log() - p_neg.clamp_min(1e-30).log())
            else:
                score = p_neg + w * (p_pos - p_neg)
            token = int(score.argmax())
            out.append({
                "id": token,
                "p_pos": float(p_pos[token]), "rank_pos": _rank(p_pos, token),
                "p_neg": float(p_neg[token]), "rank_neg": _rank(p_neg, token),
            })
            generated = torch.cat([generated, generated.new_tensor([[token]])], dim=1)
            if lm.eos_id is not None and token == lm.eos_id:
                break
    return out


# --- reports --------------------------------------------------------------------------------

def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", "⏎").replace("`", "'")


def _prompts_markdown(p: dict, lm) -> list[str]:
    return [
        f"Model: {_cell(lm.label)}", "",
        f"Positive prompt: {_cell(p['positive_prompt'])}", "",
        f"Negative prompt: {_cell(p['negative_prompt'])}", "",
    ]


def _next_token_markdown(p: dict, lm, table: list[list]) -> str:
    lines = _prompts_markdown(p, lm)
    lines += [
        "The next token after the prompts: the guided top tokens at each scale and rule, with their "
        "probability and rank under the unguided positive and negative prompts.", "",
    ]
    current = None
    for w, rule, rank, _id, token, q, pp, rp, pn, rn in table:
        if (w, rule) != current:
            current = (w, rule)
            lines += ["", f"w = {w}, {rule} rule", "",
                      "| # | token | p guided | p positive | rank positive | p negative | rank negative |",
                      "|---|---|---|---|---|---|---|"]
        lines.append(f"| {rank} | `{_cell(token)}` | {q} | {pp} | {rp} | {pn} | {rn} |")
    return "\n".join(lines) + "\n"


def _generations_markdown(p: dict, lm, rows: list[list]) -> str:
    lines = _prompts_markdown(p, lm) + ["| w | rule | generation |", "|---|---|---|"]
    lines += [f"| {w} | {rule} | {_cell(text)} |" for w, rule, text in rows]
    return "\n".join(lines) + "\n"


def _next_token_figure(lm, p_pos, p_neg, scales, tracked):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(RULES), figsize=(10, 3.8), sharey=True)
    for ax, rule in zip(axes, RULES):
        dists = [guided(p_pos, p_neg, w, rule) for w in scales]
        for token in tracked:
            label = f"{lm.token(token)!r} (rank {_rank(p_pos, token)} / {_rank(p_neg, token)})"
            ax.plot(scales, [float(q[token]) for q in dists], marker="o", markersize=3, label=label)
        ax.set_title(f"{rule} rule")
        ax.set_xlabel("guidance scale w")
    axes[0].set_ylabel("guided probability of the next token")
    axes[-1].legend(fontsize="x-small", title="token (rank positive / negative)", title_fontsize="x-small")
    fig.suptitle("How the next-token distribution moves with the guidance scale")
    fig.tight_layout()
    return fig


def _ranks_figure(scales, ranks):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(RULES), figsize=(10, 3.5), sharey=True)
    for ax, rule in zip(axes, RULES):
        for w in scales:
            values = ranks[rule][f"{w:g}"]
            ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=f"w={w:g}")
        ax.set_yscale("log")
        ax.set_title(f"{rule} rule")
        ax.set_xlabel("generated token")
    axes[0].set_ylabel("rank under the unguided positive prompt")
    axes[-1].legend(fontsize="small")
    fig.suptitle("Rank of each chosen token without guidance (1 = top)")
    fig.tight_layout()
    return fig


KIND = JobKind(
    name="cfg_text",
    title="Classifier-free guidance: language model with a negative prompt",
    description=(
        "How guidance by a negative prompt moves a language model's next-token distribution, under the "
        "standard rule on log-probabilities and the rule on plain probabilities: the guided top tokens "
        "with their probability and rank under each prompt, and greedy generations at each scale. Runs "
        "on a tiny GPT-2 the worker trains on your notes (no download), or on a worker's own model."
    ),
    params=(
        Param(
            "positive_prompt", "text",
            'Extremely polite and friendly answers to the question "How are you doing?" are: 1.',
            "The prompt to follow.", min_len=1, max_len=2000,
        ),
        Param(
            "negative_prompt", "text",
            'Very rude and harmful answers to the question "How are you doing?" are: 1.',
            "The prompt to steer away from (in place of the unconditional branch).", min_len=1, max_len=2000,
        ),
        Param(
            "guidance_scales", "float_list", [1.0, 1.5, 3.0, 5.0, 10.0],
            "Comma-separated guidance scales w (1 = no guidance).", min=0, max=50, min_len=1, max_len=10,
        ),
        Param("max_new_tokens", "int", 30, "Tokens generated per scale and rule.", min=1, max=200),
        Param(
            "model", "model", TINY_MODEL,
            f"A model a worker offers: {TINY_MODEL} (a tiny GPT-2 the worker trains on your notes) or a "
            "worker's own model (its CFG_TEXT_MODEL).",
        ),
        Param(
            "training_steps", "int", 0,
            f"Training steps of {TINY_MODEL}; 0 = automatic: {NOTES_STEPS} on your notes, {EXAMPLE_STEPS} on the "
            "job's example text (longer, the model memorises it). Other models ignore it.", min=0, max=2000,
        ),
    ),
    run=run,
    queue="gpu",
    cost=cost,
    max_cost=10_000,
    cost_help="forward passes (2 × tokens × scales × 2 rules, plus 3 × training steps)",
    capabilities=capabilities,
)
