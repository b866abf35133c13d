"""``retroprop report``: the interactive, self-contained HTML report."""

from __future__ import annotations

import os

import click

from retroprop.cli.common import (
    _batch_size,
    data_options,
    epoch_progress,
    network_options,
    stdout_console,
    with_quiet,
)
from retroprop.recipe import LECTURE


@click.command()
@data_options
@network_options
@click.option(
    "--lr",
    type=click.FloatRange(0, min_open=True),
    default=LECTURE["lr"],
    show_default=True,
    help="Learning rate (the lecture's eta).",
)
@click.option(
    "--epochs",
    type=click.IntRange(0),
    default=LECTURE["epochs"],
    show_default=True,
    help="Passes over the training data (for the curves).",
)
@click.option(
    "--batch-size",
    metavar="N|full",
    default=str(LECTURE["batch_size"]),
    show_default=True,
    callback=_batch_size,
    help="Samples per update: 1 is the lecture's per-sample descent, "
    "'full' the whole training set.",
)
@click.option(
    "--steps",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="Iterations recorded in full (every number), from the first.",
)
@click.option(
    "--output",
    "-o",
    metavar="PATH",
    default="report.html",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The HTML file to write.",
)
@click.option("--title", default=None, help="The page's title.")
@with_quiet
def report(
    data,
    target,
    test_size,
    hidden,
    activation,
    seed,
    lr,
    epochs,
    batch_size,
    steps,
    output,
    title,
    quiet,
):
    """Write an interactive HTML report of training, one page that works offline.

    Trains as `retroprop train` does (same defaults, seed and sample order), keeps
    every number of the first --steps iterations (`retroprop explain`'s trace,
    taken before each real update) and the loss and accuracy of every epoch. Open
    the file in any browser: click a neuron, a weight or a bias for its numbers and
    the lecture's formulas; move through the steps with the slider or the arrow keys.
    """
    from retroprop.cli.common import load_data
    from retroprop.recipe import parse_hidden
    from retroprop.report import record_training, write_html
    from retroprop.train import ProgressCallback

    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise click.BadParameter(
            f"folder {folder} does not exist; create it first", param_hint="--output"
        )
    update, close = epoch_progress(epochs, quiet)
    try:
        rec = record_training(
            load_data(data, target),
            target,
            test_size=test_size,
            hidden=parse_hidden(hidden),
            activation=activation,
            seed=seed,
            lr=lr,
            epochs=epochs,
            batch_size=batch_size,
            steps=steps,
            callbacks=[ProgressCallback(update, epochs)],
        )
    finally:
        close()
    if not rec.recorder.traces:
        raise click.BadParameter(
            "training made no update (is --epochs 0?); nothing to record",
            param_hint="--epochs",
        )
    mismatch = rec.recorder.max_mismatch
    if not mismatch == 0.0:  # NaN too
        # The page would show steps that are not the ones training took.
        raise click.ClickException(
            f"the recorded steps differ from the training loop's updates (max "
            f"|difference| {mismatch:.3g}, expected exactly 0); {output} was not "
            f"written"
        )  # exit 1
    write_html(output, rec.to_html(title))
    con = stdout_console()
    n = len(rec.recorder.traces)
    con.print(
        f"Wrote {output}: {n} recorded step{'s' if n != 1 else ''} of "
        f"{rec.history.iterations} iterations, {rec.history.epochs} epochs "
        f"(final training accuracy {rec.history.accuracy[-1]:.4f}). "
        f"Open it in a browser; it needs no network."
    )
