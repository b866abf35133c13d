"""scikit-learn estimators that train with retroprop's engine.

``BackpropClassifier`` and ``BackpropRegressor`` take the parameters of
scikit-learn's ``MLPClassifier``/``MLPRegressor`` where they mean the same thing and
expose the same fitted attributes (``coefs_`` in scikit-learn's ``(in, out)``
orientation, which is the engine's ``weight.T``). Defaults are the lecture's: hidden
layers ``(4, 3)`` of logistic (sigmoid) units, plain SGD with ``eta = 0.05``, one
sample per update. Every number comes from the engine: ``fit`` calls ``rp.train``,
``partial_fit`` runs one epoch of ``rp.train``'s NumPy engine (the shared
``TrainingStep``) with a persistent ``rp.SGD`` (so momentum carries over between
calls), and the predictions are the engine's forward pass. After each
``partial_fit`` call the run since the first call is judged with ``rp.train``'s
definition of divergence (``retroprop.training.divergence``: a non-finite, growing or
dead run), the initial loss measured at the first call, and the same
``DivergenceError`` is raised.

scikit-learn is imported by this module; ``import retroprop`` never imports it.
"""

from __future__ import annotations

import copy
import math
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from retroprop.engine.activations import differentiable_activations
from retroprop.engine.layers import Linear, Parameter, Sequential
from retroprop.engine.losses import LOSSES, log_softmax, softmax
from retroprop.engine.network import mlp
from retroprop.engine.optim import SGD
from retroprop.errors import ConfigError, DivergenceError
from retroprop.i18n import _
from retroprop.train import Callback, TrainState, train
from retroprop.training.divergence import chance_loss, describe, judge, output_spread
from retroprop.training.runner import EngineRunner, epoch_order
from retroprop.training.step import check_loss, divergence_is_checked, loss_targets

SKLEARN_ACTIVATIONS: dict[str, str] = {
    "logistic": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "identity": "identity",
}
"""scikit-learn's ``activation=`` names -> the engine's ``ACTIVATIONS`` keys."""


def estimator_activations() -> dict[str, str]:
    """The allowed ``activation=`` values -> the engine's ``ACTIVATIONS`` keys.

    scikit-learn's four names first, then every other trainable activation of the
    registry (``leaky_relu``, registered ones), read when called; an engine name
    that scikit-learn spells differently (``sigmoid``, its ``logistic``) is not
    offered twice.
    """
    spelled = set(SKLEARN_ACTIVATIONS.values())
    others = sorted(n for n in differentiable_activations() if n not in spelled)
    return {**dict(sorted(SKLEARN_ACTIVATIONS.items())), **{n: n for n in others}}


INIT = "glorot"
"""scikit-learn's initialisation rule, one of the engine's ``INITIALISERS``."""


class _Convergence(Callback):
    """scikit-learn's stopping rule, applied after each epoch of ``rp.train``.

    Without early stopping: stop when the training loss has not improved by ``tol``
    for more than ``n_iter_no_change`` epochs. With it: the same on the validation
    score (accuracy or R^2), and the best parameters are restored at the end.
    """

    def __init__(self, est: _BackpropBase, validation: tuple | None):
        self.est, self.validation = est, validation
        self.no_improvement = 0
        self.best_state: dict | None = None
        self.converged = False

    def on_epoch_end(self, state: TrainState) -> None:
        est = self.est
        assert state.history is not None  # rp.train passes its History
        loss = state.history.loss[-1]
        est.loss_curve_.append(loss)
        if est.verbose:
            print(f"Iteration {len(est.loss_curve_)}, loss = {loss:.8f}")
        if self.validation is not None:
            score = est._score_network(state.net, *self.validation)
            # fit sets both when it holds out validation data
            assert est.validation_scores_ is not None
            assert est.best_validation_score_ is not None
            est.validation_scores_.append(score)
            if est.verbose:
                print(f"Validation score: {score:f}")
            if score < est.best_validation_score_ + est.tol:
                self.no_improvement += 1
            else:
                self.no_improvement = 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                self.best_state = state.net.state_dict()
        else:
            assert est.best_loss_ is not None  # fit sets it without validation
            if loss > est.best_loss_ - est.tol:
                self.no_improvement += 1
            else:
                self.no_improvement = 0
            est.best_loss_ = min(est.best_loss_, loss)
        if self.no_improvement > est.n_iter_no_change:
            self.converged = state.stop = True

    def on_train_end(self, state: TrainState) -> None:
        if self.best_state is not None:
            state.net.load_state_dict(self.best_state)


def _loss_of(
    net: Sequential, X: np.ndarray, y_enc: np.ndarray, loss: str
) -> tuple[float, np.ndarray]:
    """The mean loss of ``net`` on ``X, y_enc`` and its outputs, as ``rp.train``
    measures them for its divergence check."""
    with divergence_is_checked():
        out = net(X.astype(net.dtype, copy=False))
        value = float(
            LOSSES[loss]()(out, loss_targets(y_enc, out.shape[1], loss, out.dtype))
        )
    return value, out


def _bias(lin: Linear) -> Parameter:
    assert lin.bias is not None  # the estimators' layers always have one
    return lin.bias


class _BackpropBase(BaseEstimator):
    """Parameters, validation and training shared by the classifier and regressor."""

    _loss = ""  # a key of LOSSES, set by the subclasses

    # Fitted state, set by fit/partial_fit (declared here for the type checker).
    network_: Sequential
    loss_curve_: list[float]
    best_loss_: float | None
    validation_scores_: list[float] | None
    best_validation_score_: float | None
    n_iter_: int
    t_: int
    _optimizer: SGD | None
    _rng: np.random.Generator
    _updates: int

    def __init__(
        self,
        hidden_layer_sizes=(4, 3),
        activation="logistic",
        *,
        learning_rate_init=0.05,
        batch_size=1,
        max_iter=100,
        momentum=0.0,
        nesterovs_momentum=True,
        alpha=0.0,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        warm_start=False,
        verbose=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.alpha = alpha
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.verbose = verbose

    # -- validation at the edge -------------------------------------------------------

    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = (sizes,)
        sizes = tuple(sizes)
        if not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and int(s) >= 1
            for s in sizes
        ):
            raise ConfigError(
                _(
                    "hidden_layer_sizes must be positive integers, like (4, 3), got "
                    "{hidden_layer_sizes!r}"
                ).format(hidden_layer_sizes=self.hidden_layer_sizes)
            )
        return tuple(int(s) for s in sizes)

    def _check_params(self) -> None:
        """Raise ``ConfigError`` (a ValueError) naming any parameter out of range."""
        self._hidden_sizes()
        allowed = estimator_activations()
        if self.activation not in allowed:
            raise ConfigError(
                _("activation must be one of {allowed}, got {activation!r}").format(
                    allowed=list(allowed), activation=self.activation
                )
            )

        def number(
            name: str,
            low: float,
            *,
            open_low: bool = False,
            high: float = math.inf,
            open_high: bool = False,
            integer: bool = False,
        ) -> None:
            v = getattr(self, name)
            kind = numbers.Integral if integer else numbers.Real
            ok = isinstance(v, kind) and not isinstance(v, bool) and math.isfinite(v)
            ok = ok and (v > low if open_low else v >= low)
            ok = ok and (v < high if open_high else v <= high)
            if not ok:
                lo, hi = "(" if open_low else "[", ")" if open_high else "]"
                what = "an integer" if integer else "a number"
                raise ConfigError(
                    _(
                        "{name} must be {what} in {lo}{low}, {high}{hi}, got {v!r}"
                    ).format(
                        name=name, what=what, lo=lo, low=low, high=high, hi=hi, v=v
                    )
                )

        number("learning_rate_init", 0, open_low=True)
        number("max_iter", 1, integer=True)
        number("momentum", 0, high=1, open_high=True)
        number("alpha", 0)
        number("tol", 0)
        number("n_iter_no_change", 1, integer=True)
        number("validation_fraction", 0, open_low=True, high=1, open_high=True)
        if self.batch_size != "auto":
            number("batch_size", 1, integer=True)
        for name in ("shuffle", "early_stopping", "warm_start", "nesterovs_momentum"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ConfigError(
                    _("{name} must be True or False, got {value!r}").format(
                        name=name, value=getattr(self, name)
                    )
                )
        rs = self.random_state
        if not (
            rs is None
            or isinstance(rs, (np.random.RandomState, np.random.Generator))
            or (isinstance(rs, numbers.Integral) and not isinstance(rs, bool))
        ):
            raise ConfigError(
                _(
                    "random_state must be None, an int, a numpy RandomState or Generator, "
                    "got {rs!r}"
                ).format(rs=rs)
            )

    def _generator(self) -> np.random.Generator:
        """The engine wants a ``numpy.random.Generator``; derive one from random_state."""
        rs = self.random_state
        if isinstance(rs, np.random.Generator):
            return rs
        if isinstance(rs, np.random.RandomState):
            return np.random.default_rng(rs.randint(np.iinfo(np.int32).max))
        return np.random.default_rng(rs)

    def _batch_size(self, n: int) -> int:
        return min(200, n) if self.batch_size == "auto" else int(self.batch_size)

    def _sgd_settings(self) -> dict:
        # alpha is torch's weight decay (gradient += alpha * parameter); Nesterov only
        # means something with momentum, as in scikit-learn.
        return {
            "lr": float(self.learning_rate_init),
            "momentum": float(self.momentum),
            "weight_decay": float(self.alpha),
            "nesterov": bool(self.nesterovs_momentum) and self.momentum > 0,
        }

    # -- what subclasses provide ----------------------------------------------------------

    def _validate_xy(self, X, y, reset: bool):  # pragma: no cover - abstract
        raise NotImplementedError

    def _encode_targets(self, y, first: bool, classes=None):  # pragma: no cover
        raise NotImplementedError

    def _score_network(self, net: Sequential, X, y) -> float:  # pragma: no cover
        raise NotImplementedError

    # -- training ------------------------------------------------------------------------

    def _build_network(
        self, n_features: int, n_outputs: int, rng: np.random.Generator
    ) -> Sequential:
        return mlp(
            [n_features, *self._hidden_sizes(), n_outputs],
            estimator_activations()[self.activation],
            init=INIT,
            seed=rng,
        )

    def _start(self, n_features: int, n_outputs: int, rng: np.random.Generator) -> None:
        """A fresh network and fresh fitted state."""
        self.network_ = self._build_network(n_features, n_outputs, rng)
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self.best_loss_ = math.inf
        self._optimizer = None
        self._rng = rng
        self._updates = 0  # parameter updates so far, as train's iteration count
        self._initial_loss = math.nan  # partial_fit's loss before its first update

    def fit(self, X, y):
        """Train on ``X, y`` with ``rp.train`` for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (classifier) or target values (regressor).

        Returns
        -------
        self
        """
        self._check_params()
        first = not (self.warm_start and hasattr(self, "network_"))
        X, y = self._validate_xy(X, y, reset=first)
        y_enc = self._encode_targets(y, first)
        rng = self._generator()
        if first:
            self._start(X.shape[1], self._n_outputs(), rng)
        else:
            self._rng = rng
        validation = None
        if self.early_stopping:
            from sklearn.model_selection import train_test_split

            stratify = y_enc if isinstance(self, ClassifierMixin) else None
            X, X_val, y_enc, y_val = train_test_split(
                X,
                y_enc,
                test_size=self.validation_fraction,
                stratify=stratify,
                random_state=int(rng.integers(np.iinfo(np.int32).max)),
            )
            validation = (X_val, y_val)
            self.validation_scores_ = []
            self.best_validation_score_ = -math.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            if self.best_loss_ is None:
                self.best_loss_ = math.inf
        monitor = _Convergence(self, validation)
        history = train(
            self.network_,
            X,
            y_enc,
            epochs=int(self.max_iter),
            batch_size=self._batch_size(len(X)),
            loss=self._loss,
            shuffle=bool(self.shuffle),
            seed=rng,
            callbacks=[monitor],
            **self._sgd_settings(),
        )
        self._optimizer = None  # rp.train's optimiser (and its momentum) is gone
        self._updates = getattr(self, "_updates", 0) + history.iterations
        self.n_iter_ += history.epochs
        self.t_ += history.epochs * len(X)
        if not monitor.converged and history.epochs == self.max_iter:
            warnings.warn(
                f"{type(self).__name__}: stopped after max_iter={self.max_iter} epochs "
                f"and the optimisation has not converged yet",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _partial_fit(self, X, y, classes=None):
        self._check_params()
        first = not hasattr(self, "network_")
        X, y = self._validate_xy(X, y, reset=first)
        y_enc = self._encode_targets(y, first, classes)
        if first:
            self._start(X.shape[1], self._n_outputs(), self._generator())
            self.validation_scores_ = self.best_validation_score_ = None
        net = self.network_
        if first or not math.isfinite(getattr(self, "_initial_loss", math.nan)):
            # where the run starts (as train's initial loss), for the judgement below
            with divergence_is_checked():
                self._initial_loss = _loss_of(net, X, y_enc, self._loss)[0]
        if self._optimizer is None:
            self._optimizer = SGD(net.parameters(), **self._sgd_settings())
        opt = self._optimizer
        # One epoch of train's own loop: the same sample order, the same step (and
        # its divergence check, counting epochs and iterations across calls).
        epoch = self.n_iter_ + 1
        runner = EngineRunner(
            net,
            X.astype(net.dtype, copy=False),
            y_enc,
            loss=self._loss,
            batch_size=self._batch_size(len(X)),
            optimizer=opt,
        )
        order = epoch_order(self._rng, len(X), bool(self.shuffle))
        updates = runner.run_epoch(order, epoch, self._updates)
        with divergence_is_checked():
            loss, _ = runner.evaluate(net, X, y_enc, self._loss)
        check_loss(loss, epoch=epoch, iteration=updates, lr=opt.lr)
        self._updates = updates
        n = len(X)
        self.loss_curve_.append(loss)
        if self.best_loss_ is not None:
            self.best_loss_ = min(self.best_loss_, loss)
        self.n_iter_ += 1
        self.t_ += n
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
        # the epoch counts (as in fit, the parameters stay where it left them)
        self._check_ended_well(X, y_enc, epoch, updates, float(self.learning_rate_init))
        return self

    def _check_ended_well(
        self, X: np.ndarray, y_enc: np.ndarray, epoch: int, updates: int, lr: float
    ) -> None:
        """Raise ``DivergenceError`` as ``rp.train`` does when the run since the
        first ``partial_fit`` call grew or died (``training.divergence.judge``)."""
        final, out = _loss_of(self.network_, X, y_enc, self._loss)
        chance = chance_loss(y_enc, out.shape[1], self._loss)
        if final < chance * (1 - 1e-9):  # neither growing nor dead: most calls
            return
        initial = self._initial_loss
        kind = judge(initial, final, chance, output_spread(out, X, y_enc, self._loss))
        if kind is None:
            return
        raise DivergenceError.at(
            epoch, updates, lr, describe(kind, initial, final, chance), kept=False
        )

    # -- fitted attributes ---------------------------------------------------------------

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weights per layer, shape ``(n_in, n_out)``: the engine's ``weight.T`` (views)."""
        return [lin.weight.data.T for lin in self.network_.linears]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Biases per layer, shape ``(n_out,)`` (views of the engine's arrays)."""
        return [_bias(lin).data for lin in self.network_.linears]

    @property
    def n_layers_(self) -> int:
        """Layers counting the input and the output layer, as scikit-learn does."""
        return len(self.network_.linears) + 1

    @property
    def n_outputs_(self) -> int:
        return self.network_.out_features

    def to_network(self) -> Sequential:
        """A copy of the fitted network as a retroprop ``Sequential``.

        Its outputs are the logits (classifier) or the predictions (regressor); the
        copy is independent of the estimator.
        """
        check_is_fitted(self, "network_")
        return copy.deepcopy(self.network_)

    def _forward(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.network_(X)


class BackpropClassifier(ClassifierMixin, _BackpropBase):
    """A multilayer perceptron classifier trained by retroprop's engine.

    Softmax outputs (one per class, also for two classes) with cross-entropy, hidden
    layers of ``activation`` units, trained by SGD. Defaults are the lecture's
    network and training: ``hidden_layer_sizes=(4, 3)``, logistic units,
    ``learning_rate_init=0.05``, ``batch_size=1`` (per-sample updates), no momentum
    and no penalty; the weights start as scikit-learn's (Glorot uniform).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(4, 3)
        Widths of the hidden layers; ``()`` for none.
    activation : {"logistic", "tanh", "relu", "identity"} or another trainable
        activation of ``ACTIVATIONS``, default="logistic"
        Hidden activation (``"logistic"`` is the engine's ``"sigmoid"``); see
        ``estimator_activations()``.
    learning_rate_init : float, default=0.05
        The SGD learning rate (the lecture's eta); constant.
    batch_size : int or "auto", default=1
        Samples per update; ``"auto"`` is ``min(200, n_samples)``.
    max_iter : int, default=100
        Maximum epochs (passes over the data).
    momentum : float in [0, 1), default=0.0
        SGD momentum, ``torch.optim.SGD``'s meaning.
    nesterovs_momentum : bool, default=True
        Nesterov momentum when ``momentum > 0``.
    alpha : float, default=0.0
        L2 penalty, applied as SGD weight decay on every parameter
        (``grad += alpha * w``, torch's meaning).
    shuffle : bool, default=True
        Visit the samples in a new random order each epoch.
    random_state : int, RandomState, Generator or None, default=None
        Randomness of the initial weights, the sample order and the validation split.
    tol : float, default=1e-4
        Improvement of the training loss (or validation score) that counts.
    n_iter_no_change : int, default=10
        Stop after more than this many epochs without improvement by ``tol``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified), stop on its
        accuracy and keep the best parameters.
    validation_fraction : float in (0, 1), default=0.1
    warm_start : bool, default=False
        ``fit`` continues from the current network instead of starting anew.
    verbose : bool, default=False
        Print the loss after every epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coefs_ : list of ndarray, ``coefs_[i]`` of shape (n_in, n_out)
        The engine's ``weight.T`` per layer.
    intercepts_ : list of ndarray, ``intercepts_[i]`` of shape (n_out,)
    loss_curve_ : list of float
        Mean cross-entropy on the training data after each epoch.
    best_loss_ : float or None
        Lowest value of ``loss_curve_`` (None with early stopping).
    validation_scores_, best_validation_score_
        Accuracy on the held-out part after each epoch and its best (early stopping).
    n_iter_ : int
        Epochs run. ``t_``: samples seen.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when ``X`` has string column names.
    network_ : retroprop Sequential
        The trained network (``to_network()`` returns a copy).
    """

    _loss = "cross_entropy"

    def _validate_xy(self, X, y, reset: bool):
        X, y = validate_data(self, X, y, reset=reset, dtype=np.float64)
        check_classification_targets(y)
        return X, y

    def _encode_targets(self, y, first: bool, classes=None):
        if first:
            self.classes_ = np.unique(y if classes is None else np.asarray(classes))
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if len(unseen):
            raise ConfigError(
                _("y has classes {value} that are not in classes_ {value2}").format(
                    value=unseen.tolist(), value2=self.classes_.tolist()
                )
            )
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _score_network(self, net: Sequential, X, y) -> float:
        return float(np.mean(np.argmax(net(X), axis=1) == y))

    def partial_fit(self, X, y, classes=None):
        """One epoch of SGD on ``X, y``, keeping the optimiser (and momentum) state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,)
            All the classes; required on the first call, ignored afterwards.

        Returns
        -------
        self
        """
        if not hasattr(self, "network_") and classes is None:
            raise ConfigError(
                _("classes must be passed on the first call to partial_fit")
            )
        return self._partial_fit(X, y, classes)

    def predict_proba(self, X) -> np.ndarray:
        """Softmax of the network's outputs, shape ``(n_samples, n_classes)``."""
        return softmax(self._forward(X))

    def predict_log_proba(self, X) -> np.ndarray:
        """``ln p``, computed stably from the logits, shape ``(n_samples, n_classes)``."""
        return log_softmax(self._forward(X))

    def predict(self, X) -> np.ndarray:
        """The class with the largest output, shape ``(n_samples,)``."""
        out = self._forward(X)
        return self.classes_[np.argmax(out, axis=1)]


class BackpropRegressor(RegressorMixin, _BackpropBase):
    """A multilayer perceptron regressor trained by retroprop's engine.

    One linear output with mean squared error (torch's ``MSELoss``, without
    scikit-learn's factor 1/2). The parameters, defaults and attributes are
    ``BackpropClassifier``'s (``loss_curve_`` holds the MSE; early stopping watches
    R^2); targets are one-dimensional.
    """

    _loss = "mse"

    def _validate_xy(self, X, y, reset: bool):
        return validate_data(self, X, y, reset=reset, dtype=np.float64, y_numeric=True)

    def _encode_targets(self, y, first: bool, classes=None):
        return np.asarray(y, dtype=np.float64)

    def _n_outputs(self) -> int:
        return 1

    def _score_network(self, net: Sequential, X, y) -> float:
        from sklearn.metrics import r2_score

        return float(r2_score(y, net(X)[:, 0]))

    def partial_fit(self, X, y):
        """One epoch of SGD on ``X, y``, keeping the optimiser (and momentum) state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        return self._partial_fit(X, y)

    def predict(self, X) -> np.ndarray:
        """The network's output, shape ``(n_samples,)``."""
        return self._forward(X)[:, 0]
