"""Models made outside a study, placed among its runs (``dislab study add DIR RUN_DIR...``).

A researcher's own model -- a run directory trained with ``dislab train`` (any model), or any
representation function (float32 images ``[n, 64, 64, C]`` in [0, 1] -> codes ``[n, d]``) --
is scored with the study's own evaluation and stored in the study's ``results.sqlite`` as a
``done`` run of origin ``external``:

>>> from dislab import study
>>> study.add_runs("out/quick", ["runs/my_vae"])      # = dislab study add out/quick runs/my_vae
>>> study.add_representation("out/quick", my_encoder, name="my_method")

**The study's evaluation** is read from its study file (``DIR/study.toml``, or ``study=``):
its metrics and their parameters, ``metric_mode``, representations (with each metric's
restriction) and evaluation-seed policy, on its dataset as its runs see it (name, source,
``[train] data_root``). A run directory's metric results are written into it by
:func:`dislab.scoring.score_run` and reused like any run's; its training results
(``train.*``) are its own ``results/train.json``, averaged over its own ``eval_samples``
(the ``warnings`` column notes a difference from the study's ``[train] eval_samples``).

**Refused** before anything is scored, each with a one-line message: a path that is not a run
directory, a run trained on a dataset the study does not have or on images of another shape,
an unfinished run (unless ``allow_unfinished``, as for ``dislab evaluate``). A run already in
the study (the same resolved directory: one of its own runs, or an external run added
before) is not scored again.

**Model numbers** are -1, -2, ... in the order added: a study's enumeration counts up from 0,
so the two never meet, whatever the study grows to. **Evaluation seeds** follow the study's
policy (:mod:`dislab.study.spec`): ``"dlib"`` gives every model ``RandomState(0)``'s seeds,
external runs included; ``"per_model"`` draws from ``RandomState(model_num mod 2**32)``
(4294967295 for run -1), a base that no run of the study has (theirs are 0, 1, ...), so an
external run is evaluated on samples of its own, as every study run is.

**A representation function** has one representation, ``mean``: the study's metrics on
``sampled`` are skipped (a warning names them, as does the ``warnings`` column). Its run has
no training results and no run directory, seed 0 and ``hyperparameters = {"num_latent": d}``.

**Not part of the study's population.** ``dislab study run`` never trains or re-evaluates
external runs and :meth:`~dislab.study.store.Store.counts` leaves them out; every analysis
drops them (:func:`dislab.analysis.columns.done_runs`) and the report marks them
(:mod:`dislab.analysis.placement`). Each is also written to ``DIR/external/<number>.json``
(its row and scores, ``00001.json`` for run -1), from which ``dislab study rebuild`` restores
it (:func:`restore`). An external run keeps the evaluation it was scored with: after a change
of the study's evaluation, add it again to re-score it (metric files that still match are
reused).
"""

from __future__ import annotations

import json
import socket
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dislab import rundir
from dislab._io import write_json
from dislab.study import spec as study_spec
from dislab.study.spec import RunSpec, StudySpec
from dislab.study.store import EXTERNAL, Store

EXTERNAL_DIR = "external"
#: The one representation of a representation function.
FUNCTION_REPRESENTATION = "mean"


@dataclass(frozen=True)
class Added:
    """What :func:`add_runs` did with one run directory (resolved): ``status`` ``"added"``,
    ``"rescored"`` (an external run whose study's evaluation changed since it was added) or
    ``"present"`` (in the study already, nothing scored); ``model_num``: its number there."""

    run_dir: str
    model_num: int
    status: str


# -- the study --------------------------------------------------------------------------------


def study_file(study_dir: str | Path, study: str | Path | StudySpec | None = None) -> StudySpec:
    """The study of ``study_dir``: ``study`` (a file, a preset or a spec), by default the
    study file it was run with (``DIR/study.toml``)."""
    from dislab.study.runner import SPEC_FILE

    if isinstance(study, StudySpec):
        return study
    if study is None:
        study = Path(study_dir) / SPEC_FILE
        if not study.is_file():
            raise FileNotFoundError(f"{study} not found: give the study file or preset that "
                                    f"{study_dir} was run with (--study FILE)")
    return study_spec.load(study)


def _open(study_dir: str | Path, study) -> tuple[StudySpec, pd.DataFrame]:
    """The study's spec and its stored runs (``FileNotFoundError`` for a directory without a
    results store)."""
    with Store(study_dir, create=False) as store:
        runs = store.runs_frame()
    return study_file(study_dir, study), runs


def _data(spec: StudySpec, dataset: str):
    """The dataset ``dataset`` as the study's runs see it (its source and data root)."""
    from dislab.study.tasks import dataset as load_dataset

    source = {d.name: d.source for d in spec.datasets}[dataset]
    return load_dataset(dataset, source, spec.train.get("data_root"))


def external_spec(spec: StudySpec, model_num: int, dataset: str, model: str,
                  hyperparameters: dict[str, Any], seed: int, train: dict[str, Any],
                  sweep: dict[str, Any], representations: tuple[str, ...] | None = None
                  ) -> RunSpec:
    """The run an external model is evaluated as: the study's metrics, their parameters,
    ``metric_mode`` and (representation, metric) pairs (those on ``representations`` only,
    default all), with the evaluation seeds of the study's policy for ``model_num`` (module
    doc: base 0 for ``"dlib"``, ``model_num mod 2**32`` for ``"per_model"``)."""
    base = 0 if spec.evaluation_seeds == "dlib" else model_num % 2**32
    evaluations = tuple((rep, metric) for rep, metric in spec.evaluations
                        if representations is None or rep in representations)
    return RunSpec(
        model_num=model_num, dataset=dataset,
        source={d.name: d.source for d in spec.datasets}[dataset], model=model, sweep=sweep,
        hyperparameters=dict(hyperparameters), seed=seed, train=dict(train),
        metrics=spec.metrics, evaluations=evaluations, metric_mode=spec.metric_mode,
        evaluation_seeds=study_spec.evaluation_seeds(base, spec.representations,
                                                     tuple(spec.metrics)))


def _next_num(runs: pd.DataFrame) -> int:
    """The next external model number: one below the lowest stored, and at most -1."""
    lowest = int(runs["model_num"].min()) if len(runs) else 0
    return min(lowest, 0) - 1


# -- storing ----------------------------------------------------------------------------------


def record_path(study_dir: str | Path, model_num: int) -> Path:
    """``DIR/external/00001.json`` for external run -1."""
    return Path(study_dir) / EXTERNAL_DIR / f"{-model_num:05d}.json"


def _store(study_dir: str | Path, model_num: int, run: dict[str, Any], scores: list) -> None:
    """Store the external run in the results store, then in its record file (for
    :func:`restore`)."""
    with Store(study_dir, create=False) as store:
        store.put_external(model_num, run, scores)
    write_json(record_path(study_dir, model_num),
               {"model_num": model_num, "run": run, "scores": [list(s) for s in scores]})


def restore(store: Store, study_dir: str | Path) -> int:
    """Store again every external run recorded in ``DIR/external/`` (``dislab study rebuild``
    calls this on the new store); returns how many. An unreadable record is skipped with a
    warning naming it."""
    restored = 0
    for path in sorted(Path(study_dir, EXTERNAL_DIR).glob("*.json")):
        try:
            record = json.loads(path.read_text())
            run, scores = record["run"], [tuple(s) for s in record["scores"]]
            model_num = int(record["model_num"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            warnings.warn(f"{path}: not an external run's record ({err}); skipped",
                          stacklevel=2)
            continue
        store.put_external(model_num, run, scores)
        restored += 1
    return restored


def _row(run: RunSpec, data, started: float, tick: float, device: str | None,
         run_dir: str | None, notes: list[str]) -> dict[str, Any]:
    """The ``runs`` columns of an external run scored from ``started`` (``time.time``) and
    ``tick`` (``time.perf_counter``) until now."""
    seconds = time.perf_counter() - tick
    return {"dataset": run.dataset, "model": run.model, "seed": run.seed, "sweep": run.sweep,
            "hyperparameters": run.hyperparameters, "config": run.identity(),
            "started_at": started, "finished_at": time.time(), "eval_seconds": seconds,
            "total_seconds": seconds, "device": device, "data_source": data.source,
            "host": socket.gethostname(), "warnings": "\n".join(notes) or None,
            "run_dir": run_dir}


# -- run directories --------------------------------------------------------------------------


def add_runs(study_dir: str | Path, run_dirs: Iterable[str | Path], *,
             study: str | Path | StudySpec | None = None, allow_unfinished: bool = False,
             device: str = "cpu", progress: bool = False) -> list[Added]:
    """Score each run directory (trained with ``dislab train``, any model) with the study's
    evaluation and store it as an external run (module doc); returns what was done with each,
    in order (a directory given twice once). Every run is checked before any is scored.
    ``device``: the encoder's."""
    spec, runs = _open(study_dir, study)
    checked = {}
    for run_dir in run_dirs:
        path = Path(run_dir).resolve()
        if path not in checked:
            checked[path] = _check_run(spec, path, allow_unfinished)
    stored = _stored_dirs(runs, study_dir)
    next_num = _next_num(runs)
    done = []
    for path, config in checked.items():
        held = stored.get(path)
        if held is not None and held["origin"] != EXTERNAL:
            done.append(Added(str(path), int(held["model_num"]), "present"))
            continue
        model_num = next_num if held is None else int(held["model_num"])
        run = _run_of(spec, config, model_num)
        if held is not None and not study_spec.evaluation_changed(json.loads(held["config"]),
                                                                  run.identity()):
            done.append(Added(str(path), model_num, "present"))
            continue
        _score_run_dir(study_dir, spec, run, path, allow_unfinished, device, progress)
        done.append(Added(str(path), model_num, "added" if held is None else "rescored"))
        if held is None:
            next_num -= 1
    return done


def _check_run(spec: StudySpec, run_dir: Path, allow_unfinished: bool) -> dict[str, Any]:
    """``run_dir``'s ``config.json`` once the run passes (else a one-line error): a run
    directory, trained on one of the study's datasets with its image shape, finished
    unless ``allow_unfinished``."""
    from dislab.scoring import check_finished

    config = rundir.read_config(run_dir)
    names = [d.name for d in spec.datasets]
    if config.get("dataset") not in names:
        raise ValueError(f"{run_dir}: trained on {config.get('dataset')}; the study "
                         f"{spec.name} has {', '.join(names)}: only a run on one of the "
                         "study's datasets can be placed among its runs")
    shape = tuple(config["resolved"].get("observation_shape", ()))
    expected = tuple(_data(spec, config["dataset"]).observation_shape)
    if shape != expected:
        raise ValueError(f"{run_dir}: trained on images of shape {_shape(shape)}; the "
                         f"study's {config['dataset']} has {_shape(expected)} (height x "
                         "width x channels)")
    check_finished(run_dir, allow_unfinished)
    return config


def _shape(shape: tuple) -> str:
    return "x".join(map(str, shape)) or "(none recorded)"


def _stored_dirs(runs: pd.DataFrame, study_dir: str | Path) -> dict[Path, pd.Series]:
    """The stored runs by resolved run directory: the one recorded, and for the study's own
    runs also their place in ``study_dir`` (``runs/<model_num>``: a moved study keeps them
    there)."""
    from dislab.study.runner import run_dir_of

    found = {}
    for _, row in runs.iterrows():
        if isinstance(row["run_dir"], str):
            found[Path(row["run_dir"]).resolve()] = row
        if row["origin"] != EXTERNAL:
            found[run_dir_of(Path(study_dir), int(row["model_num"])).resolve()] = row
    return found


def _run_of(spec: StudySpec, config: dict[str, Any], model_num: int) -> RunSpec:
    """The external run of a run directory's ``config.json``: its model, hyperparameters,
    seed and ``[train]`` options, the study's evaluation."""
    train = {k: v for k, v in config.items()
             if k not in study_spec.RUN_OPTIONS and k != "resolved"}
    return external_spec(spec, model_num, config["dataset"], config["model"],
                         config["hyperparameters"], config["seed"], train,
                         _sweep(spec, config["model"], config["hyperparameters"]))


def _sweep(spec: StudySpec, model: str, hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """The run's values (defaults filled in) of the hyperparameters that the study sweeps for
    the same model: its columns in the study table; none for a model the study lacks."""
    from dislab import models

    keys = [key for m in spec.models if m.name == model for key in m.sweep]
    if not keys:
        return {}
    resolved = models.resolve_hyperparameters(model, hyperparameters)
    return {key: resolved[key] for key in keys if key in resolved}


def _score_run_dir(study_dir: str | Path, spec: StudySpec, run: RunSpec, run_dir: Path,
                   allow_unfinished: bool, device: str, progress: bool) -> None:
    """Score ``run_dir`` as ``run`` (:func:`dislab.scoring.score_run`: results written into
    it, those stored before reused) and store it with its training results."""
    from dislab.scoring import score_run
    from dislab.study.tasks import evaluations, metric_scores, train_scores
    from dislab.train import TrainConfig

    started, tick = time.time(), time.perf_counter()
    data = _data(spec, run.dataset)
    records = score_run(run_dir, evaluations(run), data=data, mode=run.metric_mode,
                        device=device, allow_unfinished=allow_unfinished, progress=progress)
    scores, notes = metric_scores(records), []
    if rundir.is_finished(run_dir):
        results = rundir.read_train_results(run_dir)
        scores = train_scores(results) + scores
        wanted = spec.train.get("eval_samples", TrainConfig.eval_samples)
        if results.get("eval_samples", wanted) != wanted:
            notes.append(f"training results averaged over {results['eval_samples']} samples "
                         f"(results/train.json); the study's runs over {wanted}")
    else:
        notes.append(f"training not finished: scored the checkpoint at step "
                     f"{records[0]['global_step']} of {run.train['steps']}")
    _store(study_dir, run.model_num,
           _row(run, data, started, tick, device, str(run_dir), notes), scores)


# -- representation functions -----------------------------------------------------------------


def add_representation(study_dir: str | Path, function: Callable[[np.ndarray], np.ndarray],
                       *, name: str, dataset: str | None = None, num_latent: int | None = None,
                       study: str | Path | StudySpec | None = None, replace: bool = False,
                       progress: bool = False) -> pd.Series:
    """Score a representation function (float32 images ``[n, 64, 64, C]`` in [0, 1] ->
    codes ``[n, d]``) with the study's evaluation on its ``mean`` representation and store it
    as the external run ``name`` (model column ``name``; module doc); returns its row of the
    study table (the columns it has values for).

    ``dataset``: one of the study's (default: its only one). ``num_latent``: the code size
    ``d`` the function must return (default: whatever it returns). A function stored under
    the same ``name`` is an error unless ``replace``, which scores it again in its place.
    """
    from dislab.scoring import score_function
    from dislab.study.tasks import evaluations, metric_scores

    if not callable(function):
        raise TypeError(f"function must be callable (images -> codes), got {function!r}")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    spec, runs = _open(study_dir, study)
    dataset = _function_dataset(spec, dataset)
    model_num = _function_num(study_dir, runs, name, dataset, replace)
    data = _data(spec, dataset)
    run = external_spec(spec, model_num, dataset, name,
                        {"num_latent": _code_size(function, data, num_latent)}, 0, {}, {},
                        representations=(FUNCTION_REPRESENTATION,))
    if not run.evaluations:
        raise ValueError(f"the study {spec.name} evaluates no metric on the "
                         f"{FUNCTION_REPRESENTATION} representation, the only one of a "
                         "representation function")
    notes = _skipped(spec)
    for note in notes:
        warnings.warn(f"{name}: {note}", stacklevel=2)
    started, tick = time.time(), time.perf_counter()
    records = score_function(function, data, evaluations(run), mode=run.metric_mode,
                             progress=progress)
    _store(study_dir, model_num, _row(run, data, started, tick, None, None, notes),
           metric_scores(records))
    with Store(study_dir, create=False) as store:
        table = store.table()
    return table.loc[table["model_num"] == model_num].iloc[0].dropna()


def _function_dataset(spec: StudySpec, dataset: str | None) -> str:
    """``dataset``, checked to be one of the study's; ``None``: the study's only one."""
    names = [d.name for d in spec.datasets]
    if dataset is None and len(names) == 1:
        return names[0]
    if dataset is None:
        raise ValueError(f"the study {spec.name} has {len(names)} datasets ({', '.join(names)}): "
                         "say which with dataset=")
    if dataset not in names:
        raise ValueError(f"dataset {dataset!r} is not one of the study {spec.name}'s: "
                         f"{', '.join(names)}")
    return dataset


def _function_num(study_dir, runs: pd.DataFrame, name: str, dataset: str,
                  replace: bool) -> int:
    """The model number of the representation function ``name`` on ``dataset``: its stored
    one (only with ``replace``), else the next free one (one method, several datasets: one
    external run per dataset)."""
    held = runs[(runs["origin"] == EXTERNAL) & runs["run_dir"].isna() & (runs["model"] == name)
                & (runs["dataset"] == dataset)]
    if held.empty:
        return _next_num(runs)
    if not replace:
        raise ValueError(f"{study_dir} already holds a representation function named {name!r} "
                         f"on {dataset} (external run {held['model_num'].iloc[0]}): give "
                         "another name, or replace=True to score it again in its place")
    return int(held["model_num"].iloc[0])


def _code_size(function: Callable, data, num_latent: int | None) -> int:
    """The code size ``d`` of ``function`` on two images of ``data`` (its codes checked as
    every metric checks them); ``num_latent``, when given, must be it."""
    from dislab.metrics._utils import check_codes

    images = data.sample_observations(2, np.random.RandomState(0))
    size = check_codes(function(images), len(images), "add_representation").shape[1]
    if num_latent is not None and size != num_latent:
        raise ValueError(f"the function returned codes of {size} dimensions for images "
                         f"{images.shape}; num_latent = {num_latent}")
    return size


def _skipped(spec: StudySpec) -> list[str]:
    """What a representation function leaves out of the study's evaluation: the metrics on
    representations other than its one."""
    others = {}
    for rep, metric in spec.evaluations:
        if rep != FUNCTION_REPRESENTATION:
            others.setdefault(rep, []).append(metric)
    return [f"a representation function has one representation ({FUNCTION_REPRESENTATION}); "
            f"the study's metrics on {rep} are skipped: {', '.join(metrics)}"
            for rep, metrics in others.items()]
