"""A picture of a dataset: random samples and one traversal row per latent factor."""

from __future__ import annotations

import numpy as np

from dislab._io import atomic_path
from dislab.data.base import GroundTruthData, Rng


def traversal_values(size: int, max_values: int) -> np.ndarray:
    """At most ``max_values`` evenly spaced class indices of a factor with ``size`` values."""
    return np.unique(np.round(np.linspace(0, size - 1, min(size, max_values))).astype(np.int64))


def preview_rows(
    data: GroundTruthData, rng: Rng, columns: int = 10, sample_rows: int = 2
) -> list[tuple[str, np.ndarray]]:
    """Labelled rows of images ``[k, H, W, C]``: ``sample_rows`` rows of random samples, then,
    for each latent factor, its values (evenly spaced, at most ``columns``) with the other
    factors held at one random configuration."""
    rows = []
    samples = data.sample_observations(columns * sample_rows, rng)
    for r in range(sample_rows):
        rows.append(("samples" if r == 0 else "", samples[r * columns:(r + 1) * columns]))
    anchor = data.sample_factors(1, rng)[0]
    for col, (name, size) in enumerate(zip(data.factor_names, data.factor_sizes)):
        values = traversal_values(size, columns)
        factors = np.repeat(anchor[None], len(values), axis=0)
        factors[:, col] = values
        rows.append((f"{name} ({size})", data.sample_observations_from_factors(factors, rng)))
    return rows


def save_preview(data: GroundTruthData, path, rng: Rng, columns: int = 10) -> None:
    """Write :func:`preview_rows` as one labelled PNG grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = preview_rows(data, rng, columns)
    h, w, c = data.observation_shape
    gap = 2
    canvas = np.ones((len(rows) * (h + gap), columns * (w + gap), 3), dtype=np.float32)
    for r, (_, images) in enumerate(rows):
        for k, image in enumerate(images):
            y, x = r * (h + gap), k * (w + gap)
            canvas[y:y + h, x:x + w] = image if c == 3 else np.repeat(image, 3, axis=-1)
    fig, ax = plt.subplots(figsize=(columns * 0.9 + 2.2, len(rows) * 0.9 + 0.6), dpi=100)
    ax.imshow(canvas, interpolation="nearest")
    ax.set_yticks([r * (h + gap) + h / 2 for r in range(len(rows))])
    ax.set_yticklabels([label for label, _ in rows])
    ax.set_xticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    ax.tick_params(length=0)
    ax.set_title(f"{data.name} ({data.source})", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
