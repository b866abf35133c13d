"""A machine's first run: train now on the NumPy engine, compile in the background.

Compiling the per-sample kernels for a network takes seconds (the many-network
kernels longer), once per machine: Numba caches the result on disk. A short run
on a machine that has not compiled them yet would spend most of its time
compiling, so under ``engine="auto"`` ``train`` and ``train_many`` run it on the
NumPy engine instead (the same results to the engines' documented agreement;
``History.engine`` and ``ManyResult.engine`` say ``"numpy"``) and start one
detached process, ``python -m retroprop.fast.firstrun JOB``, that compiles the
kernels and marks them ready. Later runs find them compiled.

Only runs the NumPy engine finishes quickly (``NUMPY_BUDGET`` seconds by the
estimate of ``numpy_seconds``) take this way; longer ones wait for the compile.
``RETROPROP_FIRST_RUN=wait`` turns it off (compile in the process, as
``engine="fast"`` always does).

Nothing here imports Numba: the readiness of a job is a marker file, named by the
job and a hash of the kernels' source files, in ``codegen.source_dir()``; a lock
file beside it (created exclusively) lets only one process per machine compile
a job at a time.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

POLICY_ENV = "RETROPROP_FIRST_RUN"
"""``background`` (default): short first runs on the NumPy engine while the
kernels compile in another process; ``wait``: compile in this process."""

NUMPY_BUDGET = 2.0
"""Seconds (estimated) up to which a first run takes the NumPy engine rather than
waiting for the compile (which takes a few seconds for ``train``)."""

MANY_BUDGET = 4.0
"""The same for ``train_many``, whose kernels take longer to compile."""

LOCK_STALE = 600.0
"""Seconds after which a compile lock is taken for abandoned."""

_SOURCES = ("kernels.py", "codegen.py", "many_kernels.py")


def policy() -> str:
    """``"background"`` or ``"wait"`` (``RETROPROP_FIRST_RUN``)."""
    return "wait" if os.environ.get(POLICY_ENV, "").lower() == "wait" else "background"


def job(kind: str, config: list, loss: str, dtype) -> dict:
    """What to compile: ``kind`` ``"single"`` (``train``'s kernels for a network
    of this ``config``) or ``"many"`` (``train_many``'s, any network)."""
    return {
        "kind": kind,
        "config": config if kind == "single" else None,
        "loss": loss if kind == "single" else None,
        "dtype": np.dtype(dtype).name,
    }


def _stamp() -> str:
    global _source_stamp
    if _source_stamp is None:
        here = Path(__file__).parent
        h = hashlib.sha256()
        for name in _SOURCES:
            h.update((here / name).read_bytes())
        _source_stamp = h.hexdigest()
    return _source_stamp


_source_stamp: str | None = None


def _marker(j: dict, suffix: str) -> Path:
    key = json.dumps(j, sort_keys=True)
    where = tuple(os.environ.get(v) for v in _WHERE)
    return _marker_path(key, where, suffix)


_WHERE = ("RETROPROP_CACHE_DIR", "NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "LOCALAPPDATA")
"""The variables ``codegen.source_dir`` reads."""


@functools.lru_cache(maxsize=256)
def _marker_path(key: str, where: tuple, suffix: str) -> Path:
    from retroprop.fast.codegen import source_dir

    name = hashlib.sha256((key + _stamp()).encode()).hexdigest()[:24]
    kind = json.loads(key)["kind"]
    return source_dir() / "ready" / f"{kind}-{name}.{suffix}"


def ready(j: dict) -> bool:
    """Whether this job's kernels were compiled on this machine (marker present)."""
    try:
        path = _marker(j, "ready")
        if path in _ready:
            return True
        found = path.is_file()
    except OSError:
        return False
    if found:
        _ready.add(path)
    return found


_ready: set[Path] = set()
"""The jobs found ready in this process (a marker is never taken back)."""


def mark_ready(j: dict, seconds: float | None = None) -> None:
    """Record that this job's kernels are compiled (and cached); ``seconds``, the
    CPU time the compiling process took, is written into the marker (JSON)."""
    path = _marker(j, "ready")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"job": j, "compile_cpu_seconds": seconds}))
        _ready.add(path)
    except OSError:
        pass  # a read-only cache: every first run compiles, as before


def take_lock(j: dict) -> bool:
    """Create this job's compile lock; False when a live one exists."""
    path = _marker(j, "compiling")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and time.time() - path.stat().st_mtime > LOCK_STALE:
            path.unlink(missing_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except OSError:  # FileExistsError: someone compiles it now
        return False
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return True


def release_lock(j: dict) -> None:
    with contextlib.suppress(OSError):
        _marker(j, "compiling").unlink(missing_ok=True)


def compile_in_background(j: dict) -> bool:
    """Whether the NumPy engine should run this first run because the kernels are
    (now) being compiled by another process: True when this process started that
    process or another one is compiling the job already; False when the policy is
    ``wait`` or no process could be started (then compile here)."""
    if policy() == "wait":
        return False
    if not take_lock(j):
        return True  # another process compiles it
    try:
        subprocess.Popen(
            [sys.executable, "-m", "retroprop.fast.firstrun", json.dumps(j)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # outlives this process, never its terminal's
            close_fds=True,
            env={**os.environ, POLICY_ENV: "wait"},
        )
    except OSError:
        release_lock(j)
        return False
    return True


def numpy_seconds(steps: int, samples: int, parameters: int, members: int = 1) -> float:
    """A generous estimate of the NumPy engine's time for ``steps`` updates over
    ``samples`` samples in all (epochs x rows) of ``members`` networks of
    ``parameters`` parameters (measured on Iris-sized networks: about 50 us per
    step of one network, 130 us per step of 100 at once)."""
    per_step = 50e-6 + 1e-6 * members
    return steps * per_step + 8e-9 * samples * parameters * members


def compile_job(j: dict) -> None:
    """Compile ``j``'s kernels by a tiny training run, then mark them ready."""
    import retroprop as rp

    dtype = np.dtype(j["dtype"])
    if j["kind"] == "single":
        net = rp.from_config(j["config"], dtype=dtype)
        k = net.out_features
        X = np.zeros((2, net.in_features), dtype=dtype)
        y = np.arange(2) % k
        kw = {"epochs": 2, "lr": 1e-3, "loss": j["loss"], "engine": "fast"}
        rp.train(net, X, y, **kw)  # the whole run in compiled code
        # and epoch by epoch, as a callback acting after every epoch asks
        rp.train(net, X, y, validation=(X, y), early_stopping=1, **kw)
    else:
        X = np.zeros((2, 2))
        y = np.array([0, 1])
        rp.train_many(
            lambda s: rp.mlp([2, 2], seed=s),
            X,
            y,
            seeds=[0],
            epochs=1,
            lr=1e-3,
            engine="fast",
        )
    mark_ready(j, time.process_time())


def main(argv: list[str] | None = None) -> int:
    """Compile the job given as JSON in ``argv[0]``, at a low priority (the run
    that started it goes on in the foreground), and release its lock."""
    j = json.loads((argv or sys.argv[1:])[0])
    with contextlib.suppress(AttributeError, OSError):  # not on every platform
        os.nice(10)
    try:
        compile_job(j)
    finally:
        release_lock(j)
    return 0


if __name__ == "__main__":
    sys.exit(main())
