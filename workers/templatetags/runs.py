import re

from django import template

from workers.charts import metric_label, run_charts, scalars_of
from workers.panel import panel_context

register = template.Library()


@register.inclusion_tag("workers/_runnables_panel.html", takes_context=True)
def runnables_panel(context, note):
    """The runnables of a note with their recent runs: `{% runnables_panel note %}`."""
    return {**panel_context(note), "csrf_token": context.get("csrf_token"), "request": context.get("request")}


@register.filter
def param_value(value):
    """A parameter as the user typed it: lists comma-separated."""
    if isinstance(value, (list, tuple)):
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return value


@register.filter
def seconds(delta):
    """A timedelta as "12.3 s" or "4 min 05 s"."""
    if delta is None:
        return "—"
    total = delta.total_seconds()
    if total < 60:
        return f"{total:.1f} s"
    minutes, secs = divmod(int(total), 60)
    return f"{minutes} min {secs:02d} s"


@register.filter
def get_item(mapping, key):
    return mapping.get(key)


@register.filter
def in_set(value, collection):
    return value in collection


@register.filter
def metric_value(value):
    """A metric for one line: {"0": 0.1, "1": 0.9} -> "0: 0.1 · 1: 0.9" (nested dicts in parentheses)."""
    if isinstance(value, dict):
        parts = [f"{k}: {metric_value(v)}" for k, v in value.items()]
        return " · ".join(parts) if not any(isinstance(v, dict) for v in value.values()) else "; ".join(
            f"{k} ({metric_value(v)})" for k, v in value.items()
        )
    return param_value(value)


@register.filter
def charts(run):
    """The run's series metrics as charts (workers/charts.py)."""
    return run_charts(run.metrics)


@register.filter
def other_metrics(run):
    """The run's metrics that are not series, for a table (the device is in the status line)."""
    return {name: value for name, value in scalars_of(run.metrics).items() if name != "device"}


@register.filter
def metric_name(name):
    label, unit = metric_label(name)
    return f"{label} ({unit})" if unit else label


@register.filter
def where_ran(run):
    """Where a run ran, in plain words: "on NVIDIA H200 (cuda:0)" or "on CPU: worker cpu@host has no GPU".

    run.device is "cuda:0" or "cpu" with the model in run.device_name; runs recorded before that
    kept both in run.device ("cuda: NVIDIA H200")."""
    device = (run.device or "").strip()
    name = (getattr(run, "device_name", "") or "").strip()
    host = run.worker_host
    if not device:
        return f"on {host}" if host else ""
    if device.lower() == "cpu" or device.lower().startswith("cpu:"):
        return f"on CPU: worker {host or 'the worker'} has no GPU"
    if device.lower().startswith("cuda"):
        head, _, old_name = device.partition(": ")  # the older "cuda: NVIDIA H200"
        index = head.partition(":")[2] or "0"
        where = f"on {name or old_name.strip() or 'a GPU'} (cuda:{index})"
    else:
        where = f"on {name or device}"
    return f"{where} · {host}" if host else where


@register.filter
def peak_memory(run):
    """The run's peak GPU memory as "1.2 GiB" (empty when it did not use a GPU)."""
    size = getattr(run, "peak_memory_bytes", None)
    if not size:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{size} B"
        size /= 1024


_GRID = re.compile(r"^grid_w(?P<w>-?[0-9.]+)\.(png|jpe?g)$")
_FIGURES = {
    "guidance_sweep.png": "Accuracy and diversity by guidance scale",
    "ranks.png": "Rank of each chosen token by guidance scale",
}


@register.filter
def caption(item):
    """What an image shows ("w = 4 · 8 samples per class"), not its file name."""
    match = _GRID.match(item.name)
    if match:
        n = item.run.params.get("samples_per_class")
        per_class = f" · {n} sample{'s' if n != 1 else ''} per class" if n else ""
        return f"w = {match['w']}{per_class}"
    return _FIGURES.get(item.name) or item.name.rsplit(".", 1)[0].replace("_", " ").capitalize()


def artifact_order(item):
    """Grids in the order of their guidance scale, then the rest by name."""
    match = _GRID.match(item.name)
    return (0, float(match["w"]), "") if match else (1, 0.0, item.name)


@register.filter
def images(run):
    return sorted((a for a in run.artifacts.all() if a.is_image), key=artifact_order)


@register.filter
def files(run):
    return [a for a in run.artifacts.all() if not a.is_image]


@register.filter
def index(sequence, position):
    return sequence[position]
