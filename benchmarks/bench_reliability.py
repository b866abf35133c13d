"""Costs that must grow as they should (issue 15, finding 7): seeds at n = 2,000,
predict on 1M rows, train_many's threading layer. Run: python -m benchmarks.bench_reliability
[seeds|predict|threads]. Prints seconds; not a test (no timed assertions)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time


def bench_seeds(n: int = 2000) -> None:
    from retroprop.experiments import seed_study
    from retroprop.recipe import build_network, prepare_data

    iris = prepare_data()
    t = time.perf_counter()
    r = seed_study(
        lambda s: build_network(iris, seed=s),
        iris.X_train,
        iris.y_train,
        seeds=range(n),
        epochs=100,
    )
    print(
        f"seeds n={n}: {time.perf_counter() - t:.1f} s (training "
        f"{r.train_seconds:.1f} s), {r.n_minima} minima, alignment "
        f"{r.settings['alignment']}"
    )


def bench_predict(rows: int = 1_000_000) -> None:
    import numpy as np

    with tempfile.TemporaryDirectory() as d:
        model = os.path.join(d, "m.retroprop")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "retroprop",
                "train",
                "--epochs",
                "5",
                "-q",
                "--save",
                model,
            ],
            check=True,
            capture_output=True,
        )
        rng = np.random.default_rng(0)
        X = rng.normal(5.0, 1.5, size=(rows, 4))
        csv = os.path.join(d, "big.csv")
        names = "sepal_length,sepal_width,petal_length,petal_width"
        np.savetxt(csv, X, delimiter=",", header=names, comments="", fmt="%.3f")
        for extra in ([], ["--json"]):
            t = time.perf_counter()
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "retroprop",
                    "predict",
                    "--model",
                    model,
                    "--data",
                    csv,
                    *extra,
                ],
                capture_output=True,
                text=True,
            )
            print(
                f"predict {rows:,} rows {' '.join(extra) or '(summary)'}: "
                f"{time.perf_counter() - t:.1f} s, exit {out.returncode}, "
                f"{len(out.stdout) / 1e6:.1f} MB of output"
            )


def bench_threads() -> None:
    code = (
        "import time, retroprop as rp\n"
        "from retroprop.recipe import build_network, prepare_data\n"
        "iris = prepare_data()\n"
        "f = lambda s: build_network(iris, seed=s)\n"
        "rp.train_many(f, iris.X_train, iris.y_train, seeds=range(8), epochs=2, lr=0.05)\n"
        "t = time.perf_counter()\n"
        "rp.train_many(f, iris.X_train, iris.y_train, seeds=range(512), epochs=100, lr=0.05)\n"
        "import numba\n"
        "print(numba.threading_layer(), round(time.perf_counter() - t, 2), 's')\n"
    )
    for layer in ("", "omp"):
        env = {**os.environ, "NUMBA_THREADING_LAYER": layer}
        r = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True
        )
        print("train_many 512 x 100 epochs:", r.stdout.strip() or r.stderr[-200:])


if __name__ == "__main__":
    which = sys.argv[1:] or ["seeds", "predict", "threads"]
    for w in which:
        {"seeds": bench_seeds, "predict": bench_predict, "threads": bench_threads}[w]()
