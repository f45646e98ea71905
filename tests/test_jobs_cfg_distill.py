"""cfg_distill end to end: adapters distilled from cfg_diffusion's cached digits DDPM reproduce
guided sampling in one network call a step, on a real worker, results on the note."""

import re

import pytest
from django.urls import reverse

from notes.models import Note
from tests.waiting import wait_for_run_end
from workers.jobs import get_kind
from workers.models import Run, Runnable

# Training demos: run once, in the PostgreSQL pass of `make test` (they do not depend on the database engine).
pytestmark = pytest.mark.jobs

BASE = {"diffusion_steps": "40", "training_iterations": "600", "seed": "1"}
DISTILL = {**BASE, "guidance_scales": "2, 4", "trajectories_per_digit": "10", "adapter_iterations": "300",
           "samples_per_class": "6"}


@pytest.mark.worker
def test_distilled_adapters_match_guided_accuracy_at_half_the_network_calls(auth_client, user, celery_worker, tmp_path):
    note = Note.objects.create_note(user, title="AGD on digits")
    worker = celery_worker(queues=["gpu"], extra_env={"RUNS_CACHE_DIR": str(tmp_path)})
    add = reverse("workers:runnable_add", args=[note.pk])
    # cfg_diffusion trains the base and caches it; cfg_distill distils that very network.
    auth_client.post(add, {"kind": "cfg_diffusion", "run": "1", **BASE, "guidance_scales": "3",
                           "samples_per_class": "2"})
    base_run = wait_for_run_end(Runnable.objects.get(note=note, kind="cfg_diffusion").runs.get(), worker)
    assert base_run.status == Run.SUCCEEDED, base_run.error
    response = auth_client.post(add, {"kind": "cfg_distill", "run": "1", **DISTILL})
    assert response.status_code == 302
    run = wait_for_run_end(Runnable.objects.get(note=note, kind="cfg_distill").runs.get(), worker)
    assert run.status == Run.SUCCEEDED, f"{run.error}\n{run.traceback}\n{worker.log()}"
    assert "reused checkpoint" in run.log and "iteration 600/600" not in run.log

    m = run.metrics
    for w in ("2", "4"):
        # The paper's claim in miniature: guided quality in one call a step instead of two.
        assert m["accuracy_cfg"][w] >= 0.9
        assert m["accuracy_distilled"][w] >= m["accuracy_cfg"][w] - 0.05, m
        assert m["calls_per_sample_cfg"][w] == 2 * 40 and m["calls_per_sample_distilled"][w] == 40
        # It is the adapters that follow CFG: from the same noise, the distilled samples land far
        # closer to the guided ones than the plain conditional model's (also one call a step).
        assert m["distance_to_cfg_distilled"][w] < 0.5 * m["distance_to_cfg_conditional"][w], m
        assert m["seconds_per_sample_distilled"][w] > 0 and m["diversity_distilled"][w] > 0
    assert 1 < m["adapter_parameters_percent"] < 10

    names = set(run.artifacts.values_list("name", flat=True))
    assert {"grid_w2_cfg.png", "grid_w2_distilled.png", "grid_w2_side_by_side.png", "grid_w4_side_by_side.png",
            "distillation.png", "metrics.csv", "metrics.json"} <= names
    image = auth_client.get(reverse("workers:artifact", args=[run.pk, "grid_w4_side_by_side.png"]))
    assert image["Content-Type"] == "image/png" and image.content.startswith(b"\x89PNG")
    page = auth_client.get(reverse("workers:run", args=[run.pk])).content.decode()
    # One chart per quantity, CFG against distilled (and the unguided baseline) as its lines.
    accuracy = re.search(r'<figure class="chart" data-metric="accuracy">.*?</figure>', page, re.S).group(0)
    assert "CFG (2 calls a step)" in accuracy and "distilled (1 call a step)" in accuracy
    assert 'data-metric="calls_per_sample"' in page


def test_the_cost_cap_counts_every_phase():
    kind = get_kind("cfg_distill")
    values, errors = kind.validate({})
    assert not errors, errors  # the defaults are allowed
    _, errors = kind.validate({"trajectories_per_digit": 500, "adapter_iterations": 50_000})
    assert "too expensive" in errors["__all__"][0]
