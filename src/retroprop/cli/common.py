"""What several commands share: the data and network options, consoles, small renderers."""

from __future__ import annotations

import json
from collections.abc import Callable

import click

from retroprop.engine.activations import ACTIVATIONS
from retroprop.engine.optim import OPTIMIZERS
from retroprop.recipe import LECTURE


def stdout_console():
    """Rich console for results; 120 columns when stdout is a file or a pipe.

    (Rich's default of 80 columns off a terminal wraps the explain tables' headers;
    ``COLUMNS`` still wins when set.)
    """
    import os
    import sys

    from rich.console import Console

    width = None
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        width = 120
    return Console(highlight=False, soft_wrap=False, width=width)


def stderr_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def data_options(f: Callable) -> Callable:
    """``--data``, ``--target``, ``--test-size``, how to read the file and which columns.

    The reading options (``dialect_options``, ``column_options``) are not passed to
    the command: ``load_data(data, target)`` reads them from the click context.
    """
    f = column_options(dialect_options(f))
    f = click.option(
        "--test-size",
        type=click.FloatRange(0, 1, min_open=True, max_open=True),
        default=LECTURE["test_size"],
        show_default=True,
        help="Fraction of each class held out for testing.",
    )(f)
    f = click.option(
        "--target",
        metavar="COLUMN",
        default=None,
        help="Class column of --data (default: the last column).",
    )(f)
    f = click.option(
        "--data",
        metavar="FILE.csv",
        default=None,
        type=click.Path(),  # load_csv names a missing file or a folder
        help="A CSV of numeric features and a class column "
        "(default: the bundled Iris).",
    )(f)
    return f


_READ = "retroprop.read"  # ctx.meta key: load_csv's options given on the command line


def _remember(ctx: click.Context, param: click.Parameter, value):
    if value is not None and value is not False and value != ():
        ctx.meta.setdefault(_READ, {})[param.name] = value
    return value


def _columns(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None:
        return None
    cols = [c.strip() for c in value.split(",")]
    if not all(cols):
        raise click.BadParameter(
            f"expected column names or numbers separated by commas, got {value!r}"
        )
    return _remember(ctx, param, cols)


def _separator(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None:
        return None
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    sep = named.get(value.lower(), value)
    if len(sep) != 1:
        raise click.BadParameter(
            f"expected one character (or tab, comma, semicolon, pipe), got {value!r}"
        )
    return _remember(ctx, param, sep)


def dialect_options(f: Callable) -> Callable:
    """``--sep``, ``--decimal``, ``--encoding``, ``--drop-missing``: how to read a CSV."""
    opts = [
        click.option(
            "--sep",
            metavar="CHAR",
            expose_value=False,
            callback=_separator,
            help="Field separator of --data (default: detected among , ; tab |).",
        ),
        click.option(
            "--decimal",
            type=click.Choice([".", ","]),
            expose_value=False,
            callback=_remember,
            help="Decimal mark of --data's numbers (default: detected).",
        ),
        click.option(
            "--encoding",
            metavar="NAME",
            expose_value=False,
            callback=_remember,
            help="Text encoding of --data, e.g. utf-8, cp1252, latin-1, utf-16 "
            "(default: detected).",
        ),
        click.option(
            "--drop-missing",
            is_flag=True,
            expose_value=False,
            callback=_remember,
            help="Drop the rows with a missing value (empty, NA, N/A, NaN, null, ?) "
            "instead of stopping at the first.",
        ),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def column_options(f: Callable) -> Callable:
    """``--features``, ``--drop``, ``--task``: which columns, and what to predict.

    A command with its own option of one of these names (``plot boundary``'s
    ``--features``, the two features on the axes) keeps it.
    """
    from retroprop.datasets.dataset import TASKS

    own = {p.name for p in getattr(f, "__click_params__", [])}
    opts = [
        click.option(
            "--features",
            metavar="COLS",
            expose_value=False,
            callback=_columns,
            help="Feature columns to use, by name or number from 1, comma-separated "
            "(default: all but the target); named here, an id-like column is used.",
        ),
        click.option(
            "--drop",
            metavar="COLS",
            expose_value=False,
            callback=_columns,
            help="Columns to leave out, by name or number from 1, comma-separated.",
        ),
        click.option(
            "--task",
            type=click.Choice(list(TASKS)),
            expose_value=False,
            callback=_remember,
            help="Predict classes or a number (default: classes when the target is "
            "text or a few whole numbers, else regression).",
        ),
    ]
    names = ("features", "drop", "task")
    opts = [opt for name, opt in zip(names, opts) if name not in own]
    for opt in reversed(opts):
        f = opt(f)
    return f


def read_options() -> dict:
    """``load_csv``'s keyword arguments given on the command line (``--sep``, ...)."""
    ctx = click.get_current_context(silent=True)
    return dict(ctx.meta.get(_READ, {})) if ctx is not None else {}


def load_data(data: str | None, target: str | None, *, regression: bool = False):
    """The ``Dataset`` the command's data options describe (Iris when no ``--data``).

    ``regression=False``: a command that trains classifiers only refuses a regression
    target with a one-line error instead of misreading it.
    """
    from importlib import resources

    from retroprop.datasets import load_csv
    from retroprop.errors import DataError
    from retroprop.recipe import load_dataset

    opts = read_options()
    if data is None and not opts:
        return load_dataset(None, target)
    if data is None:
        if target not in (None, "species"):
            return load_dataset(None, target)  # its error names Iris' columns
        with resources.as_file(
            resources.files("retroprop.datasets") / "iris.csv"
        ) as path:
            ds = load_csv(path, target="species", **opts)
        ds.name, ds.source = "iris", {}
    else:
        ds = load_csv(data, target=target, **opts)
    if ds.task == "regression" and not regression:
        raise DataError(
            f"{ds.name}: the target {ds.target_name!r} holds numbers (regression); "
            f"this command trains classifiers only: use retroprop train, or "
            f"--task classification if the numbers are classes"
        )
    return ds


def network_options(f: Callable) -> Callable:
    """``--hidden``, ``--activation``, ``--seed``: the network to build."""
    f = click.option(
        "--seed",
        type=click.IntRange(0),
        default=LECTURE["seed"],
        show_default=True,
        help="Seed of the initial weights, the split and the sample order.",
    )(f)
    f = click.option(
        "--activation",
        type=click.Choice(sorted(ACTIVATIONS)),
        default=LECTURE["activation"],
        show_default=True,
        help="Activation of the hidden layers.",
    )(f)
    f = click.option(
        "--hidden",
        metavar="SIZES",
        default=",".join(map(str, LECTURE["hidden"])),
        show_default=True,
        help="Hidden layer sizes, comma-separated ('none' for no hidden layer).",
    )(f)
    return f


def training_options(f: Callable) -> Callable:
    """``--lr``, ``--epochs``, ``--batch-size``, ``--optimizer`` and its settings."""
    opts = [
        click.option(
            "--lr",
            type=click.FloatRange(0, min_open=True),
            default=LECTURE["lr"],
            show_default=True,
            help="Learning rate (the lecture's eta).",
        ),
        click.option(
            "--epochs",
            type=click.IntRange(0),
            default=LECTURE["epochs"],
            show_default=True,
            help="Passes over the training data.",
        ),
        click.option(
            "--batch-size",
            metavar="N|full",
            default=str(LECTURE["batch_size"]),
            show_default=True,
            callback=_batch_size,
            help="Samples per update: 1 is the lecture's per-sample descent, "
            "'full' the whole training set.",
        ),
        click.option(
            "--optimizer",
            type=click.Choice(sorted(OPTIMIZERS)),
            default="sgd",
            show_default=True,
            help="Optimiser.",
        ),
        click.option(
            "--momentum",
            type=click.FloatRange(0, 1, max_open=True),
            default=0.0,
            show_default=True,
            help="SGD momentum (torch.optim.SGD's meaning).",
        ),
        click.option(
            "--nesterov", is_flag=True, help="Nesterov momentum (needs --momentum)."
        ),
        click.option(
            "--weight-decay",
            type=click.FloatRange(0),
            default=0.0,
            show_default=True,
            help="L2 penalty added to the gradient.",
        ),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _batch_size(ctx: click.Context, param: click.Parameter, value: str) -> int | None:
    if value.strip().lower() in ("full", "all", "none"):
        return None
    try:
        n = int(value)
    except ValueError:
        raise click.BadParameter(
            f"expected a positive integer or 'full', got {value!r}"
        ) from None
    if n < 1:
        raise click.BadParameter(
            f"expected a positive integer or 'full', got {value!r}"
        )
    return n


def output_path(ctx: click.Context, param: click.Parameter, value: str | None):
    """Click callback: an output file's folder must exist, checked before any work."""
    if value is None:
        return None
    from retroprop.atomic import check_writable
    from retroprop.errors import ConfigError

    try:
        return check_writable(value)
    except ConfigError as e:
        raise click.BadParameter(str(e)) from None


def emit_json(obj: object) -> None:
    """One JSON object on stdout (non-finite numbers as null)."""
    from retroprop.jsondata import plain

    click.echo(json.dumps(plain(obj), indent=2))


def confusion_matrix(y_true, y_pred, n_classes: int):
    """``m[i, j]``: samples of true class i predicted as j."""
    import numpy as np

    m = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return m


def confusion_table(m, class_names: list[str], title: str):
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    t.add_column("true \\ predicted", style="bold")
    for c in class_names:
        t.add_column(c, justify="right")
    for i, c in enumerate(class_names):
        t.add_row(
            c,
            *[(f"[bold]{v}[/bold]" if i == j else str(v)) for j, v in enumerate(m[i])],
        )
    return t


def epoch_progress(epochs: int, quiet: bool) -> tuple[Callable, Callable]:
    """A rich progress bar on stderr: ``(update(epoch, epochs, history), close())``."""
    import sys

    if quiet or not sys.stderr.isatty():  # a bar in a log or a pipe is only noise
        return (lambda *a: None), (lambda: None)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        TextColumn("training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("epochs  loss {task.fields[loss]}"),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=True,
    )
    task = progress.add_task("train", total=epochs, loss="-")
    progress.start()

    def update(epoch: int, total: int, history) -> None:
        progress.update(task, completed=epoch, loss=f"{history.loss[-1]:.4f}")

    return update, progress.stop


def with_quiet(f: Callable) -> Callable:
    return click.option("--quiet", "-q", is_flag=True, help="No progress bar.")(f)
