"""A note with a finished guidance sweep (runs with metrics and real image artifacts), for the
lab-notebook page tests and screenshots."""

import io

import numpy as np
from PIL import Image

from notes.models import Note, Paper, Snippet
from workers.models import Run, Runnable

SCALES = [0.0, 1.0, 2.0, 4.0]
BODY = """Classifier-free guidance trades diversity for fidelity: the sweep below measures both.

The guided noise is $\\tilde\\epsilon = \\epsilon_u + w\\,(\\epsilon_c - \\epsilon_u)$.

```python
def guided(eps_c, eps_u, w):
    return eps_u + w * (eps_c - eps_u)  # a long comment that would push a phone screen sideways if code did not scroll
```

| w | accuracy | diversity | a wide column header that does not fit a phone |
|--:|--:|--:|---|
| 0 | 0.12 | 1.52 | unguided |
| 4 | 1.00 | 1.17 | sharp but samey |

- [x] train the denoiser
- [ ] sweep w from 0 to 8
- [ ] compare seeds

![sweep](run:RUN/guidance_sweep.png)
"""


def png(width=200, height=120, seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray((rng.random((height, width)) * 255).astype(np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def grid_png(samples, n: int) -> bytes:
    """Ten rows of n 8x8 digits-like tiles scaled 4x, as cfg_diffusion draws its grids."""
    cell = 34
    canvas = np.full((10 * cell, n * cell), 255, dtype=np.uint8)
    for i, img in enumerate(samples):
        r, c = divmod(i, n)
        tile = (255 - img.reshape(8, 8) * 255).astype(np.uint8).repeat(4, 0).repeat(4, 1)
        canvas[r * cell + 1:r * cell + 33, c * cell + 1:c * cell + 33] = tile
    buf = io.BytesIO()
    Image.fromarray(canvas, mode="L").save(buf, format="PNG")
    return buf.getvalue()


def sweep_metrics(seed: int, scales=SCALES) -> dict:
    accuracy = {f"{w:g}": round(min(1.0, 0.12 + 0.4 * w + 0.01 * seed), 4) for w in scales}
    diversity = {f"{w:g}": round(1.55 - 0.09 * w - 0.01 * seed, 4) for w in scales}
    return {"accuracy": accuracy, "diversity": diversity, "device": "cpu"}


def finished_run(runnable, *, seed: int, scales=SCALES, samples=4, host="cpu@lab", device="cpu") -> Run:
    params = {**runnable.params, "seed": seed, "guidance_scales": scales, "samples_per_class": samples}
    run = Run.objects.create(runnable=runnable, params=params)
    owner = f"test-{seed}"
    assert run.claim(owner, host)
    rng = np.random.default_rng(seed)
    for w in scales:
        run.save_artifact(owner, f"grid_w{w:g}.png", grid_png(rng.random((10 * samples, 64)), samples), "image/png")
    run.save_artifact(owner, "guidance_sweep.png", png(seed=seed), "image/png")
    run.save_artifact(owner, "metrics.csv", b"guidance_scale,accuracy\n0,0.1\n", "text/csv")
    run.finish(owner, Run.SUCCEEDED, metrics=sweep_metrics(seed, scales), device=device,
               log="iteration 1/80: loss 0.98\nw=0: accuracy 0.120, diversity 1.520\n")
    return Run.objects.get(pk=run.pk)


def lab_note(user, runs=3) -> tuple[Note, list[Run]]:
    paper = Paper.objects.create(user=user, title="Classifier-Free Diffusion Guidance", arxiv_id="2207.12598")
    for i in range(12):
        Paper.objects.create(user=user, title=f"A paper about guidance number {i}")
    note = Note.objects.create_note(user, title="CFG sweep on digits", body="draft", tags=["cfg", "diffusion"], paper=paper)
    runnable = Runnable.objects.create(note=note, kind="cfg_diffusion", params={
        "diffusion_steps": 50, "training_iterations": 800, "guidance_scales": SCALES, "samples_per_class": 4, "seed": 0,
    })
    made = [finished_run(runnable, seed=seed) for seed in range(runs)]
    note = note.apply_edit(base_version=note.version, title=note.title, body=BODY.replace("RUN", str(made[0].pk)))
    Snippet.objects.create(note=note, kind="quote", text="Guidance trades diversity for fidelity.", locator="p. 3")
    for i in range(4):
        Note.objects.create_note(user, title=f"Log entry {i}", body=f"Thought {i} about the guidance sweep.", tags=["log"])
    return note, made
