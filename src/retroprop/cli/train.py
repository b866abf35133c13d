"""``retroprop train`` and ``retroprop predict``."""

from __future__ import annotations

from typing import Any

import click

from retroprop.cli.common import (
    confusion_table,
    emit_json,
    stdout_console,
    table,
)
from retroprop.cli.options import (
    check_figure,
    data_options,
    dialect_options,
    dpi_option,
    figure_path,
    load_data,
    momentum_options,
    network_options,
    optimizer_option,
    output_path,
    quiet_option,
    read_options,
    training_options,
)
from retroprop.cli.progress import ProgressBar
from retroprop.display import fmt
from retroprop.i18n import N_, Message, _, count, decimal, ngettext, shown

RECORD_REPLAY_FLOATS = 32_000_000
"""Most parameter values (every parameter, every update: 256 MB of float64) kept to
replay a recording's samples and probabilities after a compiled run."""


@click.command()
@data_options
@network_options()
@training_options
@optimizer_option
@momentum_options
@click.option(
    "--save",
    "save_path",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    callback=output_path,
    help="Save the trained model (architecture, weights, class names and "
    "standardisation) to PATH.",
)
@click.option(
    "--record-bias",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    callback=output_path,
    help="The lecture's exercise 4: write, per update, the sample (its data-file "
    "line), its true class r, the probabilities p_i and the last layer's bias "
    "before and after, to PATH (CSV, or xlsx for a .xlsx name).",
)
@click.option(
    "--record",
    "record_names",
    metavar="NAME",
    multiple=True,
    help="Record the parameter NAME (as in the model's state dict: fc3.bias, "
    "4.weight...) the same way; repeatable; written to --record-to (or to "
    "--record-bias's file).",
)
@click.option(
    "--record-to",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    callback=output_path,
    help="Where --record writes (CSV, or xlsx for a .xlsx name).",
)
@click.option(
    "--record-format",
    type=click.Choice(["csv", "xlsx"]),
    default=None,
    help="The recording's format (default: xlsx for a .xlsx file name, else CSV).",
)
@click.option(
    "--csv-dialect",
    type=click.Choice(["en", "pt", "locale"]),
    default="en",
    show_default=True,
    help="The recording CSV's spreadsheet dialect: en is ',' between fields and '.' "
    "decimals; pt is ';' and ',' as a pt-BR spreadsheet reads them; locale picks pt "
    "for a pt_* locale (LC_ALL, LC_NUMERIC, LANG).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the final metrics as one JSON object instead of tables.",
)
@click.option(
    "--plot",
    "plot_path",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    callback=figure_path,
    help="Draw the loss and accuracy per epoch at PATH (.png, .pdf or .svg).",
)
@dpi_option
@quiet_option
def train(
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
    optimizer: str,
    momentum: float,
    nesterov: bool,
    weight_decay: float,
    save_path: str | None,
    record_bias: str | None,
    record_names: tuple[str, ...],
    record_to: str | None,
    record_format: str | None,
    csv_dialect: str,
    as_json: bool,
    plot_path: str | None,
    dpi: int,
    quiet: bool,
) -> None:
    """Train a network; by default the lecture's 4-4-3-3 sigmoid network on Iris.

    Cross-entropy on softmax outputs, per-sample gradient descent with eta = 0.05,
    on a stratified 80/20 split standardised on the training part. A numeric target
    (--task regression) trains with the squared error on one linear output, the
    target standardised too, and reports R², MAE and RMSE.
    """
    from retroprop.atomic import check_outputs

    check_outputs(
        inputs={"--data": data},
        outputs={
            "--save": save_path,
            "--record-bias": record_bias,
            "--record-to": record_to,
            "--plot": plot_path,
        },
    )
    check_figure(plot_path, "--plot")
    record_path = _record_path(record_bias, record_names, record_to)
    if record_path and record_format is None:
        from retroprop.teach.record import record_format as format_of

        record_format = format_of(record_path, None)
    if record_format == "xlsx":
        _need_openpyxl()
    dialect = _dialect(csv_dialect)
    import retroprop as rp
    from retroprop.datasets import (
        capacity_hint,
        regression_scores,
        separating_features,
    )
    from retroprop.recipe import (
        build_network,
        prepare_data,
        split_scores,
        target_scaling,
        training_loss,
    )

    ds = load_data(data, target, regression=True)
    split = prepare_data(ds, target, test_size=test_size, seed=seed)
    regression = ds.task == "regression"
    y_train, y_test = split.y_train, split.y_test
    y_mean, y_scale = 0.0, 1.0
    if regression:  # the target standardised like the features, on train only
        y_mean, y_scale = target_scaling(y_train)
        y_train, y_test = (y_train - y_mean) / y_scale, (y_test - y_mean) / y_scale
    loss = training_loss(split)
    net = build_network(split, hidden, activation, seed=seed, init=init)
    callbacks: list[rp.Callback] = []
    recorders: list[rp.RecordParameter] = []
    snapshots: list[rp.RecordParameter] = []
    replay = False
    if record_path:
        import copy

        wanted = list(record_names)
        if record_bias:
            biases = [n for n, _ in net.named_parameters() if n.endswith(".bias")]
            wanted.insert(0, biases[-1])  # the last layer's bias, as the lecture's
        wanted = list(dict.fromkeys(wanted))  # each once, in the order asked
        net_before = copy.deepcopy(net)
        # Plain recorders run inside the compiled loops, so recording never changes
        # the run; each update's sample, r and p_i are replayed afterwards from
        # every parameter's recording. Above RECORD_REPLAY_FLOATS numbers kept, the
        # recorders compute them during training instead (the NumPy engine).
        params = dict(net.named_parameters())
        n_batches = -(-len(y_train) // (batch_size or len(y_train)))
        size = sum(p.data.size for p in params.values()) * epochs * n_batches
        replay = regression or size <= RECORD_REPLAY_FLOATS
        for name in wanted:
            if replay:
                recorders.append(rp.RecordParameter(name))
            else:
                recorders.append(rp.RecordParameter(name, split.X_train, y_train))
        if replay and not regression:
            snapshots = [r for r in recorders if r.name in params] + [
                rp.RecordParameter(name) for name in params if name not in wanted
            ]
        callbacks.extend(recorders)
        callbacks.extend(s for s in snapshots if s not in recorders)
    with ProgressBar(quiet or as_json) as bar:
        history = rp.train(
            net,
            split.X_train,
            y_train,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            loss=loss,
            optimizer=optimizer,
            momentum=momentum,
            nesterov=nesterov,
            weight_decay=weight_decay,
            seed=seed,
            callbacks=[*callbacks, bar.epochs(epochs)],
            # measured only, for the picture: the held-out curves
            validation=(split.X_test, y_test) if plot_path else None,
        )
    names = split.dataset.class_names
    result: dict[str, Any] = {
        "data": split.dataset.name,
        "task": ds.task,
        "target": ds.target_name,
        "features": list(ds.feature_names),
        "architecture": [split.n_features, *hidden, split.n_outputs],
        "activation": activation,
        "init": init,
        "lr": lr,
        "epochs": history.epochs,
        "iterations": history.iterations,
        "loss_kind": history.loss_kind,  # what the per-epoch loss measured
        "engine": history.engine,
        "batch_size": batch_size or len(split.y_train),
        "seed": seed,
        "class_names": names,
    }
    if ds.source:
        result["source"] = {**ds.source, "rows": len(ds.X)}
    if regression:  # R², MAE and RMSE in the target's units
        for part, X, y in (
            ("train", split.X_train, y_train),
            ("test", split.X_test, y_test),
        ):
            loss_value, _acc = rp.evaluate(net, X, y, loss="mse")
            raw = y_mean + y_scale * y
            pred = y_mean + y_scale * net(X).ravel()
            result[part] = {
                **regression_scores(raw, pred),
                "loss": loss_value,
                "samples": len(y),
            }
    else:
        result.update(split_scores(net, split))
    warnings = [
        Message(
            N_(
                "feature {f!r} alone separates the classes perfectly: if it is derived "
                "from the class (an id sorted by class, a code), leave it out with --drop"
            ),
            f=f,
        )
        for f in separating_features(ds)
    ]
    hint = None
    if not regression:
        hint = capacity_hint(hidden, len(names), result["train"]["accuracy"])
    result["notes"] = list(ds.notes)
    result["warnings"] = warnings
    result["hint"] = hint
    if recorders and record_path:
        from retroprop.datasets import split_lines
        from retroprop.teach.record import record_table, write_record

        if replay:
            from retroprop.teach.record import replay_samples

            replay_samples(
                recorders[0],
                net_before,
                snapshots,
                split.X_train,
                None if regression else y_train,
                batch_size=batch_size or len(y_train),
                seed=seed,
                probabilities=not regression,
            )
        lines = split_lines(ds, test_size, seed)[0]
        table = record_table(recorders, lines=lines, class_names=names)
        write_record(record_path, table, record_format, dialect)
    if save_path:
        metadata = {
            **{k: result[k] for k in ("lr", "epochs", "seed", "data")},
            "target": split.dataset.target_name,
        }
        if regression:
            metadata.update(
                task="regression",
                target_mean=y_mean,
                target_scale=y_scale,
            )
        model = rp.Model(
            net,
            class_names=names,
            feature_names=split.dataset.feature_names,
            standardizer=split.standardizer,
            metadata=metadata,
        )
        rp.save(model, save_path)
    if plot_path:
        from retroprop.plots import plot_history

        arch = "-".join(map(str, result["architecture"]))
        plot_history(
            history,
            plot_path,
            dpi=dpi,
            val_label=_("test (held out)"),
            title=_(
                "Training the {arch} {activation} network on {data}, $\\eta$ = {lr}, "
                "batch size {batch_size}, seed {seed}"
            ).format(
                arch=arch,
                activation=activation,
                data=result["data"],
                lr=decimal(f"{lr:g}"),
                batch_size=result["batch_size"],
                seed=seed,
            ),
        )
    if as_json:
        emit_json(result)
        return
    _render(result, save_path, record_path, [r.name for r in recorders])
    if plot_path:
        stdout_console().print(
            _("Drew the loss and accuracy per epoch to {path}").format(path=plot_path)
        )


def _record_path(
    record_bias: str | None, names: tuple[str, ...], record_to: str | None
) -> str | None:
    """Where the recording goes; refuses --record without a file to write to."""
    if record_bias and record_to:
        raise click.UsageError(
            _("--record-bias and --record-to both name the recording's file: give one")
        )
    if names and not (record_bias or record_to):
        raise click.UsageError(
            _("--record needs a file to write to: add --record-to PATH (.csv or .xlsx)")
        )
    if record_to and not names:
        raise click.UsageError(
            _(
                "--record-to needs a parameter to record: add --record NAME (fc3.bias...)"
            )
        )
    return record_bias or record_to


def _dialect(choice: str) -> str:
    """``en`` or ``pt``; ``locale`` reads LC_ALL, LC_NUMERIC, LANG in that order."""
    if choice != "locale":
        return choice
    import os

    for var in ("LC_ALL", "LC_NUMERIC", "LANG"):
        value = os.environ.get(var)
        if value:
            return "pt" if value.lower().startswith("pt") else "en"
    return "en"


def _need_openpyxl() -> None:
    import importlib.util

    if importlib.util.find_spec("openpyxl") is None:
        from retroprop.errors import ConfigError

        raise ConfigError(
            _("an xlsx recording needs openpyxl: pip install 'retroprop[xlsx]'")
        )


def _render(
    result: dict[str, Any],
    save_path: str | None,
    record_path: str | None,
    recorded: list[str],
) -> None:
    con = stdout_console()
    arch = "-".join(map(str, result["architecture"]))
    if "source" in result:
        con.print(_source_line(result), soft_wrap=True)
    for note in result["notes"]:
        con.print(_("Note: {note}").format(note=shown(note)))
    con.print(
        ngettext(
            "Trained a {arch} network ({activation}) on {data}: {epochs} epoch, "
            "{iterations} updates, lr = {lr}, batch size {batch_size}, seed {seed}",
            "Trained a {arch} network ({activation}) on {data}: {epochs} epochs, "
            "{iterations} updates, lr = {lr}, batch size {batch_size}, seed {seed}",
            result["epochs"],
        ).format(
            arch=arch,
            activation=result["activation"],
            data=result["data"],
            epochs=result["epochs"],
            iterations=result["iterations"],
            lr=decimal(f"{result['lr']:g}"),
            batch_size=result["batch_size"],
            seed=result["seed"],
        )
    )
    regression = result["task"] == "regression"
    cols = (
        [N_("split"), N_("samples"), "R²", "MAE", "RMSE"]
        if regression
        else [N_("split"), N_("samples"), N_("accuracy"), N_("loss")]
    )
    t = table(N_("Result"), cols)
    for part in (N_("train"), N_("test")):
        r = result[part]
        if regression:
            t.add_row(
                _(part),
                str(r["samples"]),
                fmt(r["r2"], decimals=4),
                fmt(r["mae"], 4),
                fmt(r["rmse"], 4),
            )
        else:
            t.add_row(
                _(part),
                str(r["samples"]),
                fmt(r["accuracy"], decimals=4),
                fmt(r["loss"], decimals=4),
            )
    con.print(t)
    if not regression:
        con.print(
            confusion_table(
                result["test"]["confusion_matrix"],
                result["class_names"],
                _("Confusion matrix (test)"),
            )
        )
    for warning in result["warnings"]:
        con.print(_("Warning: {warning}").format(warning=shown(warning)))
    if result["hint"]:
        con.print(_("Hint: {hint}").format(hint=shown(result["hint"])))
    if save_path:
        con.print(_("Saved the model to {path}").format(path=save_path))
    if record_path and regression:
        con.print(
            _(
                "Wrote {recorded} before and after each update, with each sample, "
                "to {path}"
            ).format(recorded=", ".join(recorded), path=record_path)
        )
    elif record_path:
        con.print(
            _(
                "Wrote {recorded} before and after each update, with each sample, "
                "its class r and the probabilities p_i, to {path}"
            ).format(recorded=", ".join(recorded), path=record_path)
        )


def _source_line(result: dict) -> str:
    """How the file was read and what is predicted, in one sentence."""
    from retroprop.datasets.csvfile import DECIMALS, SEPARATORS

    src = result["source"]
    sep = _(SEPARATORS[src["sep"]]) if src["sep"] in SEPARATORS else repr(src["sep"])
    what = (
        _("regression of {target!r} (a number)").format(target=result["target"])
        if result["task"] == "regression"
        else _("classification of {target!r} ({n} classes)").format(
            target=result["target"], n=len(result["class_names"])
        )
    )
    return _(
        "Read {data}: {rows} rows, {features} features; {sep}-separated, decimal "
        "{decimal}, {encoding}; task: {what}"
    ).format(
        data=result["data"],
        rows=src["rows"],
        features=len(result["features"]),
        sep=sep,
        decimal=_(DECIMALS[src["decimal"]]),
        encoding=src["encoding"],
        what=what,
    )


@click.command()
@click.option(
    "--model",
    "model_path",
    required=True,
    metavar="PATH",
    type=click.Path(),
    help="A model saved by `retroprop train --save`.",
)
@click.option(
    "--data",
    required=True,
    metavar="FILE.csv",
    type=click.Path(),
    help="CSV with the model's feature columns (a class column is optional).",
)
@click.option(
    "--target",
    metavar="COLUMN",
    default=None,
    help="Class column, if present, to report accuracy (default: the model's).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print every prediction (and probabilities) as JSON (streamed).",
)
@click.option(
    "--rows",
    "show_rows",
    type=click.IntRange(0),
    default=20,
    show_default=True,
    metavar="N",
    help="Rows to list in the table before the summary (--json and --output give all).",
)
@click.option(
    "--output",
    metavar="PATH.csv",
    type=click.Path(dir_okay=False),
    callback=output_path,
    help="Write the predictions to a CSV: the rows' identifying columns (or line "
    "numbers), the predicted class and each class's probability (or the predicted "
    "value).",
)
@dialect_options
def predict(
    model_path: str,
    data: str,
    target: str | None,
    as_json: bool,
    show_rows: int,
    output: str | None,
) -> None:
    """Predict the class (or the value) of every row of a CSV with a saved model.

    Rows are named by their line in the data file (the header is line 1), and by
    the file's identifying columns (an id, a pandas index) when it has some. Prints
    the first --rows rows and a summary (rows per class, the accuracy or R² when the
    file has the target column); --json prints every row, --output writes them.
    """
    from retroprop.atomic import check_outputs

    check_outputs(
        inputs={"--model": model_path, "--data": data}, outputs={"--output": output}
    )
    import numpy as np

    import retroprop as rp
    from retroprop.datasets import load_csv, regression_scores

    model = rp.load(model_path)
    regression = model.metadata.get("task") == "regression"
    features = model.feature_names or None
    asked = target is not None  # a --target the user names must exist in the file
    if target is None and isinstance(model.metadata.get("target"), str):
        target = model.metadata["target"]  # the class column the model was trained on
    ds = load_csv(
        data,
        target=target,
        features=features,
        class_names=None if regression else (model.class_names or None),
        task="regression" if regression else "classification",
        require_target=asked,
        **read_options(),
    )
    if features is None and ds.X.shape[1] != model.net.in_features:
        raise rp.DataError(
            _("{data}: has {n} feature columns, the model expects {k}").format(
                data=data, n=ds.X.shape[1], k=model.net.in_features
            )
        )
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        out = (
            model.net(model.prepare(ds.X)) if regression else model.predict_proba(ds.X)
        )
    bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
    lines = ds.lines if ds.lines is not None else np.arange(2, len(ds.X) + 2)
    if len(bad):  # finite but huge weights can overflow on some inputs
        raise rp.ModelFileError(
            _(
                "{model_path}: its outputs are not finite for {n_bad} row(s) of {data} "
                "(the first is data row {row}, line {line}); its weights are too "
                "large for this data"
            ).format(
                model_path=model_path,
                n_bad=len(bad),
                data=data,
                row=bad[0] + 1,
                line=lines[bad[0]],
            )
        )
    result: dict = {
        "lines": lines,
        "ids": ds.ids,
        "notes": ds.notes,
        "source": ds.source,
    }
    if regression:
        mean = float(model.metadata.get("target_mean", 0.0))
        scale = float(model.metadata.get("target_scale", 1.0))
        values = mean + scale * out[:, 0]
        result.update(task="regression", target=target, predictions=values)
        result["scores"] = None if ds.y is None else regression_scores(ds.y, values)
    else:
        pred = np.argmax(out, axis=1)
        names = model.class_names or [str(i) for i in range(out.shape[1])]
        accuracy = None if ds.y is None else float(np.mean(pred == ds.y))
        result.update(
            task="classification",
            predicted=pred,
            predictions=np.asarray(names, dtype=str)[pred],
            probabilities=out,
            class_names=names,
            accuracy=accuracy,
        )
    if output:
        _write_predictions(output, result)
    if as_json:
        _stream_json({k: v for k, v in result.items() if k != "predicted"})
        return
    _render_predictions(data, result, ds, output, show_rows)


def _row_names(
    result: dict, limit: int | None = None
) -> tuple[list[str], list[list[str]]]:
    """The columns that name each row (the first ``limit`` rows): the file's
    identifiers, else its line."""
    ids = result["ids"]
    stop = len(result["lines"]) if limit is None else limit
    if ids:
        return list(ids), [list(v) for v in zip(*(c[:stop] for c in ids.values()))]
    return [N_("line")], [[str(n)] for n in result["lines"][:stop]]


def _stream_json(result: dict) -> None:
    """``result`` as one JSON object on stdout, its NumPy arrays written in chunks of
    rows, so that a million rows never become one Python list of lists (``json``
    writes each chunk in C; floats keep every digit)."""
    import json
    import sys

    import numpy as np

    from retroprop.jsondata import plain

    out, chunk = sys.stdout, 65_536
    out.write("{")
    for i, (key, value) in enumerate(result.items()):
        out.write(("," if i else "") + f"\n  {json.dumps(key)}: ")
        if isinstance(value, np.ndarray):
            out.write("[")
            for start in range(0, len(value), chunk):
                part = json.dumps(value[start : start + chunk].tolist())[1:-1]
                out.write(("," if start else "") + part)
            out.write("]")
        else:
            out.write(json.dumps(plain(value)))
    out.write("\n}\n")
    out.flush()


def _write_predictions(path: str, result: dict) -> None:
    import csv
    import io

    from retroprop.atomic import write_text

    heads, rows = _row_names(result)
    if "line" not in heads:
        heads, rows = (
            ["line", *heads],
            [[str(n), *r] for n, r in zip(result["lines"], rows)],
        )
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if result["task"] == "regression":
        w.writerow([*heads, f"predicted {result['target'] or 'value'}"])
        for r, v in zip(rows, result["predictions"]):
            w.writerow([*r, repr(float(v))])
    else:
        w.writerow([*heads, "predicted", *[f"p({c})" for c in result["class_names"]]])
        for r, c, p in zip(rows, result["predictions"], result["probabilities"]):
            w.writerow([*r, c, *[repr(float(x)) for x in p]])
    write_text(path, buf.getvalue())


def _render_predictions(
    data: str, result: dict, ds, output: str | None, show_rows: int
) -> None:
    import numpy as np
    from rich.table import Table

    con = stdout_console()
    for note in result["notes"]:
        con.print(_("Note: {note}").format(note=shown(note)))
    n = len(result["lines"])
    heads, rows = _row_names(result, min(n, show_rows))
    if output:
        con.print(
            ngettext(
                "Wrote {n} prediction for {data} to {path}",
                "Wrote {n} predictions for {data} to {path}",
                n,
            ).format(n=n, data=data, path=output)
        )
    t = Table(title=_("Predictions for {data}").format(data=data), title_justify="left")
    for h in heads:
        t.add_column(_(h) if h in ("line", "index") else h, justify="right")
    more = ngettext(
        "... and {n} more row (--rows N lists more, --json all)",
        "... and {n} more rows (--rows N lists more, --json all)",
        n - show_rows,
    ).format(n=count(n - show_rows))
    if result["task"] == "regression":
        t.add_column(
            _("predicted {target}").format(target=result["target"] or _("value")),
            justify="right",
        )
        for r, v in zip(rows, result["predictions"]):
            t.add_row(*r, fmt(v))
        con.print(t)
        if n > show_rows:
            con.print(more)
        if result["scores"] is not None:
            sc = result["scores"]
            con.print(
                ngettext(
                    "R² {r2}, MAE {mae}, RMSE {rmse} ({n} row)",
                    "R² {r2}, MAE {mae}, RMSE {rmse} ({n} rows)",
                    n,
                ).format(
                    r2=fmt(sc["r2"], decimals=4),
                    mae=fmt(sc["mae"], 4),
                    rmse=fmt(sc["rmse"], 4),
                    n=n,
                )
            )
        return
    names = result["class_names"]
    t.add_column(_("predicted"))
    for c in names:
        t.add_column(f"p({c})", justify="right")
    for r, c, p in zip(rows, result["predictions"], result["probabilities"]):
        t.add_row(*r, str(c), *[fmt(v, decimals=4) for v in p])
    con.print(t)
    if n > show_rows:
        con.print(more)
    pred = result["predicted"]
    counts = np.bincount(pred, minlength=len(names))
    con.print(
        ngettext("{n} row predicted: ", "{n} rows predicted: ", n).format(n=count(n))
        + ", ".join(f"{c} {count(int(k))}" for c, k in zip(names, counts))
    )
    if result["accuracy"] is not None:
        right = int(np.sum(pred == ds.y))
        con.print(
            _("accuracy: {accuracy} ({right}/{n})").format(
                accuracy=fmt(result["accuracy"], decimals=4), right=right, n=n
            )
        )
