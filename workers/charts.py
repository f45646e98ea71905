"""Charts of a run's metrics, drawn as SVG on the server.

Why SVG from the server rather than a JavaScript chart library: the run card is re-rendered by
htmx polling every second, so a chart that is plain markup grows live with no client code to
re-initialise; it needs nothing from a CDN, passes a strict Content-Security-Policy (no script
at all), prints, and takes its colours from the stylesheet, so dark mode is one set of CSS
variables. Hover and keyboard focus show a point's value (CSS, plus an SVG <title>).

The metrics convention (workers/jobs/*): `run.metrics` is a dict; a metric whose value maps
parameter values written as strings ("0", "1.5", "4") to numbers is a series keyed by that
parameter (cfg_diffusion's accuracy and diversity by guidance scale); a metric whose value maps
names to such series is one line per name (cfg_text's ranks per guidance rule). Anything else
is a scalar, shown in the table of other metrics.
"""

import math
from dataclasses import dataclass, field

# What a metric is, for axes and legends. A name not listed gets a readable default
# ("mean_rank_pos" -> "Mean rank pos", no unit).
METRICS = {
    "accuracy": ("Accuracy", "share of samples the judge reads as the intended class"),
    "diversity": ("Diversity", "mean pairwise pixel distance within a class"),
    "max_rank_pos": ("Worst rank of a chosen token", "rank under the unguided prompt, 1 = most likely"),
    "mean_rank_pos": ("Mean rank of the chosen tokens", "rank under the unguided prompt, 1 = most likely"),
    "tokens_far_down_both_lists_top100": ("Tokens from far down both lists", "tokens ranked below 100 by both prompts"),
    "loss": ("Loss", ""),
    # cfg_text, one chart per quantity with a line per guidance rule (their names end in _log / _prob)
    "next_token_top1_rank_positive": ("Rank of the guided top token", "under the positive prompt alone, 1 = most likely"),
    "next_token_top1_p_positive": ("Probability of the guided top token", "under the positive prompt alone"),
    "next_token_mass_outside_positive_top10": ("Guided probability outside the positive top 10", "probability"),
    "next_token_entropy_bits": ("Entropy of the guided next token", "bits"),
    "generated_max_rank_positive": ("Worst rank of a generated token", "under the positive prompt, 1 = most likely"),
    "generated_tokens_far_down_both": ("Generated tokens from far down both lists", "ranked below 100 by both prompts"),
    # cfg_distill, one chart per quantity with a line per method (names end in _cfg / _distilled / _conditional)
    "calls_per_sample": ("Network calls per sample", "forward passes over a whole sample"),
    "seconds_per_sample": ("Time per sample", "s"),
    "distance_to_cfg": ("Distance to the CFG sample", "mean pixel distance from the same noise"),
}
# The parameter a series is keyed by (every job kind sweeps the guidance scale today).
X_AXIS = ("guidance scale w", "")
# Groups of lines inside one metric (cfg_text's rules).
GROUPS = {
    "log": "log rule",
    "prob": "probability rule",
    # cfg_distill: guided against distilled against the plain conditional model, in one chart
    "cfg": "CFG (2 calls a step)",
    "distilled": "distilled (1 call a step)",
    "conditional": "unguided (1 call a step)",
}

WIDTH, HEIGHT = 360, 220  # near the size it is shown at (two per row), so its type stays readable
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 14, 40
INSET = 8
SERIES_COLOURS = 6  # .series-0 … .series-5 in lablog.css


def metric_label(name: str) -> tuple[str, str]:
    """(label, unit) of a metric name."""
    if name in METRICS:
        return METRICS[name]
    return name.replace("_", " ").strip().capitalize(), ""


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _is_series(value) -> bool:
    return isinstance(value, dict) and bool(value) and all(_number(v) is not None for v in value.values())


def _is_group(value) -> bool:
    return isinstance(value, dict) and bool(value) and all(_is_series(v) for v in value.values())


def _grouped(name: str) -> tuple[str, str]:
    """"entropy_log" -> ("entropy", "log"): a series named for a group joins its siblings' chart."""
    base, _, suffix = name.rpartition("_")
    return (base, suffix) if base and suffix in GROUPS else (name, "")


def series_of(metrics: dict) -> dict[str, dict[str, dict]]:
    """{metric name: {line name ("" for a single line): {x key: y}}} for every chartable metric."""
    found = {}
    for name, value in (metrics or {}).items():
        if _is_series(value):
            base, group = _grouped(name)
            found.setdefault(base, {})[group] = value
        elif _is_group(value):
            found[name] = dict(value)
    return found


def charted_names(metrics: dict) -> set[str]:
    """The metric names drawn as charts (so the table of other metrics leaves them out)."""
    return {name for name, value in (metrics or {}).items() if _is_series(value) or _is_group(value)}


def scalars_of(metrics: dict) -> dict:
    """The metrics that are not series (numbers, text), for a plain table."""
    charted = charted_names(metrics)
    return {name: value for name, value in (metrics or {}).items() if name not in charted}


def _x_value(key: str):
    try:
        return float(key)
    except (TypeError, ValueError):
        return None


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 times a power of ten apart)."""
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 0.001:
        return f"{value:.3g}"
    return f"{value:.4g}"


@dataclass
class Line:
    label: str
    colour: int
    points: list = field(default_factory=list)  # dicts: key, x, y, value, cx, cy, text
    path: str = ""


@dataclass
class Chart:
    name: str
    title: str
    unit: str
    x_label: str
    lines: list
    x_ticks: list
    y_ticks: list
    keys: list  # x keys in order, for the table beneath
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM

    @property
    def rows(self):
        """The table beneath: one row per parameter value, one cell per line."""
        by_line = [{p["key"]: p["text"] for p in line.points} for line in self.lines]
        return [{"key": key, "values": [values.get(key, "—") for values in by_line]} for key in self.keys]

    @property
    def point_count(self) -> int:
        return sum(len(line.points) for line in self.lines)


def build_chart(name: str, lines: list[tuple[str, dict]]) -> Chart | None:
    """A chart of one metric: `lines` is [(legend label, {x key: y})]. None when nothing to draw."""
    title, unit = metric_label(name)
    keys = list(dict.fromkeys(k for _, values in lines for k in values))
    if not keys:
        return None
    numeric = all(_x_value(k) is not None for k in keys)
    if numeric:
        keys.sort(key=_x_value)
        xs = {k: _x_value(k) for k in keys}
    else:
        xs = {k: float(i) for i, k in enumerate(keys)}  # categories, evenly spaced
    ys = [_number(v) for _, values in lines for v in values.values()]
    ys = [y for y in ys if y is not None]
    if not ys:
        return None
    x_lo, x_hi = min(xs.values()), max(xs.values())
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    y_ticks = nice_ticks(min(0.0, min(ys)), max(ys))  # from zero: a bar of honesty about scale
    y_lo, y_hi = y_ticks[0], y_ticks[-1]
    x_ticks_values = nice_ticks(x_lo, x_hi, 6) if numeric else list(xs.values())
    if numeric:
        x_lo, x_hi = min(x_lo, x_ticks_values[0]), max(x_hi, x_ticks_values[-1])

    def px(x):  # an inset of INSET px keeps end points off the axes
        return LEFT + INSET + (x - x_lo) / (x_hi - x_lo) * (WIDTH - RIGHT - LEFT - 2 * INSET)

    def py(y):
        return HEIGHT - BOTTOM - (y - y_lo) / ((y_hi - y_lo) or 1) * (HEIGHT - BOTTOM - TOP)

    chart_lines = []
    for index, (label, values) in enumerate(lines):
        line = Line(label=label, colour=index % SERIES_COLOURS)
        for key in keys:
            y = _number(values.get(key))
            if y is None:
                continue
            line.points.append({
                "key": key, "x": xs[key], "y": y, "text": _fmt(y),
                "cx": round(px(xs[key]), 1), "cy": round(py(y), 1),
            })
        line.path = " ".join(f"{'M' if i == 0 else 'L'}{p['cx']},{p['cy']}" for i, p in enumerate(line.points))
        chart_lines.append(line)
    if numeric:
        x_ticks = [{"label": _fmt(v), "pos": round(px(v), 1)} for v in x_ticks_values if x_lo <= v <= x_hi]
    else:
        x_ticks = [{"label": k, "pos": round(px(xs[k]), 1)} for k in keys]
    return Chart(
        name=name, title=title, unit=unit, x_label=X_AXIS[0], lines=chart_lines, keys=keys,
        x_ticks=x_ticks, y_ticks=[{"label": _fmt(v), "pos": round(py(v), 1)} for v in y_ticks],
    )


def _line_label(group: str) -> str:
    return GROUPS.get(group, group)


def run_charts(metrics: dict) -> list[Chart]:
    """One chart per series metric of a run, in the order the job recorded them."""
    charts = []
    for name, groups in series_of(metrics).items():
        chart = build_chart(name, [(_line_label(group), values) for group, values in groups.items()])
        if chart:
            charts.append(chart)
    return charts


def compare_charts(runs: list, labels: list[str]) -> list[Chart]:
    """One chart per metric any of the runs has, a line per run (and per group inside it)."""
    names = list(dict.fromkeys(n for run in runs for n in series_of(run.metrics)))
    charts = []
    for name in names:
        lines = []
        for run, label in zip(runs, labels):
            for group, values in series_of(run.metrics).get(name, {}).items():
                lines.append((f"{label} · {_line_label(group)}" if group else label, values))
        chart = build_chart(name, lines)
        if chart:
            charts.append(chart)
    return charts
