"""Scaling keeps information (issue 15, finding 6).

A feature is constant only when its spread is rounding noise relative to its own
magnitude, as scikit-learn's StandardScaler decides; features measured at 1e-15 or
1e300 standardise like the same numbers at 1, with no overflow warning (the shared
conftest turns NumPy overflow into an error).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from retroprop.cli import main
from retroprop.datasets import Standardizer


def _blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two separable classes: around (0, 0) and (4, 4), spread 0.5."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(0, 0.5, (40, 2)), rng.normal(4, 0.5, (40, 2))])
    return X, np.repeat([0, 1], 40)


@pytest.mark.parametrize("scale", [1e-15, 1e-300, 1e300, 3.0])
def test_standardised_features_do_not_depend_on_their_units(scale):
    X, _ = _blobs()
    reference = Standardizer().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = Standardizer().fit_transform(X * scale)
    np.testing.assert_allclose(scaled, reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("scale", [1e-15, 1.0, 1e10])
def test_agrees_with_scikit_learn(scale):
    """(scikit-learn itself overflows squaring features at 1e300; we compare where
    it works.)"""
    sklearn = pytest.importorskip("sklearn.preprocessing")
    X, _ = _blobs(1)
    X = np.column_stack([X, np.full(len(X), 0.1)]) * scale  # and a constant column
    ours = Standardizer().fit(X)
    theirs = sklearn.StandardScaler().fit(X)
    np.testing.assert_allclose(ours.mean_, theirs.mean_, rtol=1e-14)
    np.testing.assert_allclose(ours.scale_, theirs.scale_, rtol=1e-14)
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X), atol=1e-12)


def test_the_largest_floats_standardise_without_overflow():
    X = np.array([[1.7e308, -1.0], [-1.7e308, 1.0], [0.0, 0.0]])
    st = Standardizer().fit(X)
    # mean 0 and std 1.7e308 * sqrt(2/3): X - mean and the squares would overflow
    np.testing.assert_allclose(st.mean_, [0.0, 0.0], atol=1e-300)
    np.testing.assert_allclose(st.scale_, [1.7e308 * np.sqrt(2 / 3), np.sqrt(2 / 3)])
    np.testing.assert_allclose(
        st.transform(X)[:, 0], [np.sqrt(1.5), -np.sqrt(1.5), 0.0], rtol=1e-15
    )


@pytest.mark.parametrize("value", [0.1, 1e-20 / 3, 7e299, 0.0, -2.5e-310])
def test_a_constant_column_at_any_magnitude_gets_scale_one(value):
    X = np.column_stack([np.full(1000, value), np.arange(1000.0)])
    st = Standardizer().fit(X)
    assert st.scale_[0] == 1.0 and st.mean_[0] == value
    np.testing.assert_array_equal(st.transform(X)[:, 0], 0.0)


def test_a_tiny_spread_on_a_tiny_feature_is_kept():
    """Below the old absolute floor (2.2e-15), but far above its own rounding noise."""
    X = np.array([[1e-16], [2e-16], [3e-16]])
    st = Standardizer().fit(X)
    assert st.scale_[0] == pytest.approx(np.std([1e-16, 2e-16, 3e-16]), rel=1e-15)
    np.testing.assert_allclose(st.transform(X)[:, 0], [-1.2247, 0.0, 1.2247], atol=1e-4)


def _train_accuracy(tmp_path, capsys, scale: float) -> float:
    X, y = _blobs(2)
    path = tmp_path / f"blobs-{scale}.csv"
    rows = [
        f"{float(x0 * scale)!r},{float(x1 * scale)!r},{'ab'[c]}"
        for (x0, x1), c in zip(X, y)
    ]
    path.write_text("x0,x1,class\n" + "\n".join(rows) + "\n")
    with pytest.raises(SystemExit) as e:
        main(["train", "--data", str(path), "--json", "--epochs", "30"])
    out, err = capsys.readouterr()
    assert e.value.code == 0, err
    return json.loads(out)["test"]["accuracy"]


def test_a_separable_csv_at_1e_15_trains_as_at_scale_1(tmp_path, capsys):
    """It trained to 0.53 at 1e-15 (both features dropped as constant), 1.0 at 1."""
    at_one = _train_accuracy(tmp_path, capsys, 1.0)
    assert at_one == 1.0
    assert _train_accuracy(tmp_path, capsys, 1e-15) == at_one
    assert _train_accuracy(tmp_path, capsys, 1e300) == at_one
