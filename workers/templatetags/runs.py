from django import template

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
