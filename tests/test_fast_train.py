"""``train(engine="fast")`` against the NumPy engine (the reference).

Same start, same sample order: the compiled path must give the same parameters to
1e-12 (float64), the same History, the same DivergenceError; ``"auto"`` must fall
back to the NumPy engine wherever the fast path does not apply.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import retroprop as rp
from helpers import train_outcome
from retroprop.fast.spec import fast_reason, numba_available
from retroprop.train import ProgressCallback

pytestmark = pytest.mark.skipif(not numba_available(), reason="needs numba")

ACTS = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"]


def _assert_same(a, b, atol=1e-12):
    (sa, ha), (sb, hb) = a, b
    for name in sa:
        np.testing.assert_allclose(sa[name], sb[name], rtol=0, atol=atol, err_msg=name)
    assert type(ha) is type(hb)
    if isinstance(ha, rp.DivergenceError):
        assert (ha.epoch, ha.iteration, ha.lr) == (hb.epoch, hb.iteration, hb.lr)
        # The same message up to the loss's digits (e.g. "the loss became inf").
        assert str(ha).split(":")[0] == str(hb).split(":")[0]
        assert ("non-finite" in str(ha)) == ("non-finite" in str(hb))
        return
    assert ha.iterations == hb.iterations and ha.epochs == hb.epochs
    assert ha.stopped_early == hb.stopped_early
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(
            getattr(ha, key), getattr(hb, key), rtol=1e-12, atol=1e-12
        )
    for key in ("accuracy", "val_accuracy"):
        assert getattr(ha, key) == getattr(hb, key)


def test_lecture_network_100_epochs(iris_split):
    X, y = iris_split.X_train, iris_split.y_train

    def make():
        return rp.mlp([4, 4, 3, 3], seed=1)

    kw = {"epochs": 100, "lr": 0.05, "seed": 1}
    _assert_same(
        train_outcome("fast", make, X, y, **kw),
        train_outcome("numpy", make, X, y, **kw),
    )
    # "auto" takes the fast path here: the kernel is called once per epoch.
    assert fast_reason(make(), loss="cross_entropy", optimizer="sgd") is None


@pytest.mark.parametrize("case", range(12))
def test_random_architectures_losses_and_optimiser_settings(case):
    rng = np.random.default_rng(100 + case)
    n, d, k = int(rng.integers(5, 40)), int(rng.integers(1, 6)), int(rng.integers(1, 5))
    loss = "mse" if k == 1 or case % 3 == 0 else "cross_entropy"
    X = rng.normal(size=(n, d))
    # Classes for cross-entropy and for MSE on k > 1 outputs (one-hot targets),
    # real numbers for MSE on one output.
    y = rng.normal(size=n) if k == 1 else rng.integers(0, k, size=n)
    sizes = [d, *rng.integers(1, 7, size=rng.integers(0, 4)).tolist(), k]
    act = ACTS[case % len(ACTS)]
    out_act = [None, "sigmoid", "tanh"][case % 3]
    momentum = [0.0, 0.9, 0.5][case % 3]
    kw = {
        "epochs": int(rng.integers(1, 6)),
        "lr": float(rng.uniform(0.001, 0.2)),
        "batch_size": [1, 2, 7, None][case % 4],
        "momentum": momentum,
        "nesterov": momentum > 0 and case % 2 == 1,
        "dampening": 0.2 if momentum > 0 and case % 2 == 0 else 0.0,
        "weight_decay": [0.0, 1e-2][case % 2],
        "loss": loss,
        "seed": case,
        "shuffle": case % 5 != 0,
    }

    def make():
        net = rp.mlp(
            sizes,
            act,
            output_activation=out_act,
            seed=case,
            init=["torch", "glorot"][case % 2],
        )
        if act == "leaky_relu":
            for m in net:
                if isinstance(m, rp.LeakyReLU):
                    m.negative_slope = 0.3
        return net

    _assert_same(
        train_outcome("fast", make, X, y, **kw),
        train_outcome("numpy", make, X, y, **kw),
    )


def test_hand_built_sequential_without_bias_and_consecutive_activations():
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(30, 3)), rng.integers(0, 2, size=30)

    def make():
        return rp.Sequential(
            rp.Tanh(),
            rp.Linear(3, 5, bias=False, seed=1),
            rp.ReLU(),
            rp.Sigmoid(),
            rp.Linear(5, 2, seed=2),
            rp.Identity(),
        )

    kw = {"epochs": 3, "lr": 0.3, "batch_size": 4, "momentum": 0.9, "seed": 3}
    _assert_same(
        train_outcome("fast", make, X, y, **kw),
        train_outcome("numpy", make, X, y, **kw),
    )


def test_validation_early_stopping_and_epoch_callbacks(iris_split):
    s = iris_split
    seen = {}

    class Epochs(rp.Callback):
        def __init__(self, tag):
            self.tag = tag

        def on_epoch_end(self, state):
            seen.setdefault(self.tag, []).append(state.net.state_dict()["4.bias"])

    def make():
        return rp.mlp([4, 4, 3, 3], seed=2)

    for engine in ("fast", "numpy"):
        kw = {
            "epochs": 40,
            "lr": 0.5,
            "seed": 2,
            "validation": (s.X_test, s.y_test),
            "early_stopping": 3,
            "callbacks": [Epochs(engine)],
        }
        out = train_outcome(engine, make, s.X_train, s.y_train, **kw)
        seen[engine + "_out"] = out
    _assert_same(seen["fast_out"], seen["numpy_out"])
    assert seen["fast_out"][1].stopped_early
    np.testing.assert_allclose(seen["fast"], seen["numpy"], rtol=0, atol=1e-12)


def test_float32_close_to_numpy(iris_split):
    X, y = iris_split.X_train, iris_split.y_train

    def make():
        return rp.mlp([4, 4, 3, 3], seed=1, dtype=np.float32)

    kw = {"epochs": 5, "lr": 0.05, "seed": 1, "momentum": 0.9}
    fast, ref = (
        train_outcome("fast", make, X, y, **kw),
        train_outcome("numpy", make, X, y, **kw),
    )
    assert fast[0]["0.weight"].dtype == np.float32
    for name in ref[0]:
        np.testing.assert_allclose(fast[0][name], ref[0][name], rtol=0, atol=1e-5)
    np.testing.assert_allclose(fast[1].loss, ref[1].loss, rtol=1e-5)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_divergence_same_epoch_iteration_and_last_finite_parameters(iris_split, loss):
    X, y = iris_split.X_train * 20.0, iris_split.y_train

    def make():
        return rp.mlp([4, 16, 3], "relu", seed=0)

    kw = {"epochs": 5, "lr": 5.0, "seed": 0, "loss": loss, "batch_size": 2}
    fast, ref = (
        train_outcome("fast", make, X, y, **kw),
        train_outcome("numpy", make, X, y, **kw),
    )
    assert isinstance(ref[1], rp.DivergenceError)
    assert "epoch" in str(fast[1]) and "lr=5" in str(fast[1])
    for name in ref[0]:
        assert np.isfinite(fast[0][name]).all()
        np.testing.assert_allclose(fast[0][name], ref[0][name], rtol=1e-9, atol=1e-12)
    _assert_same((ref[0], fast[1]), ref)  # same epoch, iteration and lr


class _Counting:
    """Wraps ``train_epoch`` and ``train_run`` (the whole run) of the kernels
    ``codegen`` gives to count how many epochs the fast path ran (``calls``)."""

    def __init__(self, monkeypatch):
        from types import SimpleNamespace

        from retroprop.fast import codegen

        self.calls = 0
        real_for = codegen.kernels_for

        def kernels_for(*args):
            k = real_for(*args)

            def counted(*args):
                self.calls += 1
                return k.train_epoch(*args)

            def counted_run(*args):
                self.calls += args[6].shape[0]  # orders: one row per epoch
                return k.train_run(*args)

            return SimpleNamespace(
                **{**vars(k), "train_epoch": counted, "train_run": counted_run}
            )

        monkeypatch.setattr(codegen, "kernels_for", kernels_for)


def test_auto_uses_the_fast_path_and_falls_back(iris_split, monkeypatch):
    X, y = iris_split.X_train, iris_split.y_train
    counter = _Counting(monkeypatch)
    rp.train(rp.mlp([4, 4, 3, 3]), X, y, epochs=3, lr=0.05)
    assert counter.calls == 3
    # RecordParameter is recorded by the compiled loop itself (issue 15 finding 5).
    rec = rp.RecordParameter("4.bias")
    rp.train(rp.mlp([4, 4, 3, 3]), X, y, epochs=2, lr=0.05, callbacks=[rec])
    assert counter.calls == 5 and len(rec.values) == 2 * len(y)

    # A callback that acts on every iteration needs the NumPy loop.
    class Counter(rp.Callback):
        def on_iteration_end(self, state):
            pass

    per_iteration = Counter()
    rp.train(rp.mlp([4, 4, 3, 3]), X, y, epochs=2, lr=0.05, callbacks=[per_iteration])
    assert counter.calls == 5
    with pytest.raises(rp.ConfigError, match="every iteration"):
        rp.train(
            rp.mlp([4, 4, 3, 3]),
            X,
            y,
            epochs=1,
            lr=0.05,
            callbacks=[per_iteration],
            engine="fast",
        )
    # engine="numpy" never uses it.
    rp.train(rp.mlp([4, 4, 3, 3]), X, y, epochs=2, lr=0.05, engine="numpy")
    assert counter.calls == 5
    # Step: both engines refuse, naming why.
    net = rp.Sequential(rp.Linear(4, 3), rp.Step(), rp.Linear(3, 3))
    for engine in ("auto", "fast", "numpy"):
        with pytest.raises(rp.NotDifferentiableError, match="step"):
            rp.train(net, X, y, epochs=1, lr=0.05, engine=engine)
    with pytest.raises(rp.ConfigError, match="engine must be one of"):
        rp.train(rp.mlp([4, 4, 3, 3]), X, y, epochs=1, lr=0.05, engine="gpu")


def test_auto_falls_back_when_numba_is_missing(iris_split, monkeypatch):
    X, y = iris_split.X_train, iris_split.y_train
    counter = _Counting(monkeypatch)
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` now fails
    net = rp.mlp([4, 4, 3, 3])
    assert "numba" in fast_reason(net, loss="cross_entropy", optimizer="sgd")
    h = rp.train(net, X, y, epochs=2, lr=0.05)
    assert counter.calls == 0 and h.iterations == 2 * len(y)
    with pytest.raises(rp.ConfigError, match="numba"):
        rp.train(rp.mlp([4, 4, 3, 3]), X, y, epochs=1, lr=0.05, engine="fast")
    r = rp.train_many(
        lambda s: rp.mlp([4, 4, 3, 3], seed=s), X, y, seeds=[1, 2], epochs=1, lr=0.05
    )
    assert r.engine == "numpy"


@pytest.mark.parametrize("case", range(6))
def test_large_batches_take_the_blas_runner_and_match(case):
    from retroprop.fast.blas import BlasRunner
    from retroprop.fast.single import make_runner

    rng = np.random.default_rng(200 + case)
    n, d, k = 300, 40, [10, 3, 1][case % 3]
    act = ACTS[case % len(ACTS)]
    loss = "mse" if k == 1 or case == 4 else "cross_entropy"
    X = rng.normal(size=(n, d))
    y = rng.normal(size=n) if k == 1 else rng.integers(0, k, size=n)
    dtype = np.float32 if case == 5 else np.float64

    def make():
        return rp.mlp([d, 120, 60, k], act, seed=case, dtype=dtype)

    kw = {
        "epochs": 2,
        "lr": 0.05,
        "batch_size": [64, 100, None][case % 3],
        "momentum": [0.0, 0.9][case % 2],
        "nesterov": case % 2 == 1,
        "weight_decay": 1e-3 * (case % 2),
        "loss": loss,
        "seed": case,
    }
    net = make()
    runner = make_runner(
        net,
        X.astype(dtype),
        y,
        engine="fast",
        loss=loss,
        optimizer="sgd",
        callbacks=[],
        batch_size=kw["batch_size"] or n,
        opt=rp.SGD(net.parameters()),
    )
    assert isinstance(runner, BlasRunner)
    fast, ref = (
        train_outcome("fast", make, X, y, **kw),
        train_outcome("numpy", make, X, y, **kw),
    )
    if dtype == np.float32:
        for name in ref[0]:
            np.testing.assert_allclose(fast[0][name], ref[0][name], rtol=0, atol=1e-5)
        np.testing.assert_allclose(fast[1].loss, ref[1].loss, rtol=1e-5)
    else:
        _assert_same(fast, ref)


def test_blas_runner_divergence_keeps_last_finite_parameters():
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(400, 40)) * 50, rng.integers(0, 10, size=400)

    def make():
        return rp.mlp([40, 120, 60, 10], "identity", seed=1)

    # A linear network on large inputs: each step multiplies the error.
    kw = {"epochs": 3, "lr": 1.0, "batch_size": 100, "seed": 1, "loss": "mse"}
    fast, ref = (
        train_outcome("fast", make, X, y, **kw),
        train_outcome("numpy", make, X, y, **kw),
    )
    assert isinstance(ref[1], rp.DivergenceError)
    _assert_same((ref[0], fast[1]), ref)
    for name in ref[0]:
        assert np.isfinite(fast[0][name]).all()
        np.testing.assert_allclose(fast[0][name], ref[0][name], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_sigmoid_is_exact_at_the_extremes(dtype):
    from retroprop.engine.activations import sigmoid
    from retroprop.fast.blas import SIGMOID, activation_forward

    z = np.array([[-1e4, -745.0, -40.0, -1.0, 0.0, 1.0, 40.0, 1e4]], dtype=dtype)
    a = np.empty_like(z)
    activation_forward(SIGMOID, 0.0, z, a)
    assert a[0, 0] == 0.0 and a[0, -1] == 1.0 and a[0, 4] == 0.5
    np.testing.assert_allclose(a, sigmoid(z), rtol=2 * np.finfo(dtype).eps, atol=0)


def test_a_callback_overriding_iteration_hooks_without_the_flag_runs_them(iris_split):
    # A user's Callback subclass that overrides the per-iteration hooks but does not
    # set per_iteration = True: "auto" must still run its hooks (the NumPy loop).
    X, y = iris_split.X_train, iris_split.y_train

    class Count(rp.Callback):
        def __init__(self):
            self.begin = self.end = 0

        def on_iteration_begin(self, state):
            self.begin += 1

        def on_iteration_end(self, state):
            self.end += 1

    class CountEnd(rp.Callback):
        def __init__(self):
            self.end = 0

        def on_iteration_end(self, state):
            self.end += 1

    counts = {}
    for engine in ("auto", "numpy"):
        cb, cb_end = Count(), CountEnd()
        rp.train(
            rp.mlp([4, 4, 3, 3], seed=1),
            X,
            y,
            epochs=2,
            lr=0.05,
            batch_size=8,
            callbacks=[cb, cb_end],
            engine=engine,
        )
        counts[engine] = (cb.begin, cb.end, cb_end.end)
    n_iter = 2 * -(-len(y) // 8)
    assert counts["auto"] == counts["numpy"] == (n_iter, n_iter, n_iter)
    for cb in (Count(), CountEnd()):
        assert "every iteration" in fast_reason(
            rp.mlp([4, 4, 3, 3]), loss="cross_entropy", optimizer="sgd", callbacks=[cb]
        )
        with pytest.raises(rp.ConfigError, match="every iteration"):
            rp.train(
                rp.mlp([4, 4, 3, 3]),
                X,
                y,
                epochs=1,
                lr=0.05,
                callbacks=[cb],
                engine="fast",
            )
    # Epoch-only callbacks keep the fast path.
    assert (
        fast_reason(
            rp.mlp([4, 4, 3, 3]),
            loss="cross_entropy",
            optimizer="sgd",
            callbacks=[ProgressCallback(lambda *a: None, 1)],
        )
        is None
    )


@pytest.mark.parametrize(
    ("n", "lr", "batch_size", "runner"),
    [
        (20, 2.0, None, "FastRunner"),
        (20, 5.0, None, "FastRunner"),
        # the compiled path sums the loss in float64: without treating a sum above
        # float32's largest value as overflow it stopped one iteration later here
        (200, 3.0, 10, "FastRunner"),
        (200, 3.0, 10, "BlasRunner"),
        (200, 1.5, None, "BlasRunner"),
    ],
)
def test_float32_divergence_is_raised_where_the_engine_raises_it(
    n, lr, batch_size, runner, monkeypatch
):
    # MSE on an identity network overflows float32 within a few epochs. Both
    # engines raise DivergenceError at the same epoch and iteration and keep the
    # same finite float32 parameters.
    from retroprop.fast import single

    if runner == "BlasRunner":
        monkeypatch.setattr(single, "BLAS_WORK", 1)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(n, 3)), rng.integers(0, 2, n)

    def make():
        return rp.mlp([3, 4, 2], "identity", seed=0, dtype=np.float32)

    kw = {"epochs": 30, "lr": lr, "loss": "mse", "batch_size": batch_size, "seed": 0}
    fast, ref = (
        train_outcome("fast", make, X, y, **kw),
        train_outcome("numpy", make, X, y, **kw),
    )
    for state, err in (fast, ref):
        assert isinstance(err, rp.DivergenceError)
        for v in state.values():
            assert v.dtype == np.float32 and np.isfinite(v).all()
    assert (fast[1].epoch, fast[1].iteration) == (ref[1].epoch, ref[1].iteration)
    for name in ref[0]:  # the last finite parameters, to float32 rounding
        np.testing.assert_allclose(fast[0][name], ref[0][name], rtol=1e-4, err_msg=name)


@pytest.mark.parametrize("runner", ["FastRunner", "BlasRunner"])
def test_the_training_x_with_other_labels_is_scored_with_those_labels(
    runner, monkeypatch
):
    # validation=(the very X object given to train, other labels): the runner must
    # not take the training labels it prepared for that X.
    pytest.importorskip("scipy")
    from retroprop.fast import blas, single

    if runner == "BlasRunner":
        monkeypatch.setattr(single, "BLAS_WORK", 1)
    home = blas if runner == "BlasRunner" else single
    built, real = [], getattr(home, runner)
    monkeypatch.setattr(
        home, runner, lambda *a, **k: built.append(runner) or real(*a, **k)
    )
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(60, 4)), rng.integers(0, 3, size=60)
    other = (y + 1) % 3
    kw = {"epochs": 3, "lr": 0.1, "batch_size": 8, "seed": 1, "validation": (X, other)}
    for loss in ("cross_entropy", "mse"):
        fast = train_outcome(
            "fast", lambda: rp.mlp([4, 5, 3], seed=2), X, y, loss=loss, **kw
        )
        ref = train_outcome(
            "numpy", lambda: rp.mlp([4, 5, 3], seed=2), X, y, loss=loss, **kw
        )
        _assert_same(fast, ref)
        assert fast[1].val_accuracy != fast[1].accuracy
    assert built and set(built) == {runner}
