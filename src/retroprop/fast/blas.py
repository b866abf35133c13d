"""``train``'s fast path for large mini-batches: BLAS products into preallocated buffers.

For big layers and batches the arithmetic is the matrix products; what the engine
adds around them is allocation (a new array for every ``z``, ``a``, ``delta``,
gradient and parameter at every step) and several passes for the sigmoid.
``BlasRunner`` runs the same equations with every array allocated once: the batch
is gathered into one buffer (``gather``, never a copy of the data set),
``z = a_prev @ W.T`` and ``delta @ W`` go straight into their buffers (SciPy's
``?gemm``, see ``gemm_of``), activations and their derivatives are single fused
passes (Numba), and dL/dX of the first layer, which nothing uses, is not computed.
Plain SGD is fused into the product that makes the gradient, ``W = W - lr delta.T
@ a_prev`` in one BLAS call, once a bound has shown every new value will be
finite; otherwise (momentum, weight decay, or a step that might not stay finite)
``SGD.step`` runs in place after a pass that checks every new value is finite (else
nothing changes, as in the engine).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from retroprop.engine.activations import Activation
from retroprop.engine.layers import Linear, Sequential
from retroprop.errors import DivergenceError
from retroprop.fast.flat import FlatParameters
from retroprop.fast.kernels import (
    CROSS_ENTROPY,
    LEAKY,
    RELU,
    SIGMOID,
    TANH,
    exp,
)
from retroprop.fast.spec import code_of

CHUNK = 4096
"""Rows per forward pass when evaluating on a whole data set."""


@njit(
    cache=True, error_model="numpy", nogil=True, fastmath={"contract"}, inline="always"
)
def _activate(kind, slope, zf, af):
    """``af = f(zf)`` on 1-D arrays; the sigmoid in its stable form.

    One loop per activation, so that each compiles to SIMD code; ``contract`` lets
    the inlined ``exp``'s polynomial use fused multiply-adds (1.7x faster, no other
    reordering: NaN and inf still propagate).
    """
    if kind == SIGMOID:
        for i in range(zf.shape[0]):
            v = np.float64(zf[i])
            e = exp(-abs(v))  # e^-|z| never overflows
            af[i] = (1.0 if v >= 0 else e) / (1.0 + e)
    elif kind == TANH:
        for i in range(zf.shape[0]):
            af[i] = math.tanh(zf[i])
    elif kind == RELU:
        for i in range(zf.shape[0]):
            af[i] = zf[i] if zf[i] > 0 else 0.0
    elif kind == LEAKY:
        for i in range(zf.shape[0]):
            af[i] = zf[i] if zf[i] > 0 else slope * zf[i]
    else:
        for i in range(zf.shape[0]):
            af[i] = zf[i]


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"})
def activation_forward(kind, slope, z, a):
    """``a = f(z)`` in one pass. Single-threaded on purpose: threads of its own
    would fight BLAS's threads for the cores."""
    _activate(kind, slope, z.reshape(-1), a.reshape(-1))


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"reassoc"})
def _sum_of_squares_1d(v):
    """``sum(v**2)`` in float64, vectorised (``reassoc``): NaN or inf when any value
    is or when the sum overflows, so a bound built on it fails safe."""
    s = 0.0
    for i in range(v.shape[0]):
        x = np.float64(v[i])
        s += x * x
    return s


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"})
def bias_activation_forward(kind, slope, z, b, a):
    """``z += b`` (when ``b`` has entries), then ``a = f(z)``, row by row: the
    preceding Linear's bias and the activation in one pass over memory (each row
    of ``z`` is still in L1 when ``f`` reads it). ``a`` must not overlap ``z``.
    Returns ``sum(a**2)`` (float64), which the fused update's bound needs, taken
    while each row is in L1."""
    s = 0.0
    for r in range(z.shape[0]):
        zr = z[r]
        if b.shape[0] > 0:
            for j in range(zr.shape[0]):
                zr[j] = zr[j] + b[j]
        _activate(kind, slope, zr, a[r])
        s += _sum_of_squares_1d(a[r])
    return s


@njit(cache=True, error_model="numpy", nogil=True)
def gather(X, idx, out):
    """``out[r] = X[idx[r]]`` (the batch's rows); returns ``sum(out**2)``."""
    s = 0.0
    for r in range(idx.shape[0]):
        src, dst = X[idx[r]], out[r]
        for j in range(dst.shape[0]):
            dst[j] = src[j]
        s += _sum_of_squares_1d(dst)
    return s


@njit(cache=True, error_model="numpy", nogil=True)
def column_sums(delta, g):
    """``g = delta.sum(axis=0)``, rows added in order (as NumPy does); returns
    ``sum(delta**2)``."""
    s = 0.0
    for j in range(g.shape[0]):
        g[j] = delta[0, j]
    s += _sum_of_squares_1d(delta[0])
    for r in range(1, delta.shape[0]):
        dr = delta[r]
        for j in range(g.shape[0]):
            g[j] += dr[j]
        s += _sum_of_squares_1d(dr)
    return s


@njit(cache=True, error_model="numpy", nogil=True)
def sgd_plain_update(b, g, lr):
    """``b = b - lr g`` in place (``SGD.step`` without momentum or decay)."""
    for j in range(b.shape[0]):
        b[j] = b[j] - lr * g[j]


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"contract"})
def bias_activation_in_place(kind, slope, z, b):
    """``z = f(z + b)`` (evaluation, which keeps no ``z``). A kernel of its own:
    given two arrays that might overlap, the compiled loop would not be SIMD."""
    for r in range(z.shape[0]):
        zr = z[r]
        if b.shape[0] > 0:
            for j in range(zr.shape[0]):
                zr[j] = zr[j] + b[j]
        _activate(kind, slope, zr, zr)


@njit(cache=True, error_model="numpy", nogil=True, inline="always")
def _derivative(kind, slope, zf, af, df):
    """``df *= f'(zf)`` on 1-D arrays."""
    if kind == SIGMOID:
        for i in range(df.shape[0]):
            df[i] = df[i] * (af[i] * (1.0 - af[i]))
    elif kind == TANH:
        for i in range(df.shape[0]):
            df[i] = df[i] * (1.0 - af[i] * af[i])
    elif kind == RELU:
        for i in range(df.shape[0]):
            df[i] = df[i] * (1.0 if zf[i] > 0 else 0.0)
    elif kind == LEAKY:
        for i in range(df.shape[0]):
            df[i] = df[i] * (1.0 if zf[i] > 0 else slope)


@njit(cache=True, error_model="numpy", nogil=True)
def activation_backward(kind, slope, z, a, delta, g):
    """``delta *= f'(z)`` in place (``a (1 - a)``, ``1 - a^2``, ...), row by row;
    then, while each row is in L1, its column sums into ``g`` (grad_b of the
    Linear below, when ``g`` has entries: rows added in order, as NumPy's
    ``sum(axis=0)``) and ``sum(delta**2)``, returned (the fused update's bound)."""
    s = 0.0
    for r in range(delta.shape[0]):
        dr = delta[r]
        _derivative(kind, slope, z[r], a[r], dr)
        if g.shape[0] > 0:
            if r == 0:
                for j in range(g.shape[0]):
                    g[j] = dr[j]
            else:
                for j in range(g.shape[0]):
                    g[j] += dr[j]
        s += _sum_of_squares_1d(dr)
    return s


@njit(cache=True, error_model="numpy", nogil=True)
def loss_and_delta(out, loss_code, y, T, idx, scale, want_delta, delta, g):
    """Sum of the batch's losses and (if wanted) ``delta = dL/d(out)`` over ``scale``.

    Row ``r`` of ``out`` is sample ``idx[r]``. Cross-entropy: ``-ln p_r`` by
    log-sum-exp, ``delta = p - onehot(r)``; MSE: ``(out - t)^2``, ``2 (out - t)``.
    Returns ``(sum of losses, how many rows' largest output is their class,
    sum(delta**2))``; with ``want_delta`` the column sums of ``delta`` go into
    ``g`` when it has entries (grad_b of the output layer, rows added in order).
    """
    n, k = out.shape
    total = 0.0
    correct = 0
    e = np.empty(k)  # a row's e^(z_j - max), in float64
    for r in range(n):
        row = idx[r]
        o = out[r]
        best = 0
        for j in range(1, k):
            if o[j] > o[best]:
                best = j
        if best == y[row]:
            correct += 1
        if loss_code == CROSS_ENTROPY:
            # L = -ln p_y = -(z_y - max) + ln s, s = sum_j e^(z_j - max); p_j = e^(z_j -
            # max) / s (the engine's exp(z_j - max - ln s), one exp fewer per output)
            yi = int(y[row])
            mx = o[best]
            s = 0.0
            for j in range(k):
                e[j] = math.exp(np.float64(o[j] - mx))
                s += e[j]
            total += -((o[yi] - mx) - math.log(s))
            if want_delta:
                dr = delta[r]
                for j in range(k):
                    dr[j] = e[j] / s
                dr[yi] -= 1.0
                for j in range(k):
                    dr[j] /= scale
        else:
            for j in range(k):
                d = o[j] - T[row, j]
                total += d * d
                if want_delta:
                    delta[r, j] = 2.0 * d / scale
    d2 = 0.0
    if want_delta:
        for r in range(n):
            dr = delta[r]
            if g.shape[0] > 0:
                for j in range(k):
                    g[j] = dr[j] if r == 0 else g[j] + dr[j]
            d2 += _sum_of_squares_1d(dr)
    return total, correct, d2


@njit(cache=True, error_model="numpy", nogil=True)
def sgd_check(
    theta, G, buf, first, lr, momentum, one_minus_damp, weight_decay, nesterov
):
    """Whether every new value ``SGD.step`` would give is finite (nothing written)."""
    bad = 0
    for j in range(theta.shape[0]):
        g = G[j]
        if weight_decay != 0:
            g = g + weight_decay * theta[j]
        if momentum != 0:
            b = g if first else momentum * buf[j] + one_minus_damp * g
            g = g + momentum * b if nesterov else b
        if not math.isfinite(theta[j] - lr * g):
            bad += 1
    return bad == 0


@njit(cache=True, error_model="numpy", nogil=True)
def sgd_apply(
    theta, G, buf, first, lr, momentum, one_minus_damp, weight_decay, nesterov
):
    """``SGD.step`` in place: the same expressions as the engine, element by element."""
    for j in range(theta.shape[0]):
        g = G[j]
        if weight_decay != 0:
            g = g + weight_decay * theta[j]
        if momentum != 0:
            b = g if first else momentum * buf[j] + one_minus_damp * g
            buf[j] = b
            g = g + momentum * b if nesterov else b
        theta[j] = theta[j] - lr * g


@njit(cache=True, error_model="numpy", nogil=True, fastmath={"reassoc"})
def sum_of_squares(a):
    """``sum(a**2)`` in one vectorised pass (in float64): NaN or inf when any value
    is, or when the sum overflows, so a bound built on it fails safe."""
    af = a.reshape(-1)
    s = 0.0
    for i in range(af.shape[0]):
        v = np.float64(af[i])
        s += v * v
    return s


def gemm_of(dtype: np.dtype):
    """SciPy's ``sgemm`` or ``dgemm``: unlike ``np.matmul`` it can add a product
    into an existing array (``beta``), which the fused SGD update needs. Every
    product of the runner goes through it, so that one BLAS library (and one pool
    of BLAS threads) does all the work: NumPy and SciPy each bring their own
    OpenBLAS, whose idle threads spin, and alternating the two is many times
    slower."""
    from scipy.linalg import blas

    return blas.sgemm if dtype == np.float32 else blas.dgemm


# The three products, for C-ordered arrays. BLAS is column-major: a C-ordered
# (r, c) array is the column-major (c, r) array of its transpose, so each product
# is asked for transposed; ``overwrite_c`` writes into ``out`` itself.
def linear_forward(gemm, a_prev, W, z):
    """``z = a_prev @ W.T`` (z is C-ordered, overwritten)."""
    gemm(1.0, W.T, a_prev.T, beta=0.0, c=z.T, trans_a=1, overwrite_c=1)


def linear_delta_down(gemm, delta, W, out):
    """``out = delta @ W``: dL/da_prev."""
    gemm(1.0, W.T, delta.T, beta=0.0, c=out.T, overwrite_c=1)


def add_outer(gemm, alpha, delta, a_prev, beta, G):
    """``G = beta G + alpha delta.T @ a_prev`` in place (``delta.T @ a_prev`` is
    grad_W)."""
    gemm(alpha, a_prev.T, delta.T, beta=beta, c=G.T, trans_b=1, overwrite_c=1)


class BlasRunner(FlatParameters):
    """Runs ``train``'s epochs with preallocated buffers (see the module docstring).

    Same interface as ``single.FastRunner``: a ``retroprop.training.Runner``.
    """

    name = "blas"

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
    ):
        from retroprop.fast.spec import LOSS_CODES, Layout

        self.net, self.loss, self.batch_size = net, loss, int(batch_size)
        self.layout = Layout.of(net)
        self.dtype = net.dtype
        self.gemm = gemm_of(self.dtype)
        self.theta = self.layout.flatten(net)
        self.views = self.layout.views(self.theta)
        self.params = dict(net.named_parameters())
        self._attach()
        self.grad = np.zeros_like(self.theta)
        self.gviews = self.layout.views(self.grad)
        self.buf = np.zeros_like(self.theta)
        self.first = True
        dt = self.dtype.type
        self.hyper = (
            dt(opt.lr),
            dt(opt.momentum),
            dt(1.0 - opt.dampening),
            dt(opt.weight_decay),
            bool(opt.nesterov),
        )
        # Plain SGD (the default) adds -lr grad_W into W in the product that makes
        # grad_W (see _fused_step); momentum or weight decay take SGD.step's path.
        self.fused = opt.momentum == 0 and opt.weight_decay == 0
        self.limit = float(np.finfo(self.dtype).max) / 4
        self.bounds: dict[str, float] = {}
        self.loss_code = LOSS_CODES[loss]
        self.X = X
        self.X_given, self.y_given = X, y  # to recognise the training set in evaluate
        self.y, self.T = self._labels(y)
        # (kind: "linear" or an activation code, slope, weight name, bias name)
        self.mods: list[tuple[str | int, float, str | None, str | None]] = []
        for i, m in enumerate(net):
            if isinstance(m, Linear):
                self.mods.append(
                    (
                        "linear",
                        0.0,
                        net.parameter_name(i, "weight"),
                        net.parameter_name(i, "bias") if m.bias is not None else None,
                    )
                )
            else:
                assert isinstance(m, Activation)  # fast_reason lets only these by
                self.mods.append(
                    (
                        code_of(type(m)),
                        m.kernel_argument(),
                        None,
                        None,
                    )
                )
        self.no_bias = np.zeros(0, dtype=self.dtype)
        self._recording(callbacks)  # RecordParameter, recorded in run_epoch
        self.running = (math.nan, math.nan)
        self.activation_next = [
            m + 1 < len(self.mods) and self.mods[m + 1][0] != "linear"
            for m in range(len(self.mods))
        ]
        batch_rows = min(self.batch_size, X.shape[0])  # a batch is never larger
        rows = max(batch_rows, min(CHUNK, X.shape[0]))
        widths = self.layout.widths
        # outs[m] holds module m's output (a batch, or a chunk when evaluating).
        self.outs = [np.empty((rows, int(w)), dtype=self.dtype) for w in widths[1:]]
        self.xbuf = np.empty((batch_rows, int(widths[0])), dtype=self.dtype)
        # deltas[m] holds dL/d(input of module m); nothing needs dL/dX
        # (deltas[0], an empty placeholder).
        self.deltas = [np.empty((0, 0), dtype=self.dtype)] + [
            np.empty((batch_rows, int(w)), dtype=self.dtype) for w in widths[1:]
        ]

    def _forward(
        self, a: np.ndarray, in_place: bool = False, sums: list | None = None
    ) -> np.ndarray:
        """``a`` (B rows) through every module into the buffers; returns the output.

        ``in_place``: activations overwrite their input buffer (evaluation, where
        no ``z`` is needed afterwards; never the caller's ``a``). ``sums``
        (training): ``sums[m]`` becomes ``sum(x**2)`` of Linear ``m``'s input ``x``
        where an activation made it (taken in the same pass); the caller sets
        ``sums[0]`` (the batch) and any other Linear's stays None.
        """
        B = a.shape[0]
        bias = self.no_bias  # a Linear's b, added by the activation that follows
        for m, (kind, slope, wname, bname) in enumerate(self.mods):
            if kind == "linear":
                out = self.outs[m][:B]
                linear_forward(self.gemm, a, self.views[wname], out)  # z = a_prev @ W.T
                if bname is not None:
                    bias = self.views[bname]  # + b
                    if not self.activation_next[m]:
                        out += bias
                        bias = self.no_bias
            elif in_place and m > 0:
                bias_activation_in_place(kind, slope, a, bias)
                out, bias = a, self.no_bias
            else:
                out = self.outs[m][:B]
                s = bias_activation_forward(kind, slope, a, bias, out)
                if sums is not None and m + 1 < len(self.mods):
                    sums[m + 1] = s
                bias = self.no_bias
            a = out
        return a

    def _deltas(
        self, xb: np.ndarray, delta: np.ndarray, d2: float | None = None
    ) -> list:
        """Walk back from the output layer's ``delta`` (B rows; ``d2`` its sum of
        squares, its column sums already in that layer's grad_b, as the loss's
        pass leaves them; else both are taken here); returns
        ``[(m, dL/dz of Linear m, sum of its squares)]``, last layer first, each
        layer's grad_b = the column sums of its delta filled on the way. No
        parameter is read after it changes: nothing changes here."""
        B = xb.shape[0]
        found = []
        # whether delta's column sums and squares are still to take: it came from
        # a Linear right above (no f' in between), or the caller has not got them
        from_linear = d2 is None
        for m in range(len(self.mods) - 1, -1, -1):
            kind, slope, wname, _ = self.mods[m]
            if kind == "linear":
                if from_linear:
                    d2 = self._bias_sums(m, delta)
                found.append((m, delta, d2))
                from_linear = m > 0
                if m > 0:  # dL/dX is never used (nor computed by torch's autograd)
                    nxt = self.deltas[m][:B]
                    linear_delta_down(self.gemm, delta, self.views[wname], nxt)
                    delta = nxt  # dL/da_prev = delta @ W (Linear.backward)
            else:
                a_prev = xb if m == 0 else self.outs[m - 1][:B]
                below = self.mods[m - 1] if m > 0 else None
                g = (
                    self.gviews[below[3]]
                    if below is not None and below[0] == "linear" and below[3]
                    else self.no_bias
                )
                d2 = activation_backward(
                    kind, slope, a_prev, self.outs[m][:B], delta, g
                )
                from_linear = False
        return found

    def _bias_sums(self, m: int, delta: np.ndarray) -> float:
        """grad_b of Linear ``m`` (when it has a b) and ``sum(delta**2)``, for a
        delta no activation's backward pass made."""
        bname = self.mods[m][3]
        if bname is None:
            return sum_of_squares(delta)
        return column_sums(delta, self.gviews[bname])

    def _gradients(self, xb: np.ndarray, found: list) -> None:
        """grad_W = delta.T @ a_prev (grad_b = the column sums of delta is already
        there: ``_deltas``)."""
        B = xb.shape[0]
        for m, delta, _ in found:
            wname = self.mods[m][2]
            a_prev = xb if m == 0 else self.outs[m - 1][:B]
            add_outer(self.gemm, 1.0, delta, a_prev, 0.0, self.gviews[wname])

    def _exact_bounds(self) -> None:
        self.bounds = {name: float(np.max(np.abs(v))) for name, v in self.views.items()}

    def _steps_are_finite(self, xb: np.ndarray, found: list, sums: list) -> dict | None:
        """Each parameter's new bound if every value ``W - lr grad_W`` is sure to be
        finite (so the fused update cannot overwrite a finite parameter with a
        non-finite one), else None.

        ``|grad_W_ij| = |sum_n delta_ni a_nj| <= ||delta||_F ||a_prev||_F`` and
        ``|grad_b_i| <= sqrt(B) ||delta||_F`` (Cauchy-Schwarz); twice that covers
        the rounding of the computed sums. A NaN or inf anywhere makes a norm NaN or
        inf and the answer None, as does any bound above a quarter of the largest
        float. ``sums[m]``: ``||a_prev||_F^2`` of Linear ``m`` where the forward
        pass took it (else taken here).
        """
        lr = abs(float(self.hyper[0]))
        B = xb.shape[0]
        new = {}
        for m, _delta, d2 in found:
            _, _, wname, bname = self.mods[m]
            a2 = sums[m]
            if a2 is None:
                a2 = sum_of_squares(self.outs[m - 1][:B])
            step = 2.0 * lr * math.sqrt(d2 * a2)
            new[wname] = self.bounds[wname] + step
            if bname is not None:
                new[bname] = self.bounds[bname] + 2.0 * lr * math.sqrt(B * d2)
        if all(v < self.limit for v in new.values()):  # False for NaN
            return new
        return None

    def _fused_step(self, xb: np.ndarray, found: list, sums: list) -> bool:
        """Plain ``SGD.step``: ``W = W - lr delta.T @ a_prev`` as one BLAS call that
        writes into W (no grad_W array, no pass over the parameters), ``b = b - lr
        grad_b``. Only when every new value is sure to be finite; returns whether
        it stepped."""
        new = self._steps_are_finite(xb, found, sums)
        if new is None:
            self._exact_bounds()  # the running bounds may just have grown loose
            new = self._steps_are_finite(xb, found, sums)
            if new is None:
                return False
        B = xb.shape[0]
        lr = self.hyper[0]
        for m, delta, _ in found:
            _, _, wname, bname = self.mods[m]
            a_prev = xb if m == 0 else self.outs[m - 1][:B]
            add_outer(self.gemm, -lr, delta, a_prev, 1.0, self.views[wname])
            if bname is not None:
                sgd_plain_update(self.views[bname], self.gviews[bname], lr)
        self.bounds = new
        return True

    def run_epoch(self, order: np.ndarray, epoch: int, iteration: int) -> int:
        """One epoch in ``order``; raises ``DivergenceError`` as ``train`` does."""
        self._attach()
        if self.fused:
            self._exact_bounds()
        n, bs = order.shape[0], self.batch_size
        k = self.net.out_features
        scale_k = 1 if self.loss_code == CROSS_ENTROPY else k
        running, correct = 0.0, 0
        loss_max = self._loss_max()
        last = self.mods[-1]
        # the output layer's grad_b, filled by the loss's pass
        g_out = (
            self.gviews[last[3]] if last[0] == "linear" and last[3] else self.no_bias
        )
        sums: list = [None] * len(self.mods)
        for start in range(0, n, bs):
            idx = order[start : start + bs]
            B = idx.shape[0]
            iteration += 1
            if self.recorders:  # the parameters before this iteration
                self._hand_over(self.theta[self.record][None], iteration, epoch)
            xb = self.xbuf[:B]
            sums[0] = gather(self.X, idx, xb)
            out = self._forward(xb, sums=sums)
            delta = self.deltas[-1][:B]
            total, c, d2 = loss_and_delta(
                out,
                self.loss_code,
                self.y,
                self.T,
                idx,
                B * scale_k,
                True,
                delta,
                g_out,
            )
            running += total
            correct += c
            if not math.isfinite(total) or total > loss_max:
                raise DivergenceError.at(
                    epoch,
                    iteration,
                    float(self.hyper[0]),
                    f"the loss became {self._loss_text(total)}",
                )
            found = self._deltas(xb, delta, d2)
            if self.fused and self._fused_step(xb, found, sums):
                continue
            # SGD.step's path: gradients, a pass checking every new value, the update.
            self._gradients(xb, found)
            if not sgd_check(self.theta, self.grad, self.buf, self.first, *self.hyper):
                raise DivergenceError.at(
                    epoch,
                    iteration,
                    float(self.hyper[0]),
                    "an update made a parameter non-finite",
                )
            sgd_apply(self.theta, self.grad, self.buf, self.first, *self.hyper)
            self.first = False
            if self.fused:
                self._exact_bounds()
        self.running = (running / (max(n, 1) * scale_k), correct / max(n, 1))
        return iteration

    def evaluate(
        self, net: Sequential, X: np.ndarray, y: np.ndarray, loss: str
    ) -> tuple[float, float]:
        """``(mean loss, accuracy)`` as ``train.evaluate``, in chunks of rows."""
        self._attach()
        if self._is_training_set(X, y):
            yf, T = self.y, self.T
        else:
            X = np.ascontiguousarray(X, dtype=self.dtype)
            yf, T = self._labels(y)
        n = X.shape[0]
        rows = self.outs[0].shape[0]
        total, correct = 0.0, 0
        for start in range(0, n, rows):
            xb = X[start : start + rows]
            out = self._forward(xb, in_place=True)
            t, c, _ = loss_and_delta(
                out,
                self.loss_code,
                yf,
                T,
                np.arange(start, start + xb.shape[0]),
                1.0,
                False,
                out,
                self.no_bias,
            )
            total += t
            correct += c
        k = 1 if self.loss_code == CROSS_ENTROPY else self.net.out_features
        if total > self._loss_max():  # the engine's sum overflows
            total = np.inf
        return total / (n * k), correct / n
