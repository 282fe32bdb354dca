"""The report's gallery of the trained models: reconstructions, a latent traversal (with its
animation) and the per-latent KL of every run, grouped by dataset, model, hyperparameter value
and seed.

This layer draws nothing: it takes the frame of :func:`dislab.viz.gallery_for_table` (one row
per run: ``model_num``, ``dataset``, ``model``, the hyperparameter columns between ``model``
and ``seed``, ``seed``, ``origin``, the path of every picture in :data:`PICTURE_COLUMNS`, and
``missing``: why a run has no pictures), copies the pictures into ``out/gallery/<model_num>/``
and returns the HTML section, whose links are relative to ``out`` (the report keeps working
when its folder moves).
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import pandas as pd

from dislab._io import atomic_path
from dislab.analysis.columns import swept_columns

TITLE = "Gallery of the trained models"
#: The full-size pictures shown as thumbnails (column ``<name>_thumb``), with their captions.
PICTURES = {
    "reconstructions": "observations (top) and their reconstructions from the mean code",
    "traversal": "latent traversal: one row per latent dimension, its value swept from low "
                 "to high",
    "kl": "mean KL of each latent dimension",
}
GIF = "traversal_gif"
INTRO = ("For each run: observations (top row) above their reconstructions from the mean code; "
         "a latent traversal, one row per latent dimension, its value swept from low to high; "
         "the mean KL of each latent dimension (grey bars: inactive). Each thumbnail links to "
         "the full size; GIF: the traversal animated, every latent moving along dlib's "
         "fixed_interval_cycle.")
PICTURE_COLUMNS = (*PICTURES, *(f"{name}_thumb" for name in PICTURES), GIF)
GALLERY_DIR = "gallery"


def gallery_html(frame: pd.DataFrame, out: str | Path) -> str:
    """The section "Gallery of the trained models" for ``out/index.html``: one ``h3`` per
    dataset, one ``h4`` per model, then a table with one row per hyperparameter setting and
    one column per seed. A cell holds each of its runs: the thumbnails of :data:`PICTURES`,
    each a link to the full-size PNG, and a link to the animated traversal (GIF); a run
    without pictures shows why (``missing``); runs added from outside the study (origin
    ``external``) are labelled so. Copies the pictures into ``out/gallery/<model_num>/``."""
    _check_columns(frame)
    head = f"<h2 id='gallery'>{TITLE}</h2>"
    if frame.empty:
        return head + "<p>The study has no runs: there is nothing to show.</p>"
    frame = frame.reset_index(drop=True)
    links = _copy_pictures(frame, Path(out))
    parts, swept = [head, f"<p>{INTRO}</p>"], swept_columns(frame)
    for dataset, runs in frame.groupby("dataset", sort=True):
        parts.append(f"<h3>{html.escape(str(dataset))}</h3>")
        for model, model_runs in runs.groupby("model", sort=True):
            parts.append(f"<h4>{html.escape(str(model))}</h4>")
            parts.append(_model_table(model_runs, swept, links))
    return "\n".join(parts)


def _check_columns(frame: pd.DataFrame) -> None:
    needed = ["model_num", "dataset", "model", "seed", *PICTURE_COLUMNS, "missing"]
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise ValueError(f"not a gallery frame: column(s) {', '.join(absent)} missing "
                         "(expected the frame of dislab.viz.gallery_for_table)")


def _copy_pictures(frame: pd.DataFrame, out: Path) -> dict[int, dict[str, str]]:
    """Copy each run's pictures into ``out/gallery/<folder>/``; returns, per row with
    pictures, each picture's link relative to ``out``. A picture file that has gone away
    turns the row into a missing one (its ``missing`` text is set)."""
    links = {}
    for i, folder in _folders(frame).items():
        row = frame.loc[i]
        if _missing(row):
            continue
        sources = {key: Path(row[key]) for key in PICTURE_COLUMNS}
        lost = [str(path) for path in sources.values() if not path.is_file()]
        if lost:
            frame.loc[i, "missing"] = f"picture file(s) not found: {', '.join(lost)}"
            continue
        links[i] = {}
        for key, source in sources.items():
            link = f"{GALLERY_DIR}/{folder}/{source.name}"
            with atomic_path(out / link) as tmp:
                shutil.copyfile(source, tmp)
            links[i][key] = link
    return links


def _folders(frame: pd.DataFrame) -> pd.Series:
    """Each run's folder under ``gallery/``: its ``model_num``, with ``_2``, ``_3`` ... for a
    number seen before (a table of several studies numbers each study's runs from 0)."""
    names = frame["model_num"].map(_text)
    repeat = names.groupby(names).cumcount()
    return names.where(repeat == 0, names + "_" + (repeat + 1).astype(str))


def _model_table(runs: pd.DataFrame, swept: list[str], links: dict) -> str:
    """One row per hyperparameter setting (sorted by value), one column per seed."""
    runs = runs.assign(_setting=[_setting(row, swept) for _, row in runs.iterrows()])
    runs = runs.loc[sorted(runs.index, key=lambda i: [_sort_key(runs.at[i, c])
                                                      for c in [*swept, "seed"]])]
    seeds = list(dict.fromkeys(map(_text, sorted(runs["seed"], key=_sort_key))))
    header = "<tr><th>hyperparameters</th>" + "".join(
        f"<th>seed {html.escape(seed)}</th>" for seed in seeds) + "</tr>"
    body = []
    for setting, group in runs.groupby("_setting", sort=False):
        cells = [_cell(group[group["seed"].map(_text) == seed], links) for seed in seeds]
        body.append(f"<tr><th>{html.escape(setting)}</th>"
                    + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return f"<table class='gallery'>{header}{''.join(body)}</table>"


def _setting(row: pd.Series, swept: list[str]) -> str:
    """``"beta=4"``: the run's hyperparameters that are set (several joined by ``, ``)."""
    values = [f"{c}={_text(row[c])}" for c in swept if pd.notna(row[c])]
    return ", ".join(values) or "(no hyperparameters)"


def _cell(runs: pd.DataFrame, links: dict) -> str:
    return "".join(_run(row, links.get(i)) for i, row in runs.iterrows())


def _run(row: pd.Series, links: dict[str, str] | None) -> str:
    """One run: its number, ``external`` when added from outside the study, then its
    thumbnails and GIF link, or why it has none."""
    name = f"run {_text(row['model_num'])}"
    label = html.escape(name)
    if row.get("origin") == "external":
        label += " <span class='external'>external</span>"
    if links is None:
        return (f"<div class='run'>{label}<p class='missing'>"
                f"{html.escape(_missing(row) or 'no pictures')}</p></div>")
    thumbnails = "".join(
        f"<a href='{html.escape(links[key])}'><img src='{html.escape(links[key + '_thumb'])}'"
        f" alt='{html.escape(f'{name}: {caption}')}' title='{html.escape(caption)}'></a>"
        for key, caption in PICTURES.items())
    return (f"<div class='run'>{label}{thumbnails}"
            f"<a href='{html.escape(links[GIF])}'>GIF</a></div>")


def _missing(row: pd.Series) -> str:
    """Why the run has no pictures (``""`` when it has them)."""
    missing = row["missing"]
    return missing if isinstance(missing, str) else ""


def _text(value) -> str:
    """A table value as shown: integral numbers without ``.0``, missing ones as ``-``."""
    if pd.isna(value):
        return "-"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _sort_key(value) -> tuple:
    """Numbers in numeric order, then text, then missing values."""
    if pd.isna(value):
        return (2, 0.0, "")
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


__all__ = ["GIF", "PICTURES", "PICTURE_COLUMNS", "TITLE", "gallery_html"]
