from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from lablog.ids import parse_id
from workers.charts import compare_charts
from workers.models import Run
from workers.templatetags.runs import artifact_order, param_value


def flatten(metrics: dict, prefix: str = "") -> dict:
    """{"accuracy": {"0": 0.1}} -> {"accuracy 0": 0.1}: one table row per leaf."""
    flat = {}
    for key, value in metrics.items():
        name = f"{prefix} {key}".strip()
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


@login_required
def compare(request):
    """Two or more of the user's runs side by side: parameters, metrics, images."""
    ids = list(dict.fromkeys(parse_id(i) for i in request.GET.getlist("runs") if i.strip()))
    if None in ids:
        raise Http404("no such run")
    runs = list(Run.objects.for_user(request.user).filter(pk__in=ids).prefetch_related("artifacts"))
    if len(runs) != len(ids):
        raise Http404("no such run")  # another user's run looks like a missing one
    runs.sort(key=lambda r: ids.index(r.pk))
    if len(runs) < 2:
        return render(request, "workers/compare.html", {"runs": runs, "too_few": True})

    def rows(values_per_run):
        names = list(dict.fromkeys(n for values in values_per_run for n in values))
        return [
            {"name": n, "values": [v.get(n, "—") for v in values_per_run],
             "differs": len({repr(v.get(n)) for v in values_per_run}) > 1}
            for n in names
        ]

    param_rows = rows([{"kind": r.kind, **r.params} for r in runs])
    # A run is named in legends by what sets it apart: the parameters that differ.
    differing = [row["name"] for row in param_rows if row["differs"]]
    labels = [
        " ".join([f"Run {r.pk}"] + [f"{n}={param_value(r.params.get(n, r.kind if n == 'kind' else '—'))}" for n in differing])
        for r in runs
    ]
    # The image artifacts by name (one row per guidance scale: every w = 4 grid side by side).
    images = {}
    for index, run in enumerate(runs):
        for item in sorted(run.artifacts.all(), key=artifact_order):
            if item.is_image:
                images.setdefault(item.name, [None] * len(runs))[index] = item
    return render(request, "workers/compare.html", {
        "runs": runs,
        "run_labels": labels,
        "param_rows": param_rows,
        "metric_rows": rows([flatten(r.metrics) for r in runs]),
        "charts": compare_charts(runs, labels),
        "image_rows": list(images.values()),
    })
