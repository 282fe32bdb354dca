"""Metric registry.

A metric is a plain function ``metric(data, representation_fn, rng, **params) -> dict``
whose keyword parameters default to the study's settings (unsupervised_study_v1). Register
it with :func:`register`; :func:`names`, :func:`get` and :func:`parameters` describe what is
available. Metrics never import torch: they only call ``representation_fn``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MetricFn = Callable[..., dict[str, float]]


@dataclass(frozen=True)
class MetricInfo:
    name: str
    fn: MetricFn
    description: str

    @property
    def parameters(self) -> dict[str, Any]:
        """Keyword parameters and their (study) defaults."""
        sig = inspect.signature(self.fn)
        return {
            p.name: p.default
            for p in list(sig.parameters.values())[3:]
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        }


_REGISTRY: dict[str, MetricInfo] = {}


def register(name: str) -> Callable[[MetricFn], MetricFn]:
    """Decorator: ``@register("mig")`` adds the function under ``name``."""

    def add(fn: MetricFn) -> MetricFn:
        if name in _REGISTRY:
            raise ValueError(f"metric {name!r} is registered twice")
        doc = (inspect.getdoc(fn) or "").strip().splitlines()
        _REGISTRY[name] = MetricInfo(name, fn, doc[0] if doc else "")
        return fn

    return add


def names() -> list[str]:
    return list(_REGISTRY)


def info(name: str) -> MetricInfo:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; valid names: {', '.join(names())}") from None


def get(name: str) -> MetricFn:
    return info(name).fn
