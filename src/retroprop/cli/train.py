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
    data_options,
    momentum_options,
    network_options,
    optimizer_option,
    output_path,
    quiet_option,
    training_options,
)
from retroprop.cli.progress import ProgressBar


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
    callback=output_path,
    help="Draw the loss and accuracy per epoch as a PNG at PATH.",
)
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
    quiet: bool,
) -> None:
    """Train a network; by default the lecture's 4-4-3-3 sigmoid network on Iris.

    Cross-entropy on softmax outputs, per-sample gradient descent with eta = 0.05,
    on a stratified 80/20 split standardised on the training part.
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
    record_path = _record_path(record_bias, record_names, record_to)
    if record_path and record_format is None:
        from retroprop.teach.record import record_format as format_of

        record_format = format_of(record_path, None)
    if record_format == "xlsx":
        _need_openpyxl()
    dialect = _dialect(csv_dialect)
    import retroprop as rp
    from retroprop.recipe import build_network, prepare_data, split_scores

    split = prepare_data(data, target, test_size=test_size, seed=seed)
    net = build_network(split, hidden, activation, seed=seed, init=init)
    callbacks: list[rp.Callback] = []
    recorders = []
    if record_path:
        wanted = list(record_names)
        if record_bias:
            biases = [n for n, _ in net.named_parameters() if n.endswith(".bias")]
            wanted.insert(0, biases[-1])  # the last layer's bias, as the lecture's
        for name in dict.fromkeys(wanted):  # each once, in the order asked
            recorders.append(rp.RecordParameter(name, split.X_train, split.y_train))
        callbacks.extend(recorders)
    with ProgressBar(quiet or as_json) as bar:
        history = rp.train(
            net,
            split.X_train,
            split.y_train,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            optimizer=optimizer,
            momentum=momentum,
            nesterov=nesterov,
            weight_decay=weight_decay,
            seed=seed,
            callbacks=[*callbacks, bar.epochs(epochs)],
            # measured only, for the picture: the held-out curves
            validation=(split.X_test, split.y_test) if plot_path else None,
        )
    names = split.dataset.class_names
    result: dict[str, Any] = {
        "data": split.dataset.name,
        "architecture": [split.n_features, *hidden, split.n_classes],
        "activation": activation,
        "init": init,
        "lr": lr,
        "epochs": history.epochs,
        "iterations": history.iterations,
        "batch_size": batch_size or len(split.y_train),
        "seed": seed,
        "class_names": names,
        **split_scores(net, split),
    }
    if recorders and record_path:
        from retroprop.teach.record import record_table, write_record

        lines = _train_lines(split, test_size, seed)
        table = record_table(
            recorders, lines=lines, class_names=split.dataset.class_names
        )
        write_record(record_path, table, record_format, dialect)
    if save_path:
        model = rp.Model(
            net,
            class_names=names,
            feature_names=split.dataset.feature_names,
            standardizer=split.standardizer,
            metadata={
                **{k: result[k] for k in ("lr", "epochs", "seed", "data")},
                "target": split.dataset.target_name,
            },
        )
        rp.save(model, save_path)
    if plot_path:
        from retroprop.plots import plot_history

        arch = "-".join(map(str, result["architecture"]))
        plot_history(
            history,
            plot_path,
            val_label="test (held out)",
            title=f"Training the {arch} {activation} "
            f"network on {result['data']}, $\\eta$ = {lr:g}, batch size "
            f"{result['batch_size']}, seed {seed}",
        )
    if as_json:
        emit_json(result)
        return
    _render(result, save_path, record_path, [r.name for r in recorders])
    if plot_path:
        stdout_console().print(f"Drew the loss and accuracy per epoch to {plot_path}")


def _record_path(
    record_bias: str | None, names: tuple[str, ...], record_to: str | None
) -> str | None:
    """Where the recording goes; refuses --record without a file to write to."""
    if record_bias and record_to:
        raise click.UsageError(
            "--record-bias and --record-to both name the recording's file: give one"
        )
    if names and not (record_bias or record_to):
        raise click.UsageError(
            "--record needs a file to write to: add --record-to PATH (.csv or .xlsx)"
        )
    if record_to and not names:
        raise click.UsageError(
            "--record-to needs a parameter to record: add --record NAME (fc3.bias...)"
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
            "an xlsx recording needs openpyxl: pip install 'retroprop[xlsx]'"
        )


def _train_lines(split: Any, test_size: float, seed: int) -> Any:
    """The data-file line of each training row, or None if the data has none.

    The split is a pure function of the classes and the seed, so splitting the row
    numbers the same way finds which rows became the training set.
    """
    import numpy as np

    from retroprop.datasets import train_test_split

    lines = split.dataset.lines
    if lines is None:
        return None
    rows = np.arange(len(split.dataset.y)).reshape(-1, 1)
    train_rows, _, y_train, _ = train_test_split(
        rows, split.dataset.y, test_size=test_size, seed=seed
    )
    if not np.array_equal(y_train, split.y_train):  # pragma: no cover - a guard
        return None
    return lines[train_rows[:, 0]]


def _render(
    result: dict[str, Any],
    save_path: str | None,
    record_path: str | None,
    recorded: list[str],
) -> None:
    con = stdout_console()
    arch = "-".join(map(str, result["architecture"]))
    con.print(
        f"Trained a {arch} network ({result['activation']}) on {result['data']}: "
        f"{result['epochs']} epochs, {result['iterations']} updates, "
        f"lr = {result['lr']:g}, batch size {result['batch_size']}, seed {result['seed']}"
    )
    t = table("Result", ["split", "samples", "accuracy", "loss"])
    for part in ("train", "test"):
        r = result[part]
        t.add_row(part, str(r["samples"]), f"{r['accuracy']:.4f}", f"{r['loss']:.4f}")
    con.print(t)
    con.print(
        confusion_table(
            result["test"]["confusion_matrix"],
            result["class_names"],
            "Confusion matrix (test)",
        )
    )
    if save_path:
        con.print(f"Saved the model to {save_path}")
    if record_path:
        con.print(
            f"Wrote {', '.join(recorded)} before and after each update, with each "
            f"sample, its class r and the probabilities p_i, to {record_path}"
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
@click.option("--json", "as_json", is_flag=True, help="Print predictions as JSON.")
def predict(model_path: str, data: str, target: str | None, as_json: bool) -> None:
    """Predict the class of every row of a CSV with a saved model."""
    from retroprop.atomic import check_outputs

    check_outputs(inputs={"--model": model_path, "--data": data}, outputs={})
    import numpy as np

    import retroprop as rp
    from retroprop.datasets import load_csv

    model = rp.load(model_path)
    features = model.feature_names or None
    asked = target is not None  # a --target the user names must exist in the file
    if target is None and isinstance(model.metadata.get("target"), str):
        target = model.metadata["target"]  # the class column the model was trained on
    ds = load_csv(
        data,
        target=target,
        features=features,
        class_names=model.class_names or None,
        require_target=asked,
    )
    if features is None and ds.X.shape[1] != model.net.in_features:
        raise rp.DataError(
            f"{data}: has {ds.X.shape[1]} feature columns, the model "
            f"expects {model.net.in_features}"
        )
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        proba = model.predict_proba(ds.X)
    bad = np.flatnonzero(~np.isfinite(proba).all(axis=1))
    if len(bad):  # finite but huge weights can overflow on some inputs
        raise rp.ModelFileError(
            f"{model_path}: its outputs are not finite for {len(bad)} row(s) of {data} "
            f"(the first is data row {bad[0] + 1}); its weights are too large for "
            f"this data"
        )
    pred = np.argmax(proba, axis=1)
    names = model.class_names or [str(i) for i in range(proba.shape[1])]
    accuracy = None if ds.y is None else float(np.mean(pred == ds.y))
    if as_json:
        emit_json(
            {
                "predictions": [names[k] for k in pred],
                "probabilities": proba.tolist(),
                "class_names": names,
                "accuracy": accuracy,
            }
        )
        return
    from rich.table import Table

    t = Table(title=f"Predictions for {data}", title_justify="left")
    t.add_column("row", justify="right")
    t.add_column("predicted")
    for c in names:
        t.add_column(f"p({c})", justify="right")
    for i, (k, p) in enumerate(zip(pred, proba)):
        t.add_row(str(i + 1), names[k], *[f"{v:.4f}" for v in p])
    con = stdout_console()
    con.print(t)
    if accuracy is not None:
        con.print(f"accuracy: {accuracy:.4f} ({int(np.sum(pred == ds.y))}/{len(pred)})")
