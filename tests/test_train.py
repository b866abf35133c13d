"""``rp.train``: batch sizes, History, callbacks, early stopping, the lecture's run.

``rp.train`` may run its epochs on the compiled fast path (``engine="auto"``), which
agrees with the NumPy engine to rounding, not bit for bit; where a test compares a
default run with a hand-written loop or with ``rp.evaluate`` it allows ``1e-12``.
Runs with a per-iteration callback always use the NumPy engine and compare exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import retroprop as rp
from retroprop.recipe import LECTURE, build_network


def toy_data(n=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1).astype(np.int64)
    return X, y


class RecordBatches(rp.Callback):
    """Remembers which samples each iteration used."""

    per_iteration = True

    def __init__(self):
        self.batches: list[np.ndarray] = []
        self.epochs: list[int] = []

    def on_iteration_begin(self, state):
        self.batches.append(state.batch.copy())
        self.epochs.append(state.epoch)


class Snapshots(rp.Callback):
    """The parameters after each epoch."""

    def __init__(self):
        self.states: list[dict] = []

    def on_epoch_end(self, state):
        self.states.append(state.net.state_dict())


@pytest.mark.parametrize(
    ("batch_size", "per_epoch"), [(1, 30), (7, 5), (30, 1), (100, 1), (None, 1)]
)
def test_batch_sizes_give_the_expected_number_of_updates(batch_size, per_epoch):
    X, y = toy_data()
    net = rp.mlp([3, 4, 3], seed=0)
    rec = RecordBatches()
    h = rp.train(net, X, y, epochs=3, lr=0.1, batch_size=batch_size, callbacks=[rec])
    assert h.iterations == 3 * per_epoch
    assert len(rec.batches) == 3 * per_epoch
    for epoch in (1, 2, 3):
        seen = np.concatenate(
            [b for b, e in zip(rec.batches, rec.epochs) if e == epoch]
        )
        assert sorted(seen) == list(range(30))  # every sample once per epoch
    sizes = [len(b) for b in rec.batches[:per_epoch]]
    k = 30 if batch_size is None else min(batch_size, 30)
    assert sizes[:-1] == [k] * (per_epoch - 1) and sizes[-1] == 30 - k * (per_epoch - 1)


def test_history_fields():
    X, y = toy_data()
    net = rp.mlp([3, 4, 3], seed=0)
    h = rp.train(net, X, y, epochs=4, lr=0.1, batch_size=5)
    assert h.epochs == 4 and len(h.loss) == len(h.accuracy) == 4
    assert h.val_loss == [] and h.val_accuracy == []
    assert h.iterations == 24 and h.stopped_early is False
    assert all(isinstance(v, float) for v in h.loss + h.accuracy)
    # The last entry is the final network measured on the whole training set.
    loss, acc = rp.evaluate(net, X, y)
    assert h.loss[-1] == pytest.approx(loss, rel=1e-12) and h.accuracy[-1] == acc
    assert h.to_dict()["iterations"] == 24
    assert set(h.to_dict()) == {
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "iterations",
        "stopped_early",
        "loss_kind",
    }


def test_validation_history():
    X, y = toy_data(40)
    Xv, yv = toy_data(20, seed=1)
    net = rp.mlp([3, 4, 3], seed=0)
    h = rp.train(net, X, y, epochs=3, lr=0.1, validation=(Xv, yv))
    assert len(h.val_loss) == len(h.val_accuracy) == 3
    vl, va = rp.evaluate(net, Xv, yv)
    assert h.val_loss[-1] == vl and h.val_accuracy[-1] == va
    assert h.val_loss != h.loss


def test_record_parameter_matches_a_manual_update_loop():
    """The lecture's exercise 4: record the last bias, then redo each update by hand."""
    X, y = toy_data(20)
    net = rp.mlp([3, 4, 3, 3], seed=2)
    manual = rp.mlp([3, 4, 3, 3], seed=0)
    manual.load_state_dict(net.state_dict())
    rec, batches = rp.RecordParameter("4.bias"), RecordBatches()
    lr = 0.05
    h = rp.train(
        net, X, y, epochs=2, lr=lr, batch_size=3, seed=4, callbacks=[rec, batches]
    )
    assert len(rec.values) == h.iterations == 14
    assert rec.iterations == list(range(1, 15))
    assert rec.epochs == [1] * 7 + [2] * 7
    ce = rp.CrossEntropyLoss()
    for k, idx in enumerate(batches.batches):
        # Before iteration k the manual copy's bias is what the callback recorded.
        np.testing.assert_array_equal(manual[4].bias.data, rec.values[k])
        ce(manual(X[idx]), y[idx])
        manual.zero_grad()
        manual.backward(ce.backward())
        grad = manual[4].bias.grad
        assert np.abs(grad).max() > 0
        for p in manual.parameters():  # w <- w - lr * dL/dw, by hand
            p.data = p.data - lr * p.grad
        if k + 1 < len(rec.values):
            # recorded[k+1] == recorded[k] - lr * grad_k
            np.testing.assert_allclose(
                rec.values[k + 1], rec.values[k] - lr * grad, rtol=0, atol=1e-15
            )
    np.testing.assert_allclose(manual[4].bias.data, net[4].bias.data, atol=1e-15)


def test_record_parameter_values_are_copies_and_the_name_is_checked():
    X, y = toy_data(6)
    net = rp.mlp([3, 3], seed=0)
    rec = rp.RecordParameter("0.bias")
    rp.train(net, X, y, epochs=1, lr=0.5, callbacks=[rec])
    assert len(rec.values) == 6
    assert not np.array_equal(rec.values[0], rec.values[-1])
    with pytest.raises(rp.ConfigError, match=r"no parameter named '9\.bias'"):
        rp.train(net, X, y, epochs=1, lr=0.1, callbacks=[rp.RecordParameter("9.bias")])


def test_early_stopping_restores_the_best_parameters():
    X, y = toy_data(40)
    Xv, yv = X[:20].copy(), (y[:20] + 1) % 3  # wrong labels: validation loss worsens
    net = rp.mlp([3, 6, 3], seed=0)
    snaps = Snapshots()
    h = rp.train(
        net,
        X,
        y,
        epochs=50,
        lr=0.2,
        batch_size=4,
        validation=(Xv, yv),
        early_stopping=3,
        callbacks=[snaps],
    )
    assert h.stopped_early
    best = int(np.argmin(h.val_loss))
    assert h.epochs == best + 1 + 3  # three epochs without improvement, then stop
    assert h.epochs < 50
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, snaps.states[best][k])
    assert rp.evaluate(net, Xv, yv)[0] == pytest.approx(h.val_loss[best], abs=1e-12)


def test_early_stopping_keeps_the_best_parameters_when_the_epochs_run_out():
    """Patience never runs out here, yet training ends on the best epoch's weights."""
    X, y = toy_data(40)
    Xv, yv = X[:20].copy(), (y[:20] + 1) % 3  # wrong labels: validation loss worsens
    net = rp.mlp([3, 6, 3], seed=0)
    snaps = Snapshots()
    h = rp.train(
        net,
        X,
        y,
        epochs=6,
        lr=0.2,
        batch_size=4,
        validation=(Xv, yv),
        early_stopping=100,
        callbacks=[snaps],
    )
    assert not h.stopped_early and h.epochs == 6
    best = int(np.argmin(h.val_loss))
    assert best < 5  # the last epoch is not the best one, so restoring is visible
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, snaps.states[best][k])


def test_validation_that_is_a_slice_of_the_training_array_uses_its_own_labels():
    """A view of X with different labels is still a different data set."""
    X, y = toy_data(40)
    Xv, yv = X[:20], (y[:20] + 1) % 3
    net = rp.mlp([3, 6, 3], seed=0)
    h = rp.train(net, X, y, epochs=3, lr=0.2, batch_size=4, validation=(Xv, yv))
    vl, va = rp.evaluate(net, Xv, yv)
    assert h.val_loss[-1] == pytest.approx(vl, rel=1e-12)
    assert h.val_accuracy[-1] == va
    assert h.val_loss[-1] != pytest.approx(rp.evaluate(net, Xv, y[:20])[0], rel=1e-6)


def test_early_stopping_without_validation_watches_the_training_loss():
    X, y = toy_data(20)
    net = rp.mlp([3, 6, 3], seed=0)
    # lr = 5 overshoots: the training loss rises after the first epoch.
    h = rp.train(net, X, y, epochs=200, lr=5.0, batch_size=None, early_stopping=2)
    assert h.stopped_early and h.val_loss == []
    best = int(np.argmin(h.loss))
    assert h.epochs == best + 1 + 2
    assert rp.evaluate(net, X, y)[0] == pytest.approx(h.loss[best], abs=1e-12)
    assert h.loss[-1] > h.loss[best]


def test_shuffle_false_visits_samples_in_order_and_is_deterministic():
    X, y = toy_data(10)
    runs = []
    for seed in (0, 1):
        net = rp.mlp([3, 4, 3], seed=0)
        rec = RecordBatches()
        rp.train(
            net,
            X,
            y,
            epochs=2,
            lr=0.1,
            batch_size=4,
            shuffle=False,
            seed=seed,
            callbacks=[rec],
        )
        runs.append((net.state_dict(), rec.batches))
        assert [b.tolist() for b in rec.batches] == [
            [0, 1, 2, 3],
            [4, 5, 6, 7],
            [8, 9],
        ] * 2
    for k, v in runs[0][0].items():
        np.testing.assert_array_equal(v, runs[1][0][k])  # the seed does not matter


def test_shuffle_is_seeded():
    X, y = toy_data(12)

    def run(seed):
        net = rp.mlp([3, 4, 3], seed=0)
        rec = RecordBatches()
        rp.train(net, X, y, epochs=2, lr=0.1, seed=seed, callbacks=[rec])
        return net.state_dict(), [int(b[0]) for b in rec.batches]

    (a, order_a), (b, order_b), (_, order_c) = run(3), run(3), run(4)
    assert order_a == order_b and order_a != order_c
    assert order_a[:12] != list(range(12)) and order_a[:12] != order_a[12:]
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    gen = run(np.random.default_rng(3))[1]
    assert gen == order_a


def test_full_batch_equals_one_manual_gradient_step():
    X, y = toy_data(15)
    net = rp.mlp([3, 4, 3], seed=0)
    manual = rp.mlp([3, 4, 3], seed=0)
    rp.train(net, X, y, epochs=1, lr=0.3, batch_size=None)
    ce = rp.CrossEntropyLoss()
    ce(manual(X), y)
    manual.backward(ce.backward())
    for p in manual.parameters():
        p.data = p.data - 0.3 * p.grad
    for k, v in net.state_dict().items():
        np.testing.assert_allclose(v, manual.state_dict()[k], rtol=0, atol=1e-12)


def test_mse_training_on_class_labels_uses_one_hot_targets():
    X, y = toy_data(30)
    net = rp.mlp([3, 6, 3], "tanh", seed=0)
    h = rp.train(net, X, y, epochs=20, lr=0.1, loss="mse", batch_size=5)
    assert h.loss[-1] < h.loss[0]
    out = net(X)
    expected = float(np.mean((out - np.eye(3)[y]) ** 2))
    assert h.loss[-1] == pytest.approx(expected, rel=1e-12)


def test_momentum_training_matches_torch_optim_sgd_settings():
    """train's momentum/nesterov/weight_decay reach the optimiser (versus rp.SGD)."""
    X, y = toy_data(12)
    net, manual = rp.mlp([3, 4, 3], seed=0), rp.mlp([3, 4, 3], seed=0)
    opts = {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}
    rp.train(net, X, y, epochs=2, lr=0.1, batch_size=4, shuffle=False, **opts)
    opt, ce = rp.SGD(manual.parameters(), lr=0.1, **opts), rp.CrossEntropyLoss()
    for _ in range(2):
        for start in range(0, 12, 4):
            opt.zero_grad()
            ce(manual(X[start : start + 4]), y[start : start + 4])
            manual.backward(ce.backward())
            opt.step()
    for k, v in net.state_dict().items():
        np.testing.assert_allclose(v, manual.state_dict()[k], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epochs": -1}, rp.ConfigError, "epochs"),
        ({"epochs": 1.5}, rp.ConfigError, "epochs"),
        ({"batch_size": 0}, rp.ConfigError, "batch_size"),
        ({"batch_size": 2.5}, rp.ConfigError, "batch_size"),
        ({"loss": "hinge"}, rp.ConfigError, "loss must be one of"),
        ({"optimizer": "adam"}, rp.ConfigError, "optimizer must be one of"),
        ({"lr": -1.0}, rp.ConfigError, "lr"),
        ({"early_stopping": 0}, rp.ConfigError, "early_stopping"),
    ],
)
def test_train_validates_its_arguments(kwargs, error, match):
    X, y = toy_data(6)
    args = {"epochs": 1, "lr": 0.1, **kwargs}
    with pytest.raises(error, match=match):
        rp.train(rp.mlp([3, 3], seed=0), X, y, **args)


def test_train_validates_the_data():
    X, y = toy_data(6)
    net = rp.mlp([3, 3], seed=0)
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(rp.DataError, match="row 2, column 1"):
        rp.train(net, bad, y, epochs=1, lr=0.1)
    with pytest.raises(rp.DataError, match="features"):
        rp.train(net, X[:, :2], y, epochs=1, lr=0.1)
    with pytest.raises(rp.DataError, match="shape"):
        rp.train(net, X, y[:4], epochs=1, lr=0.1)
    with pytest.raises(rp.DataError, match=r"classes 0\.\.2"):
        rp.train(net, X, y + 5, epochs=1, lr=0.1)
    with pytest.raises(rp.ConfigError, match="Sequential"):
        rp.train("net", X, y, epochs=1, lr=0.1)


def test_zero_epochs_changes_nothing():
    X, y = toy_data(6)
    net = rp.mlp([3, 3], seed=0)
    before = net.state_dict()
    h = rp.train(net, X, y, epochs=0, lr=0.1)
    assert h.epochs == 0 and h.iterations == 0
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_predict_and_predict_proba():
    X, _ = toy_data(8)
    net = rp.mlp([3, 4, 3], seed=0)
    proba = rp.predict_proba(net, X)
    assert proba.shape == (8, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-15)
    np.testing.assert_array_equal(rp.predict(net, X), np.argmax(net(X), axis=1))


def test_the_lecture_setting_reaches_093_test_accuracy(iris_split):
    s = iris_split
    net = build_network(
        s, LECTURE["hidden"], LECTURE["activation"], seed=LECTURE["seed"]
    )
    assert [m.name if hasattr(m, "name") else "linear" for m in net] == [
        "linear",
        "sigmoid",
        "linear",
        "sigmoid",
        "linear",
    ]
    assert s.X_train.shape == (120, 4) and s.X_test.shape == (30, 4)
    h = rp.train(
        net,
        s.X_train,
        s.y_train,
        epochs=LECTURE["epochs"],
        lr=LECTURE["lr"],
        batch_size=LECTURE["batch_size"],
        seed=LECTURE["seed"],
    )
    assert h.iterations == 100 * 120  # per-sample gradient descent
    loss, acc = rp.evaluate(net, s.X_test, s.y_test)
    assert acc >= 0.93
    assert math.isfinite(loss) and loss < h.loss[0] + 1.0
    assert h.loss[-1] < h.loss[0]


def test_integer_targets_train_a_single_output_mse_regression():
    X, _ = toy_data(20)
    y = np.arange(20) % 3  # integers, but values to regress on, not classes
    h = rp.train(rp.mlp([3, 1], seed=0), X, y, epochs=2, lr=0.01, loss="mse")
    assert np.isfinite(h.loss).all()


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"y": "float"}, rp.DataError, "integer class labels 0..2 for cross_entropy"),
        ({"y": "str"}, rp.DataError, "integer class labels"),
        ({"early_stopping": "2"}, rp.ConfigError, "early_stopping"),
        ({"early_stopping": True}, rp.ConfigError, "early_stopping"),
        ({"validation": "X only"}, rp.ConfigError, "validation must be a pair"),
    ],
)
def test_train_names_bad_targets_and_options_at_the_edge(change, error, match):
    X, y = toy_data(12)
    kwargs = dict(change)
    kind = kwargs.pop("y", None)
    if kind is not None:
        y = y.astype(float) if kind == "float" else y.astype(str)
    if kwargs.get("validation") == "X only":
        kwargs["validation"] = (X,)
    with pytest.raises(error, match=match):
        rp.train(rp.mlp([3, 4, 3], seed=0), X, y, epochs=1, lr=0.1, **kwargs)


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True])
def test_a_bad_seed_is_a_config_error(seed):
    with pytest.raises(rp.ConfigError, match="seed must be a non-negative integer"):
        rp.mlp([2, 2], seed=seed)
