"""The 2-D toy datasets: shapes, classes, determinism from the seed, their geometry."""

from __future__ import annotations

import numpy as np
import pytest

from retroprop.datasets.toy import TOY, make_toy
from retroprop.errors import ConfigError


@pytest.mark.parametrize("name", list(TOY))
def test_shape_classes_and_seed(name):
    a = make_toy(name, 101, noise=0.2, seed=5)
    b = make_toy(name, 101, noise=0.2, seed=5)
    c = make_toy(name, 101, noise=0.2, seed=6)
    assert a.X.shape == (101, 2) and a.y.shape == (101,)
    assert a.X.dtype == np.float64 and set(a.y.tolist()) == {0, 1}
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)
    assert a.name == name and a.feature_names == ["x1", "x2"]


def test_geometry_without_noise():
    xor = make_toy("xor", 400, noise=0.0, seed=0)
    np.testing.assert_array_equal(xor.y, (xor.X[:, 0] * xor.X[:, 1] < 0).astype(int))
    circle = make_toy("circle", 400, noise=0.0, seed=0)
    r = np.hypot(*circle.X.T)
    assert r[circle.y == 0].max() <= 0.5 and r[circle.y == 1].min() >= 0.7
    gauss = make_toy("gauss", 400, noise=0.0, seed=0)
    np.testing.assert_allclose(
        gauss.X[gauss.y == 0].mean(axis=0), [0.5, 0.5], atol=0.06
    )
    moons = make_toy("moons", 400, noise=0.0, seed=0)
    upper = moons.X[moons.y == 0]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0)  # the upper half circle
    spiral = make_toy("spiral", 400, noise=0.0, seed=0)
    # the two arms are the same curve turned by pi
    np.testing.assert_allclose(
        spiral.X[spiral.y == 0], -spiral.X[spiral.y == 1], atol=1e-12
    )


def test_noise_moves_points():
    a = make_toy("moons", 100, noise=0.0, seed=1)
    b = make_toy("moons", 100, noise=0.3, seed=1)
    assert 0.1 < np.std(b.X - a.X) < 0.5


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"name": "blobs"}, "xor, circle"),
        ({"name": "xor", "n_samples": 2}, "n_samples"),
        ({"name": "xor", "noise": -1.0}, "noise"),
    ],
)
def test_bad_arguments(kwargs, word):
    with pytest.raises(ConfigError, match=word):
        make_toy(**kwargs)
