"""Study definitions as data: a TOML file -> :class:`StudySpec` -> the list of runs.

A study file (see ``presets/*.toml``)::

    [study]
    name = "quick"
    seeds = 2                          # 0..1; or an explicit list [0, 7]
    representations = ["mean", "sampled"]
    evaluation_seeds = "per_model"     # or "dlib" (every model gets the same seeds)
    metric_mode = "parity"             # or "fast" (see dislab.metrics.evaluate)

    [train]                            # TrainConfig options shared by every run
    steps = 300

    [[datasets]]
    name = "dsprites_full"
    source = "procedural"              # auto | official | procedural

    [[models]]
    name = "beta_vae"
    sweep = { beta = [1, 4] }          # the product of the swept values
    fixed = {}                         # hyperparameters held fixed

    [metrics.mig]                      # one table per metric, in evaluation order;
    num_train = 1000                   # its keys override the metric's parameters,
    [metrics.dci]                      # except `representations`, which restricts the
    representations = ["mean"]         # metric to some of the study's representations

Enumeration (dlib's ``unsupervised_study_v1`` order, ``config/unsupervised_study_v1/sweep.py``:
``product(datasets, architecture, models, seeds)``): datasets outermost, then
models, then the swept values, then seeds innermost; a run's ``model_num`` is its position.
When every model sweeps ``H`` values over ``S`` seeds (``M`` models) this is dlib's
``model_num = M H S d + H S m + S h + s``: ``1800 d + 300 m + 50 h + s`` for the paper preset
(6 models, 6 values, 50 seeds). The evaluation seeds are shared cached dicts: do not mutate.

Evaluation seeds (dlib's ``bin/dlib_reproduce``, which draws the same ones for every model,
so that between-model differences look more certain than they are). Both policies draw
``RandomState(base).randint(2**32)`` in dlib's order: first one seed per representation
(sorted; the ``sampled`` representation's noise seed), then one per (representation, metric),
representations sorted and metrics sorted by their dlib config names:

- ``"dlib"``: ``base = 0`` for every model, exactly like ``dlib_reproduce``: every model sees
  the same evaluation data (for the paper preset: ``mean`` 2357136044, ``sampled``
  2546248239, then one per metric, e.g. ``beta_vae_sklearn`` on ``mean`` 3071714933;
  ``tests/study/test_spec.py`` pins them all);
- ``"per_model"`` (the default): ``base = model_num``, so that models are evaluated on
  independent samples and between-model differences are not understated. Model 0 gets
  dlib's seeds.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from dislab.data.registry import SOURCE_CHOICES
from dislab.metrics.registry import MODES as METRIC_MODES
from dislab.rundir import REPRESENTATIONS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SEED_POLICIES = ("per_model", "dlib")
# dislab metric name -> dlib metric config name (config/unsupervised_study_v1/metric_configs/
# *.gin); the others are the same.
DLIB_METRIC_NAMES = {
    "beta_vae": "beta_vae_sklearn",
    "factor_vae": "factor_vae_metric",
    "modularity": "modularity_explicitness",
    "sap": "sap_score",
}
# Options of [train] that a study may not set: each run gets its own.
RUN_OPTIONS = ("model", "hyperparameters", "dataset", "source", "seed", "run_dir")
_TOP_LEVEL = {"study", "train", "datasets", "models", "metrics"}
_STUDY_KEYS = {"name", "description", "seeds", "representations", "evaluation_seeds",
               "metric_mode"}


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    source: str = "auto"


@dataclass(frozen=True)
class ModelSpec:
    """One model family and its grid: the product of ``sweep``'s value lists (in key order),
    each combined with ``fixed``."""

    name: str
    sweep: dict[str, list[Any]] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)

    def grid(self) -> list[dict[str, Any]]:
        """The swept hyperparameter settings, in order (one empty setting without a sweep)."""
        keys = list(self.sweep)
        return [dict(zip(keys, values)) for values in itertools.product(*self.sweep.values())]


@dataclass(frozen=True)
class StudySpec:
    name: str
    datasets: tuple[DatasetSpec, ...]
    models: tuple[ModelSpec, ...]
    seeds: tuple[int, ...]
    metrics: dict[str, dict[str, Any]]
    representations: tuple[str, ...] = REPRESENTATIONS
    metric_representations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    evaluation_seeds: str = "per_model"
    metric_mode: str = "parity"
    description: str = ""

    @property
    def num_runs(self) -> int:
        return len(self.datasets) * len(self.seeds) * sum(len(m.grid()) for m in self.models)

    @property
    def evaluations(self) -> tuple[tuple[str, str], ...]:
        """The (representation, metric) pairs each run is scored on, in order."""
        return tuple((rep, metric) for rep in self.representations for metric in self.metrics
                     if rep in self.metric_representations.get(metric, self.representations))

    @property
    def num_evaluations(self) -> int:
        """(representation, metric) evaluations over the whole study."""
        return self.num_runs * len(self.evaluations)

    def runs(self) -> list[RunSpec]:
        """Every run, in dlib's order (datasets, models, swept values, seeds)."""
        runs: list[RunSpec] = []
        evaluations = self.evaluations
        for dataset in self.datasets:
            for model in self.models:
                for setting in model.grid():
                    for seed in self.seeds:
                        runs.append(self._run(len(runs), dataset, model, setting, seed,
                                              evaluations))
        return runs

    def run(self, model_num: int) -> RunSpec:
        """The run ``model_num`` (``ValueError`` when out of range)."""
        if not 0 <= model_num < self.num_runs:
            raise ValueError(f"model_num must lie in [0, {self.num_runs}), got {model_num}")
        return self.runs()[model_num]

    def _run(self, model_num, dataset, model, setting, seed, evaluations) -> RunSpec:
        return RunSpec(
            model_num=model_num, dataset=dataset.name, source=dataset.source, model=model.name,
            sweep=dict(setting), hyperparameters={**model.fixed, **setting}, seed=seed,
            train=dict(self.train), metrics=self.metrics, evaluations=evaluations,
            metric_mode=self.metric_mode,
            evaluation_seeds=evaluation_seeds(self._seed_base(model_num), self.representations,
                                              tuple(self.metrics)),
        )

    def _seed_base(self, model_num: int) -> int:
        return 0 if self.evaluation_seeds == "dlib" else model_num

    def to_dict(self) -> dict[str, Any]:
        """The study as TOML-shaped data (``parse(spec.to_dict()) == spec``)."""
        return {
            "study": {"name": self.name, "description": self.description,
                      "seeds": list(self.seeds), "representations": list(self.representations),
                      "evaluation_seeds": self.evaluation_seeds,
                      "metric_mode": self.metric_mode},
            "train": dict(self.train),
            "datasets": [{"name": d.name, "source": d.source} for d in self.datasets],
            "models": [{"name": m.name, "sweep": m.sweep, "fixed": m.fixed}
                       for m in self.models],
            "metrics": {name: {**params, **({"representations": list(
                self.metric_representations[name])} if name in self.metric_representations
                else {})} for name, params in self.metrics.items()},
        }


@dataclass(frozen=True)
class RunSpec:
    """One model of a study: what to train and how to evaluate it (plain, picklable data).

    ``evaluations`` lists the (representation, metric) pairs to score; ``evaluation_seeds``
    maps each representation to ``{"representation": noise seed, <metric>: evaluation seed,
    ...}`` (drawn for every pair of the study's representations and metrics, as dlib does).
    """

    model_num: int
    dataset: str
    source: str
    model: str
    sweep: dict[str, Any]
    hyperparameters: dict[str, Any]
    seed: int
    train: dict[str, Any]
    metrics: dict[str, dict[str, Any]]
    evaluations: tuple[tuple[str, str], ...]
    metric_mode: str
    evaluation_seeds: dict[str, dict[str, int]]

    def identity(self) -> dict[str, Any]:
        """Everything that determines the run's numbers, as JSON-ready data: the
        :meth:`training_identity` and the :meth:`evaluation_identity` (the store keeps it, and
        checks what a rerun of a study changes)."""
        return {**self.training_identity(), **self.evaluation_identity()}

    def training_identity(self) -> dict[str, Any]:
        """What determines the trained model: a change is refused by the store (the run
        would have to be trained again). Options that only change how a run executes, such as
        ``checkpoint_every`` or ``device``, are left out: they may change between reruns."""
        from dislab.rundir import EXECUTION_OPTIONS

        train = {k: v for k, v in self.train.items() if k not in EXECUTION_OPTIONS}
        return _jsonable({"dataset": self.dataset, "source": self.source, "model": self.model,
                          "hyperparameters": self.hyperparameters, "seed": self.seed,
                          "train": train})

    def evaluation_identity(self) -> dict[str, Any]:
        """What determines the scores of the trained model: when it changes the store sends
        the run back to ``pending``, to be evaluated again (its training is reused)."""
        return _jsonable({"metrics": self.metrics, "evaluations": self.evaluations,
                          "metric_mode": self.metric_mode,
                          "evaluation_seeds": self.evaluation_seeds})


#: The keys of :meth:`RunSpec.training_identity` and :meth:`RunSpec.evaluation_identity`.
TRAINING_KEYS = ("dataset", "source", "model", "hyperparameters", "seed", "train")
EVALUATION_KEYS = ("metrics", "evaluations", "metric_mode", "evaluation_seeds")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True))


def training_difference(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two run identities (:meth:`RunSpec.identity`, as stored) in what
    determines the trained model, one phrase per difference (``"[train] steps 300 -> 600"``,
    ``"hyperparameters beta 1.0 -> 2.0"``); empty when the same model would be trained.
    Values are compared as numbers (``1 == 1.0``), hyperparameters after filling in the
    model's defaults and ``[train]`` options after filling in ``TrainConfig``'s."""
    from dislab import models
    from dislab.rundir import EXECUTION_OPTIONS
    from dislab.train import TrainConfig

    diff = [f"{key} {old.get(key)} -> {new.get(key)}"
            for key in ("dataset", "source", "model", "seed") if old.get(key) != new.get(key)]
    if not diff:  # same model: compare its hyperparameters with the defaults filled in
        model = new.get("model")
        before, after = old.get("hyperparameters") or {}, new.get("hyperparameters") or {}
        try:
            before, after = (models.resolve_hyperparameters(model, before),
                             models.resolve_hyperparameters(model, after))
        except (ValueError, TypeError):
            pass  # compare them as given
        diff += [f"hyperparameters {key} {_shown(before, key)} -> {_shown(after, key)}"
                 for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)]
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)
                if f.default is not dataclasses.MISSING}
    before, after = old.get("train"), new.get("train") or {}
    if not isinstance(before, dict):
        return [*diff, "[train] options not recorded"]
    for key in sorted((set(before) | set(after)) - set(EXECUTION_OPTIONS)):
        if before.get(key, defaults.get(key)) != after.get(key, defaults.get(key)):
            diff.append(f"[train] {key} {_shown(before, key, defaults)} -> "
                        f"{_shown(after, key, defaults)}")
    return diff


def _shown(values: dict, key: str, defaults: dict | None = None) -> str:
    if key in values:
        return repr(values[key])
    if defaults is not None and key in defaults:
        return f"{defaults[key]!r} (default)"
    return "(unset)"


def evaluation_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether two run identities ask for different evaluations (metrics, their parameters,
    ``metric_mode``, representations, evaluation seeds)."""
    return any(old.get(key) != new.get(key) for key in EVALUATION_KEYS)


@functools.lru_cache(maxsize=64)
def evaluation_seeds(base: int, representations: tuple[str, ...], metrics: tuple[str, ...]
                     ) -> dict[str, dict[str, int]]:
    """dlib_reproduce's seed draws from ``RandomState(base)`` (dlib ``bin/dlib_reproduce``,
    with ``base = 0``): one per sorted
    representation, then one per (sorted representation, metric sorted by dlib name)."""
    rs = np.random.RandomState(base)
    reps = sorted(representations)
    seeds = {rep: {"representation": int(rs.randint(2**32))} for rep in reps}
    ordered = sorted(metrics, key=lambda name: DLIB_METRIC_NAMES.get(name, name))
    for rep in reps:
        for metric in ordered:
            seeds[rep][metric] = int(rs.randint(2**32))
    return seeds


# -- parsing ----------------------------------------------------------------------------------


def presets() -> list[str]:
    """Names of the study files shipped with dislab."""
    folder = resources.files("dislab.study") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def read_text(study: str | Path) -> tuple[str, str]:
    """``(toml text, where it came from)`` for a file path or a preset name."""
    path = Path(study)
    if path.is_file():
        return path.read_text(), str(path)
    if str(study) in presets():
        preset = resources.files("dislab.study") / "presets" / f"{study}.toml"
        return preset.read_text(), f"preset {study}"
    raise FileNotFoundError(f"study {study!r}: no such file and no such preset; "
                            f"presets: {', '.join(presets())}")


def load(study: str | Path) -> StudySpec:
    """Parse a study TOML file, or a preset by name (``"paper"``, ``"quick"`` ...)."""
    text, origin = read_text(study)
    return loads(text, origin)


def loads(text: str, origin: str = "<string>") -> StudySpec:
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{origin}: invalid TOML: {err}") from None
    try:
        return parse(values)
    except (ValueError, KeyError, TypeError) as err:
        message = err.args[0] if err.args else err
        raise ValueError(f"{origin}: {message}") from None


def _check_keys(where: str, table: dict, valid: set[str]) -> None:
    unknown = sorted(set(table) - valid)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} in {where}; "
                         f"valid: {', '.join(sorted(valid))}")


def _table(where: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a table, got {value!r}")
    return value


def _choice(where: str, value: Any, valid: tuple[str, ...]) -> str:
    if value not in valid:
        raise ValueError(f"{where} must be one of {', '.join(valid)}, got {value!r}")
    return value


def _seeds(value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return tuple(range(value))
    if (isinstance(value, list) and value and len(set(value)) == len(value)
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)):
        return tuple(value)
    raise ValueError(f"study.seeds must be a count >= 1 or a list of distinct ints >= 0, "
                     f"got {value!r}")


def _dataset(entry: dict) -> DatasetSpec:
    from dislab import data

    _table("[[datasets]]", entry)
    _check_keys("[[datasets]]", entry, {"name", "source"})
    data.info(entry["name"])  # KeyError listing the valid names
    return DatasetSpec(entry["name"], _choice("datasets.source", entry.get("source", "auto"),
                                              SOURCE_CHOICES))


def _model(entry: dict) -> ModelSpec:
    from dislab import models

    _table("[[models]]", entry)
    _check_keys("[[models]]", entry, {"name", "sweep", "fixed"})
    name, sweep, fixed = entry["name"], entry.get("sweep", {}), entry.get("fixed", {})
    _table(f"models.{name}.sweep", sweep)
    _table(f"models.{name}.fixed", fixed)
    for key, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"models.{name}.sweep.{key} must be a non-empty list")
    valid = set(models.hyperparameters(name))  # ValueError for an unknown model
    _check_keys(f"the hyperparameters of {name}", {**sweep, **fixed}, valid)
    overlap = sorted(set(sweep) & set(fixed))
    if overlap:
        raise ValueError(f"{name}: {', '.join(overlap)} both swept and fixed")
    model = ModelSpec(name, {k: list(v) for k, v in sweep.items()}, dict(fixed))
    _check_grid(model)
    return model


def _check_grid(model: ModelSpec) -> None:
    """Every point of ``model``'s grid through its objective's checks
    (:func:`dislab.models.resolve_hyperparameters`), so that a bad value fails here and not
    after hours of training. Each value is first checked alone (the model's defaults for the
    others), so that the error can name the hyperparameter and the value; then every
    combination of the grid (for constraints between hyperparameters)."""
    from dislab import models

    values = [*((k, "sweep", v) for k, vs in model.sweep.items() for v in vs),
              *((k, "fixed", v) for k, v in model.fixed.items())]
    for key, where, value in values:
        try:
            models.resolve_hyperparameters(model.name, {key: value})
        except (ValueError, TypeError) as err:
            raise ValueError(f"models.{model.name}.{where}: {key} = {value!r} is invalid "
                             f"for {model.name}: {err}") from None
    for setting in model.grid():
        point = {**model.fixed, **setting}
        try:
            models.resolve_hyperparameters(model.name, point)
        except (ValueError, TypeError) as err:
            shown = ", ".join(f"{k} = {v!r}" for k, v in point.items())
            raise ValueError(f"models.{model.name}: the combination {shown} is invalid: "
                             f"{err}") from None


def _metrics(table: dict, representations: tuple[str, ...], mode: str = "parity"
             ) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[str, ...]]]:
    """``({metric: parameter overrides}, {metric: its representations, where restricted})``;
    every parameter's name, type and range checked by ``metric_params`` in the study's
    ``mode``."""
    from dislab.metrics.evaluate import metric_params, resolve_metrics

    _table("[metrics]", table)
    if not table:
        raise ValueError("a study needs at least one [metrics.<name>] table")
    resolve_metrics(list(table))  # KeyError listing the valid names
    params, restricted = {}, {}
    for name, entry in table.items():
        _table(f"[metrics.{name}]", entry)
        params[name] = {k: v for k, v in entry.items() if k != "representations"}
        try:  # unknown parameters, wrong types, values out of range
            metric_params(name, params[name], mode, 1)
        except (ValueError, TypeError) as err:
            raise ValueError(f"[metrics.{name}]: {err}") from None
        if "representations" in entry:
            if not isinstance(entry["representations"], list):
                raise ValueError(f"metrics.{name}.representations must be a list, got "
                                 f"{entry['representations']!r}")
            reps = tuple(entry["representations"])
            for rep in reps:
                _choice(f"metrics.{name}.representations", rep, representations)
            restricted[name] = reps
    return params, restricted


def _train(table: dict) -> dict[str, Any]:
    from dislab.train import TrainConfig

    _table("[train]", table)
    reserved = sorted(set(table) & set(RUN_OPTIONS))
    if reserved:
        raise ValueError(f"[train] may not set {', '.join(reserved)}: the study sets them")
    try:  # an unknown or invalid option
        TrainConfig.from_dict(dict(table))
    except (ValueError, TypeError) as err:
        raise ValueError(f"[train]: {err}") from None
    return dict(table)


def parse(values: dict[str, Any]) -> StudySpec:
    """A :class:`StudySpec` from TOML-shaped data, every name and value checked."""
    _check_keys("the study file", values, _TOP_LEVEL)
    study = _table("[study]", values.get("study", {}))
    _check_keys("[study]", study, _STUDY_KEYS)
    if not isinstance(study.get("representations", []), list):
        raise ValueError(f"study.representations must be a list, got "
                         f"{study['representations']!r}")
    representations = tuple(study.get("representations", REPRESENTATIONS))
    for rep in representations:
        _choice("study.representations", rep, REPRESENTATIONS)
    for key in ("datasets", "models"):
        if not isinstance(values.get(key, []), list):
            raise ValueError(f"{key} must be an array of tables ([[{key}]]), got "
                             f"{values[key]!r}")
    datasets = tuple(_dataset(d) for d in values.get("datasets", []))
    models_ = tuple(_model(m) for m in values.get("models", []))
    if not datasets or not models_ or not representations:
        raise ValueError("a study needs at least one dataset, model and representation")
    metric_mode = _choice("study.metric_mode", study.get("metric_mode", "parity"), METRIC_MODES)
    metrics, metric_representations = _metrics(values.get("metrics", {}), representations,
                                               metric_mode)
    return StudySpec(
        name=str(study.get("name", "study")),
        description=str(study.get("description", "")),
        datasets=datasets,
        models=models_,
        seeds=_seeds(study.get("seeds", 1)),
        metrics=metrics,
        representations=representations,
        metric_representations=metric_representations,
        train=_train(values.get("train", {})),
        evaluation_seeds=_choice("study.evaluation_seeds",
                                 study.get("evaluation_seeds", "per_model"), SEED_POLICIES),
        metric_mode=metric_mode,
    )
