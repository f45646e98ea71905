"""The registry of job kinds a runnable can use.

A job kind is one module in this package that defines `KIND = JobKind(...)`: its name, title,
description, parameter schema, queue, cost limit, an `available()` check, an optional
`capabilities()` and `run(ctx)`.

`available()` and `capabilities()` are asked on the WORKER, never in the web process: a worker
announces in its heartbeat the kinds it can run and what it offers for each (for a kind with a
"model" parameter, `capabilities()` returns {"models": [names]}), and subscribes to one queue per
kind (`gpu.cfg_diffusion`) and per model (`gpu.cfg_text.notes-gpt`). A run is sent to the queue of
its kind and model (`JobKind.route`), so only a worker that can run it ever receives it; the web
app reads the announcements to offer kinds and models.
Modules are discovered by name, so adding a kind touches no other file. A kind's module must
keep heavy imports (torch, transformers, matplotlib) inside `run`, never at its top: the web
process imports every kind to list them and build their forms.
"""

import importlib
import math
import pkgutil
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Callable

LIST_TYPES = {"int_list": int, "float_list": float}
# "model": the name of a model some live worker announces for the kind (picked from a list on the
# form; a plain name, never a path: the worker maps it to its own files).
SCALAR_TYPES = {"int": int, "float": float, "str": str, "text": str, "model": str}
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Param:
    """One parameter of a job kind. `min`/`max` bound numbers (each item of a list);
    `min_len`/`max_len` bound the length of a list, `max_len` the length of a string."""

    name: str
    type: str
    default: Any
    help: str = ""
    label: str = ""
    min: float | None = None
    max: float | None = None
    min_len: int = 0
    max_len: int | None = None

    def __post_init__(self):
        if self.type not in LIST_TYPES and self.type not in SCALAR_TYPES:
            raise ValueError(f"unknown parameter type {self.type!r}")

    @property
    def is_list(self) -> bool:
        return self.type in LIST_TYPES

    @property
    def display_label(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def format(self, value) -> str:
        """The value as a user types it (lists comma-separated)."""
        if self.is_list:
            return ", ".join(_fmt(v) for v in value)
        return _fmt(value) if isinstance(value, (int, float)) else str(value)

    def parse(self, raw) -> Any:
        """A value from a form or the command line (strings) or JSON; ValueError says what is wrong."""
        if self.is_list:
            items = raw if isinstance(raw, (list, tuple)) else [p for p in str(raw).split(",") if p.strip()]
            values = [self._number(LIST_TYPES[self.type], item) for item in items]
            if len(values) < self.min_len:
                raise ValueError(f"give at least {self.min_len} value{'s' if self.min_len != 1 else ''}")
            if self.max_len is not None and len(values) > self.max_len:
                raise ValueError(f"give at most {self.max_len} values")
            if len(set(values)) != len(values):
                raise ValueError("values must not repeat")
            return values
        kind = SCALAR_TYPES[self.type]
        if self.type == "model":
            value = str(raw).strip() if raw is not None else ""
            if not MODEL_NAME.match(value):
                raise ValueError("pick one of the models the workers offer")
            return value
        if kind is str:
            value = str(raw).strip() if raw is not None else ""
            if self.max_len is not None and len(value) > self.max_len:
                raise ValueError(f"at most {self.max_len} characters")
            if len(value) < self.min_len:
                raise ValueError("this parameter is required")
            return value
        return self._number(kind, raw)

    def _number(self, kind, raw):
        if isinstance(raw, bool):
            raise ValueError("expected a number")
        text = str(raw).strip()
        try:
            value = kind(text) if kind is int else float(text)
        except (TypeError, ValueError):
            raise ValueError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None
        if kind is float and not math.isfinite(value):
            raise ValueError("expected a finite number")
        if self.min is not None and value < self.min:
            raise ValueError(f"must be at least {_fmt(self.min)}")
        if self.max is not None and value > self.max:
            raise ValueError(f"must be at most {_fmt(self.max)}")
        return value


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class JobKind:
    name: str
    title: str
    description: str
    params: tuple[Param, ...]
    run: Callable
    queue: str = "gpu"
    # cost(params) in the kind's own units, refused above max_cost; cost_help says what it counts.
    cost: Callable[[dict], float] | None = None
    max_cost: float | None = None
    cost_help: str = ""
    # available() -> (bool, reason shown when False); asked on the worker.
    available: Callable[[], tuple[bool, str]] = field(default=lambda: (True, ""))
    # capabilities() -> what this worker offers for the kind, e.g. {"models": ["notes-gpt"]};
    # announced in the worker's heartbeat. Asked on the worker only when available().
    capabilities: Callable[[], dict] | None = None

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    @property
    def model_param(self) -> Param | None:
        return next((p for p in self.params if p.type == "model"), None)

    def route(self, params: dict) -> str:
        """The queue a run with these parameters goes to: served only by workers that can run it."""
        base = f"{self.queue}.{self.name}"
        model = self.model_param
        if model is None:
            return base
        return f"{base}.{params.get(model.name) or model.default}"

    def worker_offer(self) -> dict | None:
        """On a worker: what it announces for this kind ({} or {"models": [...]}), None when it
        cannot run it here."""
        if not self.available()[0]:
            return None
        offer = dict(self.capabilities() if self.capabilities else {})
        if self.model_param is not None:
            offer["models"] = [m for m in offer.get("models", []) if MODEL_NAME.match(m)]
        return offer

    def worker_queues(self, offer: dict) -> list[str]:
        """The queues a worker that made this offer consumes for the kind."""
        base = f"{self.queue}.{self.name}"
        if self.model_param is None:
            return [base]
        return [f"{base}.{m}" for m in offer.get("models", [])]

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def validate(self, raw: dict) -> tuple[dict, dict[str, list[str]]]:
        """Typed parameters and errors by parameter name ("__all__" for the cost cap).
        A parameter missing from `raw` takes its default; unknown names are errors."""
        values, errors = {}, {}
        for name in set(raw) - {p.name for p in self.params}:
            errors.setdefault("__all__", []).append(f"unknown parameter {name!r}")
        for p in self.params:
            try:
                values[p.name] = p.parse(raw[p.name]) if p.name in raw else p.default
            except ValueError as exc:
                errors.setdefault(p.name, []).append(str(exc))
        if not errors and self.cost and self.max_cost is not None:
            cost = self.cost(values)
            if cost > self.max_cost:
                errors["__all__"] = [
                    f"too expensive: {self.cost_help or 'cost'} is {cost:,.0f}, the limit is {self.max_cost:,.0f}"
                ]
        return values, errors


@cache
def kinds() -> dict[str, JobKind]:
    """Every job kind in this package, by name."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        kind = getattr(module, "KIND", None)
        if isinstance(kind, JobKind):
            found[kind.name] = kind
    return dict(sorted(found.items()))


def get_kind(name: str) -> JobKind | None:
    return kinds().get(name)
