"""The large-batch runner (``fast/blas.py``): its BLAS products, the fused SGD
update and its finiteness bound, the skipped dL/dX, all against NumPy and the
engine (the reference)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import retroprop as rp
from helpers import train_outcome
from retroprop.fast.spec import numba_available

pytestmark = pytest.mark.skipif(not numba_available(), reason="needs numba")
pytest.importorskip("scipy")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", [1, 7, 64])
def test_products_write_into_their_buffers_and_equal_numpy(dtype, rows):
    from retroprop.fast.blas import (
        add_outer,
        gemm_of,
        linear_delta_down,
        linear_forward,
    )

    rng = np.random.default_rng(rows)
    gemm = gemm_of(np.dtype(dtype))
    a = rng.normal(size=(rows, 30)).astype(dtype)
    W = rng.normal(size=(20, 30)).astype(dtype)
    d = rng.normal(size=(rows, 20)).astype(dtype)
    tol = {"rtol": 1e-5 if dtype == np.float32 else 1e-13, "atol": 1e-5}
    z = np.full((rows, 20), np.nan, dtype=dtype)  # beta=0 must not read the NaNs
    linear_forward(gemm, a, W, z)
    np.testing.assert_allclose(z, a @ W.T, **tol)
    down = np.full((rows, 30), np.nan, dtype=dtype)
    linear_delta_down(gemm, d, W, down)
    np.testing.assert_allclose(down, d @ W, **tol)
    G = W.copy()
    add_outer(gemm, -0.1, d, a, 1.0, G)  # the fused SGD step
    np.testing.assert_allclose(G, W - dtype(0.1) * (d.T @ a), **tol)
    G = np.full_like(W, np.nan)
    add_outer(gemm, 1.0, d, a, 0.0, G)  # grad_W alone
    np.testing.assert_allclose(G, d.T @ a, **tol)


def _spy(monkeypatch):
    """Count fused steps, checked steps and dL/da_prev products by layer width."""
    from retroprop.fast import blas

    calls = {"fused": 0, "checked": 0, "down_widths": set()}
    fused, check, down = (
        blas.BlasRunner._fused_step,
        blas.sgd_check,
        blas.linear_delta_down,
    )

    def fused_step(self, *args):
        stepped = fused(self, *args)
        calls["fused"] += stepped
        if stepped:  # the running bounds stay above every |parameter|
            for name, v in self.views.items():
                assert np.max(np.abs(v)) <= self.bounds[name], name
        return stepped

    def sgd_check(*args):
        calls["checked"] += 1
        return check(*args)

    def delta_down(gemm, delta, W, out):
        calls["down_widths"].add(W.shape[1])
        return down(gemm, delta, W, out)

    monkeypatch.setattr(blas.BlasRunner, "_fused_step", fused_step)
    monkeypatch.setattr(blas, "sgd_check", sgd_check)
    monkeypatch.setattr(blas, "linear_delta_down", delta_down)
    return calls


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu", "leaky_relu", "identity"])
def test_fused_plain_sgd_matches_the_engine(act, monkeypatch):
    # 250 samples in batches of 64: three full batches and a short one (58).
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(250, 50)), rng.integers(0, 4, size=250)

    def make():
        return rp.mlp([50, 90, 40, 4], act, seed=2)

    kw = {"epochs": 3, "lr": 0.2, "batch_size": 64, "seed": 5}
    calls = _spy(monkeypatch)
    fast = train_outcome("fast", make, X, y, **kw)
    assert calls["fused"] == 3 * 4 and calls["checked"] == 0
    # dL/da_prev is computed for the inputs of the 2nd and 3rd layers only: the
    # first layer's dL/dX (width 50) is not needed, and the parameters still equal
    # the engine's, which computes it.
    assert calls["down_widths"] == {90, 40}
    ref = train_outcome("numpy", make, X, y, **kw)
    for name in ref[0]:
        np.testing.assert_allclose(
            fast[0][name], ref[0][name], rtol=0, atol=1e-12, err_msg=name
        )
    np.testing.assert_allclose(fast[1].loss, ref[1].loss, rtol=1e-12)
    assert fast[1].accuracy == ref[1].accuracy


def test_momentum_takes_the_checked_step(monkeypatch):
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(200, 50)), rng.integers(0, 3, size=200)

    def make():
        return rp.mlp([50, 80, 3], seed=1)

    kw = {"epochs": 2, "lr": 0.1, "batch_size": 100, "momentum": 0.9, "seed": 1}
    calls = _spy(monkeypatch)
    fast = train_outcome("fast", make, X, y, **kw)
    assert calls["fused"] == 0 and calls["checked"] == 4
    ref = train_outcome("numpy", make, X, y, **kw)
    for name in ref[0]:
        np.testing.assert_allclose(fast[0][name], ref[0][name], rtol=0, atol=1e-12)


def test_the_bound_refuses_non_finite_and_huge_steps():
    from retroprop.fast.blas import BlasRunner

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 30)), rng.integers(0, 3, size=64)
    net = rp.mlp([30, 40, 3], seed=0)
    runner = BlasRunner(
        net,
        X,
        y,
        loss="cross_entropy",
        batch_size=64,
        opt=rp.SGD(net.parameters(), lr=0.5),
    )
    runner._exact_bounds()
    xb = X.copy()
    sums = [None] * len(runner.mods)
    sums[0] = float(np.sum(xb**2))  # ||a_prev||^2 of the first layer (the batch)
    out = runner._forward(xb, sums=sums)
    delta = np.ascontiguousarray(out - 0.5)
    found = runner._deltas(xb, delta)
    new = runner._steps_are_finite(xb, found, sums)
    assert new is not None
    # The bound holds for the step actually taken.
    runner._gradients(xb, found)
    for name, v in runner.views.items():
        assert np.max(np.abs(v - 0.5 * runner.gviews[name])) <= new[name]
    for bad in (np.nan, np.inf):
        d = delta.copy()
        d[3, 1] = bad
        bad_found = [(2, d, float(np.sum(d**2))), *found[1:]]
        assert runner._steps_are_finite(xb, bad_found, sums) is None
    runner.bounds["0.weight"] = np.finfo(np.float64).max / 3  # near overflow
    assert runner._steps_are_finite(xb, found, sums) is None


@pytest.mark.parametrize("lr", [1.0, 1e305, 1e308])
def test_fused_divergence_falls_back_to_the_checked_step(lr, monkeypatch):
    # lr 1: a linear network on large inputs; the error grows each step until the
    # loss overflows. lr 1e305: the bound refuses the first fused step (it could
    # overflow), the checked step finds it finite and takes it; the next loss
    # overflows. lr 1e308: the first update itself overflows, and the checked step
    # refuses it. Each time the same DivergenceError as the engine's, the same last
    # finite parameters.
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(400, 40)) * 50, rng.integers(0, 10, size=400)

    def make():
        return rp.mlp([40, 120, 60, 10], "identity", seed=1)

    kw = {"epochs": 3, "lr": lr, "batch_size": 100, "seed": 1, "loss": "mse"}
    calls = _spy(monkeypatch)
    fast = train_outcome("fast", make, X, y, **kw)
    ref = train_outcome("numpy", make, X, y, **kw)
    assert isinstance(ref[1], rp.DivergenceError)
    assert isinstance(fast[1], rp.DivergenceError)
    assert (fast[1].epoch, fast[1].iteration) == (ref[1].epoch, ref[1].iteration)
    assert str(fast[1]) == str(ref[1])
    expected = {1.0: (fast[1].iteration - 1, 0), 1e305: (0, 1), 1e308: (0, 1)}[lr]
    assert (calls["fused"], calls["checked"]) == expected
    for name in ref[0]:
        assert np.isfinite(fast[0][name]).all()
        np.testing.assert_allclose(fast[0][name], ref[0][name], rtol=1e-9, atol=1e-12)


def test_evaluate_takes_non_contiguous_validation_data():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(300, 60)), rng.integers(0, 3, size=300)
    Xv = np.asfortranarray(rng.normal(size=(90, 120)))[:, ::2]  # strided columns
    yv = rng.integers(0, 3, size=90)

    def make():
        return rp.mlp([60, 70, 3], seed=3)

    kw = {"epochs": 2, "lr": 0.1, "batch_size": 100, "validation": (Xv, yv)}
    fast, ref = (
        train_outcome("fast", make, X, y, **kw),
        train_outcome("numpy", make, X, y, **kw),
    )
    np.testing.assert_allclose(fast[1].val_loss, ref[1].val_loss, rtol=1e-12)
    assert fast[1].val_accuracy == ref[1].val_accuracy


def test_without_scipy_large_batches_take_the_compiled_loops(monkeypatch):
    from retroprop.fast.single import FastRunner, make_runner

    monkeypatch.setitem(sys.modules, "scipy.linalg.blas", None)  # import now fails
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(200, 60)), rng.integers(0, 3, size=200)
    net = rp.mlp([60, 70, 3], seed=3)
    runner = make_runner(
        net,
        X,
        y,
        engine="fast",
        loss="cross_entropy",
        optimizer="sgd",
        callbacks=[],
        batch_size=200,
        opt=rp.SGD(net.parameters(), lr=0.1),
    )
    assert type(runner) is FastRunner


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unusual_stacks_match_the_engine_and_leave_the_data_alone(dtype):
    # An activation on the inputs (evaluation must not run it in place on X), two
    # Linears in a row (the first one's bias added on its own), a Linear without
    # bias before an activation, two activations in a row, leaky ReLU's slope.
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(260, 50)), rng.integers(0, 3, size=260)
    Xv, yv = rng.normal(size=(70, 50)), rng.integers(0, 3, size=70)

    def make():
        return rp.Sequential(
            rp.Tanh(),
            rp.Linear(50, 60, seed=1, dtype=dtype),
            rp.Linear(60, 40, bias=False, seed=2, dtype=dtype),
            rp.Sigmoid(),
            rp.LeakyReLU(0.2),
            rp.Linear(40, 3, seed=3, dtype=dtype),
        )

    from retroprop.fast.single import BLAS_WORK

    n_params = sum(p.data.size for p in make().parameters())
    assert 64 * n_params >= BLAS_WORK  # the BLAS runner's case
    Xd, Xvd = X.astype(dtype), Xv.astype(dtype)
    before, before_v = Xd.copy(), Xvd.copy()
    kw = {"epochs": 2, "lr": 0.3, "batch_size": 64, "seed": 2, "validation": (Xvd, yv)}
    fast = train_outcome("fast", make, Xd, y, **kw)
    ref = train_outcome("numpy", make, Xd, y, **kw)
    np.testing.assert_array_equal(Xd, before)
    np.testing.assert_array_equal(Xvd, before_v)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for name in ref[0]:
        np.testing.assert_allclose(
            fast[0][name], ref[0][name], rtol=0, atol=tol, err_msg=name
        )
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(
            getattr(fast[1], key), getattr(ref[1], key), rtol=tol
        )


def test_a_batch_size_beyond_the_data_allocates_for_the_data():
    from retroprop.fast.blas import BlasRunner

    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(300, 60)), rng.integers(0, 3, size=300)

    def make():
        return rp.mlp([60, 70, 3], seed=3)

    net = make()
    runner = BlasRunner(
        net,
        X,
        y,
        loss="cross_entropy",
        batch_size=10**9,
        opt=rp.SGD(net.parameters(), lr=0.1),
    )
    assert runner.xbuf.shape == (300, 60)
    assert max(d.shape[0] for d in runner.deltas[1:]) == 300
    kw = {"epochs": 2, "lr": 0.1, "batch_size": 10**9}
    fast, ref = (
        train_outcome("fast", make, X, y, **kw),
        train_outcome("numpy", make, X, y, **kw),
    )
    for name in ref[0]:
        np.testing.assert_allclose(fast[0][name], ref[0][name], rtol=0, atol=1e-12)


def _engine_passes_over(monkeypatch, n: int) -> list:
    """Record each engine forward pass over ``n`` rows (the whole training set)."""
    from retroprop.engine.layers import Sequential

    passes: list = []
    forward = Sequential.forward

    def spy(self, X, *args, **kwargs):
        if np.shape(X)[0] == n:
            passes.append(np.shape(X))
        return forward(self, X, *args, **kwargs)

    monkeypatch.setattr(Sequential, "forward", spy)
    return passes


@pytest.mark.parametrize("history", ["running", "full"])
def test_a_run_that_ends_well_never_runs_the_engine_over_the_training_set(
    history, monkeypatch
):
    # The divergence verdict's start and end losses: the start is measured only
    # when a verdict needs it, and a run ending below chance is settled by the
    # runner's own pass (or the last full History), not by the NumPy engine.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 40))
    y = np.argmax(X[:, :3], axis=1)
    passes = _engine_passes_over(monkeypatch, 600)
    h = rp.train(
        rp.mlp([40, 200, 3], seed=0),
        X,
        y,
        epochs=10,
        lr=1.0,
        batch_size=200,
        seed=0,
        history=history,
    )
    assert h.engine == "blas" and h.loss_kind == history
    assert h.loss[-1] < 0.9 * np.log(3)  # learnt: well below chance
    assert passes == []


def test_a_run_that_ends_dead_still_gets_the_engines_verdict(monkeypatch):
    # Outputs driven constant (ReLU, eta 1e4): the end check takes the engine's
    # pass and the judgement, with the start's loss measured then.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 40))
    y = np.argmax(X[:, :3], axis=1)
    passes = _engine_passes_over(monkeypatch, 600)
    with pytest.raises(rp.DivergenceError) as err:
        rp.train(
            rp.mlp([40, 200, 3], "relu", seed=0),
            X,
            y,
            epochs=2,
            lr=1e4,
            batch_size=200,
            seed=0,
            history="running",
        )
    assert err.value.history.engine == "blas"
    assert len(passes) >= 1


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_unusual_stacks_match_the_engine(loss, monkeypatch):
    # A Linear right after a Linear (no activation between: its delta comes from
    # dL/da_prev, so its bias sums and the bound's norms are taken apart from an
    # activation's pass), a Linear without bias, and an activation on the output:
    # every path of the backward walk, fused, against the engine.
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(150, 40)), rng.integers(0, 3, size=150)

    def make():
        return rp.Sequential(
            rp.Linear(40, 60, seed=1),
            rp.Linear(60, 50, bias=False, seed=2),
            rp.Tanh(),
            rp.Linear(50, 30, seed=3),
            rp.Linear(30, 3, seed=4),
            rp.Sigmoid(),
        )

    kw = {"epochs": 2, "lr": 0.1, "batch_size": 64, "seed": 2, "loss": loss}
    calls = _spy(monkeypatch)
    fast = train_outcome("fast", make, X, y, **kw)
    assert calls["fused"] == 2 * 3 and calls["checked"] == 0
    ref = train_outcome("numpy", make, X, y, **kw)
    assert isinstance(fast[1], rp.History) and fast[1].engine == "blas"
    for name in ref[0]:
        np.testing.assert_allclose(
            fast[0][name], ref[0][name], rtol=0, atol=1e-12, err_msg=name
        )
    np.testing.assert_allclose(fast[1].loss, ref[1].loss, rtol=1e-12)
