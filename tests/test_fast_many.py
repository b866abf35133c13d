"""``train_many``: every member equals ``retroprop.train`` run for its seed alone.

Each engine (``"numpy"``, and ``"fast"`` when Numba is installed) is checked against
single runs of the NumPy engine on random architectures, losses and optimiser
settings; diverging members are frozen at the parameters ``train`` keeps when it
raises.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import retroprop as rp
from retroprop.fast.spec import numba_available

ENGINES = ["numpy"] + (["fast"] if numba_available() else [])


def _single(make_net, X, y, seed, **kw):
    """``(state_dict, History or DivergenceError)`` of ``rp.train`` for one seed."""
    net = make_net(seed)
    try:
        with np.errstate(all="ignore"):  # a diverging run overflows on its way
            h = rp.train(net, X, y, seed=seed, engine="numpy", **kw)
    except rp.DivergenceError as e:
        return net.state_dict(), e
    return net.state_dict(), h


def _data(rng, n=23, d=3, k=3):
    X = rng.normal(size=(n, d))
    y = rng.integers(0, k, size=n)
    y[:k] = np.arange(k)
    return X, y


def _assert_member(r, i, state, h, rtol=0.0):
    for name, v in state.items():
        np.testing.assert_allclose(
            r.params[name][i], v, rtol=rtol, atol=1e-12, err_msg=name
        )
    if isinstance(h, rp.DivergenceError):
        assert r.diverged[i] and r.diverged_at[i] == h.epoch
        assert np.isnan(r.loss[i, h.epoch - 1 :]).all()
    else:
        assert not r.diverged[i] and r.diverged_at[i] == -1
        np.testing.assert_allclose(r.loss[i], h.loss, rtol=1e-12, atol=0)
        np.testing.assert_array_equal(r.accuracy[i], h.accuracy)


@pytest.mark.parametrize("engine", ENGINES)
def test_lecture_network_members_equal_single_runs(engine, iris_split):
    X, y = iris_split.X_train, iris_split.y_train

    def make(s):
        return rp.mlp([4, 4, 3, 3], seed=s)

    seeds = [1, 2, 7, 100]
    r = rp.train_many(make, X, y, seeds=seeds, epochs=5, lr=0.05, engine=engine)
    assert r.engine == engine and r.loss.shape == (4, 5) and r.accuracy.shape == (4, 5)
    assert r.params["0.weight"].shape == (4, 4, 4) and r.params["4.bias"].shape == (
        4,
        3,
    )
    assert r.iterations == 5 * len(y)
    for i, s in enumerate(seeds):
        state, h = _single(make, X, y, s, epochs=5, lr=0.05)
        _assert_member(r, i, state, h)
        net = r.net(i)
        for name, v in net.state_dict().items():
            np.testing.assert_array_equal(v, r.params[name][i])


SETTINGS = [
    {"loss": "cross_entropy", "batch_size": 1, "momentum": 0.0},
    {
        "loss": "mse",
        "batch_size": 4,
        "momentum": 0.9,
        "nesterov": True,
        "weight_decay": 0.01,
    },
    {"loss": "cross_entropy", "batch_size": None, "momentum": 0.5, "dampening": 0.3},
    {"loss": "mse", "batch_size": 5, "weight_decay": 0.1, "shuffle": False},
    {"loss": "cross_entropy", "batch_size": 3, "momentum": 0.8, "weight_decay": 1e-3},
]
ACTS = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", range(len(SETTINGS)))
def test_random_architectures_and_settings(engine, case):
    rng = np.random.default_rng(case)
    X, y = _data(rng, k=3)
    sizes = [3, *rng.integers(1, 6, size=rng.integers(0, 3)).tolist(), 3]
    act = ACTS[case % len(ACTS)]
    out_act = "sigmoid" if case == 3 else None

    def make(s):
        return rp.mlp(sizes, act, output_activation=out_act, seed=s)

    kw = dict(SETTINGS[case], epochs=4, lr=float(rng.uniform(0.01, 0.3)))
    seeds = [3, 11, 12]
    r = rp.train_many(make, X, y, seeds=seeds, engine=engine, **kw)
    for i, s in enumerate(seeds):
        _assert_member(r, i, *_single(make, X, y, s, **kw))


@pytest.mark.parametrize("engine", ENGINES)
def test_diverging_members_are_frozen_and_the_others_continue(engine, iris_split):
    X, y = iris_split.X_train, iris_split.y_train * 1.0

    def make(s):
        # Odd seeds start small and converge; even seeds start 4 times too large
        # and, at this lr, blow up within the first epoch.
        net = rp.mlp([4, 8, 1], "relu", seed=s)
        for p in net.parameters():
            p.data = p.data * (0.3 if s % 2 else 4.0)
        return net

    seeds = list(range(8))
    kw = {"epochs": 3, "lr": 0.1, "loss": "mse", "batch_size": 1}
    r = rp.train_many(make, X, y, seeds=seeds, engine=engine, **kw)
    assert r.diverged.any() and not r.diverged.all()
    for i, s in enumerate(seeds):
        state, h = _single(make, X, y, s, **kw)
        # A diverging run's last finite parameters are ~1e100 or more after steps
        # that multiply them: rounding differences of 1e-16 grow to ~1e-12 there,
        # so those are compared to 1e-9 relative; converging members to 1e-12.
        _assert_member(r, i, state, h, rtol=1e-9 if r.diverged[i] else 0.0)
        assert all(np.isfinite(v[i]).all() for v in r.params.values())


@pytest.mark.parametrize("engine", ENGINES)
def test_validation_and_float32(engine, iris_split):
    s = iris_split

    def make(seed):
        return rp.mlp([4, 4, 3, 3], seed=seed, dtype=np.float32)

    if engine == "fast":
        with pytest.raises(rp.ConfigError, match="float32 is not supported"):
            rp.train_many(
                make,
                s.X_train,
                s.y_train,
                seeds=[5, 6],
                epochs=3,
                lr=0.05,
                engine=engine,
            )
        return
    r = rp.train_many(
        make,
        s.X_train,
        s.y_train,
        seeds=[5, 6],
        epochs=3,
        lr=0.05,
        validation=(s.X_test, s.y_test),
        engine=engine,
    )
    assert r.engine == "numpy"  # "auto" too: the compiled kernels are float64 only
    assert r.params["0.weight"].dtype == np.float32
    for i, seed in enumerate([5, 6]):
        net = make(seed)
        h = rp.train(
            net,
            s.X_train,
            s.y_train,
            epochs=3,
            lr=0.05,
            seed=seed,
            validation=(s.X_test, s.y_test),
            engine="numpy",
        )
        for name, v in net.state_dict().items():
            np.testing.assert_allclose(r.params[name][i], v, rtol=0, atol=1e-5)
        np.testing.assert_allclose(r.val_loss[i], h.val_loss, rtol=1e-5)
        np.testing.assert_allclose(
            r.val_accuracy[i], h.val_accuracy, atol=1 / 30 + 1e-9
        )


def test_validation_at_the_edge(iris_split):
    X, y = iris_split.X_train, iris_split.y_train

    def make(s):
        return rp.mlp([4, 3, 3], seed=s)

    with pytest.raises(rp.ConfigError, match="engine must be one of"):
        rp.train_many(make, X, y, seeds=[1], epochs=1, lr=0.1, engine="gpu")
    with pytest.raises(rp.ConfigError, match="seeds"):
        rp.train_many(make, X, y, seeds=[], epochs=1, lr=0.1)
    with pytest.raises(rp.ConfigError, match="different architecture"):
        rp.train_many(
            lambda s: rp.mlp([4, 3 + s, 3], seed=s),
            X,
            y,
            seeds=[0, 1],
            epochs=1,
            lr=0.1,
        )
    with pytest.raises(rp.ConfigError, match="lr"):
        rp.train_many(make, X, y, seeds=[1], epochs=1, lr=-1.0)
    with pytest.raises(rp.DataError, match="features"):
        rp.train_many(make, X[:, :3], y, seeds=[1], epochs=1, lr=0.1)


@pytest.mark.parametrize("n", [1, 2, 120, 1001])
def test_epoch_orders_are_trains_orders(n):
    from retroprop.engine.init import as_generator
    from retroprop.fast.many import epoch_orders

    seeds = [0, 1, 99]
    got = epoch_orders([as_generator(s) for s in seeds], n, 4, shuffle=True)
    assert got.shape == (3, 4, n) and got.dtype == np.int64
    for i, s in enumerate(seeds):
        rng = as_generator(s)  # what train draws: one permutation per epoch
        np.testing.assert_array_equal(got[i], [rng.permutation(n) for _ in range(4)])
    fixed = epoch_orders([as_generator(0)], n, 2, shuffle=False)
    np.testing.assert_array_equal(fixed[0], [np.arange(n)] * 2)


@pytest.mark.skipif(not numba_available(), reason="needs numba")
def test_branch_free_exp_matches_numpy_to_two_ulp():
    from numba import njit

    from retroprop.fast.kernels import exp

    @njit
    def apply(x):
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            out[i] = exp(x[i])
        return out

    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            rng.uniform(-745, 709, 20000),
            rng.uniform(-1, 1, 20000),
            [0.0, -0.0, 1.0, -1.0, 709.78, -708.0, -740.0],
        ]
    )
    with np.errstate(under="ignore"):
        ref = np.exp(x)
    got = apply(x)
    normal = ref > 1e-300
    assert np.all(np.abs(got[normal] - ref[normal]) <= 2 * np.spacing(ref[normal]))
    assert np.all(np.abs(got[~normal] - ref[~normal]) <= 1e-300)
    special = apply(np.array([np.inf, -np.inf, np.nan, 710.0, 1e6, -1e6]))
    assert special[0] == np.inf and special[1] == 0.0 and np.isnan(special[2])
    assert special[3] == np.inf and special[4] == np.inf and special[5] == 0.0


@pytest.mark.parametrize("lr", [2.0, 5.0])
def test_float32_members_that_overflow_are_frozen_and_flagged(lr):
    # Full-batch MSE on an identity network overflows float32 within a few epochs:
    # every member must be flagged at train's epoch and keep finite parameters.
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 2, 20)

    def make(seed):
        return rp.mlp([3, 4, 2], "identity", seed=seed, dtype=np.float32)

    kw = {"epochs": 20, "lr": lr, "loss": "mse", "batch_size": None}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "overflow encountered in cast"
        r = rp.train_many(make, X, y, seeds=[0, 1, 2], **kw)
    assert r.engine == "numpy"
    for i, seed in enumerate([0, 1, 2]):
        net = make(seed)
        with pytest.raises(rp.DivergenceError) as e, np.errstate(all="ignore"):
            rp.train(net, X, y, seed=seed, engine="numpy", **kw)
        assert r.diverged[i] and r.diverged_at[i] == e.value.epoch
        for name, v in net.state_dict().items():
            assert np.isfinite(r.params[name][i]).all()
            np.testing.assert_array_equal(r.params[name][i], v)
