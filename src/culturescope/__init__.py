"""culturescope: how LLM agents, alone or as multicultural systems, represent the values of human
cultures — alignment with each country's survey answers and diversity among the agents.

The Python API (imported on first use, so ``import culturescope`` stays light):
``run()``, ``load_run()``, ``score()``, ``report()``, ``Results``; and ``register_method()``,
``register_backend()``, ``register_metric()`` with ``Method`` and ``BackendProvider`` for extensions.
"""

__version__ = "0.1.0"

_API = {
    "run": "api",
    "load_run": "api",
    "score": "api",
    "report": "api",
    "Results": "api",
    "register_method": "registry",
    "register_backend": "registry",
    "register_metric": "registry",
    "Method": "registry",
    "BackendProvider": "registry",
    "BackboneSpec": "backends",
}
__all__ = [*_API, "__version__"]


def __getattr__(name: str):
    if name in _API:
        from importlib import import_module

        return getattr(import_module(f"culturescope.{_API[name]}"), name)
    raise AttributeError(f"module 'culturescope' has no attribute {name!r}")
