"""The limits retroprop is measured against, written by hand for one case each.

``iris_loop``: the lecture's 4-4-3-3 sigmoid network trained sample by sample in one
hand-written Numba loop (fixed shapes, no flat layout, no History, no divergence
checks): what per-sample SGD costs on this machine with nothing around it.
(The large-batch case's limit, its matrix products alone, is ``large.gemm_epoch``.)
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, fastmath=False)
def _iris_loop(W1, b1, W2, b2, W3, b3, X, y, orders, lr):
    a0 = np.empty(4)
    a1 = np.empty(4)
    a2 = np.empty(3)
    out = np.empty(3)
    d3 = np.empty(3)
    d2 = np.empty(3)
    d1 = np.empty(4)
    for e in range(orders.shape[0]):
        for t in range(orders.shape[1]):
            r = orders[e, t]
            for i in range(4):
                a0[i] = X[r, i]
            for o in range(4):  # a1 = sigmoid(W1 a0 + b1)
                s = b1[o]
                for i in range(4):
                    s += W1[o, i] * a0[i]
                a1[o] = 1.0 / (1.0 + math.exp(-s))
            for o in range(3):  # a2 = sigmoid(W2 a1 + b2)
                s = b2[o]
                for i in range(4):
                    s += W2[o, i] * a1[i]
                a2[o] = 1.0 / (1.0 + math.exp(-s))
            mx = -np.inf
            for o in range(3):  # logits = W3 a2 + b3
                s = b3[o]
                for i in range(3):
                    s += W3[o, i] * a2[i]
                out[o] = s
                mx = max(mx, s)
            z = 0.0
            for o in range(3):
                z += math.exp(out[o] - mx)
            for o in range(3):  # delta = softmax - onehot
                d3[o] = math.exp(out[o] - mx) / z
            d3[y[r]] -= 1.0
            for i in range(3):
                s = 0.0
                for o in range(3):
                    s += d3[o] * W3[o, i]
                d2[i] = s * a2[i] * (1.0 - a2[i])
            for i in range(4):
                s = 0.0
                for o in range(3):
                    s += d2[o] * W2[o, i]
                d1[i] = s * a1[i] * (1.0 - a1[i])
            for o in range(3):
                b3[o] -= lr * d3[o]
                for i in range(3):
                    W3[o, i] -= lr * d3[o] * a2[i]
            for o in range(3):
                b2[o] -= lr * d2[o]
                for i in range(4):
                    W2[o, i] -= lr * d2[o] * a1[i]
            for o in range(4):
                b1[o] -= lr * d1[o]
                for i in range(4):
                    W1[o, i] -= lr * d1[o] * a0[i]


def iris_loop(params: dict, X: np.ndarray, y: np.ndarray, orders: np.ndarray, lr):
    """Train the lecture's network (``params``: a state dict, changed in place) on
    ``X[orders[e]]`` for each epoch ``e``."""
    _iris_loop(
        params["0.weight"],
        params["0.bias"],
        params["2.weight"],
        params["2.bias"],
        params["4.weight"],
        params["4.bias"],
        np.ascontiguousarray(X, dtype=np.float64),
        np.asarray(y, dtype=np.int64),
        np.ascontiguousarray(orders, dtype=np.int64),
        float(lr),
    )
