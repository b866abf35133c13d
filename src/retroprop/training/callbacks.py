"""What training reports and how code hooks into it: History, TrainState, callbacks.

``Callback`` is the base every hook subclasses (``train`` calls its methods);
``acts_per_iteration`` tells the compiled paths, which run whole epochs at once,
whether a callback needs to see every iteration. ``EarlyStopping`` is
``train(early_stopping=N)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from retroprop.engine.layers import Sequential
from retroprop.errors import ConfigError
from retroprop.i18n import _


@dataclass
class History:
    """What training measured, one entry per epoch (after that epoch's updates).

    Attributes
    ----------
    loss, accuracy : list of float
        On the training set: measured on the whole set after the epoch's updates
        when ``loss_kind == "full"``, or the running mean over the epoch's batches,
        each measured just before its update (as Keras and scikit-learn report),
        when ``loss_kind == "running"``.
    val_loss, val_accuracy : list of float
        On the validation set (empty without one).
    iterations : int
        Parameter updates made.
    stopped_early : bool
        Whether early stopping ended training.
    engine : str
        Which engine ran the epochs: ``"numpy"`` (the reference), ``"fast"`` (the
        compiled per-sample loops) or ``"blas"`` (the compiled large-batch path).
    engine_reason : str or None
        Under ``engine="auto"``, why the compiled paths did not apply (e.g. a
        callback acts on every iteration); None when they ran or were not asked for.
    loss_kind : str
        ``"full"`` or ``"running"``: what ``loss`` and ``accuracy`` measure (see
        above; ``train(history=...)`` chooses).
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    iterations: int = 0
    stopped_early: bool = False
    engine: str = "numpy"
    engine_reason: str | None = None
    loss_kind: str = "full"

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
            "loss_kind": self.loss_kind,
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
        h = [_("epoch"), _("loss"), _("accuracy")]
        return [*h, _("val. loss"), _("val. accuracy")] if self.val_loss else h

    def _title(self) -> str:
        """``History: 30 epochs, 3600 updates`` in the language in use."""
        early = _(", stopped early") if self.stopped_early else ""
        return _("History: {epochs} epochs, {updates} updates{early}").format(
            epochs=self.epochs, updates=self.iterations, early=early
        )

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
    """Hooks into ``train``; override what you need. All receive the ``TrainState``.

    A callback that overrides ``on_iteration_begin``/``on_iteration_end`` (or sets
    ``per_iteration = True``) makes ``train`` use the NumPy engine, which calls them.
    """

    per_iteration = False  # True when on_iteration_begin/end do something
    # True when on_epoch_end only shows progress: the compiled whole run (no Python
    # between epochs) then calls it at intervals, with the epochs done so far.
    progress_only = False

    def on_train_begin(self, state: TrainState) -> None: ...
    def on_epoch_begin(self, state: TrainState) -> None: ...
    def on_iteration_begin(self, state: TrainState) -> None: ...
    def on_iteration_end(self, state: TrainState) -> None: ...
    def on_epoch_end(self, state: TrainState) -> None: ...
    def on_train_end(self, state: TrainState) -> None: ...


ITERATION_HOOKS = ("on_iteration_begin", "on_iteration_end")


def acts_per_iteration(cb) -> bool:
    """Whether the callback ``cb`` does something on every iteration.

    True when it says so (``per_iteration = True``) or when it defines its own
    ``on_iteration_begin``/``on_iteration_end`` (a subclass of ``Callback`` that
    overrides one, a callback of another class that has one, or one set on the
    instance): the compiled paths never call those hooks, so such a callback needs
    the NumPy loop even when it forgot the flag.
    """
    if getattr(cb, "per_iteration", False):
        return True
    for hook in ITERATION_HOOKS:
        if hook in getattr(cb, "__dict__", {}):
            return True
        mine = getattr(type(cb), hook, None)
        if mine is not None and mine is not getattr(Callback, hook):
            return True
    return False


class EarlyStopping(Callback):
    """Stop when the monitored loss has not improved for ``patience`` epochs.

    The monitored loss is the validation loss when ``train`` has validation data,
    else the training loss. Either way, training ends with the parameters of the
    epoch whose monitored loss was lowest (``History`` still lists every epoch), also
    when the epochs run out or another callback stops training first.
    ``train(early_stopping=N)`` is ``train(callbacks=[EarlyStopping(N), ...])``.

    Parameters
    ----------
    patience : int
        Epochs without a new lowest loss before stopping (at least 1).

    Attributes
    ----------
    best : float
        The lowest monitored loss seen.
    best_epoch : int or None
        Its epoch (1-based).
    """

    def __init__(self, patience: int):
        if (
            isinstance(patience, bool)
            or not isinstance(patience, (int, np.integer))
            or patience < 1
        ):
            raise ConfigError(
                _("early_stopping must be a positive integer, got {patience!r}").format(
                    patience=patience
                )
            )
        self.patience = int(patience)

    def on_train_begin(self, state: TrainState) -> None:
        self.best = math.inf
        self.best_epoch: int | None = None
        self.since_best, self.last = 0, math.inf
        self.best_params: dict | None = None
        self.stopped = False

    def on_epoch_end(self, state: TrainState) -> None:
        h = state.history
        assert h is not None  # train always passes its History
        self.last = h.val_loss[-1] if h.val_loss else h.loss[-1]
        if self.last < self.best:
            self.best, self.best_epoch = self.last, state.epoch
            self.best_params, self.since_best = state.net.state_dict(), 0
            return
        self.since_best += 1
        if self.since_best >= self.patience:
            self.stopped = state.stop = h.stopped_early = True

    def took_over(
        self, best: float, best_epoch: int, since_best: int, last: float, best_params
    ) -> None:
        """What ``on_epoch_end`` would have left after the epochs a compiled whole
        run judged itself (``stopped_by_runner``): the same attributes, so that
        ``on_train_end`` keeps the best parameters as after the Python loop."""
        self.best, self.since_best, self.last = best, since_best, last
        if best_epoch:
            self.best_epoch, self.best_params = best_epoch, best_params
        self.stopped = since_best >= self.patience

    def on_train_end(self, state: TrainState) -> None:
        # Patience ran out, or the epochs ran out (or a callback stopped) after the
        # best epoch: keep the best parameters.
        if self.best_params is not None and (self.stopped or self.last > self.best):
            state.net.load_state_dict(self.best_params)


class RecordParameter(Callback):
    """Records a parameter before and after every update (the lecture's exercise 4).

    ``RecordParameter("fc3.bias")`` (``"4.bias"`` on an unnamed network) keeps the
    last layer's bias as it was before each update in ``values`` and as the update
    left it in ``after`` (one copy per iteration), with the iteration numbers
    (1-based) in ``iterations``, epochs in ``epochs`` and the rows of ``X`` the
    update used in ``samples``. Given the training data ``X, y``, it also keeps what
    the hand update needs: each sample's true class ``r`` in ``targets`` and the
    probabilities ``p_i = softmax(out)_i`` the network gave it before the update in
    ``probabilities``.

    Without ``X`` and ``y`` the compiled paths record it inside their loops (the
    run is the same as without it); they record ``values`` and ``after`` but not
    ``samples``. With ``X`` or ``y``, training runs on the NumPy engine.

    Parameters
    ----------
    name : str
        A name of ``net.state_dict()``.
    X : ndarray of shape (n_samples, n_features), optional
    y : ndarray of shape (n_samples,), optional
        The arrays given to ``train`` (``state.batch`` indexes them).

    Attributes
    ----------
    values, after : list of ndarray, each shaped like the parameter
    iterations, epochs : list of int
    samples : list of ndarray of shape (batch,)
        Empty when a compiled path recorded (no ``X``, ``y``).
    targets : list of ndarray of shape (batch,)
        Empty without ``y``.
    probabilities : list of ndarray of shape (batch, k)
        Empty without ``X``.
    """

    per_iteration = True

    def __init__(
        self, name: str, X: np.ndarray | None = None, y: np.ndarray | None = None
    ):
        self.name = name
        self.X = None if X is None else np.asarray(X)
        self.y = None if y is None else np.asarray(y)
        self.values: list[np.ndarray] = []
        self.after: list[np.ndarray] = []
        self.iterations: list[int] = []
        self.epochs: list[int] = []
        self.samples: list[np.ndarray] = []
        self.targets: list[np.ndarray] = []
        self.probabilities: list[np.ndarray] = []

    def on_train_begin(self, state: TrainState) -> None:
        names = [n for n, _ in state.net.named_parameters()]
        if self.name not in names:
            raise ConfigError(
                _(
                    "no parameter named {name!r}; the network's parameters are {value}"
                ).format(name=self.name, value=", ".join(names))
            )
        self._param = dict(state.net.named_parameters())[self.name]

    def on_iteration_begin(self, state: TrainState) -> None:
        self.values.append(self._param.data.copy())
        self.iterations.append(state.iteration)
        self.epochs.append(state.epoch)
        idx = np.asarray(state.batch if state.batch is not None else [], dtype=int)
        self.samples.append(idx.copy())
        if self.y is not None:
            self.targets.append(self.y[idx].copy())
        if self.X is not None:
            from retroprop.engine.losses import softmax

            # the forward the update is about to run, seen from here: p = softmax(out)
            self.probabilities.append(softmax(state.net(self.X[idx])))

    def on_iteration_end(self, state: TrainState) -> None:
        self.after.append(self._param.data.copy())

    def on_train_end(self, state: TrainState) -> None:
        # The compiled paths hand over the values before each update (``add``): the
        # value after the last one is the parameter as training left it.
        if len(self.after) < len(self.values):
            self.after.append(self._param.data.copy())

    def add(self, values: np.ndarray, first_iteration: int, epoch: int) -> None:
        """Record ``values`` of shape ``(m, *parameter shape)``: the parameter before
        iterations ``first_iteration .. first_iteration + m - 1`` of ``epoch`` (how
        the compiled paths, which record inside their loops, hand them over). Each
        value is also the one after the iteration before it (``after``); the last
        ``after`` is completed at the end of training. The compiled paths record no
        ``samples`` (a recorder given ``X`` or ``y`` runs on the NumPy engine)."""
        for i, v in enumerate(values):
            if len(self.after) < len(self.values):  # the previous update's result
                self.after.append(v.copy())
            self.values.append(v.copy())
            self.iterations.append(first_iteration + i)
            self.epochs.append(epoch)


def stopped_by_runner(cb) -> bool:
    """Whether ``cb`` is a plain ``EarlyStopping``, which the compiled whole run
    judges itself after each epoch (its hooks as they are in this module); a
    subclass that changes a hook needs Python between epochs."""
    if type(cb) is not EarlyStopping:
        return False
    return not any(
        hook in getattr(cb, "__dict__", {})
        for hook in ("on_epoch_end", "on_train_begin", "on_train_end")
    )


def recorded_by_runner(cb) -> bool:
    """Whether ``cb`` is a plain ``RecordParameter``, whose recording the compiled
    paths do themselves (so recording never changes which engine runs, nor the
    result); a subclass that changes its hooks is run by the NumPy engine, and so
    is a recorder given ``X`` or ``y``: each sample's class ``r`` and
    probabilities ``p_i`` are computed in Python before every update."""
    if not isinstance(cb, RecordParameter):
        return False
    if cb.X is not None or cb.y is not None:
        return False
    if any(hook in getattr(cb, "__dict__", {}) for hook in ITERATION_HOOKS):
        return False
    return all(
        getattr(type(cb), hook) is getattr(RecordParameter, hook)
        for hook in (*ITERATION_HOOKS, "add")
    )


class ProgressCallback(Callback):
    """Calls ``fn(epoch, epochs, history)`` after every epoch (for progress bars);
    when the whole run is compiled, at intervals (``progress_only``)."""

    progress_only = True

    def __init__(self, fn: Callable[[int, int, History], None], epochs: int):
        self.fn, self.epochs = fn, epochs

    def on_epoch_end(self, state: TrainState) -> None:
        assert state.history is not None
        self.fn(state.epoch, self.epochs, state.history)
