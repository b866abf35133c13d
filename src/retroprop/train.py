"""The training loop: forward, loss, backward, step, per batch; a History per epoch.

``train`` is the lecture's loop (``batch_size=1``: one sample, one update) generalised
to mini-batches and full-batch gradient descent. Callbacks see every iteration, which
is how ``--record-bias`` saves the last layer's bias before each update.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from retroprop.engine.init import as_generator
from retroprop.engine.layers import Sequential
from retroprop.engine.losses import LOSSES, softmax
from retroprop.engine.optim import OPTIMIZERS
from retroprop.errors import (
    ConfigError,
    DataError,
    DivergenceError,
    NotDifferentiableError,
)


@dataclass
class History:
    """What training measured, one entry per epoch (after that epoch's updates).

    Attributes
    ----------
    loss, accuracy : list of float
        On the whole training set.
    val_loss, val_accuracy : list of float
        On the validation set (empty without one).
    iterations : int
        Parameter updates made.
    stopped_early : bool
        Whether early stopping ended training.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    iterations: int = 0
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def to_dict(self) -> dict:
        return {
            "loss": self.loss,
            "accuracy": self.accuracy,
            "val_loss": self.val_loss,
            "val_accuracy": self.val_accuracy,
            "iterations": self.iterations,
            "stopped_early": self.stopped_early,
        }

    def plot(self, path=None, **kwargs):
        """Loss and accuracy per epoch (training and validation): a matplotlib Figure,
        or the file at ``path`` (``.png``, ``.pdf``, ``.svg``); keyword arguments go to
        ``retroprop.plots.plot_history`` (``title``, ``dpi``, ``size``, ``val_label``).
        """
        from retroprop.plots import plot_history

        return plot_history(self, path, **kwargs)

    def _rows(self, last: int = 5) -> list[list]:
        """The first epoch and the last ``last`` ones, as displayed."""
        if not self.epochs:
            return []
        shown = sorted({0, *range(max(self.epochs - last, 0), self.epochs)})
        rows = []
        for e in shown:
            row: list = [e + 1, self.loss[e], self.accuracy[e]]
            if self.val_loss:
                row += [self.val_loss[e], self.val_accuracy[e]]
            rows.append(row)
        return rows

    def _headers(self) -> list[str]:
        h = ["epoch", "loss", "accuracy"]
        return [*h, "val. loss", "val. accuracy"] if self.val_loss else h

    def _title(self) -> str:
        early = ", stopped early" if self.stopped_early else ""
        return f"History: {self.epochs} epochs, {self.iterations} updates{early}"

    def _repr_html_(self) -> str:
        """A small table: the first epoch and the last five; ``.plot()`` draws all."""
        from retroprop.display import html_block, html_table

        return html_block(self._title(), html_table(self._headers(), self._rows()))

    def _repr_markdown_(self) -> str:
        from retroprop.display import markdown_table

        return f"**{self._title()}**\n\n" + markdown_table(
            self._headers(), self._rows()
        )


@dataclass
class TrainState:
    """What a callback is shown: the network and where training is (1-based)."""

    net: Sequential
    epoch: int = 0
    iteration: int = 0
    batch: np.ndarray | None = None  # indices of the samples in this iteration
    history: History | None = None
    stop: bool = False  # a callback sets this to end training after this epoch


class Callback:
    """Hooks into ``train``; override what you need. All receive the ``TrainState``."""

    per_iteration = False  # True when on_iteration_begin/end do something

    def on_train_begin(self, state: TrainState) -> None: ...
    def on_epoch_begin(self, state: TrainState) -> None: ...
    def on_iteration_begin(self, state: TrainState) -> None: ...
    def on_iteration_end(self, state: TrainState) -> None: ...
    def on_epoch_end(self, state: TrainState) -> None: ...
    def on_train_end(self, state: TrainState) -> None: ...


class RecordParameter(Callback):
    """Records a parameter's value before every iteration (the lecture's exercise 4).

    ``RecordParameter("4.bias")`` on the lecture's network keeps the last layer's
    bias as it was before each update, in ``values`` (one copy per iteration), with
    the iteration numbers (1-based) in ``iterations`` and epochs in ``epochs``.
    """

    per_iteration = True

    def __init__(self, name: str):
        self.name = name
        self.values: list[np.ndarray] = []
        self.iterations: list[int] = []
        self.epochs: list[int] = []

    def on_train_begin(self, state: TrainState) -> None:
        names = [n for n, _ in state.net.named_parameters()]
        if self.name not in names:
            raise ConfigError(
                f"no parameter named {self.name!r}; the network has {names}"
            )
        self._param = dict(state.net.named_parameters())[self.name]

    def on_iteration_begin(self, state: TrainState) -> None:
        self.values.append(self._param.data.copy())
        self.iterations.append(state.iteration)
        self.epochs.append(state.epoch)


class ProgressCallback(Callback):
    """Calls ``fn(epoch, epochs, history)`` after every epoch (for progress bars)."""

    def __init__(self, fn: Callable[[int, int, History], None], epochs: int):
        self.fn, self.epochs = fn, epochs

    def on_epoch_end(self, state: TrainState) -> None:
        assert state.history is not None  # train sets it before the first epoch
        self.fn(state.epoch, self.epochs, state.history)


def predict_proba(net: Sequential, X: np.ndarray) -> np.ndarray:
    """Softmax of the network's outputs, shape ``(n_samples, n_classes)``."""
    return softmax(net(X))


def predict(net: Sequential, X: np.ndarray) -> np.ndarray:
    """The class with the largest output, shape ``(n_samples,)``."""
    return np.argmax(net(X), axis=1)


def evaluate(
    net: Sequential, X: np.ndarray, y: np.ndarray, loss: str = "cross_entropy"
) -> tuple[float, float]:
    """``(mean loss, accuracy)`` of ``net`` on ``X`` of shape ``(n, n_features)`` and
    ``y`` of shape ``(n,)``."""
    out = net(X)
    return float(
        LOSSES[loss]()(out, loss_targets(y, out.shape[1], loss, out.dtype))
    ), float(np.mean(np.argmax(out, axis=1) == y))


def loss_targets(y: np.ndarray, k: int, loss: str, dtype) -> np.ndarray:
    """What the loss compares the network's ``k`` outputs with.

    Cross-entropy: the class indices ``y`` of shape ``(n,)`` as they are. MSE: rows of
    shape ``(n, k)`` in ``dtype``: one-hot rows when ``y`` holds classes of a
    classifier (``k > 1``), else the target values themselves.
    """
    if loss != "mse":
        return y
    if k > 1 and y.ndim == 1:
        onehot = np.zeros((len(y), k), dtype=dtype)
        onehot[np.arange(len(y)), y] = 1.0
        return onehot
    t = np.asarray(y, dtype=dtype)
    return t.reshape(-1, 1) if t.ndim == 1 else t


def check_xy(
    X: np.ndarray,
    y: np.ndarray,
    net: Sequential | None = None,
    what: str = "X",
    loss: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate training data at the edge.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Finite numbers.
    y : array-like of shape (n_samples,)
        With ``net`` and ``loss``: integer classes ``0..k-1`` for cross-entropy (and for
        MSE against one-hot rows, ``k > 1``), finite numbers for MSE on ``k = 1``
        output. Without ``loss``, integer ``y`` is range-checked as classes.
    net : Sequential or None
        The network the data must fit (``in_features`` columns, ``out_features`` k).
    what : str
        How to call ``X`` in messages.
    loss : str or None
        A key of ``LOSSES``.

    Returns
    -------
    X, y : ndarray
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        raise DataError(
            f"{what} must be a non-empty 2-D array (n_samples, n_features), "
            f"got shape {X.shape}"
        )
    if not np.issubdtype(X.dtype, np.number):
        raise DataError(f"{what} must be numeric, got dtype {X.dtype}")
    # min and max are NaN or +-inf exactly when some value is: two passes, no copy.
    bad: list | np.ndarray = (
        []
        if np.isfinite(X.min()) and np.isfinite(X.max())
        else np.argwhere(~np.isfinite(X))
    )
    if len(bad):
        r, c = bad[0]
        raise DataError(
            f"{what} has a non-finite value ({X[r, c]}) at row {r}, column {c}; "
            f"remove or fill it before training"
        )
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise DataError(
            f"y must have shape ({X.shape[0]},) to match {what}, got {y.shape}"
        )
    if net is None:
        return X, y
    if X.shape[1] != net.in_features:
        raise DataError(
            f"{what} has {X.shape[1]} features, the network expects {net.in_features}"
        )
    k = net.out_features
    classes = (
        np.issubdtype(y.dtype, np.integer)
        if loss is None
        else (loss == "cross_entropy" or k > 1)
    )
    if classes:
        if not np.issubdtype(y.dtype, np.integer):
            raise DataError(
                f"y must hold integer class labels 0..{k - 1} for {loss} with {k} "
                f"outputs, got dtype {y.dtype}; encode the classes as integers "
                f"(rp.datasets.load_csv does)"
            )
        if y.min() < 0 or y.max() >= k:
            raise DataError(f"y must hold classes 0..{k - 1}, got {y.min()}..{y.max()}")
    elif (
        not np.issubdtype(y.dtype, np.number) or not np.isfinite(y.astype(float)).all()
    ):
        raise DataError(
            f"y must hold finite numbers for {loss} regression, got dtype {y.dtype}"
        )
    return X, y


def train(
    net: Sequential,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    lr: float,
    batch_size: int | None = 1,
    optimizer: str = "sgd",
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    loss: str = "cross_entropy",
    shuffle: bool = True,
    seed: int | np.random.Generator | None = 0,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    early_stopping: int | None = None,
    callbacks: Iterable[Callback] = (),
    engine: str = "auto",
) -> History:
    """Train ``net`` in place by gradient descent; return its History.

    Parameters
    ----------
    net : Sequential
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Integer classes (for ``"cross_entropy"``, or ``"mse"`` against one-hot rows),
        or float targets for ``"mse"``.
    epochs : int
        Passes over the data.
    lr : float
        The learning rate (the lecture's eta).
    batch_size : int or None
        Samples per update: 1 is the lecture's per-sample descent, None the whole set.
    optimizer, momentum, dampening, weight_decay, nesterov
        A key of ``OPTIMIZERS`` and its settings (torch.optim.SGD's meaning).
    loss : str
        A key of ``LOSSES``.
    shuffle : bool
        Visit the samples in a new random order each epoch.
    seed : int or Generator
        The sample order's randomness (the weights' is the network's own).
    validation : (X_val, y_val) or None
        Measured after each epoch into ``History.val_*``.
    early_stopping : int or None
        Stop when the validation loss (else the training loss) has not improved for
        this many epochs. Either way, training ends with the parameters of the epoch
        whose monitored loss was lowest (History still lists every epoch).
    callbacks : iterable of Callback
    engine : {"auto", "fast", "numpy"}
        ``"numpy"`` runs the engine's modules step by step (the reference);
        ``"fast"`` the compiled kernels of ``retroprop.fast`` (Sequential of Linear
        and differentiable activations, cross-entropy or MSE, SGD, no per-iteration
        callback, Numba installed), which give the same parameters to rounding;
        ``"auto"`` (default) the fast path where it applies, else the NumPy engine.

    Raises
    ------
    DivergenceError
        When the loss or a parameter becomes non-finite; the parameters are the last
        finite ones, and the error names the epoch, the iteration and ``lr``.
    NotDifferentiableError
        When the network contains a Step activation.
    """
    if not isinstance(net, Sequential):
        raise ConfigError(
            f"net must be a retroprop Sequential, got {type(net).__name__}"
        )
    steps = [m for m in net if not getattr(m, "differentiable", True)]
    if steps:
        from retroprop.engine.activations import STEP_WHY

        raise NotDifferentiableError(f"cannot train this network: {STEP_WHY}")
    if loss not in LOSSES:
        raise ConfigError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    if engine not in ("auto", "fast", "numpy"):
        raise ConfigError(
            f"engine must be one of ['auto', 'fast', 'numpy'], got {engine!r}"
        )
    if optimizer not in OPTIMIZERS:
        raise ConfigError(
            f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}"
        )
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ConfigError(f"epochs must be an integer >= 0, got {epochs!r}")
    X, y = check_xy(X, y, net, loss=loss)
    X = X.astype(net.dtype, copy=False)
    n = X.shape[0]
    if batch_size is None:
        batch_size = n
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(
            f"batch_size must be a positive integer or None, got {batch_size!r}"
        )
    if early_stopping is not None and (
        isinstance(early_stopping, bool)
        or not isinstance(early_stopping, (int, np.integer))
        or early_stopping < 1
    ):
        raise ConfigError(
            f"early_stopping must be a positive integer, got {early_stopping!r}"
        )
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise ConfigError("validation must be a pair (X_val, y_val)")
        Xv, yv = check_xy(*validation, net=net, what="validation X", loss=loss)
    opt = OPTIMIZERS[optimizer](
        net.parameters(),
        lr=lr,
        momentum=momentum,
        dampening=dampening,
        weight_decay=weight_decay,
        nesterov=nesterov,
    )
    loss_fn = LOSSES[loss]()
    rng = as_generator(seed)
    callbacks = list(callbacks)
    runner = None
    if engine != "numpy":
        from retroprop.fast.single import make_runner

        runner = make_runner(
            net,
            X,
            y,
            engine=engine,
            loss=loss,
            optimizer=optimizer,
            callbacks=callbacks,
            batch_size=batch_size,
            opt=opt,
        )
    history = History()
    state = TrainState(net=net, history=history)
    for cb in callbacks:
        cb.on_train_begin(state)
    best, since_best = math.inf, 0
    best_params: dict[str, np.ndarray] | None = None
    for epoch in range(1, epochs + 1):
        state.epoch = epoch
        for cb in callbacks:
            cb.on_epoch_begin(state)
        order = rng.permutation(n) if shuffle else np.arange(n)
        if runner is not None:  # the same epoch, compiled (retroprop.fast)
            state.iteration = runner.run_epoch(order, epoch, state.iteration)
        for start in range(0, n, batch_size) if runner is None else ():
            idx = order[start : start + batch_size]
            state.iteration += 1
            state.batch = idx
            for cb in callbacks:
                cb.on_iteration_begin(state)
            xb = X[idx]
            with _divergence_is_checked():
                out = net(xb)
                batch_loss = loss_fn(
                    out, loss_targets(y[idx], out.shape[1], loss, out.dtype)
                )
            if not math.isfinite(batch_loss):
                raise _diverged(
                    epoch, state.iteration, lr, f"the loss became {batch_loss}"
                )
            opt.zero_grad()
            try:
                with _divergence_is_checked():
                    net.backward(loss_fn.backward())
                    opt.step()
            except DivergenceError:
                raise _diverged(
                    epoch, state.iteration, lr, "an update made a parameter non-finite"
                ) from None
            for cb in callbacks:
                cb.on_iteration_end(state)
        history.iterations = state.iteration
        measure = evaluate if runner is None else runner.evaluate
        with _divergence_is_checked():
            tl, ta = measure(net, X, y, loss)
        history.loss.append(tl)
        history.accuracy.append(ta)
        monitored = tl
        if validation is not None:
            with _divergence_is_checked():
                vl, va = measure(net, Xv, yv, loss)
            history.val_loss.append(vl)
            history.val_accuracy.append(va)
            monitored = vl
        if not math.isfinite(monitored):
            raise _diverged(epoch, state.iteration, lr, f"the loss became {monitored}")
        for cb in callbacks:
            cb.on_epoch_end(state)
        if early_stopping is not None:
            if monitored < best:
                best, best_params, since_best = monitored, net.state_dict(), 0
            else:
                since_best += 1
                if since_best >= early_stopping and best_params is not None:
                    net.load_state_dict(best_params)
                    history.stopped_early = True
                    break
        if state.stop:
            break
    if early_stopping is not None and best_params is not None and monitored > best:
        # The epochs ran out (or a callback stopped) after the best epoch: keep the
        # best parameters, as when patience runs out.
        net.load_state_dict(best_params)
    for cb in callbacks:
        cb.on_train_end(state)
    return history


def _divergence_is_checked() -> np.errstate:
    """Let overflow and NaN through silently where training checks for them itself.

    Too large an eta shows as an overflow (inf) and then NaN in the forward pass, the
    loss, the gradients or the update. ``train`` tests the loss and every new
    parameter with ``isfinite`` and raises ``DivergenceError``, so NumPy's own
    warnings (or ``FloatingPointError`` under a caller's strict ``np.errstate``) would
    only hide that clear message behind a less useful one.
    """
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def _diverged(epoch: int, iteration: int, lr: float, what: str) -> DivergenceError:
    return DivergenceError(
        f"training diverged at epoch {epoch}, iteration {iteration} with lr={lr:g}: "
        f"{what}; the last finite parameters were kept. Try a smaller learning rate "
        f"(eta), e.g. lr={lr / 10:g}",
        epoch=epoch,
        iteration=iteration,
        lr=lr,
    )
