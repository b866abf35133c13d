"""The numbers behind the lecture's pictures: activations, descent, alignment, sweep,
seeds, surface and decision regions.

Each test checks a number against a reference: the engine itself, central finite
differences, or a network built by hand (a permuted copy of a trained one).
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import retroprop as rp
from retroprop.experiments import (
    activation_curves,
    align,
    decision_boundary,
    descent_demo,
    distance,
    filter_normalised_directions,
    gradient_descent,
    interpolate,
    linear_names,
    loss_surface,
    lr_sweep,
    pairwise_distances,
    parse_function,
    plane,
    seed_study,
)
from retroprop.experiments.align import flip_hidden, permute_hidden
from retroprop.experiments.seeds import group_minima
from retroprop.recipe import build_network


@pytest.fixture(scope="module")
def iris():
    from retroprop.recipe import prepare_data

    return prepare_data()


@pytest.fixture(scope="module")
def trained(iris):
    """The lecture's network trained for 30 epochs (seed 1)."""
    net = build_network(iris, seed=1)
    rp.train(net, iris.X_train, iris.y_train, epochs=30, lr=0.05, seed=1)
    return net


# -- activations -------------------------------------------------------------------------


def test_step_derivative_is_zero_and_its_jump_is_marked():
    r = activation_curves(("sigmoid", "step"), (-10, 10), 201)
    assert np.all(r.derivatives["step"] == 0.0)
    assert r.jumps == {"step": [0.0]}
    assert np.array_equal(r.values["step"], (r.x >= 0).astype(float))


def test_activation_derivatives_match_central_differences():
    r = activation_curves(("sigmoid", "tanh"), (-10, 10), 2001)
    h = r.x[1] - r.x[0]
    for name in ("sigmoid", "tanh"):
        fd = (r.values[name][2:] - r.values[name][:-2]) / (2 * h)
        np.testing.assert_allclose(r.derivatives[name][1:-1], fd, atol=1e-4)
    # sigmoid'(0) = sigmoid(0) (1 - sigmoid(0)) = 0.5 * 0.5
    assert r.derivatives["sigmoid"][1000] == pytest.approx(0.25)


def test_activation_curves_validate_at_the_edge():
    with pytest.raises(rp.ConfigError, match="softsign"):
        activation_curves(("softsign",))
    with pytest.raises(rp.ConfigError, match="low < high"):
        activation_curves(x_range=(3, 1))


# -- the safe expression parser ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "__import__('os').system('true')",
        "x.real",
        "(1).__class__",
        "open('f')",
        "eval('1')",
        "exec('x')",
        "globals()",
        "lambda: 1",
        "[x for x in ()]",
        "y + 1",
        "'a' * 3",
        "x if x else 1",
        "sin(x=1)",
        "np.sin(x)",
        "x; 1",
        "x == 1",
        "f'{x}'",
        "sin(*x)",
        "True + x",
        "1j * x",
        "-x^2 + 2",  # Python's ^ is xor, and binds looser than +: refused, not guessed
    ],
)
def test_parser_rejects_everything_but_arithmetic(text):
    with pytest.raises(rp.ConfigError):
        parse_function(text)


def test_parser_rejects_too_long_input():
    with pytest.raises(rp.ConfigError, match="characters"):
        parse_function("x+" * 400 + "x")


@pytest.mark.parametrize(
    ("text", "f"),
    [
        ("x**4 - 3*x**2 + x", lambda x: x**4 - 3 * x**2 + x),
        ("-x**2 + 2", lambda x: -(x**2) + 2),
        ("sin(x) * exp(-x/3)", lambda x: np.sin(x) * np.exp(-x / 3)),
        ("log(1 + x**2) / (2 + cos(x))", lambda x: np.log(1 + x**2) / (2 + np.cos(x))),
        (
            "tanh(2*x) + sqrt(x**2 + 1) - abs(x - 0.3)",
            lambda x: np.tanh(2 * x) + np.sqrt(x**2 + 1) - np.abs(x - 0.3),
        ),
        ("sigmoid(x) * pi + e", lambda x: np.pi / (1 + np.exp(-x)) + np.e),
        ("(x**2 + 1) ** (x / 4)", lambda x: (x**2 + 1) ** (x / 4)),
        ("tan(x / 2)", lambda x: np.tan(x / 2)),
    ],
)
def test_parser_values_and_exact_derivatives(text, f):
    expr = parse_function(text)
    x = np.linspace(-2.0, 2.0, 41) + 0.0123  # avoid the kink of abs at 0.3
    np.testing.assert_allclose(expr(x), f(x), rtol=1e-12, atol=1e-12)
    h = 1e-6
    central = (f(x + h) - f(x - h)) / (2 * h)
    np.testing.assert_allclose(expr.derivative(x), central, rtol=1e-6, atol=1e-7)


def test_parser_derivative_by_hand():
    # f = x**4 - 3x**2 + x, f'(x) = 4x^3 - 6x + 1: f'(2) = 32 - 12 + 1 = 21
    assert parse_function("x**4 - 3*x**2 + x").derivative(2.0) == 21.0


# -- gradient descent on a curve ----------------------------------------------------------


def test_descent_demo_shows_each_case_on_the_default_curve():
    d = descent_demo()
    # f'(x) = 4x^3 - 6x + 1 has minima near -1.30 (global) and 1.13 (local)
    np.testing.assert_allclose(d.minima, [-1.3008396, 1.1309011], atol=1e-6)
    assert d.global_minimum == 0
    runs = {(r.lr, r.x0): r for r in d.runs}
    slow = runs[(0.001, -2.0)]
    assert slow.status == "not converged"
    assert abs(slow.final_x - d.minima[0]) > 0.1  # still crawling after 40 steps
    good = runs[(0.05, -2.0)]
    assert good.status == "converged" and good.reached_global
    assert good.final_x == pytest.approx(d.minima[0], abs=1e-4)
    local = runs[(0.05, 2.0)]
    assert local.status == "converged" and local.minimum == 1
    assert not local.reached_global
    assert local.final_x == pytest.approx(d.minima[1], abs=1e-4)
    assert runs[(0.2, -2.0)].status in ("oscillating", "diverged")
    assert runs[(0.2, 2.0)].status in ("oscillating", "diverged")


def test_a_run_undefined_at_its_start_is_empty_and_diverged():
    run = gradient_descent(parse_function("log(x)"), -2.0, 0.1, 10)
    assert run.status == "diverged" and run.diverged_at_start
    assert len(run.x) == 0 and np.isnan(run.final_x) and np.isnan(run.final_f)
    ok = gradient_descent(parse_function("log(x)"), 2.0, 0.1, 3)
    assert not ok.diverged_at_start and ok.final_x == ok.x[-1]


def test_an_overflowing_power_of_numbers_is_a_config_error():
    with pytest.raises(rp.ConfigError, match="overflows"):
        parse_function("9**9**9**9")(1.0)
    with pytest.raises(rp.ConfigError, match="overflows"):
        descent_demo("x + 9**9**9**9")


@pytest.mark.parametrize(
    ("text", "minima"),
    [
        ("log(x)", []),  # f' turns from - to + across the pole at 0: not a minimum
        ("-1/x**2", []),  # the same, with f finite on the grid on both sides
        # f' = 2(x - 1) + 1/(x + 2) = 0: x = (sqrt(7) - 1) / 2; the pole at -2 is left out
        ("(x - 1)**2 + log(x + 2)", [(7**0.5 - 1) / 2]),
    ],
)
def test_local_minima_skip_poles(text, minima):
    from retroprop.experiments.descent import local_minima

    found = local_minima(parse_function(text), (-2.2, 2.2))
    np.testing.assert_allclose(found, minima, atol=1e-9)


def test_gradient_descent_is_the_lecture_update():
    f = parse_function("(x - 3)**2")
    run = gradient_descent(f, 0.0, 0.1, 3)
    # x1 = 0 - 0.1 * 2(0 - 3) = 0.6; x2 = 0.6 - 0.1 * 2(0.6 - 3) = 1.08; x3 = 1.464
    np.testing.assert_allclose(run.x, [0.0, 0.6, 1.08, 1.464])
    assert run.status == "not converged"
    assert gradient_descent(f, 0.0, 1.5, 200).status == "diverged"
    # eta = 1: x jumps between 0 and 6 forever
    assert gradient_descent(f, 0.0, 1.0, 20).status == "oscillating"


# -- alignment of hidden neurons -----------------------------------------------------------


def _permuted_copy(net, rng):
    """The same function with every hidden layer's neurons shuffled."""
    params = net.state_dict()
    layers = linear_names(net)
    for layer in range(len(layers) - 1):
        n = params[layers[layer][0]].shape[0]
        perm = rng.permutation(n)
        while np.array_equal(perm, np.arange(n)):
            perm = rng.permutation(n)
        params = permute_hidden(params, layers, layer, perm)
    return params


def test_permuted_network_has_aligned_distance_zero(iris, trained):
    params = _permuted_copy(trained, np.random.default_rng(0))
    other = copy.deepcopy(trained)
    other.load_state_dict(params)
    # the same function ...
    np.testing.assert_allclose(other(iris.X_train), trained(iris.X_train), atol=1e-12)
    a = trained.state_dict()
    # ... far apart as parameter vectors, at distance 0 once aligned
    assert distance(a, params) > 1.0
    layers = linear_names(trained)
    assert distance(a, align(a, params, layers)) == pytest.approx(0.0, abs=1e-12)
    d = pairwise_distances([a, params], layers)
    assert d[0, 1] == pytest.approx(0.0, abs=1e-12)
    assert pairwise_distances([a, params])[0, 1] == pytest.approx(distance(a, params))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_sign_flipped_neuron_is_the_same_function(iris, activation):
    net = build_network(iris, (5, 4), activation, seed=3)
    layers = linear_names(net)
    params = net.state_dict()
    flip = np.array([True, False, True, False, False])
    flipped = flip_hidden(params, layers, 0, flip, activation)
    other = copy.deepcopy(net)
    other.load_state_dict(flipped)
    np.testing.assert_allclose(other(iris.X_train), net(iris.X_train), atol=1e-12)
    assert distance(params, flipped) > 0.5
    assert distance(
        params, align(params, flipped, layers, activation)
    ) == pytest.approx(0.0, abs=1e-12)


def test_alignment_keeps_the_function(iris, trained):
    other = build_network(iris, seed=7)
    rp.train(other, iris.X_train, iris.y_train, epochs=5, lr=0.05, seed=7)
    a, b = trained.state_dict(), other.state_dict()
    aligned = align(a, b, linear_names(trained), "sigmoid")
    moved = copy.deepcopy(other)
    moved.load_state_dict(aligned)
    np.testing.assert_allclose(moved(iris.X_train), other(iris.X_train), atol=1e-12)
    assert distance(a, aligned) <= distance(a, b)
    # the refinement on incoming + outgoing weights never moves away
    first_pass = align(a, b, linear_names(trained), "sigmoid", refine=0)
    assert distance(a, aligned) <= distance(a, first_pass)


def test_group_minima_links_runs_within_the_tolerance():
    # runs 0-1 and 1-2 within 10 % of their norm (10), 3 far from all, 4 diverged
    d = np.full((5, 5), 50.0)
    np.fill_diagonal(d, 0.0)
    d[0, 1] = d[1, 0] = 0.5
    d[1, 2] = d[2, 1] = 0.9
    labels = group_minima(d, np.full(5, 10.0), 0.1, np.array([1, 1, 1, 1, 0], bool))
    assert labels.tolist() == [0, 0, 0, 1, -1]


# -- learning-rate sweep -------------------------------------------------------------------


def test_sweep_flags_a_diverging_eta_without_crashing(iris):
    def make_net(s):
        return build_network(iris, (8,), "relu", seed=s)

    r = lr_sweep(
        make_net, iris.X_train, iris.y_train, lrs=[0.05, 1e8], seeds=[1, 2], epochs=3
    )
    assert r.status.tolist() == [["ok", "ok"], ["non-finite", "non-finite"]]
    assert r.diverged.tolist() == [[False, False], [True, True]]
    assert np.isnan(r.final_loss[1]).all()
    # the good eta's curves are each seed's own rp.train
    net = make_net(2)
    h = rp.train(net, iris.X_train, iris.y_train, epochs=3, lr=0.05, seed=2)
    np.testing.assert_allclose(r.loss[0, 1], h.loss, rtol=1e-10)
    assert r.best_lr() == 0.05
    json.loads(r.to_json())  # NaN became null: standard JSON


def test_sweep_flags_a_growing_loss(iris):
    def make_net(s):
        return build_network(iris, seed=s)

    r = lr_sweep(
        make_net, iris.X_train, iris.y_train, lrs=[0.05, 10.0], seeds=[1], epochs=20
    )
    assert r.status[1, 0] == "growing"  # eta = 10: L ends far above where it began
    # jitter: std / mean over the last tenth (2 epochs): |a - b| / 2 / ((a + b) / 2)
    a, b = r.loss[0, 0, -2:]
    assert r.jitter[0, 0] == pytest.approx(abs(a - b) / (a + b))
    assert r.final_loss[1, 0] > r.initial_loss[0]
    assert r.status[0, 0] == "ok"
    assert r.initial_loss[0] == pytest.approx(
        rp.evaluate(make_net(1), iris.X_train, iris.y_train)[0]
    )


# -- seeds ---------------------------------------------------------------------------------


def test_seed_study_numbers_agree_with_each_run(iris):
    def make_net(s):
        return build_network(iris, seed=s)

    r = seed_study(
        make_net,
        iris.X_train,
        iris.y_train,
        seeds=[1, 2, 3, 4],
        epochs=5,
        test=(iris.X_test, iris.y_test),
    )
    net = make_net(3)
    h = rp.train(net, iris.X_train, iris.y_train, epochs=5, lr=0.05, seed=3)
    assert r.final_loss[2] == pytest.approx(h.loss[-1], rel=1e-9)
    assert r.test_accuracy[2] == pytest.approx(
        rp.evaluate(net, iris.X_test, iris.y_test)[1]
    )
    assert r.raw_distance[0, 2] == pytest.approx(
        distance(_trained(make_net, iris, 1), net.state_dict()), rel=1e-9
    )
    assert np.all(r.aligned_distance <= r.raw_distance + 1e-12)
    assert r.n_minima == len(r.minima) == len(set(r.minimum.tolist()))
    assert sum(m["runs"] for m in r.minima) == 4
    assert r.n_worse == int(np.sum(r.final_loss > r.best_loss + r.worse_by))
    rows = r.csv_rows()
    assert rows[0][0] == "seed" and len(rows) == 5


def test_seed_study_leaves_diverged_runs_out(iris, tmp_path):
    from retroprop import plots

    def make_net(s):
        return build_network(iris, (8,), "relu", seed=s)

    r = seed_study(
        make_net, iris.X_train, iris.y_train, seeds=[1, 2, 3], epochs=3, lr=1e8
    )
    assert r.diverged.all()
    assert r.n_minima == 0 and r.n_worse == 0 and (r.minimum == -1).all()
    assert np.isnan(r.aligned_distance).all() and np.isnan(r.final_loss).all()
    json.loads(r.to_json())
    plots.plot_seeds(r, tmp_path / "s.png")  # draws, does not crash


def _trained(make_net, iris, s):
    net = make_net(s)
    rp.train(net, iris.X_train, iris.y_train, epochs=5, lr=0.05, seed=s)
    return net.state_dict()


def test_seed_study_counts_a_permuted_twin_as_one_minimum(iris, trained, monkeypatch):
    """Two 'runs' that are the same network up to a permutation: one minimum."""
    twin = _permuted_copy(trained, np.random.default_rng(1))

    def fake_train_many(make_net, X, y, *, seeds, epochs, lr, **kw):
        from retroprop.fast.many import ManyResult

        params = {k: np.stack([trained.state_dict()[k], twin[k]]) for k in twin}
        loss, acc = rp.evaluate(trained, X, y)
        return ManyResult(
            params=params,
            loss=np.full((2, 1), loss),
            accuracy=np.full((2, 1), acc),
            diverged=np.zeros(2, bool),
            diverged_at=np.full(2, -1),
            seeds=np.array(seeds),
            iterations=0,
            engine="numpy",
            _template=copy.deepcopy(trained),
        )

    monkeypatch.setattr(rp, "train_many", fake_train_many)
    r = seed_study(
        lambda s: build_network(iris, seed=s),
        iris.X_train,
        iris.y_train,
        seeds=[1, 2],
        epochs=1,
    )
    assert r.raw_distance[0, 1] > 1.0
    assert r.aligned_distance[0, 1] == pytest.approx(0.0, abs=1e-12)
    assert r.n_minima == 1 and r.n_worse == 0


# -- loss surface --------------------------------------------------------------------------


def test_line_ends_are_the_two_solutions_losses(iris, trained):
    other = build_network(iris, seed=2)
    rp.train(other, iris.X_train, iris.y_train, epochs=30, lr=0.05, seed=2)
    line = interpolate(
        trained,
        trained.state_dict(),
        other.state_dict(),
        iris.X_train,
        iris.y_train,
        n_points=11,
    )
    assert line.loss[0] == pytest.approx(
        rp.evaluate(trained, iris.X_train, iris.y_train)[0], rel=1e-12
    )
    assert line.loss[-1] == pytest.approx(
        rp.evaluate(other, iris.X_train, iris.y_train)[0], rel=1e-12
    )
    # alpha = 0.5 is the average of the two parameter sets
    mid = copy.deepcopy(trained)
    mid.load_state_dict(
        {k: 0.5 * (v + other.state_dict()[k]) for k, v in trained.state_dict().items()}
    )
    assert line.loss[5] == pytest.approx(
        rp.evaluate(mid, iris.X_train, iris.y_train)[0], rel=1e-12
    )
    chord = (1 - line.alpha) * line.loss[0] + line.alpha * line.loss[-1]
    assert line.barrier == pytest.approx(max(0.0, np.max(line.loss - chord)))


def test_filter_normalised_rows_have_the_weights_norms(trained):
    d = filter_normalised_directions(trained, seed=0)
    state = trained.state_dict()
    assert set(d) == set(state)
    for w, b in linear_names(trained):
        np.testing.assert_allclose(
            np.linalg.norm(d[w], axis=1), np.linalg.norm(state[w], axis=1), rtol=1e-12
        )
        assert not np.allclose(
            d[w] / np.linalg.norm(d[w], axis=1, keepdims=True),
            state[w] / np.linalg.norm(state[w], axis=1, keepdims=True),
        )
        assert np.all(d[b] == 0.0)


def test_plane_center_is_the_trained_loss(iris, trained):
    rng = np.random.default_rng(0)
    d1 = filter_normalised_directions(trained, rng)
    d2 = filter_normalised_directions(trained, rng)
    p = plane(trained, iris.X_train, iris.y_train, d1, d2, span=0.5, resolution=5)
    L0 = rp.evaluate(trained, iris.X_train, iris.y_train)[0]
    assert p.loss[2, 2] == pytest.approx(L0, rel=1e-12)
    assert p.center_loss == pytest.approx(L0, rel=1e-12)
    # loss[i, j] is at (a[j], b[i]): check one corner by hand
    moved = copy.deepcopy(trained)
    moved.load_state_dict(
        {
            k: v + p.a[4] * d1[k] + p.b[0] * d2[k]
            for k, v in trained.state_dict().items()
        }
    )
    assert p.loss[0, 4] == pytest.approx(
        rp.evaluate(moved, iris.X_train, iris.y_train)[0], rel=1e-12
    )


def test_loss_surface_trains_with_rp_train(iris):
    def make_net(s):
        return build_network(iris, seed=s)

    r = loss_surface(
        make_net,
        iris.X_train,
        iris.y_train,
        seeds=(1, 2),
        epochs=3,
        n_points=5,
        resolution=3,
    )
    for k, s in enumerate((1, 2)):
        net = make_net(s)
        h = rp.train(net, iris.X_train, iris.y_train, epochs=3, lr=0.05, seed=s)
        assert r.final_loss[k] == pytest.approx(h.loss[-1], rel=1e-12)
    # aligning moves only the second end along the same function
    assert r.aligned_line.loss[-1] == pytest.approx(r.line.loss[-1], rel=1e-12)


# -- decision regions ----------------------------------------------------------------------


def test_boundary_grid_predictions_are_the_network_s(iris, trained):
    X_raw = iris.X_train * iris.standardizer.scale_ + iris.standardizer.mean_
    b = decision_boundary(
        trained, X_raw, iris.y_train, standardizer=iris.standardizer, resolution=30
    )
    assert b.features == (2, 3)  # the petal measurements separate Iris best
    expected = rp.predict(trained, iris.standardizer.transform(b.inputs))
    assert np.array_equal(b.predictions.ravel(), expected)
    # row i is grid_y[i], column j is grid_x[j]; the other features at their mean
    i, j = 7, 19
    point = b.inputs[i * 30 + j]
    assert point[2] == b.grid_x[j] and point[3] == b.grid_y[i]
    np.testing.assert_allclose(point[[0, 1]], X_raw[:, [0, 1]].mean(axis=0))
    assert b.accuracy == pytest.approx(
        rp.evaluate(trained, iris.X_train, iris.y_train)[1]
    )
    # on the slice: each point's petal measurements, sepals at their mean, by hand
    on_slice = np.tile(X_raw.mean(axis=0), (len(X_raw), 1))
    on_slice[:, 2:] = X_raw[:, 2:]
    expected = np.mean(
        rp.predict(trained, iris.standardizer.transform(on_slice)) == iris.y_train
    )
    assert b.slice_accuracy == expected
    assert "inputs" not in b.to_dict()


def test_boundary_validates_features(trained):
    X = np.zeros((3, 4))
    with pytest.raises(rp.ConfigError, match="two different columns"):
        decision_boundary(trained, X, np.zeros(3, int), (1, 1))
    with pytest.raises(rp.ConfigError, match="two different columns"):
        decision_boundary(trained, X, np.zeros(3, int), (0, 4))


# -- files -----------------------------------------------------------------------------------


def test_results_write_json_and_csv(tmp_path):
    d = descent_demo()
    d.write_json(tmp_path / "d.json")
    d.write_csv(tmp_path / "d.csv")
    loaded = json.loads((tmp_path / "d.json").read_text())
    assert loaded["function"] == "x**4 - 3*x**2 + x"
    assert len(loaded["runs"]) == 6 and loaded["runs"][1]["status"] == "converged"
    lines = (tmp_path / "d.csv").read_text().splitlines()
    assert lines[0] == "lr,x0,step,x,f,grad,status"
    assert len(lines) == 1 + sum(len(r.x) for r in d.runs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "d.json"]


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_failure_mid_write_leaves_the_previous_file_whole(tmp_path, monkeypatch, fmt):
    # The real atomic_write, with its file failing after 100 characters as a full
    # disk would.
    from helpers import fail_writes_after

    path = tmp_path / f"d.{fmt}"
    getattr(descent_demo(), f"write_{fmt}")(path)
    before = path.read_bytes()
    fail_writes_after(monkeypatch, 100)
    other = descent_demo("(x - 1)**2", lrs=(0.1,), starts=(0.0,))
    with pytest.raises(OSError, match="No space"):
        getattr(other, f"write_{fmt}")(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left
