"""``retroprop verify``: the same SGD steps in retroprop and PyTorch, every number compared.

The comparison is ``retroprop.interop.verify.verify``; this command builds the
network and the data, calls it, and renders the result. Exit 0 when everything
agrees, 1 when something does not (including only one side diverging), 2 when
PyTorch is missing, the input is bad, or both sides diverge at the same step (too
large an lr: one line says so, with what went wrong on each side). Divergence is
``rp.train``'s: a non-finite loss or parameter, a loss that grew far above its
start, or a dead network (``retroprop.training.divergence``).
"""

from __future__ import annotations

from typing import Any, Literal

import click

from retroprop.cli.common import emit_json, stdout_console
from retroprop.cli.options import (
    POSITIVE,
    batch_size_option,
    data_options,
    dtype_option,
    load_data,
    lr_option,
    momentum_options,
    network_options,
)


@click.command()
@data_options
@network_options()
@click.option(
    "--model",
    "model_path",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Start from a model saved by `retroprop train --save` instead of a "
    "new network (--hidden and --activation are then ignored).",
)
@click.option(
    "--steps",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="SGD steps (parameter updates) to run on both sides.",
)
@lr_option
@batch_size_option
@momentum_options
@dtype_option
@click.option(
    "--tolerance",
    type=POSITIVE,
    default=None,
    help="Largest accepted difference (absolute below 1, relative above) "
    "[default: 1e-10 for float64, 1e-5 for float32].",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the result as one JSON object instead of tables.",
)
def verify(
    data: str | None,
    target: str | None,
    test_size: float,
    hidden: tuple[int, ...],
    activation: str,
    init: str,
    seed: int,
    model_path: str | None,
    steps: int,
    lr: float,
    batch_size: int | None,
    momentum: float,
    nesterov: bool,
    weight_decay: float,
    dtype: str,
    tolerance: float | None,
    as_json: bool,
) -> int:
    """Check that retroprop computes exactly what PyTorch computes.

    Runs --steps SGD steps in retroprop and in PyTorch from the same weights on the
    same samples in the same order, and compares the loss and every gradient at each
    step and every parameter after the last: the lecture's exercise 4, for all of
    them. Needs PyTorch (pip install 'retroprop[torch]').
    """
    from retroprop.errors import ConfigError
    from retroprop.interop.verify import verify as run_verify
    from retroprop.recipe import build_network, prepare_data

    split = prepare_data(
        load_data(data, target), target, test_size=test_size, seed=seed
    )
    if model_path:
        import retroprop as rp

        net = rp.load(model_path).net
        if net.in_features != split.n_features or net.out_features != split.n_classes:
            raise ConfigError(
                f"{model_path}: the model takes {net.in_features} features and has "
                f"{net.out_features} outputs; the data has {split.n_features} features "
                f"and {split.n_classes} classes"
            )
    else:
        net = build_network(split, hidden, activation, seed=seed, init=init)
    result = run_verify(
        net,
        split.X_train,
        split.y_train,
        steps=steps,
        lr=lr,
        batch_size=batch_size or len(split.y_train),
        momentum=momentum,
        nesterov=nesterov,
        weight_decay=weight_decay,
        dtype=dtype,
        tolerance=tolerance,
        seed=seed,
    )
    if result.both_diverged:
        raise ConfigError(
            f"both diverge at step {result.retroprop_diverged_at}; retroprop: "
            f"{result.retroprop_divergence_what}; PyTorch: "
            f"{result.torch_divergence_what}; try a smaller --lr (got {lr:g})"
        )
    if as_json:
        emit_json(result.to_dict())
    else:
        render(result, stdout_console())
    return 0 if result.passed else 1


SECTIONS = {
    "loss": "Loss, at every step",
    "gradient": "Gradients, at every step",
    "parameter": "Parameters, after the last step",
}


def render(result: Any, console: Any) -> None:
    """Three tables (loss, gradients, parameters) and a PASS/FAIL line."""
    from rich.table import Table

    console.print(
        f"retroprop vs PyTorch {result.torch_version}: {result.steps} SGD steps, "
        f"lr={result.lr:g}, batch size {result.batch_size}"
    )
    console.print(
        f"momentum {result.momentum:g}{' (Nesterov)' if result.nesterov else ''}, "
        f"weight decay {result.weight_decay:g}, {result.dtype}, "
        f"tolerance {result.tolerance:g}"
    )
    for kind, title in SECTIONS.items():
        table = Table(title=title, title_justify="left")
        columns: tuple[tuple[str, Literal["left", "right", "center"]], ...] = (
            ("quantity", "left"),
            ("values", "right"),
            ("max |abs diff|", "right"),
            ("max rel diff", "right"),
            ("result", "center"),
        )
        for col, justify in columns:
            table.add_column(col, justify=justify)
        for c in result.comparisons:
            if c.kind != kind:
                continue
            mark = "[green]PASS[/green]" if c.passed else "[bold red]FAIL[/bold red]"
            table.add_row(
                c.name, str(c.values), f"{c.max_abs:.3e}", f"{c.max_rel:.3e}", mark
            )
        console.print(table)
    n = len(result.comparisons)
    if result.passed:
        console.print(
            f"[green]PASS[/green]: all {n} quantities agree within {result.tolerance:g}"
        )
    else:
        console.print(
            f"[bold red]FAIL[/bold red]: {len(result.failures)} of {n} "
            f"quantities differ by more than {result.tolerance:g}:"
        )
        for c in result.failures:
            console.print(f"  {c.kind} {c.name}: max abs diff {c.max_abs:.3e}")
    if result.retroprop_diverged_at != result.torch_diverged_at:

        def when(step: int | None) -> str:
            return "did not diverge" if step is None else f"diverged at step {step}"

        console.print(
            f"[bold red]FAIL[/bold red]: retroprop "
            f"{when(result.retroprop_diverged_at)}, PyTorch "
            f"{when(result.torch_diverged_at)}"
        )
        for side, what in (
            ("retroprop", result.retroprop_divergence_what),
            ("PyTorch", result.torch_divergence_what),
        ):
            if what:
                console.print(f"  {side}: {what}", markup=False)
