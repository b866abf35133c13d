"""Wall time of the experiments on the lecture's setting (run by hand, not in tests).

    .venv/bin/python benchmarks/bench_experiments.py

Target (issue 4): ``retroprop seeds --n 100`` on Iris, the lecture's 4-4-3-3
network, 100 epochs of per-sample SGD, finishes in seconds. Each experiment runs
twice; the second run is reported (the first may compile Numba kernels).
"""

from __future__ import annotations

import time

from retroprop.experiments import loss_surface, lr_sweep, seed_study
from retroprop.recipe import build_network, prepare_data


def main() -> None:
    split = prepare_data()

    def make_net(s: int):
        return build_network(split, seed=s)

    X, y = split.X_train, split.y_train
    cases = {
        "seed_study n=100, 100 epochs": lambda: seed_study(
            make_net, X, y, seeds=range(1, 101)
        ),
        "lr_sweep 6 etas x 3 seeds": lambda: lr_sweep(make_net, X, y),
        "loss_surface (2 trainings, 41 + 25x25 points)": lambda: loss_surface(
            make_net, X, y
        ),
    }
    for name, fn in cases.items():
        fn()
        t0 = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - t0
        extra = ""
        if hasattr(result, "train_seconds"):
            extra = (
                f" (training {result.train_seconds:.2f} s, engine "
                f"{result.settings['engine']})"
            )
        print(f"{name:<48} {seconds:7.2f} s{extra}")


if __name__ == "__main__":
    main()
