"""``train``'s fast path for large mini-batches: BLAS matmuls into preallocated buffers.

For big layers and batches the arithmetic is the matrix products, which NumPy hands
to BLAS; what the engine adds around them is allocation (a new array for every
``z``, ``a``, ``delta``, gradient and parameter at every step) and several passes for
the sigmoid. ``BlasRunner`` runs the same equations with every array allocated
once: the batch is gathered into one buffer (``np.take(..., out=)``, never a copy of
the data set), ``z = a_prev @ W.T`` and ``grad_W = delta.T @ a_prev`` go straight
into their buffers, activations and their derivatives are single fused passes
(Numba, parallel), and ``SGD.step`` updates the parameters in place after a first
pass has checked that every new value is finite (else nothing changes, as the
engine).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from retroprop.engine.layers import Linear, Sequential
from retroprop.fast.kernels import exp
from retroprop.fast.single import FlatParameters
from retroprop.fast.spec import ACTIVATION_CODES

SIGMOID, TANH, RELU, LEAKY, IDENTITY = (ACTIVATION_CODES[k] for k in (
    "sigmoid", "tanh", "relu", "leaky_relu", "identity"))
CHUNK = 4096
"""Rows per forward pass when evaluating on a whole data set."""


@njit(cache=True, error_model="numpy", nogil=True)
def activation_forward(kind, slope, z, a):
    """``a = f(z)`` in one pass; the sigmoid in its stable form.

    One loop per activation, so that each compiles to SIMD code. Single-threaded on
    purpose: it is a small part of the work, and threads of its own would fight
    BLAS's threads for the cores.
    """
    zf, af = z.reshape(-1), a.reshape(-1)
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


@njit(cache=True, error_model="numpy", nogil=True)
def activation_backward(kind, slope, z, a, delta):
    """``delta *= f'(z)`` in place (``a (1 - a)``, ``1 - a^2``, ...)."""
    zf, af, df = z.reshape(-1), a.reshape(-1), delta.reshape(-1)
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
def loss_and_delta(out, loss_code, y, T, idx, scale, want_delta, delta):
    """Sum of the batch's losses and (if wanted) ``delta = dL/d(out)`` over ``scale``.

    Row ``r`` of ``out`` is sample ``idx[r]``. Cross-entropy: ``-ln p_r`` by
    log-sum-exp, ``delta = p - onehot(r)``; MSE: ``(out - t)^2``, ``2 (out - t)``.
    Also returns how many rows' largest output is their class (for accuracy).
    """
    n, k = out.shape
    total = 0.0
    correct = 0
    for r in range(n):
        row = idx[r]
        best = 0
        for j in range(1, k):
            if out[r, j] > out[r, best]:
                best = j
        if best == y[row]:
            correct += 1
        if loss_code == 0:
            yi = int(y[row])
            mx = out[r, 0]
            for j in range(1, k):
                mx = max(mx, out[r, j])
            s = 0.0
            for j in range(k):
                s += math.exp(out[r, j] - mx)
            lse = math.log(s)
            total += -((out[r, yi] - mx) - lse)
            if want_delta:
                for j in range(k):
                    delta[r, j] = math.exp((out[r, j] - mx) - lse)
                delta[r, yi] -= 1.0
                for j in range(k):
                    delta[r, j] /= scale
        else:
            for j in range(k):
                d = out[r, j] - T[row, j]
                total += d * d
                if want_delta:
                    delta[r, j] = 2.0 * d / scale
    return total, correct


@njit(cache=True, error_model="numpy", nogil=True)
def sgd_check(theta, G, buf, first, lr, momentum, one_minus_damp, weight_decay,
              nesterov):
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
def sgd_apply(theta, G, buf, first, lr, momentum, one_minus_damp, weight_decay,
              nesterov):
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


class BlasRunner(FlatParameters):
    """Runs ``train``'s epochs with preallocated buffers (see the module docstring).

    Same interface as ``single.FastRunner``: ``run_epoch`` and ``evaluate``.
    """

    def __init__(self, net: Sequential, X: np.ndarray, y: np.ndarray, *, loss: str,
                 batch_size: int, opt):
        from retroprop.fast.spec import LOSS_CODES, Layout

        self.net, self.loss, self.batch_size = net, loss, int(batch_size)
        self.layout = Layout.of(net)
        self.dtype = net.dtype
        self.theta = self.layout.flatten(net)
        self.views = self.layout.views(self.theta)
        self.params = dict(net.named_parameters())
        self._attach()
        self.grad = np.zeros_like(self.theta)
        self.gviews = self.layout.views(self.grad)
        self.buf = np.zeros_like(self.theta)
        self.first = True
        dt = self.dtype.type
        self.hyper = (dt(opt.lr), dt(opt.momentum), dt(1.0 - opt.dampening),
                      dt(opt.weight_decay), bool(opt.nesterov))
        self.loss_code = LOSS_CODES[loss]
        self.X = X
        self.y, self.T = self._labels(y)
        self.mods = []  # (kind, slope, weight name, bias name)
        for i, m in enumerate(net):
            if isinstance(m, Linear):
                self.mods.append(("linear", 0.0, f"{i}.weight",
                                  f"{i}.bias" if m.bias is not None else None))
            else:
                self.mods.append((ACTIVATION_CODES[m.name],
                                  float(getattr(m, "negative_slope", 0.0)), None, None))
        rows = max(self.batch_size, min(CHUNK, X.shape[0]))
        widths = self.layout.widths
        # outs[m] holds module m's output; outs[-1] the gathered batch.
        self.outs = [np.empty((rows, int(w)), dtype=self.dtype) for w in widths[1:]]
        self.xbuf = np.empty((rows, int(widths[0])), dtype=self.dtype)
        # deltas[m] holds dL/d(input of module m) (contiguous, so BLAS takes it).
        self.deltas = [np.empty((rows, int(w)), dtype=self.dtype) for w in widths]

    def _forward(self, a: np.ndarray) -> np.ndarray:
        """``a`` (B rows) through every module into the buffers; returns the output."""
        B = a.shape[0]
        for m, (kind, slope, wname, bname) in enumerate(self.mods):
            out = self.outs[m][:B]
            if kind == "linear":
                np.matmul(a, self.views[wname].T, out=out)  # z = a_prev @ W.T
                if bname is not None:
                    out += self.views[bname]  # + b
            else:
                activation_forward(kind, slope, a, out)
            a = out
        return a

    def _backward(self, xb: np.ndarray, delta: np.ndarray) -> None:
        """Walk back from ``delta`` (B rows), writing every gradient into ``grad``."""
        B = xb.shape[0]
        for m in range(len(self.mods) - 1, -1, -1):
            kind, slope, wname, bname = self.mods[m]
            a_prev = xb if m == 0 else self.outs[m - 1][:B]
            if kind == "linear":
                # grad_W = delta.T @ a_prev, grad_b = sum of delta (Linear.backward)
                np.matmul(delta.T, a_prev, out=self.gviews[wname])
                if bname is not None:
                    np.sum(delta, axis=0, out=self.gviews[bname])
                if m > 0:
                    nxt = self.deltas[m][:B]
                    np.matmul(delta, self.views[wname], out=nxt)  # dL/da_prev = delta @ W
                    delta = nxt
            else:
                activation_backward(kind, slope, a_prev, self.outs[m][:B], delta)

    def run_epoch(self, order: np.ndarray, epoch: int, iteration: int) -> int:
        """One epoch in ``order``; raises ``DivergenceError`` as ``train`` does."""
        from retroprop.train import _diverged

        self._attach()
        n, bs = order.shape[0], self.batch_size
        k = self.net.out_features
        scale_k = 1 if self.loss_code == 0 else k
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            B = idx.shape[0]
            iteration += 1
            xb = np.take(self.X, idx, axis=0, out=self.xbuf[:B])
            out = self._forward(xb)
            delta = self.deltas[-1][:B]
            total, _ = loss_and_delta(out, self.loss_code, self.y, self.T, idx,
                                      B * scale_k, True, delta)
            if not math.isfinite(total):
                raise _diverged(epoch, iteration, float(self.hyper[0]),
                                f"the loss became {total}")
            self._backward(xb, delta)
            if not sgd_check(self.theta, self.grad, self.buf, self.first, *self.hyper):
                raise _diverged(epoch, iteration, float(self.hyper[0]),
                                "an update made a parameter non-finite")
            sgd_apply(self.theta, self.grad, self.buf, self.first, *self.hyper)
            self.first = False
        return iteration

    def evaluate(self, net: Sequential, X: np.ndarray, y: np.ndarray,
                 loss: str) -> tuple[float, float]:
        """``(mean loss, accuracy)`` as ``train.evaluate``, in chunks of rows."""
        self._attach()
        if X is self.X:
            yf, T = self.y, self.T
        else:
            X = np.asarray(X, dtype=self.dtype)
            yf, T = self._labels(y)
        n = X.shape[0]
        rows = self.outs[0].shape[0]
        total, correct = 0.0, 0
        for start in range(0, n, rows):
            xb = X[start:start + rows]
            out = self._forward(xb)
            t, c = loss_and_delta(out, self.loss_code, yf, T,
                                  np.arange(start, start + xb.shape[0]), 1.0, False,
                                  out)
            total += t
            correct += c
        k = 1 if self.loss_code == 0 else self.net.out_features
        return total / (n * k), correct / n
