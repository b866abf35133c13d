"""``retroprop explain``: one training step of the lecture's network, every number shown.

The step explained is the one ``retroprop train`` makes, with the same data split,
initial weights, learning rate and sample order: ``--step K`` makes ``rp.train``'s
first ``K - 1`` updates (``advance_to_step``) and explains the K-th on the batch
training would use.
"""

from __future__ import annotations

from typing import Any

import click

from retroprop.cli.common import stdout_console
from retroprop.cli.options import (
    batch_size_option,
    data_options,
    load_data,
    loss_option,
    lr_option,
    network_options,
    output_path,
)
from retroprop.i18n import N_, _

FORMATS = {
    "table": "rich tables in the terminal, one per layer, forward then backward",
    "markdown": "Markdown with LaTeX math",
    "csv": "one row per parameter: name,index,value,grad,lr,updated and the factors",
    "json": "the trace as JSON (schema in the README)",
    "html": "an interactive offline page: the network drawn, every number a click away",
    "xlsx": "a workbook of live formulas that recompute the step (needs --output)",
}
"""Output format -> what it is. The keys are the allowed ``--format`` values."""

FORMATS_HELP = N_(
    "table: rich tables in the terminal, one per layer, forward then backward; "
    "markdown: Markdown with LaTeX math; csv: one row per parameter: "
    "name,index,value,grad,lr,updated and the factors; json: the trace as JSON "
    "(schema in the README); html: an interactive offline page: the network "
    "drawn, every number a click away; xlsx: a workbook of live formulas that "
    "recompute the step (needs --output)."
)
"""The ``--format`` help: each of ``FORMATS`` with what it is (one literal, for Babel)."""


@click.command()
@data_options
@network_options(step=True)
@click.option(
    "--model",
    "model_path",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="Start from a model saved by `retroprop train --save` instead of "
    "new weights (--hidden/--activation are then ignored).",
)
@click.option(
    "--torch-model",
    metavar="FILE.pt",
    type=click.Path(dir_okay=False),
    help="Explain a PyTorch model: a state dict saved with torch.save "
    "(loaded with weights_only=True); needs --torch-class.",
)
@click.option(
    "--torch-class",
    metavar="MODULE:CLASS",
    help="The nn.Module class of --torch-model, importable from the current "
    "directory or sys.path (e.g. mynet:NeuralNetwork).",
)
@click.option(
    "--step",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Explain the K-th iteration of training, after K-1 real updates.",
)
@click.option(
    "--sample",
    type=click.IntRange(0),
    default=None,
    metavar="LINE",
    help="Explain on the training row at line LINE of the data file (the header "
    "is line 1; `retroprop predict` names rows the same way) instead of the batch "
    "training visits at --step.",
)
@lr_option
@batch_size_option
@loss_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    default="table",
    show_default=True,
    help=FORMATS_HELP,
)
@click.option(
    "--output",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    callback=output_path,
    help="Write to PATH (atomically) instead of printing.",
)
def explain(
    data: str | None,
    target: str | None,
    test_size: float,
    hidden: tuple[int, ...],
    activation: str,
    init: str,
    seed: int,
    model_path: str | None,
    torch_model: str | None,
    torch_class: str | None,
    step: int,
    sample: int | None,
    lr: float,
    batch_size: int | None,
    loss: str,
    fmt: str,
    output: str | None,
) -> None:
    """Explain one SGD step: forward values, softmax and loss, every gradient as the
    lecture's chain-rule factors, and the update w <- w - eta * dL/dw.

    By default the first iteration of `retroprop train` (same split, weights, seed and
    sample order).
    """
    from retroprop.atomic import check_outputs

    check_outputs(
        inputs={"--data": data, "--model": model_path, "--torch-model": torch_model},
        outputs={"--output": output},
    )
    if fmt == "xlsx" and not output:
        raise click.UsageError(
            _("--format xlsx writes a file: give --output PATH.xlsx")
        )
    import numpy as np

    import retroprop as rp
    from retroprop.errors import ConfigError, DataError
    from retroprop.recipe import build_network, prepare_data, target_scaling

    if model_path and (torch_model or torch_class):
        raise click.UsageError(_("give either --model or --torch-model, not both"))
    weights: dict | None = None  # where the weights came from, when from a file
    from retroprop.datasets import split_lines

    ds = load_data(data, target, regression=True)
    split = prepare_data(ds, target, test_size=test_size, seed=seed)
    lines_train, lines_test = split_lines(ds, test_size, seed)
    X, y = split.X_train, split.y_train
    class_names = list(split.dataset.class_names)
    regression = ds.task == "regression"
    if regression:  # the squared error on the standardised target, as train does
        given = click.get_current_context().get_parameter_source("loss")
        if loss != "mse" and given is not click.core.ParameterSource.DEFAULT:
            raise click.BadParameter(
                _("a regression target is explained with mse (the squared error)"),
                param_hint="--loss",
            )
        loss = "mse"
        mean, scale = target_scaling(y)
        if model_path:
            saved = rp.load(model_path).metadata
            mean = float(saved.get("target_mean", mean))
            scale = float(saved.get("target_scale", scale))
        y = (y - mean) / scale
        class_names = [ds.target_name]  # the one output's name, in every view
    if model_path:
        from retroprop.datasets import check_trainable, train_test_split

        model = rp.load(model_path)
        net = model.net
        if model.class_names and list(model.class_names) != class_names:
            raise DataError(
                _(
                    "{model_path}: the model's classes {ours} are not the data's "
                    "{theirs}"
                ).format(
                    model_path=model_path, ours=model.class_names, theirs=class_names
                )
            )
        X_raw = train_test_split(
            split.dataset.X,
            check_trainable(split.dataset),
            test_size=test_size,
            seed=seed,
            stratify=not regression,
        )[0]
        if X_raw.shape[1] != net.in_features:
            raise DataError(
                _(
                    "the data has {n_features} features, the model in {model_path} "
                    "expects {in_features}"
                ).format(
                    n_features=X_raw.shape[1],
                    model_path=model_path,
                    in_features=net.in_features,
                )
            )
        X = model.prepare(X_raw)
        weights = {"file": model_path, **_training_of(model.metadata)}
    elif torch_model or torch_class:
        net = _torch_network(torch_model, torch_class, split)  # float64, for the trace
        weights = {"file": torch_model}
    else:
        net = build_network(split, hidden, activation, seed=seed, init=init)
    if sample is not None:
        found = np.flatnonzero(lines_train == sample)
        if not len(found):
            where = (
                _("is in the test part")
                if sample in lines_test
                else _("is not a data row of the file")
            )
            raise ConfigError(
                _(
                    "--sample: line {sample} {where}; give the line of a training row "
                    "(e.g. {first})"
                ).format(sample=sample, where=where, first=int(lines_train.min()))
            )
        sample = int(found[0])

    if not all(getattr(m, "differentiable", True) for m in net):
        return _explain_stopped(
            net,
            X,
            y,
            step,
            sample,
            lr,
            loss,
            split,
            seed,
            fmt,
            output,
            lines=lines_train,
            class_names=class_names,
        )

    # rp.train's own run up to the start of iteration `step`: step - 1 updates.
    from retroprop.train import advance_to_step

    at = advance_to_step(
        net, X, y, step=step, lr=lr, batch_size=batch_size, loss=loss, seed=seed
    )
    rows = [sample] if sample is not None else [int(i) for i in at.batch]
    meta: dict[str, Any] = {
        "step": step,
        "epoch": at.epoch,
        "sample": rows[0] if len(rows) == 1 else rows,
        "line": (
            int(lines_train[rows[0]])
            if len(rows) == 1
            else [int(lines_train[r]) for r in rows]
        ),
        "seed": seed,
        "data": split.dataset.name,
        "class_names": class_names,
        "feature_names": list(split.dataset.feature_names),
    }
    if weights is not None:
        meta["weights"] = weights
    trace = rp.explain_step(net, X[rows], y[rows], lr=lr, loss=loss, meta=meta)
    _emit(trace, fmt, output)


def _explain_stopped(
    net: Any,
    X: Any,
    y: Any,
    step: int,
    sample: int | None,
    lr: float,
    loss: str,
    split: Any,
    seed: int,
    fmt: str,
    output: str | None,
    *,
    lines: Any,
    class_names: list[str],
) -> None:
    """A network with the step function: its forward pass on the first sample
    training would visit, and where backpropagation stops (nothing trains it, so
    only step 1 exists)."""
    import numpy as np

    import retroprop as rp

    if step != 1:
        raise click.UsageError(
            _(
                "--step {step}: a network with the step function is never updated "
                "(backpropagation stops at its derivative), so only --step 1 exists"
            ).format(step=step)
        )
    row = (
        sample
        if sample is not None
        else int(np.random.default_rng(seed).permutation(len(y))[0])  # train's first
    )
    meta = {
        "step": 1,
        "epoch": 1,
        "sample": row,
        "line": int(lines[row]),
        "seed": seed,
        "data": split.dataset.name,
        "class_names": class_names,
        "feature_names": list(split.dataset.feature_names),
    }
    trace = rp.explain_step(
        net, X[[row]], y[[row]], lr=lr, loss=loss, meta=meta, stop=True
    )
    _emit(trace, fmt, output)


def _training_of(metadata: dict) -> dict:
    """What a model file says of its training (``train --save`` writes epochs, lr,
    seed and data): the keys present, for ``meta["weights"]``."""
    return {k: metadata[k] for k in ("epochs", "lr", "seed", "data") if k in metadata}


def _torch_network(path: str | None, class_spec: str | None, split: Any) -> Any:
    """The network of a PyTorch user's model (``--torch-model``/``--torch-class``)."""
    from retroprop.errors import DataError
    from retroprop.torch import load_torch_model

    if not (path and class_spec):
        raise click.UsageError(
            _("--torch-model and --torch-class go together: give both")
        )
    net = load_torch_model(path, class_spec)
    if net.in_features != split.n_features or net.out_features != split.n_classes:
        raise DataError(
            _(
                "{class_spec} takes {in_features} features and has {out_features} "
                "outputs; the data has {n_features} features and {n_classes} classes"
            ).format(
                class_spec=class_spec,
                in_features=net.in_features,
                out_features=net.out_features,
                n_features=split.n_features,
                n_classes=split.n_classes,
            )
        )
    if net.dtype != "float64":  # widening float32 is exact; the trace is float64
        from retroprop.engine.network import from_config

        wide = from_config(net.config())
        wide.load_state_dict(net.state_dict())
        net = wide
    return net


def _emit(trace: Any, fmt: str, output: str | None) -> None:
    if fmt == "xlsx":
        trace.to_xlsx(output)
    elif fmt == "table" and output is None:
        from retroprop.explain.text import tables

        con = stdout_console()
        for item in tables(trace, width=con.width):  # numbers never cut at 80 columns
            con.print(item)
        return
    else:
        render = {
            "table": lambda: trace.to_text(),
            "markdown": trace.to_markdown,
            "csv": trace.to_csv,
            "json": trace.to_json,
            "html": lambda: _html(trace),
        }[fmt]
        text = render()
        if output is None:
            click.echo(text, nl=not text.endswith("\n"))
            return
        from retroprop.atomic import write_text

        write_text(output, text)
    click.echo(
        f"Wrote the {fmt} explanation of step {trace.meta['step']} to {output}",
        err=True,
    )


def _html(trace: Any) -> str:
    from retroprop.report import trace_html

    return trace_html(trace)
