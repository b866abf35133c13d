"""``retroprop surface``: the loss between two trained networks, and around one.

Parses, runs ``retroprop.experiments.loss_surface`` and renders the lines, the
plane and the answer: the same valley? (``SurfaceResult.same_valley``).
"""

from __future__ import annotations

from functools import partial

import click

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
    floats,
    load_data,
    network_options,
    training_options,
)
from retroprop.cli.progress import ProgressBar
from retroprop.display import fmt
from retroprop.i18n import N_, _, decimal

STAGES = ("training seed", "training seed", "line between", "plane around")


@click.command()
@data_options
@network_options()
@training_options
@click.option(
    "--seeds",
    "seed_pair",
    metavar="A,B",
    default=None,
    help="Seeds of the two trainings (default: --seed and --seed + 1).",
)
@click.option(
    "--span",
    type=POSITIVE,
    default=1.0,
    show_default=True,
    help="The plane covers [-span, span] along each filter-normalised direction.",
)
@click.option(
    "--resolution",
    type=click.IntRange(3, 201),
    default=25,
    show_default=True,
    help="Grid points per axis of the plane.",
)
@click.option(
    "--points",
    type=click.IntRange(2, 1001),
    default=41,
    show_default=True,
    help="Points on the line between the two networks.",
)
@files_options("surface.png")
def surface(
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
    seed_pair: str | None,
    span: float,
    resolution: int,
    points: int,
    output: str,
    dpi: int,
    json_path: str | None,
    csv_path: str | None,
    quiet: bool,
) -> None:
    """The loss between two trained networks (a barrier?) and around one.

    1-D: the loss on the straight line between the two, as trained and with hidden
    neurons aligned. 2-D: the loss along two random directions filter-normalised as
    in Li et al. (2018), with the trained point marked.
    """
    from retroprop.atomic import check_outputs

    check_outputs(
        inputs={"--data": data},
        outputs={"--output": output, "--json": json_path, "--csv": csv_path},
    )
    check_figure(output)
    import numpy as np

    from retroprop import plots
    from retroprop.experiments import loss_surface
    from retroprop.recipe import describe, network_factory, prepare_data

    pair = _seed_pair(seed_pair, seed)
    split = prepare_data(
        load_data(data, target), target, test_size=test_size, seed=seed
    )
    what = "measuring the loss surface"
    with ProgressBar(quiet) as bar:
        done: list[str] = []

        def stage(name: str) -> None:
            done.append(name)
            bar.update(what, len(done) - 1, len(STAGES))

        result = loss_surface(
            network_factory(split, hidden, activation, init=init),
            split.X_train,
            split.y_train,
            seeds=pair,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            n_points=points,
            span=span,
            resolution=resolution,
            direction_seed=seed,
            progress=stage,
        )
        bar.update(what, len(STAGES), len(STAGES))
        written = write_files(
            result, output, partial(plots.plot_surface, dpi=dpi), json_path, csv_path
        )
    if json_to_stdout(result, json_path):
        return
    con = stdout_console()
    con.print(
        _(
            "Loss surface of the {network}: seeds {a} and {b}, {epochs} epochs, "
            "eta = {lr}"
        ).format(
            network=describe(split, hidden, activation),
            a=pair[0],
            b=pair[1],
            epochs=epochs,
            lr=decimal(f"{lr:g}"),
        )
    )
    t = table(
        N_("Along the line (1 - alpha) w_a + alpha w_b"),
        ["", "L(0)", "L(1)", N_("max L"), N_("barrier")],
    )
    for name, ln in (
        (N_("as trained"), result.line),
        (N_("hidden neurons aligned"), result.aligned_line),
    ):
        t.add_row(
            _(name),
            f"{fmt(ln.loss[0], decimals=4)}",
            f"{fmt(ln.loss[-1], decimals=4)}",
            f"{fmt(np.max(ln.loss), decimals=4)}",
            f"{fmt(ln.barrier, decimals=4)}",
        )
    con.print(t)
    p = result.plane
    con.print(
        _(
            "Around w_a on [-{span}, {span}]^2 ({n}x{n} points): L(w_a) = {center}, "
            "lowest {lowest}, highest {highest}"
        ).format(
            span=decimal(f"{span:g}"),
            n=resolution,
            center=fmt(p.center_loss, decimals=4),
            lowest=fmt(np.min(p.loss), decimals=4),
            highest=fmt(np.max(p.loss), decimals=4),
        )
    )
    answer_line(con, result.same_valley)
    footer(con, written)


def _seed_pair(text: str | None, seed: int) -> tuple[int, int]:
    if text is None:
        return seed, seed + 1
    vals = floats(text, "--seeds")
    if len(vals) != 2 or any(v != int(v) or v < 0 for v in vals) or vals[0] == vals[1]:
        raise click.BadParameter(
            _(
                "expected two different non-negative integer seeds A,B, got {text!r}"
            ).format(text=text),
            param_hint="--seeds",
        )
    return int(vals[0]), int(vals[1])
