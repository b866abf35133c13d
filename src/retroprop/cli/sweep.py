"""``retroprop sweep lr`` and ``sweep grid``: how eta (and the shape) influence the
minimisation.

``sweep lr`` parses, runs ``retroprop.experiments.lr_sweep`` and renders its verdict
per eta (converged, too slow, bouncing, diverged: ``SweepResult.verdict``); ``sweep
grid`` runs ``grid_study`` over eta x hidden shapes and renders each cell's spread,
verdict and the best cell (``GridResult``). Both train on a Dask cluster with
``--scheduler``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import click

from retroprop.cli.cluster import connect, scheduler_option
from retroprop.cli.common import (
    footer,
    json_to_stdout,
    stdout_console,
    table,
    write_files,
)
from retroprop.cli.options import (
    SEED,
    activation_choice,
    batch_size_option,
    check_figure,
    data_options,
    epochs_option,
    files_options,
    floats,
    load_data,
    network_options,
    parse_hidden,
)
from retroprop.cli.progress import ProgressBar
from retroprop.display import fmt
from retroprop.i18n import N_, _, decimal, list_separator
from retroprop.recipe import LECTURE


@click.group()
def sweep() -> None:
    """Train at several settings and compare: `retroprop sweep lr`, `sweep grid`."""


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
@scheduler_option
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
    scheduler: str | None,
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
    what = f"training {len(lrs) * n_seeds} networks"
    with connect(scheduler) as client, ProgressBar(quiet) as bar:
        bar.update(what, 0, len(lrs) * n_seeds)
        result = lr_sweep(
            network_factory(split, hidden, activation, init=init),
            split.X_train,
            split.y_train,
            lrs=lrs,
            seeds=seeds,
            epochs=epochs,
            batch_size=batch_size,
            progress=lambda done, total: bar.update(what, done, total),
            client=client,
        )
        written = write_files(
            result, output, partial(plots.plot_sweep, dpi=dpi), json_path, csv_path
        )
    if json_to_stdout(result, json_path):
        return
    con = stdout_console()
    con.print(
        _(
            "Learning-rate sweep of the {network}: {epochs} epochs, batch size "
            "{batch_size}, seeds {first}..{last}"
        ).format(
            network=describe(split, hidden, activation),
            epochs=epochs,
            batch_size=batch_size or len(split.y_train),
            first=seeds[0],
            last=seeds[-1],
        )
    )
    t = table(
        N_("Final training loss and accuracy per eta (mean over seeds)"),
        [
            "eta",
            N_("loss"),
            "L / L(start)",
            N_("jitter"),
            N_("accuracy"),
            N_("diverged"),
            N_("verdict"),
        ],
    )
    for i, lr in enumerate(result.lrs):
        verdict = _(result.verdict[i])  # the JSON keeps the English word
        if result.verdict[i] == "diverged":
            verdict += " (" + ", ".join(result.divergence_kinds[i]) + ")"
        t.add_row(
            decimal(f"{lr:g}"),
            f"{fmt(result.mean_final_loss[i], decimals=4)}",
            f"{fmt(result.loss_ratio[i], decimals=3)}",
            f"{fmt(result.mean_jitter[i], decimals=3)}",
            f"{fmt(result.mean_final_accuracy[i], decimals=4)}",
            f"{result.n_diverged[i]}/{len(seeds)}",
            verdict,
        )
    con.print(t)
    con.print(
        _(
            "L / L(start): final over initial loss (too slow above 0.5). jitter: "
            "std / mean of the loss over the last tenth of the epochs (bouncing "
            "above 0.5: the steps overshoot back and forth)."
        )
    )
    best = result.best_lr()
    if best is not None:
        con.print(
            _("Lowest mean final loss without divergence: eta = {lr}").format(
                lr=decimal(f"{best:g}")
            )
        )
    footer(con, written)


def parse_hidden_shapes(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> list[tuple[int, ...]]:
    """Every ``--hidden SIZES`` given (``4,3``, ``8``, ``none``), in order."""
    shapes = [parse_hidden(ctx, param, v) for v in value]
    if len(set(shapes)) != len(shapes):
        raise click.BadParameter(
            _("each shape once, please; got {value}").format(value=list(value))
        )
    return shapes


@sweep.command("grid")
@data_options
@click.option(
    "--lr",
    "lr_values",
    metavar="ETAS",
    default="0.01,0.05,0.1",
    show_default=True,
    help="Comma-separated learning rates (positive), one grid column each.",
)
@click.option(
    "--hidden",
    metavar="SIZES",
    multiple=True,
    default=(",".join(map(str, LECTURE["hidden"])),),
    show_default=True,
    callback=parse_hidden_shapes,
    help="Hidden layer sizes of one architecture, comma-separated ('none' for no "
    "hidden layer); repeat for more: --hidden 4,3 --hidden 8.",
)
@click.option(
    "--activation",
    type=activation_choice(trainable=True),
    default=LECTURE["activation"],
    show_default=True,
    help="Activation of the hidden layers.",
)
@click.option(
    "--seed",
    type=SEED,
    default=LECTURE["seed"],
    show_default=True,
    help="Seed of the split and the first network; the others follow.",
)
@epochs_option
@batch_size_option
@click.option(
    "--seeds",
    "n_seeds",
    type=click.IntRange(1, 10_000),
    default=10,
    show_default=True,
    help="Networks per cell: seeds --seed, --seed + 1, ... (the same in every cell).",
)
@scheduler_option
@files_options("sweep-grid.png")
def sweep_grid(
    data: str | None,
    target: str | None,
    test_size: float,
    lr_values: str,
    hidden: list[tuple[int, ...]],
    activation: str,
    seed: int,
    epochs: int,
    batch_size: int | None,
    n_seeds: int,
    scheduler: str | None,
    output: str,
    dpi: int,
    json_path: str | None,
    csv_path: str | None,
    quiet: bool,
) -> None:
    """A class-wide study: every eta x every hidden shape, n seeds each.

    Per cell: the final training loss and the test accuracy over the seeds (mean,
    min, max), the runs that diverged, and the learning-rate sweep's verdict
    (converged, too slow, bouncing, diverged); then the best cell (highest mean
    test accuracy among cells with no diverged run).
    """
    from retroprop.atomic import check_outputs

    check_outputs(
        inputs={"--data": data},
        outputs={"--output": output, "--json": json_path, "--csv": csv_path},
    )
    check_figure(output)
    from rich.markup import escape

    from retroprop import plots
    from retroprop.experiments import grid_study
    from retroprop.experiments.grid import hidden_label
    from retroprop.recipe import build_network, prepare_data

    lrs = floats(lr_values, "--lr", positive=True)
    if len(set(lrs)) != len(lrs):
        raise click.BadParameter(
            _("each eta once, please; got {lr_values!r}").format(lr_values=lr_values)
        )
    split = prepare_data(
        load_data(data, target), target, test_size=test_size, seed=seed
    )
    seeds = list(range(seed, seed + n_seeds))
    total = len(lrs) * len(hidden) * n_seeds
    what = f"training {total} networks"

    def make_net(sizes: tuple[int, ...], s: int) -> Any:
        return build_network(split, sizes, activation, seed=s)

    with connect(scheduler) as client, ProgressBar(quiet) as bar:
        bar.update(what, 0, total)
        result = grid_study(
            make_net,
            split.X_train,
            split.y_train,
            lrs=lrs,
            hidden=hidden,
            seeds=seeds,
            epochs=epochs,
            batch_size=batch_size,
            test=(split.X_test, split.y_test),
            progress=lambda done, total: bar.update(what, done, total),
            client=client,
        )
        written = write_files(
            result, output, partial(plots.plot_grid, dpi=dpi), json_path, csv_path
        )
    if json_to_stdout(result, json_path):
        return
    con = stdout_console()
    con.print(
        _(
            "Grid of {lrs} etas x {hidden} hidden shapes x {seeds} seeds ({activation} "
            "networks on {data}): {epochs} epochs, batch size {batch_size}, seeds "
            "{first}..{last}"
        ).format(
            lrs=len(lrs),
            hidden=len(hidden),
            seeds=n_seeds,
            activation=activation,
            data=split.dataset.name,
            epochs=epochs,
            batch_size=batch_size or len(split.y_train),
            first=seeds[0],
            last=seeds[-1],
        )
        + (_(" on the Dask cluster") if client is not None else "")
    )
    t = table(
        escape(_("Per cell, over the seeds: mean [min, max]")),
        [
            "eta",
            N_("hidden"),
            N_("final loss"),
            N_("test accuracy"),
            N_("diverged"),
            N_("verdict"),
        ],
    )
    acc = (
        result.mean_test_accuracy,
        result.min_test_accuracy,
        result.max_test_accuracy,
    )
    loss = (result.mean_final_loss, result.min_final_loss, result.max_final_loss)
    for i, lr in enumerate(result.lrs):
        for h, sizes in enumerate(result.hidden):
            t.add_row(
                decimal(f"{lr:g}"),
                hidden_label(sizes),
                _spread(loss, i, h),
                _spread(acc, i, h),
                f"{result.n_diverged[i, h]}/{n_seeds}",
                _(result.verdict[i][h]),  # the JSON keeps the English word
            )
    con.print(t)
    best = result.best_cell
    if best is None:
        con.print(_("Every cell has a diverged run: try smaller learning rates."))
    else:
        con.print(
            _(
                "Best cell: eta = {lr}, hidden {hidden}: mean test accuracy "
                "{accuracy}, mean final loss {loss} ({verdict})"
            ).format(
                lr=decimal(f"{best['lr']:g}"),
                hidden=hidden_label(best["hidden"]),
                accuracy=fmt(best["mean_test_accuracy"], decimals=4),
                loss=fmt(best["mean_final_loss"], decimals=4),
                verdict=_(best["verdict"]),
            )
        )
    for cell in result.diverged_cells:
        con.print(
            _(
                "Diverged: eta = {lr}, hidden {hidden}: {n}/{seeds} runs ({kinds})"
            ).format(
                lr=decimal(f"{cell['lr']:g}"),
                hidden=hidden_label(cell["hidden"]),
                n=cell["n_diverged"],
                seeds=n_seeds,
                kinds=", ".join(cell["kinds"]),
            )
        )
    footer(con, written)


def _spread(values: Any, i: int, h: int) -> str:
    """``mean [min, max]`` of one grid cell, each number in the one format (decimal
    commas, and so ``; `` between the two bounds, in Portuguese)."""
    from rich.markup import escape

    mean, lo, hi = (fmt(v[i, h], decimals=4) for v in values)
    return escape(f"{mean} [{lo}{list_separator()}{hi}]")
