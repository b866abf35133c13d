"""Numba kernels that train a block of ``LANES`` networks of one shape in lock-step.

The members of a block sit side by side in the last axis of every array: parameters
``theta[j, l]`` (shape ``(P, LANES)``), the activation buffer ``A[a, l]``, the
gradients ``G[j, l]``. Every equation of ``kernels`` (forward, the loss's delta,
backward, ``SGD.step``) is then a loop over the lanes ``l`` whose body is the same
arithmetic for every member, so the compiler turns it into SIMD instructions: eight
networks advance for the price of about one. Each member still reads its own sample
(``orders[member, epoch, t]``) and stops on its own when it diverges.

``kernels.exp`` is branch-free, so the sigmoid and softmax loops vectorise too.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from retroprop.fast.kernels import (
    CROSS_ENTROPY,
    EVAL_NOT_FINITE,
    IDENTITY,
    LEAKY,
    LOSS_NOT_FINITE,
    RELU,
    SIGMOID,
    STEP_NOT_FINITE,
    TANH,
    exp,
)
from retroprop.fast.spec import LINEAR

LANES = 16
"""Members per block (16 float64: two AVX-512 or four AVX2 registers)."""


@njit(cache=True, error_model="numpy", inline="always")
def _forward(theta, A, kinds, widths, w_off, b_off, slopes, a_off):
    """Every lane's sample (already in ``A[0:widths[0], :]``) through every module."""
    L = A.shape[1]
    for m in range(kinds.shape[0]):
        ai, ao = a_off[m], a_off[m + 1]
        win, wout = widths[m], widths[m + 1]
        kind = kinds[m]
        if kind == LINEAR:
            # z_o = sum_i W_oi a_prev_i + b_o, per lane
            for o in range(wout):
                wo = w_off[m] + o * win
                for l in range(L):
                    A[ao + o, l] = A[ai, l] * theta[wo, l]
                for i in range(1, win):
                    for l in range(L):
                        A[ao + o, l] += A[ai + i, l] * theta[wo + i, l]
                if b_off[m] >= 0:
                    for l in range(L):
                        A[ao + o, l] += theta[b_off[m] + o, l]
        elif kind == SIGMOID:
            for o in range(wout):
                for l in range(L):
                    z = A[ai + o, l]
                    e = exp(-abs(z))
                    A[ao + o, l] = 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)
        elif kind == TANH:
            for o in range(wout):
                for l in range(L):
                    A[ao + o, l] = math.tanh(A[ai + o, l])
        elif kind == RELU:
            for o in range(wout):
                for l in range(L):
                    z = A[ai + o, l]
                    A[ao + o, l] = z if z > 0 else 0.0
        elif kind == LEAKY:
            for o in range(wout):
                for l in range(L):
                    z = A[ai + o, l]
                    A[ao + o, l] = z if z > 0 else slopes[m] * z
        else:
            for o in range(wout):
                for l in range(L):
                    A[ao + o, l] = A[ai + o, l]


@njit(cache=True, error_model="numpy", inline="always")
def _output(A, out0, k, loss_code, y, T, rows, scale, delta, mx, s, loss, want_delta):
    """Each lane's loss (added to ``loss``) and, if ``want_delta``, ``delta``.

    Cross-entropy: ``-ln p_r`` by log-sum-exp, ``delta = (p - onehot(r)) / scale``;
    MSE: ``sum (out - t)^2``, ``delta = 2 (out - t) / scale``.
    """
    L = A.shape[1]
    if loss_code == CROSS_ENTROPY:
        for l in range(L):
            mx[l] = A[out0, l]
        for j in range(1, k):
            for l in range(L):
                mx[l] = max(mx[l], A[out0 + j, l])
        for l in range(L):
            s[l] = 0.0
        for j in range(k):
            for l in range(L):
                s[l] += exp(A[out0 + j, l] - mx[l])
        for l in range(L):
            s[l] = math.log(s[l])  # now ln sum_j e^(y_j - max)
            r = int(y[rows[l]])
            loss[l] += -((A[out0 + r, l] - mx[l]) - s[l])
        if want_delta:
            for j in range(k):
                for l in range(L):
                    delta[j, l] = exp((A[out0 + j, l] - mx[l]) - s[l])
            for l in range(L):
                delta[int(y[rows[l]]), l] -= 1.0
            for j in range(k):
                for l in range(L):
                    delta[j, l] /= scale
    else:
        for j in range(k):
            for l in range(L):
                d = A[out0 + j, l] - T[rows[l], j]
                loss[l] += d * d
                delta[j, l] = 2.0 * d / scale if want_delta else 0.0


@njit(cache=True, error_model="numpy", inline="always")
def _backward(theta, G, A, delta, delta2, kinds, widths, w_off, b_off, slopes, a_off):
    """Walk back from ``delta``, adding each lane's gradients into ``G``."""
    L = A.shape[1]
    for m in range(kinds.shape[0] - 1, -1, -1):
        ai, ao = a_off[m], a_off[m + 1]
        win, wout = widths[m], widths[m + 1]
        kind = kinds[m]
        if kind == LINEAR:
            # grad_W_oi += delta_o a_prev_i ; grad_b_o += delta_o
            for o in range(wout):
                wo = w_off[m] + o * win
                for i in range(win):
                    for l in range(L):
                        G[wo + i, l] += delta[o, l] * A[ai + i, l]
                if b_off[m] >= 0:
                    for l in range(L):
                        G[b_off[m] + o, l] += delta[o, l]
            if m > 0:
                # dL/da_prev_i = sum_o delta_o W_oi
                for i in range(win):
                    for l in range(L):
                        delta2[i, l] = delta[0, l] * theta[w_off[m] + i, l]
                for o in range(1, wout):
                    wo = w_off[m] + o * win
                    for i in range(win):
                        for l in range(L):
                            delta2[i, l] += delta[o, l] * theta[wo + i, l]
                for i in range(win):
                    for l in range(L):
                        delta[i, l] = delta2[i, l]
        elif kind == SIGMOID:
            for i in range(wout):
                for l in range(L):
                    a = A[ao + i, l]
                    delta[i, l] = delta[i, l] * (a * (1.0 - a))
        elif kind == TANH:
            for i in range(wout):
                for l in range(L):
                    a = A[ao + i, l]
                    delta[i, l] = delta[i, l] * (1.0 - a * a)
        elif kind == RELU:
            for i in range(wout):
                for l in range(L):
                    delta[i, l] = delta[i, l] * (1.0 if A[ai + i, l] > 0 else 0.0)
        elif kind == LEAKY:
            for i in range(wout):
                for l in range(L):
                    f = 1.0 if A[ai + i, l] > 0 else slopes[m]
                    delta[i, l] = delta[i, l] * f
        elif kind == IDENTITY:
            for i in range(wout):
                for l in range(L):
                    delta[i, l] = delta[i, l] * 1.0


@njit(cache=True, error_model="numpy")
def _train_block(
    theta,
    buf,
    active,
    status,
    member0,
    n_members,
    X,
    y,
    T,
    orders,
    epoch0,
    batch_size,
    lr,
    momentum,
    one_minus_damp,
    weight_decay,
    nesterov,
    loss_code,
    kinds,
    widths,
    w_off,
    b_off,
    slopes,
    a_off,
    Xv,
    yv,
    Tv,
    losses,
    accs,
    val_losses,
    val_accs,
    first_step,
):
    """Epochs of one block of lanes (members ``member0 ..``); see train_many_block."""
    P, L = theta.shape
    n, E = orders.shape[2], orders.shape[1]
    k = widths[widths.shape[0] - 1]
    out0 = a_off[a_off.shape[0] - 2]
    w0 = widths[0]
    wmax = widths.max()
    A = np.empty((a_off[a_off.shape[0] - 1], L))
    G = np.empty((P, L))
    new_theta = np.empty((P, L))
    new_buf = np.empty((P, L))
    delta = np.empty((wmax, L))
    delta2 = np.empty((wmax, L))
    mx = np.empty(L)
    s = np.empty(L)
    batch_loss = np.empty(L)
    finite = np.empty(L, dtype=np.bool_)
    rows = np.empty(L, dtype=np.int64)
    lane_member = np.empty(L, dtype=np.int64)
    for l in range(L):
        # Lanes past the last member replay member0 (inactive, results dropped).
        lane_member[l] = member0 + l if l < n_members else member0
    first = first_step
    for e in range(E):
        col = epoch0 + e
        any_active = False
        for l in range(L):
            any_active = any_active or active[l]
        if not any_active:
            break
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            B = stop - start
            scale = B if loss_code == CROSS_ENTROPY else B * k
            G[:, :] = 0.0
            batch_loss[:] = 0.0
            for t in range(start, stop):
                for l in range(L):
                    rows[l] = orders[lane_member[l], e, t]
                for i in range(w0):
                    for l in range(L):
                        A[i, l] = X[rows[l], i]
                _forward(theta, A, kinds, widths, w_off, b_off, slopes, a_off)
                _output(
                    A,
                    out0,
                    k,
                    loss_code,
                    y,
                    T,
                    rows,
                    scale,
                    delta,
                    mx,
                    s,
                    batch_loss,
                    True,
                )
                _backward(
                    theta,
                    G,
                    A,
                    delta,
                    delta2,
                    kinds,
                    widths,
                    w_off,
                    b_off,
                    slopes,
                    a_off,
                )
            # SGD.step per lane (torch.optim.SGD), committed where finite.
            for l in range(L):
                finite[l] = True
            for j in range(P):
                for l in range(L):
                    g = G[j, l]
                    if weight_decay != 0:
                        g = g + weight_decay * theta[j, l]
                    if momentum != 0:
                        b = g if first else momentum * buf[j, l] + one_minus_damp * g
                        new_buf[j, l] = b
                        g = g + momentum * b if nesterov else b
                    v = theta[j, l] - lr * g
                    new_theta[j, l] = v
                    finite[l] = finite[l] and math.isfinite(v)
            for l in range(L):
                if active[l] and not math.isfinite(batch_loss[l]):
                    active[l] = False
                    status[l] = LOSS_NOT_FINITE
                elif active[l] and not finite[l]:
                    active[l] = False
                    status[l] = STEP_NOT_FINITE
            for j in range(P):
                for l in range(L):
                    if active[l]:
                        theta[j, l] = new_theta[j, l]
                        if momentum != 0:
                            buf[j, l] = new_buf[j, l]
            first = False
        # Evaluation on the whole training set (and validation set), every lane.
        for which in range(2):
            Xe, ye, Te = (X, y, T) if which == 0 else (Xv, yv, Tv)
            ne = Xe.shape[0]
            if ne == 0:
                continue
            batch_loss[:] = 0.0
            correct = np.zeros(L)
            for row in range(ne):
                for l in range(L):
                    rows[l] = row
                for i in range(w0):
                    for l in range(L):
                        A[i, l] = Xe[row, i]
                _forward(theta, A, kinds, widths, w_off, b_off, slopes, a_off)
                _output(
                    A,
                    out0,
                    k,
                    loss_code,
                    ye,
                    Te,
                    rows,
                    1.0,
                    delta,
                    mx,
                    s,
                    batch_loss,
                    False,
                )
                for l in range(L):
                    best = 0
                    for j in range(1, k):
                        if A[out0 + j, l] > A[out0 + best, l]:
                            best = j
                    if best == ye[row]:
                        correct[l] += 1.0
            denominator = ne if loss_code == CROSS_ENTROPY else ne * k
            for l in range(min(L, n_members)):
                if not active[l]:
                    continue
                lo = batch_loss[l] / denominator
                if which == 0:
                    losses[member0 + l, col] = lo
                    accs[member0 + l, col] = correct[l] / ne
                else:
                    val_losses[member0 + l, col] = lo
                    val_accs[member0 + l, col] = correct[l] / ne
        for l in range(min(L, n_members)):
            if not active[l]:
                continue
            monitored = (
                val_losses[member0 + l, col]
                if Xv.shape[0] > 0
                else losses[member0 + l, col]
            )
            if not math.isfinite(monitored):
                active[l] = False
                status[l] = EVAL_NOT_FINITE
                losses[member0 + l, col] = np.nan
                accs[member0 + l, col] = np.nan
                val_losses[member0 + l, col] = np.nan
                val_accs[member0 + l, col] = np.nan
    return first


@njit(cache=True, error_model="numpy", parallel=True, nogil=True)
def train_many_blocks(
    thetas,
    bufs,
    active,
    status,
    first,
    X,
    y,
    T,
    orders,
    epoch0,
    batch_size,
    lr,
    momentum,
    one_minus_damp,
    weight_decay,
    nesterov,
    loss_code,
    kinds,
    widths,
    w_off,
    b_off,
    slopes,
    a_off,
    Xv,
    yv,
    Tv,
    losses,
    accs,
    val_losses,
    val_accs,
):
    """Epochs ``epoch0 .. epoch0 + E - 1`` of every block, blocks in parallel.

    ``thetas``, ``bufs``: ``(n_blocks, P, LANES)``; ``active``, ``status``:
    ``(n_blocks, LANES)``; ``first``: ``(n_blocks,)`` (1 until the first step);
    ``orders``: ``(N, E, n)``; ``losses`` ... ``(N, epochs)``, NaN where not reached.
    """
    nb = thetas.shape[0]
    N = orders.shape[0]
    for b in prange(nb):
        member0 = b * LANES
        f = _train_block(
            thetas[b],
            bufs[b],
            active[b],
            status[b],
            member0,
            min(LANES, N - member0),
            X,
            y,
            T,
            orders,
            epoch0,
            batch_size,
            lr,
            momentum,
            one_minus_damp,
            weight_decay,
            nesterov,
            loss_code,
            kinds,
            widths,
            w_off,
            b_off,
            slopes,
            a_off,
            Xv,
            yv,
            Tv,
            losses,
            accs,
            val_losses,
            val_accs,
            first[b] == 1,
        )
        first[b] = 1 if f else 0
