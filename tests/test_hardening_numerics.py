"""Numerical extremes, in float64 and float32, under the suite's strict np.errstate.

The conftest makes overflow, invalid operations and division by zero raise (underflow
to zero is allowed), so "no warning" is asserted by every test here simply returning;
``warnings.simplefilter("error")`` additionally turns any RuntimeWarning into a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import retroprop as rp

DTYPES = [np.float64, np.float32]


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("target", "loss", "grad"),
    [
        # logits y = [1e4, 0, -1e4]; log-sum-exp: ln(e^0 + e^-1e4 + e^-2e4) = ln(1) = 0
        # after subtracting the max 1e4, so ln p = [0, -1e4, -2e4] exactly.
        (0, 0.0, [0.0, 0.0, 0.0]),  # -ln p_0 = 0;      p - onehot(0) = [0, 0, 0]
        (1, 1e4, [1.0, -1.0, 0.0]),  # -ln p_1 = 1e4;    p - onehot(1) = [1, -1, 0]
        (2, 2e4, [1.0, 0.0, -1.0]),  # -ln p_2 = 2e4;    p - onehot(2) = [1, 0, -1]
    ],
)
def test_cross_entropy_of_extreme_logits_is_exact(dtype, target, loss, grad):
    logits = np.array([[1e4, 0.0, -1e4]], dtype=dtype)
    fn = rp.CrossEntropyLoss()
    value = fn(logits, np.array([target]))
    assert value == loss  # exactly, not approximately
    g = fn.backward()
    assert g.dtype == dtype
    np.testing.assert_array_equal(g, np.array([grad], dtype=dtype))
    np.testing.assert_array_equal(fn.p, [[1.0, 0.0, 0.0]])  # softmax, exactly


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_matches_torch_at_extremes(dtype):
    torch = pytest.importorskip("torch")
    logits = np.array(
        [
            [1e4, 0.0, -1e4],
            [-1e4, 1e4, 0.0],
            [3e38 if dtype == np.float32 else 1e308, 0.0, -1.0],
        ],
        dtype=dtype,
    )
    y = np.array([2, 0, 1])
    fn = rp.CrossEntropyLoss(reduction="sum")
    ours = fn(logits, y)
    t = torch.tensor(logits, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(t, torch.tensor(y), reduction="sum")
    ref.backward()
    assert np.isfinite(ours)
    assert ours == pytest.approx(ref.item(), rel=1e-6)
    np.testing.assert_array_equal(fn.backward(), t.grad.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("name", "low", "high"), [("sigmoid", 0.0, 1.0), ("tanh", -1.0, 1.0)]
)
def test_saturating_activations_are_exact_with_zero_derivative(dtype, name, low, high):
    act = rp.ACTIVATIONS[name]()
    z = np.array(
        [[-1e4, 1e4, -1e30, 1e30, -np.finfo(dtype).max, np.finfo(dtype).max]],
        dtype=dtype,
    )
    a = act(z)
    assert a.dtype == dtype
    np.testing.assert_array_equal(a, np.array([[low, high] * 3], dtype=dtype))
    d = act.derivative()
    np.testing.assert_array_equal(d, np.zeros_like(z))
    grad = act.backward(np.ones_like(z))
    np.testing.assert_array_equal(grad, np.zeros_like(z))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_is_smooth_near_zero_and_symmetric(dtype):
    """The two branches of the stable sigmoid agree: s(-z) = 1 - s(z), s(0) = 1/2."""
    z = np.linspace(-30, 30, 601, dtype=dtype).reshape(1, -1)
    s = rp.engine.activations.sigmoid(z)
    assert s[0, 300] == 0.5
    np.testing.assert_allclose(s[:, ::-1], 1 - s, atol=np.finfo(dtype).eps)
    assert np.all(np.diff(s) >= 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_network_with_huge_weights_gives_finite_loss_and_gradients(dtype):
    """Saturated sigmoid layers and logits of 1e4 still backpropagate finite numbers."""
    net = rp.mlp([2, 3, 3], "sigmoid", seed=0, dtype=dtype)
    net[0].weight.data[:] = 1e4
    net[2].weight.data[:] = np.array([[1e4], [0.0], [-1e4]], dtype=dtype)
    X = np.array([[1.0, 2.0], [-1.0, -2.0]], dtype=dtype)
    fn = rp.CrossEntropyLoss()
    loss = fn(net(X), np.array([2, 0]))
    assert np.isfinite(loss)
    net.backward(fn.backward())
    for _, p in net.named_parameters():
        assert p.grad.dtype == dtype and np.isfinite(p.grad).all()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", DTYPES)
def test_train_refuses_non_finite_input_naming_row_and_column(bad, dtype):
    X = np.random.default_rng(0).normal(size=(10, 4)).astype(dtype)
    X[7, 2] = bad
    y = np.arange(10) % 3
    net = rp.mlp([4, 3], seed=0, dtype=dtype)
    before = net.state_dict()
    with pytest.raises(rp.DataError, match=r"row 7, column 2") as info:
        rp.train(net, X, y, epochs=1, lr=0.1)
    assert "\n" not in str(info.value) and "non-finite" in str(info.value)
    for k, v in net.state_dict().items():  # refused before any update
        np.testing.assert_array_equal(v, before[k])
    # validation data is checked the same way
    X[7, 2] = 0.0
    Xv = X.copy()
    Xv[3, 1] = bad
    with pytest.raises(rp.DataError, match=r"validation X.*row 3, column 1"):
        rp.train(net, X, y, epochs=1, lr=0.1, validation=(Xv, y))


@pytest.mark.parametrize("cell", ["nan", "inf", "-inf", "NaN", "1e400"])
def test_cli_train_refuses_non_finite_input_naming_line_and_column(tmp_path, cell):
    rows = ["a,b,c,label"] + [f"{i},{i % 5},{i % 7},{'xy'[i % 2]}" for i in range(12)]
    rows[6] = f"5,{cell},1,y"
    path = tmp_path / "d.csv"
    path.write_text("\n".join(rows) + "\n")
    r = subprocess.run(
        [sys.executable, "-m", "retroprop", "train", "-q", "--data", str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "RETROPROP_DEBUG"},
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert f"{path}, line 7, column 'b'" in r.stderr and repr(cell) in r.stderr
