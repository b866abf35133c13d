"""``retroprop exercise``: worked exercises like the lecture's, one per student."""

from __future__ import annotations

import click

from retroprop.cli.common import stdout_console
from retroprop.cli.options import activation_choice
from retroprop.i18n import _


def _sizes(ctx: click.Context, param: click.Parameter, text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise click.BadParameter(
            _("{text!r} is not comma-separated integers; e.g. 2,2,2 or 4,4,3,3").format(
                text=text
            )
        ) from None
    if len(sizes) < 2 or min(sizes) < 1 or sizes[-1] < 2:
        raise click.BadParameter(
            _(
                "{text!r}: give the inputs, any hidden layers and at least 2 classes, "
                "e.g. 2,2,2 or 4,4,3,3"
            ).format(text=text)
        )
    if max(sizes) > 8:
        raise click.BadParameter(
            _("{text!r}: layers of at most 8 neurons (a sheet is done by hand)").format(
                text=text
            )
        )
    return sizes


@click.command()
@click.option(
    "--variants",
    type=click.IntRange(1, 500),
    default=1,
    show_default=True,
    help="How many different versions (one per student), each with its key.",
)
@click.option(
    "--seed",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Fixes every version's numbers: the same seed gives the same sheets.",
)
@click.option(
    "--sizes",
    default="2,2,2",
    show_default=True,
    callback=_sizes,
    help="Layer widths from the inputs to the classes (4,4,3,3 is the lecture's "
    "Iris network; 2,2,2 fits a page done by hand).",
)
@click.option(
    "--activation",
    type=activation_choice(trainable=True),
    default="sigmoid",
    show_default=True,
    help="Activation function of the hidden layers (the output is softmax).",
)
@click.option(
    "--lr",
    type=click.FloatRange(0, 10, min_open=True),
    default=0.5,
    show_default=True,
    help="The learning rate (the lecture's eta) of the update.",
)
@click.option(
    "--decimals",
    type=click.IntRange(1, 3),
    default=1,
    show_default=True,
    help="Decimals of the given weights, biases and inputs.",
)
@click.option(
    "--lang",
    type=click.Choice(["pt", "en"]),
    default="pt",
    show_default=True,
    help="Language of the sheets (Portuguese, the lecture's, by default).",
)
@click.option(
    "--format",
    "formats",
    type=click.Choice(["md", "html", "xlsx"]),
    multiple=True,
    help="Formats to write (repeatable; default all three: Markdown, HTML to "
    "print, xlsx).",
)
@click.option(
    "--output",
    metavar="DIR",
    default="exercicios",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the sheets and keys (made if missing).",
)
def exercise(
    variants: int,
    seed: int,
    sizes: tuple[int, ...],
    activation: str,
    lr: float,
    decimals: int,
    lang: str,
    formats: tuple[str, ...],
    output: str,
) -> None:
    """Make worked exercises of one backpropagation step: a small network with given
    weights, an input and its class; for each version the student's sheet (blanks
    to fill) and the answer key (every number, the chain-rule factors).

    Files: exercicio-01.md/.html/.xlsx and gabarito-01.* (exercise-01, key-01 with
    --lang en); the key's xlsx holds live formulas.
    """
    formats = formats or ("md", "html", "xlsx")
    if "xlsx" in formats:
        import importlib.util

        if importlib.util.find_spec("openpyxl") is None:
            raise click.UsageError(
                _(
                    "the xlsx sheets need openpyxl: pip install 'retroprop[xlsx]', or choose "
                    "--format md --format html"
                )
            )
    from retroprop.teach.exercise import make_exercises
    from retroprop.teach.sheets import write_exercises

    exercises = make_exercises(
        variants,
        seed=seed,
        sizes=sizes,
        activation=activation,
        lr=lr,
        decimals=decimals,
    )
    paths = write_exercises(exercises, output, lang=lang, formats=formats)
    stdout_console().print(
        _("Wrote {n} exercise(s) and their keys ({files} files) to {output}").format(
            n=variants, files=len(paths), output=output
        )
    )
