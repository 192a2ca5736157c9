"""What culturescope knows how to run: methods, backends and metrics, built in or added by plugins.

A plugin is an installed package that names a function in the ``culturescope.plugins`` entry-point
group; the function is called once, the first time a registry is read, and registers what it adds
with :func:`register_method`, :func:`register_backend` or :func:`register_metric`.
Parts of a method are named ``"module:attribute"`` and imported only when used, so listing what
exists (``culturescope --help``) stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Callable, Literal

from culturescope.errors import CulturescopeError

if TYPE_CHECKING:
    import numpy as np

    from culturescope.backends import BackboneSpec
    from culturescope.backends.base import Backend

Scoring = Literal["majority", "distribution"]


def resolve(target: str | Callable) -> Any:
    """A ``"module:attribute"`` name → the object (callables pass through)."""
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    obj = import_module(module)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Method:
    """One paper's method.

    ``systems``: the values it writes in the response table's ``system`` column. ``scoring``:
    ``majority`` (one answer per agent against the human majority: Alignment, Diversity) or
    ``distribution`` (answer distributions against the human answer shares). ``commands``: a function
    ``(app) -> None`` that mounts its CLI commands on the ``culturescope`` Typer app. ``score``: a
    function ``(responses, survey, cultures) -> DataFrame`` of long scores (see :mod:`culturescope.api`).
    ``report``: a function ``(responses, survey, cultures, ReportOptions) -> (HTML parts, lines left
    out)``. ``read``: where stored answers are read again from the raw text when scored (a function
    ``(responses, survey, mode) -> responses``); ``run``: the function that makes a run."""

    name: str
    title: str
    systems: tuple[str, ...]
    scoring: Scoring
    commands: str | Callable | None = None
    score: str | Callable | None = None
    report: str | Callable | None = None
    run: str | Callable | None = None
    read: str | Callable | None = None

    def part(self, name: str) -> Any:
        target = getattr(self, name)
        if target is None:
            raise CulturescopeError(f"method {self.name} has no {name}")
        return resolve(target)


@dataclass(frozen=True)
class BackendProvider:
    """How ``PROVIDER:REST`` backbone specs become backends: ``make(spec) -> Backend``; ``parse(rest) ->
    dict`` of :class:`BackboneSpec` fields (default: the model is ``rest``); ``usage``: the spec's form."""

    name: str
    make: str | Callable[[BackboneSpec], Backend]
    usage: str
    parse: str | Callable[[str], dict[str, Any]] | None = None


@dataclass
class _Registry:
    methods: dict[str, Method] = field(default_factory=dict)
    backends: dict[str, BackendProvider] = field(default_factory=dict)
    metrics: dict[str, Callable] = field(default_factory=dict)
    plugins_loaded: bool = False


_REGISTRY = _Registry()
BUILTIN_METHODS = (
    "culturescope.methods.beyond_alignment:METHOD",
    "culturescope.methods.def_simulation:METHOD",
    "culturescope.methods.cultural_palette:METHOD",
)


def register_method(method: Method) -> None:
    """Add a method (its systems are then scored its way, its commands mounted, its report part shown)."""
    taken = {s: m.name for m in _REGISTRY.methods.values() if m.name != method.name for s in m.systems}
    clash = sorted(set(method.systems) & set(taken))
    if clash:
        raise CulturescopeError(f"method {method.name}: system(s) {', '.join(clash)} belong to {taken[clash[0]]}")
    _REGISTRY.methods[method.name] = method


def register_backend(provider: BackendProvider) -> None:
    """Add a backend provider: ``-b NAME:...`` then makes backbones of it."""
    _REGISTRY.backends[provider.name] = provider


def register_metric(name: str, fn: Callable[[np.ndarray, np.ndarray, np.ndarray], float]) -> None:
    """Add a system metric ``fn(X, mu, delta) -> float`` over one system's answers ``X`` (agents ×
    items, NaN = no answer), the human majority ``mu`` and each item's range ``delta``. It is computed,
    beside the paper's Alignment and Diversity, for every majority-scored system (``evaluate``, the
    Python API's ``scores``)."""
    _REGISTRY.metrics[name] = fn


def _ensure_loaded() -> _Registry:
    if not _REGISTRY.plugins_loaded:
        _REGISTRY.plugins_loaded = True
        for target in BUILTIN_METHODS:
            register_method(resolve(target))
        from culturescope.backends import BUILTIN_PROVIDERS

        for provider in BUILTIN_PROVIDERS:
            register_backend(provider)
        for ep in entry_points(group="culturescope.plugins"):
            try:
                ep.load()()
            except Exception as exc:  # a broken plugin is named, not a traceback from deep inside
                raise CulturescopeError(f"plugin {ep.name} ({ep.value}) failed to load: {exc}") from exc
    return _REGISTRY


def methods() -> dict[str, Method]:
    return dict(_ensure_loaded().methods)


def backends() -> dict[str, BackendProvider]:
    return dict(_ensure_loaded().backends)


def metrics() -> dict[str, Callable]:
    return dict(_ensure_loaded().metrics)


def method_of(system: str) -> Method | None:
    """The method that writes ``system`` (None for a system no method claims)."""
    return next((m for m in methods().values() if system in m.systems), None)


def method_for(system: str) -> Method:
    """The method that scores ``system``: the one that claims it, else Beyond Alignment's majority
    scoring (runs imported or made elsewhere hold agents' answers under any system name)."""
    return method_of(system) or methods()["beyond_alignment"]


def systems_scored_by(scoring: Scoring) -> set[str]:
    return {s for m in methods().values() if m.scoring == scoring for s in m.systems}
