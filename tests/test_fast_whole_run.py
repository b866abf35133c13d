"""The whole run in compiled code (``train_run``) against the engine.

When no callback needs Python between epochs, ``train`` hands the whole run to the
compiled loop (History, validation and recording computed inside). It must equal
the NumPy engine to 1e-12 in float64 with the same History and the same divergence
point, and the epoch-by-epoch compiled path bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop.fast.spec import numba_available

pytestmark = pytest.mark.skipif(not numba_available(), reason="needs numba")


class _EveryEpoch(rp.Callback):
    """Acts after every epoch: keeps ``train`` in its epoch-by-epoch loop."""

    def on_epoch_end(self, state):
        pass


def _run(X, y, *, engine="auto", callbacks=(), sizes=(4, 5, 3), **kw):
    net = rp.mlp(list(sizes), "tanh", seed=7)
    try:
        h = rp.train(net, X, y, engine=engine, callbacks=list(callbacks), **kw)
    except rp.DivergenceError as e:
        return net.state_dict(), e
    return net.state_dict(), h


@pytest.fixture
def whole_runs(monkeypatch):
    """Counts the calls of ``train_run`` (of the kernels ``codegen`` gives)."""
    from types import SimpleNamespace

    from retroprop.fast import codegen

    calls = []
    real_for = codegen.kernels_for

    def kernels_for(*args):
        k = real_for(*args)

        def counted(*args):
            calls.append(args[6].shape)
            return k.train_run(*args)

        return SimpleNamespace(**{**vars(k), "train_run": counted})

    monkeypatch.setattr(codegen, "kernels_for", kernels_for)
    return calls


@pytest.mark.parametrize("history", ["full", "running"])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_whole_run_equals_the_engine_and_the_epoch_loop(
    history, loss, iris_split, whole_runs
):
    X, y = iris_split.X_train, iris_split.y_train
    kw = {
        "epochs": 4,
        "lr": 0.1,
        "batch_size": 5,
        "momentum": 0.5,
        "loss": loss,
        "history": history,
        "validation": (iris_split.X_test, iris_split.y_test),
    }
    rec = rp.RecordParameter("2.weight")
    whole = _run(X, y, callbacks=[rec], **kw)
    assert whole_runs == [(4, len(y))] and whole[1].engine == "fast"
    rec_epochs = rp.RecordParameter("2.weight")
    by_epoch = _run(X, y, callbacks=[rec_epochs, _EveryEpoch()], **kw)
    assert len(whole_runs) == 1  # the epoch loop did not use it
    ref = _run(X, y, engine="numpy", **kw)
    for name in ref[0]:
        assert np.array_equal(whole[0][name], by_epoch[0][name]), name
        np.testing.assert_allclose(whole[0][name], ref[0][name], rtol=0, atol=1e-12)
    hw, he, hr = whole[1], by_epoch[1], ref[1]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert getattr(hw, key) == getattr(he, key), key
        np.testing.assert_allclose(getattr(hw, key), getattr(hr, key), rtol=1e-12)
    assert hw.iterations == he.iterations == hr.iterations == 4 * 24
    assert hw.loss_kind == hr.loss_kind == history
    assert rec.iterations == rec_epochs.iterations == list(range(1, 97))
    assert rec.epochs == rec_epochs.epochs == [1 + i // 24 for i in range(96)]
    assert all(np.array_equal(a, b) for a, b in zip(rec.values, rec_epochs.values))


@pytest.mark.parametrize(
    ("scale", "lr", "what"),
    [(1.0, 1e200, "step or loss"), (30.0, 1e155, "step or loss")],
)
def test_whole_run_diverges_where_the_engine_does(
    scale, lr, what, iris_split, whole_runs
):
    X, y = iris_split.X_train * scale, iris_split.y_train
    kw = {"epochs": 5, "lr": lr, "batch_size": 4, "loss": "mse"}
    (_, err) = _run(X, y, sizes=(4, 6, 3), **kw)
    (_, ref) = _run(X, y, sizes=(4, 6, 3), engine="numpy", **kw)
    assert whole_runs, "the whole run was not used"
    assert isinstance(err, rp.DivergenceError) and isinstance(ref, rp.DivergenceError)
    assert (err.epoch, err.iteration, err.lr) == (ref.epoch, ref.iteration, ref.lr)


def test_a_non_finite_measured_loss_ends_the_whole_run(iris_split, whole_runs):
    # Validation inputs so large that the measured loss overflows, while training
    # itself stays finite: train's epoch-end check stops after epoch 1.
    X, y = iris_split.X_train, iris_split.y_train
    Xv = np.full_like(iris_split.X_test, 1e300)
    kw = {"epochs": 3, "lr": 0.05, "loss": "mse", "validation": (Xv, iris_split.y_test)}
    (_, err) = _run(X, y, sizes=(4, 3), **kw)
    (_, ref) = _run(X, y, sizes=(4, 3), engine="numpy", **kw)
    assert whole_runs
    assert isinstance(err, rp.DivergenceError) and isinstance(ref, rp.DivergenceError)
    assert (err.epoch, err.iteration) == (ref.epoch, ref.iteration) == (1, len(y))


def test_progress_is_shown_at_intervals_of_the_same_whole_run(iris_split, whole_runs):
    from retroprop.train import PROGRESS_UPDATES, ProgressCallback

    X, y = iris_split.X_train, iris_split.y_train
    kw = {"epochs": 50, "lr": 0.05, "batch_size": 1}
    seen = []
    bar = ProgressCallback(lambda e, n, h: seen.append((e, n, len(h.loss))), 50)
    rec, rec_alone = rp.RecordParameter("2.bias"), rp.RecordParameter("2.bias")
    shown = _run(X, y, callbacks=[rec, bar], **kw)
    assert 1 < len(whole_runs) <= PROGRESS_UPDATES  # pieces of the whole run
    assert seen[-1] == (50, 50, 50) and len(seen) == len(whole_runs)
    assert [e for e, _, _ in seen] == sorted({e for e, _, _ in seen})
    alone = _run(X, y, callbacks=[rec_alone], **kw)
    assert len(whole_runs) == len(seen) + 1  # one piece when nothing is shown
    for name in alone[0]:
        assert np.array_equal(shown[0][name], alone[0][name]), name
    assert shown[1].loss == alone[1].loss and shown[1].iterations == 50 * len(y)
    assert rec.iterations == rec_alone.iterations and rec.epochs == rec_alone.epochs
    assert all(np.array_equal(a, b) for a, b in zip(rec.values, rec_alone.values))


@pytest.mark.parametrize(
    ("validation", "patience", "epochs", "stops"),
    [
        (True, 3, 60, True),  # patience runs out: the best epoch's parameters
        (False, 2, 60, True),  # on the training loss (running History)
        (True, 50, 40, False),  # the epochs run out after the best one: restored
    ],
)
def test_early_stopping_is_judged_inside_the_whole_run(
    validation, patience, epochs, stops, iris_split, whole_runs
):
    # A large eta on a small validation part makes the monitored loss go up and
    # down; EarlyStopping in the compiled run must stop at the engine's epoch,
    # with the engine's History, and leave the best epoch's parameters as the
    # engine's callback does, also when a progress bar cuts the run in pieces.
    from retroprop.train import ProgressCallback

    X, y = iris_split.X_train, iris_split.y_train
    kw = {
        "epochs": epochs,
        "lr": 0.9,
        "batch_size": 8,
        "history": "running" if not validation else "full",
        "early_stopping": patience,
    }
    if validation:
        kw["validation"] = (iris_split.X_test[:12], iris_split.y_test[:12])
    whole = _run(X, y, **kw)
    assert len(whole_runs) == 1 and whole[1].engine == "fast"
    bar = ProgressCallback(lambda e, n, h: None, epochs)
    pieces = _run(X, y, callbacks=[bar], **kw)
    assert len(whole_runs) > 2  # the same run, in pieces
    by_epoch = _run(X, y, callbacks=[_EveryEpoch()], **kw)
    ref = _run(X, y, engine="numpy", **kw)
    hw, hp, he, hr = whole[1], pieces[1], by_epoch[1], ref[1]
    assert hw.stopped_early == hp.stopped_early == he.stopped_early == hr.stopped_early
    assert hw.stopped_early == stops
    assert hw.epochs == hp.epochs == he.epochs == hr.epochs
    assert (hw.epochs < epochs) == stops
    for key in ("loss", "val_loss", "accuracy"):
        assert getattr(hw, key) == getattr(hp, key) == getattr(he, key), key
        np.testing.assert_allclose(getattr(hw, key), getattr(hr, key), rtol=1e-12)
    monitored = hr.val_loss if validation else hr.loss
    best = int(np.argmin(monitored))
    assert best < hr.epochs - 1  # the last epoch was not the best: a restore
    for name in ref[0]:
        assert np.array_equal(whole[0][name], by_epoch[0][name]), name
        assert np.array_equal(pieces[0][name], by_epoch[0][name]), name
        np.testing.assert_allclose(whole[0][name], ref[0][name], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("activation", "seeds", "n", "scale", "lr", "momentum", "dtype", "loss"),
    [
        # Plain SGD one sample at a time (the fused step, which swaps two parameter
        # vectors at each step): after an odd number of steps, so that the last
        # finite parameters are in the second vector. An update overflows:
        ("tanh", (1, 2), 119, 30.0, 1e155, 0.0, "float64", "cross_entropy"),
        ("sigmoid", (1, 4), 120, 30.0, 1e25, 0.0, "float32", "cross_entropy"),
        # ... the loss overflows:
        ("relu", (1, 3), 119, 30.0, 1e100, 0.0, "float64", "cross_entropy"),
        # with momentum (the gradient's own step), in the second epoch
        ("relu", (7, 0), 120, 1.0, 100.0, 0.9, "float64", "cross_entropy"),
    ],
)
def test_one_sample_at_a_time_diverges_mid_epoch_where_the_engine_does(
    activation, seeds, n, scale, lr, momentum, dtype, loss, iris_split, whole_runs
):
    X, y = iris_split.X_train[:n] * scale, iris_split.y_train[:n]
    seed, order_seed = seeds  # the weights', the sample orders'
    kw = {"epochs": 3, "lr": lr, "momentum": momentum, "loss": loss}
    kw["seed"] = order_seed

    def run(engine="auto", callbacks=()):
        net = rp.mlp([4, 6, 3], activation, seed=seed, dtype=dtype)
        with pytest.raises(rp.DivergenceError) as info:
            rp.train(net, X, y, engine=engine, callbacks=list(callbacks), **kw)
        return net.state_dict(), info.value

    whole = run()
    assert len(whole_runs) == 1
    by_epoch = run(callbacks=[_EveryEpoch()])
    ref = run(engine="numpy")
    err, ref_err = whole[1], ref[1]
    assert err.iteration % n not in (0, 1), "not in the middle of an epoch"
    assert (err.epoch, err.iteration, err.lr) == (ref_err.epoch, ref_err.iteration, lr)
    assert str(err).split(":")[0] == str(ref_err).split(":")[0]
    assert str(err) == str(by_epoch[1])
    # float64 as everywhere; float32 as test_fast_train's float32 runs (relative:
    # these parameters reach 1e24)
    rtol, atol = (1e-9, 1e-12) if dtype == "float64" else (1e-5, 1e-5)
    for name in ref[0]:
        assert np.array_equal(whole[0][name], by_epoch[0][name]), name
        assert np.isfinite(whole[0][name]).all(), name  # the last finite ones
        np.testing.assert_allclose(whole[0][name], ref[0][name], rtol=rtol, atol=atol)


@pytest.mark.parametrize("history", ["full", "running"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_one_sample_at_a_time_equals_the_engine_and_the_epoch_loop(
    history, dtype, iris_split, whole_runs
):
    # Plain SGD with batches of one (the fused step) on an odd number of samples:
    # every epoch ends with the parameters in the second vector, so that theta
    # must be given them back (and the recorder must see each step's).
    X, y = iris_split.X_train[:119], iris_split.y_train[:119]
    kw = {
        "epochs": 3,
        "lr": 0.05,
        "history": history,
        "validation": (iris_split.X_test, iris_split.y_test),
    }

    def run(engine="auto", callbacks=()):
        net = rp.mlp([4, 4, 3, 3], seed=1, dtype=dtype)
        h = rp.train(net, X, y, engine=engine, callbacks=list(callbacks), **kw)
        return net.state_dict(), h

    rec, rec_epochs = rp.RecordParameter("2.bias"), rp.RecordParameter("2.bias")
    whole = run(callbacks=[rec])
    assert whole_runs == [(3, 119)] and whole[1].engine == "fast"
    by_epoch = run(callbacks=[rec_epochs, _EveryEpoch()])
    ref = run(engine="numpy")
    rtol, atol = (1e-12, 1e-12) if dtype == "float64" else (1e-5, 1e-6)
    for name in ref[0]:
        assert np.array_equal(whole[0][name], by_epoch[0][name]), name
        np.testing.assert_allclose(whole[0][name], ref[0][name], rtol=0, atol=atol)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert getattr(whole[1], key) == getattr(by_epoch[1], key), key
        np.testing.assert_allclose(
            getattr(whole[1], key), getattr(ref[1], key), rtol=rtol, atol=atol
        )
    assert rec.iterations == rec_epochs.iterations == list(range(1, 3 * 119 + 1))
    assert all(np.array_equal(a, b) for a, b in zip(rec.values, rec_epochs.values))
    assert not np.array_equal(rec.values[0], rec.values[1])  # each step's own
