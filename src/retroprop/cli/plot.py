"""``retroprop plot activations|descent|boundary``: the lecture's pictures.

Each command parses its options, runs one function of ``retroprop.experiments``,
writes the figure (``--output``: PNG, PDF or SVG by its extension, at ``--dpi``) and on request the numbers as JSON (``--json``, ``-``
for stdout) and CSV (``--csv``), and prints the result's own summary and verdicts.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import click

from retroprop.cli.common import (
    footer,
    json_to_stdout,
    stdout_console,
    table,
    write_files,
)
from retroprop.cli.options import (
    check_figure,
    data_options,
    files_options,
    floats,
    load_data,
    network_options,
    parse_range,
    read_options,
    training_options,
)
from retroprop.cli.progress import ProgressBar
from retroprop.display import fmt
from retroprop.i18n import N_, _, decimal, list_separator, shown


@click.group()
def plot() -> None:
    """Draw a lecture picture: activations, gradient descent, decision regions."""


@plot.command()
@click.option(
    "--range",
    "x_range",
    metavar="LOW,HIGH",
    default="-10,10",
    show_default=True,
    callback=parse_range,
    help="The interval of z.",
)
@click.option(
    "--functions",
    metavar="NAMES",
    default="sigmoid,tanh,relu,step",
    show_default=True,
    help="Comma-separated activation names (any of retroprop.ACTIVATIONS, the "
    "step included).",
)
@click.option(
    "--points",
    type=click.IntRange(3, 100_000),
    default=1001,
    show_default=True,
    help="Grid points.",
)
@files_options("activations.png")
def activations(
    x_range: tuple[float, float],
    functions: str,
    points: int,
    output: str,
    dpi: int,
    json_path: str | None,
    csv_path: str | None,
    quiet: bool,
) -> None:
    """Activations and their derivatives (the lecture: plot the sigmoid on [-10, 10]).

    The step's derivative is zero wherever it exists and undefined at the jump,
    which is why gradient descent cannot train it.
    """
    from retroprop.atomic import check_outputs

    check_outputs(
        inputs={},
        outputs={"--output": output, "--json": json_path, "--csv": csv_path},
    )
    check_figure(output)
    from retroprop import plots
    from retroprop.experiments import activation_curves

    names = [n.strip() for n in functions.split(",") if n.strip()]
    with ProgressBar(quiet) as bar:
        bar.update("evaluating", 0, 1)
        result = activation_curves(names, x_range, points)
        bar.update("evaluating", 1, 1)
        written = write_files(
            result,
            output,
            partial(plots.plot_activations, dpi=dpi),
            json_path,
            csv_path,
        )
    if json_to_stdout(result, json_path):
        return
    con = stdout_console()
    t = table(
        _("Activations on [{low}, {high}]").format(
            low=decimal(f"{x_range[0]:g}"), high=decimal(f"{x_range[1]:g}")
        ),
        ["f", "f(low)", "f(0)", "f(high)", "max f'", N_("note")],
    )
    for row in result.summary:
        note = "" if row["trainable"] else _("jumps at 0; f' = 0 elsewhere")
        t.add_row(
            row["name"],
            *(
                decimal(f"{row[k]:.4g}")
                for k in ("f_low", "f_zero", "f_high", "max_derivative")
            ),
            note,
        )
    con.print(t)
    footer(con, written)


@plot.command()
@click.option(
    "--function",
    "function",
    metavar="EXPR",
    default=None,
    help="The error curve L(w), e.g. 'w**4 - 3*w**2 + w' (numbers, the variable w "
    "or x, + - * / **, sin cos tan exp log sqrt tanh sigmoid abs; never eval'd). "
    "Default: that curve.",
)
@click.option(
    "--lr",
    "lrs",
    metavar="ETAS",
    default="0.001,0.05,0.2",
    show_default=True,
    help="Comma-separated learning rates (positive), one column each.",
)
@click.option(
    "--start",
    "starts",
    metavar="W0S",
    default="-2,2",
    show_default=True,
    help="Comma-separated starting points, one row each.",
)
@click.option(
    "--steps",
    type=click.IntRange(1, 10_000),
    default=40,
    show_default=True,
    help="Updates per run.",
)
@click.option(
    "--range",
    "x_range",
    metavar="LOW,HIGH",
    default="-2.2,2.2",
    show_default=True,
    callback=parse_range,
    help="Where the curve is drawn.",
)
@files_options("descent.png")
def descent(
    function: str | None,
    lrs: str,
    starts: str,
    steps: int,
    x_range: tuple[float, float],
    output: str,
    dpi: int,
    json_path: str | None,
    csv_path: str | None,
    quiet: bool,
) -> None:
    """Gradient descent on a curve of one variable, for several eta and starts.

    Shows a too-small eta crawling, a good one converging, a too-large one
    oscillating or diverging, and a start that ends in a local, not the global,
    minimum.
    """
    from retroprop.atomic import check_outputs

    check_outputs(
        inputs={},
        outputs={"--output": output, "--json": json_path, "--csv": csv_path},
    )
    check_figure(output)
    from retroprop import plots
    from retroprop.experiments import DEFAULT_FUNCTION, descent_demo

    lr_values = floats(lrs, "--lr", positive=True)
    start_values = floats(starts, "--start")
    with ProgressBar(quiet) as bar:
        bar.update("descending", 0, 1)
        result = descent_demo(
            function or DEFAULT_FUNCTION,
            lrs=lr_values,
            starts=start_values,
            steps=steps,
            x_range=x_range,
        )
        bar.update("descending", 1, 1)
        written = write_files(
            result, output, partial(plots.plot_descent, dpi=dpi), json_path, csv_path
        )
    if json_to_stdout(result, json_path):
        return
    con = stdout_console()
    mins = list_separator().join(
        f"w = {decimal(f'{m:.4g}')}"
        + (_(" (global)") if i == result.global_minimum else "")
        for i, m in enumerate(result.minima)
    ) or _("none on the range")
    con.print(
        _("L(w) = {function}; minima on [{low}; {high}]: {minima}").format(
            function=result.function_in_w,
            low=decimal(f"{x_range[0]:g}"),
            high=decimal(f"{x_range[1]:g}"),
            minima=mins,
        )
    )
    t = table(
        _("Gradient descent, {steps} steps").format(steps=steps),
        ["eta", "w0", N_("final w"), N_("L(final w)"), N_("outcome")],
    )
    for r in result.runs:
        t.add_row(
            decimal(f"{r.lr:g}"),
            decimal(f"{r.x0:g}"),
            decimal(f"{r.final_x:.5g}"),
            decimal(f"{r.final_f:.5g}"),
            shown(r.outcome),
        )
    con.print(t)
    footer(con, written)


@plot.command()
@data_options
@network_options()
@training_options
@click.option(
    "--features",
    metavar="A,B",
    default=None,
    help="The two features on the axes, by name or 0-based index "
    "(default: the two that separate the classes best).",
)
@click.option(
    "--model",
    "model_path",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="Draw a model saved by `retroprop train --save` instead of training one.",
)
@click.option(
    "--resolution",
    type=click.IntRange(10, 1000),
    default=250,
    show_default=True,
    help="Grid points per axis.",
)
@files_options("boundary.png")
def boundary(
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
    features: str | None,
    model_path: str | None,
    resolution: int,
    output: str,
    dpi: int,
    json_path: str | None,
    csv_path: str | None,
    quiet: bool,
) -> None:
    """Decision regions of a trained network on two features (others at their mean)."""
    from retroprop.atomic import check_outputs

    check_outputs(
        inputs={"--data": data, "--model": model_path},
        outputs={"--output": output, "--json": json_path, "--csv": csv_path},
    )
    check_figure(output)
    import retroprop as rp
    from retroprop import plots
    from retroprop.experiments import decision_boundary
    from retroprop.recipe import build_network, describe, prepare_data

    with ProgressBar(quiet) as bar:
        if model_path:
            model = rp.load(model_path)
            ds = _dataset_for_model(model, data, target)
            net, standardizer = model.net, model.standardizer
            X_pts, y_pts, what = ds.X, ds.y, f"model {model_path}"
            names = model.feature_names or ds.feature_names
            classes = model.class_names or ds.class_names
        else:
            split = prepare_data(
                load_data(data, target), target, test_size=test_size, seed=seed
            )
            net = build_network(split, hidden, activation, seed=seed, init=init)
            what = describe(split, hidden, activation)
            rp.train(
                net,
                split.X_train,
                split.y_train,
                epochs=epochs,
                lr=lr,
                batch_size=batch_size,
                seed=seed,
                callbacks=[bar.epochs(epochs)],
            )
            standardizer = split.standardizer
            X_pts = split.X_train_raw  # the training points, in the data's units
            y_pts = split.y_train
            names, classes = split.dataset.feature_names, split.dataset.class_names
        result = decision_boundary(
            net,
            X_pts,
            y_pts,
            _feature_pair(features, list(names)),
            standardizer=standardizer,
            feature_names=names,
            class_names=classes,
            resolution=resolution,
        )
        title = (
            f"Decision regions of the {what}\n(other features at their mean; "
            f"points: {'the data' if model_path else 'training data'})"
        )

        def draw(r: Any, p: str) -> str:
            return plots.plot_boundary(r, p, dpi=dpi, title=title)

        written = write_files(result, output, draw, json_path, csv_path)
    if json_to_stdout(result, json_path):
        return
    con = stdout_console()
    con.print(
        _(
            "Decision regions of the {what} on {x} (x) and {y} (y), other features "
            "at their mean"
        ).format(what=what, x=result.feature_names[0], y=result.feature_names[1])
    )
    con.print(
        _(
            "network accuracy (all features): {accuracy}; points in their own "
            "region on this slice: {slice}"
        ).format(
            accuracy=fmt(result.accuracy, decimals=4),
            slice=fmt(result.slice_accuracy, decimals=4),
        )
    )
    t = table(
        N_("Share of the drawn plane per class"),
        [N_("class"), N_("share"), N_("points")],
    )
    for name, share, count in zip(
        result.class_names, result.class_share, result.class_points
    ):
        t.add_row(name, f"{share:.1%}", str(int(count)))
    con.print(t)
    footer(con, written)


def _dataset_for_model(model: Any, data: str | None, target: str | None) -> Any:
    from retroprop.datasets import load_csv, load_iris

    if data is None:
        return load_iris()
    opts = {k: v for k, v in read_options().items() if k not in ("features", "task")}
    return load_csv(
        data,
        target=target,
        features=model.feature_names or None,
        class_names=model.class_names or None,
        **opts,
    )


def _feature_pair(text: str | None, names: list[str]) -> tuple[int, int] | None:
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2:
        raise click.BadParameter(
            _("expected two features A,B, got {text!r}").format(text=text),
            param_hint="--features",
        )
    out = []
    for p in parts:
        if p in names:
            out.append(names.index(p))
        elif p.isdigit() and int(p) < len(names):
            out.append(int(p))
        else:
            raise click.BadParameter(
                _(
                    "{p!r} is not a feature; use a name or index 0..{value} of {names}"
                ).format(p=p, value=len(names) - 1, names=names),
                param_hint="--features",
            )
    if out[0] == out[1]:
        raise click.BadParameter(
            _("the two features must differ, got {text!r}").format(text=text),
            param_hint="--features",
        )
    return out[0], out[1]
