"""The weakly-supervised study presets: `weak` (the grid of Locatello et al., ICML 2020, as
far as dislab can run it) and `weak-quick` (a short weak-vs-unsupervised comparison)."""

from __future__ import annotations

from dislab import study
from dislab.analysis.columns import WEAK_MODELS, swept_columns
from dislab.study import spec as study_spec
from dislab.study.store import Store

BETAS = [1.0, 2.0, 4.0, 6.0, 8.0, 16.0]
NINE_METRICS = {"beta_vae", "dci", "downstream_task_boosted_trees",
                "downstream_task_logistic_regression", "factor_vae", "mig", "modularity",
                "sap", "unsupervised"}


def test_both_presets_parse_and_round_trip():
    assert {"weak", "weak-quick"} <= set(study_spec.presets())
    for name in ("weak", "weak-quick"):
        spec = study_spec.load(name)
        assert spec.name == name
        assert study_spec.parse(spec.to_dict()) == spec


def test_weak_is_the_papers_grid():
    spec = study_spec.load("weak")
    assert [d.name for d in spec.datasets] == ["dsprites_full", "smallnorb", "cars3d",
                                               "shapes3d"]
    assert {d.source for d in spec.datasets} == {"auto"}  # no MPI3D: no procedural version
    assert [m.name for m in spec.models] == ["ada_gvae", "ada_ml_vae"]
    for model in spec.models:
        assert model.sweep == {"beta": BETAS, "k": [1, -1]}  # k = 1 and k = Rnd
        assert model.fixed == {}
    assert spec.seeds == tuple(range(10))
    assert spec.num_runs == 4 * 2 * 6 * 2 * 10 == 960
    assert spec.train["steps"] == 300_000
    assert set(spec.metrics) == NINE_METRICS
    assert all(params == {} for params in spec.metrics.values())  # the study's defaults
    assert spec.representations == ("mean", "sampled")
    assert spec.num_evaluations == 960 * 18
    runs = spec.runs()
    assert {r.model for r in runs} <= set(WEAK_MODELS)
    # dlib's order: datasets, models, swept values (beta, then k), seeds
    assert [(r.dataset, r.model, r.sweep, r.seed) for r in runs[9:12]] == [
        ("dsprites_full", "ada_gvae", {"beta": 1.0, "k": 1}, 9),
        ("dsprites_full", "ada_gvae", {"beta": 1.0, "k": -1}, 0),
        ("dsprites_full", "ada_gvae", {"beta": 1.0, "k": -1}, 1)]
    assert runs[240].dataset == "smallnorb"


def test_weak_quick_compares_both_weak_models_with_a_beta_vae_baseline():
    spec = study_spec.load("weak-quick")
    models = {m.name: m for m in spec.models}
    assert list(models) == ["ada_gvae", "ada_ml_vae", "beta_vae"]
    betas = models["beta_vae"].sweep["beta"]
    assert len(betas) == 2
    for name in ("ada_gvae", "ada_ml_vae"):
        assert models[name].sweep == {"beta": betas, "k": [1]}  # same betas, k = 1
    assert spec.seeds == (0, 1)
    assert spec.num_runs == 12
    assert [(d.name, d.source) for d in spec.datasets] == [("dsprites_full", "procedural")]
    assert spec.train["steps"] <= 1000 and spec.metric_mode == "fast"
    # `dislab study plan` times the first run: a weakly-supervised one, the costlier kind
    assert spec.runs()[0].model == "ada_gvae"


def test_k_is_a_column_of_the_study_table(tmp_path):
    runs = study_spec.load("weak-quick").runs()
    with Store(tmp_path) as store:
        store.register(runs)
    table = study.load(tmp_path)
    assert swept_columns(table) == ["beta", "k"]
    weak = table[table["model"].isin(WEAK_MODELS)]
    assert (weak["k"] == 1).all() and len(weak) == 8
    assert table.loc[table["model"] == "beta_vae", "k"].isna().all()
