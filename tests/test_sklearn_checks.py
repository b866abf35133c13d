"""scikit-learn's own estimator checks, over both estimators.

Each estimator is checked twice: with the lecture's defaults (per-sample SGD, at most
100 epochs), and with small mini-batches, a larger learning rate and at most 40
epochs, a setting far from the defaults that still fits well enough for the checks
that demand it (accuracy > 0.83, R^2 > 0.5).
"""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks

from retroprop.sklearn import BackpropClassifier, BackpropRegressor

# Short max_iter: most checks are about the API, not about convergence.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CHECKED = [
    BackpropClassifier(),  # the lecture's defaults, as users get them
    BackpropRegressor(),
    BackpropClassifier(batch_size=8, learning_rate_init=0.5, max_iter=40),
    BackpropRegressor(batch_size=8, learning_rate_init=0.1, max_iter=40),
]


@pytest.fixture(autouse=True)
def _array_api_env(monkeypatch):
    """check_array_api_input skips unless SCIPY_ARRAY_API is set; set it so it runs.

    (Float errors still raise, from conftest.py.)"""
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")


@parametrize_with_checks(CHECKED)
def test_sklearn_check(estimator, check):
    check(estimator)
