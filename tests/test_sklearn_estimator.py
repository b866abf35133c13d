"""The scikit-learn estimators: engine parity, ecosystem use, parameters, attributes."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import retroprop as rp
from retroprop.sklearn import BackpropClassifier, BackpropRegressor


@pytest.fixture
def iris():
    ds = rp.datasets.load_iris()
    X = (ds.X - ds.X.mean(0)) / ds.X.std(0)
    names = np.array(ds.class_names)[ds.y]  # string labels, as users have them
    return X, names, ds.y


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def test_fit_is_rp_train_with_the_same_randomness(iris):
    """fit == mlp(glorot) + rp.train fed the same Generator: bit-for-bit."""
    X, _, y = iris
    est = BackpropClassifier(max_iter=3, random_state=7, tol=0.0).fit(X, y)
    rng = np.random.default_rng(7)
    net = rp.mlp([4, 4, 3, 3], "sigmoid", init="glorot", seed=rng)
    history = rp.train(net, X, y, epochs=3, lr=0.05, batch_size=1, seed=rng)
    for lin, W, b in zip(net.linears, est.coefs_, est.intercepts_):
        np.testing.assert_array_equal(W, lin.weight.data.T)  # (in, out) = weight.T
        np.testing.assert_array_equal(b, lin.bias.data)
    assert est.loss_curve_ == history.loss
    assert est.n_iter_ == 3 and est.t_ == 3 * len(X)
    assert [W.shape for W in est.coefs_] == [(4, 4), (4, 3), (3, 3)]


def test_defaults_are_the_lectures():
    est = BackpropClassifier()
    assert est.hidden_layer_sizes == (4, 3)
    assert est.activation == "logistic"
    assert est.learning_rate_init == 0.05
    assert est.batch_size == 1
    assert est.momentum == 0.0 and est.alpha == 0.0


def test_predictions_are_the_networks(iris):
    X, names, _ = iris
    est = BackpropClassifier(max_iter=20, random_state=0).fit(X, names)
    net = est.to_network()
    logits = net(X)
    np.testing.assert_array_equal(est.predict(X), est.classes_[logits.argmax(1)])
    np.testing.assert_allclose(
        est.predict_proba(X), rp.predict_proba(net, X), rtol=0, atol=0
    )
    np.testing.assert_allclose(
        np.exp(est.predict_log_proba(X)), est.predict_proba(X), rtol=1e-12
    )
    assert list(est.classes_) == sorted(set(names))
    assert est.score(X, names) > 0.9
    # to_network is a copy: training it leaves the estimator alone
    before = est.predict_proba(X)
    rp.train(net, X, np.searchsorted(est.classes_, names), epochs=1, lr=0.5)
    np.testing.assert_array_equal(est.predict_proba(X), before)


def test_coefs_are_views_of_the_network(iris):
    X, _, y = iris
    est = BackpropClassifier(max_iter=1, random_state=0).fit(X, y)
    est.coefs_[-1][:] = 0.0
    est.intercepts_[-1][:] = [0.0, 5.0, 0.0]
    assert (est.predict(X) == 1).all()


@pytest.mark.parametrize(
    ("activation", "engine_name"),
    [
        ("logistic", "sigmoid"),
        ("tanh", "tanh"),
        ("relu", "relu"),
        ("identity", "identity"),
    ],
)
def test_activation_names_map_to_the_engine(iris, activation, engine_name):
    X, _, y = iris
    est = BackpropClassifier(
        activation=activation, max_iter=1, random_state=0, learning_rate_init=0.01
    ).fit(X, y)
    hidden = [m for m in est.network_ if not isinstance(m, rp.Linear)]
    assert [m.name for m in hidden] == [engine_name, engine_name]


def test_partial_fit_keeps_momentum(iris):
    """Two partial_fit calls == one SGD with momentum over both epochs (same order)."""
    X, _, y = iris
    est = BackpropClassifier(
        momentum=0.9,
        nesterovs_momentum=False,
        shuffle=False,
        batch_size=10,
        learning_rate_init=0.05,
        random_state=3,
    )
    est.partial_fit(X, y, classes=[0, 1, 2])
    est.partial_fit(X, y)
    net = rp.mlp([4, 4, 3, 3], "sigmoid", init="glorot", seed=np.random.default_rng(3))
    rp.train(
        net,
        X,
        y,
        epochs=2,
        lr=0.05,
        batch_size=10,
        momentum=0.9,
        shuffle=False,
        engine="numpy",
    )  # the reference engine, step by step
    for lin, W in zip(net.linears, est.coefs_):
        np.testing.assert_allclose(W, lin.weight.data.T, rtol=0, atol=1e-15)
    assert est.n_iter_ == 2 and len(est.loss_curve_) == 2
    with pytest.raises(ValueError, match="classes must be passed"):
        BackpropClassifier().partial_fit(X, y)


def test_pipeline_grid_search_cross_val(iris):
    X, names, _ = iris
    pipe = make_pipeline(
        StandardScaler(),
        BackpropClassifier(max_iter=10, random_state=0, learning_rate_init=0.2),
    )
    scores = cross_val_score(pipe, X, names, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8
    grid = GridSearchCV(
        pipe,
        {
            "backpropclassifier__activation": ["logistic", "tanh"],
            "backpropclassifier__hidden_layer_sizes": [(4, 3), (8,)],
        },
        cv=3,
    )
    grid.fit(X, names)
    assert set(grid.best_params_) == {
        "backpropclassifier__activation",
        "backpropclassifier__hidden_layer_sizes",
    }
    assert grid.best_score_ > 0.8
    assert grid.predict(X[:5]).dtype.kind in "UO"


def test_pickle_round_trip(iris):
    X, names, _ = iris
    est = BackpropClassifier(max_iter=5, random_state=0).fit(X, names)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))
    assert again.get_params() == est.get_params()
    again.partial_fit(X, names)  # still trainable after unpickling
    assert again.n_iter_ == est.n_iter_ + 1


def test_early_stopping_restores_the_best(iris):
    X, _, y = iris
    est = BackpropClassifier(
        early_stopping=True,
        max_iter=200,
        n_iter_no_change=3,
        random_state=0,
        learning_rate_init=0.5,
    ).fit(X, y)
    assert est.best_loss_ is None
    assert len(est.validation_scores_) == est.n_iter_ < 200
    assert est.best_validation_score_ == max(est.validation_scores_)


def test_tol_stops_training(iris):
    X, _, y = iris
    est = BackpropClassifier(tol=10.0, n_iter_no_change=2, random_state=0).fit(X, y)
    # Epoch 1 improves on best_loss_ = inf; epochs 2, 3, 4 cannot improve by 10, and
    # training stops when more than n_iter_no_change = 2 epochs did not (sklearn's rule).
    assert est.n_iter_ == 4
    assert est.best_loss_ == min(est.loss_curve_)


def test_convergence_warning(iris):
    X, _, y = iris
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        BackpropClassifier(max_iter=2, random_state=0).fit(X, y)


def test_warm_start_continues(iris):
    X, _, y = iris
    est = BackpropClassifier(max_iter=2, random_state=0, warm_start=True, tol=0.0)
    est.fit(X, y)
    first = [W.copy() for W in est.coefs_]
    est.fit(X, y)
    assert est.n_iter_ == 4
    cold = BackpropClassifier(max_iter=2, random_state=0, tol=0.0).fit(X, y)
    np.testing.assert_array_equal(cold.coefs_[0], first[0])
    assert not np.array_equal(est.coefs_[0], first[0])


def test_regressor_fits_a_line():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 2))
    y = X @ np.array([1.5, -2.0]) + 0.3
    est = BackpropRegressor(
        hidden_layer_sizes=(),
        activation="identity",
        batch_size=10,
        learning_rate_init=0.1,
        max_iter=100,
        random_state=0,
    ).fit(X, y)
    np.testing.assert_allclose(est.coefs_[0][:, 0], [1.5, -2.0], atol=1e-3)
    np.testing.assert_allclose(est.intercepts_[0], [0.3], atol=1e-3)
    assert est.predict(X).shape == (200,)
    assert est.score(X, y) > 0.999
    assert est.loss_curve_[-1] == pytest.approx(np.mean((est.predict(X) - y) ** 2))


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [
        (
            "activation",
            "sigmoid",
            "activation must be one of \\['identity', 'logistic'",
        ),
        ("hidden_layer_sizes", (4, 0), "hidden_layer_sizes must be positive integers"),
        ("learning_rate_init", 0.0, "learning_rate_init must be a number in \\(0"),
        ("batch_size", 0, "batch_size must be an integer"),
        ("momentum", 1.0, "momentum must be a number in \\[0, 1\\)"),
        ("max_iter", 0, "max_iter must be an integer"),
        ("validation_fraction", 1.0, "validation_fraction"),
        ("shuffle", "yes", "shuffle must be True or False, got 'yes'"),
        ("random_state", "seed", "random_state must be None, an int"),
    ],
)
def test_bad_parameters_are_named_in_fit(iris, param, value, message):
    X, _, y = iris
    est = BackpropClassifier(**{param: value})  # constructing never raises
    with pytest.raises(ValueError, match=message):
        est.fit(X, y)


def test_int_hidden_size_and_auto_batch(iris):
    X, _, y = iris
    est = BackpropClassifier(
        hidden_layer_sizes=5, batch_size="auto", max_iter=1, random_state=0
    ).fit(X, y)
    assert [W.shape for W in est.coefs_] == [(4, 5), (5, 3)]
    assert est.n_layers_ == 3 and est.n_outputs_ == 3


@pytest.mark.parametrize("activation", ["logistic", "relu"])
def test_partial_fit_judges_divergence_as_fit_does(iris, activation):
    """eta = 100 grows the loss in one epoch: partial_fit raises fit's error."""
    X, _, y = iris
    settings = {
        "activation": activation,
        "learning_rate_init": 100.0,
        "random_state": 0,
    }
    with pytest.raises(rp.DivergenceError) as by_fit:
        BackpropClassifier(max_iter=1, **settings).fit(X, y)
    with pytest.raises(rp.DivergenceError) as by_partial:
        BackpropClassifier(**settings).partial_fit(X, y, classes=[0, 1, 2])
    assert "growing" not in str(by_fit.value)  # the message, not the kind's name
    assert str(by_partial.value) == str(by_fit.value)
    assert "times where it started" in by_partial.value.what


def test_partial_fit_judges_from_the_first_call(iris):
    """The initial loss is the first call's: a run that grows over calls raises at
    the call where it has grown, and a healthy multi-call run never does."""
    X, _, y = iris
    healthy = BackpropClassifier(learning_rate_init=0.05, random_state=0)
    healthy.partial_fit(X, y, classes=[0, 1, 2])
    for _ in range(4):
        healthy.partial_fit(X, y)
    assert healthy.n_iter_ == 5 and healthy.loss_curve_[-1] < healthy.loss_curve_[0]
    est = BackpropClassifier(learning_rate_init=100.0, random_state=0)
    with pytest.raises(rp.DivergenceError, match="epoch 1, iteration 150 "):
        est.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(rp.DivergenceError) as second:
        est.partial_fit(X, y)  # judged from the first call's loss, as fit's 2 epochs
    with pytest.raises(rp.DivergenceError) as by_fit:
        BackpropClassifier(learning_rate_init=100.0, random_state=0, max_iter=2).fit(
            X, y
        )
    assert str(second.value) == str(by_fit.value)
    assert "epoch 2, iteration 300 " in str(second.value) and est.n_iter_ == 2


def test_partial_fit_regressor_divergence(iris):
    X = iris[0]
    target = X[:, 2] * 3.0
    with pytest.raises(rp.DivergenceError, match="times where it started"):
        BackpropRegressor(learning_rate_init=5.0, random_state=0).partial_fit(X, target)
