"""Ground-truth-factor datasets: official-file loaders and procedural generators.

>>> import numpy as np, dislab.data
>>> data = dislab.data.get("dsprites_full")          # official if present, else procedural
>>> factors, images = data.sample(64, np.random.RandomState(0))

See :mod:`dislab.data.base` for the contract and :mod:`dislab.data.registry` for names,
sources and the data root.
"""

from dislab.data import registry as _registry
from dislab.data.base import ArrayData, GroundTruthData, StateSpace, make_rng, randint
from dislab.data.pairs import check_k, sample_pair_factors, sample_pairs
from dislab.data.registry import (
    DatasetInfo,
    DatasetNotFoundError,
    data_root,
    get,
    info,
    names,
    official_available,
    register,
)

# Importing a dataset module registers its datasets (dlib's order).
for _module in ("dsprites", "variants", "smallnorb", "cars3d", "shapes3d", "mpi3d"):
    try:
        __import__(f"dislab.data.{_module}")
    except ModuleNotFoundError as _err:  # a module not written yet
        if _err.name != f"dislab.data.{_module}":
            raise

__all__ = [
    "ArrayData",
    "DatasetInfo",
    "DatasetNotFoundError",
    "GroundTruthData",
    "StateSpace",
    "check_k",
    "data_root",
    "get",
    "info",
    "make_rng",
    "names",
    "official_available",
    "randint",
    "register",
    "sample_pair_factors",
    "sample_pairs",
]
del _registry
