"""Many networks of one shape trained at once: ``train_many`` and ``ManyResult``.

Member ``i`` is ``make_net(seeds[i])`` trained by ``retroprop.train`` with
``seed=seeds[i]`` (its own sample order); all members are stacked into arrays of shape
``(N, ...)`` and advanced together. Two engines compute the same thing:

- ``"numpy"``: every step of every member at once with batched matmuls, reusing the
  engine's activation modules and ``log_softmax``;
- ``"fast"``: a compiled kernel per member (``retroprop.fast.kernels``), members in
  parallel threads (float64 only: float32 members take ``"numpy"``).

Both are tested against ``retroprop.train`` run for one seed at a time.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retroprop.engine.init import as_generator
from retroprop.engine.layers import Linear, Sequential
from retroprop.engine.losses import LOSSES, log_softmax
from retroprop.engine.optim import SGD
from retroprop.errors import ConfigError, NotDifferentiableError
from retroprop.fast.spec import Layout, fast_reason
from retroprop.i18n import _
from retroprop.training.checks import check_xy
from retroprop.training.runner import ENGINES
from retroprop.training.step import evaluate, loss_targets

__all__ = ["ENGINES", "ManyResult", "epoch_orders", "sample_orders", "train_many"]


@dataclass
class ManyResult:
    """N trained networks of one shape, stacked.

    Attributes
    ----------
    params : dict of str -> ndarray of shape (N, *param_shape)
        Final parameters, under the networks' ``state_dict`` names.
    loss, accuracy : ndarray of shape (N, epochs)
        On the whole training set after each epoch (as ``History``); NaN from the
        epoch a member diverged on.
    val_loss, val_accuracy : ndarray of shape (N, epochs) or None
        The same on the validation set, when one was given.
    diverged : bool ndarray of shape (N,)
        Members that diverged by ``retroprop.training.divergence``'s definition
        (the one ``train`` raises on). Those whose loss or parameters became
        non-finite keep their last finite parameters and stop, the others continue;
        a loss that grew or a dead network is judged after the last epoch.
    diverged_at : int ndarray of shape (N,)
        The epoch (1-based) a member diverged in, -1 if it did not.
    divergence : str ndarray of shape (N,)
        Per member, the kind of divergence (a key of ``divergence.KINDS``) or ``""``.
    seeds : ndarray of shape (N,)
    iterations : int
        Updates each member that did not diverge made.
    engine : str
        Which engine ran (``"fast"`` or ``"numpy"``).
    """

    params: dict[str, np.ndarray]
    loss: np.ndarray
    accuracy: np.ndarray
    diverged: np.ndarray
    diverged_at: np.ndarray
    seeds: np.ndarray
    iterations: int
    engine: str
    val_loss: np.ndarray | None = None
    val_accuracy: np.ndarray | None = None
    divergence: np.ndarray = field(default_factory=lambda: np.array([], dtype=str))
    _template: Sequential | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.seeds)

    def _repr_html_(self) -> str:
        """How many networks, how many diverged, the spread of their final scores."""
        from retroprop.display import html_block, html_lines, html_table

        ok = ~np.asarray(self.diverged, dtype=bool)
        epochs = self.loss.shape[1] if self.loss.ndim == 2 else 0
        rows = []
        for what, arr in (
            ("final training loss", self.loss),
            ("final training accuracy", self.accuracy),
            ("final validation loss", self.val_loss),
            ("final validation accuracy", self.val_accuracy),
        ):
            if arr is None or not epochs or not ok.any():
                continue
            last = np.asarray(arr)[ok, -1]
            rows.append([what, last.min(), last.mean(), last.max()])
        lines = [
            f"{len(self)} networks ({self.engine} engine), {epochs} epochs, "
            f"{self.iterations} updates each; diverged: {int((~ok).sum())}"
            + (
                f" (seeds {', '.join(str(s) for s in np.asarray(self.seeds)[~ok][:10])})"
                if (~ok).any()
                else ""
            )
        ]
        return html_block(
            "ManyResult",
            html_lines(lines),
            html_table(
                ["over the networks that did not diverge", "min", "mean", "max"], rows
            ),
        )

    def net(self, i: int) -> Sequential:
        """Member ``i`` as a Sequential of its own (a copy)."""
        if not -len(self) <= i < len(self):
            raise IndexError(
                _("member {i} out of range for {n_self} networks").format(
                    i=i, n_self=len(self)
                )
            )
        if self._template is None:
            raise ConfigError(
                _("this ManyResult was built without its networks' shape")
            )
        net = copy.deepcopy(self._template)
        assert net is not None  # train_many always keeps its template
        net.load_state_dict({name: v[i] for name, v in self.params.items()})
        return net


def train_many(
    make_net: Callable[[int], Sequential],
    X: np.ndarray,
    y: np.ndarray,
    *,
    seeds: Iterable[int],
    epochs: int,
    lr: float,
    batch_size: int | None = 1,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    loss: str = "cross_entropy",
    shuffle: bool = True,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    engine: str = "auto",
    client: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> ManyResult:
    """Train ``make_net(s)`` for every ``s`` in ``seeds``, all at once.

    Member ``i`` equals ``retroprop.train(make_net(seeds[i]), X, y, seed=seeds[i],
    ...)`` with the same settings, except that a diverging member is frozen and
    flagged instead of raising.

    Parameters
    ----------
    make_net : callable int -> Sequential
        Builds member ``i`` from ``seeds[i]``, e.g. ``lambda s: rp.mlp([4, 4, 3, 3],
        seed=s)``. Every member must have the same architecture and dtype.
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    seeds : iterable of int, N of them
        Each member's initialisation (through ``make_net``) and sample order.
    epochs, lr, batch_size, momentum, dampening, weight_decay, nesterov, loss, shuffle
        As in ``retroprop.train`` (SGD only).
    validation : (X_val, y_val) or None
        Measured after each epoch into ``val_loss`` and ``val_accuracy``.
    engine : {"auto", "fast", "numpy"}
        ``"auto"`` uses the compiled kernels when Numba is installed and the
        members are float64; float32 members take the NumPy engine (``"fast"``
        refuses them with a ``ConfigError``). A machine's first short run takes the
        NumPy engine while another process compiles the kernels
        (``retroprop.fast.firstrun``; ``ManyResult.engine`` says which ran).
    client : dask.distributed.Client or None
        Split the seeds into blocks trained on the cluster's workers
        (``retroprop.fast.distributed``); the result is bit-identical to a local run.
    progress : callable or None
        With ``client``: ``progress(done, total)`` in networks, after each block.

    Returns
    -------
    ManyResult
    """
    if client is not None:
        call = {k: v for k, v in locals().items() if k not in ("client", "progress")}
        from retroprop.fast.distributed import train_cells

        return train_cells(train_many, [call], client=client, progress=progress)[0]
    if engine not in ENGINES:
        raise ConfigError(
            _("engine must be one of {ENGINES}, got {engine!r}").format(
                ENGINES=list(ENGINES), engine=engine
            )
        )
    seeds = np.array([int(s) for s in seeds], dtype=np.int64)
    if seeds.size == 0:
        raise ConfigError(_("seeds must hold at least one seed"))
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ConfigError(
            _("epochs must be an integer >= 0, got {epochs!r}").format(epochs=epochs)
        )
    if loss not in LOSSES:
        raise ConfigError(
            _("loss must be one of {LOSSES}, got {loss!r}").format(
                LOSSES=sorted(LOSSES), loss=loss
            )
        )
    # Validates lr, momentum, dampening, weight_decay and nesterov as train does.
    SGD(
        [],
        lr=lr,
        momentum=momentum,
        dampening=dampening,
        weight_decay=weight_decay,
        nesterov=nesterov,
    )
    nets = [make_net(int(s)) for s in seeds]
    template = nets[0]
    if not isinstance(template, Sequential):
        raise ConfigError(
            _("make_net must return a retroprop Sequential, got {name}").format(
                name=type(template).__name__
            )
        )
    if not all(getattr(m, "differentiable", True) for m in template):
        from retroprop.engine.activations import STEP_WHY

        raise NotDifferentiableError(
            _("cannot train this network: {why}").format(why=_(STEP_WHY))
        )
    reason = fast_reason(
        template, loss=loss, optimizer="sgd", y=y, check_numba=engine != "numpy"
    )
    if reason is not None and "numba" not in reason:
        raise ConfigError(
            _("train_many cannot train this: {reason}").format(reason=reason)
        )
    if reason is None and template.dtype != np.float64:
        # The compiled kernels compute in float64: a member whose values leave
        # float32's range would be neither frozen nor flagged there.
        reason = (
            f"{template.dtype} is not supported by the compiled many-network "
            f"kernels (only float64)"
        )
    layout = Layout.of(template)
    for i, net in enumerate(nets):
        if (
            not isinstance(net, Sequential)
            or net.config() != template.config()
            or net.dtype != template.dtype
            or Layout.of(net).slopes.tolist() != layout.slopes.tolist()
        ):
            raise ConfigError(
                _(
                    "make_net({seeds}) built a different architecture from "
                    "make_net({seeds2}); every member must match"
                ).format(seeds=seeds[i], seeds2=seeds[0])
            )
    X, y = check_xy(X, y, template, loss=loss)
    X = X.astype(template.dtype, copy=False)
    n = X.shape[0]
    if batch_size is None:
        batch_size = n
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(
            _(
                "batch_size must be a positive integer or None, got {batch_size!r}"
            ).format(batch_size=batch_size)
        )
    if validation is not None:
        Xv, yv = check_xy(*validation, net=template, what="validation X", loss=loss)
        validation = (Xv.astype(template.dtype, copy=False), yv)
    theta = np.stack([layout.flatten(net) for net in nets])
    if engine == "fast" and reason is not None:
        raise ConfigError(
            _("engine='fast' is not available: {reason}").format(reason=reason)
        )
    use = "fast" if engine != "numpy" and reason is None else "numpy"
    if use == "fast" and engine == "auto":
        steps = int(epochs) * -(-n // int(batch_size))
        if _compiling_in_background(steps, int(epochs) * n, layout.size, len(seeds)):
            use = "numpy"
    settings = {
        "epochs": int(epochs),
        "lr": float(lr),
        "batch_size": int(batch_size),
        "momentum": float(momentum),
        "dampening": float(dampening),
        "weight_decay": float(weight_decay),
        "nesterov": bool(nesterov),
        "loss": loss,
        "shuffle": bool(shuffle),
        "validation": validation,
    }
    if use == "fast":
        out = _run_fast(template, layout, theta, X, y, seeds, **settings)
        from retroprop.fast import firstrun

        job = firstrun.job("many", [], loss, np.float64)
        if not firstrun.ready(job):
            firstrun.mark_ready(job)  # compiled (or loaded) on this machine
    else:
        out = _run_numpy(template, layout, theta, X, y, seeds, **settings)
    result = ManyResult(
        params={k: v.copy() for k, v in layout.views(theta).items()},
        seeds=seeds,
        iterations=int(epochs) * -(-n // int(batch_size)),
        engine=use,
        _template=copy.deepcopy(template),
        **out,
    )
    _judge_members(result, nets, X, y, loss)
    return result


def _compiling_in_background(steps: int, samples: int, size: int, members: int) -> bool:
    """Whether this short run takes the NumPy engine while another process compiles
    the many-network kernels (the first run on this machine; ``fast.firstrun``)."""
    from retroprop.fast import firstrun

    job = firstrun.job("many", [], "", np.float64)
    if firstrun.ready(job):
        return False
    seconds = firstrun.numpy_seconds(steps, samples, size, members)
    return seconds <= firstrun.MANY_BUDGET and firstrun.compile_in_background(job)


def _judge_members(
    result: ManyResult, nets: list[Sequential], X: np.ndarray, y: np.ndarray, loss: str
) -> None:
    """Flag the members that diverged by ``training.divergence.judge``, as ``train``
    would raise for them: non-finite ones are flagged already; a finite one is
    looked at only when its final loss is not below chance (growing and dead
    networks both are), so most members cost nothing here."""
    from retroprop.training.divergence import chance_loss, judge, output_spread

    _N, epochs = result.loss.shape
    kinds = np.where(result.diverged, "non-finite", "").astype(object)
    if epochs:
        chance = chance_loss(y, nets[0].out_features, loss)
        final = result.loss[:, -1]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for i in np.flatnonzero(~result.diverged & (final >= chance * (1 - 1e-9))):
                net = result.net(int(i))
                spread = output_spread(net(X), X, y, loss)
                initial = evaluate(nets[i], X, y, loss)[0]
                kind = judge(initial, float(final[i]), chance, spread)
                if kind is not None:
                    kinds[i] = kind
                    result.diverged_at[i] = epochs
    result.divergence = kinds.astype(str)
    result.diverged = kinds != ""


def sample_orders(rngs: list[np.random.Generator], n: int, shuffle: bool) -> np.ndarray:
    """One epoch's sample order per member, shape ``(N, n)``, as ``train`` draws it."""
    if not shuffle:
        return np.broadcast_to(np.arange(n), (len(rngs), n))
    return np.stack([rng.permutation(n) for rng in rngs])


def epoch_orders(
    rngs: list[np.random.Generator], n: int, epochs: int, shuffle: bool
) -> np.ndarray:
    """``epochs`` epochs' sample orders per member, int64 of shape ``(N, epochs, n)``.

    ``rng.permuted`` of ``epochs`` rows of ``0..n-1`` draws exactly what ``epochs``
    calls of ``rng.permutation(n)`` (``train``'s order) draw, at half the cost;
    ``test_epoch_orders_are_trains_orders`` checks it.
    """
    rows = np.broadcast_to(np.arange(n, dtype=np.int64), (epochs, n))
    if not shuffle:
        return np.ascontiguousarray(np.broadcast_to(rows, (len(rngs), epochs, n)))
    out = np.empty((len(rngs), epochs, n), dtype=np.int64)
    for i, rng in enumerate(rngs):
        out[i] = rng.permuted(rows, axis=1)
    return out


def _run_numpy(
    template,
    layout,
    theta,
    X,
    y,
    seeds,
    *,
    epochs,
    lr,
    batch_size,
    momentum,
    dampening,
    weight_decay,
    nesterov,
    loss,
    shuffle,
    validation,
):
    """Every member's steps at once: arrays ``(N, batch, width)``; see ``train``."""
    N, n = theta.shape[0], X.shape[0]
    k = template.out_features
    mods = [copy.deepcopy(m) for m in template]  # activations reused, elementwise
    W, b = {}, {}
    for i, m in enumerate(mods):
        if isinstance(m, Linear):
            W[i] = template.parameter_name(i, "weight")
            b[i] = template.parameter_name(i, "bias") if m.bias is not None else None
    T = None if loss == "cross_entropy" else loss_targets(y, k, loss, X.dtype)
    grad = np.zeros_like(theta)
    gv = layout.views(grad)
    buf = None
    rngs = [as_generator(int(s)) for s in seeds]
    active = np.ones(N, dtype=bool)
    diverged_at = np.full(N, -1, dtype=np.int64)
    hist = {key: np.full((N, epochs), np.nan) for key in ("loss", "accuracy")}
    if validation is not None:
        hist.update(
            {key: np.full((N, epochs), np.nan) for key in ("val_loss", "val_accuracy")}
        )

    def forward(pv, a):
        for i, m in enumerate(mods):
            if i in W:
                m.a_prev = a
                a = np.matmul(a, np.swapaxes(pv[W[i]], 1, 2))
                if b[i] is not None:
                    a += pv[b[i]][:, None, :]
            else:
                a = m.forward(a)
        return a

    def evaluate(pv, Xe, ye):
        out = forward(pv, Xe)  # (n, d) @ (N, d, out) broadcasts
        Nm, ne, _ = out.shape
        if loss == "cross_entropy":
            lp = log_softmax(out.reshape(Nm * ne, k)).reshape(Nm, ne, k)
            lval = -np.take_along_axis(lp, ye[None, :, None], axis=2)[..., 0].mean(1)
        else:
            d = out - loss_targets(ye, k, loss, Xe.dtype)[None]
            lval = (d * d).reshape(Nm, -1).mean(1)
        return lval, np.mean(np.argmax(out, axis=2) == ye[None], axis=1)

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for epoch in range(1, epochs + 1):
            orders = sample_orders(rngs, n, shuffle)
            for start in range(0, n, batch_size):
                idx = orders[:, start : start + batch_size]  # (N, B)
                B = idx.shape[1]
                pv = layout.views(theta)
                out = forward(pv, X[idx])
                if loss == "cross_entropy":
                    lp = log_softmax(out.reshape(N * B, k)).reshape(N, B, k)
                    yb = y[idx]
                    # CrossEntropyLoss.backward: (p - onehot(r)) / batch
                    delta = np.exp(lp)
                    np.put_along_axis(
                        delta,
                        yb[..., None],
                        np.take_along_axis(delta, yb[..., None], axis=2) - 1.0,
                        axis=2,
                    )
                    delta /= B
                    batch_ok = np.isfinite(
                        -np.take_along_axis(lp, yb[..., None], axis=2)
                    ).all(axis=(1, 2))
                else:
                    assert T is not None  # the MSE targets
                    diff = out - T[idx]
                    # MSELoss.backward: 2 (out - target) / (batch * k)
                    delta = 2.0 * diff
                    delta /= diff[0].size
                    batch_ok = np.isfinite((diff * diff).sum(axis=(1, 2)))
                batch_ok &= np.isfinite(out).all(axis=(1, 2))
                for i in reversed(range(len(mods))):
                    m = mods[i]
                    if i in W:
                        # grad_W = delta.T @ a_prev, grad_b = sum of delta (Linear.backward)
                        np.matmul(np.swapaxes(delta, 1, 2), m.a_prev, out=gv[W[i]])
                        if b[i] is not None:
                            gv[b[i]][...] = delta.sum(axis=1)
                        delta = np.matmul(delta, pv[W[i]])
                    else:
                        delta = m.backward(delta)
                # SGD.step, stacked: same expressions, same order.
                g = grad
                if weight_decay:
                    g = g + weight_decay * theta
                new_buf = buf
                if momentum:
                    new_buf = (
                        g.copy()
                        if buf is None
                        else (momentum * buf + (1.0 - dampening) * g)
                    )
                    g = g + momentum * new_buf if nesterov else new_buf
                new = theta - lr * g
                ok = active & batch_ok & np.isfinite(new).all(axis=1)
                newly = active & ~ok
                diverged_at[newly] = epoch
                active &= ok
                theta[ok] = new[ok]
                if momentum:
                    if buf is None:
                        buf = new_buf
                    else:
                        assert new_buf is not None  # made above, with momentum
                        buf[ok] = new_buf[ok]
            pv = layout.views(theta)
            tl, ta = evaluate(pv, X, y)
            monitored = tl
            if validation is not None:
                vl, va = evaluate(pv, *validation)
                monitored = vl
            newly = active & ~np.isfinite(monitored)
            diverged_at[newly] = epoch
            active &= ~newly
            hist["loss"][active, epoch - 1] = tl[active]
            hist["accuracy"][active, epoch - 1] = ta[active]
            if validation is not None:
                hist["val_loss"][active, epoch - 1] = vl[active]
                hist["val_accuracy"][active, epoch - 1] = va[active]
    return dict(diverged=diverged_at >= 0, diverged_at=diverged_at, **hist)


def _run_fast(
    template,
    layout,
    theta,
    X,
    y,
    seeds,
    *,
    epochs,
    lr,
    batch_size,
    momentum,
    dampening,
    weight_decay,
    nesterov,
    loss,
    shuffle,
    validation,
):
    """Blocks of members in lock-step in compiled kernels, blocks in parallel.

    The kernels compute in float64; ``train_many`` sends only float64 members here
    (float32 ones take ``_run_numpy``, which detects float32 overflow as ``train``).
    """
    from retroprop.fast import kernels, many_kernels
    from retroprop.fast.health import PARALLEL_LOCK
    from retroprop.fast.spec import LOSS_CODES

    N, n = theta.shape[0], X.shape[0]
    k = template.out_features
    dt = theta.dtype.type

    def labels(ye):
        yf = np.asarray(ye, dtype=np.float64)
        if loss == "cross_entropy":
            return yf, np.zeros((1, k), dtype=theta.dtype)
        return yf, np.ascontiguousarray(
            loss_targets(np.asarray(ye), k, loss, theta.dtype)
        )

    yf, T = labels(y)
    if validation is not None:
        Xv = np.ascontiguousarray(validation[0])
        yv, Tv = labels(validation[1])
    else:
        Xv, yv, Tv = np.empty((0, X.shape[1]), theta.dtype), yf[:0], T
    X = np.ascontiguousarray(X)
    if theta.dtype != np.float64:
        X, Xv, T, Tv = (a.astype(np.float64) for a in (X, Xv, T, Tv))
    # Blocks of LANES members side by side: (n_blocks, P, LANES).
    L = many_kernels.LANES
    nb = -(-N // L)
    padded = np.concatenate([theta, np.repeat(theta[:1], nb * L - N, axis=0)])
    blocks = np.ascontiguousarray(
        padded.astype(np.float64).reshape(nb, L, -1).transpose(0, 2, 1)
    )
    bufs = np.zeros_like(blocks)
    active = np.ones((nb, L), dtype=np.bool_)
    active.reshape(-1)[N:] = False
    status = np.zeros((nb, L), dtype=np.int64)
    first = np.ones(nb, dtype=np.int64)
    hist = {
        key: np.full((N, epochs), np.nan)
        for key in ("loss", "accuracy", "val_loss", "val_accuracy")
    }
    arch = (
        layout.kinds,
        layout.widths,
        layout.w_off,
        layout.b_off,
        layout.slopes,
        layout.a_off,
    )
    rngs = [as_generator(int(s)) for s in seeds]
    # Sample orders for a chunk of epochs at a time (about 8 MB of indices).
    chunk = max(1, min(epochs, (1 << 20) // max(1, N * n)))
    for epoch0 in range(0, epochs, chunk):
        E = min(chunk, epochs - epoch0)
        orders = epoch_orders(rngs, n, E, shuffle)
        with PARALLEL_LOCK:  # a fork-safe threading layer, one caller at a time
            many_kernels.train_many_blocks(
                blocks,
                bufs,
                active,
                status,
                first,
                X,
                yf,
                T,
                orders,
                epoch0,
                batch_size,
                float(dt(lr)),
                float(dt(momentum)),
                float(dt(1.0 - dampening)),
                float(dt(weight_decay)),
                nesterov,
                LOSS_CODES[loss],
                *arch,
                Xv,
                yv,
                Tv,
                hist["loss"],
                hist["accuracy"],
                hist["val_loss"],
                hist["val_accuracy"],
            )
    theta[...] = blocks.transpose(0, 2, 1).reshape(nb * L, -1)[:N]
    # The epoch each diverged member stopped in: its first NaN entry.
    diverged = status.reshape(-1)[:N] != kernels.OK
    diverged_at = np.where(diverged, np.argmax(np.isnan(hist["loss"]), axis=1) + 1, -1)
    out: dict[str, np.ndarray | None] = dict(hist)
    if validation is None:
        out["val_loss"] = out["val_accuracy"] = None
    return dict(diverged=diverged_at >= 0, diverged_at=diverged_at, **out)
