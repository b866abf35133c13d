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
    help="Write a CSV of the last layer's bias before each iteration "
    "(the lecture's exercise 4).",
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
            "--plot": plot_path,
        },
    )
    import retroprop as rp
    from retroprop.recipe import build_network, prepare_data, split_scores

    split = prepare_data(data, target, test_size=test_size, seed=seed)
    net = build_network(split, hidden, activation, seed=seed, init=init)
    callbacks: list[rp.Callback] = []
    recorder = None
    if record_bias:
        biases = [name for name, _ in net.named_parameters() if name.endswith(".bias")]
        recorder = rp.RecordParameter(biases[-1])
        callbacks.append(recorder)
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
        "loss_kind": history.loss_kind,  # what the per-epoch loss measured
        "engine": history.engine,
        "batch_size": batch_size or len(split.y_train),
        "seed": seed,
        "class_names": names,
        **split_scores(net, split),
    }
    if recorder is not None and record_bias:
        _write_bias_csv(record_bias, recorder)
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
    _render(result, save_path, record_bias)
    if plot_path:
        stdout_console().print(f"Drew the loss and accuracy per epoch to {plot_path}")


def _write_bias_csv(path: str, recorder: Any) -> None:
    from retroprop.atomic import atomic_write

    k = recorder.values[0].shape[0] if recorder.values else 0
    with atomic_write(path, "w") as f:
        f.write(
            ",".join(
                ["iteration", "epoch", *[f"{recorder.name}[{i}]" for i in range(k)]]
            )
            + "\n"
        )
        for it, ep, v in zip(recorder.iterations, recorder.epochs, recorder.values):
            f.write(",".join([str(it), str(ep), *[repr(float(x)) for x in v]]) + "\n")


def _render(
    result: dict[str, Any], save_path: str | None, record_bias: str | None
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
    if record_bias:
        con.print(f"Wrote the last layer's bias before each iteration to {record_bias}")


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
