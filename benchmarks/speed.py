"""Issue 5's three cases, retroprop and its peers timed side by side in one process.

(a) ``iris``: the lecture's 4-4-3-3 sigmoid network, 100 epochs of per-sample SGD
    (eta 0.05) on the Iris training split: retroprop (``engine="auto"`` and the
    NumPy engine), the lecture's PyTorch loop, scikit-learn's MLPClassifier.
(b) ``many``: 1,000 such networks from seeds 0..999 with ``train_many``, against
    the PyTorch loop's time for one network times 1,000.
(c) ``large``: one epoch on synthetic 60,000 x 784 data, 784-256-128-10 sigmoid,
    batch 128, float32 and float64: retroprop, a PyTorch loop, scikit-learn.

Every implementation also measures the loss on the whole training set after each
epoch, as retroprop's History does (scikit-learn reports its running loss instead,
which costs nothing). Times are medians of ``repeats`` runs after a warm-up run.
"""

from __future__ import annotations

import itertools
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from typing import TextIO

import numpy as np

import retroprop as rp
from retroprop.recipe import prepare_data

CPU = time.process_time

CASES = {"a": "iris", "b": "many", "c": "large", "d": "first"}


def median_time(
    fn: Callable[[], object],
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Median time of ``fn()`` over ``repeats`` runs, after one warm-up run: wall
    time, or ``clock=time.process_time`` for this process's CPU time (for
    single-threaded cases on a shared machine, where wall time also counts the time
    slices other processes take)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


def blas_threads() -> tuple[int, str]:
    """``(threads, description)`` of the BLAS NumPy uses (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return os.cpu_count() or 1, "unknown BLAS"
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            return int(info["num_threads"]), (
                f"{info.get('internal_api')} {info.get('version')}, kernel "
                f"{info.get('architecture')}, {info['num_threads']} threads"
            )
    return os.cpu_count() or 1, "unknown BLAS"


def machine() -> str:
    """One paragraph describing the machine and the library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [
                ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")
            ]
        cpu = f"{names[0]} x {len(names)}" if names else cpu
    except OSError:
        pass
    versions = [f"numpy {np.__version__}"]
    for mod in ("numba", "torch", "sklearn"):
        try:
            versions.append(f"{mod} {__import__(mod).__version__}")
        except ImportError:
            versions.append(f"{mod} (not installed)")
    env = {
        k: os.environ[k]
        for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
        if k in os.environ
    }
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"machine: {cpu}, {os.cpu_count()} logical CPUs, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}\n"
        f"libraries: {', '.join(versions)}; BLAS: {blas_threads()[1]}\n"
        f"load average at start: {load:.2f}"
        + (f"\nWARNING: {env} is set and may slow NumPy's BLAS" if env else "")
    )


def _have(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# --- (a) and (b): the lecture's Iris network --------------------------------------


def lecture_network_class() -> type:
    """The lecture's PyTorch ``NeuralNetwork``, from ``examples/lecture_pytorch.py``."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "examples" / "lecture_pytorch.py"
    spec = importlib.util.spec_from_file_location("lecture_pytorch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.NeuralNetwork


def torch_iris(X: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> float:
    """The lecture's PyTorch code: fc1..fc3, sigmoid, per-sample SGD; last loss."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    net = lecture_network_class()()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    g = torch.Generator().manual_seed(seed)
    loss = None
    for _ in range(epochs):
        for i in torch.randperm(len(Xt), generator=g).tolist():
            optimizer.zero_grad()
            out = net(Xt[i : i + 1])
            step_loss = criterion(out, yt[i : i + 1])
            step_loss.backward()
            optimizer.step()
        with torch.no_grad():  # the epoch's loss on the training set, as History
            loss = float(criterion(net(Xt), yt))
    return loss


def sklearn_iris(X: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=(4, 3),
        activation="logistic",
        solver="sgd",
        batch_size=1,
        momentum=0.0,
        alpha=0.0,
        learning_rate_init=0.05,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=10**9,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return clf.loss_


def _row(
    out: TextIO,
    case: str,
    impl: str,
    seconds: float,
    reference: float | None,
    note: str = "",
) -> None:
    ratio = "" if reference is None else f"{seconds / reference:10.1f}x"
    out.write(f"| {case:<22} | {impl:<40} | {seconds:10.4f} | {ratio:>11} | {note} |\n")
    out.flush()


def _header(out: TextIO, title: str) -> None:
    out.write(
        f"\n{title}\n| case | implementation | median s | its time / retroprop's | note |\n"
        "|---|---|---:|---:|---|\n"
    )


def iris(quick: bool, repeats: int, out: TextIO) -> dict:
    import numba

    split = prepare_data()
    X, y = split.X_train, split.y_train
    epochs = 3 if quick else 100
    steps = epochs * len(y)
    _header(
        out,
        f"(a) Iris 4-4-3-3, {epochs} epochs of per-sample SGD ({steps} steps); "
        "CPU time of this process (single-threaded)",
    )

    def ours(engine: str) -> Callable[[], object]:
        return lambda: rp.train(
            rp.mlp([4, 4, 3, 3], seed=1),
            X,
            y,
            epochs=epochs,
            lr=0.05,
            seed=1,
            engine=engine,
        )

    t_rp = median_time(ours("auto"), repeats, CPU)
    case = "a: Iris per-sample"
    _row(
        out,
        case,
        "retroprop train (auto: compiled)",
        t_rp,
        None,
        f"{t_rp / steps * 1e6:.2f} us/step, 1 thread, full-set History per epoch",
    )
    running = median_time(
        lambda: rp.train(
            rp.mlp([4, 4, 3, 3], seed=1),
            X,
            y,
            epochs=epochs,
            lr=0.05,
            seed=1,
            history="running",
        ),
        repeats,
        CPU,
    )
    _row(
        out,
        case,
        "retroprop train, history='running'",
        running,
        t_rp,
        f"{running / steps * 1e6:.2f} us/step: no full-set pass per epoch",
    )
    from benchmarks.reference import iris_loop

    rng = np.random.default_rng(1)
    orders = np.array([rng.permutation(len(y)) for _ in range(epochs)])
    start = rp.mlp([4, 4, 3, 3], seed=1).state_dict()

    def reference() -> None:
        iris_loop({k: v.copy() for k, v in start.items()}, X, y, orders, 0.05)

    t_ref = median_time(reference, repeats, CPU)
    _row(
        out,
        case,
        "reference: hand-written Numba loop",
        t_ref,
        t_rp,
        f"{t_ref / steps * 1e6:.2f} us/step, the same {steps} steps, no History",
    )
    t_np = median_time(ours("numpy"), repeats, CPU)
    _row(
        out,
        case,
        "retroprop train (engine='numpy')",
        t_np,
        t_rp,
        f"{t_np / steps * 1e6:.1f} us/step",
    )
    result = {"retroprop": t_rp, "steps": steps, "epochs": epochs, "reference": t_ref}
    if _have("torch"):
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the compiled per-sample path uses one thread
        try:
            t_pt = median_time(lambda: torch_iris(X, y, epochs, 1), repeats, CPU)
        finally:
            torch.set_num_threads(threads)
        result["torch"] = t_pt
        _row(
            out,
            case,
            "PyTorch loop (lecture code)",
            t_pt,
            t_rp,
            f"{t_pt / steps * 1e6:.1f} us/step, torch.set_num_threads(1)",
        )
    if _have("sklearn"):
        t_sk = median_time(lambda: sklearn_iris(X, y, epochs, 1), repeats, CPU)
        result["sklearn"] = t_sk
        _row(
            out,
            case,
            "scikit-learn MLPClassifier sgd",
            t_sk,
            t_rp,
            f"{t_sk / steps * 1e6:.1f} us/step",
        )
    result["numba_threads"] = numba.get_num_threads()
    return result


def many(
    quick: bool, repeats: int, out: TextIO, iris_result: dict | None = None
) -> dict:
    import numba

    split = prepare_data()
    X, y = split.X_train, split.y_train
    N, epochs = (40, 3) if quick else (1000, 100)
    _header(out, f"(b) {N} Iris networks x {epochs} epochs, per-sample SGD")
    case = f"b: {N} networks"

    def ours() -> rp.ManyResult:
        return rp.train_many(
            lambda s: rp.mlp([4, 4, 3, 3], seed=s),
            X,
            y,
            seeds=range(N),
            epochs=epochs,
            lr=0.05,
        )

    t_rp = median_time(ours, max(1, repeats if quick else min(repeats, 3)))
    _row(
        out,
        case,
        "retroprop train_many (compiled)",
        t_rp,
        None,
        f"{numba.get_num_threads()} threads, incl. building the {N} networks",
    )
    result = {"retroprop": t_rp}
    if _have("torch"):
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            per_net = median_time(lambda: torch_iris(X, y, epochs, 1), repeats)
        finally:
            torch.set_num_threads(threads)
        result["torch"] = per_net * N
        _row(
            out,
            case,
            f"PyTorch loop, one by one ({N} x 1 net)",
            per_net * N,
            t_rp,
            f"extrapolated from {per_net:.3f} s per network, 1 thread",
        )
    if _have("sklearn"):
        per_net = median_time(lambda: sklearn_iris(X, y, epochs, 1), repeats)
        result["sklearn"] = per_net * N
        _row(
            out,
            case,
            f"scikit-learn, one by one ({N} x 1 net)",
            per_net * N,
            t_rp,
            f"extrapolated from {per_net:.3f} s per network",
        )
    return result


# --- (c): large mini-batches -------------------------------------------------------


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
    loss on the whole training set, as History measures it."""
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


def large(quick: bool, repeats: int, out: TextIO) -> dict:
    n = 1024 if quick else 60_000
    sizes = [784, 256, 128, 10]
    batch, lr = 128, 0.1
    weights = sum(a * b for a, b in itertools.pairwise(sizes))
    # Training: forward (2 flops per weight and sample), grad_W (2) and the delta
    # passed down (2, not below the first layer); evaluation: one forward.
    train_flops = n * (6 * weights - 2 * sizes[0] * sizes[1])
    eval_flops = n * 2 * weights
    threads, _ = blas_threads()
    result = {}
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        X, y = synthetic(n, sizes[0], sizes[-1], dtype)
        _header(
            out,
            f"(c) one epoch, {n} x {sizes[0]}, {'-'.join(map(str, sizes))} "
            f"sigmoid, batch {batch}, {name} ({train_flops / 1e9:.1f} GFLOP "
            f"training + {eval_flops / 1e9:.1f} GFLOP evaluation)",
        )
        case = f"c: large {name}"

        def ours(history: str = "auto") -> rp.History:
            net = rp.mlp(sizes, seed=0, dtype=dtype)
            return rp.train(
                net, X, y, epochs=1, lr=lr, batch_size=batch, seed=0, history=history
            )

        kind = ours().loss_kind
        t_rp = median_time(ours, repeats)
        _row(
            out,
            case,
            f"retroprop train (auto: BLAS runner, {kind} loss)",
            t_rp,
            None,
            f"{train_flops / t_rp / 1e9:.0f} GFLOP/s",
        )
        t_full = median_time(lambda: ours("full"), repeats)
        _row(
            out,
            case,
            "retroprop train, history='full'",
            t_full,
            t_rp,
            f"{(train_flops + eval_flops) / t_full / 1e9:.0f} GFLOP/s incl. evaluation",
        )
        from benchmarks.reference import gemm_epoch

        t_gemm, gemm_flops = gemm_epoch(n, sizes, batch, dtype)
        _row(
            out,
            case,
            "limit: the epoch's GEMMs alone (BLAS)",
            t_gemm,
            t_rp,
            f"{gemm_flops / t_gemm / 1e9:.0f} GFLOP/s for these shapes; retroprop "
            f"reaches {train_flops / t_rp / (gemm_flops / t_gemm):.0%} of it",
        )
        t_np = median_time(
            lambda: rp.train(
                rp.mlp(sizes, seed=0, dtype=dtype),
                X,
                y,
                epochs=1,
                lr=lr,
                batch_size=batch,
                seed=0,
                engine="numpy",
            ),
            repeats,
        )
        _row(out, case, "retroprop train (engine='numpy')", t_np, t_rp)
        result[name] = {
            "retroprop": t_rp,
            "numpy": t_np,
            "full": t_full,
            "gemm": t_gemm,
            "gflops": train_flops / t_rp / 1e9,
            "gemm_gflops": gemm_flops / t_gemm / 1e9,
        }
        if _have("torch"):
            import torch

            before = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                t_pt = median_time(
                    lambda: torch_large(X, y, sizes, batch, lr, True),
                    repeats,
                )
                t_pt_train = median_time(
                    lambda: torch_large(X, y, sizes, batch, lr, False), repeats
                )
            finally:
                torch.set_num_threads(before)
            result[name]["torch"] = t_pt
            result[name]["torch_train_only"] = t_pt_train
            _row(
                out,
                case,
                "PyTorch loop + full-set loss",
                t_pt,
                t_rp,
                f"torch.set_num_threads({threads})",
            )
            _row(
                out,
                case,
                "PyTorch loop, training only",
                t_pt_train,
                t_rp,
                f"{train_flops / t_pt_train / 1e9:.0f} GFLOP/s",
            )
        if _have("sklearn"):
            t_sk = median_time(
                lambda: sklearn_large(X, y, tuple(sizes[1:-1]), batch, lr),
                repeats,
            )
            result[name]["sklearn"] = t_sk
            _row(
                out,
                case,
                "scikit-learn MLPClassifier sgd",
                t_sk,
                t_rp,
                "max_iter=1 (running loss, no extra pass)",
            )
    return result


# --- (d): first runs, as new processes ----------------------------------------------


def _process_seconds(args: list[str], env: dict) -> tuple[float, float]:
    """``(wall, cpu)`` seconds of ``python ARGS`` as a new process (cpu: its user +
    system time, which a shared machine's load does not inflate)."""
    import resource
    import subprocess
    import sys

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, *args],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def first(quick: bool, repeats: int, out: TextIO) -> dict:
    """``import retroprop``, ``retroprop train`` and ``retroprop seeds --n 100`` as
    new processes: with an empty Numba cache (a fresh install: NUMBA_CACHE_DIR
    pointed at a new folder) and again with the cache that run left."""
    import tempfile

    commands = {"import retroprop": ["-c", "import retroprop"]}
    if not quick:  # a first run compiles: seconds to a minute, not for a smoke test
        commands["retroprop train"] = ["-m", "retroprop", "train", "--quiet"]
        commands["retroprop seeds --n 100"] = ["-m", "retroprop", "seeds", "--n", "100"]
    _header(out, "(d) new processes: a fresh install's first run, then warm")
    result: dict = {}
    for what, args in commands.items():
        cold, warm = [], []
        for _ in range(1 if quick else repeats):
            with tempfile.TemporaryDirectory() as cache:
                env = {**os.environ, "NUMBA_CACHE_DIR": cache}
                cold.append(_process_seconds(args, env))
                warm.append(_process_seconds(args, env))
        result[what] = {
            "cold": statistics.median(w for w, _ in cold),
            "cold_cpu": statistics.median(c for _, c in cold),
            "warm": statistics.median(w for w, _ in warm),
            "warm_cpu": statistics.median(c for _, c in warm),
        }
        r = result[what]
        _row(
            out,
            f"d: {what}",
            "empty cache (first run), wall",
            r["cold"],
            None,
            f"CPU {r['cold_cpu']:.2f} s",
        )
        _row(
            out,
            f"d: {what}",
            "warm cache, wall",
            r["warm"],
            None,
            f"CPU {r['warm_cpu']:.2f} s",
        )
    return result


def run(case: str, *, quick: bool, repeats: int, out: TextIO) -> dict:
    """Run case ``"a"`` .. ``"d"`` and write its table to ``out``."""
    fn = {"a": iris, "b": many, "c": large, "d": first}[case]
    return fn(quick, repeats, out)


def targets(results: dict) -> list[str]:
    """One line per target of issue 16 that the run measured: its ratio, met or not."""
    lines = []

    def line(what: str, value: float, limit: float, better: str) -> None:
        met = value <= limit if better == "below" else value >= limit
        sign = "<=" if better == "below" else ">="
        lines.append(
            f"{'MET ' if met else 'MISS'} {what}: {value:.2f} (target {sign} {limit:g})"
        )

    a = results.get("a")
    if a:
        line(
            "(a) retroprop / hand-written loop",
            a["retroprop"] / a["reference"],
            2,
            "below",
        )
    for name, r in results.get("c", {}).items():
        if "torch_train_only" in r:
            line(
                f"(c) {name}: PyTorch training only / retroprop",
                r["torch_train_only"] / r["retroprop"],
                1.2,
                "above",
            )
        if "sklearn" in r:
            line(
                f"(c) {name}: scikit-learn / retroprop",
                r["sklearn"] / r["retroprop"],
                1.5,
                "above",
            )
        lines.append(
            f"     (c) {name}: {r['gflops']:.0f} GFLOP/s, the GEMMs alone "
            f"{r['gemm_gflops']:.0f} GFLOP/s ({r['gflops'] / r['gemm_gflops']:.0%})"
        )
    d = results.get("d", {})
    limits = {"import retroprop": 0.15, "retroprop train": 2.0}
    for what, r in d.items():
        limit = limits.get(what, 8.0)
        line(f"(d) {what}, first run (empty cache), wall s", r["cold"], limit, "below")
        line(
            f"(d) {what}, first run (empty cache), CPU s", r["cold_cpu"], limit, "below"
        )
    return lines
