"""The compiled full-set measure (``kernels.evaluate``) and the per-step loss.

``evaluate`` carries the samples through the network a block at a time, with the
branch-free ``exp`` across samples; it must give the engine's loss to 1e-12 and the
same accuracy, for every activation and loss, over several blocks and a partial last
one, in the general kernels and in each network's own. A float64 run with the
full-set History skips each step's log; it must still stop where the engine does.
"""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop.fast.spec import ACTIVATION_CODES, LOSS_CODES, numba_available

pytestmark = pytest.mark.skipif(not numba_available(), reason="needs numba")


def _data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * 2.0
    y = rng.integers(0, 3, size=n)
    return X, y


@pytest.mark.parametrize("loss", sorted(LOSS_CODES))
@pytest.mark.parametrize("activation", sorted(ACTIVATION_CODES))
def test_block_evaluate_equals_the_engine(activation, loss):
    from retroprop.fast import codegen, kernels
    from retroprop.fast.single import FastRunner
    from retroprop.training.step import evaluate

    X, y = _data(2 * kernels.EVAL_BLOCK + 37)  # two full blocks and a partial one
    net = rp.mlp([4, 6, 5, 3], activation, seed=2)
    opt = rp.SGD(net.parameters(), lr=0.1)
    runner = FastRunner(net, X, y, loss=loss, batch_size=1, opt=opt)
    assert runner.k is not kernels  # the network's own kernel
    general = FastRunner(net, X, y, loss=loss, batch_size=1, opt=opt)
    general.k = kernels
    for rows in (slice(None), slice(0, 5), slice(0, kernels.EVAL_BLOCK)):
        Xs, ys = X[rows], y[rows]
        want = evaluate(net, Xs, ys, loss)
        for r in (runner, general):
            got = r.evaluate(net, Xs, ys, loss)
            np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=0)
            assert got[1] == want[1]
    assert codegen.specialises(runner.layout)


@pytest.mark.parametrize("validation", [False, True])
@pytest.mark.parametrize("loss", sorted(LOSS_CODES))
@pytest.mark.parametrize("activation", sorted(ACTIVATION_CODES))
def test_full_history_over_several_blocks_equals_the_engine(
    activation, loss, validation
):
    X, y = _data(300)
    Xv, yv = _data(150, seed=1)
    kw = {
        "epochs": 3,
        "lr": 0.02,
        "loss": loss,
        "history": "full",
        "validation": (Xv, yv) if validation else None,
    }
    fast = rp.train(rp.mlp([4, 5, 3], activation, seed=4), X, y, **kw)
    ref = rp.train(rp.mlp([4, 5, 3], activation, seed=4), X, y, engine="numpy", **kw)
    assert fast.engine == "fast" and fast.loss_kind == "full"
    np.testing.assert_allclose(fast.loss, ref.loss, rtol=1e-12, atol=0)
    assert fast.accuracy == ref.accuracy
    if validation:
        np.testing.assert_allclose(fast.val_loss, ref.val_loss, rtol=1e-12, atol=0)
        assert fast.val_accuracy == ref.val_accuracy
    else:
        assert fast.val_loss == ref.val_loss == []


@pytest.mark.parametrize("history", ["full", "running"])
def test_cross_entropy_diverges_where_the_engine_does(history, iris_split):
    # The full-set History skips each step's log: the run must still stop at the
    # same iteration with the same message.
    X, y = iris_split.X_train * 1e3, iris_split.y_train
    kw = {"epochs": 4, "lr": 1e303, "batch_size": 3, "history": history}
    errors = []
    for engine in ("auto", "numpy"):
        net = rp.mlp([4, 5, 3], "relu", seed=5)
        with pytest.raises(rp.DivergenceError) as info:
            rp.train(net, X, y, engine=engine, **kw)
        errors.append(info.value)
    fast, ref = errors
    assert (fast.epoch, fast.iteration) == (ref.epoch, ref.iteration)
    assert fast.what == ref.what


@pytest.mark.parametrize("case", ["grew", "dead", "good"])
def test_the_end_check_judges_a_fast_run_as_the_engine_does(case, iris_split):
    # train's final check reads the fast runner's compiled loss first and judges a
    # run ending near or above chance on the engine's forward pass, as before.
    X, y = iris_split.X_train, iris_split.y_train
    outcomes = []
    for engine in ("fast", "numpy"):
        net = rp.mlp([4, 8, 3], "relu" if case == "dead" else "sigmoid", seed=1)
        if case == "dead":
            net[0].bias.data[:] = -100.0
        lr = 50.0 if case == "grew" else 0.05
        try:
            h = rp.train(net, X, y, epochs=20, lr=lr, seed=1, engine=engine)
            outcomes.append(("ok", h.loss[-1]))
        except rp.DivergenceError as e:
            outcomes.append((str(e), e.epoch, e.iteration))
    fast, ref = outcomes
    if case == "good":
        assert fast[0] == ref[0] == "ok"
        np.testing.assert_allclose(fast[1], ref[1], rtol=1e-12)
    else:
        assert fast == ref
        assert "above chance" in fast[0] or "no longer depend" in fast[0]
