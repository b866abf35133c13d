"""``retroprop seeds``: the same network from many random starts: the same minimum?

Parses, runs ``retroprop.experiments.seed_study`` and renders its spread and its
answers to the lecture's questions (``SeedsResult.same_minimum``,
``SeedsResult.global_minimum``).
"""

from __future__ import annotations

import time
from functools import partial

import click

from retroprop.cli.cluster import connect, scheduler_option
from retroprop.cli.common import (
    answer_line,
    footer,
    json_to_stdout,
    stdout_console,
    table,
    write_files,
)
from retroprop.cli.options import (
    POSITIVE,
    check_figure,
    data_options,
    files_options,
    load_data,
    network_options,
    training_options,
)
from retroprop.cli.progress import ProgressBar
from retroprop.display import fmt
from retroprop.i18n import N_, _, decimal

ROWS = (
    ("final_loss", N_("final training loss"), 4),
    ("final_accuracy", N_("final training accuracy"), 4),
    ("test_accuracy", N_("test accuracy"), 4),
    ("raw_distance", N_("distance between runs, as trained"), 3),
    ("aligned_distance", N_("distance between runs, aligned"), 3),
    ("norm", N_("parameter norm ||w||"), 3),
)
"""The spread table: key of ``SeedsResult.spread``, row name, decimals shown."""


@click.command()
@data_options
@network_options()
@training_options
@click.option(
    "--n",
    "n",
    type=click.IntRange(2),
    default=100,
    show_default=True,
    help="Random initialisations: seeds --seed, --seed + 1, ... (at most 2,000: "
    "the comparison grows with the square of N).",
)
@click.option(
    "--tolerance",
    type=POSITIVE,
    default=0.1,
    show_default=True,
    help="Two runs are at the same minimum when their aligned parameter "
    "distance is below this fraction of their parameter norm.",
)
@click.option(
    "--worse-by",
    type=POSITIVE,
    default=0.05,
    show_default=True,
    help="A run is clearly worse when its final loss exceeds the best run's "
    "by more than this.",
)
@scheduler_option
@files_options("seeds.png")
def seeds(
    data: str | None,
    target: str | None,
    test_size: float,
    hidden: tuple[int, ...],
    activation: str,
    init: str,
    seed: int,
    lr: float,
    epochs: int,
    batch_size: int | None,
    n: int,
    tolerance: float,
    worse_by: float,
    scheduler: str | None,
    output: str,
    dpi: int,
    json_path: str | None,
    csv_path: str | None,
    quiet: bool,
) -> None:
    """Train the same network from n random initialisations: the same minimum?

    Compares the trained parameters pairwise, before and after aligning hidden
    neurons (swapping two, or flipping a sigmoid/tanh neuron's sign, leaves the
    function unchanged), counts the distinct minima and the clearly worse runs, and
    answers: the same minimum? a global minimum guaranteed?
    """
    from retroprop.atomic import check_outputs

    check_outputs(
        inputs={"--data": data},
        outputs={"--output": output, "--json": json_path, "--csv": csv_path},
    )
    check_figure(output)
    from retroprop import plots
    from retroprop.experiments import seed_study
    from retroprop.recipe import describe, network_factory, prepare_data

    split = prepare_data(
        load_data(data, target), target, test_size=test_size, seed=seed
    )
    t0 = time.perf_counter()
    with connect(scheduler) as client, ProgressBar(quiet) as bar:
        result = seed_study(
            network_factory(split, hidden, activation, init=init),
            split.X_train,
            split.y_train,
            seeds=range(seed, seed + n),
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            tolerance=tolerance,
            worse_by=worse_by,
            test=(split.X_test, split.y_test),
            progress=lambda stage, done, total: bar.update(
                f"training {n} networks" if stage == "training" else "aligning pairs",
                done,
                total,
            ),
            client=client,
        )
        written = write_files(
            result, output, partial(plots.plot_seeds, dpi=dpi), json_path, csv_path
        )
    seconds = time.perf_counter() - t0
    if json_to_stdout(result, json_path):
        return
    con = stdout_console()
    ok = ~result.diverged
    spread = result.spread
    if spread:
        con.print(
            _(
                "{n} trainings of the {network}: {epochs} epochs, eta = {lr}, batch "
                "size {batch_size}, seeds {first}..{last}; trained in {seconds} s "
                "({engine} engine), {total} s in all"
            ).format(
                n=n,
                network=describe(split, hidden, activation),
                epochs=epochs,
                lr=decimal(f"{lr:g}"),
                batch_size=batch_size or len(split.y_train),
                first=seed,
                last=seed + n - 1,
                seconds=fmt(result.train_seconds, decimals=1),
                engine=result.settings["engine"],
                total=fmt(seconds, decimals=1),
            )
        )
        t = table(N_("Spread over the runs"), ["", N_("min"), N_("median"), N_("max")])
        for key, name, decimals in ROWS:
            if key in spread:
                t.add_row(_(name), *(fmt(v, decimals=decimals) for v in spread[key]))
        con.print(t)
    answer_line(con, result.same_minimum)
    answer_line(con, result.global_minimum)
    if 0 < (~ok).sum() < n:
        con.print(_("{n} runs diverged and are left out.").format(n=int((~ok).sum())))
    if result.n_minima > 1:
        tm = table(
            N_("The lowest minima found"),
            [
                N_("minimum"),
                N_("runs"),
                N_("best loss"),
                N_("mean loss"),
                N_("mean accuracy"),
            ],
        )
        for i, m in enumerate(result.minima[:5]):
            tm.add_row(
                str(i),
                str(m["runs"]),
                f"{fmt(m['best_loss'], decimals=4)}",
                f"{fmt(m['mean_loss'], decimals=4)}",
                f"{fmt(m['mean_accuracy'], decimals=4)}",
            )
        con.print(tm)
    footer(con, written)
