"""CSV loading: time and peak memory of ``load_csv`` on numeric files (issue 15 #7).

``python -m benchmarks.bench_csv [--rows N] [--cols K] [--wide C]``

Writes a numeric file of N rows x K features plus a class column (about 9.7 bytes
per cell, like the issue's 193 MB 1M x 20 file), loads it with ``load_csv`` and
reports MB/s and the peak of Python's allocations (``tracemalloc``, which sees
NumPy's buffers) relative to the file's size; then one row of C columns, where a
per-column search of the header made loading quadratic. The targets: at least
50 MB/s, at most 3x the file in memory, linear in the columns.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc

import numpy as np

from retroprop.datasets import load_csv


def write_numeric(path: str, rows: int, cols: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(f"f{j}" for j in range(cols)) + ",label\n")
        block = 100_000
        for start in range(0, rows, block):
            n = min(block, rows - start)
            X = rng.normal(size=(n, cols)) * 100
            y = rng.integers(0, 3, size=n)
            lines = [",".join(f"{v:.4f}" for v in x) + f",c{t}" for x, t in zip(X, y)]
            f.write("\n".join(lines) + "\n")


def measure(path: str) -> tuple[float, float, float, tuple]:
    """``(seconds, cpu seconds, peak bytes, X.shape)`` of one ``load_csv``
    (tracemalloc off for the time, on for the memory: it slows allocation-heavy
    code). The CPU time is this process's: on a shared machine it is the steadier
    of the two."""
    t, c = time.perf_counter(), time.process_time()
    ds = load_csv(path)
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    shape = ds.X.shape
    del ds
    tracemalloc.start()
    load_csv(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, cpu, peak, shape


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_csv")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=20)
    parser.add_argument("--wide", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "numeric.csv")
        write_numeric(path, args.rows, args.cols)
        size = os.path.getsize(path)
        seconds, cpu, peak, shape = measure(path)
        print(
            f"{shape[0]} x {shape[1]} numeric, {size / 1e6:.1f} MB: "
            f"{seconds:.2f} s ({size / 1e6 / seconds:.0f} MB/s; CPU {cpu:.2f} s, "
            f"{size / 1e6 / cpu:.0f} MB/s), "
            f"peak {peak / 1e6:.0f} MB = {peak / size:.2f}x the file"
        )
        wide = os.path.join(tmp, "wide.csv")
        with open(wide, "w", encoding="utf-8") as f:
            f.write(",".join(f"c{j}" for j in range(args.wide)) + ",label\n")
            for r in range(4):
                f.write(",".join(str((r * j) % 10) for j in range(args.wide)))
                f.write(f",{'ab'[r % 2]}\n")
        seconds, cpu, peak, shape = measure(wide)
        print(
            f"{shape[0]} rows x {shape[1]} columns: {seconds:.2f} s (CPU {cpu:.2f} s), "
            f"peak {peak / 1e6:.0f} MB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
