"""The verdicts and answers the experiment results carry, at the library level.

Each verdict is produced by a case that yields it (a real run where one is cheap, a
result built by hand to pin a threshold), and each is checked against the numbers it
says it rests on, so the command line and ``--json`` only have to render them.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import retroprop as rp
from retroprop.experiments import (
    LineSurface,
    PlaneSurface,
    SurfaceResult,
    SweepResult,
    activation_curves,
    decision_boundary,
    descent_demo,
    gradient_descent,
    lr_sweep,
    parse_function,
    seed_study,
)
from retroprop.experiments.result import Answer
from retroprop.experiments.surface import BARRIER_ABSOLUTE, BARRIER_RELATIVE
from retroprop.experiments.sweep import BOUNCING, TOO_SLOW
from retroprop.recipe import build_network


@pytest.fixture(scope="module")
def iris():
    from retroprop.recipe import prepare_data

    return prepare_data()


# -- learning-rate sweep: converged / too slow / bouncing / diverged ----------------------


def test_one_real_sweep_yields_its_verdicts(iris):
    # A 4-8-3 linear network, seed 1, 20 epochs: eta = 1e-4 barely moves, 0.05
    # settles, 10 overflows. "bouncing" is left to the hand-built curves below: on real
    # data an eta that bounces sits in a chaotic band (at 0.3 a 1e-15 change in the
    # standardised inputs turns the bounce into growth), so no real run bounces stably.
    r = lr_sweep(
        lambda s: build_network(iris, (8,), "identity", seed=s),
        iris.X_train,
        iris.y_train,
        lrs=[1e-4, 0.05, 10.0],
        seeds=[1],
        epochs=20,
    )
    assert r.verdict == ["too slow", "converged", "diverged"]
    # the numbers behind them, recomputed from the curves
    ratio = r.final_loss[:, 0] / r.initial_loss[0]
    np.testing.assert_allclose(r.loss_ratio[:2], ratio[:2], rtol=1e-12)
    assert r.loss_ratio[0] > TOO_SLOW >= r.loss_ratio[1]
    tail = r.loss[1, 0, -2:]  # the last tenth of 20 epochs
    assert r.mean_jitter[1] == pytest.approx(tail.std() / tail.mean(), rel=1e-12)
    assert r.mean_jitter[1] <= BOUNCING
    assert r.n_diverged.tolist() == [0, 0, 1]
    assert r.divergence_kinds == [[], [], ["non-finite"]]
    d = json.loads(r.to_json())
    assert d["verdict"] == r.verdict
    assert d["thresholds"] == {"too_slow": TOO_SLOW, "bouncing": BOUNCING}
    assert d["loss_ratio"][2] is None and d["best_lr"] == 0.05


def _sweep(curves: list[list[float]], initial: float = 1.0, status=None) -> SweepResult:
    """A one-seed sweep whose eta i has the loss curve ``curves[i]``."""
    loss = np.array(curves, dtype=float)[:, None, :]
    status = np.array([[s] for s in (status or ["ok"] * len(curves))])
    return SweepResult(
        lrs=[0.1 * (i + 1) for i in range(len(curves))],
        seeds=[1],
        initial_loss=np.array([initial]),
        loss=loss,
        accuracy=np.zeros_like(loss),
        final_loss=loss[:, :, -1].copy(),
        final_accuracy=np.zeros(loss.shape[:2]),
        status=status,
        diverged=status != "ok",
        settings={},
    )


def test_sweep_thresholds_by_hand():
    # 20 epochs: the tail judged is the last tenth, the last two epochs. The initial
    # loss is 2; every number below is exact in binary.
    flat = [2.0] * 18
    r = _sweep(
        [
            [*flat, 1.0, 1.0],  # ratio 1 / 2 = 0.5, not above it; flat: converged
            [*flat, 1.02, 1.02],  # ratio 0.51 > 0.5: too slow
            [*flat, 0.25, 0.75],  # std 0.25 / mean 0.5 = 0.5, not above: converged
            [*flat, 0.25, 0.76],  # 0.255 / 0.505 > 0.5: bouncing
            [*flat, 0.25, 0.75],  # the same curve, but the run grew: diverged
        ],
        initial=2.0,
        status=["ok", "ok", "ok", "ok", "growing"],
    )
    assert r.loss_ratio[0] == TOO_SLOW and r.mean_jitter[2] == BOUNCING
    assert r.verdict == ["converged", "too slow", "converged", "bouncing", "diverged"]
    assert r.divergence_kinds[4] == ["growing"]


# -- seeds: the lecture's two questions ---------------------------------------------------


def test_seed_answers_when_the_runs_differ(iris):
    r = seed_study(
        lambda s: build_network(iris, seed=s),
        iris.X_train,
        iris.y_train,
        seeds=[1, 2, 3, 4],
        epochs=5,
    )
    assert r.n_minima > 1  # five epochs from four starts: four places
    same = r.same_minimum
    assert isinstance(same, Answer) and same.answer == "no"
    assert f"{r.n_minima} distinct minima among 4 runs" in same.because
    assert same.numbers["distinct_minima"] == r.n_minima
    assert same.numbers["closest_aligned"] == r.closest_aligned
    glob = r.global_minimum
    assert glob.answer == "not guaranteed"
    assert f"{r.n_worse} of 4 runs ended clearly worse" in glob.because
    assert glob.numbers == {
        "compared": 4,
        "clearly_worse": r.n_worse,
        "best_loss": r.best_loss,
        "worse_by": r.worse_by,
    }
    # the spread the command prints: min, median, max over the runs
    loss = np.sort(r.final_loss)
    assert r.spread["final_loss"] == pytest.approx(
        [loss[0], (loss[1] + loss[2]) / 2, loss[3]], rel=1e-15
    )
    assert r.spread["aligned_distance"][0] == pytest.approx(
        np.min(r.aligned_distance[np.triu_indices(4, 1)])
    )
    assert "test_accuracy" not in r.spread  # none measured
    d = json.loads(r.to_json())
    assert d["spread"] == r.spread
    assert d["answers"]["same_minimum"]["answer"] == "no"
    assert d["answers"]["global_minimum"]["answer"] == "not guaranteed"
    assert d["answers"]["global_minimum"]["question"] == (
        "Is a global minimum guaranteed?"
    )


def test_seed_answers_for_one_minimum_reached_twice(iris, monkeypatch):
    """Two 'runs' that are one network up to a permutation of its hidden neurons."""
    from retroprop.experiments.align import permute_hidden
    from retroprop.fast.many import ManyResult

    net = build_network(iris, seed=1)
    rp.train(net, iris.X_train, iris.y_train, epochs=10, lr=0.05, seed=1)
    sd = net.state_dict()
    layers = [("0.weight", "0.bias"), ("2.weight", "2.bias"), ("4.weight", "4.bias")]
    twin = permute_hidden(sd, layers, 0, np.array([2, 0, 3, 1]))

    def fake_train_many(make_net, X, y, *, seeds, epochs, lr, **kw):
        loss, acc = rp.evaluate(net, X, y)
        return ManyResult(
            params={k: np.stack([sd[k], twin[k]]) for k in sd},
            loss=np.full((2, 1), loss),
            accuracy=np.full((2, 1), acc),
            diverged=np.zeros(2, bool),
            diverged_at=np.full(2, -1),
            seeds=np.array(seeds),
            iterations=0,
            engine="numpy",
            _template=copy.deepcopy(net),
        )

    monkeypatch.setattr(rp, "train_many", fake_train_many)
    r = seed_study(
        lambda s: build_network(iris, seed=s),
        iris.X_train,
        iris.y_train,
        seeds=[1, 2],
        epochs=1,
    )
    assert r.same_minimum.answer == "yes"
    assert "1 distinct minimum among 2 runs" in r.same_minimum.because
    # even when every run agrees, a global minimum is not shown: never "yes"
    assert r.global_minimum.answer == "not guaranteed"
    assert r.global_minimum.because.startswith("0 of 2 runs ended clearly worse")


def test_seed_answers_when_every_run_diverged(iris):
    r = seed_study(
        lambda s: build_network(iris, (8,), "relu", seed=s),
        iris.X_train,
        iris.y_train,
        seeds=[1, 2, 3],
        epochs=3,
        lr=1e8,
    )
    assert r.same_minimum.answer == "cannot tell"
    assert "3 of 3 runs diverged" in r.same_minimum.because
    assert r.spread == {}
    assert r.global_minimum.answer == "cannot tell"
    json.loads(r.to_json())


# -- surface: a barrier between the two? --------------------------------------------------


def _surface(line_loss: list[float], final=(0.2, 0.3)) -> SurfaceResult:
    alpha = np.linspace(0, 1, len(line_loss))
    line = LineSurface(alpha, np.array(line_loss), np.zeros(len(line_loss)))
    flat = PlaneSurface(np.zeros(2), np.zeros(2), np.zeros((2, 2)), np.zeros((2, 2)), 0)
    return SurfaceResult(
        seeds=(1, 2), final_loss=final, line=line, aligned_line=line, plane=flat
    )


def test_surface_barrier_answer_by_hand():
    # final losses 0.2 and 0.3: a barrier counts above 0.1 * 0.3 + 0.001 = 0.031
    limit = BARRIER_RELATIVE * 0.3 + BARRIER_ABSOLUTE
    bump = _surface([0.2, 0.3, 0.3])  # chord at the middle 0.25: rises 0.05
    assert bump.barrier_threshold == pytest.approx(limit)
    assert bump.aligned_line.barrier == pytest.approx(0.05)
    assert bump.has_barrier and bump.same_valley.answer == "no"
    assert "a barrier separates them" in bump.same_valley.because
    low = _surface([0.2, 0.27, 0.3])  # rises 0.02, under the 0.031
    assert not low.has_barrier and low.same_valley.answer == "yes"
    assert "no barrier" in low.same_valley.because
    d = json.loads(bump.to_json())
    assert d["has_barrier"] is True
    assert d["same_valley"]["numbers"]["threshold"] == pytest.approx(limit)


def test_surface_of_one_network_with_itself_has_no_barrier(iris):
    from retroprop.experiments import loss_surface

    r = loss_surface(
        lambda s: build_network(iris, seed=s),
        iris.X_train,
        iris.y_train,
        seeds=(1, 1),
        epochs=2,
        n_points=5,
        resolution=3,
    )
    assert r.line.barrier == pytest.approx(0.0, abs=1e-12)
    assert r.same_valley.answer == "yes"


# -- descent: each run's outcome ------------------------------------------------------------


def test_descent_outcomes_on_the_default_curve():
    d = descent_demo()
    runs = {(r.lr, r.x0): r for r in d.runs}
    good, local = runs[(0.05, -2.0)], runs[(0.05, 2.0)]
    assert good.ended_in == "global minimum"
    assert good.outcome.startswith("converged to the global minimum")
    assert local.ended_in == "local minimum"
    assert "LOCAL minimum" in local.outcome and "not the global" in local.outcome
    slow = runs[(0.001, -2.0)]
    assert slow.ended_in is None and slow.outcome.startswith("not converged")
    big = runs[(0.2, -2.0)]
    assert big.outcome.startswith(big.status)  # oscillating or diverged
    start = gradient_descent(parse_function("log(x)"), -2.0, 0.1, 10)
    assert start.outcome == "diverged at the start (f undefined at w0)"
    ran = gradient_descent(parse_function("x**4"), 3.0, 1.0, 10)
    assert ran.status == "diverged" and ran.outcome.startswith("diverged after")
    loaded = json.loads(d.to_json())
    assert [r["outcome"] for r in loaded["runs"]] == [r.outcome for r in d.runs]
    assert [r["ended_in"] for r in loaded["runs"]] == [r.ended_in for r in d.runs]


# -- boundary and activations ----------------------------------------------------------------


def test_boundary_class_share_and_points(iris):
    net = build_network(iris, seed=1)
    rp.train(net, iris.X_train, iris.y_train, epochs=5, lr=0.05, seed=1)
    b = decision_boundary(net, iris.X_train, iris.y_train, resolution=20)
    for c in range(3):
        assert b.class_share[c] == np.mean(b.predictions == c)
        assert b.class_points[c] == np.sum(iris.y_train == c)
    d = b.to_dict()
    assert d["class_share"] == b.class_share.tolist()
    assert d["accuracy"] == b.accuracy and d["slice_accuracy"] == b.slice_accuracy


def test_activation_summary():
    c = activation_curves(("sigmoid", "step"), (-10, 10), 1001)
    sig, step = c.summary
    # sigmoid(0) = 1/2, sigmoid'(0) = a (1 - a) = 1/4, its largest value
    assert sig["f_zero"] == pytest.approx(0.5) and sig["max_derivative"] == 0.25
    assert sig["trainable"] and sig["jumps"] == []
    assert not step["trainable"] and step["jumps"] == [0.0]
    assert step["f_low"] == 0.0 and step["f_high"] == 1.0
    off = activation_curves(("sigmoid",), (1, 2), 11).summary[0]
    assert np.isnan(off["f_zero"])
    assert c.to_dict()["summary"][1]["trainable"] is False
