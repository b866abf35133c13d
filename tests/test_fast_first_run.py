"""A machine's first run (``fast.firstrun``) and runs from an empty Numba cache.

Nothing here is timed: a run from an empty cache must give what a run from a warm
one gives; a short first run takes the NumPy engine (and says so) while one
detached process compiles, and the next run finds the kernels compiled; one lock
per job lets only one process compile it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import retroprop as rp
from retroprop.fast.spec import numba_available

pytestmark = pytest.mark.skipif(not numba_available(), reason="needs numba")


def _cli_train(cache, policy: str) -> dict:
    """``retroprop train --json`` as a new process with Numba's cache in ``cache``."""
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": str(cache),
        "RETROPROP_FIRST_RUN": policy,
    }
    env.pop("RETROPROP_CACHE_DIR", None)
    out = subprocess.run(
        [sys.executable, "-m", "retroprop", "train", "--epochs", "20", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout)


def _wait_for_compile(cache, timeout=600.0) -> list:
    """The ready markers under ``cache``, once no compile lock is left."""
    folder = cache / "retroprop-kernels" / "ready"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        locks = list(folder.glob("*.compiling")) if folder.is_dir() else [None]
        ready = list(folder.glob("*.ready")) if folder.is_dir() else []
        if not locks and ready:
            return ready
        time.sleep(0.5)
    raise AssertionError("the background compile did not finish")


@pytest.mark.slow
def test_a_cold_cache_run_equals_a_warm_one(tmp_path):
    cold = _cli_train(tmp_path, "wait")  # compiles in the process
    warm = _cli_train(tmp_path, "wait")  # loads what the first one cached
    assert cold["engine"] == warm["engine"] == "fast"
    assert cold == warm


@pytest.mark.slow
def test_a_first_run_takes_the_numpy_engine_while_another_process_compiles(tmp_path):
    first = _cli_train(tmp_path, "background")
    assert first["engine"] == "numpy"
    (marker,) = _wait_for_compile(tmp_path)
    assert json.loads(marker.read_text())["compile_cpu_seconds"] > 0
    second = _cli_train(tmp_path, "background")
    assert second["engine"] == "fast"
    # The two engines agree to rounding (docs/performance.md).
    for part in ("train", "test"):
        np.testing.assert_allclose(second[part]["loss"], first[part]["loss"], rtol=1e-9)
        assert second[part]["accuracy"] == first[part]["accuracy"]
        assert second[part]["confusion_matrix"] == first[part]["confusion_matrix"]


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache folder for markers and locks, and the background policy, with
    ``compile_in_background``'s spawning replaced by a record of its jobs."""
    from retroprop.fast import firstrun

    monkeypatch.setenv("RETROPROP_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("RETROPROP_FIRST_RUN", "background")
    started = []

    def popen(args, **kwargs):
        started.append(json.loads(args[-1]))
        return None

    monkeypatch.setattr(firstrun.subprocess, "Popen", popen)
    return started


def test_a_short_first_run_uses_the_numpy_engine_and_says_why(fresh_cache, iris_split):
    from retroprop.fast import firstrun
    from retroprop.fast.single import FIRST_RUN

    X, y = iris_split.X_train, iris_split.y_train
    net, ref = rp.mlp([4, 4, 3, 3], seed=1), rp.mlp([4, 4, 3, 3], seed=1)
    h = rp.train(net, X, y, epochs=3, lr=0.05)
    assert h.engine == "numpy" and h.engine_reason == FIRST_RUN
    (job,) = fresh_cache  # one compile started, for this network's shape
    assert job["kind"] == "single" and job["dtype"] == "float64"
    assert rp.from_config(job["config"]).config() == net.config()
    hr = rp.train(ref, X, y, epochs=3, lr=0.05, engine="numpy")
    assert h.loss == hr.loss  # the NumPy engine's own run
    # While its lock is held, later runs neither wait nor start another compile.
    again = rp.train(rp.mlp([4, 4, 3, 3], seed=1), X, y, epochs=3, lr=0.05)
    assert again.engine == "numpy" and len(fresh_cache) == 1
    # Marked ready (as the compiling process does when done): the compiled path.
    firstrun.mark_ready(job)
    done = rp.train(rp.mlp([4, 4, 3, 3], seed=1), X, y, epochs=3, lr=0.05)
    assert done.engine == "fast" and done.engine_reason is None
    np.testing.assert_allclose(done.loss, hr.loss, rtol=1e-12)


def test_long_runs_and_the_wait_policy_compile_here(fresh_cache, monkeypatch):
    from retroprop.fast import firstrun
    from retroprop.fast.single import _compiling_in_background

    net = rp.mlp([4, 4, 3, 3])
    # Estimated longer on the NumPy engine than a compile takes: compile here.
    assert not _compiling_in_background(net, 120, "cross_entropy", 100_000, 1)
    assert fresh_cache == []
    monkeypatch.setenv("RETROPROP_FIRST_RUN", "wait")
    assert firstrun.policy() == "wait"
    assert not _compiling_in_background(net, 120, "cross_entropy", 3, 1)
    assert fresh_cache == []
    monkeypatch.setenv("RETROPROP_FIRST_RUN", "background")
    assert _compiling_in_background(net, 120, "cross_entropy", 3, 1)
    assert len(fresh_cache) == 1


def test_one_lock_per_job(fresh_cache):
    from retroprop.fast import firstrun

    job = firstrun.job("single", rp.mlp([2, 3, 2]).config(), "mse", np.float32)
    other = firstrun.job("single", rp.mlp([2, 3, 2]).config(), "mse", np.float64)
    assert firstrun.take_lock(job)
    assert not firstrun.take_lock(job)  # held: a second process stays out
    assert firstrun.take_lock(other)  # another dtype is another job
    firstrun.release_lock(job)
    assert firstrun.take_lock(job)
    # A lock left by a process that died long ago is taken over.
    lock = firstrun._marker(job, "compiling")
    old = time.time() - 2 * firstrun.LOCK_STALE
    os.utime(lock, (old, old))
    assert firstrun.take_lock(job)


def test_train_many_first_run_uses_the_numpy_engine(fresh_cache, iris_split):
    from retroprop.fast import firstrun

    X, y = iris_split.X_train, iris_split.y_train
    kw = {"seeds": range(3), "epochs": 2, "lr": 0.05}
    r = rp.train_many(lambda s: rp.mlp([4, 4, 3, 3], seed=s), X, y, **kw)
    assert r.engine == "numpy"
    assert [j["kind"] for j in fresh_cache] == ["many"]
    firstrun.mark_ready(fresh_cache[0])
    f = rp.train_many(lambda s: rp.mlp([4, 4, 3, 3], seed=s), X, y, **kw)
    assert f.engine == "fast"
    np.testing.assert_allclose(r.loss, f.loss, rtol=1e-12)
    for name in r.params:
        np.testing.assert_allclose(r.params[name], f.params[name], atol=1e-12)
