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
from retroprop.i18n import N_, _, decimal, ngettext


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
                _(
                    "{path}: the model takes {m_in} features and has {m_out} outputs; "
                    "the data has {d_in} features and {d_out} classes"
                ).format(
                    path=model_path,
                    m_in=net.in_features,
                    m_out=net.out_features,
                    d_in=split.n_features,
                    d_out=split.n_classes,
                )
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
            _(
                "both diverge at step {step}; retroprop: {ours}; PyTorch: {theirs}; "
                "try a smaller --lr (got {lr})"
            ).format(
                step=result.retroprop_diverged_at,
                ours=result.retroprop_divergence_what,
                theirs=result.torch_divergence_what,
                lr=f"{lr:g}",
            )
        )
    if as_json:
        emit_json(result.to_dict())
    else:
        render(result, stdout_console())
    return 0 if result.passed else 1


SECTIONS = {
    "loss": N_("Loss, at every step"),
    "gradient": N_("Gradients, at every step"),
    "parameter": N_("Parameters, after the last step"),
}
KIND_WORDS = {
    "loss": N_("loss"),
    "gradient": N_("gradient"),
    "parameter": N_("parameter"),
}


def render(result: Any, console: Any) -> None:
    """Three tables (loss, gradients, parameters) and a PASS/FAIL line, in the
    language in use (differences in scientific notation, the decimal comma in
    Portuguese)."""
    from rich.table import Table

    passed = "[green]" + _("PASS") + "[/green]"
    failed = "[bold red]" + _("FAIL") + "[/bold red]"
    console.print(
        _(
            "retroprop vs PyTorch {version}: {steps} SGD steps, lr={lr}, "
            "batch size {batch}"
        ).format(
            version=result.torch_version,
            steps=result.steps,
            lr=decimal(f"{result.lr:g}"),
            batch=result.batch_size,
        ),
        highlight=False,
    )
    console.print(
        _(
            "momentum {momentum}{nesterov}, weight decay {decay}, {dtype}, "
            "tolerance {tolerance}"
        ).format(
            momentum=decimal(f"{result.momentum:g}"),
            nesterov=" (Nesterov)" if result.nesterov else "",
            decay=decimal(f"{result.weight_decay:g}"),
            dtype=result.dtype,
            tolerance=decimal(f"{result.tolerance:g}"),
        ),
        highlight=False,
    )
    for kind, title in SECTIONS.items():
        table = Table(title=_(title), title_justify="left")
        columns: tuple[tuple[str, Literal["left", "right", "center"]], ...] = (
            (_("quantity"), "left"),
            (_("values"), "right"),
            (_("max |abs diff|"), "right"),
            (_("max rel diff"), "right"),
            (_("result"), "center"),
        )
        for col, justify in columns:
            table.add_column(col, justify=justify)
        for c in result.comparisons:
            if c.kind != kind:
                continue
            table.add_row(
                c.name,
                str(c.values),
                decimal(f"{c.max_abs:.3e}"),
                decimal(f"{c.max_rel:.3e}"),
                passed if c.passed else failed,
            )
        console.print(table)
    n = len(result.comparisons)
    tolerance = decimal(f"{result.tolerance:g}")
    if result.passed:
        console.print(
            passed
            + ": "
            + ngettext(
                "the {n} quantity agrees within {tolerance}",
                "all {n} quantities agree within {tolerance}",
                n,
            ).format(n=n, tolerance=tolerance)
        )
    else:
        console.print(
            failed
            + ": "
            + ngettext(
                "{k} of {n} quantities differs by more than {tolerance}:",
                "{k} of {n} quantities differ by more than {tolerance}:",
                len(result.failures),
            ).format(k=len(result.failures), n=n, tolerance=tolerance)
        )
        for c in result.failures:
            console.print(
                "  "
                + _("{kind} {name}: max abs diff {diff}").format(
                    kind=_(KIND_WORDS.get(c.kind, c.kind)),
                    name=c.name,
                    diff=decimal(f"{c.max_abs:.3e}"),
                )
            )
    if result.retroprop_diverged_at != result.torch_diverged_at:

        def when(step: int | None) -> str:
            if step is None:
                return _("did not diverge")
            return _("diverged at step {step}").format(step=step)

        console.print(
            failed
            + ": "
            + _("retroprop {ours}, PyTorch {theirs}").format(
                ours=when(result.retroprop_diverged_at),
                theirs=when(result.torch_diverged_at),
            )
        )
        for side, what in (
            ("retroprop", result.retroprop_divergence_what),
            ("PyTorch", result.torch_divergence_what),
        ):
            if what:
                console.print(f"  {side}: {what}", markup=False)
