"""One definition of divergence (issue 15, finding 4), shared by every training path.

``retroprop.training.divergence`` decides; ``train`` raises ``DivergenceError`` for it,
``train_many`` flags the same members, ``sweep lr`` reports the kinds, and the CLI exits
1 saving nothing. The message names the eta the caller gave (never a float32 copy), in
scientific notation when huge, and blames the data when it overflows before any update.
"""

from __future__ import annotations

import math
import os
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest

import retroprop as rp
from retroprop.engine.losses import LOSSES
from retroprop.recipe import build_network, prepare_data
from retroprop.training.divergence import (
    GROWTH,
    chance_loss,
    judge,
    num,
    output_spread,
    outputs_collapsed,
)


@pytest.fixture(scope="module")
def iris():
    return prepare_data()


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    env.pop("RETROPROP_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "retroprop", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


# -- the definition, by hand ----------------------------------------------------------


def test_chance_loss_is_the_entropy_of_the_class_prior():
    # y = 0, 0, 1, 2: q = (1/2, 1/4, 1/4); H = -(1/2 ln 1/2 + 2 * 1/4 ln 1/4)
    #   = 0.5 ln 2 + 0.5 ln 4 = 1.5 ln 2 = 1.0397...
    y = np.array([0, 0, 1, 2])
    assert chance_loss(y, 3, "cross_entropy") == pytest.approx(1.5 * math.log(2))
    # the same number from the loss itself, on constant logits ln q
    logits = np.tile(np.log([0.5, 0.25, 0.25]), (4, 1))
    assert chance_loss(y, 3, "cross_entropy") == pytest.approx(
        LOSSES["cross_entropy"]()(logits, y), rel=1e-12
    )
    # balanced classes: ln k
    assert chance_loss(np.arange(6) % 3, 3, "cross_entropy") == pytest.approx(
        math.log(3)
    )


def test_chance_loss_for_mse_is_the_loss_of_predicting_the_mean():
    t = np.array([1.0, 2.0, 6.0])  # mean 3: ((-2)^2 + (-1)^2 + 3^2) / 3 = 14 / 3
    assert chance_loss(t, 1, "mse") == pytest.approx(14 / 3)
    y = np.array([0, 0, 1, 2])  # one-hot rows against the class frequencies
    onehot = np.eye(3)[y]
    mean = np.tile(onehot.mean(axis=0), (4, 1))
    assert chance_loss(y, 3, "mse") == pytest.approx(
        LOSSES["mse"]()(mean, onehot), rel=1e-12
    )


@pytest.mark.parametrize(
    ("initial", "final", "chance", "spread", "kind"),
    [
        (1.1, float("nan"), 1.0986, 1.0, "non-finite"),
        (1.1, float("inf"), 1.0986, 1.0, "non-finite"),
        (1.1, 1.1 * GROWTH + 0.01, 1.0986, 1.0, "growing"),  # 10x and above chance
        (1.1, 6.6, 1.0986, 1e-5, "growing"),  # 6x its start, outputs saturated
        (1.1, 6.6, 1.0986, 1.0, None),  # worse, but < 10x and still looking
        (0.69, 0.70, 0.6919, 1e-5, None),  # no signal: flat outputs near chance
        (0.05, 0.6, 1.0986, 1.0, None),  # 12x its start, yet below chance
        (1.2, 1.0986, 1.0986, 0.0, "dead"),  # the same output for every sample
        (1.2, 0.3, 0.0, 0.0, None),  # one class: a constant output is right
        (1.1, 0.4, 1.0986, 1.0, None),  # a good run
    ],
)
def test_judge(initial, final, chance, spread, kind):
    assert judge(initial, final, chance, spread) == kind


def test_constant_inputs_make_constant_outputs_right():
    X = np.ones((4, 2))
    out = np.tile([[2.0, -1.0]], (4, 1))
    assert output_spread(out, X, np.array([0, 1, 0, 1]), "cross_entropy") == math.inf


def test_outputs_collapsed():
    y = np.array([0, 1, 2, 0])
    same = np.tile([[2.0, -1.0, 0.5]], (4, 1))
    assert outputs_collapsed(same, y, "cross_entropy")
    assert outputs_collapsed(same + 1e-6, y, "cross_entropy")
    varied = same.copy()
    varied[0, 0] += 0.1
    assert not outputs_collapsed(varied, y, "cross_entropy")


def test_numbers_print_short():
    assert num(1.4223112358103269e300) == "1.42231e+300"
    assert num(0.05) == "0.05" and num(1e-300) == "1e-300" and num(10000) == "10000"


# -- train raises it, train_many and sweep flag the same runs ---------------------------


def test_train_raises_for_a_loss_that_grew_far_above_its_start(iris):
    net = build_network(iris, seed=1)
    with pytest.raises(rp.DivergenceError) as e:
        rp.train(net, iris.X_train, iris.y_train, epochs=20, lr=50.0, seed=1)
    msg = str(e.value)
    assert "with lr=50:" in msg and "times where it started" in msg
    assert "above chance (1.09861" in msg  # Iris's three balanced classes: ln 3
    assert "smaller learning rate" in msg and "\n" not in msg
    assert e.value.epoch == 20 and e.value.lr == 50.0
    assert len(e.value.history.loss) == 20  # the curves are kept on the error
    # a worker process can send it back: everything survives pickling
    back = pickle.loads(pickle.dumps(e.value))
    assert (back.epoch, back.iteration, back.lr, str(back)) == (
        20,
        e.value.iteration,
        50.0,
        msg,
    )


def test_a_dead_relu_network_is_reported(iris):
    # Every hidden ReLU starts dead (bias -100): no gradient reaches the first layer,
    # the outputs are one constant vector and the loss can only fall to chance.
    net = build_network(iris, (8,), "relu", seed=0)
    net[0].bias.data[:] = -100.0
    with pytest.raises(rp.DivergenceError) as e:
        rp.train(net, iris.X_train, iris.y_train, epochs=5, lr=0.05, seed=0)
    assert "no longer depend on its input" in str(e.value)


def test_a_good_run_is_not_flagged(iris):
    net = build_network(iris, seed=1)
    h = rp.train(net, iris.X_train, iris.y_train, epochs=20, lr=0.05, seed=1)
    assert h.loss[-1] < chance_loss(iris.y_train, 3, "cross_entropy")


def _raises(iris, seed: int, lr: float) -> bool:
    try:
        rp.train(
            build_network(iris, seed=seed),
            iris.X_train,
            iris.y_train,
            epochs=10,
            lr=lr,
            seed=seed,
        )
    except rp.DivergenceError:
        return True
    return False


@pytest.mark.parametrize("engine", ["numpy", "auto"])
def test_train_many_flags_exactly_the_runs_train_raises_for(iris, engine):
    seeds = [1, 2, 3]
    for lr in (0.05, 10.0):
        many = rp.train_many(
            lambda s: build_network(iris, seed=s),
            iris.X_train,
            iris.y_train,
            seeds=seeds,
            epochs=10,
            lr=lr,
            engine=engine,
        )
        expected = [_raises(iris, s, lr) for s in seeds]
        assert many.diverged.tolist() == expected, lr
        assert all(k in ("", "growing") for k in many.divergence)
    assert any(expected)  # eta = 10 does diverge


def test_sweep_and_train_agree_at_eta_50(iris):
    from retroprop.experiments import lr_sweep

    r = lr_sweep(
        lambda s: build_network(iris, seed=s),
        iris.X_train,
        iris.y_train,
        lrs=[50.0],
        seeds=[1],
        epochs=10,
    )
    assert r.verdict == ["diverged"] and r.status[0, 0] == "growing"
    assert _raises(iris, 1, 50.0)


# -- the eta given, advice that fits the cause ------------------------------------------


def test_float32_fast_path_names_the_eta_given(iris):
    lr = 0.123456789  # float32(lr) = 0.12345679104328156
    net = rp.mlp([4, 16, 3], "identity", seed=0, dtype=np.float32)
    with pytest.raises(rp.DivergenceError) as e:
        rp.train(net, iris.X_train * 1e18, iris.y_train, epochs=3, lr=lr, seed=0)
    assert e.value.lr == lr  # the caller's eta, not the runner's float32 copy
    assert "with lr=0.123457:" in str(e.value)


def test_an_eta_beyond_float32_is_refused_not_reported_as_inf(iris):
    net = rp.mlp([4, 16, 3], "identity", seed=0, dtype=np.float32)
    with pytest.raises(rp.ConfigError, match=r"lr=1e\+39 does not fit in the netw"):
        rp.train(net, iris.X_train, iris.y_train, epochs=1, lr=1e39)


def test_mse_targets_that_overflow_blame_the_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = rng.normal(size=40) * 1e154  # (out - t)^2 overflows before any update
    net = rp.mlp([3, 4, 1], "tanh", seed=0)
    with pytest.raises(rp.DivergenceError) as e:
        rp.train(net, X, y, epochs=2, lr=0.01, loss="mse")
    msg = str(e.value)
    assert "the targets reach" in msg and "e+15" in msg
    assert "learning rate is not the cause" in msg and "e.g. lr=" not in msg


def test_inputs_that_overflow_a_relu_network_blame_the_column():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    X[:, 2] *= 1e300
    y = rng.integers(0, 2, size=40)
    net = rp.mlp([3, 8, 2], "relu", seed=0)
    with pytest.raises(rp.DivergenceError) as e:
        rp.train(net, X, y, epochs=2, lr=0.01)
    msg = str(e.value)  # finite at the start (loss ~1e300), NaN after some updates:
    assert "The data overflow the network (column 2 of X reaches" in msg
    assert msg.index("column 2") < msg.index("smaller learning rate")  # data first


def test_backprop_regressor_blames_the_data():
    from retroprop.sklearn import BackpropRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = rng.normal(size=40) * 1e154
    with pytest.raises(rp.DivergenceError) as e:
        BackpropRegressor(hidden_layer_sizes=(4,), max_iter=3).fit(X, y)
    assert "the targets reach" in str(e.value)


# -- the command line ---------------------------------------------------------------------


@pytest.mark.parametrize("lr", ["10000", "50", "1e300"])
def test_cli_train_that_diverges_exits_1_and_keeps_the_old_model(tmp_path, lr):
    old = tmp_path / "m.retroprop"
    old.write_bytes(b"the user's old model")
    r = run("train", "--lr", lr, "--epochs", "30", "--save", old, "-q")
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "training diverged" in lines[0]
    assert f"lr={float(lr):g}" in lines[0]
    assert not re.search(r"\d{12}", r.stderr)  # no 300-digit loss
    assert old.read_bytes() == b"the user's old model"


def test_cli_dead_relu_at_a_huge_eta_exits_1():
    r = run("train", "--lr", "1e4", "--activation", "relu", "--epochs", "30", "-q")
    assert r.returncode == 1 and "training diverged" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
