"""cfg_diffusion: classifier-free guidance on a small class-conditional DDPM (8×8 digits).

Trains (or reuses a cached checkpoint for the same config, seed and device type) an MLP
noise predictor on scikit-learn's bundled handwritten digits, with label dropout so one
network is both the conditional and the unconditional model; then samples every digit at
each guidance scale w with ε = ε_uncond + w·(ε_cond − ε_uncond). A classifier trained on the
same digits judges the samples (accuracy), and the mean pairwise distance between samples of
one digit measures diversity: the quality/diversity trade-off of guidance, measured.
"""

import hashlib
import json

from workers.jobs import JobKind, Param

MODEL_VERSION = 2  # bump when the network or training changes: old checkpoints are not reused
HIDDEN = 256
BLOCKS = 2
BATCH = 128
LABEL_DROPOUT = 0.2
NULL_CLASS = 10


def cost(p: dict) -> float:
    # Network evaluations, in thousands of samples: training batches plus two branches
    # (conditional and unconditional) per sampling step.
    training = p["training_iterations"] * BATCH
    sampling = p["diffusion_steps"] * len(p["guidance_scales"]) * p["samples_per_class"] * 10 * 2
    return (training + sampling) / 1000


def run(ctx) -> None:
    import numpy as np
    import torch

    p = ctx.params
    device = ctx.torch_device()
    ctx.log(f"device {ctx.device_label}")
    data, labels = _digits(device)

    torch.manual_seed(p["seed"])  # the initial weights too
    model = _network().to(device)
    schedule = _schedule(p["diffusion_steps"], device)
    checkpoint = ctx.cache_dir / f"cfg_diffusion-{_config_key(p, device)}.pt"
    if checkpoint.exists():
        model.load_state_dict(torch.load(checkpoint, map_location=device, weights_only=True))
        ctx.log(f"reused checkpoint {checkpoint.name}")
        ctx.progress(60, "checkpoint reused")
    else:
        _train(ctx, model, schedule, data, labels, device)
        tmp = checkpoint.with_suffix(".tmp")
        torch.save(model.state_dict(), tmp)
        tmp.replace(checkpoint)  # atomic: a concurrent reader never sees half a file

    judge = _classifier()
    model.eval()
    scales = p["guidance_scales"]
    n = p["samples_per_class"]
    accuracy, diversity = {}, {}
    grids = []
    for i, w in enumerate(scales):
        ctx.check_cancelled()
        ctx.progress(60 + 35 * i / len(scales), f"sampling w={w:g}")
        gen = torch.Generator(device=device).manual_seed(p["seed"] * 1000 + i)
        samples = _sample(ctx, model, schedule, w, n, gen, device)  # (10*n, 64) in [0, 1]
        wanted = np.repeat(np.arange(10), n)
        predicted = judge.predict(samples * 16.0)
        accuracy[f"{w:g}"] = round(float((predicted == wanted).mean()), 4)
        diversity[f"{w:g}"] = round(_diversity(samples, n), 4)
        ctx.log(f"w={w:g}: accuracy {accuracy[f'{w:g}']:.3f}, diversity {diversity[f'{w:g}']:.3f}")
        ctx.save_artifact(f"grid_w{w:g}.png", _grid_png(samples, n), "image/png")
        grids.append(samples)

    ctx.progress(96, "plotting")
    ctx.set_metrics({"accuracy": accuracy, "diversity": diversity, "device": ctx.device_label})
    ctx.save_figure("guidance_sweep.png", _sweep_figure(scales, accuracy, diversity))
    ctx.save_csv(
        "metrics.csv", ["guidance_scale", "accuracy", "diversity"],
        [[f"{w:g}", accuracy[f"{w:g}"], diversity[f"{w:g}"]] for w in scales],
    )
    ctx.save_json("metrics.json", ctx.metrics)


def _config_key(p: dict, device) -> str:
    config = {
        "version": MODEL_VERSION, "steps": p["diffusion_steps"], "iterations": p["training_iterations"],
        "seed": p["seed"], "device": device.type, "hidden": HIDDEN, "blocks": BLOCKS, "batch": BATCH,
        "dropout": LABEL_DROPOUT,
    }
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _digits(device):
    import torch
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.data / 8.0 - 1.0, dtype=torch.float32, device=device)  # 0..16 -> -1..1
    y = torch.tensor(digits.target, dtype=torch.long, device=device)
    return x, y


def _network():
    import torch
    from torch import nn

    class Denoiser(nn.Module):
        """ε(x_t, t, class): residual MLP blocks on the flattened image, each block conditioned on
        the time and class embeddings (class 10 is "no class", the unconditional branch)."""

        def __init__(self):
            super().__init__()
            self.label = nn.Embedding(NULL_CLASS + 1, HIDDEN)
            self.time = nn.Sequential(nn.Linear(64, HIDDEN), nn.SiLU(), nn.Linear(HIDDEN, HIDDEN))
            self.inp = nn.Linear(64, HIDDEN)
            self.blocks = nn.ModuleList(
                nn.Sequential(nn.SiLU(), nn.Linear(HIDDEN, HIDDEN), nn.SiLU(), nn.Linear(HIDDEN, HIDDEN))
                for _ in range(BLOCKS)
            )
            self.cond = nn.ModuleList(nn.Linear(HIDDEN, HIDDEN) for _ in range(BLOCKS))
            self.out = nn.Sequential(nn.SiLU(), nn.Linear(HIDDEN, 64))

        def forward(self, x, t, label):
            half = 32
            freqs = torch.exp(-torch.arange(half, device=x.device) * (torch.log(torch.tensor(1000.0)) / half))
            angles = t.float()[:, None] * freqs[None, :]
            cond = self.time(torch.cat([angles.sin(), angles.cos()], dim=1)) + self.label(label)
            h = self.inp(x)
            for block, project in zip(self.blocks, self.cond):
                h = h + block(h + project(cond))
            return self.out(h)

    return Denoiser()


def _schedule(steps: int, device):
    import torch

    betas = torch.linspace(1e-4, 0.02 * 1000 / steps, steps, device=device).clamp(max=0.5)
    alphas = 1.0 - betas
    alpha_bar = torch.cumprod(alphas, dim=0)
    return {"betas": betas, "alphas": alphas, "alpha_bar": alpha_bar, "steps": steps}


def _train(ctx, model, schedule, data, labels, device) -> None:
    import torch

    p = ctx.params
    gen = torch.Generator(device=device).manual_seed(p["seed"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
    iterations = p["training_iterations"]
    lr_schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=iterations, pct_start=0.1)
    alpha_bar = schedule["alpha_bar"]
    model.train()
    report_every = max(1, iterations // 20)
    for it in range(iterations):
        idx = torch.randint(0, data.shape[0], (BATCH,), generator=gen, device=device)
        x0, y = data[idx], labels[idx]
        # Label dropout: the same network learns the unconditional model.
        drop = torch.rand(BATCH, generator=gen, device=device) < LABEL_DROPOUT
        y = torch.where(drop, torch.full_like(y, NULL_CLASS), y)
        t = torch.randint(0, schedule["steps"], (BATCH,), generator=gen, device=device)
        noise = torch.randn(x0.shape, generator=gen, device=device)
        ab = alpha_bar[t][:, None]
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
        loss = torch.nn.functional.mse_loss(model(xt, t, y), noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        lr_schedule.step()
        ctx.check_cancelled()  # cheap: it asks the database at most once a second
        if it % report_every == 0 or it == iterations - 1:
            ctx.progress(60 * (it + 1) / iterations, f"training {it + 1}/{iterations}")
            if it % (report_every * 5) == 0 or it == iterations - 1:
                ctx.log(f"iteration {it + 1}/{iterations}: loss {loss.item():.4f}")


def _sample(ctx, model, schedule, w: float, n: int, gen, device):
    """Ancestral DDPM sampling of n images of each digit with guidance scale w; (10n, 64) in [0, 1]."""
    import torch

    betas, alphas, alpha_bar = schedule["betas"], schedule["alphas"], schedule["alpha_bar"]
    labels = torch.arange(10, device=device).repeat_interleave(n)
    null = torch.full_like(labels, NULL_CLASS)
    x = torch.randn((labels.shape[0], 64), generator=gen, device=device)
    with torch.no_grad():
        for t in reversed(range(schedule["steps"])):
            ctx.check_cancelled()
            tt = torch.full_like(labels, t)
            # Both branches in one batch: [conditional; unconditional].
            eps = model(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([labels, null]))
            eps_cond, eps_uncond = eps.chunk(2)
            eps = eps_uncond + w * (eps_cond - eps_uncond)
            ab = alpha_bar[t]
            x0 = ((x - (1 - ab).sqrt() * eps) / ab.sqrt()).clamp(-1, 1)
            if t == 0:
                x = x0
                break
            ab_prev = alpha_bar[t - 1]
            mean = (ab_prev.sqrt() * betas[t] / (1 - ab)) * x0 + (alphas[t].sqrt() * (1 - ab_prev) / (1 - ab)) * x
            var = betas[t] * (1 - ab_prev) / (1 - ab)
            x = mean + var.sqrt() * torch.randn(x.shape, generator=gen, device=device)
    return ((x + 1) / 2).clamp(0, 1).cpu().numpy()


def _classifier():
    """An SVM on the same digits (about 99% on them): the judge of sample classes."""
    from sklearn.datasets import load_digits
    from sklearn.svm import SVC

    digits = load_digits()
    return SVC(gamma=0.001, C=10.0).fit(digits.data, digits.target)


def _diversity(samples, n: int) -> float:
    """Mean pairwise Euclidean distance between samples of the same digit (pixels in [0, 1])."""
    import numpy as np

    if n < 2:
        return 0.0
    per_class = []
    for c in range(10):
        s = samples[c * n:(c + 1) * n]
        d = np.sqrt(((s[:, None, :] - s[None, :, :]) ** 2).sum(-1))
        per_class.append(d[np.triu_indices(n, 1)].mean())
    return float(np.mean(per_class))


def _grid_png(samples, n: int) -> bytes:
    """One row per digit, n samples per row, each 8×8 image scaled up 4× with a 1-pixel gap."""
    import io

    import numpy as np
    from PIL import Image

    scale, cell = 4, 8 * 4 + 2
    canvas = np.full((10 * cell, n * cell), 255, dtype=np.uint8)
    for i, img in enumerate(samples):
        r, c = divmod(i, n)
        tile = (255 - img.reshape(8, 8) * 255).astype(np.uint8).repeat(scale, 0).repeat(scale, 1)
        canvas[r * cell + 1:r * cell + 1 + 8 * scale, c * cell + 1:c * cell + 1 + 8 * scale] = tile
    buf = io.BytesIO()
    Image.fromarray(canvas, mode="L").save(buf, format="PNG")
    return buf.getvalue()


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
        Param("diffusion_steps", "int", 100, "Noise levels of the diffusion process (T).", min=10, max=1000),
        Param("training_iterations", "int", 3000, "Optimizer steps of 128 images each.", min=50, max=50_000),
        Param(
            "guidance_scales", "float_list", [0.0, 1.0, 2.0, 4.0, 8.0],
            "Comma-separated guidance scales w (0 = unconditional, 1 = conditional).",
            min=0, max=50, min_len=1, max_len=12,
        ),
        Param("samples_per_class", "int", 10, "Samples of each digit at each scale.", min=2, max=100),
        Param("seed", "int", 0, "Same seed, same device: same checkpoint and samples.", min=0, max=2**31 - 1),
    ),
    run=run,
    queue="gpu",
    cost=cost,
    max_cost=2_000,
    cost_help="thousands of network evaluations (iterations × 128 + steps × scales × samples × 20)",
)
