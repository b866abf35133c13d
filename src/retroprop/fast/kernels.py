"""Numba-compiled training of one network, sample by sample (imports Numba).

The same equations as the engine, written as loops over one sample at a time so that
the lecture's per-sample descent costs what its arithmetic costs. A network is a
flat parameter vector ``theta`` plus the integer arrays of ``spec.Layout``; for each
sample the kernel runs forward through every module keeping each module's output in
one buffer ``A`` (``A[a_off[m]:a_off[m + 1]]`` is module m's input), then backward,
adding each sample's ``grad_W = delta a_prev^T`` and ``grad_b = delta`` into ``G``.
At the end of each batch it takes ``SGD.step``: the same expressions in the same
order, refused as a whole when a new value is not finite.

``exp`` is a branch-free exponential (Cody-Waite reduction and a degree-13 Taylor
polynomial, within 2 ulp of ``math.exp``; ``test_fast_many`` checks it against
NumPy), so loops that call it compile to SIMD code (``many_kernels``, ``blas``);
the per-sample loops here, where nothing vectorises, call ``math.exp``.

``train_epoch``, ``evaluate`` and ``train_run`` read the network's shape from the
``Layout`` arrays at run time; ``codegen`` compiles the same three functions around
``forward``, ``output_delta`` and ``backward`` written out for one network (its
shape as constants), which is what ``train`` runs for all but large networks.

Compiled code is cached on disk (``cache=True``), so only the first process compiles.
Status codes returned by ``train_epoch``: ``OK``, ``LOSS_NOT_FINITE`` (the batch
loss; nothing changed), ``STEP_NOT_FINITE`` (the update; nothing changed).
"""

from __future__ import annotations

import math

import numpy as np

from retroprop.fast.health import prepare_numba

prepare_numba()  # a fork-safe threading layer and a sound cache, before any @njit

from numba import njit, types  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

from retroprop.engine.activations import (  # noqa: E402
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Tanh,
)
from retroprop.engine.losses import CrossEntropyLoss  # noqa: E402
from retroprop.fast.spec import LINEAR, code_of  # noqa: E402

OK, LOSS_NOT_FINITE, STEP_NOT_FINITE, EVAL_NOT_FINITE = 0, 1, 2, 3
# The codes the kernels switch on, read from the classes (compile-time constants).
SIGMOID, TANH, RELU, LEAKY, IDENTITY = (
    code_of(cls) for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, Identity)
)
CROSS_ENTROPY = code_of(CrossEntropyLoss)


@intrinsic
def _bits_as_float(typingctx, bits):
    """Reinterpret an int64's bits as a float64 (to build ``2**k`` exactly)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


_LN2_HI = 6.93147180369123816490e-01  # ln 2 with trailing zero bits: k * _LN2_HI exact
_LN2_LO = 1.90821492927058770002e-10
_LOG2E = 1.44269504088896338700e00


@njit(cache=True, error_model="numpy", inline="always")
def exp(x):
    """``e**x`` without branches: ``2**k * e**r``, ``k = round(x / ln 2)``, ``|r| <=
    ln(2) / 2``, ``e**r`` by its Taylor series to degree 13 (truncation below 1e-17).

    ``2**k`` is applied as two exact powers of two so that results that overflow
    give inf and ones that underflow give 0 (through subnormals); NaN stays NaN.
    """
    xc = min(max(x, -1000.0), 1000.0)
    k = math.floor(xc * _LOG2E + 0.5)
    r = (xc - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    ki = np.int64(k)
    k1 = ki >> 1
    k2 = ki - k1
    # (mypy reads the intrinsic's signature, typingctx included, as the call's)
    y = (
        p
        * _bits_as_float((k1 + 1023) << 52)  # type: ignore[call-arg]
        * _bits_as_float((k2 + 1023) << 52)  # type: ignore[call-arg]
    )
    return y if not math.isnan(x) else x


@njit(cache=True, error_model="numpy", inline="always")
def _f(kind, z, slope):
    """``a = f(z)`` for activation code ``kind`` (engine.activations)."""
    if kind == SIGMOID:
        # Stable: e^-|z| never overflows (engine.activations.sigmoid); 1 / (1 + e)
        # for z >= 0, e / (1 + e) below, chosen without a branch. One sample at a
        # time nothing vectorises, and the C library's exp is the faster one.
        e = math.exp(-abs(np.float64(z)))
        return (1.0 if z >= 0 else e) / (1.0 + e)
    if kind == TANH:
        return math.tanh(z)
    if kind == RELU:
        return z if z > 0 else 0.0
    if kind == LEAKY:
        return z if z > 0 else slope * z
    return z


@njit(cache=True, error_model="numpy", inline="always")
def _f_prime(kind, z, a, slope):
    """``f'(z)`` from the input ``z`` and output ``a`` (engine.activations)."""
    if kind == SIGMOID:
        return a * (1.0 - a)
    if kind == TANH:
        return 1.0 - a * a
    if kind == RELU:
        return 1.0 if z > 0 else 0.0
    if kind == LEAKY:
        return 1.0 if z > 0 else slope
    return 1.0


@njit(cache=True, error_model="numpy", inline="always")
def forward(theta, X, row, A, kinds, widths, w_off, b_off, slopes, a_off):
    """Sample ``X[row]`` through every module; module m's output in A[a_off[m+1]:...]."""
    for i in range(widths[0]):
        A[i] = X[row, i]
    for m in range(kinds.shape[0]):
        ai, ao = a_off[m], a_off[m + 1]
        win, wout = widths[m], widths[m + 1]
        if kinds[m] == LINEAR:
            # z_o = sum_i W_oi a_prev_i + b_o
            for o in range(wout):
                s = A[ai] * theta[w_off[m] + o * win]
                for i in range(1, win):
                    s += A[ai + i] * theta[w_off[m] + o * win + i]
                if b_off[m] >= 0:
                    s += theta[b_off[m] + o]
                A[ao + o] = s
        else:
            for o in range(wout):
                A[ao + o] = _f(kinds[m], A[ai + o], slopes[m])


@njit(cache=True, error_model="numpy", inline="always")
def output_delta(
    A, out0, k, loss_code, yr, T, row, scale, delta, want_delta=True, want_loss=True
):
    """This sample's loss and, if ``want_delta``, ``delta = dL/d(output)`` (already
    divided by ``scale``).

    Cross-entropy (engine.losses): ``L = -ln p_r`` by log-sum-exp, ``delta = p -
    onehot(r)`` with ``p_j = e^(z_j - max) / sum_i e^(z_i - max)``; MSE: ``L = sum
    (out - t)^2``, ``delta = 2 (out - t)``. Without ``want_loss`` (cross-entropy
    only) the log is skipped: the value returned is then not the loss but is
    finite exactly when the loss is (``s - (z_r - max)``, ``s`` in ``[1, k]``).
    """
    if loss_code == CROSS_ENTROPY:
        yi = int(yr)
        mx = A[out0]
        for j in range(1, k):
            mx = max(mx, A[out0 + j])
        s = 0.0
        for j in range(k):
            e = math.exp(A[out0 + j] - mx)
            if want_delta:
                delta[j] = e
            s += e
        margin = A[out0 + yi] - mx
        loss = -(margin - math.log(s)) if want_loss else s - margin
        if not want_delta:
            return loss
        for j in range(k):
            delta[j] = delta[j] / s
        delta[yi] -= 1.0
    else:
        loss = 0.0
        for j in range(k):
            d = A[out0 + j] - T[row, j]
            loss += d * d
            delta[j] = 2.0 * d
    if scale != 1.0:  # (x / 1 is x)
        for j in range(k):
            delta[j] /= scale
    return loss


@njit(cache=True, error_model="numpy", inline="always")
def backward(theta, G, A, delta, delta2, kinds, widths, w_off, b_off, slopes, a_off):
    """Walk back from ``delta = dL/d(output)``, adding this sample's gradients to G."""
    for m in range(kinds.shape[0] - 1, -1, -1):
        ai, ao = a_off[m], a_off[m + 1]
        win, wout = widths[m], widths[m + 1]
        if kinds[m] == LINEAR:
            # grad_W_oi += delta_o a_prev_i ; grad_b_o += delta_o (Linear.backward)
            for o in range(wout):
                d = delta[o]
                base = w_off[m] + o * win
                for i in range(win):
                    G[base + i] += d * A[ai + i]
                if b_off[m] >= 0:
                    G[b_off[m] + o] += d
            if m > 0:
                # dL/da_prev_i = sum_o delta_o W_oi
                for i in range(win):
                    delta2[i] = 0.0
                for o in range(wout):
                    d = delta[o]
                    base = w_off[m] + o * win
                    for i in range(win):
                        delta2[i] += d * theta[base + i]
                for i in range(win):
                    delta[i] = delta2[i]
        else:
            for i in range(wout):
                delta[i] = delta[i] * _f_prime(
                    kinds[m], A[ai + i], A[ao + i], slopes[m]
                )


@njit(cache=True, error_model="numpy", inline="always")
def backward_sgd(
    theta, new_theta, A, delta, delta2, lr, kinds, widths, w_off, b_off, slopes, a_off
):
    """``backward`` and plain SGD's step for a batch of one sample, in one pass:
    each parameter's new value ``theta - lr * grad`` goes straight into
    ``new_theta`` (``theta`` is left as it is, so ``dL/da_prev`` reads the old
    ``W``); returns whether every new value is finite (summing ``v * 0``, as
    ``sgd_plain``). The same numbers as ``backward`` into a zeroed ``G`` and then
    ``sgd_plain``, ``theta - lr * (0 + d a_prev_i)``, for parameters that are not
    -0.0 (``has_negative_zero``): ``0 + x`` is ``x`` but for ``x = -0.0``, which
    subtracted from any other value gives that value.
    """
    check = 0.0
    for m in range(kinds.shape[0] - 1, -1, -1):
        ai, ao = a_off[m], a_off[m + 1]
        win, wout = widths[m], widths[m + 1]
        if kinds[m] == LINEAR:
            # W_oi - lr grad_W_oi, grad_W_oi = delta_o a_prev_i ; b_o - lr delta_o
            for o in range(wout):
                d = delta[o]
                base = w_off[m] + o * win
                for i in range(win):
                    v = theta[base + i] - lr * (d * A[ai + i])
                    new_theta[base + i] = v
                    check += v * 0.0
                if b_off[m] >= 0:
                    v = theta[b_off[m] + o] - lr * d
                    new_theta[b_off[m] + o] = v
                    check += v * 0.0
            if m > 0:
                # dL/da_prev_i = sum_o delta_o W_oi (the old W)
                for i in range(win):
                    delta2[i] = 0.0
                for o in range(wout):
                    d = delta[o]
                    base = w_off[m] + o * win
                    for i in range(win):
                        delta2[i] += d * theta[base + i]
                for i in range(win):
                    delta[i] = delta2[i]
        else:
            for i in range(wout):
                delta[i] = delta[i] * _f_prime(
                    kinds[m], A[ai + i], A[ao + i], slopes[m]
                )
    return check == 0.0


@njit(cache=True, error_model="numpy", inline="always")
def has_negative_zero(theta):
    """Whether some parameter is -0.0. ``backward_sgd`` would turn it to +0.0 where
    its gradient is -0.0 (``-0.0 - lr * -0.0``), which the step from ``G`` (a sum
    started at +0.0) never does; no step makes a value -0.0 that was not."""
    for j in range(theta.shape[0]):
        if theta[j] == 0.0 and math.copysign(1.0, theta[j]) < 0.0:
            return True
    return False


@njit(cache=True, error_model="numpy", inline="always")
def sgd_step(
    theta,
    G,
    buf,
    new_theta,
    new_buf,
    first,
    lr,
    momentum,
    one_minus_damp,
    weight_decay,
    nesterov,
):
    """``SGD.step`` (torch.optim.SGD); commits only when every new value is finite.

    Finiteness is summed rather than branched on (``v * 0`` is 0 for a finite
    ``v`` and NaN for inf or NaN), so that the loops compile to SIMD code; plain
    SGD, the lecture's, has a loop of its own (and ``train_epoch`` takes
    ``sgd_plain`` for it).
    """
    check = 0.0
    if momentum == 0 and weight_decay == 0:
        for j in range(theta.shape[0]):
            v = theta[j] - lr * G[j]
            new_theta[j] = v
            check += v * 0.0
    else:
        for j in range(theta.shape[0]):
            g = G[j]
            if weight_decay != 0:
                g = g + weight_decay * theta[j]
            if momentum != 0:
                if first:
                    b = g
                else:
                    b = momentum * buf[j] + one_minus_damp * g
                new_buf[j] = b
                g = g + momentum * b if nesterov else b
            v = theta[j] - lr * g
            new_theta[j] = v
            check += v * 0.0
    if check != 0.0:  # NaN: some new value is not finite
        return False
    for j in range(theta.shape[0]):
        theta[j] = new_theta[j]
    if momentum != 0:
        for j in range(theta.shape[0]):
            buf[j] = new_buf[j]
    return True


@njit(cache=True, error_model="numpy", inline="always")
def sgd_plain(theta, G, lr):
    """``sgd_step`` for plain SGD (no momentum, no weight decay), the lecture's:
    one loop checks every new value ``theta - lr G`` (summing ``v * 0``), the next
    computes them again (the same expression, so the same values) into ``theta``,
    which costs less than storing them and copying them over."""
    check = 0.0
    for j in range(theta.shape[0]):
        check += (theta[j] - lr * G[j]) * 0.0
    if check != 0.0:  # NaN: some new value is not finite
        return False
    for j in range(theta.shape[0]):
        theta[j] = theta[j] - lr * G[j]
    return True


@njit(cache=True, error_model="numpy")
def sgd_epoch(
    theta,
    X,
    y,
    T,
    order,
    lr,
    loss_code,
    kinds,
    widths,
    w_off,
    b_off,
    slopes,
    a_off,
    loss_max,
    record,
    recorded,
    want_loss=True,
    want_correct=True,
):
    """``train_epoch`` for plain SGD one sample at a time, the lecture's descent:
    ``backward_sgd`` writes each step's new parameters into a second vector, which
    becomes the current one when they are all finite (the two swap roles), so no
    gradient is stored and nothing is copied. ``theta`` holds the current
    parameters when it returns."""
    n = order.shape[0]
    k = widths[widths.shape[0] - 1]
    out0 = a_off[a_off.shape[0] - 2]
    A = np.empty(a_off[a_off.shape[0] - 1], dtype=theta.dtype)
    wmax = widths.max()
    delta = np.empty(wmax, dtype=theta.dtype)
    delta2 = np.empty(wmax, dtype=theta.dtype)
    scale = 1.0 if loss_code == CROSS_ENTROPY else k  # train_epoch's for B = 1
    current, spare = theta, np.empty_like(theta)
    swapped = False
    status = OK
    iterations = 0
    loss = 0.0
    running_loss = 0.0
    correct = 0
    for t in range(n):
        for j in range(record.shape[0]):
            recorded[iterations, j] = current[record[j]]
        iterations += 1
        row = order[t]
        forward(current, X, row, A, kinds, widths, w_off, b_off, slopes, a_off)
        loss = output_delta(
            A, out0, k, loss_code, y[row], T, row, scale, delta, True, want_loss
        )
        if want_correct:
            best = 0
            for j in range(1, k):
                if A[out0 + j] > A[out0 + best]:
                    best = j
            if best == y[row]:
                correct += 1
        ok = backward_sgd(
            current,
            spare,
            A,
            delta,
            delta2,
            lr,
            kinds,
            widths,
            w_off,
            b_off,
            slopes,
            a_off,
        )
        running_loss += loss
        if not math.isfinite(loss) or loss > loss_max:
            status = LOSS_NOT_FINITE
            break
        if not ok:
            status = STEP_NOT_FINITE
            break
        current, spare = spare, current
        swapped = not swapped
    if swapped:
        theta[:] = current
    if status == OK:
        loss = 0.0
    return status, iterations, loss, running_loss, correct


@njit(cache=True, error_model="numpy")
def train_epoch(
    theta,
    buf,
    first,
    X,
    y,
    T,
    order,
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
    loss_max,
    record,
    recorded,
    want_loss=True,
    want_correct=True,
):
    """One epoch of mini-batch SGD in ``order``: ``(status, iterations, loss,
    running_loss, correct)``.

    ``first[0]`` is 1 until the first step has filled the momentum buffer ``buf``.
    On a non-OK status ``theta`` holds the last finite parameters, ``iterations``
    counts the failed one and ``loss`` is that batch's (summed) loss. Otherwise
    ``running_loss`` is the sum of every sample's loss and ``correct`` the number
    of samples put in their class, each measured before its batch's update (the
    running History). Before each iteration ``i`` (0-based in this epoch), the
    parameters ``theta[record]`` are copied into ``recorded[i]`` (the compiled
    ``RecordParameter``; ``record`` may be empty). The summed
    loss is a float64; ``loss_max`` (float32's largest value for a float32 network)
    is where the engine's own sum in the network's dtype would overflow, so a loss
    above it counts as non-finite too. ``want_loss=False`` (a float64 run whose
    History measures the whole set after each epoch) skips each sample's log:
    ``loss`` and ``running_loss`` are then only finite exactly when the loss is;
    ``want_correct=False`` skips counting ``correct``. Plain SGD one sample at a
    time (the lecture's) runs ``sgd_epoch`` (unless a parameter is -0.0).
    """
    plain = momentum == 0 and weight_decay == 0
    if batch_size == 1 and plain and not has_negative_zero(theta):
        return sgd_epoch(
            theta,
            X,
            y,
            T,
            order,
            lr,
            loss_code,
            kinds,
            widths,
            w_off,
            b_off,
            slopes,
            a_off,
            loss_max,
            record,
            recorded,
            want_loss,
            want_correct,
        )
    n = order.shape[0]
    k = widths[widths.shape[0] - 1]
    out0 = a_off[a_off.shape[0] - 2]
    P = theta.shape[0]
    A = np.empty(a_off[a_off.shape[0] - 1], dtype=theta.dtype)
    wmax = widths.max()
    delta = np.empty(wmax, dtype=theta.dtype)
    delta2 = np.empty(wmax, dtype=theta.dtype)
    G = np.empty(P, dtype=theta.dtype)
    new_theta = np.empty(P, dtype=theta.dtype)
    new_buf = np.empty(P, dtype=theta.dtype)
    iterations = 0
    running_loss = 0.0
    correct = 0
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        B = stop - start
        scale = B if loss_code == CROSS_ENTROPY else B * k
        for j in range(record.shape[0]):
            recorded[iterations, j] = theta[record[j]]
        iterations += 1
        G[:] = 0.0
        batch_loss = 0.0
        for t in range(start, stop):
            row = order[t]
            forward(theta, X, row, A, kinds, widths, w_off, b_off, slopes, a_off)
            batch_loss += output_delta(
                A, out0, k, loss_code, y[row], T, row, scale, delta, True, want_loss
            )
            if want_correct:
                best = 0
                for j in range(1, k):
                    if A[out0 + j] > A[out0 + best]:
                        best = j
                if best == y[row]:
                    correct += 1
            backward(
                theta, G, A, delta, delta2, kinds, widths, w_off, b_off, slopes, a_off
            )
        running_loss += batch_loss
        if not math.isfinite(batch_loss) or batch_loss > loss_max:
            return LOSS_NOT_FINITE, iterations, batch_loss, running_loss, correct
        if plain:
            ok = sgd_plain(theta, G, lr)
        else:
            ok = sgd_step(
                theta,
                G,
                buf,
                new_theta,
                new_buf,
                first[0] == 1,
                lr,
                momentum,
                one_minus_damp,
                weight_decay,
                nesterov,
            )
        if not ok:
            return STEP_NOT_FINITE, iterations, batch_loss, running_loss, correct
        first[0] = 0
    return OK, iterations, 0.0, running_loss, correct


EVAL_BLOCK = 128
"""Samples ``evaluate`` carries through the network together."""


@njit(cache=True, error_model="numpy", inline="always")
def activate_many(kind, z, slope):
    """``_f`` for ``evaluate``'s loops over samples: the sigmoid with the branch-free
    ``exp`` (within 2 ulp of ``math.exp``), so that the loop compiles to SIMD code."""
    if kind == SIGMOID:
        e = exp(-abs(np.float64(z)))
        return (1.0 if z >= 0 else e) / (1.0 + e)
    return _f(kind, z, slope)


@njit(cache=True, error_model="numpy")
def evaluate(theta, X, y, T, loss_code, kinds, widths, w_off, b_off, slopes, a_off):
    """``(mean loss, accuracy)`` on ``X`` (train.evaluate).

    The samples go through the network ``EVAL_BLOCK`` at a time, module by module,
    each module's output for the block in the rows of ``Z`` (one row per unit, one
    column per sample) and every inner loop running over the block's samples, so
    that the compiler turns it into SIMD code; each sample's sums are the per-sample
    ``forward``'s, in the same order, and its log-sum-exp is taken once. The
    samples' losses are added in row order.
    """
    n = X.shape[0]
    k = widths[widths.shape[0] - 1]
    out0 = a_off[a_off.shape[0] - 2]
    nb = min(n, EVAL_BLOCK)
    Z = np.empty((a_off[a_off.shape[0] - 1], nb), dtype=theta.dtype)
    mx = np.empty(nb, dtype=theta.dtype)
    s = np.empty(nb)
    top = np.empty(nb, dtype=theta.dtype)
    best = np.empty(nb, dtype=np.int64)
    total = 0.0
    correct = 0
    for r0 in range(0, n, nb):
        B = min(nb, n - r0)
        for i in range(widths[0]):
            zi = Z[i]
            for r in range(B):
                zi[r] = X[r0 + r, i]
        for m in range(kinds.shape[0]):
            ai, ao = a_off[m], a_off[m + 1]
            win, wout = widths[m], widths[m + 1]
            if kinds[m] == LINEAR:
                # z_o = sum_i W_oi a_prev_i + b_o, for every sample of the block
                for o in range(wout):
                    zo = Z[ao + o]
                    base = w_off[m] + o * win
                    w = theta[base]
                    za = Z[ai]
                    for r in range(B):
                        zo[r] = za[r] * w
                    for i in range(1, win):
                        w = theta[base + i]
                        za = Z[ai + i]
                        for r in range(B):
                            zo[r] += za[r] * w
                    if b_off[m] >= 0:
                        b = theta[b_off[m] + o]
                        for r in range(B):
                            zo[r] += b
            else:
                kind, slope = kinds[m], slopes[m]
                for o in range(wout):
                    za, zo = Z[ai + o], Z[ao + o]
                    for r in range(B):
                        zo[r] = activate_many(kind, za[r], slope)
        # accuracy: the first largest output
        zj = Z[out0]
        for r in range(B):
            top[r] = zj[r]
            best[r] = 0
        for j in range(1, k):
            zj = Z[out0 + j]
            for r in range(B):
                if zj[r] > top[r]:
                    top[r] = zj[r]
                    best[r] = j
        for r in range(B):
            if best[r] == y[r0 + r]:
                correct += 1
        if loss_code == CROSS_ENTROPY:
            # L = -(z_y - max) + ln sum_j e^(z_j - max)
            zj = Z[out0]
            for r in range(B):
                mx[r] = zj[r]
            for j in range(1, k):
                zj = Z[out0 + j]
                for r in range(B):
                    mx[r] = max(mx[r], zj[r])
            for r in range(B):
                s[r] = 0.0
            for j in range(k):
                zj = Z[out0 + j]
                for r in range(B):
                    s[r] += exp(np.float64(zj[r] - mx[r]))
            for r in range(B):
                yi = int(y[r0 + r])
                total += -((Z[out0 + yi, r] - mx[r]) - math.log(s[r]))
        else:
            for r in range(B):
                loss = 0.0
                for j in range(k):
                    d = Z[out0 + j, r] - T[r0 + r, j]
                    loss += d * d
                total += loss
    denominator = n if loss_code == CROSS_ENTROPY else n * k
    return total / denominator, correct / n


@njit(cache=True, error_model="numpy")
def train_run(
    theta,
    buf,
    first,
    X,
    y,
    T,
    orders,
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
    loss_max,
    record,
    recorded,
    full,
    Xv,
    yv,
    Tv,
    history,
    patience,
    stopping,
    best_theta,
):
    """A whole training run: ``train_epoch`` for each row of ``orders`` (shape
    ``(epochs, n)``), each followed by what ``train`` measures into ``history``
    (shape ``(epochs, 4)``: loss, accuracy, validation loss and accuracy): the whole
    training set (``full``) or the epoch's running mean, and ``Xv`` when it has
    rows. Returns ``(status, epochs done, iterations, loss)``: on a non-OK status
    the epoch it happened in (its History row is filled only for
    ``EVAL_NOT_FINITE``, a non-finite measured loss after the epoch) and the loss.
    ``recorded`` has a row per iteration of the whole run (``train_epoch``'s).

    Early stopping (``EarlyStopping``), when ``patience > 0``: after each epoch
    the monitored loss (the validation loss if ``Xv`` has rows, else the training
    loss) is compared with ``stopping`` (float64: the lowest so far, its epoch
    counted from 1 across pieces of a run, epochs since it, and the epoch number
    before this call's first), the parameters of a new lowest are copied into
    ``best_theta``, and the run ends (status OK, fewer epochs done) once
    ``patience`` epochs have passed without one.
    """
    epochs, n = orders.shape
    per_epoch = (n + batch_size - 1) // batch_size
    k = widths[widths.shape[0] - 1]
    kdiv = 1 if loss_code == 0 else k
    # Each sample's loss is needed for the running History and a float32
    # network's overflow check; else only whether it is finite (what train_epoch
    # returns without it is nan or inf where the loss is).
    want_loss = not full or loss_max < np.inf
    iterations = 0
    for e in range(epochs):
        status, its, batch_loss, total, correct = train_epoch(
            theta,
            buf,
            first,
            X,
            y,
            T,
            orders[e],
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
            loss_max,
            record,
            recorded[e * per_epoch : (e + 1) * per_epoch],
            want_loss,
            not full,
        )
        iterations += its
        if status != OK:
            return status, e + 1, iterations, batch_loss
        if full:
            lo, ac = evaluate(
                theta, X, y, T, loss_code, kinds, widths, w_off, b_off, slopes, a_off
            )
            if lo * (n * kdiv) > loss_max:  # the engine's sum overflows
                lo = np.inf
        else:
            lo, ac = total / (n * kdiv), correct / n
        history[e, 0], history[e, 1] = lo, ac
        monitored = lo
        if Xv.shape[0] > 0:
            vl, va = evaluate(
                theta, Xv, yv, Tv, loss_code, kinds, widths, w_off, b_off, slopes, a_off
            )
            if vl * (Xv.shape[0] * kdiv) > loss_max:
                vl = np.inf
            history[e, 2], history[e, 3] = vl, va
            monitored = vl
        if not math.isfinite(monitored):
            return EVAL_NOT_FINITE, e + 1, iterations, monitored
        if patience > 0:  # EarlyStopping.on_epoch_end
            if monitored < stopping[0]:
                stopping[0], stopping[1], stopping[2] = (
                    monitored,
                    stopping[3] + e + 1,
                    0,
                )
                best_theta[:] = theta
            else:
                stopping[2] += 1
                if stopping[2] >= patience:
                    return OK, e + 1, iterations, 0.0
    return OK, epochs, iterations, 0.0
