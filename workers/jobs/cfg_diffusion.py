"""cfg_diffusion: classifier-free guidance on a small class-conditional DDPM (8×8 digits).

Trains (or reuses a cached checkpoint for the same config, seed and device type) an MLP
noise predictor on scikit-learn's bundled handwritten digits, with label dropout so one
network is both the conditional and the unconditional model; then samples every digit at
each guidance scale w with ε = ε_uncond + w·(ε_cond − ε_uncond). A classifier trained on the
same digits judges the samples (accuracy), and the mean pairwise distance between samples of
one digit measures diversity: the quality/diversity trade-off of guidance, measured.
Each scale samples from a seed derived from the run seed and that scale, so a scale's grid
and figures are the same in every sweep that contains it.
"""

from workers.jobs import JobKind, Param
from workers.jobs._digits import BASE_PARAMS, BATCH, SEED_PARAM


def cost(p: dict) -> float:
    # Network evaluations, in thousands of samples: training batches plus two branches
    # (conditional and unconditional) per sampling step.
    training = p["training_iterations"] * BATCH
    sampling = p["diffusion_steps"] * len(p["guidance_scales"]) * p["samples_per_class"] * 10 * 2
    return (training + sampling) / 1000


def run(ctx) -> None:
    import torch

    from workers.jobs import _digits

    p = ctx.params
    device = ctx.torch_device()
    ctx.log(f"device {ctx.device_label}")
    model, schedule = _digits.load_or_train(ctx, p, device)
    judge = _digits.classifier()
    scales = p["guidance_scales"]
    n = p["samples_per_class"]
    accuracy, diversity = {}, {}
    for i, w in enumerate(scales):
        ctx.check_cancelled()
        key = _digits.scale_key(w)
        ctx.progress(60 + 35 * i / len(scales), f"sampling w={key}")
        gen = torch.Generator(device=device).manual_seed(_digits.scale_seed(p["seed"], w))
        samples = _digits.sample(ctx, _digits.cfg_eps(model, w), schedule, n, gen, device)
        accuracy[key] = round(_digits.accuracy(judge, samples, n), 4)
        diversity[key] = round(_digits.diversity(samples, n), 4)
        ctx.log(f"w={key}: accuracy {accuracy[key]:.3f}, diversity {diversity[key]:.3f}")
        ctx.save_artifact(f"grid_w{key}.png", _digits.grid_png(samples, n), "image/png")
        # After each scale, so the run's chart grows while the sweep goes on.
        ctx.set_metrics({"accuracy": dict(accuracy), "diversity": dict(diversity), "device": ctx.device_label})

    ctx.progress(96, "plotting")
    ctx.save_figure("guidance_sweep.png", _sweep_figure(scales, accuracy, diversity))
    ctx.save_csv(
        "metrics.csv", ["guidance_scale", "accuracy", "diversity"],
        [[_digits.scale_key(w), accuracy[_digits.scale_key(w)], diversity[_digits.scale_key(w)]] for w in scales],
    )
    ctx.save_json("metrics.json", ctx.metrics)


def _sweep_figure(scales, accuracy, diversity):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ws = [f"{w:g}" for w in scales]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(scales, [accuracy[w] for w in ws], "o-", color="tab:blue", label="class accuracy")
    ax.set_xlabel("guidance scale w")
    ax.set_ylabel("class accuracy", color="tab:blue")
    ax.set_ylim(0, 1.02)
    ax2 = ax.twinx()
    ax2.plot(scales, [diversity[w] for w in ws], "s--", color="tab:orange", label="diversity")
    ax2.set_ylabel("diversity (mean pairwise distance)", color="tab:orange")
    ax.set_title("Classifier-free guidance: quality vs diversity")
    fig.tight_layout()
    return fig


KIND = JobKind(
    name="cfg_diffusion",
    title="Classifier-free guidance: diffusion on digits",
    description=(
        "Trains a small class-conditional DDPM on scikit-learn's 8×8 digits (label dropout for the "
        "unconditional branch; the checkpoint is reused for the same config and seed), samples every "
        "digit at each guidance scale and plots class accuracy and diversity against the scale."
    ),
    params=(
        *BASE_PARAMS,
        Param(
            "guidance_scales", "float_list", [0.0, 1.0, 2.0, 4.0, 8.0],
            "Comma-separated guidance scales w (0 = unconditional, 1 = conditional).",
            min=0, max=50, min_len=1, max_len=12,
        ),
        Param("samples_per_class", "int", 10, "Samples of each digit at each scale.", min=2, max=100),
        SEED_PARAM,
    ),
    run=run,
    queue="gpu",
    cost=cost,
    max_cost=2_000,
    cost_help="thousands of network evaluations (iterations × 128 + steps × scales × samples × 20)",
)
