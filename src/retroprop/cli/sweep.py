"""``retroprop sweep lr``: how the learning rate eta influences the minimisation.

Parses, runs ``retroprop.experiments.lr_sweep`` and renders its verdict per eta
(converged, too slow, bouncing, diverged: ``SweepResult.verdict``).
"""

from __future__ import annotations

from functools import partial

import click

from retroprop.cli.common import (
    footer,
    json_to_stdout,
    stdout_console,
    table,
    write_files,
)
from retroprop.cli.options import (
    batch_size_option,
    check_figure,
    data_options,
    epochs_option,
    files_options,
    floats,
    load_data,
    network_options,
)
from retroprop.cli.progress import ProgressBar
from retroprop.display import fmt


@click.group()
def sweep() -> None:
    """Train at several settings and compare: `retroprop sweep lr`."""


@sweep.command("lr")
@data_options
@network_options()
@epochs_option
@batch_size_option
@click.option(
    "--values",
    metavar="ETAS",
    default="0.001,0.01,0.05,0.5,2,10",
    show_default=True,
    help="Comma-separated learning rates (positive).",
)
@click.option(
    "--seeds",
    "n_seeds",
    type=click.IntRange(1, 1000),
    default=3,
    show_default=True,
    help="Networks per eta: seeds --seed, --seed + 1, ...",
)
@files_options("sweep-lr.png")
def sweep_lr(
    data: str | None,
    target: str | None,
    test_size: float,
    hidden: tuple[int, ...],
    activation: str,
    init: str,
    seed: int,
    epochs: int,
    batch_size: int | None,
    values: str,
    n_seeds: int,
    output: str,
    dpi: int,
    json_path: str | None,
    csv_path: str | None,
    quiet: bool,
) -> None:
    """How eta influences the minimisation: train at each eta, several seeds each.

    The verdict per eta, on the mean over its seeds: diverged (a run's loss became
    non-finite, ended far above where it started and above chance, or its network
    died; the definition `train` exits 1 on), too slow (the loss did not fall
    below half its start), bouncing (the loss jitters by more than half its mean
    over the last tenth of the epochs), else converged.
    """
    from retroprop.atomic import check_outputs

    check_outputs(
        inputs={"--data": data},
        outputs={"--output": output, "--json": json_path, "--csv": csv_path},
    )
    check_figure(output)
    from retroprop import plots
    from retroprop.experiments import lr_sweep
    from retroprop.recipe import describe, network_factory, prepare_data

    lrs = floats(values, "--values", positive=True)
    split = prepare_data(
        load_data(data, target), target, test_size=test_size, seed=seed
    )
    seeds = list(range(seed, seed + n_seeds))
    what = "training, one eta at a time"
    with ProgressBar(quiet) as bar:
        bar.update(what, 0, len(lrs))
        result = lr_sweep(
            network_factory(split, hidden, activation, init=init),
            split.X_train,
            split.y_train,
            lrs=lrs,
            seeds=seeds,
            epochs=epochs,
            batch_size=batch_size,
            progress=lambda done, total: bar.update(what, done, total),
        )
        written = write_files(
            result, output, partial(plots.plot_sweep, dpi=dpi), json_path, csv_path
        )
    if json_to_stdout(result, json_path):
        return
    con = stdout_console()
    con.print(
        f"Learning-rate sweep of the {describe(split, hidden, activation)}: {epochs} "
        f"epochs, batch size {batch_size or len(split.y_train)}, seeds "
        f"{seeds[0]}..{seeds[-1]}"
    )
    t = table(
        "Final training loss and accuracy per eta (mean over seeds)",
        ["eta", "loss", "L / L(start)", "jitter", "accuracy", "diverged", "verdict"],
    )
    for i, lr in enumerate(result.lrs):
        verdict = result.verdict[i]
        if verdict == "diverged":
            verdict += " (" + ", ".join(result.divergence_kinds[i]) + ")"
        t.add_row(
            f"{lr:g}",
            f"{fmt(result.mean_final_loss[i], decimals=4)}",
            f"{fmt(result.loss_ratio[i], decimals=3)}",
            f"{fmt(result.mean_jitter[i], decimals=3)}",
            f"{fmt(result.mean_final_accuracy[i], decimals=4)}",
            f"{result.n_diverged[i]}/{len(seeds)}",
            verdict,
        )
    con.print(t)
    con.print(
        "L / L(start): final over initial loss (too slow above 0.5). jitter: std / "
        "mean of the loss over the last tenth of the epochs (bouncing above 0.5: "
        "the steps overshoot back and forth)."
    )
    best = result.best_lr()
    if best is not None:
        con.print(f"Lowest mean final loss without divergence: eta = {best:g}")
    footer(con, written)
