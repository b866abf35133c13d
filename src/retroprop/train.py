"""The training loop: epochs of forward, loss, backward, step; a History per epoch.

``train`` is the lecture's loop (``batch_size=1``: one sample, one update) generalised
to mini-batches and full-batch gradient descent. Each iteration is the shared
``retroprop.training.TrainingStep`` (or, on the fast path, the compiled kernels
tested against it); callbacks see every epoch and, on the NumPy engine, every
iteration, which is how ``--record-bias`` saves the last layer's bias before each
update. ``advance_to_step`` makes the first ``K - 1`` updates of the same run (what
``explain --step K`` explains the K-th of).

History, callbacks, ``check_xy``, ``loss_targets`` and ``evaluate`` live in
``retroprop.training`` (below this module and ``retroprop.fast``, which share them)
and are importable from here as before.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from retroprop.engine.init import as_generator
from retroprop.engine.layers import Sequential
from retroprop.engine.losses import LOSSES, softmax
from retroprop.engine.optim import OPTIMIZERS
from retroprop.errors import ConfigError, DivergenceError, NotDifferentiableError
from retroprop.i18n import _
from retroprop.training.callbacks import (
    Callback,
    EarlyStopping,
    History,
    ProgressCallback,
    RecordParameter,
    TrainState,
    recorded_by_runner,
    stopped_by_runner,
)
from retroprop.training.checks import check_xy
from retroprop.training.divergence import (
    chance_loss,
    data_advice,
    describe,
    judge,
    output_spread,
)
from retroprop.training.runner import (
    ENGINES,
    HISTORY_KINDS,
    EngineRunner,
    Runner,
    batches,
    epoch_order,
    history_kind,
)
from retroprop.training.step import (
    check_loss,
    divergence_is_checked,
    evaluate,
    loss_targets,
)

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "ProgressCallback",
    "RecordParameter",
    "StepPosition",
    "TrainState",
    "advance_to_step",
    "check_xy",
    "evaluate",
    "loss_targets",
    "predict",
    "predict_proba",
    "train",
]


PROGRESS_UPDATES = 20
"""How often a compiled whole run stops to show progress (when a callback does)."""


def predict_proba(net: Sequential, X: np.ndarray) -> np.ndarray:
    """Softmax of the network's outputs, shape ``(n_samples, n_classes)``."""
    return softmax(net(X))


def predict(net: Sequential, X: np.ndarray) -> np.ndarray:
    """The class with the largest output, shape ``(n_samples,)``."""
    return np.argmax(net(X), axis=1)


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
    history: str = "auto",
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
        whose monitored loss was lowest (History still lists every epoch). The same
        as ``callbacks=[EarlyStopping(early_stopping), ...]``.
    callbacks : iterable of Callback
    engine : {"auto", "fast", "numpy"}
        ``"numpy"`` runs the engine's modules step by step (the reference);
        ``"fast"`` the compiled kernels of ``retroprop.fast`` (Sequential of Linear
        and differentiable activations, cross-entropy or MSE, SGD, no per-iteration
        callback, Numba installed), which give the same parameters to rounding;
        ``"auto"`` (default) the fast path where it applies, else the NumPy engine
        (``History.engine`` says which ran, ``History.engine_reason`` why not the
        fast path); a machine's first short run of a network shape takes the NumPy
        engine while another process compiles its kernels
        (``retroprop.fast.firstrun``).
    history : {"auto", "full", "running"}
        What ``History.loss``/``accuracy`` measure after each epoch: ``"full"`` the
        whole training set after the epoch's updates (one more forward pass over
        it), ``"running"`` the mean over the epoch's batches, each measured before
        its update (as Keras and scikit-learn report; costs nothing); ``"auto"``
        (default) full while that pass is cheap (samples x parameters up to
        ``FULL_HISTORY_WORK``), else running. ``History.loss_kind`` says which.
        Validation data is always measured in full.

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
            _("net must be a retroprop Sequential, got {name}").format(
                name=type(net).__name__
            )
        )
    steps = [m for m in net if not getattr(m, "differentiable", True)]
    if steps:
        from retroprop.engine.activations import STEP_WHY

        raise NotDifferentiableError(
            _("cannot train this network: {why}").format(why=_(STEP_WHY))
        )
    if loss not in LOSSES:
        raise ConfigError(
            _("loss must be one of {LOSSES}, got {loss!r}").format(
                LOSSES=sorted(LOSSES), loss=loss
            )
        )
    if engine not in ENGINES:
        raise ConfigError(
            _("engine must be one of {ENGINES}, got {engine!r}").format(
                ENGINES=list(ENGINES), engine=engine
            )
        )
    if history not in HISTORY_KINDS:
        raise ConfigError(
            _("history must be one of {HISTORY_KINDS}, got {history!r}").format(
                HISTORY_KINDS=list(HISTORY_KINDS), history=history
            )
        )
    if optimizer not in OPTIMIZERS:
        raise ConfigError(
            _("optimizer must be one of {OPTIMIZERS}, got {optimizer!r}").format(
                OPTIMIZERS=sorted(OPTIMIZERS), optimizer=optimizer
            )
        )
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ConfigError(
            _("epochs must be an integer >= 0, got {epochs!r}").format(epochs=epochs)
        )
    X, y = check_xy(X, y, net, loss=loss)
    X = X.astype(net.dtype, copy=False)
    n = X.shape[0]
    if batch_size is None:
        batch_size = n
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(
            _(
                "batch_size must be a positive integer or None, got {batch_size!r}"
            ).format(batch_size=batch_size)
        )
    callbacks = list(callbacks)
    if early_stopping is not None:
        # First, so that its on_train_end restores the best parameters before the
        # other callbacks' on_train_end see the network (as they always have).
        callbacks.insert(0, EarlyStopping(early_stopping))
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise ConfigError(_("validation must be a pair (X_val, y_val)"))
        Xv, yv = check_xy(*validation, net=net, what="validation X", loss=loss)
    biggest = float(np.finfo(net.dtype).max)
    if isinstance(lr, (int, float, np.number)) and abs(float(lr)) > biggest:
        raise ConfigError(
            _(
                "lr={lr:g} does not fit in the network's {dtype} (largest {biggest:g}); "
                "use a smaller lr"
            ).format(lr=float(lr), dtype=net.dtype, biggest=biggest)
        )
    opt = OPTIMIZERS[optimizer](
        net.parameters(),
        lr=lr,
        momentum=momentum,
        dampening=dampening,
        weight_decay=weight_decay,
        nesterov=nesterov,
    )
    rng = as_generator(seed)
    hist = History(
        loss_kind=history_kind(history, n, sum(p.data.size for p in net.parameters()))
    )
    full = hist.loss_kind == "full"
    state = TrainState(net=net, history=hist)
    runner: Runner | None = None
    if engine != "numpy":
        from retroprop.fast.single import pick_runner

        runner, hist.engine_reason = pick_runner(
            net,
            X,
            y,
            engine=engine,
            loss=loss,
            optimizer=optimizer,
            callbacks=callbacks,
            batch_size=batch_size,
            opt=opt,
            epochs=int(epochs),
        )
    if runner is None:
        runner = EngineRunner(
            net,
            X,
            y,
            loss=loss,
            batch_size=batch_size,
            optimizer=opt,
            callbacks=callbacks,
            state=state,
        )
    hist.engine = runner.name
    # Where the run starts, for the one definition of divergence
    # (training.divergence): its loss is measured only when a verdict needs it (a
    # pass of the engine over the whole training set, which most runs never need).
    at_start = _LossAtStart(net, X, y, loss)
    for cb in callbacks:
        cb.on_train_begin(state)
    progress = [cb for cb in callbacks if getattr(cb, "progress_only", False)]
    # at most one EarlyStopping, judged inside the compiled run
    stoppers = [cb for cb in callbacks if stopped_by_runner(cb)][:1]
    try:
        if hasattr(runner, "run_all") and all(
            recorded_by_runner(cb) or cb in progress or cb in stoppers
            for cb in callbacks
        ):
            # Nothing needs Python between epochs: the whole run in compiled code (in
            # a few pieces when progress is shown), drawing the same sample orders
            # from rng as the loop below.
            piece = max(-(-epochs // PROGRESS_UPDATES) if progress else epochs, 1)
            for start in range(0, epochs, piece):
                count = min(piece, epochs - start)
                # count rows of rng.permutation(n), drawn at once (the same
                # numbers: fast.many.epoch_orders, test_epoch_orders_are_trains_orders)
                rows = np.broadcast_to(np.arange(n, dtype=np.int64), (count, n))
                orders = rng.permuted(rows, axis=1) if shuffle else rows
                stopped = runner.run_all(
                    orders.reshape(count, n),
                    hist,
                    full,
                    (Xv, yv) if validation is not None else None,
                    stoppers[0] if stoppers else None,
                )
                state.epoch, state.iteration = hist.epochs, hist.iterations
                last = hist.val_loss or hist.loss
                check_loss(
                    last[-1], epoch=hist.epochs, iteration=hist.iterations, lr=lr
                )
                for cb in progress:
                    cb.on_epoch_end(state)
                if stopped:
                    state.stop = True
                    break
            loop_epochs = 0  # done: the loop below has nothing left to run
        else:
            loop_epochs = epochs
        for epoch in range(1, loop_epochs + 1):
            state.epoch = epoch
            for cb in callbacks:
                cb.on_epoch_begin(state)
            order = epoch_order(rng, n, shuffle)
            state.iteration = runner.run_epoch(order, epoch, state.iteration)
            hist.iterations = state.iteration
            if full:
                with divergence_is_checked():
                    tl, ta = runner.evaluate(net, X, y, loss)
            else:
                tl, ta = runner.running
            hist.loss.append(tl)
            hist.accuracy.append(ta)
            monitored = tl
            if validation is not None:
                with divergence_is_checked():
                    vl, va = runner.evaluate(net, Xv, yv, loss)
                hist.val_loss.append(vl)
                hist.val_accuracy.append(va)
                monitored = vl
            check_loss(monitored, epoch=epoch, iteration=state.iteration, lr=lr)
            for cb in callbacks:
                cb.on_epoch_end(state)
            if state.stop:
                break
    except DivergenceError as err:
        # The runners may hold eta in float32 (rounded, or inf above 3.4e38): name
        # the eta the caller gave, and blame the data when the very start overflowed.
        start_failed = not np.isfinite(at_start.loss())
        raise _diverged(
            err.epoch,
            err.iteration,
            lr,
            err.what,
            data_advice(X, y, loss, None if start_failed else lr),
            hist,
        ) from None
    for cb in callbacks:
        cb.on_train_end(state)
    if epochs:
        _check_ended_well(net, X, y, loss, at_start, lr, hist, runner, callbacks)
    return hist


def _diverged(
    epoch: int,
    iteration: int,
    lr: float,
    what: str,
    advice: str,
    history: History,
    kept: bool = True,
) -> DivergenceError:
    err = DivergenceError.at(
        epoch, iteration, lr, what, advice=advice or None, kept=kept
    )
    err.history = history
    return err


class _LossAtStart:
    """The engine's mean loss of ``net`` with the parameters it has now (the start of
    training), measured on first request, on a copy of ``net``."""

    def __init__(self, net: Sequential, X: np.ndarray, y: np.ndarray, loss: str):
        self.net, self.X, self.y, self.lossname = net, X, y, loss
        self.state = net.state_dict()
        self.value: float | None = None

    def loss(self) -> float:
        if self.value is None:
            probe = copy.deepcopy(self.net)
            probe.load_state_dict(self.state)
            with divergence_is_checked():
                self.value = evaluate(probe, self.X, self.y, self.lossname)[0]
        return self.value


def _check_ended_well(
    net: Sequential,
    X: np.ndarray,
    y: np.ndarray,
    loss: str,
    start: _LossAtStart,
    lr: float,
    history: History,
    runner: Runner,
    callbacks: list,
) -> None:
    """Raise ``DivergenceError`` when the trained network's loss grew far above
    its start or its outputs collapsed (``training.divergence.judge``).

    Most runs end well below the chance loss, which settles it without the
    engine's pass over the training set: the last epoch's History loss says so when
    no callback could have changed the network since, else the runner's own
    (compiled) pass over the training set. Only a run that ends near or above
    chance takes the engine's pass and the judgement. Under ``history="running"``
    the History loss is the last epoch's running mean, as History reports it
    (costing no pass): a network that dies or grows within that epoch shows in it,
    unless it happens so late in the epoch that the mean stays below chance.
    """
    chance = chance_loss(y, net.out_features, loss)
    clear = chance * (1 - 1e-6)  # clear of the engine's own test below
    if history.loss and not callbacks and history.loss[-1] < clear:
        return
    with divergence_is_checked():
        if runner.evaluate(net, X, y, loss)[0] < clear:
            return
    initial = start.loss()
    with divergence_is_checked():
        out = net(X)
        final = float(
            LOSSES[loss]()(out, loss_targets(y, out.shape[1], loss, out.dtype))
        )
    if final < chance * (1 - 1e-9):  # neither growing nor dead: most runs stop here
        return
    kind = judge(initial, final, chance, output_spread(out, X, y, loss))
    if kind is None:
        return
    raise _diverged(
        history.epochs,
        history.iterations,
        lr,
        describe(kind, initial, final, chance),
        "",
        history,
        kept=False,
    )


@dataclass
class StepPosition:
    """Where a training run is at the start of one iteration (see ``advance_to_step``).

    Attributes
    ----------
    iteration : int
        The iteration about to run (1-based); ``iteration - 1`` updates were made.
    epoch : int
        Its epoch (1-based).
    batch : ndarray of shape (B,)
        The training rows it will use.
    """

    iteration: int
    epoch: int
    batch: np.ndarray


def advance_to_step(
    net: Sequential,
    X: np.ndarray,
    y: np.ndarray,
    *,
    step: int,
    lr: float,
    batch_size: int | None = 1,
    loss: str = "cross_entropy",
    shuffle: bool = True,
    seed: int | np.random.Generator | None = 0,
) -> StepPosition:
    """Make the first ``step - 1`` updates of ``train`` on ``net``, in place.

    The same run as ``train(net, X, y, lr=lr, batch_size=batch_size, loss=loss,
    shuffle=shuffle, seed=seed)`` with plain SGD on the NumPy engine: the same sample
    order and the same ``TrainingStep``, stopped at the start of iteration ``step``
    (as ``train`` does after each epoch, a non-finite loss on the whole training set
    counts as divergence). ``explain --step K`` explains the step this returns.

    Parameters
    ----------
    net : Sequential
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    step : int
        The iteration to stop before (1-based): 1 changes nothing.
    lr, batch_size, loss, shuffle, seed
        As in ``train``.

    Returns
    -------
    StepPosition
        The iteration ``step``, its epoch and the rows of its batch.

    Raises
    ------
    DivergenceError
        As ``train``, when an update before ``step`` diverges.
    """
    if not isinstance(step, (int, np.integer)) or isinstance(step, bool) or step < 1:
        raise ConfigError(
            _("step must be a positive integer, got {step!r}").format(step=step)
        )
    if loss not in LOSSES:
        raise ConfigError(
            _("loss must be one of {LOSSES}, got {loss!r}").format(
                LOSSES=sorted(LOSSES), loss=loss
            )
        )
    X, y = check_xy(X, y, net, loss=loss)
    X = X.astype(net.dtype, copy=False)
    n = X.shape[0]
    batch_size = n if batch_size is None else batch_size
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(
            _(
                "batch_size must be a positive integer or None, got {batch_size!r}"
            ).format(batch_size=batch_size)
        )
    opt = OPTIMIZERS["sgd"](net.parameters(), lr=lr)
    runner = EngineRunner(net, X, y, loss=loss, batch_size=batch_size, optimizer=opt)
    rng = as_generator(seed)
    per_epoch = -(-n // batch_size)
    done, epoch = 0, 0
    while True:
        epoch += 1
        order = epoch_order(rng, n, shuffle)
        if step - done <= per_epoch:  # iteration `step` is in this epoch
            before = (step - 1 - done) * batch_size
            runner.run_epoch(order[:before], epoch, done)
            batch = next(batches(order[before:], batch_size))
            return StepPosition(iteration=step, epoch=epoch, batch=batch.copy())
        done = runner.run_epoch(order, epoch, done)
        with divergence_is_checked():
            tl, _accuracy = evaluate(net, X, y, loss)
        check_loss(tl, epoch=epoch, iteration=done, lr=lr)
