"""cfg_text: classifier-free guidance for a causal language model with a negative prompt.

Two rules, greedy decoding, one generation per guidance scale w and rule:
- "log" (the standard rule, as in transformers' UnbatchedClassifierFreeGuidanceLogitsProcessor):
  score = log p_neg + w·(log p_pos − log p_neg)
- "prob" (the rule the post "Classifier-free guidance for LLMs performance enhancing" proposes):
  score = p_neg + w·(p_pos − p_neg), on plain probabilities.
For every chosen token the job records its probability and rank under the unguided positive and
negative distributions: the artefact the post describes is a token far down both lists that the
log rule promotes to first (a ratio of two tiny probabilities is large).
"""

from pathlib import Path

from django.conf import settings

from workers.jobs import JobKind, Param

RULES = ("log", "prob")
# A chosen token ranked below this under both unguided distributions counts as "promoted from far down".
FAR_DOWN_RANK = 100


def available() -> tuple[bool, str]:
    model = settings.CFG_TEXT_MODEL
    if not model:
        return False, "no language model configured (set CFG_TEXT_MODEL to a local Hugging Face model directory)"
    if not (Path(model) / "config.json").is_file():
        return False, f"CFG_TEXT_MODEL={model} is not a model directory (no config.json)"
    return True, ""


def cost(p: dict) -> float:
    # Forward passes: two branches per new token, per scale and rule.
    return 2 * p["max_new_tokens"] * len(p["guidance_scales"]) * len(RULES)


def run(ctx) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    p = ctx.params
    model_dir = p["model"] or settings.CFG_TEXT_MODEL
    if not (Path(model_dir) / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir} is not a Hugging Face model directory (no config.json)")
    device = ctx.torch_device()
    ctx.log(f"loading {model_dir} on {ctx.device_label}")
    ctx.progress(2, "loading model")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, use_safetensors=True).to(device).eval()

    positive = tokenizer(p["positive_prompt"], return_tensors="pt").input_ids.to(device)
    negative = tokenizer(p["negative_prompt"], return_tensors="pt").input_ids.to(device)
    scales = p["guidance_scales"]
    rows, token_rows = [], []
    ranks = {rule: {} for rule in RULES}
    far_down = {rule: {} for rule in RULES}
    total = len(scales) * len(RULES)
    for i, (w, rule) in enumerate((w, rule) for w in scales for rule in RULES):
        ctx.progress(5 + 90 * i / total, f"w={w:g}, {rule} rule")
        tokens = _generate(ctx, model, positive, negative, w, rule, p["max_new_tokens"], tokenizer.eos_token_id)
        text = tokenizer.decode([t["id"] for t in tokens])
        rows.append([f"{w:g}", rule, text])
        key = f"{w:g}"
        ranks[rule][key] = [t["rank_pos"] for t in tokens]
        far_down[rule][key] = sum(t["rank_pos"] > FAR_DOWN_RANK and t["rank_neg"] > FAR_DOWN_RANK for t in tokens)
        for step, t in enumerate(tokens):
            token_rows.append([
                key, rule, step, t["id"], tokenizer.decode([t["id"]]),
                f"{t['p_pos']:.6g}", t["rank_pos"], f"{t['p_neg']:.6g}", t["rank_neg"],
            ])
        ctx.log(f"w={w:g} {rule}: {text!r}")

    ctx.progress(96, "writing results")
    ctx.set_metrics({
        "max_rank_pos": {r: {k: max(v, default=0) for k, v in ranks[r].items()} for r in RULES},
        "mean_rank_pos": {r: {k: round(sum(v) / len(v), 2) if v else 0 for k, v in ranks[r].items()} for r in RULES},
        f"tokens_far_down_both_lists_top{FAR_DOWN_RANK}": far_down,
        "device": ctx.device_label,
    })
    ctx.save_csv("generations.csv", ["guidance_scale", "rule", "generation"], rows)
    ctx.save_csv(
        "tokens.csv",
        ["guidance_scale", "rule", "step", "token_id", "token", "p_positive", "rank_positive", "p_negative",
         "rank_negative"],
        token_rows,
    )
    ctx.save_artifact("generations.md", _markdown_table(p, rows))
    ctx.save_figure("ranks.png", _ranks_figure(scales, ranks))
    ctx.save_json("metrics.json", ctx.metrics)


def _generate(ctx, model, positive, negative, w: float, rule: str, max_new: int, eos_id) -> list[dict]:
    """Greedy decoding under one rule; the generated tokens are appended to both prompts."""
    import torch

    out = []
    generated = positive.new_zeros((1, 0))
    with torch.no_grad():
        for _ in range(max_new):
            ctx.check_cancelled()
            pos_logits = model(torch.cat([positive, generated], dim=1)).logits[0, -1].float()
            neg_logits = model(torch.cat([negative, generated], dim=1)).logits[0, -1].float()
            if rule == "log":
                lp, ln = pos_logits.log_softmax(-1), neg_logits.log_softmax(-1)
                score = ln + w * (lp - ln)
            else:
                pp, pn = pos_logits.softmax(-1), neg_logits.softmax(-1)
                score = pn + w * (pp - pn)
            token = int(score.argmax())
            p_pos, p_neg = pos_logits.softmax(-1), neg_logits.softmax(-1)
            out.append({
                "id": token,
                "p_pos": float(p_pos[token]), "rank_pos": _rank(p_pos, token),
                "p_neg": float(p_neg[token]), "rank_neg": _rank(p_neg, token),
            })
            generated = torch.cat([generated, generated.new_tensor([[token]])], dim=1)
            if eos_id is not None and token == eos_id:
                break
    return out


def _rank(probs, token: int) -> int:
    """1 = the most probable token."""
    return int((probs > probs[token]).sum()) + 1


def _markdown_table(p: dict, rows: list[list]) -> str:
    def cell(text):
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        f"Positive prompt: {cell(p['positive_prompt'])}", "",
        f"Negative prompt: {cell(p['negative_prompt'])}", "",
        "| w | rule | generation |", "|---|---|---|",
    ]
    lines += [f"| {w} | {rule} | {cell(text)} |" for w, rule, text in rows]
    return "\n".join(lines) + "\n"


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
        "Greedy generations of a local causal language model at each guidance scale, under the standard "
        "rule on log-probabilities and the rule on plain probabilities, with each chosen token's "
        "probability and rank under the unguided positive and negative prompts."
    ),
    params=(
        Param(
            "positive_prompt", "text",
            'Extremely polite and friendly answers to the question "How are you doing?" are: 1.',
            "The prompt to follow.", min_len=1, max_len=2000,
        ),
        Param(
            "negative_prompt", "text",
            'Very rude and harmfull answers to the question "How are you doing?" are: 1.',
            "The prompt to steer away from (in place of the unconditional branch).", min_len=1, max_len=2000,
        ),
        Param(
            "guidance_scales", "float_list", [1.0, 1.5, 3.0, 5.0],
            "Comma-separated guidance scales w (1 = no guidance).", min=0, max=50, min_len=1, max_len=10,
        ),
        Param("max_new_tokens", "int", 30, "Tokens generated per scale and rule.", min=1, max=200),
        Param(
            "model", "str", "", "A local model directory on the worker; empty: the CFG_TEXT_MODEL setting.",
            max_len=500,
        ),
    ),
    run=run,
    queue="gpu",
    cost=cost,
    max_cost=4_000,
    cost_help="forward passes (2 × tokens × scales × 2 rules)",
    available=available,
)
