"""Metric registry: one declared record (:class:`MetricInfo`) per metric.

A metric is a plain function ``metric(data, representation_fn, rng, **params) -> dict``
whose keyword parameters default to the study's settings (unsupervised_study_v1). It is
registered with :func:`register`, which declares, once:

- its name, and its description (the first line of its docstring);
- its parameters (:class:`Param`): the default of each and which values are valid (the
  value's type is the default's; a range or a set of choices);
- what it consumes:

  - ``"observations"``: it draws its own points through ``data``, ``representation_fn`` and
    ``rng`` (BetaVAE, FactorVAE, the downstream tasks); ``evaluate`` calls it as it is.
  - ``"samples"``: its points are :func:`~dislab.metrics._utils.sample_splits` draws (dlib's
    ``generate_batch_factor_code``) whose sizes are the parameters ``sample_sizes`` (in draw
    order), drawn in chunks of its ``batch_size``; ``from_samples(samples, rng, **others)``
    computes its scores from them, so that ``evaluate`` can share the encoded points between
    metrics (MIG, modularity, DCI, SAP, IRS, unsupervised).
  - ``"models"``: it ranks a *set* of models, ``metric(data, representation_fns, rng)``
    (UDR); it does not score one representation, so it is not among ``"all"``.

:func:`names`, :func:`info` and :func:`get` describe what is registered. Metrics never
import torch: they only call ``representation_fn``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MetricFn = Callable[..., dict[str, Any]]

#: The estimator modes of the metrics that have a ``mode`` parameter: ``"parity"`` (dlib's
#: estimators) or ``"fast"`` (faster estimators; each metric's docstring says how much the
#: values move).
MODES = ("parity", "fast")

OBSERVATIONS = "observations"
SAMPLES = "samples"
MODELS = "models"
#: What a metric consumes (module doc).
CONSUMES = (OBSERVATIONS, SAMPLES, MODELS)


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float | np.floating)) and math.isfinite(value)


_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "bool": (lambda v: isinstance(v, bool | np.bool_), "a bool"),
    "int": (_is_int, "an int"),
    "float": (_is_number, "a number"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "ints": (
        lambda v: isinstance(v, list | tuple) and len(v) > 0 and all(_is_int(x) for x in v),
        "a non-empty list of ints",
    ),
}


def _kind(default: Any) -> str:
    if isinstance(default, bool):
        return "bool"
    if _is_int(default):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    if isinstance(default, list | tuple) and default and all(_is_int(x) for x in default):
        return "ints"
    raise TypeError(f"unsupported parameter default {default!r} (bool, int, float, str, ints)")


@dataclass(frozen=True)
class Param:
    """A declared keyword parameter of a metric: its default and its valid values.

    A value must have the default's type: a bool for a bool; an int for an int (a bool is not
    an int); an int or a finite float for a float; a string for a string; a non-empty list or
    tuple of ints for a tuple of ints. ``minimum`` and ``maximum`` bound a number (every
    element of a list), inclusive; ``excluded`` lists numbers inside the bounds that are not
    valid; ``choices`` lists the valid values, where there are few.
    """

    default: Any
    minimum: float | None = None
    maximum: float | None = None
    excluded: tuple = ()
    choices: tuple = ()
    kind: str = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "kind", _kind(self.default))
        object.__setattr__(self, "excluded", tuple(self.excluded))
        object.__setattr__(self, "choices", tuple(self.choices))
        if not self.accepts(self.default):
            raise ValueError(f"the default {self.default!r} is not {self.valid}")

    @property
    def valid(self) -> str:
        """What a valid value is, in words: ``"an int >= 1"``, ``"one of parity, fast"``."""
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))  # as _utils.check_choice
        text = _KINDS[self.kind][1]
        if self.minimum is not None and self.maximum is not None:
            text += f" in [{self.minimum}, {self.maximum}]"
        elif self.minimum is not None:
            text += f" >= {self.minimum}"
        elif self.maximum is not None:
            text += f" <= {self.maximum}"
        if self.excluded:
            text += " other than " + ", ".join(map(repr, self.excluded))
        return text

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` has the default's type and is in range or among the choices."""
        if not _KINDS[self.kind][0](value):
            return False
        if self.choices:
            return value in self.choices
        if self.kind in ("bool", "str"):
            return True
        numbers = list(value) if self.kind == "ints" else [value]
        return all(
            (self.minimum is None or x >= self.minimum)
            and (self.maximum is None or x <= self.maximum)
            and x not in self.excluded
            for x in numbers
        )

    def check(self, metric: str, name: str, value: Any) -> None:
        """Raise ``ValueError`` naming ``metric``, ``name``, what is valid and what was given."""
        if not self.accepts(value):
            raise ValueError(f"{metric}: {name} must be {self.valid}; got {value!r}")


#: ``n_jobs``: parallel fits, joblib's convention (``-1``: all CPUs).
N_JOBS = Param(1, minimum=-1, excluded=(0,))
#: ``mode``: :data:`MODES`, parity by default.
MODE = Param("parity", choices=MODES)
#: The study's train/test draws (10,000 and 5,000 points in chunks of 16), shared by the
#: metrics that fit on one set and score on another (DCI, modularity, SAP).
TRAIN_TEST_SPLITS = {
    "num_train": Param(10_000, minimum=1),
    "num_test": Param(5_000, minimum=1),
    "batch_size": Param(16, minimum=1),
}


@dataclass(frozen=True)
class MetricInfo:
    """The declared record of a registered metric (module doc)."""

    name: str
    fn: MetricFn
    description: str
    #: The keyword parameters, in the order of the function's signature, declared.
    params: Mapping[str, Param]
    #: ``"observations"``, ``"samples"`` or ``"models"`` (module doc).
    consumes: str
    #: ``"samples"`` only: the parameters giving the split sizes, in draw order.
    sample_sizes: tuple[str, ...] = ()
    #: ``"samples"`` only: ``from_samples(samples, rng, **other params) -> scores``.
    from_samples: MetricFn | None = None

    def __post_init__(self):
        object.__setattr__(self, "params", dict(self.params))
        object.__setattr__(self, "sample_sizes", tuple(self.sample_sizes))
        where = f"metric {self.name!r}"
        if self.consumes not in CONSUMES:
            raise ValueError(f"{where}: consumes must be one of {CONSUMES}, got {self.consumes!r}")
        if not all(isinstance(p, Param) for p in self.params.values()):
            raise TypeError(f"{where}: every parameter must be declared as a Param")
        if self.consumes == SAMPLES:
            missing = [p for p in (*self.sample_sizes, "batch_size") if p not in self.params]
            if not self.sample_sizes or missing or not callable(self.from_samples):
                raise ValueError(
                    f"{where} consumes samples: it needs sample_sizes and a batch_size among "
                    f"its parameters (missing: {missing or 'sample_sizes'}) and a callable "
                    "from_samples"
                )
        elif self.sample_sizes or self.from_samples is not None:
            raise ValueError(f"{where}: sample_sizes and from_samples go with consumes='samples'")

    @property
    def parameters(self) -> dict[str, Any]:
        """Keyword parameters and their (study) defaults."""
        return {name: param.default for name, param in self.params.items()}

    @property
    def single_representation(self) -> bool:
        """Whether it scores one representation function (``"all"`` in ``evaluate``)."""
        return self.consumes != MODELS

    def check_params(self, values: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` for an unknown name or an invalid value in ``values``."""
        unknown = sorted(set(values) - set(self.params))
        if unknown:
            raise ValueError(
                f"{self.name}: unknown parameter(s) {unknown}; valid: {', '.join(self.params)}"
            )
        for name, value in values.items():
            self.params[name].check(self.name, name, value)


_REGISTRY: dict[str, MetricInfo] = {}


def register(
    name: str,
    *,
    consumes: str,
    params: Mapping[str, Param],
    sample_sizes: tuple[str, ...] = (),
    from_samples: MetricFn | None = None,
) -> Callable[[MetricFn], MetricFn]:
    """Decorator adding a metric under ``name`` with its declared record (module doc).

    >>> @register("mig", consumes="samples", sample_sizes=("num_train",),
    ...           from_samples=mig_from_samples,
    ...           params={"num_train": Param(10_000, minimum=1), ...})
    ... def mig(data, representation_fn, rng, *, num_train=10_000, ...): ...

    The function's own keyword defaults must equal the declared ones (a test checks it).
    """

    def add(fn: MetricFn) -> MetricFn:
        if name in _REGISTRY:
            raise ValueError(f"metric {name!r} is registered twice")
        doc = (inspect.getdoc(fn) or "").strip().splitlines()
        _REGISTRY[name] = MetricInfo(
            name,
            fn,
            doc[0] if doc else "",
            params,
            consumes,
            sample_sizes=sample_sizes,
            from_samples=from_samples,
        )
        return fn

    return add


def unregister(name: str) -> MetricInfo:
    """Remove the metric ``name`` (e.g. one a test registered); return its record."""
    info(name)  # KeyError listing the valid names
    return _REGISTRY.pop(name)


def names() -> list[str]:
    return list(_REGISTRY)


def info(name: str) -> MetricInfo:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; valid names: {', '.join(names())}") from None


def get(name: str) -> MetricFn:
    return info(name).fn
