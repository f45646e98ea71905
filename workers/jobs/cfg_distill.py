"""cfg_distill: adapter guidance distillation (AGD) of the digits DDPM of cfg_diffusion.

Classifier-free guidance evaluates the network twice per sampling step (conditional and
unconditional). "Efficient Distillation of Classifier-Free Guidance using Adapters" trains
small adapters on the frozen base model, on CFG-guided sampling trajectories, so that one
forward pass with the adapters reproduces the guided prediction at any guidance scale. Here:
- the base is cfg_diffusion's network for the same diffusion steps, iterations and seed (its
  cached checkpoint is reused, or trained and cached);
- guided trajectories are sampled with CFG at scales drawn from the range of the evaluated
  scales, recording (x_t, t, digit, w) and the guided ε at every step;
- one bottleneck adapter after each residual block, fed the block's output, the time and class
  embedding and the scale w, its output scaled by (w − 1) so that w = 1 is the plain
  conditional model; only the adapters are trained (the base stays frozen);
- for each scale, CFG and the distilled model sample from the same noise and are judged alike:
  class accuracy, diversity, network evaluations per sample and wall time per sample; the
  unguided conditional model (also one call a step) is the baseline the adapters must beat,
  and the mean distance of each one-call method's samples to CFG's shows how closely the
  distilled model follows the guided trajectories.
"""

from workers.jobs import JobKind, Param
from workers.jobs._digits import BASE_PARAMS, BATCH, SEED_PARAM

ADAPTER_RANK = 16
ADAPTER_BATCH = 256
W_FEATURES = 8


def cost(p: dict) -> float:
    # Network evaluations in thousands of samples: base training, the guided trajectories (two
    # branches), adapter training (forward and backward, about 3 evaluations) and the evaluation
    # sampling (CFG: 2 per step, distilled: 1).
    training = p["training_iterations"] * BATCH
    trajectories = p["trajectories_per_digit"] * 10 * p["diffusion_steps"] * 2
    adapters = p["adapter_iterations"] * ADAPTER_BATCH * 3
    sampling = p["diffusion_steps"] * len(p["guidance_scales"]) * p["samples_per_class"] * 10 * 3
    return (training + trajectories + adapters + sampling) / 1000


def run(ctx) -> None:
    import time

    import numpy as np
    import torch

    from workers.jobs import _digits

    p = ctx.params
    device = ctx.torch_device()
    ctx.log(f"device {ctx.device_label}")
    base, schedule = _digits.load_or_train(ctx, p, device, progress_to=35)
    scales = p["guidance_scales"]
    w_range = (min(scales), max(scales))

    ctx.progress(36, "sampling guided trajectories")
    started = time.perf_counter()
    examples = _guided_trajectories(ctx, base, schedule, w_range, p, device)
    ctx.log(f"{examples['x'].shape[0]:,} guided steps from {p['trajectories_per_digit'] * 10} trajectories, "
            f"w in [{w_range[0]:g}, {w_range[1]:g}], in {time.perf_counter() - started:.1f} s")

    adapters = _adapters().to(device)
    base_size = sum(q.numel() for q in base.parameters())
    adapter_size = sum(q.numel() for q in adapters.parameters())
    ctx.log(f"adapters: {adapter_size:,} parameters, {100 * adapter_size / base_size:.1f}% of the base's {base_size:,}")
    _train_adapters(ctx, base, adapters, examples, p, device)

    judge = _digits.classifier()
    n = p["samples_per_class"]
    metrics = {name: {} for name in (
        "accuracy_cfg", "accuracy_distilled", "diversity_cfg", "diversity_distilled",
        "calls_per_sample_cfg", "calls_per_sample_distilled", "seconds_per_sample_cfg",
        "seconds_per_sample_distilled", "accuracy_conditional", "distance_to_cfg_distilled",
        "distance_to_cfg_conditional",
    )}
    adapters.eval()
    grids = {}
    for i, w in enumerate(scales):
        key = _digits.scale_key(w)
        ctx.progress(80 + 18 * i / len(scales), f"sampling w={key}")
        methods = {
            "cfg": _digits.cfg_eps(base, w), "distilled": _distilled_eps(base, adapters, w),
            "conditional": _digits.conditional_eps(base),
        }
        samples = {}
        for method, eps_fn in methods.items():
            # The same noise for every method: the grids differ only by how ε is computed.
            gen = torch.Generator(device=device).manual_seed(_digits.scale_seed(p["seed"], w))
            started = time.perf_counter()
            samples[method] = _digits.sample(ctx, eps_fn, schedule, n, gen, device)
            seconds = time.perf_counter() - started
            metrics[f"accuracy_{method}"][key] = round(_digits.accuracy(judge, samples[method], n), 4)
            if method != "conditional":
                metrics[f"diversity_{method}"][key] = round(_digits.diversity(samples[method], n), 4)
                metrics[f"calls_per_sample_{method}"][key] = eps_fn.evaluations * schedule["steps"]
                metrics[f"seconds_per_sample_{method}"][key] = round(seconds / (10 * n), 6)
                grids[method] = _digits.grid_png(samples[method], n)
                ctx.save_artifact(f"grid_w{key}_{method}.png", grids[method], "image/png")
        for method in ("distilled", "conditional"):
            distance = np.sqrt(((samples[method] - samples["cfg"]) ** 2).sum(1)).mean()
            metrics[f"distance_to_cfg_{method}"][key] = round(float(distance), 4)
        ctx.save_artifact(f"grid_w{key}_side_by_side.png", _side_by_side(grids["cfg"], grids["distilled"]), "image/png")
        ctx.log(
            f"w={key}: accuracy CFG {metrics['accuracy_cfg'][key]:.3f} / distilled "
            f"{metrics['accuracy_distilled'][key]:.3f} "
            f"(unguided one call: {metrics['accuracy_conditional'][key]:.3f}), "
            f"distance to CFG samples {metrics['distance_to_cfg_distilled'][key]:.3f} (unguided: "
            f"{metrics['distance_to_cfg_conditional'][key]:.3f}), diversity {metrics['diversity_cfg'][key]:.3f} / "
            f"{metrics['diversity_distilled'][key]:.3f}, calls {metrics['calls_per_sample_cfg'][key]} / "
            f"{metrics['calls_per_sample_distilled'][key]}, ms per sample "
            f"{1000 * metrics['seconds_per_sample_cfg'][key]:.2f} / "
            f"{1000 * metrics['seconds_per_sample_distilled'][key]:.2f}"
        )
        # After each scale, so the run's chart grows while the sweep goes on.
        ctx.set_metrics({**metrics, "adapter_parameters_percent": round(100 * adapter_size / base_size, 2),
                         "device": ctx.device_label})

    ctx.progress(98, "plotting")
    ctx.save_figure("distillation.png", _figure(scales, metrics))
    ctx.save_csv(
        "metrics.csv", ["guidance_scale", *metrics],
        [[_digits.scale_key(w), *(metrics[m][_digits.scale_key(w)] for m in metrics)] for w in scales],
    )
    ctx.save_json("metrics.json", ctx.metrics)


def _guided_trajectories(ctx, base, schedule, w_range, p, device) -> dict:
    """Every step of CFG sampling runs, each sample at its own scale drawn uniformly from
    w_range: inputs (x_t, t, digit, w) and the guided ε the adapters must reproduce."""
    import torch

    from workers.jobs import _digits

    n = p["trajectories_per_digit"]
    gen = torch.Generator(device=device).manual_seed(_digits.scale_seed(p["seed"], -1.0))
    w = w_range[0] + (w_range[1] - w_range[0]) * torch.rand((10 * n, 1), generator=gen, device=device)
    steps = {"x": [], "t": [], "label": [], "w": [], "eps": []}

    def record(x, t, labels, eps):
        for name, value in zip(steps, (x, t, labels, w[:, 0], eps)):
            steps[name].append(value)

    _digits.sample(ctx, _digits.cfg_eps(base, w), schedule, n, gen, device, record=record)
    return {name: torch.cat(values) for name, values in steps.items()}


def _adapters():
    import torch
    from torch import nn

    from workers.jobs._digits import BLOCKS, HIDDEN

    class Adapters(nn.Module):
        """One bottleneck adapter per residual block of the base: HIDDEN → rank → HIDDEN, fed
        the block's output, the block's conditioning (time and class) and Fourier features of w.
        The up-projection starts at zero (the adapted model starts as the conditional model)
        and the output is scaled by (w − 1), the direction guidance moves ε in."""

        def __init__(self):
            super().__init__()
            self.down = nn.ModuleList(nn.Linear(HIDDEN, ADAPTER_RANK) for _ in range(BLOCKS))
            self.cond = nn.ModuleList(nn.Linear(HIDDEN, ADAPTER_RANK, bias=False) for _ in range(BLOCKS))
            self.scale = nn.Linear(2 * W_FEATURES, ADAPTER_RANK, bias=False)
            self.up = nn.ModuleList(nn.Linear(ADAPTER_RANK, HIDDEN) for _ in range(BLOCKS))
            for up in self.up:
                nn.init.zeros_(up.weight)
                nn.init.zeros_(up.bias)

        def forward(self, i, h, cond, w):
            freqs = torch.arange(1, W_FEATURES + 1, device=h.device, dtype=h.dtype) * 0.5
            angles = w[:, None] * freqs[None, :]
            z = self.down[i](h) + self.cond[i](cond) + self.scale(torch.cat([angles.sin(), angles.cos()], dim=1))
            return (w[:, None] - 1.0) * self.up[i](nn.functional.silu(z))

    return Adapters()


def _train_adapters(ctx, base, adapters, examples, p, device) -> None:
    """Regress the adapted network's one-pass ε onto the guided ε; the base gets no gradient."""
    import torch

    gen = torch.Generator(device=device).manual_seed(p["seed"])
    iterations = p["adapter_iterations"]
    optimizer = torch.optim.AdamW(adapters.parameters(), lr=3e-3, weight_decay=0.0)
    lr_schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=iterations, pct_start=0.1)
    size = examples["x"].shape[0]
    adapters.train()
    report_every = max(1, iterations // 20)
    for it in range(iterations):
        idx = torch.randint(0, size, (ADAPTER_BATCH,), generator=gen, device=device)
        predicted = base(examples["x"][idx], examples["t"][idx], examples["label"][idx], adapters, examples["w"][idx])
        loss = torch.nn.functional.mse_loss(predicted, examples["eps"][idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        lr_schedule.step()
        ctx.check_cancelled()
        if it % report_every == 0 or it == iterations - 1:
            ctx.progress(40 + 40 * (it + 1) / iterations, f"training adapters {it + 1}/{iterations}")
            if it % (report_every * 5) == 0 or it == iterations - 1:
                ctx.log(f"adapter iteration {it + 1}/{iterations}: loss {loss.item():.5f}")


def _distilled_eps(base, adapters, w: float):
    """ε of the distilled model: one network evaluation with the adapters at scale w."""
    import torch

    def eps(x, t, labels):
        return base(x, t, labels, adapters, torch.full((x.shape[0],), float(w), device=x.device))

    eps.evaluations = 1
    return eps


def _side_by_side(cfg_png: bytes, distilled_png: bytes) -> bytes:
    """The CFG grid and the distilled grid of one scale, left and right, 12 pixels apart."""
    import io

    from PIL import Image

    left, right = Image.open(io.BytesIO(cfg_png)), Image.open(io.BytesIO(distilled_png))
    canvas = Image.new("L", (left.width + 12 + right.width, max(left.height, right.height)), 255)
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width + 12, 0))
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    return buf.getvalue()


def _figure(scales, metrics):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [f"{w:g}" for w in scales]
    fig, (acc, speed) = plt.subplots(1, 2, figsize=(10, 3.5))
    for method, style in (("cfg", "o-"), ("distilled", "s--")):
        label = "CFG (2 calls a step)" if method == "cfg" else "distilled (1 call a step)"
        acc.plot(scales, [metrics[f"accuracy_{method}"][k] for k in keys], style, label=label)
        speed.plot(scales, [1000 * metrics[f"seconds_per_sample_{method}"][k] for k in keys], style, label=label)
    acc.set_xlabel("guidance scale w")
    acc.set_ylabel("class accuracy")
    acc.set_ylim(0, 1.02)
    acc.legend(fontsize="small")
    speed.set_xlabel("guidance scale w")
    speed.set_ylabel("ms of sampling per sample")
    speed.set_ylim(bottom=0)
    fig.suptitle("Adapter guidance distillation: one network call per step instead of two")
    fig.tight_layout()
    return fig


KIND = JobKind(
    name="cfg_distill",
    title="Guidance distillation with adapters (AGD) on digits",
    description=(
        "Distils classifier-free guidance of cfg_diffusion's digits DDPM (its cached checkpoint for the "
        "same steps, iterations and seed) into small adapters conditioned on the guidance scale, trained "
        "on CFG-guided trajectories with the base frozen; then compares CFG and the distilled model at "
        "each scale: class accuracy, diversity, network calls and time per sample, grids side by side."
    ),
    params=(
        *BASE_PARAMS,
        Param(
            "guidance_scales", "float_list", [1.5, 2.0, 3.0, 5.0],
            "Comma-separated guidance scales w to compare; the adapters learn the range between the "
            "smallest and the largest.", min=0, max=20, min_len=1, max_len=10,
        ),
        Param("trajectories_per_digit", "int", 40, "Guided sampling runs per digit to learn from.", min=1, max=500),
        Param("adapter_iterations", "int", 1500, "Optimizer steps of 256 guided steps each.", min=10, max=50_000),
        Param("samples_per_class", "int", 10, "Samples of each digit at each scale and method.", min=2, max=100),
        SEED_PARAM,
    ),
    run=run,
    queue="gpu",
    cost=cost,
    max_cost=4_000,
    cost_help="thousands of network evaluations (base training, trajectories, adapter training, sampling)",
)
