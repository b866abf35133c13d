"""scikit-learn's own estimator checks, over both estimators.

The instances train with small mini-batches and a larger learning rate than the
lecture's so that the checks that demand a good fit (accuracy > 0.83, R^2 > 0.5) pass
in a few epochs; every other setting is the default.
"""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks

from retroprop.sklearn import BackpropClassifier, BackpropRegressor

# Short max_iter: most checks are about the API, not about convergence.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CHECKED = [
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
