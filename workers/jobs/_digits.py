"""The digits DDPM shared by cfg_diffusion and cfg_distill: data, network, noise schedule,
training with label dropout, the checkpoint cache, sampling, and the judges of samples.

One MLP noise predictor is both the conditional and the unconditional model (class 10 is
"no class"). Its checkpoint is cached per worker for a config, seed and device type, so
cfg_distill distils the very network cfg_diffusion trained.
"""

import hashlib
import json

from workers.jobs import Param, _checkpoints

MODEL_VERSION = 3  # bump when the network or training changes: old checkpoints are not reused
HIDDEN = 256
BLOCKS = 2
BATCH = 128
LABEL_DROPOUT = 0.2
NULL_CLASS = 10

# The parameters that pick the base checkpoint, shared by every kind that uses it.
BASE_PARAMS = (
    Param("diffusion_steps", "int", 100, "Noise levels of the diffusion process (T).", min=10, max=1000),
    Param("training_iterations", "int", 3000, "Optimizer steps of 128 images each.", min=50, max=50_000),
)
SEED_PARAM = Param(
    "seed", "int", 0, "Same seed, same device: same checkpoint and samples.", min=0, max=2**31 - 1
)


def scale_key(w: float) -> str:
    """How a guidance scale names its metrics and artifacts: "0", "1.5", "4"."""
    return f"{w:g}"


def scale_seed(seed: int, w: float) -> int:
    """The sampling seed of guidance scale w: a function of the run seed and w only, so one
    scale's samples do not depend on the other scales of the sweep or their order."""
    digest = hashlib.sha256(f"{seed}:{float(w).hex()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def load_or_train(ctx, p: dict, device, progress_to: float = 60):
    """The base network of this config (reused from the cache, else trained and cached) and
    its noise schedule. A damaged cached file is reported and replaced, never loaded."""
    import torch

    torch.manual_seed(p["seed"])  # the initial weights too
    model = network().to(device)
    schedule = noise_schedule(p["diffusion_steps"], device)
    checkpoint = ctx.cache_dir / f"digits-ddpm-{config_key(p, device)}.pt"
    state = _checkpoints.load_or_retrain(ctx, checkpoint, map_location=device)
    if state is not None:
        model.load_state_dict(state)
        ctx.log(f"reused checkpoint {checkpoint.name}")
        ctx.progress(progress_to, "checkpoint reused")
    else:
        data, labels = digits(device)
        train(ctx, model, schedule, data, labels, device, progress_to)
        _checkpoints.save(ctx, checkpoint, model.state_dict())
        ctx.log(f"saved checkpoint {checkpoint.name}")
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model, schedule


def config_key(p: dict, device) -> str:
    config = {
        "version": MODEL_VERSION, "steps": p["diffusion_steps"], "iterations": p["training_iterations"],
        "seed": p["seed"], "device": device.type, "hidden": HIDDEN, "blocks": BLOCKS, "batch": BATCH,
        "dropout": LABEL_DROPOUT,
    }
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def digits(device):
    import torch
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data / 8.0 - 1.0, dtype=torch.float32, device=device)  # 0..16 -> -1..1
    y = torch.tensor(data.target, dtype=torch.long, device=device)
    return x, y


def network():
    import torch
    from torch import nn

    class Denoiser(nn.Module):
        """ε(x_t, t, class): residual MLP blocks on the flattened image, each block conditioned on
        the time and class embeddings (class 10 is "no class", the unconditional branch).
        `adapters`, when given, adds a correction after each block (cfg_distill's adapters);
        the network's own weights and checkpoint are the same with or without them."""

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

        def forward(self, x, t, label, adapters=None, w=None):
            half = 32
            freqs = torch.exp(-torch.arange(half, device=x.device) * (torch.log(torch.tensor(1000.0)) / half))
            angles = t.float()[:, None] * freqs[None, :]
            cond = self.time(torch.cat([angles.sin(), angles.cos()], dim=1)) + self.label(label)
            h = self.inp(x)
            for i, (block, project) in enumerate(zip(self.blocks, self.cond)):
                h = h + block(h + project(cond))
                if adapters is not None:
                    h = h + adapters(i, h, cond, w)
            return self.out(h)

    return Denoiser()


def noise_schedule(steps: int, device):
    import torch

    betas = torch.linspace(1e-4, 0.02 * 1000 / steps, steps, device=device).clamp(max=0.5)
    alphas = 1.0 - betas
    alpha_bar = torch.cumprod(alphas, dim=0)
    return {"betas": betas, "alphas": alphas, "alpha_bar": alpha_bar, "steps": steps}


def train(ctx, model, schedule, data, labels, device, progress_to: float) -> None:
    """Trains the base network, reporting progress from 0 to `progress_to` %."""
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
            ctx.progress(progress_to * (it + 1) / iterations, f"training {it + 1}/{iterations}")
            if it % (report_every * 5) == 0 or it == iterations - 1:
                ctx.log(f"iteration {it + 1}/{iterations}: loss {loss.item():.4f}")


def cfg_eps(model, w: float):
    """ε of classifier-free guidance at scale w: two network evaluations (batched as one call)."""
    import torch

    def eps(x, t, labels):
        null = torch.full_like(labels, NULL_CLASS)
        both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, null]))
        eps_cond, eps_uncond = both.chunk(2)
        return eps_uncond + w * (eps_cond - eps_uncond)

    eps.evaluations = 2
    return eps


def conditional_eps(model):
    """ε of the conditional model alone (no guidance): one network evaluation."""

    def eps(x, t, labels):
        return model(x, t, labels)

    eps.evaluations = 1
    return eps


def sample(ctx, eps_fn, schedule, n: int, gen, device, record=None):
    """Ancestral DDPM sampling of n images of each digit with the noise prediction `eps_fn`;
    (10n, 64) in [0, 1]. `record(x_t, t, labels, eps)` sees every step (for distillation)."""
    import torch

    betas, alphas, alpha_bar = schedule["betas"], schedule["alphas"], schedule["alpha_bar"]
    labels = torch.arange(10, device=device).repeat_interleave(n)
    x = torch.randn((labels.shape[0], 64), generator=gen, device=device)
    with torch.no_grad():
        for t in reversed(range(schedule["steps"])):
            ctx.check_cancelled()
            tt = torch.full_like(labels, t)
            eps = eps_fn(x, tt, labels)
            if record is not None:
                record(x, tt, labels, eps)
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


def classifier():
    """An SVM on the same digits (about 99% on them): the judge of sample classes."""
    from sklearn.datasets import load_digits
    from sklearn.svm import SVC

    data = load_digits()
    return SVC(gamma=0.001, C=10.0).fit(data.data, data.target)


def accuracy(judge, samples, n: int) -> float:
    """Share of samples the judge reads as the digit they were asked to be."""
    import numpy as np

    wanted = np.repeat(np.arange(10), n)
    return float((judge.predict(samples * 16.0) == wanted).mean())


def diversity(samples, n: int) -> float:
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


def grid_png(samples, n: int) -> bytes:
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
