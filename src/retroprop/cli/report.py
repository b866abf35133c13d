"""``retroprop report``: the interactive, self-contained HTML report."""

from __future__ import annotations

import click

from retroprop.cli.common import stdout_console
from retroprop.cli.options import (
    data_options,
    load_data,
    network_options,
    output_path,
    quiet_option,
    recording_options,
    training_options,
)
from retroprop.cli.progress import ProgressBar
from retroprop.display import fmt
from retroprop.i18n import _, ngettext


@click.command()
@data_options
@network_options(init=False)
@training_options
@recording_options
@click.option(
    "--output",
    "-o",
    metavar="PATH",
    default="report.html",
    show_default=True,
    type=click.Path(dir_okay=False),
    callback=output_path,
    help="The HTML file to write.",
)
@click.option("--title", default=None, help="The page's title.")
@quiet_option
def report(
    data: str | None,
    target: str | None,
    test_size: float,
    hidden: tuple[int, ...],
    activation: str,
    seed: int,
    lr: float,
    epochs: int,
    batch_size: int | None,
    steps: int,
    every: int,
    start: int,
    stop: int | None,
    output: str,
    title: str | None,
    quiet: bool,
) -> None:
    """Write an interactive HTML report of training, one page that works offline.

    Trains as `retroprop train` does (same defaults, seed and sample order), keeps
    every number of --steps iterations (`retroprop explain`'s trace, taken before
    each real update: the first ones, or every --every Nth from --from to --to) and
    the loss and accuracy of every epoch (R², MAE and RMSE for a regression target,
    trained on the squared error as train does). Open the file in any browser: click
    a neuron, a weight or a bias for its numbers and the lecture's formulas; move
    through the steps with the slider, the arrow keys or the play button.
    """
    from retroprop.atomic import check_outputs
    from retroprop.report import record_training, write_html

    check_outputs(inputs={"--data": data}, outputs={"--output": output})
    with ProgressBar(quiet) as bar:
        rec = record_training(
            load_data(data, target, regression=True),
            target,
            test_size=test_size,
            hidden=hidden,
            activation=activation,
            seed=seed,
            lr=lr,
            epochs=epochs,
            batch_size=batch_size,
            steps=steps,
            every=every,
            start=start,
            stop=stop,
            callbacks=[bar.epochs(epochs)],
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
    if rec.regression is not None:
        final = _("final training R² {r2}").format(
            r2=fmt(rec.regression.curves["r2"][-1], decimals=4)
        )
    else:
        final = _("final training accuracy {accuracy}").format(
            accuracy=fmt(rec.history.accuracy[-1], decimals=4)
        )
    con.print(
        ngettext(
            "Wrote {output}: {n} recorded step of {iterations} iterations, {epochs} "
            "epochs ({final}). Open it in a browser; it needs no network.",
            "Wrote {output}: {n} recorded steps of {iterations} iterations, {epochs} "
            "epochs ({final}). Open it in a browser; it needs no network.",
            n,
        ).format(
            output=output,
            n=n,
            iterations=rec.history.iterations,
            epochs=rec.history.epochs,
            final=final,
        )
    )
