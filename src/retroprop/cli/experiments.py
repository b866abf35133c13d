"""``retroprop plot``, ``sweep``, ``seeds`` and ``surface``: the lecture's questions.

Each command parses its options, runs one experiment of ``retroprop.experiments``
with a progress bar on stderr, prints a summary table, and writes the PNG
(``--output``), and on request the numbers as JSON (``--json``) and CSV (``--csv``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import click

from retroprop.cli.common import (
    data_options,
    network_options,
    stderr_console,
    stdout_console,
    with_quiet,
)
from retroprop.recipe import LECTURE


def _floats(text: str, what: str, *, positive: bool = False) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(
            f"{what} must be comma-separated numbers like 0.01,0.1; got {text!r}"
        ) from None
    if not values:
        raise click.BadParameter(f"{what} needs at least one number, got {text!r}")
    bad = [v for v in values if not math.isfinite(v) or (positive and v <= 0)]
    if bad:
        kind = "positive finite numbers" if positive else "finite numbers"
        raise click.BadParameter(f"{what} must be {kind}; got {bad[0]!r} in {text!r}")
    return values


def _range(ctx, param, value: str) -> tuple[float, float]:
    lo_hi = _floats(value, "--range")
    if len(lo_hi) != 2 or not lo_hi[0] < lo_hi[1]:
        raise click.BadParameter(f"expected LOW,HIGH with LOW < HIGH, got {value!r}")
    return lo_hi[0], lo_hi[1]


def output_options(default_png: str) -> Callable:
    """``--output``, ``--json``, ``--csv`` and ``--quiet``."""

    def deco(f: Callable) -> Callable:
        f = with_quiet(f)
        f = click.option(
            "--csv",
            "csv_path",
            metavar="PATH",
            type=click.Path(dir_okay=False),
            help="Also write the numbers as CSV to PATH.",
        )(f)
        f = click.option(
            "--json",
            "json_path",
            metavar="PATH",
            type=click.Path(dir_okay=False),
            help="Also write the numbers as JSON to PATH.",
        )(f)
        f = click.option(
            "--output",
            "-o",
            metavar="PATH",
            default=default_png,
            show_default=True,
            type=click.Path(dir_okay=False),
            help="Where to write the picture (PNG).",
        )(f)
        return f

    return deco


def train_options(f: Callable) -> Callable:
    """``--lr``, ``--epochs``, ``--batch-size`` (plain SGD, as the lecture)."""
    from retroprop.cli.common import _batch_size

    f = click.option(
        "--batch-size",
        metavar="N|full",
        default=str(LECTURE["batch_size"]),
        show_default=True,
        callback=_batch_size,
        help="Samples per update: 1 is the lecture's per-sample descent, "
        "'full' the whole training set.",
    )(f)
    f = click.option(
        "--epochs",
        type=click.IntRange(1),
        default=LECTURE["epochs"],
        show_default=True,
        help="Passes over the training data.",
    )(f)
    return f


def lr_option(f: Callable) -> Callable:
    return click.option(
        "--lr",
        type=click.FloatRange(0, min_open=True),
        default=LECTURE["lr"],
        show_default=True,
        help="Learning rate (the lecture's eta).",
    )(f)


@contextlib.contextmanager
def progress_bar(quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on stderr; yields ``update(description, done, total)``."""
    if quiet:
        yield lambda *a: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=True,
    )
    tasks: dict[str, int] = {}

    def update(description: str, done: int, total: int) -> None:
        if description not in tasks:
            tasks[description] = progress.add_task(description, total=total)
        progress.update(tasks[description], completed=done, total=total)

    with progress:
        yield update


def _write(
    result, output: str, draw: Callable, json_path: str | None, csv_path: str | None
) -> list[str]:
    """Draw the PNG, write JSON and CSV; returns the paths written."""
    written = [draw(result, output)]
    if json_path:
        result.write_json(json_path)
        written.append(json_path)
    if csv_path:
        result.write_csv(csv_path)
        written.append(csv_path)
    return written


def _footer(con, written: list[str]) -> None:
    con.print("Wrote " + ", ".join(written))


TEXT_COLUMNS = ("note", "status", "ended in", "verdict")


def _table(title: str, columns: list[str]):
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for i, c in enumerate(columns):
        t.add_column(c, justify="left" if i == 0 or c in TEXT_COLUMNS else "right")
    return t


def _setup(data, target, test_size, hidden, activation, seed):
    """The split and ``make_net(seed)`` every training experiment uses."""
    from retroprop.cli.common import load_data
    from retroprop.recipe import build_network, parse_hidden, prepare_data

    split = prepare_data(
        load_data(data, target), target, test_size=test_size, seed=seed
    )
    sizes = parse_hidden(hidden)

    def make_net(s: int):
        return build_network(split, sizes, activation, seed=s)

    arch = "-".join(map(str, [split.n_features, *sizes, split.n_classes]))
    return split, make_net, f"{arch} {activation} network on {split.dataset.name}"


# -- retroprop plot ... ----------------------------------------------------------------


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
    callback=_range,
    help="The interval of z.",
)
@click.option(
    "--functions",
    metavar="NAMES",
    default="sigmoid,tanh,relu,step",
    show_default=True,
    help="Comma-separated activation names.",
)
@click.option(
    "--points",
    type=click.IntRange(3, 100_000),
    default=1001,
    show_default=True,
    help="Grid points.",
)
@output_options("activations.png")
def activations(x_range, functions, points, output, json_path, csv_path, quiet):
    """Activations and their derivatives (the lecture: plot the sigmoid on [-10, 10]).

    The step's derivative is zero wherever it exists and undefined at the jump,
    which is why gradient descent cannot train it.
    """
    from retroprop import plots
    from retroprop.experiments import activation_curves

    names = [n.strip() for n in functions.split(",") if n.strip()]
    with progress_bar(quiet) as update:
        update("evaluating", 0, 1)
        result = activation_curves(names, x_range, points)
        update("evaluating", 1, 1)
        written = _write(result, output, plots.plot_activations, json_path, csv_path)
    con = stdout_console()
    t = _table(
        f"Activations on [{x_range[0]:g}, {x_range[1]:g}]",
        ["f", "f(low)", "f(0)", "f(high)", "max f'", "note"],
    )
    import numpy as np

    for name in result.names:
        f, d = result.values[name], result.derivatives[name]
        at0 = (
            float(np.interp(0.0, result.x, f))
            if x_range[0] <= 0 <= x_range[1]
            else float("nan")
        )
        note = "jumps at 0; f' = 0 elsewhere" if name in result.jumps else ""
        t.add_row(
            name, f"{f[0]:.4g}", f"{at0:.4g}", f"{f[-1]:.4g}", f"{np.max(d):.4g}", note
        )
    con.print(t)
    _footer(con, written)


@plot.command()
@click.option(
    "--function",
    "function",
    metavar="EXPR",
    default=None,
    help="The error curve L(w) in x, e.g. 'x**4 - 3*x**2 + x' (numbers, x, "
    "+ - * / **, sin cos tan exp log sqrt tanh sigmoid abs; never eval'd). "
    "Default: that curve.",
)
@click.option(
    "--lr",
    "lrs",
    metavar="ETAS",
    default="0.001,0.05,0.2",
    show_default=True,
    help="Comma-separated learning rates, one column each.",
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
    callback=_range,
    help="Where the curve is drawn.",
)
@output_options("descent.png")
def descent(function, lrs, starts, steps, x_range, output, json_path, csv_path, quiet):
    """Gradient descent on a curve of one variable, for several eta and starts.

    Shows a too-small eta crawling, a good one converging, a too-large one
    oscillating or diverging, and a start that ends in a local, not the global,
    minimum.
    """
    from retroprop import plots
    from retroprop.experiments import DEFAULT_FUNCTION, descent_demo

    lr_values = _floats(lrs, "--lr", positive=True)
    start_values = _floats(starts, "--start")
    with progress_bar(quiet) as update:
        update("descending", 0, 1)
        result = descent_demo(
            function or DEFAULT_FUNCTION,
            lrs=lr_values,
            starts=start_values,
            steps=steps,
            x_range=x_range,
        )
        update("descending", 1, 1)
        written = _write(result, output, plots.plot_descent, json_path, csv_path)
    con = stdout_console()
    mins = (
        ", ".join(
            f"w = {m:.4g}" + (" (global)" if i == result.global_minimum else "")
            for i, m in enumerate(result.minima)
        )
        or "none on the range"
    )
    con.print(
        f"L(w) = {result.function_in_w}; minima on [{x_range[0]:g}, {x_range[1]:g}]: "
        f"{mins}"
    )
    t = _table(
        f"Gradient descent, {steps} steps",
        ["eta", "w0", "status", "final w", "L(final w)", "ended in"],
    )
    for r in result.runs:
        ended = (
            "-"
            if r.minimum is None
            else ("global minimum" if r.reached_global else "LOCAL minimum")
        )
        status = (
            "diverged at the start (f undefined at w0)"
            if r.diverged_at_start
            else r.status
        )
        t.add_row(
            f"{r.lr:g}",
            f"{r.x0:g}",
            status,
            f"{r.final_x:.5g}",
            f"{r.final_f:.5g}",
            ended,
        )
    con.print(t)
    _footer(con, written)


@plot.command()
@data_options
@network_options
@lr_option
@train_options
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
@output_options("boundary.png")
def boundary(
    data,
    target,
    test_size,
    hidden,
    activation,
    seed,
    lr,
    epochs,
    batch_size,
    features,
    model_path,
    resolution,
    output,
    json_path,
    csv_path,
    quiet,
):
    """Decision regions of a trained network on two features (others at their mean)."""
    import numpy as np

    import retroprop as rp
    from retroprop import plots
    from retroprop.experiments import decision_boundary
    from retroprop.train import ProgressCallback

    with progress_bar(quiet) as update:
        if model_path:
            model = rp.load(model_path)
            ds = _dataset_for_model(model, data, target)
            net, standardizer = model.net, model.standardizer
            X_pts, y_pts, what = ds.X, ds.y, f"the model {model_path}"
            names = model.feature_names or ds.feature_names
            classes = model.class_names or ds.class_names
        else:
            split, make_net, what = _setup(
                data, target, test_size, hidden, activation, seed
            )
            net = make_net(seed)
            update("training", 0, epochs)
            rp.train(
                net,
                split.X_train,
                split.y_train,
                epochs=epochs,
                lr=lr,
                batch_size=batch_size,
                seed=seed,
                callbacks=[
                    ProgressCallback(
                        lambda epoch, n, _history: update("training", epoch, n), epochs
                    )
                ],
            )
            standardizer = split.standardizer
            # the training points, back in the data's own units
            X_pts = split.X_train * standardizer.scale_ + standardizer.mean_
            y_pts = split.y_train
            names, classes = split.dataset.feature_names, split.dataset.class_names
        pair = _feature_pair(features, names)
        result = decision_boundary(
            net,
            X_pts,
            y_pts,
            pair,
            standardizer=standardizer,
            feature_names=names,
            class_names=classes,
            resolution=resolution,
        )
        title = (
            f"Decision regions of the {what}\n(other features at their mean; "
            f"points: {'the data' if model_path else 'training data'})"
        )

        def draw(r, p):
            return plots.plot_boundary(r, p, title=title)

        written = _write(result, output, draw, json_path, csv_path)
    con = stdout_console()
    con.print(
        f"Decision regions of the {what} on {result.feature_names[0]} (x) and "
        f"{result.feature_names[1]} (y), other features at their mean"
    )
    con.print(
        f"network accuracy (all features): {result.accuracy:.4f}; "
        f"points in their own region on this slice: "
        f"{result.slice_accuracy:.4f}"
    )
    t = _table("Share of the drawn plane per class", ["class", "share", "points"])
    for c, name in enumerate(result.class_names):
        t.add_row(
            name,
            f"{np.mean(result.predictions == c):.1%}",
            str(int(np.sum(result.labels == c))),
        )
    con.print(t)
    _footer(con, written)


def _dataset_for_model(model, data, target):
    from retroprop.cli.common import read_options
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
            f"expected two features A,B, got {text!r}", param_hint="--features"
        )
    out = []
    for p in parts:
        if p in names:
            out.append(names.index(p))
        elif p.isdigit() and int(p) < len(names):
            out.append(int(p))
        else:
            raise click.BadParameter(
                f"{p!r} is not a feature; use a name or index 0..{len(names) - 1} of "
                f"{names}",
                param_hint="--features",
            )
    if out[0] == out[1]:
        raise click.BadParameter(
            f"the two features must differ, got {text!r}", param_hint="--features"
        )
    return out[0], out[1]


# -- retroprop sweep lr ------------------------------------------------------------------


@click.group()
def sweep() -> None:
    """Train at several settings and compare: `retroprop sweep lr`."""


@sweep.command("lr")
@data_options
@network_options
@train_options
@click.option(
    "--values",
    metavar="ETAS",
    default="0.001,0.01,0.05,0.5,2,10",
    show_default=True,
    help="Comma-separated learning rates.",
)
@click.option(
    "--seeds",
    "n_seeds",
    type=click.IntRange(1, 1000),
    default=3,
    show_default=True,
    help="Networks per eta: seeds --seed, --seed + 1, ...",
)
@output_options("sweep-lr.png")
def sweep_lr(
    data,
    target,
    test_size,
    hidden,
    activation,
    seed,
    epochs,
    batch_size,
    values,
    n_seeds,
    output,
    json_path,
    csv_path,
    quiet,
):
    """How eta influences the minimisation: train at each eta, several seeds each.

    Runs whose loss became non-finite or ended above where it started are flagged
    as diverged.
    """
    import numpy as np

    from retroprop import plots
    from retroprop.experiments import lr_sweep

    lrs = _floats(values, "--values", positive=True)
    split, make_net, what = _setup(data, target, test_size, hidden, activation, seed)
    seeds = list(range(seed, seed + n_seeds))
    with progress_bar(quiet) as update:
        update("training, one eta at a time", 0, len(lrs))
        result = lr_sweep(
            make_net,
            split.X_train,
            split.y_train,
            lrs=lrs,
            seeds=seeds,
            epochs=epochs,
            batch_size=batch_size,
            progress=lambda d, t: update("training, one eta at a time", d, t),
        )
        written = _write(result, output, plots.plot_sweep, json_path, csv_path)
    con = stdout_console()
    con.print(
        f"Learning-rate sweep of the {what}: {epochs} epochs, batch size "
        f"{batch_size or len(split.y_train)}, seeds {seeds[0]}..{seeds[-1]}"
    )
    t = _table(
        "Final training loss and accuracy per eta (mean over seeds)",
        ["eta", "loss", "L / L(start)", "jitter", "accuracy", "diverged", "verdict"],
    )
    jitter = result.jitter
    start = float(np.mean(result.initial_loss))
    for i, lr in enumerate(result.lrs):
        bad = int(result.diverged[i].sum())
        with np.errstate(invalid="ignore"):
            loss = (
                np.nanmean(result.final_loss[i])
                if not np.isnan(result.final_loss[i]).all()
                else float("nan")
            )
            acc = (
                np.nanmean(result.final_accuracy[i])
                if not np.isnan(result.final_accuracy[i]).all()
                else float("nan")
            )
            jit = (
                np.nanmean(jitter[i]) if not np.isnan(jitter[i]).all() else float("nan")
            )
        kinds = sorted(set(result.status[i][result.diverged[i]]))
        verdict = (
            "diverged (" + ", ".join(kinds) + ")"
            if bad
            else "too slow"
            if loss > 0.5 * start
            else "bouncing"
            if jit > 0.5
            else "converging"
        )
        t.add_row(
            f"{lr:g}",
            f"{loss:.4f}",
            f"{loss / start:.3f}",
            f"{jit:.3f}",
            f"{acc:.4f}",
            f"{bad}/{len(seeds)}",
            verdict,
        )
    con.print(t)
    con.print(
        "L / L(start): final over initial loss. jitter: std / mean of the loss "
        "over the last tenth of the epochs (large: the steps overshoot back and "
        "forth)."
    )
    best = result.best_lr()
    if best is not None:
        con.print(f"Lowest mean final loss without divergence: eta = {best:g}")
    _footer(con, written)


# -- retroprop seeds -----------------------------------------------------------------------


@click.command()
@data_options
@network_options
@lr_option
@train_options
@click.option(
    "--n",
    "n",
    type=click.IntRange(2, 10_000),
    default=100,
    show_default=True,
    help="Random initialisations: seeds --seed, --seed + 1, ...",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(0, min_open=True),
    default=0.1,
    show_default=True,
    help="Two runs are at the same minimum when their aligned parameter "
    "distance is below this fraction of their parameter norm.",
)
@click.option(
    "--worse-by",
    type=click.FloatRange(0, min_open=True),
    default=0.05,
    show_default=True,
    help="A run is clearly worse when its final loss exceeds the best run's "
    "by more than this.",
)
@output_options("seeds.png")
def seeds(
    data,
    target,
    test_size,
    hidden,
    activation,
    seed,
    lr,
    epochs,
    batch_size,
    n,
    tolerance,
    worse_by,
    output,
    json_path,
    csv_path,
    quiet,
):
    """Train the same network from n random initialisations: the same minimum?

    Compares the trained parameters pairwise, before and after aligning hidden
    neurons (swapping two, or flipping a sigmoid/tanh neuron's sign, leaves the
    function unchanged), counts the distinct minima and the clearly worse runs.
    """
    import time

    import numpy as np

    from retroprop import plots
    from retroprop.experiments import seed_study

    split, make_net, what = _setup(data, target, test_size, hidden, activation, seed)
    t0 = time.perf_counter()
    with progress_bar(quiet) as update:
        result = seed_study(
            make_net,
            split.X_train,
            split.y_train,
            seeds=range(seed, seed + n),
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            tolerance=tolerance,
            worse_by=worse_by,
            test=(split.X_test, split.y_test),
            progress=lambda s, d, t: update(
                f"{s} {n} networks" if s == "training" else "aligning pairs of runs",
                d,
                t,
            ),
        )
        written = _write(result, output, plots.plot_seeds, json_path, csv_path)
    seconds = time.perf_counter() - t0
    con = stdout_console()
    ok = ~result.diverged
    if ok.sum() < 2:
        con.print(
            f"{int((~ok).sum())} of {n} runs diverged: too few left to compare; "
            f"try a smaller --lr."
        )
        _footer(con, written)
        return
    fl, fa = result.final_loss[ok], result.final_accuracy[ok]
    con.print(
        f"{n} trainings of the {what}: {epochs} epochs, eta = {lr:g}, batch size "
        f"{batch_size or len(split.y_train)}, seeds {seed}..{seed + n - 1}; "
        f"trained in {result.train_seconds:.1f} s "
        f"({result.settings['engine']} engine), {seconds:.1f} s in all"
    )
    t = _table("Spread over the runs", ["", "min", "median", "max"])
    t.add_row(
        "final training loss", *(f"{v:.4f}" for v in np.percentile(fl, [0, 50, 100]))
    )
    t.add_row(
        "final training accuracy",
        *(f"{v:.4f}" for v in np.percentile(fa, [0, 50, 100])),
    )
    if result.test_accuracy is not None:
        t.add_row(
            "test accuracy",
            *(
                f"{v:.4f}"
                for v in np.percentile(result.test_accuracy[ok], [0, 50, 100])
            ),
        )
    iu = np.triu_indices(int(ok.sum()), 1)
    raw = result.raw_distance[np.ix_(ok, ok)][iu]
    ali = result.aligned_distance[np.ix_(ok, ok)][iu]
    if len(raw):
        t.add_row(
            "distance between runs, as trained",
            *(f"{v:.3f}" for v in np.percentile(raw, [0, 50, 100])),
        )
        t.add_row(
            "distance between runs, aligned",
            *(f"{v:.3f}" for v in np.percentile(ali, [0, 50, 100])),
        )
    t.add_row(
        "parameter norm ||w||",
        *(f"{v:.3f}" for v in np.percentile(result.norms[ok], [0, 50, 100])),
    )
    con.print(t)
    n_ok = int(ok.sum())
    con.print(
        f"[bold]Same minimum?[/bold] {result.n_minima} distinct minima among "
        f"{n_ok} runs (two runs share one when their aligned distance is below "
        f"{tolerance:g} x their parameter norm; the closest pair is at "
        f"{result.closest_aligned:.3f})."
    )
    con.print(
        f"[bold]Global minimum guaranteed?[/bold] {result.n_worse} of {n_ok} runs "
        f"ended clearly worse (final loss above the best, "
        f"{result.best_loss:.4f}, + {worse_by:g})."
    )
    if not ok.all():
        con.print(f"{int((~ok).sum())} runs diverged and are left out.")
    if result.n_minima > 1:
        tm = _table(
            "The lowest minima found",
            ["minimum", "runs", "best loss", "mean loss", "mean accuracy"],
        )
        for i, m in enumerate(result.minima[:5]):
            tm.add_row(
                str(i),
                str(m["runs"]),
                f"{m['best_loss']:.4f}",
                f"{m['mean_loss']:.4f}",
                f"{m['mean_accuracy']:.4f}",
            )
        con.print(tm)
    _footer(con, written)


# -- retroprop surface -------------------------------------------------------------------


@click.command()
@data_options
@network_options
@lr_option
@train_options
@click.option(
    "--seeds",
    "seed_pair",
    metavar="A,B",
    default=None,
    help="Seeds of the two trainings (default: --seed and --seed + 1).",
)
@click.option(
    "--span",
    type=click.FloatRange(0, min_open=True),
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
@output_options("surface.png")
def surface(
    data,
    target,
    test_size,
    hidden,
    activation,
    seed,
    lr,
    epochs,
    batch_size,
    seed_pair,
    span,
    resolution,
    points,
    output,
    json_path,
    csv_path,
    quiet,
):
    """The loss between two trained networks (a barrier?) and around one.

    1-D: the loss on the straight line between the two, as trained and with hidden
    neurons aligned. 2-D: the loss along two random directions filter-normalised as
    in Li et al. (2018), with the trained point marked.
    """
    import numpy as np

    from retroprop import plots
    from retroprop.experiments import loss_surface

    split, make_net, what = _setup(data, target, test_size, hidden, activation, seed)
    if seed_pair is None:
        pair = (seed, seed + 1)
    else:
        vals = _floats(seed_pair, "--seeds")
        if len(vals) != 2 or any(v != int(v) for v in vals) or vals[0] == vals[1]:
            raise click.BadParameter(
                f"expected two different integer seeds A,B, got {seed_pair!r}",
                param_hint="--seeds",
            )
        pair = (int(vals[0]), int(vals[1]))
    stages = ["training", "training", "line between the two", "plane around the first"]
    with progress_bar(quiet) as update:
        done = []

        def stage(name: str) -> None:
            done.append(name)
            update("measuring the loss surface", len(done) - 1, len(stages))

        result = loss_surface(
            make_net,
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
        update("measuring the loss surface", len(stages), len(stages))
        written = _write(result, output, plots.plot_surface, json_path, csv_path)
    con = stdout_console()
    con.print(
        f"Loss surface of the {what}: seeds {pair[0]} and {pair[1]}, {epochs} "
        f"epochs, eta = {lr:g}"
    )
    t = _table(
        "Along the line (1 - alpha) w_a + alpha w_b",
        ["", "L(0)", "L(1)", "max L", "barrier"],
    )
    for name, ln in (
        ("as trained", result.line),
        ("hidden neurons aligned", result.aligned_line),
    ):
        t.add_row(
            name,
            f"{ln.loss[0]:.4f}",
            f"{ln.loss[-1]:.4f}",
            f"{np.max(ln.loss):.4f}",
            f"{ln.barrier:.4f}",
        )
    con.print(t)
    p = result.plane
    con.print(
        f"Around w_a on [-{span:g}, {span:g}]^2 ({resolution}x{resolution} points): "
        f"L(w_a) = {p.center_loss:.4f}, lowest {np.min(p.loss):.4f}, highest "
        f"{np.max(p.loss):.4f}"
    )
    verdict = (
        "a barrier separates them: different valleys"
        if result.aligned_line.barrier > 0.1 * max(result.final_loss) + 1e-3
        else "no barrier: the straight line stays low"
    )
    con.print(
        f"[bold]Same minimum?[/bold] {verdict} (barrier after alignment "
        f"{result.aligned_line.barrier:.4f})."
    )
    _footer(con, written)
