"""The Ray backend gives the same table as the local one (skipped without ray)."""

from __future__ import annotations

import pytest

from dislab import study
from dislab.study import spec as study_spec
from dislab.study.runner import run_study
from tests.study.test_cli_study import MICRO

pytest.importorskip("ray")

SCORES = ["train.loss", "train.reconstruction_loss", "mean.mig.discrete_mig",
          "sampled.mig.discrete_mig"]


@pytest.mark.slow
def test_ray_and_local_backends_give_the_same_table(tmp_path):
    spec = study_spec.loads(MICRO.replace("beta = [2.0]", "beta = [2.0, 8.0]"))
    assert run_study(spec, tmp_path / "local", workers=2, progress=False)["done"] == 4
    assert run_study(spec, tmp_path / "ray", backend="ray", workers=2,
                     progress=False)["done"] == 4
    local, ray = study.load(tmp_path / "local"), study.load(tmp_path / "ray")
    assert local[SCORES].notna().all().all()
    assert local[SCORES].equals(ray[SCORES])
    assert list(ray["state"]) == ["done"] * 4
