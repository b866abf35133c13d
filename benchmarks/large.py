"""Case (c): large mini-batches, retroprop's BLAS runner against its peers.

One epoch on synthetic 60,000 x 784 data, 784-256-128-10 sigmoid, batch 128, in
float32 and float64: retroprop (``history="auto"``, which is the running loss at
this size, and ``history="full"``), PyTorch's training loop alone and with the same
full-set pass, scikit-learn's MLPClassifier, and the limit: the epoch's matrix
products alone through the same BLAS.

The machine is shared, so every measurement is taken twice, in two settings:

- **all cores, wall time**: every library with the machine's BLAS threads (what a
  user sees on an idle machine; on a busy one, threads that wait for a core make
  every multithreaded product slower, so these numbers move with the load);
- **one thread, CPU time**: every library held to one thread (threadpoolctl,
  ``torch.set_num_threads(1)``) and timed by this process's CPU time, which other
  processes' time slices do not inflate: the ratios that hold on a busy machine.

In each setting the implementations take turns (one run of each, then the next
round), so a change of load touches all of them alike; the median of the rounds is
reported, after one warm-up round.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from typing import TextIO

import numpy as np

import retroprop as rp
from benchmarks.speed import blas_threads, have

SIZES = [784, 256, 128, 10]
SETTINGS = "both"
"""Which settings ``large`` measures: "all" (cores, wall time), "one" (thread, CPU
time) or "both" (``python -m benchmarks --threads``)."""
BATCH, LR = 128, 1.0
"""eta 1: the network learns in its one epoch (running loss 2.22, accuracy 16 %,
then 0.88 and 67 % in a second); at eta 0.1 it ends near chance, where retroprop
adds its divergence check's pass over the training set (``train``'s docstring)."""


def synthetic(n: int, d: int, k: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian inputs labelled by a random linear teacher (learnable, balanced)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d), dtype=np.float32).astype(dtype, copy=False)
    W = rng.standard_normal((d, k), dtype=np.float32).astype(dtype, copy=False)
    return X, np.argmax(X @ W, axis=1)


def torch_large(
    X: np.ndarray, y: np.ndarray, sizes, batch: int, lr: float, evaluate: bool
) -> float:
    """One epoch of mini-batch SGD, sigmoid hidden layers; then (optionally) the
    loss on the whole training set, as History's ``"full"`` measures it."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    dtype = torch.float32 if X.dtype == np.float32 else torch.float64
    layers: list = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(nn.Sigmoid())
    net = nn.Sequential(*layers)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    perm = torch.randperm(len(Xt))
    for start in range(0, len(Xt), batch):
        idx = perm[start : start + batch]
        optimizer.zero_grad()
        loss = criterion(net(Xt[idx]), yt[idx])
        loss.backward()
        optimizer.step()
    if evaluate:
        with torch.no_grad():
            return float(criterion(net(Xt), yt))
    return float(loss.detach())


def sklearn_large(X: np.ndarray, y: np.ndarray, hidden, batch: int, lr: float) -> float:
    """One epoch of scikit-learn's MLPClassifier, plain SGD (its running loss)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=hidden,
        activation="logistic",
        solver="sgd",
        batch_size=batch,
        momentum=0.0,
        alpha=0.0,
        learning_rate_init=lr,
        max_iter=1,
        tol=0.0,
        n_iter_no_change=10**9,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return clf.loss_


def gemm_epoch(
    n: int, sizes: list[int], batch: int, dtype, clock: Callable[[], float]
) -> tuple[float, float]:
    """``(seconds, flops)`` of one epoch's training products alone: per batch, each
    layer's ``z = a_prev @ W.T`` and ``grad_W = delta.T @ a_prev``, and ``delta @ W``
    above the first layer, each straight into a preallocated array by SciPy's BLAS
    (as the large-batch runner calls them). The best of three epochs, by ``clock``."""
    from scipy.linalg import blas

    gemm = blas.sgemm if np.dtype(dtype) == np.float32 else blas.dgemm
    rng = np.random.default_rng(0)
    Ws = [
        rng.standard_normal((b, a)).astype(dtype) for a, b in itertools.pairwise(sizes)
    ]
    acts = [rng.standard_normal((batch, w)).astype(dtype) for w in sizes]
    deltas = [np.empty((batch, w), dtype=dtype) for w in sizes]
    grads = [np.empty_like(W) for W in Ws]
    steps = n // batch
    flops = 0.0
    for m, W in enumerate(Ws):
        per = 2.0 * batch * W.size
        flops += steps * per * (3 if m > 0 else 2)
    best = math.inf
    for _ in range(3):
        t0 = clock()
        for _ in range(steps):
            for m, W in enumerate(Ws):
                gemm(
                    1.0,
                    W.T,
                    acts[m].T,
                    beta=0.0,
                    c=acts[m + 1].T,
                    trans_a=1,
                    overwrite_c=1,
                )
            for m in range(len(Ws) - 1, -1, -1):
                W = Ws[m]
                gemm(
                    1.0,
                    acts[m].T,
                    acts[m + 1].T,
                    beta=0.0,
                    c=grads[m].T,
                    trans_b=1,
                    overwrite_c=1,
                )
                if m > 0:
                    gemm(
                        1.0, W.T, acts[m + 1].T, beta=0.0, c=deltas[m].T, overwrite_c=1
                    )
        best = min(best, clock() - t0)
    return best, flops


@contextlib.contextmanager
def threads(n: int | None) -> Iterator[None]:
    """Every BLAS and OpenMP pool (NumPy's, SciPy's, PyTorch's) held to ``n``
    threads inside the block; ``None`` leaves them as they are."""
    if n is None:
        yield
        return
    import scipy.linalg.blas  # noqa: F401  (loaded first, so that its pool is held too)
    from threadpoolctl import threadpool_limits

    torch = __import__("torch") if have("torch") else None
    before = torch.get_num_threads() if torch else 0
    if torch:
        torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        if torch:
            torch.set_num_threads(before)


SETTLE = 0.5
"""Seconds of rest before each timed run: the BLAS threads of the library that ran
before (NumPy's OpenBLAS for scikit-learn, SciPy's for retroprop, PyTorch's own)
keep spinning for a while after their last product and would slow whichever
library runs next on the two cores."""


def in_turns(
    fns: dict[str, Callable[[], object]], repeats: int, clock: Callable[[], float]
) -> dict[str, float]:
    """Median time of each function: one warm-up round, then ``repeats`` rounds in
    which each runs once, in turn (so a change of load touches them all alike),
    each after ``SETTLE`` seconds of rest (not timed)."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            time.sleep(SETTLE)
            t0 = clock()
            fn()
            times[name].append(clock() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def _row(out: TextIO, case: str, impl: str, seconds: float, ref: float | None, note=""):
    ratio = "" if ref is None else f"{seconds / ref:10.1f}x"
    out.write(f"| {case:<22} | {impl:<44} | {seconds:10.4f} | {ratio:>11} | {note} |\n")
    out.flush()


def large(quick: bool, repeats: int, out: TextIO) -> dict:
    """Run case (c) in both precisions and both settings; write its tables."""
    n = 1024 if quick else 60_000
    weights = sum(a * b for a, b in itertools.pairwise(SIZES))
    # Training: forward (2 flops per weight and sample), grad_W (2) and the delta
    # passed down (2, not below the first layer); evaluation: one forward.
    train_flops = n * (6 * weights - 2 * SIZES[0] * SIZES[1])
    eval_flops = n * 2 * weights
    all_threads, _ = blas_threads()
    settings = {
        f"all cores ({all_threads} threads), wall": (None, time.perf_counter),
        "one thread, CPU time": (1, time.process_time),
    }
    if SETTINGS != "both":
        settings = {
            k: v for k, v in settings.items() if (v[0] is None) == (SETTINGS == "all")
        }
    result: dict = {}
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        X, y = synthetic(n, SIZES[0], SIZES[-1], dtype)

        def ours(history: str, X=X, y=y, dtype=dtype) -> rp.History:
            net = rp.mlp(SIZES, seed=0, dtype=dtype)
            return rp.train(
                net, X, y, epochs=1, lr=LR, batch_size=BATCH, seed=0, history=history
            )

        h = ours("auto")
        fns: dict[str, Callable[[], object]] = {
            "auto": lambda: ours("auto"),
            "running": lambda: ours("running"),
            "full": lambda: ours("full"),
        }
        if have("torch"):
            fns["torch"] = lambda X=X, y=y: torch_large(X, y, SIZES, BATCH, LR, False)
            fns["torch_full"] = lambda X=X, y=y: torch_large(
                X, y, SIZES, BATCH, LR, True
            )
        if have("sklearn"):
            fns["sklearn"] = lambda X=X, y=y: sklearn_large(
                X, y, tuple(SIZES[1:-1]), BATCH, LR
            )
        labels = {
            "auto": f"retroprop train (default: {h.engine} runner, {h.loss_kind} loss)",
            "running": "retroprop train, history='running'",
            "full": "retroprop train, history='full'",
            "torch": "PyTorch loop, training only",
            "torch_full": "PyTorch loop + full-set loss",
            "sklearn": "scikit-learn MLPClassifier sgd (running loss)",
        }
        for setting, (limit, clock) in settings.items():
            out.write(
                f"\n(c) one epoch, {n} x {SIZES[0]}, {'-'.join(map(str, SIZES))} "
                f"sigmoid, batch {BATCH}, {name}, {setting} ({train_flops / 1e9:.1f} "
                f"GFLOP training + {eval_flops / 1e9:.1f} GFLOP evaluation)\n"
                "| case | implementation | median s | its time / retroprop's | note |\n"
                "|---|---|---:|---:|---|\n"
            )
            case = f"c: {name}, {'1 thread' if limit else 'all cores'}"
            with threads(limit):
                t = in_turns(fns, repeats, clock)
                t_gemm, gemm_flops = gemm_epoch(n, SIZES, BATCH, dtype, clock)
            gemm_rate = gemm_flops / t_gemm
            for key, seconds in t.items():
                flops = train_flops + (eval_flops if key.endswith("full") else 0)
                note = f"{flops / seconds / 1e9:.0f} GFLOP/s"
                if key == "auto":
                    note += (
                        f", {train_flops / seconds / gemm_rate:.0%} of the GEMM rate"
                    )
                ref = None if key == "auto" else t["auto"]
                _row(out, case, labels[key], seconds, ref, note)
            _row(
                out,
                case,
                "limit: the epoch's GEMMs alone (same BLAS)",
                t_gemm,
                t["auto"],
                f"{gemm_rate / 1e9:.0f} GFLOP/s for these shapes",
            )
            result[(name, "1 thread" if limit else "all cores")] = {
                **t,
                "gemm": t_gemm,
                "gflops": train_flops / t["auto"] / 1e9,
                "gemm_gflops": gemm_rate / 1e9,
                "loss_kind": h.loss_kind,
            }
    return result


def targets(result: dict) -> list[tuple[str, float, float, str, bool]]:
    """Issue 16's targets for (c): ``(what, value, limit, "above", judged)`` per
    line, judged in the issue's setting (all cores, wall time)."""
    peers = (("torch", "PyTorch training only", 1.2), ("sklearn", "scikit-learn", 1.5))
    return [
        (
            f"(c) {name}, {setting}: {label} / retroprop",
            r[key] / r["auto"],
            limit,
            "above",
            setting == "all cores",
        )
        for (name, setting), r in result.items()
        for key, label, limit in peers
        if key in r
    ]


def notes(result: dict) -> list[str]:
    """The achieved rate against the GEMMs' for each setting (not a target)."""
    return [
        f"     (c) {name}, {setting}: {r['gflops']:.0f} GFLOP/s; the same BLAS "
        f"products alone {r['gemm_gflops']:.0f} GFLOP/s ({r['gflops'] / r['gemm_gflops']:.0%})"
        for (name, setting), r in result.items()
    ]
