"""Study files: the paper's enumeration (dlib's ``config/unsupervised_study_v1/sweep.py``) and
evaluation seeds (``dlib_reproduce``'s), presets, errors."""

from __future__ import annotations

import pytest

from dislab.study import spec as study_spec
from tests.study.fake_tasks import SMALL_STUDY

PAPER_DATASETS = ["dsprites_full", "color_dsprites", "noisy_dsprites", "scream_dsprites",
                  "smallnorb", "cars3d", "shapes3d"]
PAPER_MODELS = [("beta_vae", "beta", [1, 2, 4, 6, 8, 16]),
                ("factor_vae", "gamma", [10, 20, 30, 40, 50, 100]),
                ("dip_vae_i", "lambda_od", [1, 2, 5, 10, 20, 50]),
                ("dip_vae_ii", "lambda_od", [1, 2, 5, 10, 20, 50]),
                ("beta_tc_vae", "beta", [1, 2, 4, 6, 8, 10]),
                ("annealed_vae", "c_max", [5, 10, 25, 50, 75, 100])]
# the seeds dlib_reproduce draws from RandomState(0), identical for every model (computed with
# numpy: RandomState(0).randint(2**32), postprocessing first, then the sorted metric configs)
DLIB_SEEDS = {
    "mean": {"representation": 2357136044, "beta_vae": 3071714933, "dci": 3626093760,
             "downstream_task_boosted_trees": 2588848963,
             "downstream_task_logistic_regression": 3684848379, "factor_vae": 2340255427,
             "mig": 3638918503, "modularity": 1819583497, "sap": 2678185683,
             "unsupervised": 2774094101},
    "sampled": {"representation": 2546248239, "beta_vae": 1650906866, "dci": 1879422756,
                "downstream_task_boosted_trees": 1277901399,
                "downstream_task_logistic_regression": 3830135878, "factor_vae": 243580376,
                "mig": 4138900056, "modularity": 1171049868, "sap": 1646868794,
                "unsupervised": 2051556033},
}


@pytest.fixture(scope="module")
def paper():
    spec = study_spec.load("paper")
    return spec, spec.runs()


def test_paper_has_12600_runs_in_dlib_order(paper):
    spec, runs = paper
    assert spec.num_runs == len(runs) == 12_600
    assert [r.model_num for r in runs] == list(range(12_600))
    for n in range(0, 12_600, 7):  # model_num = 1800 d + 300 m + 50 h + s
        d, rest = divmod(n, 1800)
        m, rest = divmod(rest, 300)
        h, s = divmod(rest, 50)
        name, param, values = PAPER_MODELS[m]
        run = runs[n]
        assert (run.dataset, run.model, run.sweep, run.seed) == (
            PAPER_DATASETS[d], name, {param: values[h]}, s)


@pytest.mark.parametrize("model_num, dataset, model, sweep, seed", [
    (0, "dsprites_full", "beta_vae", {"beta": 1}, 0),
    (50, "dsprites_full", "beta_vae", {"beta": 2}, 0),
    (300, "dsprites_full", "factor_vae", {"gamma": 10}, 0),
    (600, "dsprites_full", "dip_vae_i", {"lambda_od": 1}, 0),
    (1799, "dsprites_full", "annealed_vae", {"c_max": 100}, 49),
    (1800, "color_dsprites", "beta_vae", {"beta": 1}, 0),
    (10800, "shapes3d", "beta_vae", {"beta": 1}, 0),
    (12599, "shapes3d", "annealed_vae", {"c_max": 100}, 49),
])
def test_paper_model_num_checks(paper, model_num, dataset, model, sweep, seed):
    run = paper[0].run(model_num)
    assert (run.dataset, run.model, run.sweep, run.seed) == (dataset, model, sweep, seed)


def test_paper_fixed_hyperparameters_and_protocol(paper):
    spec, runs = paper
    assert runs[600].hyperparameters == {"lambda_od": 1.0, "lambda_d_factor": 10.0}
    assert runs[900].hyperparameters == {"lambda_od": 1.0, "lambda_d_factor": 1.0}
    assert runs[1500].hyperparameters == {"c_max": 5.0, "gamma": 1000.0,
                                          "iteration_threshold": 100_000}
    assert spec.train == {"steps": 300_000}
    assert len(spec.metrics) == 9 and len(spec.evaluations) == 18
    assert spec.num_evaluations == 12_600 * 18
    assert all(params == {} for params in spec.metrics.values())  # the study's defaults


def test_paper_uses_dlibs_seeds_for_every_model(paper):
    _, runs = paper
    assert runs[0].evaluation_seeds == DLIB_SEEDS
    assert runs[12_599].evaluation_seeds == DLIB_SEEDS


def test_per_model_seeds_differ_between_models_and_start_at_dlibs():
    spec = study_spec.loads(SMALL_STUDY)
    assert spec.evaluation_seeds == "per_model"  # the default
    seeds = [run.evaluation_seeds for run in spec.runs()]
    assert seeds[0] == study_spec.evaluation_seeds(0, ("mean", "sampled"), ("mig", "sap"))
    assert seeds[0]["mean"]["representation"] == 2357136044  # RandomState(0), first draw
    assert len({s["mean"]["mig"] for s in seeds}) == len(seeds)


def test_seed_order_sorts_metrics_by_dlib_name():
    # dlib name order: beta_vae_sklearn < mig < sap_score; 'sap' must come after 'mig'
    seeds = study_spec.evaluation_seeds(0, ("mean",), ("sap", "mig", "beta_vae"))
    assert seeds["mean"] == {"representation": 2357136044, "beta_vae": 2546248239,
                             "mig": 3071714933, "sap": 3626093760}


def test_every_preset_parses_and_round_trips():
    assert {"paper", "quick", "findings", "dsprites-small", "tiny"} <= set(study_spec.presets())
    for name in study_spec.presets():
        spec = study_spec.load(name)
        assert study_spec.parse(spec.to_dict()) == spec
    assert study_spec.load("quick").num_runs == 48
    assert study_spec.load("findings").num_runs == 144
    assert study_spec.load("dsprites-small").num_runs == 108


def test_small_study_enumeration_and_metric_representations():
    spec = study_spec.loads(SMALL_STUDY)
    assert spec.num_runs == 6 and spec.seeds == (0, 1, 2)
    assert spec.evaluations == (("mean", "mig"), ("mean", "sap"), ("sampled", "mig"))
    assert [(r.sweep["beta"], r.seed) for r in spec.runs()] == [
        (1.0, 0), (1.0, 1), (1.0, 2), (2.0, 0), (2.0, 1), (2.0, 2)]


@pytest.mark.parametrize("change, message", [
    (("name = \"dsprites_full\"", "name = \"dsprites_fool\""), "valid names"),
    (("name = \"beta_vae\"", "name = \"beta_vea\""), "valid"),
    (("[metrics.mig]", "[metrics.mog]"), "valid names"),
    (("[metrics.mig]", "[metrics.mig]\nnum_trian = 3"), "num_trian"),
    (("seeds = 3", "seeds = 0"), "study.seeds"),
    (("seeds = 3", "seeds = 3\ncolour = 1"), "colour"),
    (("[metrics.mig]", "[train]\nseed = 3\n[metrics.mig]"), "may not set seed"),
    (("[metrics.mig]", "[train]\nstepz = 3\n[metrics.mig]"), "stepz"),
    (("beta = [1.0, 2.0]", "gamma = [1.0]"), "gamma"),
    (("representations = [\"mean\"]", "representations = [\"median\"]"), "median"),
    (("seeds = 3", "seeds = 3\nevaluation_seeds = \"same\""), "per_model"),
    # values: every point of every model's grid through its objective's checks
    (("beta = [1.0, 2.0]", "beta = [1.0, -4.0]"),
     r"bad.toml: models.beta_vae.sweep: beta = -4.0 is invalid for beta_vae: .*>= 0"),
    (("sweep = { beta = [1.0, 2.0] }", "fixed = { beta = \"big\" }"),
     r"bad.toml: models.beta_vae.fixed: beta = 'big' is invalid"),
    (("sweep = { beta = [1.0, 2.0] }", "sweep = { beta = [1.0, 2.0] }\nfixed = 3"),
     "models.beta_vae.fixed must be a table"),
    # metric parameters: types and ranges
    (("[metrics.mig]", "[metrics.mig]\nnum_train = \"many\""),
     r"bad.toml: \[metrics.mig\]: .*num_train.*'many'"),
    (("[metrics.mig]", "[metrics.mig]\nnum_train = -5"), r"bad.toml: \[metrics.mig\]: .*-5"),
    (("[metrics.mig]", "[metrics.mig]\nnum_train = 2.5"), r"\[metrics.mig\]: .*2.5"),
    (("representations = [\"mean\"]", "representations = \"mean\""), "must be a list"),
    (("[metrics.mig]", "[train]\nlr = \"fast\"\n[metrics.mig]"),
     r"bad.toml: \[train\]: lr must be a number"),
    (("[metrics.mig]", "[train]\nsteps = -1\n[metrics.mig]"), r"\[train\]: steps must be"),
    (("[metrics.mig]", "[train]\ndevice = 3\n[metrics.mig]"), r"\[train\]: device"),
    (("[[datasets]]", "[datasets]"), r"datasets must be an array of tables \(\[\[datasets"),
])
def test_bad_study_files_are_clear_errors(change, message):
    with pytest.raises(ValueError, match=message):
        study_spec.loads(SMALL_STUDY.replace(*change), "bad.toml")


def test_unknown_study_lists_presets():
    with pytest.raises(FileNotFoundError, match="paper"):
        study_spec.load("no-such-study")
    with pytest.raises(ValueError, match="invalid TOML"):
        study_spec.loads("[study", "broken.toml")
