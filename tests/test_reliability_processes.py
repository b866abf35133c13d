"""Processes stay healthy (issue 15, finding 8): fork after train_many, a damaged cache.

``retroprop.fast.health`` picks a fork-safe Numba threading layer (GNU OpenMP made
forked workers die with "fork() called from a process already using GNU OpenMP") and
removes truncated compile-cache files (which made every run fail with
"UnpicklingError") so that Numba compiles again, with a one-line note.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from retroprop.fast import numba_available
from retroprop.fast.health import repair_cache

needs_numba = pytest.mark.skipif(not numba_available(), reason="needs numba")

FORK_AFTER_TRAIN_MANY = """
import multiprocessing as mp
import retroprop as rp
from retroprop.recipe import build_network, prepare_data

iris = prepare_data()

def job(seed):
    m = rp.train_many(lambda s: build_network(iris, seed=s), iris.X_train,
                      iris.y_train, seeds=[seed, seed + 1], epochs=2, lr=0.05)
    return round(float(m.loss[0, -1]), 6)

if __name__ == "__main__":
    m = rp.train_many(lambda s: build_network(iris, seed=s), iris.X_train,
                      iris.y_train, seeds=range(16), epochs=3, lr=0.05)
    assert m.engine == "fast", m.engine
    here = job(1)
    with mp.get_context("fork").Pool(2) as pool:
        there = pool.map(job, [1, 2])
    assert there[0] == here, (there, here)
    import numba
    print("ok", numba.threading_layer())
"""


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, **extra}
    env.pop("NUMBA_THREADING_LAYER", None)
    env.pop("RETROPROP_DEBUG", None)
    return env


@needs_numba
def test_a_fork_pool_works_after_a_fast_train_many(tmp_path):
    script = tmp_path / "fork_pool.py"
    script.write_text(FORK_AFTER_TRAIN_MANY)
    # the timeout only stops a hang (the bug hung or killed the workers)
    r = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(),
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert "GNU OpenMP" not in r.stderr
    assert r.stdout.split()[0] == "ok" and r.stdout.split()[1] != "omp"


# -- the compile cache --------------------------------------------------------------------


def _index(path: Path) -> None:
    """An index as Numba writes it: its version, then (source stamp, overloads)."""
    with open(path, "wb") as f:
        pickle.dump("0.68.1", f)
        f.write(pickle.dumps(("stamp", {"sig": "data-1"})))


def test_repair_cache_removes_truncated_files_and_keeps_sound_ones(tmp_path):
    sound = tmp_path / "kernels.evaluate-1.py311.nbi"
    _index(sound)
    (tmp_path / "kernels.evaluate-1.py311.1.nbc").write_bytes(pickle.dumps((1, 2)))
    bad_index = tmp_path / "kernels.train_epoch-2.py311.nbi"
    _index(bad_index)
    bad_index.write_bytes(bad_index.read_bytes()[:-5])  # truncated
    bad_index_data = tmp_path / "kernels.train_epoch-2.py311.1.nbc"
    bad_index_data.write_bytes(pickle.dumps("x"))
    bad_data_index = tmp_path / "many_kernels.train_many_blocks-3.py311.nbi"
    _index(bad_data_index)
    bad_data = tmp_path / "many_kernels.train_many_blocks-3.py311.1.nbc"
    bad_data.write_bytes(pickle.dumps(list(range(100)))[:-1])  # lost its STOP
    foreign = tmp_path / "other.f-4.py311.nbi"
    foreign.write_bytes(b"not ours")

    removed = repair_cache(tmp_path)

    assert sorted(removed) == sorted(
        [bad_index, bad_index_data, bad_data_index, bad_data]
    )
    assert sound.exists() and (tmp_path / "kernels.evaluate-1.py311.1.nbc").exists()
    assert foreign.exists()  # not retroprop's: left alone
    assert repair_cache(tmp_path) == []


@needs_numba
def test_train_survives_a_truncated_cache_with_a_one_line_note(tmp_path):
    cache = tmp_path / "numba-cache"

    def train() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "retroprop", "train", "--epochs", "1", "-q"],
            capture_output=True,
            text=True,
            timeout=900,
            env=_env(NUMBA_CACHE_DIR=str(cache)),
            check=False,
        )

    find = subprocess.run(
        [
            sys.executable,
            "-c",
            "from retroprop.fast import health; print(health.cache_dir())",
        ],
        capture_output=True,
        text=True,
        env=_env(NUMBA_CACHE_DIR=str(cache)),
        check=True,
    )
    folder = Path(find.stdout.strip())
    # Start from the package's own cache when it has one (no compiling from scratch).
    in_tree = Path(__file__).parents[1] / "src/retroprop/fast/__pycache__"
    folder.mkdir(parents=True, exist_ok=True)
    for f in list(in_tree.glob("kernels.*.nb?")) if in_tree.is_dir() else []:
        shutil.copy(f, folder)
    first = train()
    assert first.returncode == 0, first.stderr
    indexes = sorted(folder.glob("kernels.train_epoch-*.nbi"))
    assert indexes, sorted(p.name for p in folder.iterdir())
    for index in indexes:
        index.write_bytes(index.read_bytes()[:20])  # a disk that filled up

    second = train()

    assert second.returncode == 0, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "cache" in lines[0] and "damaged" in lines[0]
    assert "UnpicklingError" not in second.stderr
    third = train()  # rebuilt: no note any more
    assert third.returncode == 0 and third.stderr == ""
