"""The one training step and everything that runs it.

``TrainingStep`` is forward, loss, backward and the checked update; ``train``,
``partial_fit``, ``verify``, the report's recorder and ``explain --step``
(``advance_to_step``) all run it, so a diverging eta is reported the same way by
each: ``DivergenceError`` naming the epoch and the iteration ``train`` names, and no
NumPy warning on the way (conftest turns any into a FloatingPointError).
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

import retroprop as rp
from retroprop.train import advance_to_step
from retroprop.training import TrainingStep


@pytest.fixture
def iris():
    ds = rp.datasets.load_iris()
    return ds.X, ds.y


def train_divergence(net, X, y, **kw) -> rp.DivergenceError:
    with pytest.raises(rp.DivergenceError) as err:
        rp.train(net, X, y, **kw)
    return err.value


# -- the step itself -------------------------------------------------------------------


def test_a_step_is_the_engines_forward_backward_and_sgd():
    # The step's update equals w - eta * grad of the engine's own pass, written here
    # by hand (and the engine's gradients are tested against torch elsewhere).
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5, 4)), rng.integers(0, 3, size=5)
    net = rp.mlp([4, 4, 3], "tanh", seed=1)
    ref = copy.deepcopy(net)
    loss_fn = rp.CrossEntropyLoss()
    expected_loss = loss_fn(ref(X), y)
    ref.backward(loss_fn.backward())
    grads = {n: p.grad for n, p in ref.named_parameters()}
    expected = {n: p.data - 0.1 * grads[n] for n, p in ref.named_parameters()}
    loss = TrainingStep(net, "cross_entropy", rp.SGD(net.parameters(), lr=0.1))(
        X, y, epoch=1, iteration=1
    )
    assert loss == expected_loss
    for name, p in net.named_parameters():
        np.testing.assert_array_equal(p.data, expected[name], err_msg=name)
        np.testing.assert_array_equal(p.grad, grads[name], err_msg=name)  # kept


@pytest.mark.parametrize("where", ["loss", "update"])
def test_a_diverging_step_names_its_epoch_and_iteration_and_changes_nothing(where):
    # Weights of 1: z = x1 + x2 overflows to inf (the loss is NaN) for the largest
    # floats; 1e150 keeps the loss finite, but the update eta * grad overflows.
    big = np.finfo(np.float64).max if where == "loss" else 1e150
    X, y = np.array([[big, big]]), np.array([1])
    net = rp.mlp([2, 3], "identity", seed=0)
    net[0].weight.data[...] = 1.0
    before = net.state_dict()
    step = TrainingStep(net, "cross_entropy", rp.SGD(net.parameters(), lr=1e200))
    with pytest.raises(rp.DivergenceError) as err:
        step(X, y, epoch=3, iteration=17)
    e = err.value
    assert (e.epoch, e.iteration, e.lr) == (3, 17, 1e200)
    assert "epoch 3, iteration 17 with lr=1e+200" in str(e)
    assert ("the loss became" in str(e)) == (where == "loss")
    for name, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[name])


# -- every caller reports divergence as train does ------------------------------------


def test_train_reports_the_iteration_on_both_engines(iris):
    X, y = iris
    kw = {"epochs": 5, "lr": 1e4, "batch_size": 10, "seed": 0}
    errs = [
        train_divergence(rp.mlp([4, 4, 3], "identity", seed=0), X * 100, y, **kw)
        for engine in ("numpy", "auto")
        for kw["engine"] in [engine]
    ]
    assert [(e.epoch, e.iteration) for e in errs] == [(2, 24), (2, 24)]


def test_partial_fit_reports_divergence_as_fit_does_without_warnings(iris):
    # The case: partial_fit printed overflow warnings and then said epoch 0,
    # iteration 0, where fit says epoch 1, iteration 6.
    from retroprop.sklearn import BackpropClassifier

    X, y = iris

    def make():
        return BackpropClassifier(
            learning_rate_init=1e4,
            activation="identity",
            batch_size=10,
            random_state=0,
        )

    with pytest.raises(rp.DivergenceError) as fit_err:
        make().fit(X * 100, y)
    est = make()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(rp.DivergenceError) as err:
            est.partial_fit(X * 100, y, classes=np.unique(y))
    assert (fit_err.value.epoch, fit_err.value.iteration) == (1, 6)
    assert (err.value.epoch, err.value.iteration) == (1, 6)
    assert str(err.value) == str(fit_err.value)
    assert all(np.isfinite(c).all() for c in est.coefs_)  # the last finite ones


def test_partial_fit_counts_epochs_and_iterations_across_calls(iris):
    # Divergence in the second epoch: the second partial_fit call names epoch 2 and
    # the iteration counted from the first call, as fit does.
    from retroprop.sklearn import BackpropClassifier

    X, y = iris
    kw = {
        "learning_rate_init": 0.22,
        "activation": "identity",
        "batch_size": 20,
        "random_state": 0,
        "max_iter": 30,
        "n_iter_no_change": 100,
    }
    with pytest.raises(rp.DivergenceError) as fit_err:
        BackpropClassifier(**kw).fit(X, y)
    assert (fit_err.value.epoch, fit_err.value.iteration) == (2, 13)
    est = BackpropClassifier(**kw)
    # the loss has already grown 1e19-fold after epoch 1: each call is judged as
    # fit judges its run, so the first call raises what fit(max_iter=1) raises
    with pytest.raises(rp.DivergenceError) as first:
        est.partial_fit(X, y, classes=np.unique(y))
    with pytest.raises(rp.DivergenceError) as one_epoch:
        BackpropClassifier(**{**kw, "max_iter": 1}).fit(X, y)
    assert str(first.value) == str(one_epoch.value)
    with pytest.raises(rp.DivergenceError) as err:
        est.partial_fit(X, y)
    assert (err.value.epoch, err.value.iteration) == (2, 13)
    assert est.n_iter_ == 1


def test_partial_fit_epochs_equal_fit_epochs(iris):
    # One partial_fit call is one epoch of train's loop: same order, same step.
    from retroprop.sklearn import BackpropClassifier

    X, y = iris
    kw = {"random_state": 3, "batch_size": 7, "momentum": 0.9, "max_iter": 3}
    fitted = BackpropClassifier(**kw, n_iter_no_change=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converged after max_iter
        fitted.fit(X, y)
    stepped = BackpropClassifier(**kw)
    for _ in range(3):
        stepped.partial_fit(X, y, classes=np.unique(y))
    # fit restarts momentum never, partial_fit keeps it across calls: equal to 1e-12
    for a, b in zip(fitted.coefs_, stepped.coefs_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert stepped.loss_curve_ == pytest.approx(fitted.loss_curve_, abs=1e-12)


def test_verify_diverges_at_the_iteration_train_names(iris):
    pytest.importorskip("torch")
    from retroprop.interop.verify import verify

    X, y = iris
    net = rp.mlp([4, 4, 3], "identity", seed=0)
    err = train_divergence(
        copy.deepcopy(net), X * 100, y, epochs=5, lr=1e4, batch_size=10, seed=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = verify(net, X * 100, y, steps=40, lr=1e4, batch_size=10, seed=0)
    assert (err.epoch, err.iteration) == (2, 24)  # verify's steps cross epochs too
    assert result.retroprop_diverged_at == err.iteration


def test_the_recorder_lets_the_step_report_divergence():
    # RecordSteps traces each step with explain_step before train makes it; that
    # trace's own update diverged first (NumPy warnings, then an error naming no
    # epoch). Now train's step names it, as train without the recorder does.
    from retroprop.recipe import LECTURE, build_network, prepare_data
    from retroprop.report.record import record_training

    with pytest.raises(rp.DivergenceError) as err:
        record_training(lr=10.0, epochs=3, steps=300, activation="identity")
    split = prepare_data()
    seed = LECTURE["seed"]
    net = build_network(split, LECTURE["hidden"], "identity", seed=seed)
    plain = train_divergence(
        net, split.X_train, split.y_train, epochs=3, lr=10.0, batch_size=1, seed=seed
    )
    assert (err.value.epoch, err.value.iteration) == (plain.epoch, plain.iteration)
    assert str(err.value) == str(plain)


# -- explain --step: advance_to_step -----------------------------------------------------


class Snapshots(rp.Callback):
    """The parameters and batch at the start of every iteration."""

    per_iteration = True

    def __init__(self):
        self.at = {}

    def on_iteration_begin(self, state):
        self.at[state.iteration] = (
            state.epoch,
            state.batch.copy(),
            state.net.state_dict(),
        )


@pytest.mark.parametrize("batch_size", [1, 7, None])
@pytest.mark.parametrize("shuffle", [True, False])
def test_advance_to_step_is_trains_run_stopped_before_step_k(iris, batch_size, shuffle):
    X, y = iris
    X = (X - X.mean(0)) / X.std(0)
    kw = {"lr": 0.3, "batch_size": batch_size, "seed": 4, "shuffle": shuffle}
    snap = Snapshots()
    rp.train(rp.mlp([4, 5, 3], seed=1), X, y, epochs=3, callbacks=[snap], **kw)
    per_epoch = -(-150 // (batch_size or 150))
    for k in sorted({1, 2, per_epoch, per_epoch + 1, 2 * per_epoch + 1}):
        net = rp.mlp([4, 5, 3], seed=1)
        at = advance_to_step(net, X, y, step=k, **kw)
        epoch, batch, params = snap.at[k]
        assert (at.iteration, at.epoch) == (k, epoch)
        np.testing.assert_array_equal(at.batch, batch)
        for name, v in net.state_dict().items():
            np.testing.assert_array_equal(v, params[name], err_msg=f"{k} {name}")


def test_advance_to_step_reports_divergence_as_train(iris):
    X, y = iris
    kw = {"lr": 1e4, "batch_size": 10, "seed": 0}
    plain = train_divergence(
        rp.mlp([4, 4, 3], "identity", seed=0), X * 100, y, epochs=5, **kw
    )
    with pytest.raises(rp.DivergenceError) as err:
        advance_to_step(
            rp.mlp([4, 4, 3], "identity", seed=0), X * 100, y, step=100, **kw
        )
    assert str(err.value) == str(plain)
    # Steps before the diverging one are made and explained.
    at = advance_to_step(
        rp.mlp([4, 4, 3], "identity", seed=0), X * 100, y, step=plain.iteration, **kw
    )
    assert at.iteration == plain.iteration


def test_explain_step_past_a_divergence_says_where_in_one_line(tmp_path):
    import subprocess
    import sys

    args = ["--activation", "identity", "--lr", "10", "--step", "40"]
    explained = subprocess.run(
        [sys.executable, "-m", "retroprop", "explain", *args],
        capture_output=True,
        text=True,
    )
    trained = subprocess.run(
        [
            sys.executable,
            "-m",
            "retroprop",
            "train",
            "--activation",
            "identity",
            "--lr",
            "10",
            "--epochs",
            "3",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert explained.returncode == trained.returncode == 1
    assert "diverged at epoch 1, iteration 16" in explained.stderr
    assert "diverged at epoch 1, iteration 16" in trained.stderr
    assert "Traceback" not in explained.stderr
    assert len(explained.stderr.strip().splitlines()) == 1


# -- early stopping is a callback ---------------------------------------------------------


@pytest.mark.parametrize("validation", [False, True])
def test_early_stopping_callback_is_train_early_stopping(iris, validation):
    X, y = iris
    X = (X - X.mean(0)) / X.std(0)
    kw = {"epochs": 60, "lr": 0.5, "batch_size": 5, "seed": 2}
    if validation:
        kw["validation"] = (X[::3], y[::3])
    a, b = rp.mlp([4, 6, 3], seed=0), rp.mlp([4, 6, 3], seed=0)
    ha = rp.train(a, X, y, early_stopping=3, **kw)
    stop = rp.EarlyStopping(3)
    hb = rp.train(b, X, y, callbacks=[stop], **kw)
    assert ha.to_dict() == hb.to_dict()
    assert hb.stopped_early and hb.epochs < 60
    monitored = hb.val_loss if validation else hb.loss
    assert stop.best == min(monitored)
    assert stop.best_epoch == int(np.argmin(monitored)) + 1
    for name, v in a.state_dict().items():
        np.testing.assert_array_equal(v, b.state_dict()[name])
    # The parameters are the best epoch's: measured again, they give its loss.
    data = kw.get("validation", (X, y))
    assert rp.evaluate(b, *data)[0] == pytest.approx(stop.best, abs=1e-12)


@pytest.mark.parametrize("patience", [0, -1, 1.5, True, "3"])
def test_early_stopping_patience_must_be_a_positive_integer(patience):
    with pytest.raises(rp.ConfigError, match="early_stopping must be a positive"):
        rp.EarlyStopping(patience)


# -- how train picks its engine ------------------------------------------------------------


def test_history_says_which_engine_ran_and_why_not_the_fast_one(iris):
    X, y = iris
    kw = {"epochs": 1, "lr": 0.05, "seed": 0}
    h = rp.train(rp.mlp([4, 4, 3]), X, y, engine="numpy", **kw)
    assert (h.engine, h.engine_reason) == ("numpy", None)

    class Probe(rp.RecordParameter):  # changes a hook: only the NumPy loop calls it
        def on_iteration_begin(self, state):
            super().on_iteration_begin(state)

    h = rp.train(rp.mlp([4, 4, 3]), X, y, callbacks=[Probe("2.bias")], **kw)
    assert h.engine == "numpy"
    assert "Probe acts on every iteration" in h.engine_reason
    from retroprop.fast import numba_available

    if numba_available():
        h = rp.train(rp.mlp([4, 4, 3]), X, y, **kw)
        assert (h.engine, h.engine_reason) == ("fast", None)
