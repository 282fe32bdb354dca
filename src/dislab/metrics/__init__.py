"""Disentanglement metrics and scores, faithful to disentanglement_lib (dlib).

>>> import numpy as np, dislab.metrics
>>> scores = dislab.metrics.get("mig")(data, representation_fn, np.random.RandomState(0))
>>> results = dislab.metrics.evaluate(representation_fn, data, metrics="mig,dci", seed=0)

Every metric is ``metric(data, representation_fn, rng, **params) -> dict[str, float]`` with
parameters defaulting to the study's settings (unsupervised_study_v1) and dlib's key names
(``data`` is any :class:`MetricData`, e.g. a :class:`~dislab.data.GroundTruthData`). Each is
registered with a declared record (:mod:`dislab.metrics.registry`): its parameters
(:class:`Param`: default and valid values) and what it consumes; :func:`names`, :func:`info`
and :func:`get` describe them. Metrics never import torch: they only
call ``representation_fn`` (``float32[N, H, W, C] -> [N, D]``). :class:`CodeCache` encodes
each state of a dataset once for all metrics (:mod:`dislab.metrics.cache`).
"""

from dislab.metrics import registry as _registry
from dislab.metrics._utils import MetricData, MetricWarning
from dislab.metrics.registry import MODES, MetricInfo, Param, get, info, names, register

# Importing a metric module registers its metrics (in this order).
for _module in (
    "beta_vae",
    "factor_vae",
    "mig",
    "modularity",
    "dci",
    "sap",
    "irs",
    "unsupervised",
    "downstream",
    "udr",
):
    __import__(f"dislab.metrics.{_module}")

from dislab.metrics.cache import CodeCache  # noqa: E402
from dislab.metrics.evaluate import evaluate  # noqa: E402

__all__ = [
    "MODES", "CodeCache", "MetricData", "MetricInfo", "MetricWarning", "Param", "evaluate",
    "get", "info", "names", "register",
]  # fmt: skip
del _registry
