"""Run several metrics on one representation, sharing the encoded samples they have in common.

Which metrics run and how is read from their declared records
(:class:`~dislab.metrics.registry.MetricInfo`); parameters are checked against the
declarations (:func:`metric_params`).

Sharing: the metrics that consume ``"samples"`` (MIG, modularity/explicitness, DCI, SAP, IRS,
unsupervised) draw their points as dlib does: from a fresh ``RandomState(seed)``, the sizes
named by their ``sample_sizes`` (e.g. ``num_train`` then ``num_test``) in chunks of
``batch_size``.
With the same seed and batch size they therefore draw the *same* points (MIG's 10,000 are
DCI's training set), so :func:`evaluate` samples and encodes them once and hands each metric
its prefix of the chain, with the RNG in the state the metric would have reached itself.
Results are identical to running each metric alone with that seed. Metrics with their own
sampling scheme (BetaVAE, FactorVAE, ...) run on their own.

Caching (``cache="auto"``, the default): when the dataset's images are fixed functions of the
factors and the representation is deterministic or splits into ``features`` + ``head``
(``split_for_cache()``: dislab's ``mean`` and ``sampled``), every state is rendered and
encoded at most once for all the metrics (:mod:`dislab.metrics.cache`); on dSprites that
turns the study's ~2.9M encodings per representation into at most 737,280, and a
:class:`~dislab.metrics.cache.CodeCache` passed explicitly is shared by several calls (e.g. a
model's mean and sampled evaluations).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from dislab.data.base import GroundTruthData
from dislab.metrics import registry
from dislab.metrics._utils import (
    Encoder,
    MetricData,
    RepresentationFn,
    Sample,
    sample_codes,
    sample_splits,
)
from dislab.metrics.cache import CodeCache, cached_views
from dislab.metrics.registry import MODES, OBSERVATIONS, MetricInfo


def single_representation_metrics() -> list[str]:
    """Registered metrics that score one representation function (``"all"`` in :func:`evaluate`).

    Those that consume ``"models"`` (UDR, which ranks a set of models) are left out.
    """
    return [name for name in registry.names() if registry.info(name).single_representation]


def resolve_metrics(metrics: str | Iterable[str]) -> list[str]:
    """``"all"``, a comma-separated string or a list of names -> validated list of names.

    Raises ``KeyError`` for an unknown name and ``ValueError`` for a metric that does not score
    one representation (UDR).
    """
    if isinstance(metrics, str):
        if metrics == "all":
            return single_representation_metrics()
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    names = list(dict.fromkeys(metrics))
    if not names:
        raise ValueError("no metric given")
    for name in names:
        if not registry.info(name).single_representation:  # KeyError listing the valid names
            raise ValueError(
                f"{name} ranks a set of models, it does not score one representation; call "
                f"dislab.metrics.get({name!r})(data, [representation_fn, ...], rng)"
            )
    return names


class _SampleChains:
    """Encoded sample chains keyed by ``(seed, batch_size)``: prefixes are shared."""

    def __init__(self, data: MetricData, representation_fn: RepresentationFn):
        self.data = data
        self.representation_fn = representation_fn
        self.chains: dict[tuple[int, int], list[tuple[int, Sample, Any]]] = {}

    def get(self, seed: int, batch_size: int, sizes: list[int], metric: str):
        """``(samples, rng)`` as ``sample_splits(..., sizes, RandomState(seed))`` leaves them."""
        chain = self.chains.setdefault((seed, batch_size), [])
        encoder = Encoder(self.representation_fn, metric)
        samples = []
        rng = np.random.RandomState(seed)
        for position, size in enumerate(sizes):
            if position < len(chain) and chain[position][0] == size:
                _, sample, rng = chain[position]
            elif position == len(chain):
                rng = copy.deepcopy(rng)
                sample = sample_codes(
                    self.data, encoder, size, rng, batch_size=batch_size, metric=metric
                )
                chain.append((size, sample, rng))
            else:  # diverging sizes: draw privately, as the metric alone would
                rng = np.random.RandomState(seed)
                samples = sample_splits(
                    self.data, encoder, sizes, rng, batch_size=batch_size, metric=metric
                )
                return samples, rng
            samples.append(sample)
        return samples, copy.deepcopy(rng)


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")


def with_precision(representation_fn: RepresentationFn, precision: str, mode: str):
    """``representation_fn`` encoding in ``precision``: ``fp32`` leaves it as it is; another
    precision needs fast mode and a representation with ``with_precision`` (the metrics know
    nothing of torch: the representation decides how it encodes)."""
    if precision == "fp32":
        return representation_fn
    if mode != "fast":
        raise ValueError(f"precision {precision!r} is for fast mode; parity mode always "
                         "encodes in fp32")
    convert = getattr(representation_fn, "with_precision", None)
    if not callable(convert):
        raise ValueError(f"precision {precision!r} needs a representation with a "
                         "with_precision() method (dislab.represent.load gives one); a "
                         "function of your own encodes in its own precision")
    return convert(precision)


def metric_params(name: str, overrides: Mapping[str, Any], mode: str, n_jobs: int) -> dict:
    """The parameters ``evaluate`` runs metric ``name`` with: defaults, ``mode``, overrides.

    ``mode`` and ``n_jobs`` go to the metrics that declare such a parameter (unless
    overridden). Raises ``ValueError`` naming the metric and the parameter, what was given
    and what is valid, for an unknown parameter or an invalid value (wrong type, out of
    range, not one of the choices: :class:`~dislab.metrics.registry.Param`).
    """
    record = registry.info(name)
    _check_mode(mode)
    params = record.parameters
    if "mode" in params:
        params["mode"] = mode
    if "n_jobs" in params:
        params["n_jobs"] = n_jobs
    params.update(overrides)
    record.check_params(params)
    return params


def evaluate(
    representation_fn: RepresentationFn,
    data: GroundTruthData | str,
    metrics: str | Iterable[str] = "all",
    *,
    seed: int | Mapping[str, int] = 0,
    mode: str = "parity",
    params: Mapping[str, Mapping[str, Any]] | None = None,
    n_jobs: int = 1,
    cache: str | bool | CodeCache = "auto",
    precision: str = "fp32",
    progress: bool = True,
    callback: Callable[[str, dict[str, float], float], None] | None = None,
) -> dict[str, dict[str, float]]:
    """Score ``representation_fn`` on ``data`` with several metrics.

    Args:
        representation_fn: any callable ``float32[N, H, W, C] -> [N, D]``.
        data: a :class:`~dislab.data.GroundTruthData` or a dataset name.
        metrics: ``"all"`` (every single-representation metric), ``"mig,dci"`` or a list.
        seed: each metric gets ``numpy.random.RandomState(seed)`` (dlib's
            ``evaluation.random_seed``); a mapping gives per-metric seeds (missing: 0).
        mode: ``"parity"`` (dlib's estimators) or ``"fast"``; passed to the metrics that declare
            a ``mode`` parameter (the others are the same in both modes).
        params: per-metric parameter overrides, e.g. ``{"dci": {"num_train": 1000}}``,
            checked against the metrics' declarations (:func:`metric_params`).
        n_jobs: parallel fits for metrics with an ``n_jobs`` parameter.
        cache: ``"auto"`` caches codes per dataset state when that is exact (module doc);
            ``True`` insists (a plain callable is then taken to be deterministic; raises
            ``ValueError`` for datasets with random observations); ``False`` encodes every
            drawn image, as dlib does; a :class:`~dislab.metrics.cache.CodeCache` built on
            ``data`` is used and filled (share it between calls on the same encoder).
        precision: the encoder's precision, ``"fp32"`` (default), ``"bf16"`` or ``"auto"``
            (bf16 where native): fast mode only (parity always encodes in fp32), for a
            representation that offers ``with_precision(precision)`` (dislab's
            ``represent.load``); a CodeCache passed in must hold codes of that precision.
        progress: show a progress bar over the metrics.
        callback: called as ``callback(name, scores, seconds)`` after each metric.

    Returns:
        ``{metric name: {score key: value}}`` in the order requested.
    """
    _check_mode(mode)
    if isinstance(data, str):
        import dislab.data

        data = dislab.data.get(data)
    names = resolve_metrics(metrics)
    params = dict(params or {})
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ValueError(f"parameters given for metrics not evaluated: {unknown}")
    settings = {name: metric_params(name, params.get(name, {}), mode, n_jobs) for name in names}
    representation_fn = with_precision(representation_fn, precision, mode)
    data, representation_fn = cached_views(data, representation_fn, cache)
    chains = _SampleChains(data, representation_fn)
    results: dict[str, dict[str, float]] = {}
    bar = tqdm(names, desc="metrics", unit="metric", disable=not progress)
    for name in bar:
        bar.set_postfix_str(name)
        metric_seed = seed.get(name, 0) if isinstance(seed, Mapping) else seed
        start = time.perf_counter()
        results[name] = _run(
            registry.info(name), settings[name], int(metric_seed), data, representation_fn, chains
        )
        if callback is not None:
            callback(name, results[name], time.perf_counter() - start)
    return results


def _run(
    record: MetricInfo,
    params: dict[str, Any],
    seed: int,
    data: MetricData,
    representation_fn: RepresentationFn,
    chains: _SampleChains,
) -> dict:
    """Scores of one metric as its record says: called as it is, or from shared samples."""
    if record.consumes == OBSERVATIONS:
        return record.fn(data, representation_fn, np.random.RandomState(seed), **params)
    sizes = [params[p] for p in record.sample_sizes]
    rest = {k: v for k, v in params.items() if k not in record.sample_sizes and k != "batch_size"}
    samples, rng = chains.get(seed, params["batch_size"], sizes, record.name)
    return record.from_samples(samples, rng, **rest)
