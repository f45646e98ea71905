"""Comparing runs side by side: parameter diff, metrics table, images next to each other."""

import io
import re

import pytest
from django.urls import reverse
from PIL import Image

from notes.models import Note
from workers.models import Run, Runnable

pytestmark = pytest.mark.django_db


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (3, 3), 0).save(buf, format="PNG")
    return buf.getvalue()


def finished(runnable, params, metrics, owner):
    run = Run.objects.create(runnable=runnable, params=params)
    assert run.claim(owner, "host")
    run.save_artifact(owner, "guidance_sweep.png", png(), "image/png")
    run.finish(owner, Run.SUCCEEDED, metrics=metrics)
    return run


def test_compare_shows_param_diff_metrics_and_images_side_by_side(auth_client, user):
    note = Note.objects.create_note(user, title="Sweep")
    runnable = Runnable.objects.create(note=note, kind="cfg_diffusion", params={})
    a = finished(runnable, {"seed": 1, "guidance_scales": [0.0, 1.0]}, {"accuracy": {"0": 0.1, "1": 0.9}}, "a")
    b = finished(runnable, {"seed": 2, "guidance_scales": [0.0, 1.0]}, {"accuracy": {"0": 0.12, "1": 0.95}}, "b")
    html = auth_client.get(reverse("workers:compare") + f"?runs={a.pk}&runs={b.pk}").content.decode()
    seed_row = re.search(r'<tr class="param differs"><th>seed</th><td>1</td><td>2</td></tr>', html)
    assert seed_row, html
    assert '<tr class="param"><th>guidance_scales</th><td>0, 1</td><td>0, 1</td></tr>' in html
    assert "<th>accuracy 1</th><td>0.9</td><td>0.95</td>" in html
    # The same image of every run in one row, captioned by what it shows and by the run's differing parameter.
    row = re.search(r'<div class="image-row">(.*?)</div>', html, re.S).group(1)
    assert f"/runs/{a.pk}/artifacts/guidance_sweep.png" in row and f"/runs/{b.pk}/artifacts/guidance_sweep.png" in row
    assert f"Run {a.pk} seed=1 · Accuracy and diversity by guidance scale" in row
    # And the metric overlaid in one chart, a line per run.
    chart = re.search(r'<figure class="chart" data-metric="accuracy">(.*?)</figure>', html, re.S).group(1)
    assert chart.count('<g class="series') == 2 and f"Run {b.pk} seed=2" in chart


def test_compare_needs_two_runs(auth_client, user):
    note = Note.objects.create_note(user, title="One")
    run = Run.objects.create(runnable=Runnable.objects.create(note=note, kind="cfg_diffusion", params={}), params={})
    assert "Pick at least two runs" in auth_client.get(reverse("workers:compare") + f"?runs={run.pk}").content.decode()
