"""The engine's gradients against central finite differences, in float64, no torch.

``dL/dtheta ~ (L(theta + h) - L(theta - h)) / (2h)`` with ``h = 1e-6``: the truncation
error is ``O(h^2)`` (about 1e-12 here) and the rounding error about
``eps * L / h`` (about 1e-10), so analytic and numerical gradients must agree to
``1e-7`` absolute plus ``1e-6`` relative; a wrong factor or a missing term is off by
orders of magnitude more. For ReLU and LeakyReLU the inputs are chosen so that no
pre-activation lies within ``1e-3`` of the kink, where the derivative is not defined.
"""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop.engine.activations import DIFFERENTIABLE_ACTIVATIONS

H = 1e-6
ATOL, RTOL = 1e-7, 1e-6
LOSS_CASES = [
    ("cross_entropy", "mean"),
    ("cross_entropy", "sum"),
    ("mse", "mean"),
    ("mse", "sum"),
]


def loss_value(net, loss_fn, X, y) -> float:
    return loss_fn(net(X), y)


def numerical_gradient(f, x: np.ndarray) -> np.ndarray:
    """Central differences of the scalar ``f()`` in every element of ``x`` (in place)."""
    g = np.empty_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + H
        up = f()
        x[i] = old - H
        down = f()
        x[i] = old
        g[i] = (up - down) / (2 * H)
    return g


def far_from_kinks(net: rp.Sequential, X: np.ndarray) -> bool:
    net(X)
    return all(
        np.min(np.abs(m.z)) > 1e-3
        for m in net
        if isinstance(m, (rp.ReLU, rp.LeakyReLU))
    )


def make_case(activation: str, loss: str, reduction: str, seed: int):
    rng = np.random.default_rng(seed)
    sizes = [3, 5, 4, 3]
    net = rp.mlp(sizes, activation, seed=rng)
    while True:
        X = rng.normal(size=(6, 3))
        if far_from_kinks(net, X):
            break
    if loss == "cross_entropy":
        y = rng.integers(0, 3, size=6)
        loss_fn = rp.CrossEntropyLoss(reduction)
    else:
        y = rng.normal(size=(6, 3))
        loss_fn = rp.MSELoss(reduction)
    return net, X, y, loss_fn


@pytest.mark.parametrize(("loss", "reduction"), LOSS_CASES)
@pytest.mark.parametrize("activation", DIFFERENTIABLE_ACTIVATIONS)
def test_gradients_match_central_differences(activation, loss, reduction):
    net, X, y, loss_fn = make_case(activation, loss, reduction, seed=2024)
    loss_fn(net(X), y)
    net.zero_grad()
    dX = net.backward(loss_fn.backward())
    analytic = {name: p.grad.copy() for name, p in net.named_parameters()}

    for name, p in net.named_parameters():
        numeric = numerical_gradient(lambda: loss_value(net, loss_fn, X, y), p.data)
        np.testing.assert_allclose(
            analytic[name], numeric, rtol=RTOL, atol=ATOL, err_msg=name
        )
    numeric_dX = numerical_gradient(lambda: loss_value(net, loss_fn, X, y), X)
    np.testing.assert_allclose(dX, numeric_dX, rtol=RTOL, atol=ATOL, err_msg="dL/dX")
    # Not a vacuous comparison: the gradients are far from zero.
    assert max(np.abs(g).max() for g in analytic.values()) > 1e-3


@pytest.mark.parametrize("activation", DIFFERENTIABLE_ACTIVATIONS)
def test_activation_derivative_matches_central_differences(activation):
    """``f'(z)`` as each activation's backward uses it, element by element."""
    rng = np.random.default_rng(5)
    z = rng.normal(scale=3, size=(4, 7))
    z[np.abs(z) < 1e-3] = 0.5  # away from ReLU's kink
    act = rp.ACTIVATIONS[activation]()
    act(z)
    analytic = act.backward(np.ones_like(z))
    f = rp.ACTIVATIONS[activation]()  # a second instance, so act's cache stays put
    numeric = (f(z + H) - f(z - H)) / (2 * H)
    np.testing.assert_allclose(analytic, numeric, rtol=RTOL, atol=ATOL)


def test_cross_entropy_gradient_is_finite_for_extreme_logits():
    """Log-sum-exp: logits of +-1e4 give a finite loss and the exact limit gradient."""
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])
    y = np.array([1, 2])
    ce = rp.CrossEntropyLoss(reduction="sum")
    value = ce(logits, y)
    # Row 0: p_1 = e^{-2e4} / (1 + ...) so L_0 = 2e4; row 1: uniform, L_1 = ln 3.
    assert value == pytest.approx(2e4 + np.log(3), rel=1e-12)
    g = ce.backward()
    assert np.isfinite(g).all()
    np.testing.assert_allclose(g[0], [1.0, -1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(g[1], [1 / 3, 1 / 3, -2 / 3], atol=1e-12)


def test_cross_entropy_when_logits_span_more_than_the_float_range():
    """1e308 - (-1e308) overflows; the answer is still the correctly rounded one."""
    logits = np.array([[1e308, -1e308, 0.0]])
    ce = rp.CrossEntropyLoss()
    # p = (1, e^{-2e308}, e^{-1e308}) = (1, 0, 0) in floats.
    assert ce(logits, np.array([0])) == 0.0
    np.testing.assert_array_equal(ce.backward(), [[0.0, 0.0, 0.0]])
    # L = -ln p_2 = 1e308 exactly (representable), gradient p - e_2.
    assert ce(logits, np.array([2])) == 1e308
    np.testing.assert_array_equal(ce.backward(), [[1.0, 0.0, -1.0]])
    # L = -ln p_1 = 2e308 exceeds the largest float: inf, never NaN.
    assert ce(logits, np.array([1])) == np.inf
    np.testing.assert_array_equal(ce.backward(), [[1.0, -1.0, 0.0]])
