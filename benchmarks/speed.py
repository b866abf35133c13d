"""Issue 5's three cases, retroprop and its peers timed side by side in one process.

(a) ``iris``: the lecture's 4-4-3-3 sigmoid network, 100 epochs of per-sample SGD
    (eta 0.05) on the Iris training split: retroprop (``engine="auto"`` and the
    NumPy engine), the lecture's PyTorch loop, scikit-learn's MLPClassifier.
(b) ``many``: 1,000 such networks from seeds 0..999 with ``train_many``, against
    the PyTorch loop's time for one network times 1,000.
(c) is ``benchmarks/large.py``; the first runs of a fresh install, (e), are
``benchmarks/first_run.py``.

Every implementation also measures the loss on the whole training set after each
epoch, as retroprop's History does (scikit-learn reports its running loss instead,
which costs nothing). Times are medians of ``repeats`` runs after a warm-up run;
(a)'s millisecond runs (retroprop's compiled ones and the reference loop) are
medians of at least ``SHORT_REPEATS`` after ``SHORT_WARMUP`` warm-up runs: Python
specialises a function's bytecode only after it has run several times, and until
then ``train``'s Python around the compiled run takes up to twice as long.
"""

from __future__ import annotations

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


SHORT_WARMUP = 10
SHORT_REPEATS = 9
"""(a)'s millisecond runs: warm-up runs and the fewest timed repeats."""


def median_time(
    fn: Callable[[], object],
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
    warmup: int = 1,
) -> float:
    """Median time of ``fn()`` over ``repeats`` runs, after ``warmup`` warm-up runs:
    wall time, or ``clock=time.process_time`` for this process's CPU time (for
    single-threaded cases on a shared machine, where wall time also counts the time
    slices other processes take)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


def blas_threads() -> tuple[int, str]:
    """``(threads, description)`` of the BLAS libraries loaded (threadpoolctl):
    NumPy's, and SciPy's, which retroprop's large-batch runner calls."""
    try:
        import scipy.linalg.blas  # noqa: F401  (loads SciPy's own OpenBLAS)
        from threadpoolctl import threadpool_info
    except ImportError:
        return os.cpu_count() or 1, "unknown BLAS"
    found = []
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            owner = "NumPy" if "numpy.libs" in info.get("filepath", "") else "SciPy"
            text = (
                f"{owner}'s {info.get('internal_api')} {info.get('version')}, "
                f"kernel {info.get('architecture')}, {info['num_threads']} threads"
            )
            found.append((int(info["num_threads"]), text))
    if not found:
        return os.cpu_count() or 1, "unknown BLAS"
    return found[0][0], "; ".join(text for _, text in found)


def machine() -> str:
    """One paragraph describing the machine and the library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            lines = f.readlines()
        names = [
            ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")
        ]
        family = [
            ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("cpu family")
        ]
        model = [
            ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model\t")
        ]
        cpu = f"{names[0]} x {len(names)}" if names else cpu
        if family and model:
            cpu += f" (family {family[0]}, model {model[0]})"
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


def have(module: str) -> bool:
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
    short = {"repeats": max(repeats, SHORT_REPEATS), "warmup": SHORT_WARMUP}
    if quick:
        short = {"repeats": repeats}
    _header(
        out,
        f"(a) Iris 4-4-3-3, {epochs} epochs of per-sample SGD ({steps} steps); "
        "CPU time of this process (single-threaded); the millisecond runs "
        f"(retroprop compiled, reference): median of {short['repeats']} after "
        f"{short.get('warmup', 1)} warm-up runs",
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

    t_rp = median_time(ours("auto"), clock=CPU, **short)
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
        clock=CPU,
        **short,
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

    t_ref = median_time(reference, clock=CPU, **short)
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
    if have("torch"):
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
    if have("sklearn"):
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
    if have("torch"):
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
    if have("sklearn"):
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


def iris_targets(a: dict) -> list[tuple[str, float, float, str]]:
    """Issue 16's target for (a): ``(what, value, limit, "below")``."""
    return [
        (
            "(a) retroprop / hand-written loop",
            a["retroprop"] / a["reference"],
            2,
            "below",
        )
    ]
