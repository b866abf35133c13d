"""``train``'s fast path: one epoch of one network in compiled code.

``pick_runner`` decides whether the fast path applies (``spec.fast_reason``) and
returns a ``retroprop.training.Runner`` (``run_epoch(order, epoch, iteration)`` and
``evaluate(net, X, y, loss)``) or None with the reason; ``train`` keeps its own loop
over epochs, History, callbacks and early stopping, so only the inner loop over
batches is swapped for the NumPy engine's ``EngineRunner``.
"""

from __future__ import annotations

import math
import os

import numpy as np

from retroprop.engine.layers import Sequential
from retroprop.errors import ConfigError, DivergenceError
from retroprop.fast.flat import FlatParameters
from retroprop.fast.spec import Layout, fast_reason
from retroprop.training.runner import Runner


def pick_runner(
    net: Sequential,
    X: np.ndarray,
    y: np.ndarray,
    *,
    engine: str,
    loss: str,
    optimizer: str,
    callbacks,
    batch_size: int,
    opt,
    epochs: int | None = None,
) -> tuple[Runner | None, str | None]:
    """``(runner, None)`` for this training run, or ``(None, reason)`` when the fast
    path does not apply and the NumPy engine should run (``reason`` says why).

    The BLAS runner for large batches of a large network (``BLAS_WORK``), else the
    compiled per-sample loops. Raises ``ConfigError`` when ``engine="fast"`` and the
    fast path does not apply. Given the run's ``epochs`` under ``engine="auto"``, a
    short run whose kernels this machine has not compiled yet runs on the NumPy
    engine while another process compiles them (``firstrun``).
    """
    reason = fast_reason(net, loss=loss, optimizer=optimizer, callbacks=callbacks, y=y)
    if reason is not None:
        if engine == "fast":
            raise ConfigError(
                f"engine='fast' cannot train this: {reason}; "
                f"use engine='auto' or 'numpy'"
            )
        return None, reason
    layout = Layout.of(net)
    if batch_size * layout.size >= BLAS_WORK and _have_scipy():
        from retroprop.fast.blas import BlasRunner

        return BlasRunner(
            net, X, y, loss=loss, batch_size=batch_size, opt=opt, callbacks=callbacks
        ), None
    key = _ready_key(layout, loss, net.dtype)
    if (
        engine == "auto"
        and epochs is not None
        and _compiling_in_background(
            net, X.shape[0], loss, epochs, batch_size, layout, key
        )
    ):
        return None, FIRST_RUN
    return FastRunner(
        net,
        X,
        y,
        loss=loss,
        batch_size=batch_size,
        opt=opt,
        callbacks=callbacks,
        layout=layout,
        ready_key=key,
    ), None


FIRST_RUN = (
    "the compiled kernels for this network are being compiled in the background "
    "(the first run of its shape on this machine); this short run used the NumPy "
    "engine"
)


def _compiling_in_background(
    net: Sequential,
    n: int,
    loss: str,
    epochs: int,
    batch_size: int,
    layout: Layout | None = None,
    key: tuple | None = None,
) -> bool:
    """Whether this run takes the NumPy engine while its kernels compile elsewhere
    (``key``: ``_ready_key``'s, if known)."""
    from retroprop.fast import firstrun

    layout = Layout.of(net) if layout is None else layout
    key = _ready_key(layout, loss, net.dtype) if key is None else key
    if key in _ready_here:
        return False
    job = firstrun.job("single", _shape(net), loss, net.dtype)
    if firstrun.ready(job):
        _ready_here.add(key)
        return False
    steps = epochs * -(-n // batch_size)
    seconds = firstrun.numpy_seconds(steps, epochs * n, layout.size)
    return seconds <= firstrun.NUMPY_BUDGET and firstrun.compile_in_background(job)


CACHE_VARIABLES = (
    "RETROPROP_CACHE_DIR",
    "NUMBA_CACHE_DIR",
    "XDG_CACHE_HOME",
    "LOCALAPPDATA",
)
"""The variables ``codegen.source_dir`` reads (where the markers are)."""

_ready_here: set[tuple] = set()
"""The network shapes whose kernels this process has found ready (``firstrun``
markers are never taken back), so that a later run asks no file."""


def _ready_key(layout: Layout, loss: str, dtype) -> tuple:
    """What a network's ``firstrun`` marker depends on, read from its layout (and
    the variables that say where the markers are)."""
    return (
        tuple(os.environ.get(v) for v in CACHE_VARIABLES),
        loss,
        np.dtype(dtype).name,
        *(
            tuple(a.tolist())
            for a in (layout.kinds, layout.widths, layout.b_off, layout.slopes)
        ),
    )


def _shape(net: Sequential) -> list[dict]:
    """The network's config without its layer names (the kernels do not use them)."""
    return [
        {k: v for k, v in entry.items() if k != "module_name"} for entry in net.config()
    ]


def make_runner(
    net: Sequential,
    X: np.ndarray,
    y: np.ndarray,
    *,
    engine: str,
    loss: str,
    optimizer: str,
    callbacks,
    batch_size: int,
    opt,
) -> Runner | None:
    """``pick_runner`` without the reason: a fast runner, or None."""
    return pick_runner(
        net,
        X,
        y,
        engine=engine,
        loss=loss,
        optimizer=optimizer,
        callbacks=callbacks,
        batch_size=batch_size,
        opt=opt,
    )[0]


def _have_scipy() -> bool:
    """The BLAS runner calls SciPy's BLAS (part of the ``fast`` extra)."""
    try:
        import scipy.linalg.blas  # noqa: F401
    except ImportError:
        return False
    return True


BLAS_WORK = 200_000
"""Batch size times parameter count from which the BLAS runner beats the per-sample
loops (below it the loops' lack of call overhead wins; measured on Iris-sized and
MNIST-sized networks)."""


class FastRunner(FlatParameters):
    """Runs ``train``'s epochs with ``train_epoch`` (``codegen.kernels_for``: this
    network's kernels, else the general ``kernels``) on a flat copy of the
    parameters; the network's arrays are views into it, so every change is seen.
    A ``retroprop.training.Runner``.

    Parameters
    ----------
    net : Sequential
    X : ndarray of shape (n, n_features), in the network's dtype
    y : ndarray of shape (n,)
    loss : str
    batch_size : int
    opt : SGD
        Its settings (lr, momentum, dampening, weight_decay, nesterov) are used.
    callbacks : iterable of Callback
        The ``RecordParameter`` among them are recorded inside the compiled loop.
    """

    name = "fast"
    compiled = False  # whether run_all has run (its kernel is compiled)

    def __init__(
        self,
        net: Sequential,
        X: np.ndarray,
        y: np.ndarray,
        *,
        loss: str,
        batch_size: int,
        opt,
        callbacks=(),
        layout: Layout | None = None,
        ready_key: tuple | None = None,
    ):
        from retroprop.fast import codegen
        from retroprop.fast.spec import LOSS_CODES

        self.net, self.loss, self.batch_size = net, loss, int(batch_size)
        self.layout = Layout.of(net) if layout is None else layout
        # This network's own kernels (its shape compiled in), or the general ones.
        self.k = codegen.kernels_for(self.layout, LOSS_CODES[loss])
        self.dtype = net.dtype
        self.theta = self.layout.flatten(net)
        self.views = self.layout.views(self.theta)
        self.params = dict(net.named_parameters())
        self._attach()
        dt = self.dtype.type
        self.lr, self.momentum = dt(opt.lr), dt(opt.momentum)
        self.one_minus_damp = dt(1.0 - opt.dampening)
        self.weight_decay, self.nesterov = dt(opt.weight_decay), bool(opt.nesterov)
        self.buf = np.zeros_like(self.theta)
        self.first = np.ones(1, dtype=np.int64)
        self.loss_code = LOSS_CODES[loss]
        self.X_given, self.y_given = X, y  # to recognise the training set in evaluate
        self.X = np.ascontiguousarray(X)
        self.y, self.T = self._labels(y)
        self.arch = self.layout.arch
        self._recording(callbacks)
        per_epoch = -(-self.X.shape[0] // self.batch_size)
        self.recorded = np.empty((per_epoch, self.record.size), dtype=self.dtype)
        self.running = (math.nan, math.nan)
        self.ready_key = ready_key

    def run_epoch(self, order: np.ndarray, epoch: int, iteration: int) -> int:
        """Train one epoch in ``order``; returns the iteration count after it.

        Raises ``DivergenceError`` as ``train`` does, the parameters left at the last
        finite ones.
        """
        self._attach()
        recorded = self.recorded
        if recorded.shape[0] * self.batch_size < order.shape[0]:  # a longer order
            recorded = np.empty(
                (-(-order.shape[0] // self.batch_size), self.record.size), self.dtype
            )
        status, its, batch_loss, total, correct = self.k.train_epoch(
            self.theta,
            self.buf,
            self.first,
            self.X,
            self.y,
            self.T,
            np.ascontiguousarray(order, dtype=np.int64),
            self.batch_size,
            self.lr,
            self.momentum,
            self.one_minus_damp,
            self.weight_decay,
            self.nesterov,
            self.loss_code,
            *self.arch,
            self._loss_max(),
            self.record,
            recorded,
        )
        if self.recorders:  # the failed iteration's too, as the engine records it
            self._hand_over(recorded[:its], iteration + 1, epoch)
        if status == self.k.LOSS_NOT_FINITE:
            raise DivergenceError.at(
                epoch,
                iteration + its,
                float(self.lr),
                f"the loss became {self._loss_text(batch_loss)}",
            )
        if status == self.k.STEP_NOT_FINITE:
            raise DivergenceError.at(
                epoch,
                iteration + its,
                float(self.lr),
                "an update made a parameter non-finite",
            )
        n = max(order.shape[0], 1)
        k = 1 if self.loss_code == 0 else self.net.out_features
        self.running = (total / (n * k), correct / n)
        return iteration + its

    def evaluate(
        self, net: Sequential, X: np.ndarray, y: np.ndarray, loss: str
    ) -> tuple[float, float]:
        """``(mean loss, accuracy)`` as ``train.evaluate``, compiled."""
        self._attach()
        if self._is_training_set(X, y):
            yf, T = self.y, self.T
        else:
            X = np.ascontiguousarray(X, dtype=self.dtype)
            yf, T = self._labels(y)
        lo, ac = self.k.evaluate(self.theta, X, yf, T, self.loss_code, *self.arch)
        k = 1 if self.loss_code == self.k.CROSS_ENTROPY else self.net.out_features
        if lo * (X.shape[0] * k) > self._loss_max():  # the engine's sum overflows
            lo = np.inf
        return float(lo), float(ac)

    def run_all(
        self,
        orders: np.ndarray,
        history,
        full: bool,
        validation: tuple[np.ndarray, np.ndarray] | None,
        stopper=None,
    ) -> bool:
        """The whole run in compiled code (``train_run``): an epoch per row of
        ``orders`` (shape ``(epochs, n)``), ``history`` (a History) filled as
        ``train``'s loop fills it (continuing after the epochs it holds: a run may
        come in pieces), the recorders given every iteration. For runs
        where nothing needs Python between epochs. Raises ``DivergenceError`` as
        ``run_epoch`` does; a non-finite measured loss ends the run and the
        History (``train`` checks it as after every epoch). ``stopper``: a plain
        ``EarlyStopping`` (``stopped_by_runner``), judged inside the run after each
        epoch and left as its ``on_epoch_end`` would leave it; returns whether it
        stopped the run."""
        self._attach()
        epochs, n = orders.shape
        epoch0, iteration0 = history.epochs, history.iterations  # done before
        per_epoch = -(-n // self.batch_size)
        recorded = np.empty((epochs * per_epoch, self.record.size), dtype=self.dtype)
        if validation is not None:
            Xv = np.ascontiguousarray(validation[0], dtype=self.dtype)
            yv, Tv = self._labels(validation[1])
        else:
            Xv, yv, Tv = self.X[:0], self.y[:0], self.T[:0]  # no rows
        measured = np.zeros((epochs, 4))
        patience = 0 if stopper is None else stopper.patience
        best_epoch = 0 if stopper is None else stopper.best_epoch or 0
        stopping = np.array(
            [stopper.best, best_epoch, stopper.since_best, epoch0]
            if stopper is not None
            else [np.inf, 0, 0, epoch0],
            dtype=np.float64,
        )
        best_theta = np.empty_like(self.theta) if stopper is not None else self.theta
        first_call = not self.compiled
        status, done, its, lo = self.k.train_run(
            self.theta,
            self.buf,
            self.first,
            self.X,
            self.y,
            self.T,
            np.ascontiguousarray(orders, dtype=np.int64),
            self.batch_size,
            self.lr,
            self.momentum,
            self.one_minus_damp,
            self.weight_decay,
            self.nesterov,
            self.loss_code,
            *self.arch,
            self._loss_max(),
            self.record,
            recorded,
            full,
            Xv,
            yv,
            Tv,
            measured,
            patience,
            stopping,
            best_theta,
        )
        if first_call:  # compiled (or loaded from the cache) on this machine
            self.compiled = True
            key = self.ready_key or _ready_key(self.layout, self.loss, self.dtype)
            if key not in _ready_here:
                from retroprop.fast import firstrun

                job = firstrun.job("single", _shape(self.net), self.loss, self.dtype)
                if not firstrun.ready(job):
                    firstrun.mark_ready(job)
                _ready_here.add(key)
        if self.recorders:  # row i: iteration i + 1 of epoch i // per_epoch + 1
            for e in range(done):
                first = e * per_epoch
                rows = recorded[first : min(first + per_epoch, its)]
                self._hand_over(rows, iteration0 + first + 1, epoch0 + e + 1)
        filled = done if status in (self.k.OK, self.k.EVAL_NOT_FINITE) else done - 1
        columns = measured[:filled].T.tolist()  # Python floats
        history.loss += columns[0]
        history.accuracy += columns[1]
        if validation is not None:
            history.val_loss += columns[2]
            history.val_accuracy += columns[3]
        stopped = False
        # the epochs the stopper judged (not one whose measured loss is not finite:
        # train's check ends the run before callbacks see it)
        judged = filled - (status == self.k.EVAL_NOT_FINITE)
        if stopper is not None and judged > 0:
            new_best = int(stopping[1])
            stopper.took_over(
                float(stopping[0]),
                new_best,
                int(stopping[2]),
                float(measured[judged - 1, 2 if validation is not None else 0]),
                {k: v.copy() for k, v in self.layout.views(best_theta).items()}
                if new_best != best_epoch
                else stopper.best_params,
            )
            stopped = history.stopped_early = stopper.stopped
        its += iteration0
        done += epoch0
        history.iterations = int(its)
        lr = float(self.lr)
        if status == self.k.LOSS_NOT_FINITE:
            why = f"the loss became {self._loss_text(lo)}"
            raise DivergenceError.at(done, its, lr, why)
        if status == self.k.STEP_NOT_FINITE:
            why = "an update made a parameter non-finite"
            raise DivergenceError.at(done, its, lr, why)
        # EVAL_NOT_FINITE: the History ends with the non-finite loss, which
        # train's own check after the run reports, as after each epoch.
        return stopped
