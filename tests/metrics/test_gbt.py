"""ExactGradientBoosting is scikit-learn's GradientBoostingClassifier(), computed faster.

scikit-learn breaks ties between equally good splits at random (``random_state``); so does
ours. Early in a fit ours must give scikit-learn's numbers; over a full fit, where ties
accumulate, it must be as close to scikit-learn as scikit-learn with another seed is.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier

from dislab.metrics._gbt import ExactGradientBoosting


def classes_from_codes(num_points, num_features, num_classes, seed):
    """Noisy linear classes: continuous features, no exact ties between feature values."""
    rs = np.random.RandomState(seed)
    x = rs.normal(size=(num_points, num_features))
    score = x @ rs.normal(size=num_features) + rs.normal(size=num_points)
    y = np.clip((score * num_classes / 4 + num_classes / 2).astype(int), 0, num_classes - 1)
    return x, y, rs.normal(size=(300, num_features))


def sklearn_fit(x, y, seed, stages=100):
    return GradientBoostingClassifier(random_state=seed, n_estimators=stages).fit(x, y)


@pytest.mark.parametrize("num_classes, stages", [(2, 40), (3, 5), (6, 3)])
def test_same_fit_as_scikit_learn(num_classes, stages):
    """Same training scores to rounding: ties between features that cut a node the same way
    (e.g. any feature separating a node of two samples) are broken at random by both, which
    moves a few new points and a little importance, not the fit."""
    x, y, x_new = classes_from_codes(400, 3, num_classes, seed=num_classes)
    reference = sklearn_fit(x, y, 0, stages)
    ours = ExactGradientBoosting(0, n_estimators=stages).fit(x, y)
    np.testing.assert_allclose(
        ours.decision_function(x),
        reference.decision_function(x).reshape(len(x), -1),
        rtol=0, atol=1e-12,
    )  # fmt: skip
    np.testing.assert_allclose(
        ours.feature_importances_, reference.feature_importances_, rtol=0, atol=0.01
    )
    assert np.mean(ours.predict(x_new) == reference.predict(x_new)) >= 0.98


def test_full_fit_is_as_close_to_scikit_learn_as_scikit_learn_to_itself():
    x, y, x_new = classes_from_codes(1500, 5, 6, seed=11)
    reference, other_seed = sklearn_fit(x, y, 0), sklearn_fit(x, y, 1)
    ours = ExactGradientBoosting(0).fit(x, y)

    def distance(a, b):
        return (
            np.mean(a.predict(x_new) != b.predict(x_new)),
            np.abs(a.feature_importances_ - b.feature_importances_).max(),
            abs(a.score(x, y) - b.score(x, y)),
        )

    seed_noise = distance(reference, other_seed)
    for ours_value, noise in zip(distance(ours, reference), seed_noise):
        assert ours_value <= 2 * noise + 0.01


def test_labels_and_errors():
    x, y, x_new = classes_from_codes(300, 2, 3, seed=1)
    names = np.array(["low", "mid", "high"])
    model = ExactGradientBoosting(0, n_estimators=20).fit(x, names[y])
    assert set(model.predict(x_new)) <= set(names)
    assert list(model.classes_) == sorted(names)
    assert model.score(x, names[y]) > 0.7
    odd = ExactGradientBoosting(0, n_estimators=20).fit(x, y * 7 + 3)  # labels 3, 10, 17
    plain = ExactGradientBoosting(0, n_estimators=20).fit(x, y)
    np.testing.assert_array_equal(odd.predict(x_new), plain.predict(x_new) * 7 + 3)
    with pytest.raises(ValueError, match="at least 2 classes"):
        ExactGradientBoosting(0).fit(x, np.zeros(len(x)))


def test_duplicated_feature_ties_are_broken_at_random():
    x, y, _ = classes_from_codes(600, 1, 4, seed=2)
    twice = np.hstack([x, x])  # every split of one copy ties with the same split of the other
    importances = ExactGradientBoosting(0, n_estimators=30).fit(twice, y).feature_importances_
    assert 0.3 < importances[0] < 0.7 and importances.sum() == pytest.approx(1.0)
    again = ExactGradientBoosting(0, n_estimators=30).fit(twice, y).feature_importances_
    np.testing.assert_array_equal(again, importances)  # same seed, same numbers
    other = ExactGradientBoosting(1, n_estimators=30).fit(twice, y).feature_importances_
    assert not np.array_equal(other, importances)
