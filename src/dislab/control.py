"""Control experiments the paper lacked: entangle learned representations on purpose.

1. **Entanglement control** (:func:`entanglement_control`). A representation ``r(x)`` is
   replaced by ``A r(x)`` with ``A`` a random rotation (Haar-distributed, ``det A = 1``) or a
   random invertible linear map (Gaussian entries, condition number at most
   ``MAX_CONDITION``). ``A`` keeps all the information in the code, so a downstream
   predictor that can undo ``A`` (logistic regression is linear) should do as well as
   before, while axis-aligned scores (MIG, SAP, DCI, ...) drop. Comparing the two
   separates "disentanglement helps" from "the representation carries the information".

2. **The impossibility theorem made visible** (:func:`rotation_experiment`). For a trained
   VAE with encoder ``q(z|x) = N(mu, diag sigma^2)``, decoder ``p(x|z)`` and prior
   ``N(0, I)``, the rotated model has encoder ``q'(z'|x) = N(R mu, R diag(sigma^2) R^T)``
   and decoder ``p'(x|z') = p(x|R^T z')``; the prior is rotation invariant. Its ELBO
   ``E_q'[log p'(x|z')] - KL(q' || N(0, I))`` equals the original one for every ``x``
   (substitute ``z' = R z``), while the mean representation becomes ``R mu`` and every
   disentanglement metric changes. :func:`mapped_elbo` computes both ELBOs with the same
   noise ``eps`` (``z' = R mu + R diag(sigma) eps``) and the KL of the full covariance
   ``C = R diag(sigma^2) R^T``: ``KL = 1/2 (tr C + |R mu|^2 - d - log det C)``.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import special_ortho_group

from dislab import data as datasets
from dislab import metrics as metric_registry
from dislab.data.base import GroundTruthData
from dislab.metrics.downstream import sample_efficiency
from dislab.models.vae import GaussianEncoderVAE, bernoulli_reconstruction
from dislab.represent import Representation, load_model
from dislab.rundir import CHECKPOINT_FILE, to_images

MAX_CONDITION = 10.0
KINDS = ("rotation", "linear")
# Small budgets: a tenth to a twentieth of the study's sample sizes (10,000 / 5,000 points in
# dlib's config/unsupervised_study_v1/metric_configs).
CONTROL_METRICS = {
    "mig": {"num_train": 1000},
    "sap": {"num_train": 1000, "num_test": 500},
    "modularity": {"num_train": 1000, "num_test": 500},
    "dci": {"num_train": 1000, "num_test": 500},
    "downstream_task_logistic_regression": {"num_train": [100, 1000], "num_test": 500},
    "downstream_task_boosted_trees": {"num_train": [100, 1000], "num_test": 500},
}
# result column -> (metric, key); "efficiency" columns are accuracy at 100 / at the largest
SCORES = {
    "MIG": ("mig", "discrete_mig"),
    "SAP": ("sap", "SAP_score"),
    "Modularity": ("modularity", "modularity_score"),
    "DCI": ("dci", "disentanglement"),
}
DOWNSTREAM = {"LR": "downstream_task_logistic_regression",
              "GBT": "downstream_task_boosted_trees"}


def random_rotation(dim: int, rng: np.random.RandomState) -> np.ndarray:
    """A Haar-distributed rotation matrix (orthogonal, determinant +1)."""
    if dim == 1:
        return np.ones((1, 1))
    return special_ortho_group.rvs(dim, random_state=rng)


def random_linear_map(dim: int, rng: np.random.RandomState,
                      max_condition: float = MAX_CONDITION) -> np.ndarray:
    """A random invertible matrix with i.i.d. ``N(0, 1/dim)`` entries, drawn again until its
    condition number is at most ``max_condition`` (so that it stays well invertible)."""
    while True:
        matrix = rng.standard_normal((dim, dim)) / np.sqrt(dim)
        if np.linalg.cond(matrix) <= max_condition:
            return matrix


def transforms(dim: int, kinds=KINDS, num_maps: int = 1,
               seed: int = 0) -> list[tuple[str, str, np.ndarray]]:
    """``[(name, kind, matrix)]``: the identity, then ``num_maps`` maps of each kind."""
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown transform kind {kind!r}; valid: {', '.join(KINDS)}")
    rng = np.random.RandomState(seed)
    result = [("identity", "identity", np.eye(dim))]
    for kind in kinds:
        draw = random_rotation if kind == "rotation" else random_linear_map
        result += [(f"{kind} {i + 1}", kind, draw(dim, rng)) for i in range(num_maps)]
    return result


class Mixed:
    """``x -> r(x) A^T``: the representation ``r`` mixed by the matrix ``A`` (picklable)."""

    def __init__(self, representation_fn, matrix: np.ndarray):
        self.representation_fn = representation_fn
        self.matrix = np.asarray(matrix, dtype=np.float64)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        codes = np.asarray(self.representation_fn(x), dtype=np.float64)
        return (codes @ self.matrix.T).astype(np.float32)


def code_dimension(representation_fn, data: GroundTruthData) -> int:
    """The length of the codes ``representation_fn`` gives on ``data``'s images."""
    return int(np.asarray(representation_fn(data.sample_observations(
        1, np.random.RandomState(0)))).shape[1])


def entanglement_control(representation_fn, data: GroundTruthData, *, kinds=KINDS,
                         num_maps: int = 1, seed: int = 0,
                         metrics: dict[str, dict] | None = None,
                         mode: str = "fast") -> pd.DataFrame:
    """Scores of ``representation_fn`` and of its entangled versions (see the module
    docstring). One row per transform (``identity`` first): the disentanglement scores of
    :data:`SCORES` and, per downstream predictor, ``<LR|GBT> accuracy`` (mean test accuracy
    at the largest training size) and ``<LR|GBT> efficiency`` (accuracy at the smallest size
    over it). Every transform is scored with the same evaluation seed, hence on the same
    images. ``metrics`` maps metric names to parameters (default :data:`CONTROL_METRICS`)."""
    metrics = CONTROL_METRICS if metrics is None else metrics
    dim = code_dimension(representation_fn, data)
    rows = []
    for name, kind, matrix in transforms(dim, kinds, num_maps, seed):
        results = metric_registry.evaluate(Mixed(representation_fn, matrix), data,
                                           list(metrics), seed=seed, mode=mode,
                                           params=metrics, progress=False)
        rows.append({"transform": name, "kind": kind,
                     "condition": float(np.linalg.cond(matrix)),
                     **_scores(results, metrics)})
    return pd.DataFrame(rows)


def _scores(results: dict[str, dict[str, float]], metrics: dict[str, dict]) -> dict:
    row = {label: results[metric][key] for label, (metric, key) in SCORES.items()
           if metric in results}
    for label, metric in DOWNSTREAM.items():
        if metric not in results:
            continue
        default = metric_registry.info(metric).parameters["num_train"]
        sizes = sorted(int(n) for n in metrics[metric].get("num_train", default))
        accuracy = results[metric][f"{sizes[-1]}:mean_test_accuracy"]
        row[f"{label} accuracy"] = accuracy
        if len(sizes) > 1:
            small = results[metric][f"{sizes[0]}:mean_test_accuracy"]
            row[f"{label} efficiency"] = sample_efficiency(small, accuracy)
    return row


@torch.no_grad()
def mapped_elbo(vae: GaussianEncoderVAE, images: np.ndarray, matrix: np.ndarray,
                seed: int = 0) -> dict[str, float]:
    """ELBO terms (batch means, float64) on ``images`` (float ``[N, H, W, C]`` in [0, 1]) of
    the model whose latent space is mapped by the invertible ``A = matrix``: encoder
    ``N(A mu, A diag(sigma^2) A^T)``, decoder ``p(x | A^-1 z')``, prior ``N(0, I)``.

    The reconstruction term is that of the original model for every ``A``; the KL (of the
    full covariance ``C``, ``1/2 (tr C + |A mu|^2 - d - log det C)``) is unchanged exactly
    when ``A`` is orthogonal. The identity gives the original model. ``seed`` seeds the
    noise ``eps`` (``z' = A mu + A diag(sigma) eps``), so every ``A`` sees the same noise."""
    device = next(vae.parameters()).device
    model = _float64_copy(vae)
    x = to_images(images, device).double()
    matrix = torch.as_tensor(np.asarray(matrix), dtype=torch.float64, device=device)
    mu, logvar = model.encode(x)
    eps = torch.randn(mu.shape, generator=torch.Generator(device).manual_seed(seed),
                      dtype=torch.float64, device=device)
    mean = mu @ matrix.T                                         # A mu
    root = matrix[None] * torch.exp(0.5 * logvar)[:, None, :]   # L = A diag(sigma)
    z = mean + (root @ eps[..., None])[..., 0]                   # z' = A mu + L eps
    logits = model.decode(torch.linalg.solve(matrix, z.T).T)     # decoder of A^-1 z'
    reconstruction = bernoulli_reconstruction(logits, x).mean()
    covariance = root @ root.transpose(1, 2)                     # C = L L^T
    kl = 0.5 * (torch.diagonal(covariance, dim1=1, dim2=2).sum(1) + mean.square().sum(1)
                - mean.shape[1] - torch.logdet(covariance)).mean()
    return {"reconstruction": float(reconstruction), "kl": float(kl),
            "elbo": float(-(reconstruction + kl))}


def _float64_copy(vae: GaussianEncoderVAE) -> GaussianEncoderVAE:
    """A float64 copy of ``vae`` in eval mode (the original is left untouched)."""
    return copy.deepcopy(vae).double().eval()


def rotation_experiment(vae: GaussianEncoderVAE, data: GroundTruthData, *,
                        kinds=("rotation",), num_maps: int = 2, seed: int = 0,
                        num_images: int = 256, metrics: dict[str, dict] | None = None,
                        mode: str = "fast") -> pd.DataFrame:
    """The impossibility theorem on a trained model: :func:`entanglement_control` of its
    mean representation, with the ELBO of each mapped model (:func:`mapped_elbo`) on
    ``num_images`` images: ``elbo`` and ``relative_elbo_change`` against the identity,
    zero up to rounding for rotations, not for other linear maps (they move the posterior
    away from the prior)."""
    device = next(vae.parameters()).device
    representation = Representation(vae, data.observation_shape, "mean", device=device)
    table = entanglement_control(representation, data, kinds=kinds, num_maps=num_maps,
                                 seed=seed, metrics=metrics, mode=mode)
    images = data.sample_observations(num_images, np.random.RandomState(seed))
    elbos = [mapped_elbo(vae, images, matrix, seed)["elbo"]
             for _, _, matrix in transforms(representation.num_latent, kinds, num_maps, seed)]
    table.insert(3, "elbo", elbos)
    table.insert(4, "relative_elbo_change", (table["elbo"] - elbos[0]).abs() / abs(elbos[0]))
    return table


def study_control(table: pd.DataFrame, *, num_runs: int = 1, seed: int = 0,
                  metrics: dict[str, dict] | None = None) -> pd.DataFrame:
    """:func:`rotation_experiment` (rotations and linear maps) on the first ``num_runs``
    finished runs of a study table (``dislab.study.load``) that still have their run
    directory and checkpoint; ``ValueError`` when there is none."""
    runs = table[table["state"] == "done"] if "state" in table else table
    if "run_dir" in runs:
        runs = runs[runs["run_dir"].map(lambda d: isinstance(d, str) and
                                        (Path(d) / CHECKPOINT_FILE).is_file())]
    else:
        runs = runs.iloc[:0]
    if runs.empty:
        raise ValueError("the control experiments need a finished run with its checkpoint "
                         "(run_dir/checkpoint.pt); the study has none")
    frames = []
    for run in runs.head(num_runs).itertuples():
        vae, config = load_model(run.run_dir)
        data = datasets.get(config["dataset"], source=config["resolved"]["dataset_source"],
                            root=config.get("data_root"))
        frame = rotation_experiment(vae, data, kinds=KINDS, num_maps=1, seed=seed,
                                    metrics=metrics)
        frames.append(frame.assign(model_num=run.model_num, dataset=run.dataset,
                                   model=run.model))
    result = pd.concat(frames, ignore_index=True)
    return result[["model_num", "dataset", "model",
                   *[c for c in result.columns if c not in ("model_num", "dataset", "model")]]]


def summarize(result: pd.DataFrame) -> str:
    """One sentence per kind of map: the largest relative ELBO change and the mean change of
    each score against the identity of the same run (rows of :func:`study_control`)."""
    scores = [c for c in result.columns if c in SCORES or c.endswith(("accuracy",
                                                                        "efficiency"))]
    keys = [c for c in ("model_num",) if c in result.columns]
    identity = result[result["kind"] == "identity"].set_index(keys or "kind")
    sentences = []
    for kind, rows in result[result["kind"] != "identity"].groupby("kind"):
        base = identity.loc[rows[keys[0]]] if keys else identity.iloc[[0] * len(rows)]
        change = rows[scores].to_numpy(dtype=float) - base[scores].to_numpy(dtype=float)
        parts = ", ".join(f"{c} {d:+.3f}" for c, d in zip(scores, np.nanmean(change, 0)))
        elbo = (f"largest relative ELBO change {rows['relative_elbo_change'].max():.1e}; "
                if "relative_elbo_change" in rows else "")
        sentences.append(f"{kind}: {elbo}mean change {parts}.")
    return " ".join(sentences)
