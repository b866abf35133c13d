"""Recording a parameter and the running History, on every engine.

Issue 15 finding 5: ``RecordParameter`` (``--record-bias``) used to force the NumPy
engine, so a recorded run trained differently from an unrecorded one. The compiled
paths now record inside their loops: a recorded run equals an unrecorded one bit for
bit, and what they record equals what the engine records.

Issue 16: ``train(history="running")`` records the epoch's running mean of the
batch losses (each measured before its update), ``"full"`` the whole training set
after the epoch, ``"auto"`` full while cheap; ``History.loss_kind`` says which.
"""

from __future__ import annotations

import numpy as np
import pytest

import retroprop as rp
from retroprop.fast.spec import numba_available
from retroprop.training.runner import FULL_HISTORY_WORK, history_kind

pytestmark = pytest.mark.skipif(not numba_available(), reason="needs numba")


def _run(net_args, X, y, *, callbacks=(), engine="auto", seed=3, **kw):
    net = rp.mlp(*net_args, seed=seed)
    h = rp.train(net, X, y, callbacks=list(callbacks), engine=engine, **kw)
    return net.state_dict(), h


def _wide_data():
    """Enough work per batch (batch x parameters >= BLAS_WORK) for the BLAS runner."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((96, 40))
    y = rng.integers(0, 5, 96)
    return X, y


CASES = {
    "fast": (([4, 4, 3, 3], "sigmoid"), {"epochs": 3, "lr": 0.05, "batch_size": 1}),
    "fast-momentum": (
        ([4, 6, 3], "tanh"),
        {
            "epochs": 3,
            "lr": 0.05,
            "batch_size": 4,
            "momentum": 0.9,
            "weight_decay": 1e-3,
        },
    ),
    "blas": (([40, 600, 5], "sigmoid"), {"epochs": 2, "lr": 0.1, "batch_size": 32}),
}


def _data(case, iris_split):
    if case == "blas":
        return _wide_data()
    return iris_split.X_train, iris_split.y_train


@pytest.mark.parametrize("case", sorted(CASES))
def test_recording_never_changes_the_result(case, iris_split):
    net_args, kw = CASES[case]
    X, y = _data(case, iris_split)
    name = f"{2 * (len(net_args[0]) - 2)}.bias"  # the last layer's bias
    rec = rp.RecordParameter(name)
    plain, h_plain = _run(net_args, X, y, **kw)
    recorded, h_rec = _run(net_args, X, y, callbacks=[rec], **kw)
    assert h_rec.engine == h_plain.engine == case.split("-")[0]
    for key in plain:  # bit for bit
        assert np.array_equal(plain[key], recorded[key]), key
    assert h_rec.loss == h_plain.loss
    # And it records what the NumPy engine records (the values before each update).
    ref = rp.RecordParameter(name)
    _run(net_args, X, y, callbacks=[ref], engine="numpy", **kw)
    assert rec.iterations == ref.iterations == list(range(1, h_rec.iterations + 1))
    assert rec.epochs == ref.epochs
    start = rp.mlp(*net_args, seed=3).state_dict()[name]
    assert np.array_equal(rec.values[0], start)
    np.testing.assert_allclose(
        np.array(rec.values), np.array(ref.values), rtol=0, atol=1e-12
    )


def test_recording_includes_the_iteration_that_diverged(iris_split):
    X, y = iris_split.X_train * 50, iris_split.y_train
    got = {}
    for engine in ("fast", "numpy"):
        rec = rp.RecordParameter("2.weight")
        with pytest.raises(rp.DivergenceError) as err:
            _run(
                ([4, 5, 3], "relu"),
                X,
                y,
                callbacks=[rec],
                engine=engine,
                epochs=5,
                lr=1e155,
                batch_size=2,
            )
        got[engine] = (err.value.iteration, rec.iterations, rec.values)
    assert got["fast"][0] == got["numpy"][0] == got["fast"][1][-1]
    assert got["fast"][1] == got["numpy"][1]
    np.testing.assert_allclose(
        np.array(got["fast"][2][:-1]), np.array(got["numpy"][2][:-1]), rtol=1e-12
    )


class _BatchLosses(rp.Callback):
    """Measures each batch's mean loss and accuracy before its update (NumPy loop)."""

    def __init__(self, X, y, loss):
        self.X, self.y, self.loss, self.seen = X, y, loss, []

    def on_iteration_begin(self, state):
        idx = state.batch
        lo, ac = rp.evaluate(state.net, self.X[idx], self.y[idx], self.loss)
        self.seen.append((state.epoch, len(idx), lo, ac))


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("batch_size", [1, 7, 32])
def test_running_history_is_the_mean_of_the_batch_losses(loss, batch_size, iris_split):
    X, y = iris_split.X_train, iris_split.y_train
    kw = {
        "epochs": 3,
        "lr": 0.05,
        "batch_size": batch_size,
        "loss": loss,
        "history": "running",
    }
    probe = _BatchLosses(X, y, loss)
    _, h = _run(([4, 4, 3, 3], "sigmoid"), X, y, callbacks=[probe], **kw)
    assert h.engine == "numpy" and h.loss_kind == "running"
    seen = np.array(probe.seen)
    for e in range(1, 4):
        rows = seen[seen[:, 0] == e]
        sizes = rows[:, 1]
        # the epoch's batches weighted by their size (the last may be smaller)
        np.testing.assert_allclose(
            h.loss[e - 1], np.sum(sizes * rows[:, 2]) / sizes.sum(), rtol=1e-12
        )
        np.testing.assert_allclose(
            h.accuracy[e - 1], np.sum(sizes * rows[:, 3]) / sizes.sum(), rtol=1e-12
        )
    # The compiled runners report the same running History.
    for engine in ("fast", "auto"):
        _, hf = _run(([4, 4, 3, 3], "sigmoid"), X, y, engine=engine, **kw)
        assert hf.engine == "fast" and hf.loss_kind == "running"
        np.testing.assert_allclose(hf.loss, h.loss, rtol=1e-12)
        assert hf.accuracy == h.accuracy


def test_blas_running_history_equals_the_engines():
    X, y = _wide_data()
    net_args, kw = CASES["blas"]
    _, ref = _run(net_args, X, y, engine="numpy", history="running", **kw)
    _, got = _run(net_args, X, y, history="running", **kw)
    assert got.engine == "blas" and got.loss_kind == ref.loss_kind == "running"
    np.testing.assert_allclose(got.loss, ref.loss, rtol=1e-12)
    assert got.accuracy == ref.accuracy
    # "full" measures after the epoch: not the running mean.
    _, full = _run(net_args, X, y, history="full", **kw)
    assert full.loss_kind == "full" and full.loss != got.loss


def test_auto_history_is_full_while_cheap(iris_split):
    X, y = iris_split.X_train, iris_split.y_train
    net, h = _run(([4, 4, 3, 3], "sigmoid"), X, y, epochs=2, lr=0.05)
    assert h.loss_kind == "full" and h.to_dict()["loss_kind"] == "full"
    trained = rp.mlp([4, 4, 3, 3], seed=3)
    trained.load_state_dict(net)
    assert h.loss[-1] == pytest.approx(rp.evaluate(trained, X, y)[0], rel=1e-12)
    assert history_kind("auto", 120, 35) == "full"
    assert history_kind("auto", 60_000, 235_146) == "running"  # MNIST-sized
    assert history_kind("auto", FULL_HISTORY_WORK, 1) == "full"
    assert history_kind("auto", FULL_HISTORY_WORK + 1, 1) == "running"
    assert history_kind("full", 10**9, 10**9) == "full"
    with pytest.raises(rp.ConfigError, match="history must be one of"):
        rp.train(rp.mlp([4, 3]), X, y, epochs=1, lr=0.1, history="partial")


def test_cli_json_says_what_the_loss_measured_and_record_bias_changes_nothing(
    capsys, tmp_path
):
    import json

    from retroprop.cli import main

    def train_json(*args):
        with pytest.raises(SystemExit) as e:
            main(
                [
                    "train",
                    "--epochs",
                    "3",
                    "--lr",
                    "1",
                    "--activation",
                    "tanh",
                    "--quiet",
                    "--json",
                    *args,
                ]
            )
        assert e.value.code == 0
        return json.loads(capsys.readouterr().out)

    plain = train_json()
    assert plain["loss_kind"] == "full" and plain["engine"] == "fast"
    recorded = train_json("--record-bias", str(tmp_path / "bias.csv"))
    assert recorded == plain  # issue 15's example: recording changed the accuracy
