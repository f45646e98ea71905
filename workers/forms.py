from django import forms

from workers.jobs import JobKind, Param
from workers.liveness import alive_workers, announced_models


def _widget(param: Param):
    attrs = {"placeholder": param.format(param.default)} if param.is_list else {}
    if param.type in ("int", "float"):
        attrs = {"step": "1" if param.type == "int" else "any"}
        if param.min is not None:
            attrs["min"] = param.format(param.min)
        if param.max is not None:
            attrs["max"] = param.format(param.max)
        return forms.NumberInput(attrs=attrs)
    if param.type == "text":
        return forms.Textarea(attrs={"rows": 2})
    return forms.TextInput(attrs=attrs)


def model_choices(kind: JobKind, param: Param, workers, current: str) -> list[tuple[str, str]]:
    """The models live workers announce for the kind, plus the kind's default (every worker that
    runs the kind has it) and the current value, labelled when no live worker has it."""
    offered = announced_models(kind.name, workers)
    names = list(dict.fromkeys([*offered, param.default, *([current] if current else [])]))
    return [(n, n if n in offered else f"{n} (no live worker has it now)") for n in names if n]


class ParamsForm(forms.Form):
    """A form generated from a job kind's parameter schema. Every field is text as typed
    (lists comma-separated); the schema's own parser checks types, ranges, lengths and
    the kind's cost cap, the same check the command line and the worker make."""

    def __init__(self, kind: JobKind, *args, params: dict | None = None, workers: list[dict] | None = None, **kwargs):
        values = {**kind.defaults(), **(params or {})}
        kwargs.setdefault("initial", {p.name: p.format(values[p.name]) for p in kind.params})
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.params: dict = {}
        for p in kind.params:
            help_text = p.help + (" Comma-separated." if p.is_list and "omma" not in p.help else "")
            if p.type == "model":
                workers = alive_workers() if workers is None else workers
                self.fields[p.name] = forms.ChoiceField(
                    label=p.display_label, help_text=help_text,
                    choices=model_choices(kind, p, workers, values[p.name]),
                )
                continue
            self.fields[p.name] = forms.CharField(
                label=p.display_label, help_text=help_text, widget=_widget(p),
                required=not (p.type == "str" and p.min_len == 0), strip=True,
            )

    def clean(self):
        cleaned = super().clean()
        raw = {name: value for name, value in cleaned.items() if name not in self.errors}
        values, errors = self.kind.validate(raw)
        for name, messages in errors.items():
            if name == "__all__" and self.errors:
                continue  # the cost is only meaningful once every field is valid
            for message in messages:
                self.add_error(None if name == "__all__" else name, message)
        self.params = values
        return cleaned
